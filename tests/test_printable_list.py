"""The printable payment list a post office pays from: Vietnamese throughout,
totals in figures and in words, set up to print on A4 landscape."""
from __future__ import annotations

import shutil
import subprocess
import tomllib
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook

from adapters.formats import printable_list
from adapters.formats.printable_list import (
    CATEGORY_NAMES, HEADERS, Person, payment_list, write_printable_lists,
)
from adapters.formats.vnd_words import number_in_words, vnd_in_words
from adapters.formats.payroll_list import PayrollFileLine

RULES = Path(__file__).resolve().parents[1] / "ledger" / "rulesets" / "vn-social-assistance.toml"
ISSUED = datetime(2024, 2, 24, 9, 0)
OFFICE = "Phòng Lao động - Thương binh và Xã hội huyện Bình Sơn"


# --- amounts in words -------------------------------------------------------

@pytest.mark.parametrize("amount, words", [
    (0, "Không đồng"),
    (15, "Mười lăm đồng"),
    (21, "Hai mươi mốt đồng"),
    (24, "Hai mươi tư đồng"),
    (105, "Một trăm linh năm đồng"),
    (105_000, "Một trăm linh năm nghìn đồng"),
    (500_000, "Năm trăm nghìn đồng"),
    (1_000_000, "Một triệu đồng"),
    (1_080_000, "Một triệu không trăm tám mươi nghìn đồng"),
    (2_021_000, "Hai triệu không trăm hai mươi mốt nghìn đồng"),
    (2_250_000, "Hai triệu hai trăm năm mươi nghìn đồng"),
    (15_000_000_000, "Mười lăm tỷ đồng"),
    (1_000_000_005, "Một tỷ không trăm linh năm đồng"),
    (10**13, "Mười nghìn tỷ đồng"),
])
def test_known_amounts_in_words(amount, words):
    assert vnd_in_words(amount) == words


_DIGIT = {"không": 0, "một": 1, "mốt": 1, "hai": 2, "ba": 3, "bốn": 4, "tư": 4, "năm": 5, "lăm": 5,
          "sáu": 6, "bảy": 7, "tám": 8, "chín": 9}


def words_to_number(text: str) -> int:
    """A reader of the words, written independently of the writer."""
    total = below_billion = group = pending = 0
    for word in text.split():
        if word in _DIGIT:
            pending = _DIGIT[word]
        elif word == "trăm":
            group, pending = group + pending * 100, 0
        elif word == "mươi":
            group, pending = group + pending * 10, 0
        elif word == "mười":
            group += 10
        elif word == "linh":
            pass
        elif word in ("nghìn", "triệu"):
            below_billion += (group + pending) * (1000 if word == "nghìn" else 10**6)
            group = pending = 0
        elif word == "tỷ":
            total = (total + below_billion + group + pending) * 10**9
            below_billion = group = pending = 0
        else:
            raise AssertionError(f"unknown word {word!r} in {text!r}")
    return total + below_billion + group + pending


@settings(max_examples=2000, deadline=None)
@given(st.one_of(st.integers(0, 10**13), st.integers(0, 10**13).map(lambda n: n - n % 1000),
                 st.integers(0, 2000), st.sampled_from([10**k for k in range(14)])))
def test_property_words_read_back_to_the_amount(amount):
    words = vnd_in_words(amount)
    assert words.endswith(" đồng") and words[0].isupper()
    assert "  " not in words
    assert words_to_number(number_in_words(amount)) == amount


def test_words_refuse_what_is_not_an_amount():
    for bad in (-1, 1.5, True, "100"):
        with pytest.raises(ValueError):
            number_in_words(bad)


# --- content ----------------------------------------------------------------

def test_every_category_of_the_rules_has_a_vietnamese_name():
    rules = tomllib.loads(RULES.read_text(encoding="utf-8"))
    codes = {code for table in rules["coefficient_tables"] for code in table["categories"]}
    assert codes and codes <= set(CATEGORY_NAMES)
    assert all(name.isascii() is False for name in CATEGORY_NAMES.values())


def line(line_id: str, commune: str, name: str, amount: int, **changes) -> PayrollFileLine:
    base = PayrollFileLine(
        payroll_id="VNPOST-BS-01/2024-03", line_id=line_id, citizen_id="051044001234", full_name=name,
        commune_code=commune, months=("2024-03",), kind="allowance", amount=amount, receiver=name,
        bank_account="", home_delivery=False)
    return replace(base, **changes)


LINES = [
    line("L1", "51101", "Nguyễn Thị Ánh Tuyết", 750_000),
    line("L2", "51101", "Đỗ Văn Đức", 1_500_000, citizen_id="001319001235",
         months=("2024-01", "2024-02", "2024-03"), receiver="Đặng Thị Hường", home_delivery=True),
    line("L3", "51101", "Lê Văn Bảy", 10_000_000, kind="funeral_support", receiver="Lê Thị Mỹ Dung"),
    line("K9", "51101", "Hoàng Quốc Việt", 500_000, payroll_id="VNPOST-BS-01/2024-02",
         months=("2024-02",), carried=True),
    line("L4", "51103", "Trương Thị Hồng Nhung", 1_000_000, months=("2023-12", "2024-01"), kind="arrears"),
    line("L5", "51103", "Phạm Ngọc Ẩn", 1_080_000, citizen_id="051210000001"),
]
PEOPLE = {"051044001234": Person("1944", ("ELDERLY_80",)),
          "001319001235": Person("1919", ("DISABLED_SEVERE", "SINGLE_PARENT"))}


def content():
    return payment_list(LINES, PEOPLE, office=OFFICE, agent_code="VNPOST-BS-01", month="2024-03",
                        created_at=ISSUED)


def test_lines_grouped_by_commune_with_totals():
    listed = content()
    assert [c.code for c in listed.communes] == ["51101", "51103"]
    assert [c.total for c in listed.communes] == [12_750_000, 2_080_000]
    assert listed.total == 14_830_000 and listed.count == 6
    first, second, funeral, carried = listed.communes[0].rows
    assert [r.number for r in listed.communes[1].rows] == [1, 2]  # numbered per commune
    assert first.category == "Người từ đủ 80 tuổi trở lên không có lương hưu, trợ cấp bảo hiểm xã hội"
    assert second.months == "03/2024; truy lĩnh 01/2024 - 02/2024"
    assert second.receiver == "Đặng Thị Hường (người được ủy quyền)" and second.at_home == "Có"
    assert second.birth_year == "1919"
    assert funeral.months == "Hỗ trợ chi phí mai táng"
    assert carried.months == "02/2024 (kỳ trước chưa nhận)"
    arrears, unknown = listed.communes[1].rows
    assert arrears.months == "truy lĩnh 12/2023 - 01/2024"
    assert unknown.birth_year == "2010"  # from the CCCD when the register has no entry
    assert listed.document_no == "Số: 03/2024/DSCT-VNPOST-BS-01"
    assert listed.dated == "Ngày 24 tháng 02 năm 2024"


# --- PDF --------------------------------------------------------------------

def test_pdf_embeds_its_font_and_reads_in_vietnamese(tmp_path):
    pdf, _ = write_printable_lists(tmp_path, content(), ISSUED)
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF") and b"/FontFile2" in data  # the TrueType font is embedded
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) not installed")
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, check=True,
                          text=True).stdout
    for expected in ("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc",
                     "PHÒNG LAO ĐỘNG - THƯƠNG BINH", "DANH SÁCH CHI TRẢ TRỢ CẤP XÃ HỘI HẰNG THÁNG",
                     "Tháng 03 năm 2024", "Nguyễn Thị Ánh Tuyết", "Đặng Thị Hường", "truy lĩnh",
                     "12.750.000", "14.830.000", "Bằng chữ: Mười bốn triệu tám trăm ba mươi nghìn đồng",
                     "NGƯỜI LẬP BIỂU", "KẾ TOÁN", "THỦ TRƯỞNG ĐƠN VỊ", "ĐẠI DIỆN BƯU ĐIỆN NHẬN",
                     "Ký nhận / điểm chỉ", "Trang 1"):
        assert expected in text, expected
    assert "Page" not in text and "Total" not in text


def test_files_are_the_same_bytes_when_written_again(tmp_path):
    first = [p.read_bytes() for p in write_printable_lists(tmp_path / "a", content(), ISSUED)]
    second = [p.read_bytes() for p in write_printable_lists(tmp_path / "b", content(), ISSUED)]
    assert first == second


def test_no_font_is_refused_clearly(tmp_path, monkeypatch):
    monkeypatch.setattr(printable_list, "_candidates", lambda: [("/nowhere/a.ttf", "/nowhere/b.ttf")])
    with pytest.raises(printable_list.NoFont, match="fonts-dejavu-core"):
        printable_list.find_font()


# --- .xlsx ------------------------------------------------------------------

def test_xlsx_prints_like_the_pdf(tmp_path):
    _, xlsx = write_printable_lists(tmp_path, content(), ISSUED)
    workbook = load_workbook(xlsx)
    assert workbook.sheetnames == ["Xã 51101", "Xã 51103", "Tổng hợp"]
    sheet = workbook["Xã 51101"]
    assert sheet["A1"].value == OFFICE.upper()
    assert sheet["F1"].value == "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"
    assert [c.value for c in sheet[9]] == list(HEADERS)
    assert sheet.page_setup.orientation == "landscape" and sheet.page_setup.paperSize == 9
    assert sheet.sheet_properties.pageSetUpPr.fitToPage and sheet.page_setup.fitToWidth in (None, 1)  # 1 is the default
    assert sheet.page_setup.fitToHeight == 0
    assert sheet.print_title_rows == "$9:$9"
    assert sheet.print_area.startswith("'Xã 51101'!$A$1:$K$")
    assert sheet.freeze_panes == "A10"
    assert "&P" in sheet.oddFooter.center.text
    amount = sheet["H10"]
    assert amount.value == 750_000 and amount.number_format == "#,##0"
    assert sheet["D11"].value == "001319001235"  # text: the leading zero stays
    assert sheet.row_dimensions[10].height >= 39  # room to sign or press a thumb
    values = [c.value for row in sheet.iter_rows() for c in row if c.value is not None]
    assert 12_750_000 in values
    assert "Bằng chữ: Mười hai triệu bảy trăm năm mươi nghìn đồng." in values
    summary = [c.value for row in workbook["Tổng hợp"].iter_rows() for c in row if c.value is not None]
    assert 14_830_000 in summary and "ĐẠI DIỆN BƯU ĐIỆN NHẬN" in summary
