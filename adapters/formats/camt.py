"""A bank's results as an ISO 20022 camt.054 debit/credit notification, read
into the same table as bank-result.csv (formats.md), with the source line of
every transaction so that errors name file, line and column.

The XML is parsed with expat directly, because ElementTree does not keep
the line numbers the error messages need."""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Callable

from ..tabular import InputRejected, Problem, Row, Table

# bank-result.csv, formats.md.
COLUMNS = ("payroll_id", "line_id", "status", "booked_on", "amount", "reason_code")
STATUSES = ("credited", "rejected")

_NS_PREFIX = "urn:iso:std:iso:20022:tech:xsd:camt.054.001."
_STATEMENT_PREFIX = "urn:iso:std:iso:20022:tech:xsd:camt.053.001."
ACCEPTED_VERSIONS = tuple(f"{n:02d}" for n in range(2, 14))  # 02 to 13
# The report inside the document: a notification (camt.054) or a statement (camt.053).
_REPORTS = {_NS_PREFIX: "BkToCstmrDbtCdtNtfctn/Ntfctn", _STATEMENT_PREFIX: "BkToCstmrStmt/Stmt"}

# "<agent_code>/<YYYY-MM>", the payroll id the pain.001 carried as PmtInfId.
_PAYROLL_ID = re.compile(r"[A-Za-z0-9_.-]{1,64}/[0-9]{4}-(0[1-9]|1[0-2])")
_AMOUNT = re.compile(r"([0-9]{1,18})(?:\.([0-9]{1,5}))?")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


# --- parsing with positions -------------------------------------------------

@dataclass(frozen=True)
class _Position:
    line: int
    column: int  # 1-based


class _Refused(Exception):
    def __init__(self, position: _Position, message: str):
        super().__init__(message)
        self.position = position
        self.message = message


class _Document:
    """The element tree (tags without their namespace) plus where each
    element starts in the file."""

    def __init__(self, root: ET.Element, namespace: str, positions: dict[int, _Position]):
        self.root = root
        self.namespace = namespace
        self._positions = positions

    def position(self, element: ET.Element) -> _Position:
        return self._positions[id(element)]


def _parse(path: Path) -> _Document:
    """Parsed through defusedxml's expat reader: no document type
    declaration, no entities, no external references."""
    from xml.sax import SAXParseException
    from xml.sax.handler import ContentHandler, feature_namespaces

    from defusedxml import DefusedXmlException
    from defusedxml.expatreader import create_parser

    builder = ET.TreeBuilder()
    positions: dict[int, _Position] = {}
    namespaces: list[str] = []
    parser = create_parser(forbid_dtd=True)
    parser.setFeature(feature_namespaces, True)

    def here() -> _Position:
        locator = handler.locator
        return _Position(locator.getLineNumber(), locator.getColumnNumber() + 1)

    class Handler(ContentHandler):
        locator = None

        def setDocumentLocator(self, locator) -> None:
            self.locator = locator

        def startElementNS(self, name, qname, attributes) -> None:
            namespace, local = name
            if not namespaces:
                namespaces.append(namespace or "")
            element = builder.start(local, {key[1]: value for key, value in attributes.items()})
            # Keyed by id(): the tree keeps every element alive as long as the positions.
            positions[id(element)] = here()

        def endElementNS(self, name, qname) -> None:
            builder.end(name[1])

        def characters(self, content) -> None:
            builder.data(content)

    handler = Handler()
    parser.setContentHandler(handler)
    try:
        with path.open("rb") as handle:
            parser.parse(handle)
    except SAXParseException as exc:
        message = exc.getMessage()
        raise InputRejected([Problem(str(path), exc.getLineNumber(), exc.getColumnNumber() + 1,
                                     f"malformed XML: {message}")]) from None
    except DefusedXmlException:
        # Bank files never declare a DTD; refusing one keeps entity tricks out.
        where = here() if handler.locator else _Position(1, 1)
        raise InputRejected([Problem(str(path), where.line, where.column,
                                     "a document type declaration is not accepted")]) from None
    return _Document(builder.close(), namespaces[0] if namespaces else "", positions)


# --- reading ----------------------------------------------------------------

# Records a problem at an element's position (the transaction's, given None).
Report = Callable[[ET.Element | None, str], None]

def read_camt054(path: str | Path) -> Table:
    """One row per TxDtls of ours, keyed like bank-result.csv; Row.line is
    the line of the TxDtls start tag. A camt.054 notification or a camt.053
    statement, versions 02 to 13. Entries that are not payroll transfers
    (no end-to-end id, money coming in that is no return) are listed in
    ``table.ignored``; any problem with one of ours rejects the whole file."""
    path = Path(path)
    try:
        doc = _parse(path)
    except OSError as exc:
        raise InputRejected([Problem(str(path), 1, 1, f"cannot read: {exc.strerror}")]) from None
    report_path = _check_document(path, doc)
    table = Table(str(path), list(COLUMNS))
    table.ignored = []
    problems: list[Problem] = []
    notifications = doc.root.findall(report_path)
    for notification in notifications:
        for entry in notification.findall("Ntry"):
            details = entry.findall("NtryDtls/TxDtls")
            # An entry without transaction details (bank charges, a batch
            # total) names no payroll line, so it has no result to report.
            for transaction in details:
                row = _row(path, doc, notification, entry, transaction,
                           only_transaction=len(details) == 1, problems=problems,
                           ignored=table.ignored)
                if row is not None:
                    table.rows.append(row)
    if problems:
        raise InputRejected(problems)
    return table


def _check_document(path: Path, doc: _Document) -> str:
    """The path to the reports in the document (by its namespace)."""
    prefix = next((p for p in _REPORTS if doc.namespace.startswith(p)), "")
    version = doc.namespace[len(prefix):] if prefix else ""
    start = doc.position(doc.root)
    if doc.root.tag != "Document" or version not in ACCEPTED_VERSIONS:
        raise InputRejected([Problem(
            str(path), start.line, start.column,
            f"not a camt.054 notification or camt.053 statement (versions 001.{ACCEPTED_VERSIONS[0]} to "
            f"001.{ACCEPTED_VERSIONS[-1]}): root {doc.root.tag!r} in namespace {doc.namespace!r}")])
    container = _REPORTS[prefix].partition("/")[0]
    if doc.root.find(container) is None:
        raise InputRejected([Problem(str(path), start.line, start.column,
                                     f"no {container} in the document")])
    return _REPORTS[prefix]


def _text(element: ET.Element | None, path: str | None = None) -> str:
    if element is not None and path is not None:
        element = element.find(path)
    return "" if element is None or element.text is None else element.text.strip()


def _row(path: Path, doc: _Document, notification: ET.Element, entry: ET.Element,
         transaction: ET.Element, *, only_transaction: bool,
         problems: list[Problem], ignored: list[str]) -> Row | None:
    start = doc.position(transaction)
    found: list[Problem] = []

    def problem(element: ET.Element | None, message: str) -> None:
        where = doc.position(element) if element is not None else start
        found.append(Problem(str(path), where.line, where.column, message))

    line_id = _text(transaction, "Refs/EndToEndId")
    indicator = _text(transaction, "CdtDbtInd") or _text(entry, "CdtDbtInd")
    reversal = _text(entry, "RvslInd").lower() in ("true", "1")
    returned = transaction.find("RtrInf")
    if not line_id or line_id.upper() == "NOTPROVIDED" or (
            indicator == "CRDT" and returned is None and not reversal):
        # Not a payroll transfer: other money in or out of the account.
        amount = _text(entry, "Amt")
        ignored.append(f"{path}:{start.line}: {indicator or 'entry'} {amount} "
                       f"{line_id or 'without an end-to-end id'}: not a payroll transfer, ignored")
        return None
    if returned is not None or reversal:
        # A returned transfer, or the bank's reversal of one it had booked.
        status = "rejected"
        reason_code = _text(returned, "Rsn/Cd") or _text(returned, "Rsn/Prtry")
        if not reason_code:
            problem(returned if returned is not None else entry.find("RvslInd"),
                    "return information without a reason code (RtrInf/Rsn/Cd)")
    else:
        status, reason_code = "credited", ""
        entry_status = _entry_status(entry)
        if entry_status != "BOOK":
            problem(entry.find("Sts"), f"entry status {entry_status or 'missing'!r} is not "
                                       "final: expected BOOK, or return information")
    booked_on = _booking_date(entry, problem)
    amount_vnd = _amount_vnd(entry, transaction, only_transaction, problem)
    problems.extend(found)
    if found:
        return None
    return Row(start.line, {
        "payroll_id": _payroll_id(notification, entry, transaction),
        "line_id": line_id,
        "status": status,
        "booked_on": booked_on,
        "amount": amount_vnd,
        "reason_code": reason_code,
    })


def _entry_status(entry: ET.Element) -> str:
    """``<Sts>BOOK</Sts>`` up to version 05, ``<Sts><Cd>BOOK</Cd></Sts>`` after."""
    status = entry.find("Sts")
    return _text(status, "Cd") or _text(status, "Prtry") or _text(status)


def _booking_date(entry: ET.Element, problem: Report) -> str:
    booking = entry.find("BookgDt")
    if booking is None:
        return ""
    day = _text(booking, "Dt")
    if day:
        if not _is_date(day):
            problem(booking.find("Dt"), f"booking date {day!r} is not YYYY-MM-DD")
            return ""
        return day
    moment = _text(booking, "DtTm")
    try:
        # The bank's own calendar day, whatever offset it states.
        return datetime.fromisoformat(moment.replace("Z", "+00:00")).date().isoformat()
    except ValueError:
        problem(booking, f"booking date-time {moment!r} is not an ISO date-time")
        return ""


def _is_date(text: str) -> bool:
    """YYYY-MM-DD and a real day (fromisoformat alone also takes 20240305)."""
    try:
        return bool(_DATE.fullmatch(text)) and bool(date.fromisoformat(text))
    except ValueError:
        return False


def _amount_element(entry: ET.Element, transaction: ET.Element,
                    only_transaction: bool) -> ET.Element | None:
    """TxDtls/Amt from version 03 on; version 02 only has AmtDtls; the
    entry's own amount is the transaction's when it is the only one."""
    for where in ("Amt", "AmtDtls/TxAmt/Amt", "AmtDtls/InstdAmt/Amt"):
        element = transaction.find(where)
        if element is not None:
            return element
    return entry.find("Amt") if only_transaction else None


def _amount_vnd(entry: ET.Element, transaction: ET.Element, only_transaction: bool,
                problem: Report) -> str:
    element = _amount_element(entry, transaction, only_transaction)
    if element is None:
        problem(transaction, "transaction without an amount")
        return ""
    currency = element.get("Ccy", "")
    if currency != "VND":
        problem(element, f"amount in {currency or 'no currency'!r}, expected VND")
        return ""
    text = _text(element)
    # ISO 20022 amounts: at most 18 digits, 5 of them after the point.
    # "1500000.00" is still whole dong; "1500000.50" is not.
    match = _AMOUNT.fullmatch(text)
    if not match or (match.group(2) or "").strip("0"):
        problem(element, f"amount {text!r} is not a whole number of VND")
        return ""
    return str(int(match.group(1)))


def _payroll_id(notification: ET.Element, entry: ET.Element, transaction: ET.Element) -> str:
    """The first reference shaped like ``<agent>/<YYYY-MM>``: the echoed
    payment-information id, then the entry's and the notification's own."""
    for element, where in ((transaction, "Refs/PmtInfId"), (entry, "NtryRef"),
                           (entry, "AcctSvcrRef"), (notification, "Id")):
        text = _text(element, where)
        if _PAYROLL_ID.fullmatch(text):
            return text
    return ""
