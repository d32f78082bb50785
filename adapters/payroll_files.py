"""Writing one month's payroll lists for a payment agent (formats.md,
"Payroll lists"): the CSV every agent gets, an .xlsx for post offices to print
and sign, and an ISO 20022 pain.001 credit-transfer initiation for banks.

Every file is written atomically, so an agent never picks up half a list."""
from __future__ import annotations

import csv
import hashlib
import os
import re
import secrets
import shutil
import unicodedata
import xml.etree.ElementTree as ET
import zipfile
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import BinaryIO, Iterable, Sequence

from ledger.months import Month

from .formats.bank_profiles import DEFAULT_PROFILE, BankProfile, load_profile
from .tabular import FORMULA_STARTS, Layout

# The debtor account of the settings' default: not an account a bank can debit.
PLACEHOLDER_DEBTOR_ACCOUNT = "KBNN-0000000000"
# Asia/Ho_Chi_Minh: no daylight saving, always seven hours ahead of UTC.
VIETNAM_TIME = timezone(timedelta(hours=7))

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

# Characters wide per column, so that full Vietnamese names fit on screen and paper.
_XLSX_WIDTHS = {
    "payroll_id": 22, "line_id": 14, "citizen_id": 15, "full_name": 28, "commune_code": 9,
    "months": 18, "kind": 15, "amount": 15, "receiver": 28, "bank_account": 18,
    "home_delivery": 12, SIGNATURE_COLUMN: 20,
}
_VND_FORMAT = "#,##0"

PAIN001_NS = "urn:iso:std:iso:20022:tech:xsd:pain.001.001.09"
# ISO 20022 Max35Text / Max140Text limits on identifiers and texts.
_MAX_ID = 35
_MAX_TEXT = 140


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


class NoDebtorAccount(ValueError):
    """A bank file would name no real account to debit."""


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


def write_payroll_files(out_dir: Path, agent_code: str, month: str, channel: str,
                        lines: Iterable[PayrollFileLine], *, debtor_name: str,
                        debtor_account: str, created_at: datetime,
                        profile: BankProfile | None = None,
                        execution_date: date | None = None,
                        totals: ListTotals | None = None) -> list[Path]:
    """Write ``payroll-<agent_code>-<month>.csv`` and, for a post office, the
    .xlsx, or for a bank, the ``.pain.001.xml``. Returns the paths written.

    The lines are read once, in file order, and streamed into every file,
    so a list of any length takes the same memory; ``totals`` must then say
    what they add up to (computed from ``lines`` when not given), and a list
    that does not add up to them is refused. Every file is written beside
    its target and renamed over it only when all of them are complete: a
    wrong line leaves the previous files as they were.

    A bank's file is written as its ``profile`` says (the one its contract
    names; the default profile otherwise): the bank's code and BIC, names
    with or without diacritics, the file name; ``execution_date`` (the
    requested execution date) defaults to the profile's payment day of the
    payroll month (the 10th). A bank file needs a real debtor account: the
    settings' placeholder is refused.
    A bank list without any new line gets no pain.001: ISO 20022 requires at
    least one transfer in a payment instruction."""
    if totals is None:
        lines = list(lines)
        totals = ListTotals.of(lines)
    _check_payroll(agent_code, month, channel)
    if channel == "bank" and not 0 < len(debtor_account) <= 34:
        raise ValueError(f"debtor account {debtor_account!r}: 1 to 34 characters (ISO 20022)")
    if channel == "bank" and totals.new_count and debtor_account == PLACEHOLDER_DEBTOR_ACCOUNT:
        raise NoDebtorAccount(missing_treasury_account())
    if channel == "bank":
        profile = profile or load_profile(DEFAULT_PROFILE)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = out_dir / f"payroll-{agent_code}-{month}"
    with _Staging() as staging:
        writers: list = [_CsvList(staging.add(stem.with_name(stem.name + ".csv")))]
        if channel == "cash":
            writers.append(_XlsxList(staging, stem.with_name(stem.name + ".xlsx"), agent_code, month,
                                     created_at))
        elif totals.new_count:
            writers.append(_Pain001List(
                staging.add(out_dir / profile.pain_file_name(agent_code, month)), agent_code, month, totals,
                debtor_name=debtor_name, debtor_account=debtor_account, created_at=created_at,
                profile=profile, execution_date=execution_date or profile.execution_date(month)))
        try:
            _write_lines(lines, writers, agent_code, month, channel, totals)
        except BaseException:
            for writer in writers:
                writer.discard()
            raise
        for writer in writers:
            writer.close(totals)
        return staging.commit()


def _write_lines(lines: Iterable[PayrollFileLine], writers: list, agent_code: str, month: str,
                 channel: str, totals: ListTotals) -> None:
    own_id, current = payroll_id_of(agent_code, month), Month.parse(month)
    seen: set[tuple[str, str]] = set()
    counted = [0, 0, 0, 0]
    for line in lines:
        _check_line(line, own_id, agent_code, current, channel)
        key = (line.payroll_id, line.line_id)
        if key in seen:
            raise ValueError(f"line {line.line_id!r} of {line.payroll_id} appears twice")
        seen.add(key)
        at = 2 if line.carried else 0
        counted[at] += 1
        counted[at + 1] += line.amount
        for writer in writers:
            writer.add(line)
    if ListTotals(*counted) != totals:
        raise TotalsDiffer(f"the lines add up to {ListTotals(*counted)}, not to {totals}")


class _Staging:
    """Files written beside their targets, renamed over them together at the
    end, or removed if anything failed before."""

    def __init__(self) -> None:
        self.pending: list[tuple[Path, Path]] = []  # (temporary, target)
        self.scratch: list[Path] = []  # drafts, never renamed

    def __enter__(self) -> _Staging:
        return self

    def add(self, target: Path) -> Path:
        temporary = self.draft(target)
        self.scratch.remove(temporary)
        self.pending.append((temporary, target))
        return temporary

    def draft(self, target: Path) -> Path:
        temporary = target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        self.scratch.append(temporary)
        return temporary

    def commit(self) -> list[Path]:
        for temporary, _ in self.pending:
            _fsync(temporary)
        done = []
        while self.pending:
            temporary, target = self.pending[0]
            os.replace(temporary, target)
            self.pending.pop(0)
            done.append(target)
        return done

    def __exit__(self, *exc) -> None:
        for temporary in [t for t, _ in self.pending] + self.scratch:
            temporary.unlink(missing_ok=True)


def _fsync(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _open_new(path: Path, mode: str = "wb", **kwargs):
    # os.open with 0o666 keeps the usual umask-based permissions, which a
    # NamedTemporaryFile (always 0o600) would not: agents' sync jobs read these.
    return os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), mode, **kwargs)


# --- checks -----------------------------------------------------------------

def _check_payroll(agent_code: str, month: str, channel: str) -> None:
    """The ledger builds the lines, so a bad one is a programming error: raise
    before anything is written rather than hand an agent a wrong list."""
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}; expected one of {', '.join(CHANNELS)}")
    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", agent_code):
        raise ValueError(f"agent code {agent_code!r} cannot be used in a file name")
    current = Month.parse(month)
    if str(current) != month:
        raise ValueError(f"month must be YYYY-MM, got {month!r}")


def _check_line(line: PayrollFileLine, own_id: str, agent_code: str, current: Month,
                channel: str) -> None:
    where = f"line {line.line_id!r}"
    if not line.line_id or len(line.line_id) > _MAX_ID:
        raise ValueError(f"{where}: a line id is 1 to {_MAX_ID} characters (the end-to-end id)")
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


def missing_treasury_account() -> str:
    return ("no debtor account for the bank files: set the office's treasury account "
            "(`treasury_account` in ledger.toml, or LEDGER_TREASURY_ACCOUNT)")


def vietnam_time(moment: datetime) -> str:
    """An ISO 20022 date-time at +07:00; a naive time is taken as Vietnam's."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=VIETNAM_TIME)
    return moment.astimezone(VIETNAM_TIME).isoformat(timespec="seconds")


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


class _TextList:
    """A list written as UTF-8 text, line by line."""

    def __init__(self, path: Path) -> None:
        self.handle = _open_new(path, "w", encoding="utf-8", newline="")

    def close(self, totals: ListTotals) -> None:
        self.handle.close()

    def discard(self) -> None:
        self.handle.close()


class _CsvList(_TextList):
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


# --- .xlsx for post offices -------------------------------------------------

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


class _XlsxList:
    """The post office's printable list. XlsxWriter in constant-memory mode
    streams each row to disk: a list of any length in flat memory."""

    def __init__(self, staging: _Staging, target: Path, agent_code: str, month: str,
                 created_at: datetime) -> None:
        import xlsxwriter

        self.draft, self.path = staging.draft(target), staging.add(target)
        self.agent_code, self.month, self.created_at = agent_code, month, created_at
        self.workbook = xlsxwriter.Workbook(str(self.draft), {
            "constant_memory": True, "strings_to_formulas": False, "strings_to_numbers": False,
            "strings_to_urls": False})
        self.workbook.set_properties({"created": created_at.replace(tzinfo=None)})
        self.bold = self.workbook.add_format({"bold": True})
        self.vnd = self.workbook.add_format({"num_format": _VND_FORMAT})
        self.sheet = self.workbook.add_worksheet(f"Bảng kê {month}")
        self.row = 0
        self._header()

    def _header(self) -> None:
        """A plain table (header in row 1, no title block, no total row) so
        the same reader that reads the CSV reads this sheet."""
        names = [*COLUMNS, SIGNATURE_COLUMN]
        for index, name in enumerate(names):
            self.sheet.set_column(index, index, _XLSX_WIDTHS[name])
        self.sheet.freeze_panes(1, 0)
        self.sheet.write_row(0, 0, [POSTOFFICE_XLSX_HEADERS[n] for n in COLUMNS] + [SIGNATURE_TITLE],
                             self.bold)

    def add(self, line: PayrollFileLine) -> None:
        self.row += 1
        cells = csv_cells(line)
        for column, name in enumerate(COLUMNS):
            if name == "amount":
                self.sheet.write_number(self.row, column, line.amount, self.vnd)
            else:
                # Text cells, always: ids keep their leading zero, and a name
                # typed as "=..." prints as text instead of running as a formula.
                self.sheet.write_string(self.row, column, cells[name])

    def close(self, totals: ListTotals) -> None:
        _fill_summary_sheet(self.workbook.add_worksheet(SUMMARY_SHEET), self.agent_code, self.month,
                            totals, self.bold, self.vnd)
        self.workbook.close()
        with _open_new(self.path) as handle:
            stable_xlsx(self.draft, handle, self.created_at)
        self.draft.unlink()

    def discard(self) -> None:
        pass  # nothing is on disk before close(); the rows' scratch files go with the workbook


def stable_xlsx(source: Path | BinaryIO, target: BinaryIO, created_at: datetime) -> None:
    """The workbook library stamps the save time into docProps/core.xml and
    into every zip entry; both are set to ``created_at`` instead, so
    re-running a month's payroll rewrites the very same file."""
    stamp = created_at
    if stamp.tzinfo is not None:
        stamp = stamp.astimezone(timezone.utc).replace(tzinfo=None)
    w3cdtf = stamp.strftime("%Y-%m-%dT%H:%M:%SZ")
    zip_time = max(stamp, datetime(1980, 1, 1)).timetuple()[:6]  # zip dates start in 1980
    with zipfile.ZipFile(source) as reading, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as writing:
        for info in reading.infolist():
            entry = zipfile.ZipInfo(info.filename, date_time=zip_time)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = info.external_attr
            if info.filename == "docProps/core.xml":
                content = re.sub(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*(</dcterms:)",
                                 rb"\g<1>" + w3cdtf.encode() + rb"\g<2>", reading.read(info.filename))
                writing.writestr(entry, content)
                continue
            with reading.open(info) as reader, \
                    writing.open(entry, "w", force_zip64=info.file_size > zipfile.ZIP64_LIMIT) as writer:
                shutil.copyfileobj(reader, writer, 1 << 20)


def _fill_summary_sheet(sheet, agent_code: str, month: str, totals: ListTotals, bold, vnd) -> None:
    rows = [
        ("Đơn vị chi trả", agent_code),
        ("Tháng", month),
        ("Số dòng", totals.new_count + totals.carried_count),
        ("Số dòng chuyển từ kỳ trước", totals.carried_count),
        ("Tổng số tiền (đồng)", totals.new_vnd + totals.carried_vnd),
        ("Số tiền kỳ này (đồng)", totals.new_vnd),
    ]
    sheet.set_column(0, 0, 30)
    sheet.set_column(1, 1, 22)
    for row, (label, value) in enumerate(rows):
        sheet.write_string(row, 0, label, bold)
        if isinstance(value, int):
            sheet.write_number(row, 1, value, vnd)
        else:
            sheet.write_string(row, 1, value)


# --- pain.001 for banks -----------------------------------------------------

def _max35(text: str) -> str:
    """An ISO 20022 Max35Text id: the readable text when it fits, otherwise
    a shortened prefix and a digest of the whole, still deterministic."""
    if len(text) <= _MAX_ID:
        return text
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]
    return f"{text[:_MAX_ID - 13]}-{digest}"


def message_id(agent_code: str, month: str) -> str:
    """Same agent and month, same id: a bank discards a re-sent duplicate
    instead of paying the month twice."""
    return _max35(f"PAYROLL/{agent_code}/{month}")


def payment_information_id(agent_code: str, month: str) -> str:
    """The payroll id itself, which banks echo back in camt.054 (Refs/PmtInfId)."""
    return _max35(payroll_id_of(agent_code, month))


def _ascii(text: str) -> str:
    """Vietnamese without diacritics (đ -> d): remittance text passes through
    bank systems that only take the SWIFT character set."""
    text = text.replace("đ", "d").replace("Đ", "D")
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return re.sub(r"[^A-Za-z0-9/\-?:().,'+ ]", " ", plain.encode("ascii", "ignore").decode())


def _month_runs(months: Sequence[str]) -> list[str]:
    """``2024-01;2024-02;2024-03;2024-05`` -> ``2024-01 den 2024-03``, ``2024-05``."""
    ordered = sorted({Month.parse(m) for m in months})
    runs: list[list[Month]] = []
    for month in ordered:
        if runs and runs[-1][-1] + 1 == month:
            runs[-1].append(month)
        else:
            runs.append([month])
    return [str(r[0]) if len(r) == 1 else f"{r[0]} den {r[-1]}" for r in runs]


def remittance_text(months: Sequence[str]) -> str:
    text = "Tro cap xa hoi " + ", ".join(_month_runs(months))
    if len(text) > _MAX_TEXT:
        ordered = sorted(months)
        text = f"Tro cap xa hoi {ordered[0]} den {ordered[-1]} ({len(ordered)} thang)"
    return _ascii(text)


def xml_path(parent: ET.Element, path: str, text: str | None = None, **attrs: str) -> ET.Element:
    """Append the ``A/B/C`` chain under parent; text goes on the last one."""
    element = parent
    for tag in path.split("/"):
        element = ET.SubElement(element, tag)
    for name, value in attrs.items():
        element.set(name, value)
    if text is not None:
        element.text = text
    return element


class _Pain001List(_TextList):
    """CustomerCreditTransferInitiation (pain.001.001.09) for the new lines;
    carried lines are left out because a bank carries nothing forward. The
    document around the transfers is laid out once with a placeholder;
    each transfer is then written in its place as it comes, indented as
    ``xml_bytes`` would indent the whole tree."""

    PLACEHOLDER = "CdtTrfTxInf"

    def __init__(self, path: Path, agent_code: str, month: str, totals: ListTotals, *,
                 debtor_name: str, debtor_account: str, created_at: datetime, profile: BankProfile,
                 execution_date: date) -> None:
        count, control_sum_vnd = str(totals.new_count), str(totals.new_vnd)
        self.profile = profile
        debtor_name = self.name(debtor_name)
        # The namespace is set as a plain attribute on unqualified tags: it
        # gives a default namespace without ElementTree's global prefix registry.
        document = ET.Element("Document", xmlns=PAIN001_NS)
        initiation = xml_path(document, "CstmrCdtTrfInitn")
        header = xml_path(initiation, "GrpHdr")
        xml_path(header, "MsgId", message_id(agent_code, month))
        xml_path(header, "CreDtTm", vietnam_time(created_at))
        xml_path(header, "NbOfTxs", count)
        xml_path(header, "CtrlSum", control_sum_vnd)
        xml_path(header, "InitgPty/Nm", debtor_name[:_MAX_TEXT])
        payment = xml_path(initiation, "PmtInf")
        xml_path(payment, "PmtInfId", payment_information_id(agent_code, month))
        xml_path(payment, "PmtMtd", "TRF")
        xml_path(payment, "NbOfTxs", count)
        xml_path(payment, "CtrlSum", control_sum_vnd)
        xml_path(payment, "ReqdExctnDt/Dt", execution_date.isoformat())
        xml_path(payment, "Dbtr/Nm", debtor_name[:_MAX_TEXT])
        xml_path(payment, "DbtrAcct/Id/Othr/Id", debtor_account)
        self.agent(payment, "DbtrAgt")
        xml_path(payment, self.PLACEHOLDER)
        text = xml_bytes(document).decode("utf-8")
        marker = f"<{self.PLACEHOLDER} />"
        at = text.index(marker)
        self.indent = text[text.rindex("\n", 0, at) + 1:at]
        self.head, self.tail = text[:at - len(self.indent)], text[at + len(marker) + 1:]
        super().__init__(path)
        self.handle.write(self.head)

    def add(self, line: PayrollFileLine) -> None:
        if line.carried:
            return
        transfer = ET.Element(self.PLACEHOLDER)
        xml_path(transfer, "PmtId/EndToEndId", line.line_id)
        # VND has no minor unit: the amount is written as a whole number.
        xml_path(transfer, "Amt/InstdAmt", str(line.amount), Ccy="VND")
        if self.profile.bic:
            # The beneficiaries' accounts are held at the paying bank.
            self.agent(transfer, "CdtrAgt")
        xml_path(transfer, "Cdtr/Nm", self.name(line.receiver))
        xml_path(transfer, "CdtrAcct/Id/Othr/Id", line.bank_account)
        xml_path(transfer, "RmtInf/Ustrd", remittance_text(line.months))
        ET.indent(transfer, level=self.indent.count("  "))
        self.handle.write(f"{self.indent}{ET.tostring(transfer, encoding='unicode')}\n")

    def name(self, text: str) -> str:
        text = unicodedata.normalize("NFC", text)
        if self.profile.transliterate:
            text = " ".join(_ascii(text).split())
        return text[:_MAX_TEXT]

    def agent(self, parent: ET.Element, tag: str) -> None:
        if self.profile.bic:
            xml_path(parent, f"{tag}/FinInstnId/BICFI", self.profile.bic)
        else:
            xml_path(parent, f"{tag}/FinInstnId/Othr/Id", self.profile.bank_code)

    def close(self, totals: ListTotals) -> None:
        self.handle.write(self.tail)
        super().close(totals)


def xml_bytes(document: ET.Element) -> bytes:
    """Indented UTF-8 with a declaration; attributes keep their insertion
    order, so the same tree always gives the same bytes."""
    ET.indent(document)
    body = ET.tostring(document, encoding="unicode")
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n").encode("utf-8")


# --- atomic writes ----------------------------------------------------------

def write_atomically(path: Path, data: bytes) -> Path:
    """Write next to the target, flush to disk, then rename over it: readers
    see the old file or the whole new one, never a half-written list."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        with _open_new(temporary) as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return path
