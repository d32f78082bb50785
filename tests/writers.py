"""Partner files as partners write them, for tests only: the ledger reads
these formats and never writes them."""
from __future__ import annotations

import hashlib
import xml.etree.ElementTree as ET
from datetime import datetime
from pathlib import Path
from typing import Iterable, Mapping

from adapters.files import write_atomically
from adapters.formats.camt import _AMOUNT, ACCEPTED_VERSIONS, COLUMNS, STATUSES, _is_date, _NS_PREFIX
from adapters.formats.iso20022 import xml_bytes, xml_path

# The version banks here send most.
WRITTEN_NS = _NS_PREFIX + "08"
assert WRITTEN_NS.rsplit(".", 1)[1] in ACCEPTED_VERSIONS


def write_camt054(path: str | Path, rows: Iterable[Mapping[str, object]], *, agent_code: str,
                  month: str, created_at: datetime, account: str | None = None) -> Path:
    """A camt.054.001.08 notification with one booked entry per row (a debit
    for a credited line, a credit with return information for a rejected
    one). Rows carry line_id, status, booked_on, amount and reason_code, and
    may carry payroll_id (default ``<agent_code>/<month>``). ``account`` is
    the notified account, which the rows do not name; it defaults to the agent
    code. Same input, byte-identical file; written atomically."""
    rows = [_checked(row) for row in rows]
    payroll_id = f"{agent_code}/{month}"
    message_id = _notification_id(agent_code, month, created_at, rows)
    document = ET.Element("Document", xmlns=WRITTEN_NS)
    notice = xml_path(document, "BkToCstmrDbtCdtNtfctn")
    header = xml_path(notice, "GrpHdr")
    xml_path(header, "MsgId", message_id)
    xml_path(header, "CreDtTm", created_at.isoformat(timespec="seconds"))
    notification = xml_path(notice, "Ntfctn")
    xml_path(notification, "Id", message_id)
    xml_path(notification, "CreDtTm", created_at.isoformat(timespec="seconds"))
    xml_path(notification, "Acct/Id/Othr/Id", account or agent_code)
    for row in rows:
        _entry(notification, row, row.get("payroll_id") or payroll_id)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_atomically(path, xml_bytes(document))


def _checked(row: Mapping[str, object]) -> dict[str, str]:
    cells = {name: "" if row.get(name) is None else str(row.get(name)).strip()
             for name in ("payroll_id", *COLUMNS[1:])}
    if not cells["line_id"]:
        raise ValueError(f"row without a line_id: {dict(row)!r}")
    if cells["status"] not in STATUSES:
        raise ValueError(f"line {cells['line_id']}: status must be credited or rejected")
    if (cells["status"] == "rejected") != bool(cells["reason_code"]):
        raise ValueError(f"line {cells['line_id']}: a reason code goes with, and only with, a rejection")
    if not _AMOUNT.fullmatch(cells["amount"]) or "." in cells["amount"] or int(cells["amount"]) <= 0:
        raise ValueError(f"line {cells['line_id']}: amount must be a positive whole number of VND")
    cells["amount"] = str(int(cells["amount"]))
    if cells["booked_on"] and not _is_date(cells["booked_on"]):
        raise ValueError(f"line {cells['line_id']}: booked_on must be YYYY-MM-DD")
    return cells


def _notification_id(agent_code: str, month: str, created_at: datetime,
                     rows: list[dict[str, str]]) -> str:
    """Derived from the content, so a second notification for the same month
    gets its own id while the same notification written twice is identical."""
    digest = hashlib.sha256(repr((agent_code, month, created_at.isoformat(), rows)).encode("utf-8"))
    return f"CAMT054-{digest.hexdigest()[:24]}"


def _entry(notification: ET.Element, row: dict[str, str], payroll_id: str) -> None:
    rejected = row["status"] == "rejected"
    entry = xml_path(notification, "Ntry")
    xml_path(entry, "NtryRef", payroll_id)
    xml_path(entry, "Amt", row["amount"], Ccy="VND")
    # Seen from the paying account: the transfer debits it, a return credits it back.
    xml_path(entry, "CdtDbtInd", "CRDT" if rejected else "DBIT")
    xml_path(entry, "Sts/Cd", "BOOK")
    if row["booked_on"]:
        xml_path(entry, "BookgDt/Dt", row["booked_on"])
    family = xml_path(entry, "BkTxCd/Domn")
    xml_path(family, "Cd", "PMNT")
    xml_path(family, "Fmly/Cd", "ICDT")
    xml_path(family.find("Fmly"), "SubFmlyCd", "RRTN" if rejected else "ESCT")
    transaction = xml_path(entry, "NtryDtls/TxDtls")
    references = xml_path(transaction, "Refs")
    xml_path(references, "PmtInfId", payroll_id)
    xml_path(references, "EndToEndId", row["line_id"])
    xml_path(transaction, "Amt", row["amount"], Ccy="VND")
    xml_path(transaction, "CdtDbtInd", "CRDT" if rejected else "DBIT")
    if rejected:
        xml_path(transaction, "RtrInf/Rsn/Cd", row["reason_code"])
