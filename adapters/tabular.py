"""Reading the partners' tables (CSV or the first sheet of an .xlsx) as
offices really make them, with the position of every cell, so that any
error can name file, line, column.

Every tabular import (decisions, deaths, recoveries, post office and bank
results, agents' reports) reads its file here, and only here:

- CSV separated by ``,``, ``;`` or a tab (sniffed from the header line, or
  given); UTF-8 with or without a BOM, UTF-16 with its BOM (Excel's "Unicode
  text"); another encoding only when named (``cp1258``). A file in an 8-bit
  Vietnamese code page is refused with the likely code page named.
- Title rows above the header (the national header, the office, "DANH SÁCH
  ...") are skipped: the header is the first row holding every required
  column name. Line numbers are the file's own (the sheet's row numbers).
- Cells are typed by the column they are in (``Layout``): dates
  ``DD/MM/YYYY`` or ``YYYY-MM-DD``, months ``MM/YYYY`` or ``YYYY-MM``, money
  as whole VND written plain or with Vietnamese grouping (``1.080.000``),
  counts, codes and ids (ASCII digits only), free text. A bare number is
  never a date, a date-time is not a date. Each cell is handed on in one
  canonical form (ISO dates, ``YYYY-MM`` months, plain integers).
- No cell may begin with ``=``, ``+``, ``-``, ``@``, a tab or a CR (a
  spreadsheet would run it as a formula), hold a NUL, or exceed 128 KiB; a
  row may not miss a trailing cell or run past the header.
- An .xlsx is untrusted: its declared uncompressed size and sheet dimension
  are capped before anything is parsed, XML is parsed through defusedxml
  (no DTD entities, no external references), and only the cells present
  are read, so the time taken follows the file's real content.

Every problem is a ``Problem`` (``file:line:column: message``); a file with
any problem is rejected whole (``InputRejected``)."""
from __future__ import annotations

import contextlib
import contextvars
import csv
import io
import re
import unicodedata
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

MAX_PROBLEMS = 100
MAX_VND = 10**15  # whole VND; a larger amount is a typing slip
MAX_CELL_BYTES = 128 * 1024
MAX_LINE_CHARS = 1024 * 1024
MAX_XLSX_UNCOMPRESSED = 200 * 1024 * 1024
MAX_XLSX_DECLARED_CELLS = 50_000_000
EXCEL_MAX_ROWS, EXCEL_MAX_COLUMNS = 1_048_576, 16_384
HEADER_SEARCH_ROWS = 50  # title rows above the header, at most
DELIMITERS = (",", ";", "\t")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
FIRST_MONTH = (2000, 1)  # no month before this is a month of this ledger
DATE_YEARS = (1900, 2100)

# The first bytes of a zip archive: an .xlsx, whatever the file is called.
_ZIP_MAGIC = b"PK\x03\x04"


def file_format(path: str | Path) -> str:
    """``xlsx``, ``xml`` or ``csv``, from the file's first bytes rather than
    its name: an agent's mail system renames attachments, and a sheet saved
    as ".csv" is still a sheet."""
    with Path(path).open("rb") as handle:
        head = handle.read(512)
    if head.startswith(_ZIP_MAGIC):
        return "xlsx"
    if head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
        return "xml"
    return "csv"


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
    header_line: int = 1
    # Problems found while reading; an import adds its own and rejects the
    # file if there are any (``reject_if_problems``).
    problems: list[Problem] = field(default_factory=list)

    def column_of(self, name: str) -> int:
        """1-based position of a column in this file (column order may differ
        between files); 1 if the file has no such column."""
        return self.header.index(name) + 1 if name in self.header else 1

    def problem(self, line: int, column_name: str, message: str) -> Problem:
        return Problem(self.path, line, self.column_of(column_name), message)

    def report(self, line: int, column_name: str, message: str) -> None:
        self.problems.append(self.problem(line, column_name, message))

    @property
    def full(self) -> bool:
        return len(self.problems) >= MAX_PROBLEMS

    def reject_if_problems(self) -> None:
        if self.problems:
            # In file order; a line's own problems keep their order.
            ordered = sorted(self.problems, key=lambda p: p.line)
            raise InputRejected(ordered[:MAX_PROBLEMS])


def _column_problems(path: str, line: int, header: Sequence[str], required: Sequence[str],
                     optional: Sequence[str]) -> list[Problem]:
    problems = []
    allowed = set(required) | set(optional)
    for index, name in enumerate(header, start=1):
        if name not in allowed:
            shown = "an unnamed column" if not name else f"unknown column {name!r}"
            problems.append(Problem(path, line, index, shown))
    seen = set()
    for index, name in enumerate(header, start=1):
        if name and name in seen:
            problems.append(Problem(path, line, index, f"column {name!r} appears twice"))
        seen.add(name)
    for name in required:
        if name not in header:
            problems.append(Problem(path, line, len(header) + 1, f"missing required column {name!r}"))
    return problems


# --- what a file's table looks like -----------------------------------------

@dataclass(frozen=True)
class Layout:
    """The columns of one kind of file and the type of each. A column in
    none of the typed groups is a code or id: ASCII digits only, and not
    beginning like a formula."""

    required: tuple[str, ...]
    optional: tuple[str, ...] = ()
    dates: tuple[str, ...] = ()
    months: tuple[str, ...] = ()
    money: tuple[str, ...] = ()           # whole VND, not negative
    signed_money: tuple[str, ...] = ()    # whole VND, may be negative
    counts: tuple[str, ...] = ()          # whole numbers
    text: tuple[str, ...] = ()            # free text: names, reasons, notes
    ignored: tuple[str, ...] = ()         # accepted and left out of the rows
    # Excel drops the leading zeros of a numeric id cell: restored to this width.
    zero_pad: Mapping[str, int] = field(default_factory=dict)
    # month column -> (date column, most months after that date)
    month_within: Mapping[str, tuple[str, int]] = field(default_factory=dict)
    # How a file's header cells map to these names (a post office's titles).
    rename: Callable[[list[str]], list[str]] | None = None

    @property
    def known(self) -> tuple[str, ...]:
        return self.required + self.optional + self.ignored

    def names(self, cells: list[str]) -> list[str]:
        return self.rename(cells) if self.rename else cells


@dataclass(frozen=True)
class ReadOptions:
    delimiter: str | None = None  # None: sniffed from the header line
    encoding: str | None = None   # None: UTF-8 (BOM or not) or UTF-16 with its BOM


_options: contextvars.ContextVar[ReadOptions] = contextvars.ContextVar("read_options",
                                                                        default=ReadOptions())


@contextlib.contextmanager
def reading_options(delimiter: str | None = None, encoding: str | None = None) -> Iterator[None]:
    """How CSV files are read inside the block (the import commands'
    ``--delimiter`` and ``--encoding``)."""
    if delimiter is not None:
        delimiter = {"tab": "\t", "\\t": "\t"}.get(delimiter, delimiter)
        if len(delimiter) != 1:
            raise ValueError(f"a delimiter is one character, got {delimiter!r}")
    if encoding is not None:
        import codecs

        codecs.lookup(encoding)  # LookupError for an unknown one
    token = _options.set(ReadOptions(delimiter, encoding))
    try:
        yield
    finally:
        _options.reset(token)


def read_table(path: str | Path, layout: Layout) -> Table:
    """Read a CSV or .xlsx file laid out as ``layout``: the header found and
    checked, blank lines skipped, every cell typed and in canonical form.
    Structural problems (columns, encoding, an unreadable file) raise
    InputRejected at once; problems in cells are left in ``table.problems``
    (their rows left out) for the import to report with its own."""
    path = Path(path)
    try:
        if file_format(path) == "xlsx":
            return _build(str(path), _xlsx_records(path), layout, short_rows_ok=True)
        return _read_csv(path, layout, _options.get())
    except _Refused as refused:
        raise InputRejected([Problem(str(path), refused.line, refused.column, refused.message)]) from None
    except OSError as exc:
        raise InputRejected([Problem(str(path), 1, 1, f"cannot read: {exc.strerror or exc}")]) from None


def has_columns(path: str | Path, layout: Layout) -> bool:
    """Whether a row near the top of the file holds every column ``layout``
    requires: which of several layouts a file is in, before reading it as
    that one (nothing else is checked here)."""
    path = Path(path)
    try:
        if file_format(path) == "xlsx":
            records: Iterator[Record] = _xlsx_records(path)
        else:
            with path.open("rb") as handle:
                head = handle.read(64 * 1024).decode("utf-8-sig", errors="replace").splitlines()
            head = head[:HEADER_SEARCH_ROWS * 4]
            delimiter = _options.get().delimiter or _sniff(head, layout)
            records = ((line, {i: cell for i, cell in enumerate(cells, start=1)})
                       for line, cells in enumerate(csv.reader(head, delimiter=delimiter), start=1))
        found = _find_header(records, layout)
    except (_Refused, InputRejected, OSError, csv.Error):
        return False
    return found is not None and _score(found[1], layout)[0]


class _Refused(Exception):
    """The file cannot be read on: one problem, at a position."""

    def __init__(self, line: int, column: int, message: str):
        super().__init__(message)
        self.line, self.column, self.message = line, column, message


# A record: its first line in the file, and its cells by 1-based column
# (sparse for a sheet, where only the cells present are read).
Record = tuple[int, dict[int, Any]]


# --- the table: header, rows, cells ----------------------------------------

def _header_names(cells: Mapping[int, Any], layout: Layout) -> list[str]:
    width = max((c for c, v in cells.items() if _plain(v)), default=0)
    return layout.names([_plain(cells.get(c)) for c in range(1, width + 1)])


def _plain(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _score(names: Sequence[str], layout: Layout) -> tuple[bool, int]:
    present = set(names)
    return all(n in present for n in layout.required), len(present & set(layout.known))


def _find_header(records: Iterator[Record], layout: Layout) -> tuple[int, list[str]] | None:
    """The first row holding every required column name, within the first
    HEADER_SEARCH_ROWS rows with anything in them. Failing that, the row
    most like a header (so the column check names what is missing there),
    or the first row."""
    best: tuple[tuple[bool, int], int, list[str]] | None = None
    seen = 0
    for line, cells in records:
        if not any(_plain(v) for v in cells.values()):
            continue
        names = _header_names(cells, layout)
        score = _score(names, layout)
        if score[0]:
            return line, names
        if best is None or score[1] > best[0][1]:
            best = (score, line, names)
        seen += 1
        if seen >= HEADER_SEARCH_ROWS:
            break
    return None if best is None else (best[1], best[2])


def _build(path: str, records: Iterator[Record], layout: Layout, *, short_rows_ok: bool,
           cleanup: Callable[[str], str] | None = None) -> Table:
    found = _find_header(records, layout)
    if found is None:
        raise _Refused(1, 1, "empty file: no header row")
    header_line, header = found
    problems = _column_problems(path, header_line, header, layout.required,
                                layout.optional + layout.ignored)
    if problems:
        raise InputRejected(problems)
    # The header keeps the ignored columns, so that problems name the file's own columns.
    table = Table(path, list(header), header_line=header_line)
    columns = [(column, name, _CellTyper(layout, name))
               for column, name in enumerate(header, start=1) if name not in layout.ignored]
    width = len(header)
    for line, cells in records:
        if table.full:
            break
        if not any(_plain(v) for v in cells.values()):
            continue
        beyond = [c for c, v in cells.items() if c > width and _plain(v)]
        if beyond:
            table.problems.append(Problem(
                path, line, min(beyond), f"a cell beyond the last column of the header ({width} "
                                         f"columns): {_plain(cells[min(beyond)])[:40]!r}"))
            continue
        if not short_rows_ok:
            count = max(cells, default=0)
            if count < width:
                table.problems.append(Problem(
                    path, line, count + 1, f"a cell is missing: the row has {count} cells, the header "
                                           f"{width} (column {header[count]!r} and after)"))
                continue
        row: dict[str, str] = {}
        found = len(table.problems)
        for column, name, typed in columns:
            try:
                text = typed(cells.get(column))
            except _CellError as exc:
                table.problems.append(Problem(path, line, column, f"{name}: {exc}"))
                continue
            row[name] = cleanup(text) if cleanup is not None and text else text
        for name, (date_column, most) in layout.month_within.items():
            if row.get(name) and row.get(date_column):
                message = month_window(row[name], row[date_column], date_column, most)
                if message:
                    table.problems.append(Problem(path, line, header.index(name) + 1, f"{name}: {message}"))
        if len(table.problems) == found:
            table.rows.append(Row(line, row))
    return table


class _CellError(ValueError):
    pass


_ISO_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_VN_DATE = re.compile(r"([0-9]{1,2})/([0-9]{1,2})/([0-9]{4})")
_ISO_MONTH = re.compile(r"([0-9]{4})-([0-9]{2})")
_VN_MONTH = re.compile(r"([0-9]{1,2})/([0-9]{4})")
_TIME_PART = re.compile(r"[ T][0-9]{1,2}:[0-9]{2}")
_PLAIN_INT = re.compile(r"[0-9]+")
_GROUPED_INT = re.compile(r"[0-9]{1,3}(?:\.[0-9]{3})+")
_NUMBER_LIKE = re.compile(r"[+-]?[0-9]+(?:[.,][0-9]+)?(?:[eE][+-]?[0-9]+)?")


def _non_ascii_digit(text: str) -> str | None:
    for ch in text:
        if not ch.isascii() and (ch.isdigit() or unicodedata.category(ch) == "Nd"):
            return ch
    return None


_FORMULA_FIRST = frozenset(FORMULA_STARTS)
_TYPED = ("money", "signed_money", "dates", "months", "counts")


class _CellTyper:
    """The rules of one column, applied to each of its cells."""

    def __init__(self, layout: Layout, name: str) -> None:
        self.name = name
        self.kind = next((kind for kind in ("dates", "months", "money", "signed_money", "counts", "text")
                          if name in getattr(layout, kind)), "code")
        self.zero_pad = layout.zero_pad.get(name)
        self.parse = {"dates": _date, "months": _month, "counts": _count,
                      "money": lambda text: _money(text, negative_ok=False),
                      "signed_money": lambda text: _money(text, negative_ok=True)}.get(self.kind)

    def __call__(self, value: Any) -> str:
        if value is None or value == "":
            return ""
        if self.kind == "months" and isinstance(value, (date, datetime)) and value.day == 1 \
                and (not isinstance(value, datetime) or value.time() == time()):
            value = f"{value.year:04d}-{value.month:02d}"  # "07/2024" typed into Excel: a date
        raw = value if isinstance(value, str) else _raw_text(value, self.zero_pad)
        if "\x00" in raw:
            raise _CellError("a NUL byte in the cell (a damaged or binary file?)")
        if len(raw) > MAX_CELL_BYTES // 4 and len(raw.encode("utf-8", "surrogatepass")) > MAX_CELL_BYTES:
            raise _CellError(f"a cell over {MAX_CELL_BYTES // 1024} KiB")
        text = raw.strip()
        if not text:
            return ""
        if self.kind not in _TYPED:
            lead = raw.lstrip(" ")
            if lead[0] in _FORMULA_FIRST or text[0] in _FORMULA_FIRST:
                first = lead[0] if lead[0] in "\t\r" else text[0]
                raise _CellError(f"begins with {first!r}, which a spreadsheet runs as a formula; "
                                 f"no name, code or decision starts like that (got {text[:40]!r})")
        if self.kind != "text" and not text.isascii():
            odd = _non_ascii_digit(text)
            if odd is not None:
                raise _CellError(f"{odd!r} ({unicodedata.name(odd, 'a non-ASCII digit').lower()}) "
                                 f"is not one of the digits 0-9: retype it with plain digits "
                                 f"(got {text[:40]!r})")
        return self.parse(text) if self.parse else text


def _count(text: str) -> str:
    if not _PLAIN_INT.fullmatch(text):
        raise _CellError(f"a whole number is expected (got {text!r})")
    return str(int(text))


def _raw_text(value: Any, zero_pad: int | None) -> str:
    """A cell as text. Sheet cells come typed: dates as ISO text (a
    date-time with its time, which a date column refuses), whole numbers
    without a decimal point, ids padded back to their width."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time() else value.isoformat(sep=" ")
    if isinstance(value, (date, time)):
        return value.isoformat()
    if isinstance(value, float):
        if value.is_integer():
            value = int(value)
        else:
            return repr(value)
    if isinstance(value, int):
        text = str(value)
        return text.zfill(zero_pad) if zero_pad and value >= 0 else text
    return str(value)


def _date(text: str) -> str:
    if _PLAIN_INT.fullmatch(text) or _NUMBER_LIKE.fullmatch(text):
        raise _CellError(f"{text!r} is a bare number, not a date (an Excel serial number or a Unix "
                         "time?): write DD/MM/YYYY or YYYY-MM-DD")
    head = _TIME_PART.search(text)
    if head and (_ISO_DATE.fullmatch(text[:head.start()]) or _VN_DATE.fullmatch(text[:head.start()])):
        raise _CellError(f"{text!r} is a date and time; a date is expected (DD/MM/YYYY or YYYY-MM-DD)")
    if match := _ISO_DATE.fullmatch(text):
        year, month, day = (int(g) for g in match.groups())
    elif match := _VN_DATE.fullmatch(text):
        day, month, year = (int(g) for g in match.groups())
    else:
        raise _CellError(f"{text!r} is not a date: write DD/MM/YYYY or YYYY-MM-DD")
    try:
        value = date(year, month, day)
    except ValueError:
        raise _CellError(f"{text!r}: no such day") from None
    if not DATE_YEARS[0] <= year <= DATE_YEARS[1]:
        raise _CellError(f"{text!r}: the year is not between {DATE_YEARS[0]} and {DATE_YEARS[1]}")
    return value.isoformat()


def _month(text: str) -> str:
    if _NUMBER_LIKE.fullmatch(text) and not _ISO_MONTH.fullmatch(text):
        raise _CellError(f"{text!r} is a bare number, not a month: write MM/YYYY or YYYY-MM")
    if match := _ISO_MONTH.fullmatch(text):
        year, month = (int(g) for g in match.groups())
    elif match := _VN_MONTH.fullmatch(text):
        month, year = (int(g) for g in match.groups())
    elif _ISO_DATE.fullmatch(text) or _VN_DATE.fullmatch(text) or _TIME_PART.search(text):
        raise _CellError(f"{text!r} is a date; a month is expected (MM/YYYY or YYYY-MM)")
    else:
        raise _CellError(f"{text!r} is not a month: write MM/YYYY or YYYY-MM")
    if not 1 <= month <= 12:
        raise _CellError(f"{text!r}: there is no month {month}")
    if (year, month) < FIRST_MONTH:
        raise _CellError(f"{text!r} is before {FIRST_MONTH[1]:02d}/{FIRST_MONTH[0]}")
    if year > DATE_YEARS[1]:
        raise _CellError(f"{text!r}: the year is after {DATE_YEARS[1]}")
    return f"{year:04d}-{month:02d}"


def month_window(month: str, on: str, date_column: str, most: int) -> str | None:
    year, number = int(month[:4]), int(month[5:7])
    day = date.fromisoformat(on)
    ahead = (year - day.year) * 12 + (number - day.month)
    if ahead > most:
        return (f"{month} is {ahead} months after {date_column} {on}; at most {most} are accepted "
                "(a mistyped year?)")
    return None


def _money(text: str, *, negative_ok: bool) -> str:
    sign, digits = ("-", text[1:]) if text.startswith("-") else ("", text)
    if _PLAIN_INT.fullmatch(digits):
        value = int(digits)
    elif _GROUPED_INT.fullmatch(digits):
        value = int(digits.replace(".", ""))
    else:
        raise _CellError(f"{text!r} is not a whole amount of VND: write 500000 or 500.000")
    if value >= MAX_VND:
        raise _CellError(f"{text!r}: more than any amount this ledger pays")
    if sign and value:
        if not negative_ok:
            raise _CellError(f"{text!r}: a negative amount is not accepted here")
        return f"-{value}"
    return str(value)


# --- CSV ----------------------------------------------------------------------

_BOMS = ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16"))


def _read_csv(path: Path, layout: Layout, options: ReadOptions) -> Table:
    with path.open("rb") as binary:
        start = binary.read(64 * 1024)
        binary.seek(0)
        encoding = options.encoding
        if encoding is None:
            encoding = next((name for bom, name in _BOMS if start.startswith(bom)), "utf-8")
            if encoding == "utf-8" and start.count(b"\x00") > len(start) // 4:
                raise _Refused(1, 1, "NUL bytes all through the file: UTF-16 saved without its "
                                     "byte-order mark? Save it as 'CSV UTF-8' (or Unicode text)")
        cleanup = None
        if options.encoding is not None:
            # A legacy code page writes tone marks as separate characters.
            cleanup = _compose
        text = io.TextIOWrapper(binary, encoding=encoding, errors="strict", newline="")
        try:
            lines = _Lines(text)
            head = lines.take(HEADER_SEARCH_ROWS * 4)
            delimiter = options.delimiter or _sniff(head, layout)
            records = _csv_records(lines, head, delimiter)
            return _build(str(path), records, layout, short_rows_ok=False, cleanup=cleanup)
        except UnicodeDecodeError:
            raise _wrong_encoding(path, encoding) from None


def _compose(text: str) -> str:
    return unicodedata.normalize("NFC", text)


class _Lines:
    """The file's lines, none longer than MAX_LINE_CHARS; the lines of the
    record being read are kept, to place a problem the csv module raises."""

    def __init__(self, handle: io.TextIOBase) -> None:
        self.handle = handle
        self.number = 0
        self.current: list[str] = []

    def _next(self) -> str:
        line = self.handle.readline(MAX_LINE_CHARS)
        if not line:
            return line
        self.number += 1
        if len(line) >= MAX_LINE_CHARS and not line.endswith(("\n", "\r")):
            raise _Refused(self.number, 1, f"a line over {MAX_LINE_CHARS // 1024} KiB: not a table "
                                           "of decisions or results")
        return line

    def take(self, count: int) -> list[str]:
        out = []
        while len(out) < count:
            line = self._next()
            if not line:
                break
            out.append(line)
        return out

    def rest(self) -> Iterator[str]:
        while line := self._next():
            yield line


def _sniff(head: list[str], layout: Layout) -> str:
    """The separator with which a row of the first lines holds every required
    column name; failing that, the one giving the most known names."""
    best, best_score = DELIMITERS[0], (False, -1)
    for delimiter in DELIMITERS:
        try:
            records = list(csv.reader(head, delimiter=delimiter))
        except csv.Error:
            continue
        for record in records:
            score = _score(layout.names([cell.strip() for cell in record]), layout)
            if score[0]:
                return delimiter
            if score > best_score:
                best, best_score = delimiter, score
    return best


def _csv_records(lines: _Lines, head: list[str], delimiter: str) -> Iterator[Record]:
    current: list[str] = []
    line_no = 0

    def source() -> Iterator[str]:
        nonlocal line_no
        for line in _chain(head, lines):
            line_no += 1
            current.append(line)
            yield line

    reader = csv.reader(source(), delimiter=delimiter)
    while True:
        current.clear()
        first = line_no + 1
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            column, _ = _overflow_column("".join(current), delimiter)
            message = (f"a cell over {MAX_CELL_BYTES // 1024} KiB" if "field larger" in str(exc)
                       else f"not readable as CSV: {exc}")
            raise _Refused(first, column, message) from None
        yield first, {i: cell for i, cell in enumerate(record, start=1)}


def _chain(head: list[str], lines: _Lines) -> Iterator[str]:
    yield from head
    yield from lines.rest()


def _overflow_column(text: str, delimiter: str) -> tuple[int, int]:
    """(column, length) of the first over-long cell in a record's raw text,
    or of its last cell; quotes are followed, nothing else."""
    column, length, quoted = 1, 0, False
    for ch in text:
        if ch == '"':
            quoted = not quoted
        elif ch == delimiter and not quoted:
            if length > MAX_CELL_BYTES // 4:
                return column, length
            column, length = column + 1, 0
            continue
        length += 1
    return column, length


def _wrong_encoding(path: Path, encoding: str) -> InputRejected:
    """The refusal of a file that is not in its encoding, at the line and
    cell of the first bad byte, naming the code page it most likely is."""
    data = path.read_bytes()
    if encoding.lower().replace("_", "-") in ("utf-16", "utf16"):
        return InputRejected([Problem(str(path), 1, 1, "not valid UTF-16 text: save it again as "
                                                       "'CSV UTF-8' or 'Unicode text'")])
    try:
        data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        before = data[data.rfind(b"\n", 0, exc.start) + 1:exc.start].decode(encoding, errors="replace")
        delimiter = max(DELIMITERS, key=before.count) if any(d in before for d in DELIMITERS) else ","
        column = len(next(csv.reader([before], delimiter=delimiter), [""]))  # the bad byte's cell
        if encoding.lower().replace("-", "").replace("_", "") in ("utf8", "utf8sig"):
            message = f"not UTF-8 text ({exc.reason}): {_likely_code_page(data)}"
        else:
            message = f"not {encoding} text ({exc.reason})"
        return InputRejected([Problem(str(path), line, column, message)])
    raise AssertionError(f"{path} decodes as a whole but not as a stream")


def _likely_code_page(data: bytes) -> str:
    """Vietnamese text in Windows-1258 has its high bytes on letters (â ê ô
    ơ ư đ) and tone marks; in TCVN3 (ABC, the .Vn fonts) most of them fall
    where Windows-1258 has symbols (0xA1-0xBF)."""
    high = [b for b in data if b >= 0x80]
    letters = 0
    for b in high:
        ch = bytes([b]).decode("cp1258", errors="replace")
        if unicodedata.category(ch)[0] in "LM":
            letters += 1
    save = "open it in Excel and save as 'CSV UTF-8 (Comma delimited)'"
    if high and letters * 2 >= len(high):
        return (f"it looks like Windows-1258 (the Vietnamese Windows code page); {save}, "
                "or import it with --encoding cp1258")
    if high:
        return ("it looks like TCVN3 (ABC, the .Vn fonts); convert it to Unicode (e.g. with "
                f"UniKey's converter), then {save}")
    return save


# --- .xlsx --------------------------------------------------------------------

def _xlsx_records(path: Path) -> Iterator[Record]:
    """The first sheet's rows as stored: only rows and cells present, each
    at its own row and column number."""
    _check_archive(path)
    import openpyxl

    if not getattr(openpyxl, "DEFUSEDXML", False):
        raise _Refused(1, 1, "cannot read an .xlsx safely: openpyxl is not using defusedxml "
                             "(install defusedxml and leave OPENPYXL_DEFUSEDXML unset)")
    from defusedxml import DefusedXmlException

    # Opened here, not by name: openpyxl refuses a workbook whose name does
    # not end in .xlsx, and the format is known from the content already.
    with path.open("rb") as handle:
        try:
            workbook = openpyxl.load_workbook(handle, read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises many kinds for a damaged file
            attack = _cause(exc, DefusedXmlException)
            if attack is not None:
                raise _Refused(1, 1, _xml_attack(attack)) from None
            raise _Refused(1, 1, f"cannot read as .xlsx: {_first_line(exc)}") from None
        try:
            if not workbook.worksheets:
                raise _Refused(1, 1, "the workbook has no sheet")
            sheet = workbook.worksheets[0]
            _check_dimension(sheet)
            yield from _present_rows(workbook, sheet)
        finally:
            workbook.close()


def _check_archive(path: Path) -> None:
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except zipfile.BadZipFile:
        raise _Refused(1, 1, "not an .xlsx file (not a zip archive); save it again from Excel") from None
    declared = sum(member.file_size for member in members)
    if declared > MAX_XLSX_UNCOMPRESSED:
        raise _Refused(1, 1, f"the .xlsx unpacks to {declared / 2**20:,.0f} MiB, more than the "
                             f"{MAX_XLSX_UNCOMPRESSED // 2**20} MiB accepted (a zip bomb, or not "
                             "a table of this ledger)")


def _check_dimension(sheet) -> None:
    rows, columns = sheet.max_row, sheet.max_column
    if rows is None or columns is None:
        return
    if rows > EXCEL_MAX_ROWS or columns > EXCEL_MAX_COLUMNS or rows * columns > MAX_XLSX_DECLARED_CELLS:
        raise _Refused(1, 1, f"the sheet declares {rows:,} rows by {columns:,} columns "
                             f"({rows * columns:,} cells); at most {MAX_XLSX_DECLARED_CELLS:,} "
                             "are accepted: delete the empty rows and columns and save again")


def _present_rows(workbook, sheet) -> Iterator[Record]:
    """openpyxl's read-only rows are padded to the declared dimension and
    filled in for every missing row number, so a tiny file can make it loop
    for hours: the sheet's own parser is used instead, which yields only the
    rows present, each with the cells present."""
    from defusedxml import DefusedXmlException
    from openpyxl.worksheet._reader import WorkSheetParser

    with workbook._archive.open(sheet._worksheet_path) as source:
        parser = WorkSheetParser(source, sheet._shared_strings, data_only=True, epoch=workbook.epoch,
                                 date_formats=workbook._date_formats,
                                 timedelta_formats=workbook._timedelta_formats)
        rows = parser.parse()
        while True:
            try:
                number, cells = next(rows)
            except StopIteration:
                return
            except Exception as exc:
                attack = _cause(exc, DefusedXmlException)
                if attack is not None:
                    raise _Refused(1, 1, _xml_attack(attack)) from None
                raise _Refused(parser.row_counter or 1, 1,
                               f"cannot read the sheet: {_first_line(exc)}") from None
            if not 1 <= number <= EXCEL_MAX_ROWS:
                raise _Refused(1, 1, f"a row numbered {number:,}: beyond what a sheet holds")
            values: dict[int, Any] = {}
            for cell in cells:
                column = cell["column"]
                if not 1 <= column <= EXCEL_MAX_COLUMNS:
                    raise _Refused(number, 1, f"a cell in column {column:,}: beyond what a sheet holds")
                if cell["value"] is not None:
                    values[column] = cell["value"]
            yield number, values


def _cause(exc: BaseException | None, kind: type) -> BaseException | None:
    """``exc`` or the exception it was raised from (openpyxl wraps them)."""
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, kind):
            return exc
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return None


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _xml_attack(exc: BaseException) -> str:
    return ("the .xlsx declares XML entities or a document type (an XXE or entity-expansion "
            f"attack; spreadsheets never need one): refused ({type(exc).__name__})")


# --- rows validated by a model ------------------------------------------------

def validated_rows(table: Table, model, *, default_column: str) -> Iterator[tuple[Row, Any]]:
    """Each row of the table that passes ``model`` (pydantic), with the parsed
    model; the problems of the others go to ``table.problems``. Stops once
    MAX_PROBLEMS are listed."""
    from pydantic import ValidationError

    for row in table.rows:
        if table.full:
            return
        try:
            parsed = model.model_validate({k: v for k, v in row.cells.items() if v != ""})
        except ValidationError as exc:
            for error in exc.errors():
                column = str(error["loc"][0]) if error["loc"] else default_column
                message = error["msg"].removeprefix("Value error, ")
                value = error.get("input")
                shown = f" (got {value!r})" if isinstance(value, str) else ""
                table.report(row.line, column, f"{column}: {message}{shown}")
            continue
        yield row, parsed
