"""Input files as offices really make them, read by the one row reader
(adapters/tabular.py) every tabular import uses: separators, title rows,
Vietnamese dates and amounts, encodings, damaged rows, untrusted .xlsx and
cells that would run as spreadsheet formulas. Every refusal names file,
line and column, and nothing is recorded."""
from __future__ import annotations

import csv
import io
import re
import time
import tracemalloc
import unicodedata
import zipfile
from datetime import date, datetime
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook

from adapters.formats import agent_report, postoffice_results, recoveries
from adapters.cli import main
from adapters.formats.decisions import parse_decisions
from adapters.formats.payroll_list import PayrollFileLine
from adapters.payroll_files import write_payroll_files
from adapters.formats.settlement_report import write_settlement_reports
from adapters.rulefiles import default_ruleset
from adapters.synthetic import DECISION_COLUMNS
from adapters.tabular import InputRejected, reading_options
from ledger import citizen_id as cid

from .helpers import REGISTER, REGISTER_2, decisions_file

CATEGORIES = default_ruleset().category_codes()
COLUMN = {name: index for index, name in enumerate(DECISION_COLUMNS, start=1)}
TITLES = [
    ["CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"],
    ["Độc lập - Tự do - Hạnh phúc"],
    ["UBND HUYỆN BÌNH SƠN - PHÒNG LAO ĐỘNG - THƯƠNG BINH VÀ XÃ HỘI"],
    [],
    ["DANH SÁCH ĐỐI TƯỢNG HƯỞNG TRỢ CẤP XÃ HỘI HẰNG THÁNG"],
]
RECOVERY_COLUMNS = ("receipt_no", "citizen_id", "amount", "paid_on", "paid_by", "method",
                    "decision_no", "reason")
RECOVERY = dict(receipt_no="PT-001", citizen_id="051044001234", amount="500000",
                paid_on="2024-10-01", paid_by="Nguyễn Văn B", method="cash")


def csv_text(rows, columns=DECISION_COLUMNS, *, delimiter=",", titles=(), pad_titles=False) -> str:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    for title in titles:
        writer.writerow(list(title) + [""] * (len(columns) - len(title)) if pad_titles else title)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([row.get(c, "") for c in columns])
    return out.getvalue()


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def decisions(path, **options):
    with reading_options(**options):
        return parse_decisions(path, CATEGORIES).decisions


def refusals(parse, path, **options) -> list[str]:
    with pytest.raises(InputRejected) as caught:
        with reading_options(**options):
            parse(path)
    return [str(p) for p in caught.value.problems]


def decision_refusals(path, **options) -> list[str]:
    return refusals(lambda p: parse_decisions(p, CATEGORIES), path, **options)


def assert_refused(messages: list[str], path, line: int, column: int, pattern: str) -> None:
    assert any(m.startswith(f"{path}:{line}:{column}: ") and re.search(pattern, m)
               for m in messages), messages


@pytest.fixture
def reference(tmp_path):
    """The decisions of REGISTER and REGISTER_2 from a plain comma CSV."""
    return decisions(decisions_file(tmp_path / "plain.csv", [REGISTER, REGISTER_2]))


# --- separators and title rows ------------------------------------------------

def test_semicolon_csv_is_sniffed_from_the_header(tmp_path, reference):
    rows = [REGISTER, dict(REGISTER_2, category="ORPHAN;DISABLED_SEVERE")]
    path = write(tmp_path / "d.csv", csv_text(rows, delimiter=";"))
    read = decisions(path)
    assert read[0] == reference[0]
    assert read[1].categories == ("ORPHAN", "DISABLED_SEVERE")


def test_delimiter_option_is_the_separator_used(tmp_path):
    path = write(tmp_path / "d.csv", csv_text([REGISTER], delimiter=";"))
    assert any("missing required column" in m for m in decision_refusals(path, delimiter=","))
    assert len(decisions(path, delimiter=";")) == 1


@pytest.mark.parametrize("pad", [False, True], ids=["title cells alone", "titles padded as Excel saves"])
def test_title_rows_above_the_header_csv(tmp_path, reference, pad):
    bad = dict(REGISTER_2, decision_no="9/QĐ-UBND", citizen_id="051319001299", category="NOPE")
    path = write(tmp_path / "d.csv", csv_text([REGISTER, REGISTER_2, bad], titles=TITLES, pad_titles=pad))
    # The header is on line 6; the bad row is the file's line 9.
    assert_refused(decision_refusals(path), path, 9, COLUMN["category"], "unknown category 'NOPE'")
    path = write(tmp_path / "ok.csv", csv_text([REGISTER, REGISTER_2], titles=TITLES, pad_titles=pad))
    assert decisions(path) == reference


def xlsx_with_titles(path: Path, rows, *, first_row: int = 6) -> Path:
    workbook = Workbook()
    sheet = workbook.active
    for number, title in enumerate(TITLES, start=1):
        if title:
            sheet.cell(row=number, column=1, value=title[0])
            sheet.merge_cells(start_row=number, start_column=1, end_row=number, end_column=8)
    for column, name in enumerate(DECISION_COLUMNS, start=1):
        sheet.cell(row=first_row, column=column, value=name)
    for number, row in enumerate(rows, start=first_row + 1):
        for column, name in enumerate(DECISION_COLUMNS, start=1):
            value = row.get(name) or None
            sheet.cell(row=number, column=column, value=value)
    workbook.save(path)
    return path


def test_title_rows_and_merged_cells_in_xlsx(tmp_path, reference):
    assert decisions(xlsx_with_titles(tmp_path / "ok.xlsx", [REGISTER, REGISTER_2])) == reference
    path = xlsx_with_titles(tmp_path / "bad.xlsx", [REGISTER, dict(REGISTER_2, sex="X")])
    assert_refused(decision_refusals(path), path, 8, COLUMN["sex"], "sex must be M or F")


def test_without_a_header_the_missing_column_is_named_on_the_likeliest_row(tmp_path):
    columns = [c for c in DECISION_COLUMNS if c != "kind"]
    path = write(tmp_path / "d.csv", csv_text([REGISTER], columns, titles=TITLES))
    assert_refused(decision_refusals(path), path, 6, len(columns) + 1, "missing required column 'kind'")


# --- dates and months ---------------------------------------------------------

@pytest.mark.parametrize("written, read", [
    ("05/07/2024", date(2024, 7, 5)), ("5/7/2024", date(2024, 7, 5)), ("2024-07-05", date(2024, 7, 5)),
])
def test_vietnamese_and_iso_dates(tmp_path, written, read):
    path = write(tmp_path / "d.csv", csv_text([dict(REGISTER, signed_on=written, birth_date="02/03/1944")]))
    (decision,) = decisions(path)
    assert decision.signed_on == read and decision.birth_date == date(1944, 3, 2)


@pytest.mark.parametrize("written", ["07/2024", "7/2024", "2024-07"])
def test_months_as_mm_yyyy_or_yyyy_mm(tmp_path, written):
    (decision,) = decisions(write(tmp_path / "d.csv", csv_text([dict(REGISTER, effective_month=written)])))
    assert str(decision.effective) == "2024-07"


@pytest.mark.parametrize("column, written, pattern", [
    ("signed_on", "45478", "bare number, not a date"),                   # Excel serial
    ("signed_on", "1720137600", "bare number, not a date"),              # Unix time
    ("signed_on", "2024-07-05 10:30", "date and time"),
    ("signed_on", "2024-07-05T00:00:00", "date and time"),
    ("birth_date", "02/03/1944 08:00", "date and time"),
    ("signed_on", "2024/07/05", "not a date"),
    ("signed_on", "31/02/2024", "no such day"),
    ("signed_on", "05/07/0024", "year is not between"),
    ("effective_month", "2025-08", "13 months after signed_on"),
    ("effective_month", "12/1999", "before 01/2000"),
    ("effective_month", "202407", "bare number, not a month"),
    ("effective_month", "2024-13", "no month 13"),
    ("effective_month", "2024-07-01", "a date; a month is expected"),
])
def test_ambiguous_or_impossible_dates_are_refused(tmp_path, column, written, pattern):
    path = write(tmp_path / "d.csv", csv_text([REGISTER_2, dict(REGISTER, **{column: written})]))
    assert_refused(decision_refusals(path), path, 3, COLUMN[column], f"^.*: {column}: .*{pattern}")


def test_xlsx_dates_typed_by_excel(tmp_path, reference):
    def sheet_with(**cells) -> Path:
        workbook = Workbook()
        sheet = workbook.active
        sheet.append(list(DECISION_COLUMNS))
        for row in (REGISTER, REGISTER_2):
            values = dict(row, signed_on=datetime(2024, 7, 5), effective_month=datetime(2024, 7, 1))
            values.update(cells if row is REGISTER else {})
            sheet.append([values.get(c) or None for c in DECISION_COLUMNS])
        path = tmp_path / f"d{len(list(tmp_path.iterdir()))}.xlsx"
        workbook.save(path)
        return path

    # A real date cell, and "07/2024" turned into a date by Excel: as typed.
    assert decisions(sheet_with()) == reference
    path = sheet_with(signed_on=datetime(2024, 7, 5, 9, 30))
    assert_refused(decision_refusals(path), path, 2, COLUMN["signed_on"], "date and time")
    path = sheet_with(signed_on=45478)
    assert_refused(decision_refusals(path), path, 2, COLUMN["signed_on"], "bare number")


# --- money ----------------------------------------------------------------------

def recoveries_file(path: Path, **changes) -> Path:
    return write(path, csv_text([dict(RECOVERY, **changes)], RECOVERY_COLUMNS))


@pytest.mark.parametrize("written, vnd", [("500000", 500_000), ("500.000", 500_000),
                                          ("1.080.000", 1_080_000), ("12.500.000", 12_500_000)])
def test_amounts_plain_or_with_vietnamese_grouping(tmp_path, written, vnd):
    parsed = recoveries.parse(recoveries_file(tmp_path / "r.csv", amount=written))
    assert parsed.items[0][1].amount_vnd == vnd


@pytest.mark.parametrize("written, pattern", [
    ("500,5", "not a whole amount"), ("5e5", "not a whole amount"), ("500,000", "not a whole amount"),
    ("500.00", "not a whole amount"), ("1.0800.000", "not a whole amount"), ("500 000", "not a whole amount"),
    ("-500000", "negative amount is not accepted"), ("-500.000", "negative amount is not accepted"),
    ("５００000", "not one of the digits 0-9"), ("1" + "0" * 15, "more than any amount"),
])
def test_other_amounts_are_refused_at_their_cell(tmp_path, written, pattern):
    path = recoveries_file(tmp_path / "r.csv", amount=written)
    assert_refused(refusals(recoveries.parse, path), path, 2, 3, f"amount: .*{pattern}")


def test_agent_report_balance_may_be_negative_and_grouped(tmp_path):
    columns = ("agent_code", "month", "advance_received", "paid_total", "unpaid_total", "fee_claimed",
               "balance_remaining")
    row = dict(agent_code="VNPOST-BS-01", month="09/2024", advance_received="1.003.440.000",
               paid_total="992.500.000", unpaid_total="0", fee_claimed="7.940.000",
               balance_remaining="-1.000")
    (report,) = agent_report.parse_agent_report(write(tmp_path / "a.csv", csv_text([row], columns, delimiter=";")))
    assert (str(report.month), report.advance_received, report.balance_remaining) == \
        ("2024-09", 1_003_440_000, -1_000)
    path = write(tmp_path / "b.csv", csv_text([dict(row, fee_claimed="-7.940.000")], columns))
    assert_refused(refusals(agent_report.parse_agent_report, path), path, 2, 6, "negative")


def test_a_returned_post_office_list_names_its_own_columns(tmp_path):
    line = PayrollFileLine("VNPOST-BS-01/2024-03", "2024-03-051044001234", "051044001234", "Nguyễn Văn A",
                           "20101", ("2024-03",), "allowance", 500_000, "Nguyễn Văn A", "", False)
    paths = write_payroll_files(tmp_path, "VNPOST-BS-01", "2024-03", "cash", [line],
                                debtor_name="x", debtor_account="1", created_at=datetime(2024, 3, 1))
    workbook = load_workbook(paths[1])
    sheet = workbook.worksheets[0]
    width = sheet.max_column
    for offset, (title, value) in enumerate([("status", "paid"), ("paid_on", "14/03/2024 09:15"),
                                             ("amount_paid", "500.000"), ("received_by", "beneficiary")]):
        sheet.cell(row=1, column=width + 1 + offset, value=title)
        sheet.cell(row=2, column=width + 1 + offset, value=value)
    returned = tmp_path / "returned.xlsx"
    workbook.save(returned)
    messages = refusals(postoffice_results.parse_returned_list, returned)
    assert_refused(messages, returned, 2, width + 2, "paid_on: .*date and time")
    sheet.cell(row=2, column=width + 2, value="14/03/2024")
    sheet.cell(row=2, column=width + 4, value="neighbour")
    workbook.save(returned)
    messages = refusals(postoffice_results.parse_returned_list, returned)
    assert_refused(messages, returned, 2, width + 4, "received_by: ")
    sheet.cell(row=2, column=width + 4, value="beneficiary")
    workbook.save(returned)
    (result,) = postoffice_results.parse_returned_list(returned).results
    assert (result.on, result.amount_vnd) == (date(2024, 3, 14), 500_000)


# --- encodings ----------------------------------------------------------------

def cp1258(text: str) -> bytes:
    """Vietnamese as Windows-1258 writes it: a precomposed base letter where
    the code page has one (â, ê, ô, ơ, ư, ă, đ), then the tone mark."""
    out = bytearray()
    for ch in unicodedata.normalize("NFC", text):
        try:
            out += ch.encode("cp1258")
            continue
        except UnicodeEncodeError:
            pass
        base, *marks = unicodedata.normalize("NFD", ch)
        for mark in list(marks):
            try:
                composed = unicodedata.normalize("NFC", base + mark)
                composed.encode("cp1258")
                base = composed
                marks.remove(mark)
                break
            except UnicodeEncodeError:
                continue
        out += (base + "".join(marks)).encode("cp1258")
    return bytes(out)


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16"])
def test_utf8_with_bom_and_utf16_as_excel_saves_them(tmp_path, reference, encoding):
    delimiter = "\t" if encoding == "utf-16" else ","  # Excel's "Unicode text" is tab-separated
    path = write(tmp_path / "d.csv", csv_text([REGISTER, REGISTER_2], delimiter=delimiter, titles=TITLES),
                 encoding)
    assert decisions(path) == reference


def test_windows_1258_is_named_and_read_when_asked(tmp_path, reference):
    path = tmp_path / "d.csv"
    path.write_bytes(cp1258(csv_text([REGISTER, REGISTER_2], titles=TITLES)))
    assert_refused(decision_refusals(path), path, 1, 1, "Windows-1258.*CSV UTF-8.*--encoding cp1258")
    assert decisions(path, encoding="cp1258") == reference


def test_tcvn3_is_named(tmp_path):
    text = csv_text([dict(REGISTER, decision_no="1/QD-UBND", full_name="NAME")],
                    titles=[["TITLE"]]).encode("ascii")
    # TCVN3 (ABC, the .Vn fonts): "DANH SÁCH ĐỐI TƯỢNG" and "Nguyễn Văn Ấu" in its single bytes,
    # most of them where Windows-1258 has symbols.
    path = tmp_path / "d.csv"
    path.write_bytes(text.replace(b"TITLE", b"DANH S\xb8CH \xa7\xe8I T\xa6\xefNG")
                     .replace(b"NAME", b"Nguy\xd6n V\xa8n \xa2u"))
    messages = decision_refusals(path)
    assert len(messages) == 1 and "TCVN3" in messages[0] and "UTF-8" in messages[0], messages


def test_utf16_without_its_byte_order_mark_is_named(tmp_path):
    path = write(tmp_path / "d.csv", csv_text([REGISTER]), "utf-16-le")
    assert_refused(decision_refusals(path), path, 1, 1, "UTF-16 saved without its byte-order mark")


@pytest.mark.parametrize("column", ["citizen_id", "proxy_citizen_id"])
def test_fullwidth_and_other_non_ascii_digits_in_ids_are_refused(tmp_path, column):
    row = dict(decision_no="7/QĐ-UBND", signed_on="2024-09-01", kind="authorize_proxy",
               citizen_id=REGISTER["citizen_id"], proxy_name="Nguyễn Văn C",
               proxy_citizen_id="051080001122")
    row[column] = "０５１０４４００１２３４" if column == "citizen_id" else "051080٠٠1122"
    path = write(tmp_path / "d.csv", csv_text([REGISTER, row]))
    assert_refused(decision_refusals(path), path, 3, COLUMN[column],
                   f"{column}: .* is not one of the digits 0-9: retype it with plain digits")
    with pytest.raises(cid.CitizenIdError):
        cid.check_format("０５１０４４００１２３４")


# --- damaged rows ---------------------------------------------------------------

def test_a_short_row_is_refused_at_the_missing_cell(tmp_path):
    text = csv_text([REGISTER, REGISTER_2]).rstrip("\r\n")
    text = text[:text.rindex(",")] + "\r\n"  # the last row lost its last cell
    path = write(tmp_path / "d.csv", text)
    assert_refused(decision_refusals(path), path, 3, len(DECISION_COLUMNS), "a cell is missing")


def test_a_cell_past_the_header_is_refused(tmp_path):
    path = write(tmp_path / "d.csv", csv_text([REGISTER]).rstrip("\r\n") + ",surplus\r\n")
    assert_refused(decision_refusals(path), path, 2, len(DECISION_COLUMNS) + 1, "beyond the last column")


def test_nul_bytes_and_huge_cells_are_refused_at_their_cell(tmp_path):
    path = write(tmp_path / "nul.csv", csv_text([REGISTER, dict(REGISTER_2, full_name="Trần\x00B")]))
    assert_refused(decision_refusals(path), path, 3, COLUMN["full_name"], "NUL byte")
    path = write(tmp_path / "big.csv", csv_text([dict(REGISTER, reason="ố" * 50_000)]))
    assert_refused(decision_refusals(path), path, 2, COLUMN["reason"], "over 128 KiB")
    path = write(tmp_path / "bigger.csv", csv_text([dict(REGISTER, reason="x" * 200_000)]))
    assert_refused(decision_refusals(path), path, 2, COLUMN["reason"], "over 128 KiB")
    path = write(tmp_path / "quoted.csv", csv_text([dict(REGISTER, reason="x\n" * 100_000)]))
    assert_refused(decision_refusals(path), path, 2, COLUMN["reason"], "over 128 KiB")
    path = write(tmp_path / "line.csv", csv_text([REGISTER]) + "x" * (2 << 20))
    assert_refused(decision_refusals(path), path, 3, 1, "a line over")


# --- spreadsheet formulas ---------------------------------------------------------

@pytest.mark.parametrize("column, written", [
    ("full_name", "=HYPERLINK(\"http://x\",\"A\")"), ("full_name", "+84 Nguyễn"),
    ("full_name", "-Nguyễn"), ("full_name", "@SUM(A1)"), ("reason", "\t=cmd"), ("reason", "\r=cmd"),
    ("decision_no", "=1+1"), ("commune_code", " =1"),
])
def test_a_cell_that_would_run_as_a_formula_is_refused(tmp_path, column, written):
    row = dict(REGISTER, **{column: written})
    path = write(tmp_path / "d.csv", csv_text([REGISTER_2, row]))
    assert_refused(decision_refusals(path), path, 3, COLUMN[column], f"{column}: begins with .*formula")


def test_written_csv_and_xlsx_neutralise_formula_cells(tmp_path):
    line = PayrollFileLine("VNPOST-BS-01/2024-03", "2024-03-051044001234", "051044001234",
                           "=HYPERLINK(\"http://x\")", "20101", ("2024-03",), "allowance", 500_000,
                           "@SUM(A1)", "", False)
    plain = PayrollFileLine("VNPOST-BS-01/2024-03", "2024-03-051319001235", "051319001235", "Trần Thị B",
                            "20101", ("2024-03",), "allowance", 750_000, "Trần Thị B", "", False)
    paths = write_payroll_files(tmp_path, "VNPOST-BS-01", "2024-03", "cash", [line, plain],
                                debtor_name="x", debtor_account="1", created_at=datetime(2024, 3, 1))
    rows = list(csv.reader(paths[0].read_text(encoding="utf-8").splitlines()))
    assert rows[1][3] == "'=HYPERLINK(\"http://x\")" and rows[1][8] == "'@SUM(A1)"
    assert rows[2][3] == "Trần Thị B"  # anything else as it was
    sheet = load_workbook(paths[1]).worksheets[0]
    assert all(cell.data_type == "s" for cell in (sheet["D2"], sheet["I2"]))
    assert sheet["D2"].value == "=HYPERLINK(\"http://x\")"

    from .test_reports import september_summary

    summary = september_summary()
    summary["office"] = "=1+1"
    summary["agents"][0]["variances"][0]["detail"] = "@SUM(A1)"
    report = write_settlement_reports(tmp_path / "reports", summary)[0]
    workbook = load_workbook(report)
    formulas = [cell.coordinate for sheet in workbook.worksheets for row in sheet.iter_rows()
                for cell in row if cell.data_type == "f"]
    assert formulas == []
    with zipfile.ZipFile(report) as archive:
        assert not any(b"<f>" in archive.read(name) for name in archive.namelist()
                       if name.startswith("xl/worksheets/"))


# --- untrusted .xlsx --------------------------------------------------------------

def small_xlsx(path: Path) -> Path:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(list(DECISION_COLUMNS))
    sheet.append([REGISTER.get(c) or None for c in DECISION_COLUMNS])
    workbook.save(path)
    return path


def rewritten(source: Path, target: Path, change) -> Path:
    """The .xlsx with each member passed through change(name, bytes)."""
    with zipfile.ZipFile(source) as reading, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as writing:
        for info in reading.infolist():
            writing.writestr(info.filename, change(info.filename, reading.read(info.filename)))
    return target


def refused_quickly(path: Path, pattern: str) -> None:
    tracemalloc.start()
    started = time.monotonic()
    try:
        messages = decision_refusals(path)
    finally:
        elapsed = time.monotonic() - started
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert elapsed < 5, elapsed
    assert peak < 100 * 2**20, peak
    assert len(messages) == 1 and re.search(pattern, messages[0]), messages


def test_a_zip_bomb_is_refused_before_it_is_opened(tmp_path):
    path = tmp_path / "bomb.xlsx"
    source = small_xlsx(tmp_path / "small.xlsx")
    with zipfile.ZipFile(source) as reading, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as writing:
        for info in reading.infolist():
            writing.writestr(info.filename, reading.read(info.filename))
        with writing.open("xl/media/padding.bin", "w", force_zip64=True) as padding:
            block = bytes(1 << 20)
            for _ in range(210):
                padding.write(block)
    assert path.stat().st_size < 2 << 20
    refused_quickly(path, r"unpacks to 210 MiB, more than the 200 MiB")


def test_a_huge_declared_dimension_is_refused_at_once(tmp_path):
    path = rewritten(small_xlsx(tmp_path / "small.xlsx"), tmp_path / "huge.xlsx",
                     lambda name, data: re.sub(rb'<dimension ref="[^"]*"', b'<dimension ref="A1:XFD1048576"', data)
                     if name == "xl/worksheets/sheet1.xml" else data)
    assert path.stat().st_size < 20_000
    refused_quickly(path, r"declares 1,048,576 rows by 16,384 columns")


def test_only_the_cells_present_are_read(tmp_path):
    """A row numbered far below and a cell far right, with no dimension:
    read in no time, reported where they are."""
    def change(name, data):
        if name != "xl/worksheets/sheet1.xml":
            return data
        data = re.sub(rb"<dimension [^>]*/>", b"", data)
        far = b'<row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>x</t></is></c></row>'
        return data.replace(b"</sheetData>", far + b"</sheetData>")

    path = rewritten(small_xlsx(tmp_path / "small.xlsx"), tmp_path / "far.xlsx", change)
    refused_quickly(path, r":1048576:16384: a cell beyond the last column of the header")


@pytest.mark.parametrize("member", ["xl/worksheets/sheet1.xml", "xl/workbook.xml"])
def test_an_xxe_is_refused(tmp_path, member):
    secret = tmp_path / "secret.txt"
    secret.write_text("051044001234")

    def change(name, data):
        if name != member:
            return data
        declaration = (f'<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE x [<!ENTITY e SYSTEM '
                       f'"file://{secret}">]>').encode()
        data = re.sub(rb"^<\?xml[^>]*\?>\s*", b"", data)
        return declaration + data.replace(b"decision_no", b"&e;", 1)

    path = rewritten(small_xlsx(tmp_path / "small.xlsx"), tmp_path / "xxe.xlsx", change)
    refused_quickly(path, r"declares XML entities or a document type \(an XXE")


def test_a_damaged_workbook_is_refused(tmp_path):
    path = tmp_path / "d.xlsx"
    path.write_bytes(b"PK\x03\x04" + b"not really an archive" * 10)
    refused_quickly(path, r"not an .xlsx file")


def test_the_format_is_read_from_the_content_not_the_name(tmp_path):
    """A CSV saved under an .xlsx name (a mail system renamed it) is read as
    the CSV it is, and a workbook saved as .csv as a workbook."""
    renamed = write(tmp_path / "d.xlsx", csv_text([REGISTER]))
    assert [d.citizen_id for d in parse_decisions(renamed, CATEGORIES).decisions] == [REGISTER["citizen_id"]]
    workbook = xlsx_with_titles(tmp_path / "sheet.xlsx", [REGISTER])
    as_csv = workbook.rename(tmp_path / "sheet.csv")
    assert [d.citizen_id for d in parse_decisions(as_csv, CATEGORIES).decisions] == [REGISTER["citizen_id"]]


# --- end to end: a message per problem, never a traceback ----------------------------

def test_the_command_reports_problems_not_tracebacks(tmp_path, capsys, monkeypatch, sqlite_url):
    monkeypatch.setenv("LEDGER_TODAY", "2024-10-15")
    monkeypatch.setenv("LEDGER_ACTOR", "officer-test")
    bad = dict(REGISTER_2, citizen_id="０５１３１９００１２３５")
    path = write(tmp_path / "d.csv", csv_text([REGISTER, bad], delimiter=";", titles=TITLES))
    code = main(["--db", sqlite_url, "import", "decisions", str(path)])
    out, err = capsys.readouterr()
    assert code == 1 and "Traceback" not in err and "KeyError" not in err
    assert f"{path}:8:{COLUMN['citizen_id']}: citizen_id:" in err and "nothing was recorded" in err

    legacy = tmp_path / "legacy.csv"
    legacy.write_bytes(cp1258(csv_text([REGISTER, REGISTER_2], delimiter=";")))
    code = main(["--db", sqlite_url, "import", "decisions", str(legacy)])
    assert code == 1 and "--encoding cp1258" in capsys.readouterr().err
    code = main(["--db", sqlite_url, "import", "decisions", str(legacy), "--encoding", "cp1258",
                 "--delimiter", ";", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert '"recorded_events": 2' in out
