"""Reading the partners' tables (CSV or the first sheet of an .xlsx) with
the position of every cell, so that any error can name file, line, column."""
from __future__ import annotations

import csv
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Sequence


@dataclass(frozen=True)
class Problem:
    path: str
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}: {self.message}"


class InputRejected(Exception):
    """The file is rejected as a whole; nothing was recorded."""

    def __init__(self, problems: Sequence[Problem]):
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = list(problems)


@dataclass
class Row:
    line: int
    cells: dict[str, str]


@dataclass
class Table:
    path: str
    header: list[str]
    rows: list[Row] = field(default_factory=list)

    def column_of(self, name: str) -> int:
        """1-based position of a column in this file (column order may differ
        between files); 1 if the file has no such column."""
        return self.header.index(name) + 1 if name in self.header else 1

    def problem(self, line: int, column_name: str, message: str) -> Problem:
        return Problem(self.path, line, self.column_of(column_name), message)

    def check_columns(self, required: Sequence[str], optional: Sequence[str]) -> None:
        """Unknown columns are an error; so are missing required ones."""
        problems = []
        allowed = set(required) | set(optional)
        for index, name in enumerate(self.header, start=1):
            if name not in allowed:
                problems.append(Problem(self.path, 1, index, f"unknown column {name!r}"))
        seen = set()
        for index, name in enumerate(self.header, start=1):
            if name in seen:
                problems.append(Problem(self.path, 1, index, f"column {name!r} appears twice"))
            seen.add(name)
        for name in required:
            if name not in self.header:
                problems.append(Problem(self.path, 1, len(self.header) + 1,
                                        f"missing required column {name!r}"))
        if problems:
            raise InputRejected(problems)


def read_table(path: str | Path, *, zero_pad: dict[str, int] | None = None) -> Table:
    """Read a CSV (UTF-8, BOM accepted) or .xlsx file; blank lines are skipped.
    ``zero_pad`` restores leading zeros Excel drops from numeric id cells."""
    path = Path(path)
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        return _read_xlsx(path, zero_pad or {})
    return _read_csv(path)


def _read_csv(path: Path) -> Table:
    try:
        return _read_csv_rows(path)
    except UnicodeDecodeError:
        raise _not_utf8(path) from None


def _read_csv_rows(path: Path) -> Table:
    table: Table | None = None
    # Read from the file as a stream: the rows are all the memory a file takes.
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        for record in reader:
            line = reader.line_num
            if table is None:
                table = Table(str(path), [h.strip() for h in record])
                continue
            if not any(cell.strip() for cell in record):
                continue
            if len(record) > len(table.header):
                raise InputRejected([Problem(str(path), line, len(table.header) + 1,
                                             f"{len(record)} cells, but the header has {len(table.header)}")])
            cells = {name: (record[i].strip() if i < len(record) else "")
                     for i, name in enumerate(table.header)}
            table.rows.append(Row(line, cells))
    if table is None:
        raise InputRejected([Problem(str(path), 1, 1, "empty file: no header row")])
    return table


def _not_utf8(path: Path) -> InputRejected:
    """The refusal of a file that is not UTF-8, at the line and cell of its
    first bad byte (the stream's decoder only knows its own block)."""
    data = path.read_bytes()
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        before = data[data.rfind(b"\n", 0, exc.start) + 1:exc.start].decode("utf-8", errors="replace")
        column = len(next(csv.reader([before]), [""]))  # the cell the bad byte is in
        return InputRejected([Problem(str(path), line, column, f"not UTF-8 text: {exc.reason}")])
    raise AssertionError(f"{path} decodes as a whole but not as a stream")


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _read_xlsx(path: Path, zero_pad: dict[str, int]) -> Table:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises several kinds for a bad file
        raise InputRejected([Problem(str(path), 1, 1, f"cannot read as .xlsx: {exc}")]) from None
    sheet = workbook.worksheets[0]
    table: Table | None = None
    for line, values in enumerate(sheet.iter_rows(values_only=True), start=1):
        if table is None:
            table = Table(str(path), [_cell_text(v) for v in values])
            while table.header and not table.header[-1]:
                table.header.pop()
            continue
        texts = [_cell_text(v) for v in values]
        if not any(texts):
            continue
        cells = {}
        for i, name in enumerate(table.header):
            text = texts[i] if i < len(texts) else ""
            width = zero_pad.get(name)
            if width and text.isdigit() and isinstance(values[i], (int, float)):
                text = text.zfill(width)
            cells[name] = text
        table.rows.append(Row(line, cells))
    workbook.close()
    if table is None:
        raise InputRejected([Problem(str(path), 1, 1, "empty sheet: no header row")])
    return table
