"""Payroll lists: the CSV and the post office's .xlsx read back with the same
reader as the partners' files; the banks' pain.001 adds up and is stable."""
from __future__ import annotations

import os
import time
import unicodedata
import xml.etree.ElementTree as ET
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook

from adapters.formats import pain001
from adapters.formats.payroll_list import (
    COLUMNS, LIST_LAYOUT, POSTOFFICE_XLSX_HEADERS, ListTotals, PayrollFileLine, csv_cells, english_headers,
)
from adapters.payroll_files import write_payroll_files
from adapters.tabular import InputRejected, read_table

NS = {"p": "urn:iso:std:iso:20022:tech:xsd:pain.001.001.09"}
CREATED_AT = datetime(2024, 3, 1, 7, 30)
DEBTOR = dict(debtor_name="Phòng Lao động - Thương binh và Xã hội huyện Bình Sơn",
              debtor_account="3761201000123", created_at=CREATED_AT)


def line(line_id: str, amount_vnd: int, *, agent: str = "VNPOST-BS-01", month: str = "2024-03",
         carried: bool = False, **changes) -> PayrollFileLine:
    base = PayrollFileLine(
        payroll_id=f"{agent}/{month}", line_id=line_id, citizen_id="051044001234",
        full_name="Nguyễn Thị Ánh Tuyết", commune_code="51101", months=(month,),
        kind="allowance", amount=amount_vnd, receiver="Nguyễn Thị Ánh Tuyết",
        bank_account="", home_delivery=False, carried=carried,
    )
    return replace(base, **changes)


def cash_lines() -> list[PayrollFileLine]:
    return [
        line("L0001", 500_000),
        line("L0002", 1_500_000, citizen_id="001319001235", full_name="Đỗ Văn Đức",
             receiver="Đặng Thị Hường", months=("2024-01", "2024-02", "2024-03"),
             kind="arrears", home_delivery=True),
        line("L0003", 7_200_000, kind="funeral_support", full_name="Lê Văn Bảy",
             receiver="Lê Thị Mỹ Dung"),
        line("K0042", 750_000, month="2024-02", carried=True, full_name="Hoàng Quốc Việt",
             receiver="Hoàng Quốc Việt", home_delivery=True),
    ]


def bank_lines() -> list[PayrollFileLine]:
    agent = "BANK-VBSP-QNG"
    return [
        line("B0001", 500_000, agent=agent, bank_account="0123456789"),
        line("B0002", 2_250_000, agent=agent, bank_account="9876543210",
             months=("2023-11", "2023-12", "2024-01", "2024-03"), kind="arrears"),
        line("B0003", 360_000, agent=agent, month="2024-02", carried=True,
             bank_account="5555555555"),
    ]


def write_cash(folder: Path, lines=None) -> list[Path]:
    return write_payroll_files(folder, "VNPOST-BS-01", "2024-03", "cash",
                               cash_lines() if lines is None else lines, **DEBTOR)


def write_bank(folder: Path, lines=None) -> list[Path]:
    return write_payroll_files(folder, "BANK-VBSP-QNG", "2024-03", "bank",
                               bank_lines() if lines is None else lines, **DEBTOR)


# --- CSV --------------------------------------------------------------------

def test_cash_gets_csv_and_xlsx_bank_gets_csv_and_pain001(tmp_path):
    assert [p.name for p in write_cash(tmp_path)] == [
        "payroll-VNPOST-BS-01-2024-03.csv", "payroll-VNPOST-BS-01-2024-03.xlsx"]
    assert [p.name for p in write_bank(tmp_path)] == [
        "payroll-BANK-VBSP-QNG-2024-03.csv", "payroll-BANK-VBSP-QNG-2024-03.pain.001.xml"]
    # Nothing but the lists themselves: no temporary file is left behind.
    assert len(list(tmp_path.iterdir())) == 4


def test_csv_round_trips_with_the_formats_header(tmp_path):
    csv_path = write_cash(tmp_path)[0]
    table = read_table(csv_path, LIST_LAYOUT)
    assert table.header == list(COLUMNS)
    assert [row.cells for row in table.rows] == [csv_cells(x) for x in cash_lines()]
    assert [row.line for row in table.rows] == [2, 3, 4, 5]
    second = table.rows[1].cells
    assert second["months"] == "2024-01;2024-02;2024-03"
    assert second["citizen_id"] == "001319001235"  # leading zero kept
    assert (second["home_delivery"], table.rows[0].cells["home_delivery"]) == ("y", "n")
    # The carried line keeps the payroll that issued it.
    assert table.rows[3].cells["payroll_id"] == "VNPOST-BS-01/2024-02"


def test_csv_is_utf8_with_diacritics(tmp_path):
    text = write_cash(tmp_path)[0].read_bytes().decode("utf-8")
    assert text.splitlines()[0] == ",".join(COLUMNS)
    assert "Đặng Thị Hường" in text


# --- .xlsx for post offices -------------------------------------------------

def test_xlsx_reads_back_to_the_same_cells(tmp_path):
    xlsx_path = write_cash(tmp_path)[1]
    titles = [cell.value for cell in load_workbook(xlsx_path).worksheets[0][1]]
    assert titles[:-1] == [POSTOFFICE_XLSX_HEADERS[name] for name in COLUMNS]
    assert titles[-1] == "Ký nhận"
    assert english_headers(titles) == [*COLUMNS, "signature"]
    # Read by its titles, as the result importers read a returned list.
    table = read_table(xlsx_path, LIST_LAYOUT)
    assert table.header == [*COLUMNS, "signature"]
    assert [row.line for row in table.rows] == [2, 3, 4, 5]
    assert [row.cells.pop("signature") for row in table.rows] == ["", "", "", ""]
    assert [row.cells for row in table.rows] == [csv_cells(x) for x in cash_lines()]


def test_xlsx_keeps_a_name_that_looks_like_a_formula_as_text(tmp_path):
    lines = [replace(cash_lines()[0], receiver="=HYPERLINK(\"http://x\")")]
    xlsx_path = write_cash(tmp_path, lines)[1]
    # Read back, such a cell is refused: no name starts like that.
    with pytest.raises(InputRejected, match=r":2:9: receiver: begins with '='"):
        read_table(xlsx_path, LIST_LAYOUT).reject_if_problems()
    sheet = load_workbook(tmp_path / "payroll-VNPOST-BS-01-2024-03.xlsx").worksheets[0]
    assert sheet.cell(row=2, column=COLUMNS.index("receiver") + 1).data_type == "s"


def test_xlsx_layout_for_people(tmp_path):
    workbook = load_workbook(write_cash(tmp_path)[1])
    sheet = workbook.worksheets[0]
    assert sheet.freeze_panes == "A2"
    assert all(cell.font.bold for cell in sheet[1])
    amount = sheet.cell(row=2, column=COLUMNS.index("amount") + 1)
    assert amount.value == 500_000 and isinstance(amount.value, int)
    assert amount.number_format == "#,##0"
    citizen = sheet.cell(row=3, column=COLUMNS.index("citizen_id") + 1)
    assert citizen.value == "001319001235"  # text, so Excel keeps the leading zero
    assert sheet.column_dimensions["D"].width >= 25  # full names readable
    assert sheet.max_row == 5  # header and four lines: no title block, no total row
    signature_column = len(COLUMNS) + 1
    assert all(sheet.cell(row=r, column=signature_column).value is None for r in range(2, 6))


def test_xlsx_summary_sheet_has_the_totals(tmp_path):
    workbook = load_workbook(write_cash(tmp_path)[1])
    assert workbook.sheetnames[1] == "Tổng hợp"
    summary = dict(workbook["Tổng hợp"].iter_rows(values_only=True))
    assert summary == {
        "Đơn vị chi trả": "VNPOST-BS-01",
        "Tháng": "2024-03",
        "Số dòng": 4,
        "Số dòng chuyển từ kỳ trước": 1,
        "Tổng số tiền (đồng)": 500_000 + 1_500_000 + 7_200_000 + 750_000,
        "Số tiền kỳ này (đồng)": 500_000 + 1_500_000 + 7_200_000,
    }


def test_xlsx_is_byte_identical_when_written_again(tmp_path):
    # A re-run of a month's payroll must rewrite the very same files.
    first = write_cash(tmp_path / "a")[1].read_bytes()
    time.sleep(2.1)  # zip timestamps have a two-second resolution
    assert write_cash(tmp_path / "b")[1].read_bytes() == first
    properties = load_workbook(tmp_path / "b" / "payroll-VNPOST-BS-01-2024-03.xlsx").properties
    assert properties.created == properties.modified == CREATED_AT


def test_english_headers_tolerates_other_normal_forms_and_keeps_unknown_titles():
    decomposed = unicodedata.normalize("NFD", "  họ và TÊN ")
    assert english_headers([decomposed, "Số tiền (đồng)", "Ghi chú"]) == [
        "full_name", "amount", "Ghi chú"]


# --- pain.001 for banks -----------------------------------------------------

def parse_pain(path: Path) -> ET.Element:
    root = ET.parse(path).getroot()
    assert root.tag == "{%s}Document" % NS["p"]
    return root


def test_pain001_counts_and_sums_new_lines_only(tmp_path):
    root = parse_pain(write_bank(tmp_path)[1])
    new_vnd = 500_000 + 2_250_000
    for block in ("p:CstmrCdtTrfInitn/p:GrpHdr", "p:CstmrCdtTrfInitn/p:PmtInf"):
        assert root.findtext(f"{block}/p:NbOfTxs", namespaces=NS) == "2"
        assert root.findtext(f"{block}/p:CtrlSum", namespaces=NS) == str(new_vnd)
    transfers = root.findall(".//p:CdtTrfTxInf", NS)
    assert [t.findtext("p:PmtId/p:EndToEndId", namespaces=NS) for t in transfers] == ["B0001", "B0002"]
    amounts = [t.find("p:Amt/p:InstdAmt", NS) for t in transfers]
    assert [(a.get("Ccy"), a.text) for a in amounts] == [("VND", "500000"), ("VND", "2250000")]
    assert [t.findtext("p:CdtrAcct/p:Id/p:Othr/p:Id", namespaces=NS) for t in transfers] == [
        "0123456789", "9876543210"]


def test_pain001_header_and_debtor(tmp_path):
    root = parse_pain(write_bank(tmp_path)[1])
    header = root.find("p:CstmrCdtTrfInitn/p:GrpHdr", NS)
    assert header.findtext("p:MsgId", namespaces=NS) == "PAYROLL/BANK-VBSP-QNG/2024-03"
    assert header.findtext("p:CreDtTm", namespaces=NS) == "2024-03-01T07:30:00+07:00"
    payment = root.find("p:CstmrCdtTrfInitn/p:PmtInf", NS)
    assert payment.findtext("p:PmtInfId", namespaces=NS) == "BANK-VBSP-QNG/2024-03"
    assert payment.findtext("p:PmtMtd", namespaces=NS) == "TRF"
    # The payroll calendar's payment day: the 10th of the month paid.
    assert payment.findtext("p:ReqdExctnDt/p:Dt", namespaces=NS) == "2024-03-10"
    assert payment.findtext("p:Dbtr/p:Nm", namespaces=NS) == DEBTOR["debtor_name"]
    assert payment.findtext("p:DbtrAcct/p:Id/p:Othr/p:Id", namespaces=NS) == "3761201000123"
    assert payment.findtext("p:DbtrAgt/p:FinInstnId/p:Othr/p:Id", namespaces=NS) == "VBSP"


def test_pain001_remittance_text_is_ascii(tmp_path):
    root = parse_pain(write_bank(tmp_path)[1])
    texts = [e.text for e in root.iter("{%s}Ustrd" % NS["p"])]
    assert texts == ["Tro cap xa hoi 2024-03", "Tro cap xa hoi 2023-11 den 2024-01, 2024-03"]
    assert all(text.isascii() and len(text) <= 140 for text in texts)


def test_pain001_is_byte_identical_when_written_again(tmp_path):
    first = write_bank(tmp_path / "a")[1].read_bytes()
    second = write_bank(tmp_path / "b")[1].read_bytes()
    again = write_bank(tmp_path / "a")[1].read_bytes()
    assert first == second == again
    assert first.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n')


def test_a_long_agent_code_still_gives_35_character_ids(tmp_path):
    agent = "BANK-AGRIBANK-QUANG-NGAI-CHI-NHANH-BINH-SON"
    lines = [line("B1", 1_000, agent=agent, bank_account="0123456789")]
    path = write_payroll_files(tmp_path, agent, "2024-03", "bank", lines, **DEBTOR)[1]
    root = parse_pain(path)
    for tag in ("MsgId", "PmtInfId"):
        value = root.findtext(f".//p:{tag}", namespaces=NS)
        assert len(value) <= 35
    assert pain001.message_id(agent, "2024-03") != pain001.message_id(agent, "2024-04")


def test_a_bank_list_with_only_carried_lines_gets_no_pain001(tmp_path):
    written = write_bank(tmp_path, [x for x in bank_lines() if x.carried])
    assert [p.suffix for p in written] == [".csv"]


# --- checks and atomic writes -----------------------------------------------

@pytest.mark.parametrize("bad", [
    dict(payroll_id="VNPOST-BS-02/2024-03"),     # another agent's payroll
    dict(kind="bonus"),
    dict(amount=0),
    dict(amount=1.5),
    dict(months=()),
    dict(months=("2024-3",)),
    dict(line_id="X" * 36),                      # longer than an EndToEndId
])
def test_a_wrong_line_is_refused_before_anything_is_written(tmp_path, bad):
    with pytest.raises(ValueError):
        write_cash(tmp_path, [replace(cash_lines()[0], **bad)])
    assert list(tmp_path.iterdir()) == []


def test_other_refusals(tmp_path):
    with pytest.raises(ValueError, match="channel"):
        write_payroll_files(tmp_path, "VNPOST-BS-01", "2024-03", "cheque", [], **DEBTOR)
    with pytest.raises(ValueError, match="twice"):
        write_cash(tmp_path, [cash_lines()[0]] * 2)
    with pytest.raises(ValueError, match="carried"):
        write_cash(tmp_path, [line("K1", 1_000, carried=True)])  # carried from this very month
    with pytest.raises(ValueError, match="bank account"):
        write_bank(tmp_path, [replace(bank_lines()[0], bank_account="")])
    with pytest.raises(ValueError, match="debtor account"):
        write_payroll_files(tmp_path, "BANK-VBSP-QNG", "2024-03", "bank", bank_lines(),
                            **dict(DEBTOR, debtor_account=""))
    assert list(tmp_path.iterdir()) == []


def test_a_crash_while_writing_leaves_the_previous_list_whole(tmp_path, monkeypatch):
    csv_path = write_cash(tmp_path)[0]
    before = csv_path.read_bytes()

    def crash(source, target):
        raise OSError("disk unplugged")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="unplugged"):
        write_cash(tmp_path, cash_lines()[:1])
    assert csv_path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "payroll-VNPOST-BS-01-2024-03.csv", "payroll-VNPOST-BS-01-2024-03.xlsx"]


def test_streamed_lines_must_add_up_to_the_recorded_totals(tmp_path):
    lines = cash_lines()
    totals = ListTotals.of(lines)
    streamed = write_payroll_files(tmp_path / "a", "VNPOST-BS-01", "2024-03", "cash", iter(lines),
                                   totals=totals, **DEBTOR)
    listed = write_cash(tmp_path / "b")
    assert [p.read_bytes() for p in streamed] == [p.read_bytes() for p in listed]
    with pytest.raises(ValueError, match="add up"):
        write_payroll_files(tmp_path / "c", "VNPOST-BS-01", "2024-03", "cash", iter(lines[:-1]),
                            totals=totals, **DEBTOR)
    assert list((tmp_path / "c").iterdir()) == []


# --- bank profiles ----------------------------------------------------------

def test_a_bank_file_needs_a_real_debtor_account(tmp_path):
    with pytest.raises(pain001.NoDebtorAccount, match="treasury_account.*LEDGER_TREASURY_ACCOUNT"):
        write_payroll_files(tmp_path, "BANK-VBSP-QNG", "2024-03", "bank", bank_lines(),
                            **dict(DEBTOR, debtor_account=pain001.PLACEHOLDER_DEBTOR_ACCOUNT))
    assert list(tmp_path.iterdir()) == []


def test_a_profile_sets_bic_transliteration_day_and_time_zone(tmp_path):
    from datetime import timezone

    from adapters.formats.bank_profiles import load_profile

    profile = load_profile("agribank")
    assert profile.bic == "VBAAVNVX" and profile.transliterate
    lines = [replace(x, receiver="Đặng Thị Hường") for x in bank_lines()]
    path = write_payroll_files(tmp_path, "BANK-AGRI-BS", "2024-03", "bank",
                               [replace(x, payroll_id=x.payroll_id.replace("BANK-VBSP-QNG", "BANK-AGRI-BS"))
                                for x in lines], profile=profile,
                               **dict(DEBTOR, created_at=datetime(2024, 2, 24, 2, 0, tzinfo=timezone.utc)))[1]
    root = parse_pain(path)
    assert root.findtext(".//p:GrpHdr/p:CreDtTm", namespaces=NS) == "2024-02-24T09:00:00+07:00"
    assert root.findtext(".//p:ReqdExctnDt/p:Dt", namespaces=NS) == "2024-03-12"
    assert root.findtext(".//p:DbtrAgt/p:FinInstnId/p:BICFI", namespaces=NS) == "VBAAVNVX"
    transfers = root.findall(".//p:CdtTrfTxInf", NS)
    assert [t.findtext("p:CdtrAgt/p:FinInstnId/p:BICFI", namespaces=NS) for t in transfers] == ["VBAAVNVX"] * 2
    assert [t.findtext("p:Cdtr/p:Nm", namespaces=NS) for t in transfers] == ["Dang Thi Huong"] * 2
    assert root.findtext(".//p:Dbtr/p:Nm", namespaces=NS).isascii()


def test_the_default_profile_keeps_vietnamese_names(tmp_path):
    root = parse_pain(write_bank(tmp_path)[1])
    assert root.findtext(".//p:Dbtr/p:Nm", namespaces=NS) == DEBTOR["debtor_name"]
    assert root.find(".//p:CdtrAgt", NS) is None  # no BIC known for the bank: no creditor agent


def test_every_bank_profile_loads_and_contracts_name_one():
    from adapters.formats.bank_profiles import FOLDER, load_profile
    from adapters.rulefiles import default_contracts
    from ledger.months import Month

    names = [p.stem for p in FOLDER.glob("*.toml") if p.stem != "bic"]
    assert names and all(load_profile(n).pain_version == "pain.001.001.09" for n in names)
    assert default_contracts().bank_profile("BANK-VBSP-QNG", Month.parse("2024-03")) in names
    with pytest.raises(ValueError, match="no bank profile"):
        load_profile("../bic")
