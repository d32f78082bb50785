"""The printable payment list (Danh sách chi trả trợ cấp xã hội hằng tháng,
formats.md): what a post office prints, pays from and has each receiver
sign or thumbprint, per agent and month, one section per commune, as PDF
(A4 landscape) and as an .xlsx that prints the same.

Everything on it is Vietnamese; it is written beside the data lists, which
stay the files the ledger reads back. Same lines, same bytes."""
from __future__ import annotations

import io
import os
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from itertools import groupby
from pathlib import Path
from typing import Mapping, Sequence
from xml.sax.saxutils import escape

from ledger.months import Month

from ..files import stable_xlsx, write_atomically
from .payroll_list import PayrollFileLine
from .vnd_words import vnd_in_words

# Category codes (domain.md) as a list names them (Decree 20/2021 Art 5).
CATEGORY_NAMES: dict[str, str] = {
    "ORPHAN": "Trẻ em không có nguồn nuôi dưỡng",
    "STUDENT_16_22": "Người từ 16 đến 22 tuổi đang đi học",
    "HIV_CHILD": "Trẻ em nhiễm HIV thuộc hộ nghèo",
    "SINGLE_PARENT": "Người đơn thân nghèo đang nuôi con",
    "ELDERLY_POOR": "Người cao tuổi thuộc hộ nghèo không có người phụng dưỡng",
    "ELDERLY_75_MOUNTAIN": "Người từ 75 đến 79 tuổi ở xã, thôn vùng dân tộc thiểu số và miền núi",
    "ELDERLY_80": "Người từ đủ 80 tuổi trở lên không có lương hưu, trợ cấp bảo hiểm xã hội",
    "ELDERLY_CARED": "Người cao tuổi nghèo được cá nhân, hộ gia đình nhận chăm sóc",
    "DISABLED_SPECIAL": "Người khuyết tật đặc biệt nặng",
    "DISABLED_SEVERE": "Người khuyết tật nặng",
    "CHILD_U3_MOUNTAIN": "Trẻ em dưới 3 tuổi thuộc hộ nghèo, cận nghèo vùng dân tộc thiểu số",
    "HIV_ADULT": "Người nhiễm HIV thuộc hộ nghèo không có nguồn thu nhập ổn định",
    "CARE_DISABLED_SPECIAL": "Hỗ trợ kinh phí chăm sóc người khuyết tật đặc biệt nặng",
}

NATION = "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"
MOTTO = "Độc lập - Tự do - Hạnh phúc"
TITLE = "DANH SÁCH CHI TRẢ TRỢ CẤP XÃ HỘI HẰNG THÁNG"
HEADERS = ("STT", "Họ và tên", "Năm sinh", "Số CCCD", "Thôn/địa chỉ", "Đối tượng",
           "Tháng chi trả", "Số tiền (đồng)", "Người nhận", "Nhận tại nhà", "Ký nhận / điểm chỉ")
# Millimetres across 277 mm of A4 landscape (10 mm margins); the last is
# room for a signature or a thumbprint.
WIDTHS_MM = (9, 38, 13, 25, 18, 40, 32, 22, 34, 13, 33)
SIGNERS = (("Người lập biểu", "(Ký, ghi rõ họ tên)"), ("Kế toán", "(Ký, ghi rõ họ tên)"),
           ("Thủ trưởng đơn vị", "(Ký, ghi rõ họ tên, đóng dấu)"),
           ("Đại diện bưu điện nhận", "(Ký, ghi rõ họ tên)"))
DATE_LINE = "Ngày ...... tháng ...... năm ........"
FUNERAL = "Hỗ trợ chi phí mai táng"
VND_FORMAT = "#,##0"


class NoFont(RuntimeError):
    """No TrueType font with the Vietnamese letters is installed."""


# Regular and bold faces, first found wins: Debian's fonts-dejavu-core, then
# Liberation, then the DejaVu copy in matplotlib's package data.
FONT_CANDIDATES: list[tuple[str, str]] = [
    ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"),
    ("/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
     "/usr/share/fonts/truetype/liberation/LiberationSans-Bold.ttf"),
    ("/usr/share/fonts/truetype/liberation2/LiberationSans-Regular.ttf",
     "/usr/share/fonts/truetype/liberation2/LiberationSans-Bold.ttf"),
]
_FONT, _BOLD = "DSCT-Regular", "DSCT-Bold"


def _candidates() -> list[tuple[str, str]]:
    found = list(FONT_CANDIDATES)
    try:
        import matplotlib

        bundled = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
        found.append((str(bundled / "DejaVuSans.ttf"), str(bundled / "DejaVuSans-Bold.ttf")))
    except ImportError:  # pragma: no cover - matplotlib is a dependency
        pass
    return found


def find_font() -> tuple[str, str]:
    """The regular and bold TrueType files to embed; refuses clearly when
    none is installed."""
    for regular, bold in _candidates():
        if os.path.isfile(regular) and os.path.isfile(bold):
            return regular, bold
    raise NoFont("no TrueType font with Vietnamese letters found for the printable payment list: "
                 "install fonts-dejavu-core (apt-get install fonts-dejavu-core) or fonts-liberation")


def _register_font() -> None:
    from reportlab.lib.fonts import addMapping
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    regular, bold = find_font()
    if _FONT in pdfmetrics.getRegisteredFontNames():
        return
    pdfmetrics.registerFont(TTFont(_FONT, regular))
    pdfmetrics.registerFont(TTFont(_BOLD, bold))
    for italic in (0, 1):
        addMapping(_FONT, 0, italic, _FONT)
        addMapping(_FONT, 1, italic, _BOLD)


# --- the content, once for both files --------------------------------------

@dataclass(frozen=True)
class Person:
    """What the payroll line does not carry: from the register."""

    birth_year: str
    categories: tuple[str, ...]


@dataclass(frozen=True)
class Row:
    number: int
    name: str
    birth_year: str
    citizen_id: str
    address: str
    category: str
    months: str
    amount: int
    receiver: str
    at_home: str

    def cells(self) -> list:
        return [self.number, self.name, self.birth_year, self.citizen_id, self.address, self.category,
                self.months, self.amount, self.receiver, self.at_home, ""]


@dataclass(frozen=True)
class Commune:
    code: str
    rows: tuple[Row, ...]

    @property
    def total(self) -> int:
        return sum(row.amount for row in self.rows)


@dataclass(frozen=True)
class PaymentList:
    office: str
    agent_code: str
    month: str
    document_no: str
    dated: str
    communes: tuple[Commune, ...]

    @property
    def total(self) -> int:
        return sum(c.total for c in self.communes)

    @property
    def count(self) -> int:
        return sum(len(c.rows) for c in self.communes)

    def month_title(self) -> str:
        month = Month.parse(self.month)
        return f"Tháng {month.month:02d} năm {month.year}"


def category_text(codes: Sequence[str]) -> str:
    return "; ".join(CATEGORY_NAMES.get(code, code) for code in codes)


def _month_label(text: str) -> str:
    month = Month.parse(text)
    return f"{month.month:02d}/{month.year}"


def _runs(months: Sequence[Month]) -> str:
    runs: list[list[Month]] = []
    for month in sorted(months):
        if runs and runs[-1][-1] + 1 == month:
            runs[-1].append(month)
        else:
            runs.append([month])
    return ", ".join(_month_label(str(r[0])) if len(r) == 1
                     else f"{_month_label(str(r[0]))} - {_month_label(str(r[-1]))}" for r in runs)


def months_text(line: PayrollFileLine) -> str:
    """The months a line pays; months before its own payroll month are
    arrears (truy lĩnh); a line carried from an earlier list says so."""
    if line.kind == "funeral_support":
        return FUNERAL
    own = Month.parse(line.payroll_id.rpartition("/")[2])
    months = [Month.parse(m) for m in line.months]
    current = [m for m in months if m >= own]
    earlier = [m for m in months if m < own]
    parts = []
    if current:
        parts.append(_runs(current))
    if earlier:
        parts.append(f"truy lĩnh {_runs(earlier)}")
    text = "; ".join(parts)
    return f"{text} (kỳ trước chưa nhận)" if line.carried else text


def birth_year_of(citizen_id: str) -> str:
    """From the CCCD (domain.md): century digit and the year's last two."""
    if len(citizen_id) == 12 and citizen_id.isdigit():
        return str(1900 + 100 * (int(citizen_id[3]) // 2) + int(citizen_id[4:6]))
    return ""


def payment_list(lines: Sequence[PayrollFileLine], people: Mapping[str, Person], *, office: str,
                 agent_code: str, month: str, created_at: datetime) -> PaymentList:
    """The list's content. ``lines`` in file order (by commune)."""
    communes = []
    ordered = sorted(lines, key=lambda x: x.commune_code)  # stable: keeps file order within a commune
    for code, group in groupby(ordered, key=lambda x: x.commune_code):
        rows = []
        for number, line in enumerate(group, start=1):
            person = people.get(line.citizen_id)
            receiver = line.receiver
            if receiver and _nfc(receiver) != _nfc(line.full_name):
                receiver = f"{receiver} (người được ủy quyền)"
            rows.append(Row(
                number=number, name=_nfc(line.full_name),
                birth_year=person.birth_year if person else birth_year_of(line.citizen_id),
                citizen_id=line.citizen_id, address=code,
                category=category_text(person.categories) if person else "",
                months=months_text(line), amount=line.amount, receiver=_nfc(receiver),
                at_home="Có" if line.home_delivery else ""))
        communes.append(Commune(code, tuple(rows)))
    parsed = Month.parse(month)
    return PaymentList(
        office=_nfc(office), agent_code=agent_code, month=month,
        document_no=f"Số: {parsed.month:02d}/{parsed.year}/DSCT-{agent_code}",
        dated=f"Ngày {created_at.day:02d} tháng {created_at.month:02d} năm {created_at.year}",
        communes=tuple(communes))


def _nfc(text: str) -> str:
    # reportlab places glyphs without shaping: decomposed marks would print
    # beside their letter.
    return unicodedata.normalize("NFC", text)


def file_stem(agent_code: str, month: str) -> str:
    return f"danh-sach-chi-tra-{agent_code}-{month}"


def write_printable_lists(out_dir: Path, content: PaymentList, created_at: datetime) -> list[Path]:
    """The PDF and the .xlsx, each written atomically."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = out_dir / file_stem(content.agent_code, content.month)
    pdf = write_atomically(stem.with_suffix(".pdf"), list_pdf(content))
    xlsx = write_atomically(stem.with_suffix(".xlsx"), list_xlsx(content, created_at))
    return [pdf, xlsx]


# --- PDF --------------------------------------------------------------------

def list_pdf(content: PaymentList) -> bytes:
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.units import mm
    from reportlab.platypus import KeepTogether, PageBreak, SimpleDocTemplate

    _register_font()
    styles = _Styles()
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer, pagesize=landscape(A4), leftMargin=10 * mm, rightMargin=10 * mm,
        topMargin=10 * mm, bottomMargin=14 * mm, title=f"{TITLE} - {content.month_title()}",
        author=content.office, subject=f"{content.agent_code} {content.month}", invariant=1)
    story: list = []
    for index, commune in enumerate(content.communes):
        if index:
            story.append(PageBreak())
        story += _pdf_heading(content, f"Xã/phường (mã) {commune.code}", styles)
        story.append(_pdf_table(commune, styles))
        story.append(KeepTogether([*_pdf_words(f"Cộng xã {commune.code}: {len(commune.rows)} người",
                                               commune.total, styles),
                                   *_pdf_signatures(content, styles, document.width)]))
    story.append(PageBreak())
    story += _pdf_heading(content, "Tổng hợp các xã", styles)
    story.append(_pdf_summary(content, styles))
    story.append(KeepTogether([*_pdf_words(f"Tổng cộng: {content.count} người", content.total, styles),
                               *_pdf_signatures(content, styles, document.width)]))

    footer = f"{TITLE} - {content.agent_code} - {content.month_title()}"

    def decorate(canvas, doc) -> None:
        canvas.saveState()
        canvas.setFont(_FONT, 7.5)
        canvas.drawString(doc.leftMargin, 8 * mm, footer)
        canvas.drawRightString(doc.pagesize[0] - doc.rightMargin, 8 * mm, f"Trang {doc.page}")
        canvas.restoreState()

    document.build(story, onFirstPage=decorate, onLaterPages=decorate)
    return buffer.getvalue()


class _Styles:
    def __init__(self) -> None:
        from reportlab.lib.enums import TA_CENTER, TA_RIGHT
        from reportlab.lib.styles import ParagraphStyle

        self.body = ParagraphStyle("dsct-body", fontName=_FONT, fontSize=9, leading=11.5)
        self.center = ParagraphStyle("dsct-center", self.body, alignment=TA_CENTER)
        self.bold_center = ParagraphStyle("dsct-bold-center", self.center, fontName=_BOLD, fontSize=10, leading=13)
        self.title = ParagraphStyle("dsct-title", self.bold_center, fontSize=14, leading=18, spaceBefore=6)
        self.cell = ParagraphStyle("dsct-cell", self.body, fontSize=8, leading=10)
        self.head = ParagraphStyle("dsct-head", self.cell, fontName=_BOLD, alignment=TA_CENTER)
        self.number = ParagraphStyle("dsct-number", self.cell, alignment=TA_RIGHT, splitLongWords=0)
        self.middle = ParagraphStyle("dsct-middle", self.cell, alignment=TA_CENTER)
        self.words = ParagraphStyle("dsct-words", self.body, fontSize=9.5, leading=13, spaceBefore=3)


def _p(text: str, style):
    from reportlab.platypus import Paragraph

    return Paragraph(escape(_nfc(str(text))), style)


def _pdf_heading(content: PaymentList, where: str, styles: _Styles) -> list:
    from reportlab.lib.units import mm
    from reportlab.platypus import Table, TableStyle

    top = Table([
        [_p(content.office.upper(), styles.bold_center), _p(NATION, styles.bold_center)],
        [_p(content.document_no, styles.center), _p(MOTTO, styles.bold_center)],
        ["", _p(f"......, {content.dated[0].lower()}{content.dated[1:]}", styles.center)],
    ], colWidths=[120 * mm, 157 * mm])
    top.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"),
                             ("LINEBELOW", (1, 1), (1, 1), 0.6, "black")]))
    return [top,
            _p(TITLE, styles.title),
            _p(f"{content.month_title()} - {where}", styles.bold_center),
            _p(f"Đơn vị chi trả: Bưu điện {content.agent_code}. Đơn vị tính: đồng", styles.center)]


def _pdf_table(commune: Commune, styles: _Styles):
    from reportlab.lib.units import mm
    from reportlab.platypus import Table

    column_styles = [styles.middle, styles.cell, styles.middle, styles.middle, styles.middle, styles.cell,
                     styles.cell, styles.number, styles.cell, styles.middle, styles.cell]
    rows = [[_p(h, styles.head) for h in HEADERS]]
    for row in commune.rows:
        cells = row.cells()
        cells[7] = _vi_number(row.amount)
        rows.append([_p(value, style) for value, style in zip(cells, column_styles)])
    total = ["", _p(f"Cộng xã {commune.code}", styles.head), "", "", "", "", "",
             _p(_vi_number(commune.total), styles.number), "", "", ""]
    rows.append(total)
    # Each row tall enough to sign in or press a thumb on (about 14 mm).
    heights = [None] + [14 * mm] * len(commune.rows) + [None]
    table = Table(rows, colWidths=[w * mm for w in WIDTHS_MM], rowHeights=heights, repeatRows=1)
    table.setStyle(_grid())
    return table


def _pdf_summary(content: PaymentList, styles: _Styles):
    from reportlab.lib.units import mm
    from reportlab.platypus import Table

    rows = [[_p(h, styles.head) for h in ("STT", "Xã/phường (mã)", "Số người", "Số tiền (đồng)")]]
    for number, commune in enumerate(content.communes, start=1):
        rows.append([_p(number, styles.middle), _p(commune.code, styles.cell),
                     _p(len(commune.rows), styles.number), _p(_vi_number(commune.total), styles.number)])
    rows.append(["", _p("Tổng cộng", styles.head), _p(content.count, styles.number),
                 _p(_vi_number(content.total), styles.number)])
    table = Table(rows, colWidths=[15 * mm, 60 * mm, 30 * mm, 45 * mm], repeatRows=1, hAlign="LEFT")
    table.setStyle(_grid())
    return table


def _grid():
    from reportlab.platypus import TableStyle

    return TableStyle([
        ("GRID", (0, 0), (-1, -1), 0.5, "black"),
        ("BACKGROUND", (0, 0), (-1, 0), "#eeeeee"),
        ("BACKGROUND", (0, -1), (-1, -1), "#f4f4f4"),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("TOPPADDING", (0, 0), (-1, -1), 2), ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
        ("LEFTPADDING", (0, 0), (-1, -1), 2), ("RIGHTPADDING", (0, 0), (-1, -1), 2),
    ])


def _pdf_words(label: str, amount: int, styles: _Styles) -> list:
    from reportlab.platypus import Paragraph

    text = escape(f"{label}, số tiền {_vi_number(amount)} đồng.")
    words = escape(f"Bằng chữ: {vnd_in_words(amount)}.")
    return [Paragraph(f"<b>{text}</b>", styles.words), Paragraph(f"<i>{words}</i>", styles.words)]


def _pdf_signatures(content: PaymentList, styles: _Styles, width: float) -> list:
    from reportlab.platypus import Paragraph, Spacer, Table, TableStyle

    dates = [_p(DATE_LINE, styles.center) for _ in SIGNERS]
    titles = [Paragraph(f"<b>{escape(role.upper())}</b><br/>{escape(hint)}", styles.center)
              for role, hint in SIGNERS]
    table = Table([dates, titles, [""] * len(SIGNERS)], colWidths=[width / len(SIGNERS)] * len(SIGNERS),
                  rowHeights=[None, None, 60])
    table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP")]))
    return [Spacer(1, 8), table]


def _vi_number(amount: int) -> str:
    """``1080000`` -> ``1.080.000``."""
    return f"{amount:,}".replace(",", ".")


# --- .xlsx ------------------------------------------------------------------

# Characters per column, the PDF's millimetres scaled to Excel's widths.
_XLSX_WIDTHS = tuple(round(w * 0.52, 1) for w in WIDTHS_MM)
_HEADER_ROW = 8  # zero-based row of the column titles, repeated on every page


def list_xlsx(content: PaymentList, created_at: datetime) -> bytes:
    """One sheet per commune and a summary sheet, each set up to print:
    A4 landscape, fit to the page width, the column titles repeated on
    every page, a print area, page numbers in the footer. Amounts are
    numbers formatted ``#,##0``: shown with the reader's grouping, dots in a
    Vietnamese locale (LibreOffice, Excel)."""
    import xlsxwriter

    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True, "strings_to_formulas": False,
                                            "strings_to_numbers": False, "strings_to_urls": False})
    workbook.set_properties({"title": TITLE, "author": content.office,
                             "created": created_at.replace(tzinfo=None)})
    formats = _XlsxFormats(workbook)
    for commune in content.communes:
        sheet = workbook.add_worksheet(f"Xã {commune.code}"[:31])
        _xlsx_commune(sheet, content, commune, formats)
    _xlsx_summary(workbook.add_worksheet("Tổng hợp"), content, formats)
    workbook.close()
    out = io.BytesIO()
    stable_xlsx(io.BytesIO(buffer.getvalue()), out, created_at)
    return out.getvalue()


class _XlsxFormats:
    def __init__(self, workbook) -> None:
        base = {"font_name": "Times New Roman", "font_size": 11, "valign": "vcenter"}
        add = lambda **k: workbook.add_format({**base, **k})  # noqa: E731
        self.bold_center = add(bold=True, align="center")
        self.center = add(align="center")
        self.motto = add(bold=True, align="center", underline=1)
        self.title = add(bold=True, align="center", font_size=14)
        self.head = add(bold=True, align="center", border=1, text_wrap=True, bg_color="#EEEEEE")
        self.cell = add(border=1, text_wrap=True, font_size=10)
        self.middle = add(border=1, align="center", text_wrap=True, font_size=10)
        self.money = add(border=1, num_format=VND_FORMAT, font_size=10)
        self.total = add(border=1, bold=True, font_size=10)
        self.total_money = add(border=1, bold=True, num_format=VND_FORMAT, font_size=10)
        self.text = add()
        self.bold = add(bold=True)
        self.italic = add(italic=True)


def _xlsx_page(sheet, last_column: int, last_row: int) -> None:
    sheet.set_landscape()
    sheet.set_paper(9)  # A4
    sheet.set_margins(left=0.4, right=0.4, top=0.5, bottom=0.6)
    sheet.fit_to_pages(1, 0)  # one page wide, as many long as it takes
    sheet.repeat_rows(_HEADER_ROW)
    sheet.print_area(0, 0, last_row, last_column)
    sheet.set_footer("&CTrang &P / &N")
    sheet.freeze_panes(_HEADER_ROW + 1, 0)


def _xlsx_heading(sheet, content: PaymentList, where: str, f: _XlsxFormats, last: int) -> None:
    split = 4
    sheet.merge_range(0, 0, 0, split, content.office.upper(), f.bold_center)
    sheet.merge_range(0, split + 1, 0, last, NATION, f.bold_center)
    sheet.merge_range(1, 0, 1, split, content.document_no, f.center)
    sheet.merge_range(1, split + 1, 1, last, MOTTO, f.motto)
    sheet.merge_range(2, split + 1, 2, last, f"......, {content.dated[0].lower()}{content.dated[1:]}", f.center)
    sheet.merge_range(4, 0, 4, last, TITLE, f.title)
    sheet.merge_range(5, 0, 5, last, f"{content.month_title()} - {where}", f.bold_center)
    sheet.merge_range(6, 0, 6, last, f"Đơn vị chi trả: Bưu điện {content.agent_code}. Đơn vị tính: đồng",
                      f.center)


def _xlsx_closing(sheet, row: int, label: str, amount: int, f: _XlsxFormats, last: int) -> int:
    sheet.merge_range(row, 0, row, last, f"{label}, số tiền {_vi_number(amount)} đồng.", f.bold)
    sheet.merge_range(row + 1, 0, row + 1, last, f"Bằng chữ: {vnd_in_words(amount)}.", f.italic)
    row += 3
    # Four blocks of about equal width over the eleven columns.
    spans = ((0, 2), (3, 5), (6, 7), (8, last))
    for (first, end), (role, hint) in zip(spans, SIGNERS):
        for offset, (text, style) in enumerate(((DATE_LINE, f.center), (role.upper(), f.bold_center),
                                                (hint, f.center))):
            if first == end:
                sheet.write_string(row + offset, first, text, style)
            else:
                sheet.merge_range(row + offset, first, row + offset, end, text, style)
    return row + 7  # room to sign


def _xlsx_commune(sheet, content: PaymentList, commune: Commune, f: _XlsxFormats) -> None:
    last = len(HEADERS) - 1
    for column, width in enumerate(_XLSX_WIDTHS):
        sheet.set_column(column, column, width)
    _xlsx_heading(sheet, content, f"Xã/phường (mã) {commune.code}", f, last)
    sheet.set_row(_HEADER_ROW, 30)
    sheet.write_row(_HEADER_ROW, 0, HEADERS, f.head)
    styles = [f.middle, f.cell, f.middle, f.middle, f.middle, f.cell, f.cell, f.money, f.cell, f.middle, f.cell]
    row = _HEADER_ROW
    for line in commune.rows:
        row += 1
        sheet.set_row(row, 40)  # room to sign or press a thumb
        for column, (value, style) in enumerate(zip(line.cells(), styles)):
            if isinstance(value, int):
                sheet.write_number(row, column, value, style)
            else:
                sheet.write_string(row, column, value, style)
    row += 1
    sheet.write_string(row, 0, "", f.total)
    sheet.merge_range(row, 1, row, 6, f"Cộng xã {commune.code}", f.total)
    sheet.write_number(row, 7, commune.total, f.total_money)
    for column in range(8, last + 1):
        sheet.write_string(row, column, "", f.total)
    end = _xlsx_closing(sheet, row + 2, f"Cộng xã {commune.code}: {len(commune.rows)} người",
                        commune.total, f, last)
    _xlsx_page(sheet, last, end)


def _xlsx_summary(sheet, content: PaymentList, f: _XlsxFormats) -> None:
    last = len(HEADERS) - 1
    for column, width in enumerate(_XLSX_WIDTHS):
        sheet.set_column(column, column, width)
    _xlsx_heading(sheet, content, "Tổng hợp các xã", f, last)
    titles = ("STT", "Xã/phường (mã)", "Số người", "Số tiền (đồng)")
    sheet.write_row(_HEADER_ROW, 0, titles[:1], f.head)
    sheet.merge_range(_HEADER_ROW, 1, _HEADER_ROW, 3, titles[1], f.head)
    sheet.write_string(_HEADER_ROW, 4, titles[2], f.head)
    sheet.merge_range(_HEADER_ROW, 5, _HEADER_ROW, 6, titles[3], f.head)
    row = _HEADER_ROW
    for number, commune in enumerate(content.communes, start=1):
        row += 1
        sheet.write_number(row, 0, number, f.middle)
        sheet.merge_range(row, 1, row, 3, commune.code, f.cell)
        sheet.write_number(row, 4, len(commune.rows), f.money)
        sheet.merge_range(row, 5, row, 6, commune.total, f.money)
    row += 1
    sheet.write_string(row, 0, "", f.total)
    sheet.merge_range(row, 1, row, 3, "Tổng cộng", f.total)
    sheet.write_number(row, 4, content.count, f.total_money)
    sheet.merge_range(row, 5, row, 6, content.total, f.total_money)
    end = _xlsx_closing(sheet, row + 2, f"Tổng cộng: {content.count} người", content.total, f, last)
    _xlsx_page(sheet, last, end)
