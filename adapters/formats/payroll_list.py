"""The payroll list of formats.md ("Payroll lists"): one line per payment
an agent makes, the CSV every agent gets and reads back, and the checks a
line passes before any partner sees it. The post office's .xlsx
(postoffice_xlsx.py), the bank's pain.001 (pain001.py) and the printable
list (printable_list.py) carry the same lines."""
from __future__ import annotations

import csv
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from ledger.months import Month

from ..files import open_new
from ..tabular import FORMULA_STARTS, Layout
from .iso20022 import MAX_ID

# formats.md "Payroll lists", in this order.
COLUMNS = (
    "payroll_id", "line_id", "citizen_id", "full_name", "commune_code", "months", "kind",
    "amount", "receiver", "bank_account", "home_delivery",
)
KINDS = ("allowance", "arrears", "funeral_support")
CHANNELS = ("cash", "bank")

# Titles the post office's staff read on the printed list; english_headers()
# maps them back so a returned copy of the .xlsx can be read like the CSV.
POSTOFFICE_XLSX_HEADERS: dict[str, str] = {
    "payroll_id": "Mã bảng kê",
    "line_id": "Mã dòng",
    "citizen_id": "Số CCCD",
    "full_name": "Họ và tên",
    "commune_code": "Mã xã",
    "months": "Các tháng",
    "kind": "Loại",
    "amount": "Số tiền (đồng)",
    "receiver": "Người nhận",
    "bank_account": "Số tài khoản",
    "home_delivery": "Nhận tại nhà",
}
# The empty column the receiver signs in; it is not part of formats.md.
SIGNATURE_TITLE = "Ký nhận"
SIGNATURE_COLUMN = "signature"
SUMMARY_SHEET = "Tổng hợp"

@dataclass(frozen=True)
class PayrollFileLine:
    payroll_id: str        # "<agent_code>/<YYYY-MM>" of the payroll that issued the line (a carried-forward line keeps its original one)
    line_id: str           # unique key the agent reports back; also the ISO 20022 EndToEndId
    citizen_id: str
    full_name: str
    commune_code: str
    months: tuple[str, ...]  # "YYYY-MM" months the line pays
    kind: str              # allowance | arrears | funeral_support
    amount: int            # whole VND
    receiver: str          # beneficiary's or proxy's name
    bank_account: str      # "" for cash
    home_delivery: bool
    carried: bool = False  # issued in an earlier month, still held unpaid by the post office


def payroll_id_of(agent_code: str, month: str) -> str:
    return f"{agent_code}/{month}"


class TotalsDiffer(ValueError):
    """A list's lines do not add up to what the payroll recorded for it."""


@dataclass(frozen=True)
class ListTotals:
    """What a list adds up to, known before it is written (the pain.001
    header states them first): new lines, and lines carried forward."""

    new_count: int
    new_vnd: int
    carried_count: int
    carried_vnd: int

    @classmethod
    def of(cls, lines: Sequence[PayrollFileLine]) -> ListTotals:
        new = [line.amount for line in lines if not line.carried]
        carried = [line.amount for line in lines if line.carried]
        return cls(len(new), sum(new), len(carried), sum(carried))


# --- checks -----------------------------------------------------------------

def check_payroll(agent_code: str, month: str, channel: str) -> None:
    """The ledger builds the lines, so a bad one is a programming error: raise
    before anything is written rather than hand an agent a wrong list."""
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}; expected one of {', '.join(CHANNELS)}")
    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", agent_code):
        raise ValueError(f"agent code {agent_code!r} cannot be used in a file name")
    current = Month.parse(month)
    if str(current) != month:
        raise ValueError(f"month must be YYYY-MM, got {month!r}")


def check_line(line: PayrollFileLine, own_id: str, agent_code: str, current: Month,
                channel: str) -> None:
    where = f"line {line.line_id!r}"
    if not line.line_id or len(line.line_id) > MAX_ID:
        raise ValueError(f"{where}: a line id is 1 to {MAX_ID} characters (the end-to-end id)")
    if line.carried:
        issuer, _, issued = line.payroll_id.partition("/")
        if issuer != agent_code or not issued or Month.parse(issued) >= current:
            raise ValueError(f"{where}: a carried line keeps an earlier payroll id of "
                             f"{agent_code}, got {line.payroll_id!r}")
    elif line.payroll_id != own_id:
        raise ValueError(f"{where}: payroll id {line.payroll_id!r}, expected {own_id!r}")
    if line.kind not in KINDS:
        raise ValueError(f"{where}: unknown kind {line.kind!r}")
    if isinstance(line.amount, bool) or not isinstance(line.amount, int) or line.amount <= 0:
        raise ValueError(f"{where}: amount must be a positive whole number of VND, got {line.amount!r}")
    if not line.months:
        raise ValueError(f"{where}: pays no month")
    for text in line.months:
        if str(Month.parse(text)) != text:
            raise ValueError(f"{where}: month must be YYYY-MM, got {text!r}")
    if channel == "bank" and not line.carried and not line.bank_account:
        raise ValueError(f"{where}: a bank transfer needs a bank account")


# --- CSV --------------------------------------------------------------------

def csv_cells(line: PayrollFileLine) -> dict[str, str]:
    """The line as the text cells of formats.md."""
    return {
        "payroll_id": line.payroll_id,
        "line_id": line.line_id,
        "citizen_id": line.citizen_id,
        "full_name": line.full_name,
        "commune_code": line.commune_code,
        "months": ";".join(line.months),
        "kind": line.kind,
        "amount": str(line.amount),
        "receiver": line.receiver,
        "bank_account": line.bank_account,
        "home_delivery": "y" if line.home_delivery else "n",
    }


class TextList:
    """A list written as UTF-8 text, line by line."""

    def __init__(self, path: Path) -> None:
        self.handle = open_new(path, "w", encoding="utf-8", newline="")

    def close(self, totals: ListTotals) -> None:
        self.handle.close()

    def discard(self) -> None:
        self.handle.close()


class CsvList(TextList):
    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.writer = csv.writer(self.handle)
        self.writer.writerow(COLUMNS)

    def add(self, line: PayrollFileLine) -> None:
        cells = csv_cells(line)
        self.writer.writerow([neutralised(cells[name]) for name in COLUMNS])


def neutralised(text: str) -> str:
    """A CSV cell a spreadsheet would run as a formula (``=``, ``+``, ``-``,
    ``@``, tab, CR first) prefixed with ``'``, which makes it text; every
    other cell as it is."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _title_key(text: str) -> str:
    """Titles compared regardless of Unicode normal form (a spreadsheet saved
    on another machine may decompose the diacritics), case and spacing."""
    return " ".join(unicodedata.normalize("NFC", text).casefold().split())


_ENGLISH_BY_TITLE = {_title_key(title): name for name, title in POSTOFFICE_XLSX_HEADERS.items()}
_ENGLISH_BY_TITLE[_title_key(SIGNATURE_TITLE)] = SIGNATURE_COLUMN


def english_headers(vietnamese: list[str]) -> list[str]:
    """Map the Vietnamese titles of a post-office sheet back to formats.md
    names (the signature column becomes ``signature``). Anything else is
    kept as it is, so the column check still reports it at its position."""
    return [_ENGLISH_BY_TITLE.get(_title_key(title), title) for title in vietnamese]


# A payroll list read back (the CSV, or the post office's sheet by its titles).
LIST_LAYOUT = Layout(required=COLUMNS, optional=(SIGNATURE_COLUMN,), money=("amount",),
                     text=("full_name", "receiver"), zero_pad={"citizen_id": 12},
                     rename=english_headers)
