"""The printed settlement: the workbook reads back with the agents, a total
row equal to the district totals and every variance; the PDF and charts are
written, stable byte for byte, and an open month is marked provisional."""
from __future__ import annotations

import copy
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from openpyxl import load_workbook

from adapters.formats.settlement_report import (
    AGENT_TITLE, AGENTS_SHEET, COMMUNES_SHEET, NO_VARIANCES, SUMMARY_SHEET, TOTAL_LABEL,
    VARIANCES_SHEET, write_settlement_reports,
)

MONTH = "2024-09"
OFFICE = "Phòng Lao động - Thương binh và Xã hội huyện Bình Sơn"
AGENT_CODES = ("VNPOST-BS-01", "VNPOST-BS-02", "BANK-VBSP-QNG")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def agent(code: str, *, opening: int, advance: int, disbursed: int, fee: int, returned: int,
          reported: int | None, variances: list[dict] = ()) -> dict:
    closing_vnd = opening + advance - disbursed - fee - returned
    return {"agent_code": code, "month": MONTH, "opening_balance": opening, "advance": advance,
            "disbursed": disbursed, "fee": fee, "returned": returned, "closing_balance": closing_vnd,
            "reported_balance": reported, "closed": True, "variances": list(variances)}


def commune(code: str, cash_vnd: int, bank_vnd: int, people: int) -> dict:
    people_bank = round(people * bank_vnd / (cash_vnd + bank_vnd))  # about as many as the amounts say
    return {"commune_code": code, "paid_cash_vnd": cash_vnd, "paid_bank_vnd": bank_vnd,
            "cashless_share": bank_vnd / (cash_vnd + bank_vnd), "people_paid": people,
            "people_bank": people_bank, "cashless_share_people": people_bank / people}


def september_summary() -> dict:
    """Bình Sơn's September 2024 settlement, closed: two post offices (the
    first paid a dead person and reported a balance 500,000 short) and a
    bank that has not sent its report."""
    agents = [
        agent("VNPOST-BS-01", opening=38_250_000, advance=1_003_440_000, disbursed=992_500_000,
              fee=7_940_000, returned=500_000, reported=40_250_000, variances=[
                  {"kind": "paid_after_death", "line_id": "2024-07-051142000784",
                   "citizen_id": "051142000784", "amount": 500_000,
                   "detail": "paid on 2024-09-14, after the date of death",
                   "facts": {"paid_on": "2024-09-14", "died_on": "2024-08-30"},
                   "accepted": {"reason": "Bưu điện đã thu hồi, nộp lại ngày 20/09", "actor": "ke-toan-lan"}},
                  {"kind": "balance_differs", "line_id": "", "citizen_id": "", "amount": -500_000,
                   "detail": "balance remaining: reported 40,250,000, books 40,750,000 VND",
                   "facts": {"figure": "balance_remaining", "reported": 40_250_000, "booked": 40_750_000}},
              ]),
        agent("VNPOST-BS-02", opening=12_600_000, advance=624_780_000, disbursed=618_300_000,
              fee=4_946_000, returned=0, reported=14_134_000),
        agent("BANK-VBSP-QNG", opening=0, advance=728_000_000, disbursed=722_650_000,
              fee=1_806_000, returned=3_544_000, reported=None),
    ]
    communes = [
        commune("51100", 182_400_000, 70_500_000, 402),
        commune("51103", 165_000_000, 48_250_000, 339),
        commune("51106", 201_350_000, 112_800_000, 498),
        commune("51109", 140_200_000, 31_400_000, 272),
        commune("51112", 158_900_000, 66_150_000, 357),
        commune("51115", 176_500_000, 93_700_000, 429),
        commune("51118", 149_750_000, 55_300_000, 325),
        commune("51121", 190_300_000, 88_900_000, 443),
        commune("51124", 121_600_000, 40_650_000, 258),
        commune("51127", 124_800_000, 115_000_000, 381),
    ]
    trend = [("2024-02", 12, 4_680_000), ("2024-03", 15, 5_400_000), ("2024-04", 11, 4_320_000),
             ("2024-05", 18, 7_020_000), ("2024-06", 14, 5_580_000), ("2024-07", 21, 11_250_000),
             ("2024-08", 17, 9_000_000), ("2024-09", 19, 10_250_000)]
    return {
        "month": MONTH,
        "office": OFFICE,
        "closed": True,
        "agents": agents,
        "totals": {"advance": 2_356_220_000, "disbursed": 2_333_450_000, "fee": 14_692_000,
                   "returned": 4_044_000, "closing_balance": 54_884_000},
        "cashless_share": 722_650_000 / 2_333_450_000,
        "communes": communes,
        "unclaimed_trend": [{"month": m, "lines_unclaimed": n, "amount_vnd": vnd} for m, n, vnd in trend],
        "unclaimed_queue": {"verify": 6, "suspended": 5, "held_vnd": 18_250_000},
        "overpayments": {"open_count": 31, "open_vnd": 33_440_000, "recovered_vnd": 1_200_000,
                         "written_off_vnd": 0},
        "chain": {"position": 48_211, "hash": "9f2c" * 16, "at_close": True},
    }


def open_summary_without_variances() -> dict:
    summary = september_summary()
    summary["closed"] = False
    for each in summary["agents"]:
        each["closed"] = False
        each["variances"] = []
    summary["agents"][0]["reported_balance"] = summary["agents"][0]["closing_balance"]
    return summary


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> list[Path]:
    return write_settlement_reports(tmp_path_factory.mktemp("reports") / "out", september_summary())


@pytest.fixture(scope="module")
def written_open(tmp_path_factory) -> list[Path]:
    return write_settlement_reports(tmp_path_factory.mktemp("open"), open_summary_without_variances())


def sheet_rows(path: Path, title: str) -> list[tuple]:
    return list(load_workbook(path)[title].iter_rows(values_only=True))


def summary_values(path: Path) -> dict:
    return {label: value for label, value in sheet_rows(path, SUMMARY_SHEET)[1:]}


def test_writes_the_four_files_and_nothing_else(written):
    folder = written[0].parent
    assert [p.name for p in written] == [
        f"settlement-{MONTH}.xlsx", f"settlement-{MONTH}.pdf",
        f"unclaimed-trend-{MONTH}.png", f"cashless-by-commune-{MONTH}.png"]
    # No temporary file is left behind by the atomic writes.
    assert sorted(p.name for p in folder.iterdir()) == sorted(p.name for p in written)


def test_workbook_has_the_four_sheets(written):
    workbook = load_workbook(written[0])
    assert workbook.sheetnames == [SUMMARY_SHEET, AGENTS_SHEET, VARIANCES_SHEET, COMMUNES_SHEET]
    agents = workbook[AGENTS_SHEET]
    assert agents.freeze_panes == "A2"
    assert agents["A1"].font.bold
    assert agents["C2"].number_format == "#,##0"
    assert isinstance(agents["C2"].value, int)


def test_agent_rows_and_total_row_add_up_to_the_district_totals(written):
    rows = sheet_rows(written[0], AGENTS_SHEET)
    header = list(rows[0])
    assert header[:10] == [AGENT_TITLE, "Số dư đầu kỳ", "Tạm ứng", "Đã chi trả", "Phí dịch vụ", "Hoàn trả",
                           "Số dư cuối kỳ", "Số dư đại lý báo cáo", "Chênh lệch", "Số khoản chênh lệch"]
    by_code = {row[0]: dict(zip(header, row)) for row in rows[1:]}
    assert list(by_code) == [*AGENT_CODES, TOTAL_LABEL]
    first = by_code["VNPOST-BS-01"]
    assert (first["Số dư cuối kỳ"], first["Số dư đại lý báo cáo"], first["Chênh lệch"]) == \
        (40_750_000, 40_250_000, -500_000)
    assert by_code["BANK-VBSP-QNG"]["Số dư đại lý báo cáo"] is None  # the bank has not reported

    total = by_code[TOTAL_LABEL]
    totals = september_summary()["totals"]
    for key, title in [("advance", "Tạm ứng"), ("disbursed", "Đã chi trả"), ("fee", "Phí dịch vụ"),
                       ("returned", "Hoàn trả"), ("closing_balance", "Số dư cuối kỳ")]:
        assert total[title] == totals[key] == sum(by_code[code][title] for code in AGENT_CODES)
    assert total["Số dư đầu kỳ"] == 50_850_000
    # One agent has not reported: no district figure for the reported balance.
    assert total["Số dư đại lý báo cáo"] is None
    assert total["Số khoản chênh lệch"] == 2


def test_every_variance_is_listed(written):
    rows = sheet_rows(written[0], VARIANCES_SHEET)
    assert rows[1] == ("VNPOST-BS-01", "Chi trả sau ngày mất", "2024-07-051142000784", "051142000784",
                       500_000, "Chi trả ngày 14/09/2024, sau ngày mất của đối tượng (ngày mất 30/08/2024). "
                                "Đã chấp nhận, lý do: Bưu điện đã thu hồi, nộp lại ngày 20/09 "
                                "(người chấp nhận: ke-toan-lan)")
    assert rows[2][:2] == ("VNPOST-BS-01", "Chênh lệch số dư")
    assert rows[2][5] == "Số dư còn lại: đại lý báo cáo 40.250.000 đồng, sổ sách 40.750.000 đồng"
    assert rows[2][4] == -500_000
    assert len(rows) == 3


def test_summary_sheet_carries_the_district_figures(written):
    figures = summary_values(written[0])
    assert figures["Đơn vị"] == OFFICE
    assert figures["Tháng"] == MONTH
    assert figures["Tình trạng"].startswith("Chính thức")
    assert figures["Tổng đã chi trả (đồng)"] == 2_333_450_000
    assert figures["Tỷ lệ chi trả không dùng tiền mặt"] == pytest.approx(0.3097, abs=1e-4)
    sheet = load_workbook(written[0])[SUMMARY_SHEET]
    (share_row,) = [row for row in sheet.iter_rows() if row[0].value == "Tỷ lệ chi trả không dùng tiền mặt"]
    assert share_row[1].number_format == "0.0%"
    assert figures["Số văn bản"] == "Số: 09/2024/QTCT"
    assert figures["Chưa nhận tiền: số tiền đang giữ (đồng)"] == 18_250_000
    assert figures["Chi thừa chưa thu hồi (đồng)"] == 33_440_000


def test_commune_sheet_has_every_commune_and_the_district(written):
    rows = sheet_rows(written[0], COMMUNES_SHEET)
    assert len(rows) == 1 + 10 + 1
    assert rows[-1][:3] == ("Toàn huyện", 1_610_800_000, 722_650_000)
    communes = september_summary()["communes"]
    people, by_bank = sum(c["people_paid"] for c in communes), sum(c["people_bank"] for c in communes)
    assert rows[-1][4:] == (people, by_bank, pytest.approx(by_bank / people))
    assert rows[0][5:] == ("Số người nhận qua tài khoản", "Tỷ lệ người không dùng tiền mặt")


def test_open_month_is_provisional_and_says_there_is_no_variance(written_open):
    figures = summary_values(written_open[0])
    assert figures["Tình trạng"].startswith("Tạm tính:")
    assert sheet_rows(written_open[0], VARIANCES_SHEET)[1][0] == NO_VARIANCES


def test_writing_again_gives_the_same_bytes(written, tmp_path):
    again = write_settlement_reports(tmp_path, september_summary())
    assert len(written) == len(again) == 4
    assert [p.name for p in again] == [p.name for p in written]
    for first, second in zip(written, again, strict=True):
        data = first.read_bytes()
        assert data, first.name  # not two empty files
        assert data == second.read_bytes(), first.name


def test_pdf_and_charts_are_real_files(written):
    _, pdf, trend, cashless = written
    assert pdf.read_bytes().startswith(b"%PDF")
    for png in (trend, cashless):
        data = png.read_bytes()
        assert data.startswith(PNG_SIGNATURE)
        assert len(data) > 20_000  # a drawn chart, not an empty canvas
        assert b"matplotlib" not in data  # no version stamp


def pdf_text(path: Path) -> str:
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (Debian poppler-utils) is not installed")
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True,
                          capture_output=True, text=True).stdout


def test_pdf_text_names_the_agents_in_vietnamese(written):
    text = pdf_text(written[1])
    for code in AGENT_CODES:
        assert code in text
    assert "Bình Sơn".upper() in text
    assert "QUYẾT TOÁN CHI TRẢ TRỢ CẤP XÃ HỘI HẰNG THÁNG" in text
    assert "Chi trả sau ngày mất" in text
    assert "Chính thức: tháng đã khóa sổ" in text


def test_pdf_is_an_administrative_document_in_vietnamese_only(written):
    """What the agent signs: national header, number, totals in words, the
    accepted variance with its reason and who accepted it, every signer, the
    chain's head on the page; and not a word of English."""
    text = pdf_text(written[1])
    flat = " ".join(text.split())
    for expected in ("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc", "Số: 09/2024/QTCT",
                     "Tổng số tiền đã chi trả: 2.333.450.000 đồng.",
                     "Bằng chữ: Hai tỷ ba trăm ba mươi ba triệu bốn trăm năm mươi nghìn đồng.",
                     "người chấp nhận: ke-toan-lan", "ĐẠI DIỆN ĐẠI LÝ CHI TRẢ", "NGƯỜI LẬP BIỂU", "KẾ TOÁN",
                     "THỦ TRƯỞNG ĐƠN VỊ", "vị trí 48211, SHA-256 " + "9f2c" * 16):
        assert expected in flat, expected
    english = re.compile(r"\b(paid|variance|variances|settlement|FINAL|PROVISIONAL|amount|district|"
                         r"balance|reported|books|agent|lines|month|share|no data|annex|charts)\b", re.I)
    assert english.findall(flat) == []


def test_pdf_of_an_open_month_is_marked_provisional(written_open):
    text = pdf_text(written_open[1])
    assert "Tạm tính: tháng chưa khóa sổ" in text
    assert NO_VARIANCES in text


def test_totals_that_disagree_with_the_agents_are_refused(tmp_path):
    summary = copy.deepcopy(september_summary())
    summary["totals"]["disbursed"] += 1
    with pytest.raises(ValueError, match="disbursed"):
        write_settlement_reports(tmp_path / "out", summary)
    assert not (tmp_path / "out").exists()
