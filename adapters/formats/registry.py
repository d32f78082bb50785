"""Which module reads a partner's file: chosen by the kind of file the
officer says it is (the import command's word) and by the format found in
the file's first bytes, never by its name, its suffix or the agent's code.

Every import goes through ``read``; a kind and format that do not go
together (a camt.054 given as decisions, a spreadsheet given as a bank
notification) are refused at line 1, column 1, naming what is expected."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from ..tabular import InputRejected, Problem, file_format, has_columns
from . import agent_report, bank_results, confirmations, deaths, decisions, postoffice_results, recoveries

# (kind of file, format detected) -> the reader; readers take the path and
# the context the kind needs (decisions: known_categories; bank: payroll_ids).
READERS: dict[tuple[str, str], Callable[..., Any]] = {
    ("decisions", "csv"): decisions.parse_decisions,
    ("decisions", "xlsx"): decisions.parse_decisions,
    ("deaths", "csv"): deaths.parse,
    ("deaths", "xlsx"): deaths.parse,
    ("recoveries", "csv"): recoveries.parse,
    ("recoveries", "xlsx"): recoveries.parse,
    ("confirmations", "csv"): confirmations.parse,
    ("confirmations", "xlsx"): confirmations.parse,
    ("postoffice", "csv"): postoffice_results.parse_csv,
    ("postoffice", "xlsx"): postoffice_results.parse_returned_list,  # the list sent, filled in
    ("bank", "csv"): bank_results.parse_csv,
    ("bank", "xml"): bank_results.parse_camt,  # camt.054 or camt.053
    ("agent_report", "csv"): agent_report.parse_agent_report,
    ("agent_report", "xlsx"): agent_report.parse_agent_report,
}

_FORMAT_NAMES = {"csv": "a CSV text file", "xlsx": "an .xlsx workbook", "xml": "an XML document"}


def kinds() -> list[str]:
    return sorted({kind for kind, _ in READERS})


def reader(kind: str, path: str | Path) -> Callable[..., Any]:
    """The reader for ``path`` as a file of ``kind``, or InputRejected."""
    if kind not in kinds():
        raise ValueError(f"unknown kind of file {kind!r}; expected one of {', '.join(kinds())}")
    try:
        found = file_format(path)
    except OSError as exc:
        raise InputRejected([Problem(str(path), 1, 1, f"cannot read: {exc.strerror or exc}")]) from None
    if (kind, found) not in READERS:
        expected = " or ".join(_FORMAT_NAMES[f] for k, f in READERS if k == kind)
        raise InputRejected([Problem(str(path), 1, 1, f"this is {_FORMAT_NAMES[found]}; a {kind} file "
                                                      f"is {expected}")])
    return READERS[(kind, found)]


def read(kind: str, path: str | Path, **context: Any) -> Any:
    return reader(kind, path)(path, **context)


def result_kind(path: str | Path) -> str:
    """``bank`` or ``postoffice``, for an agent's result file given as
    evidence without saying whose it is: a camt document or a table with the
    bank's columns is a bank's, anything else is read as a post office's
    (whose reader then names what it lacks)."""
    found = file_format(path)
    if found == "xml" or (found == "csv" and has_columns(path, bank_results.BANK_LAYOUT)):
        return "bank"
    return "postoffice"


def evidence_lines(path: str | Path) -> list[dict]:
    """An agent's result file as evidence for a reconciliation: shape-checked
    like an import, but compared with the payroll rather than recorded."""
    parsed = read(result_kind(path), path)
    return [dict(line_id=r.line_id, payroll_id=r.payroll_id, citizen_id=r.citizen_id, status=r.status,
                 on=r.on, amount=r.amount_vnd) for r in parsed.results]
