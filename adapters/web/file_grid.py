"""An uploaded file's rows as a grid, with the cells a dry run found at
fault marked, so the officer sees each error where it is in the file (CSV
as the tabular reader splits it; XLSX by the workbook's rows)."""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from ..tabular import file_format

MAX_ROWS = 60  # the header, and the rows with errors and their neighbours, up to this many


@dataclass(frozen=True)
class Cell:
    text: str
    message: str | None  # the problem found in this cell, if any


@dataclass(frozen=True)
class Row:
    line: int
    cells: tuple[Cell, ...]
    faulty: bool


def _csv_rows(path: Path) -> list[list[str]]:
    data = path.read_bytes()
    for encoding in ("utf-8-sig", "utf-16", "cp1258"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        return []
    first = text.split("\n", 1)[0]
    delimiter = max((",", ";", "\t"), key=first.count)
    return [row for row in csv.reader(io.StringIO(text), delimiter=delimiter)]


def _xlsx_rows(path: Path) -> list[list[str]]:
    from openpyxl import load_workbook

    with path.open("rb") as handle:  # by content: the upload may be named anything
        workbook = load_workbook(handle, read_only=True, data_only=True)
        try:
            sheet = workbook.worksheets[0]
            return [["" if v is None else str(v) for v in row]
                    for _, row in zip(range(100_000), sheet.iter_rows(values_only=True))]
        finally:
            workbook.close()


def grid(path: Path, problems: list[dict]) -> list[Row]:
    """The rows worth showing: the header line and every line with a
    problem (with the line before and after), cells at fault marked."""
    try:
        found = file_format(path)
        rows = _xlsx_rows(path) if found == "xlsx" else _csv_rows(path) if found == "csv" else []
    except Exception:  # noqa: BLE001 - an unreadable file shows no grid; its problems are listed anyway
        return []
    faults: dict[tuple[int, int], str] = {}
    for p in problems:
        faults.setdefault((p["line"], p["column"]), p["message"])
    wanted = {1} | {line + d for line, _ in faults for d in (-1, 0, 1)}
    shown = []
    for line in sorted(n for n in wanted if 1 <= n <= len(rows))[:MAX_ROWS]:
        values = rows[line - 1]
        width = max([len(values)] + [c for (l, c) in faults if l == line])
        cells = tuple(Cell(values[i] if i < len(values) else "", faults.get((line, i + 1))) for i in range(width))
        shown.append(Row(line, cells, any(c.message for c in cells)))
    return shown
