"""The figures offices report as XLSX workbooks with native Excel charts
(xlsxwriter), in Vietnamese like the settlement report:

- ``cashless-<from>-<to>.xlsx``: the cashless share per month and commune,
  a line chart of the district's share by month;
- ``trend-<from>-<to>.xlsx``: unclaimed, deaths noticed late, overpayments,
  the settlement per agent month by month, each with its chart, and the
  cashless share."""
from __future__ import annotations

import io
from pathlib import Path

import xlsxwriter

from ..files import write_atomically
from ..office_reports import CashlessReport, TrendReport

_VND = "#,##0"
_SHARE = "0.0%"


def _book():
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    return buffer, book, {
        "head": book.add_format({"bold": True, "bg_color": "#DDE4EE", "border": 1, "text_wrap": True,
                                 "valign": "top"}),
        "vnd": book.add_format({"num_format": _VND}),
        "share": book.add_format({"num_format": _SHARE}),
        "title": book.add_format({"bold": True, "font_size": 13}),
    }


def _header(sheet, row: int, names, fmt, first_column: int = 0) -> None:
    sheet.set_row(row, 48)  # room for the wrapped titles
    for column, (name, width) in enumerate(names, start=first_column):
        sheet.write(row, column, name, fmt)
        sheet.set_column(column, column, width)


def _cashless_sheet(book, formats, report: CashlessReport, chart_anchor: str = "K2") -> None:
    sheet = book.add_worksheet("Khong dung tien mat")
    sheet.write(0, 0, f"Tỷ lệ chi trả không dùng tiền mặt {report.first} – {report.last}",
                formats["title"])
    _header(sheet, 2, [("Tháng", 10), ("Xã", 14), ("Người nhận qua ngân hàng", 14),
                       ("Người được chi trả", 14), ("Tỷ lệ người", 12),
                       ("Số tiền qua ngân hàng", 16), ("Số tiền chi trả", 16),
                       ("Tỷ lệ tiền", 12)], formats["head"])
    row = 3
    district_rows = []
    for month in report.months:
        for code, figures in [("Toàn huyện", month.district), *month.communes]:
            d = figures.as_dict()
            sheet.write(row, 0, str(month.month))
            sheet.write(row, 1, code)
            sheet.write_number(row, 2, d["people_bank"])
            sheet.write_number(row, 3, d["people_paid"])
            sheet.write_number(row, 4, d["share_people"], formats["share"])
            sheet.write_number(row, 5, d["bank_vnd"], formats["vnd"])
            sheet.write_number(row, 6, d["paid_vnd"], formats["vnd"])
            sheet.write_number(row, 7, d["share_amount"], formats["share"])
            if figures is month.district:
                district_rows.append(row)
            row += 1
    # The chart's series read the district rows of a plain table beside the list.
    _header(sheet, 2, [("Tháng", 10), ("Tỷ lệ người", 12), ("Tỷ lệ tiền", 12)], formats["head"], first_column=9)
    for i, source in enumerate(district_rows):
        month = report.months[i]
        sheet.write(3 + i, 9, str(month.month))
        sheet.write_number(3 + i, 10, month.district.as_dict()["share_people"], formats["share"])
        sheet.write_number(3 + i, 11, month.district.as_dict()["share_amount"], formats["share"])
    last = 3 + max(len(district_rows), 1) - 1
    chart = book.add_chart({"type": "line"})
    for column, name in ((10, "Tỷ lệ người"), (11, "Tỷ lệ tiền")):
        chart.add_series({"name": name, "categories": [sheet.name, 3, 9, last, 9],
                          "values": [sheet.name, 3, column, last, column], "marker": {"type": "circle"}})
    chart.set_title({"name": "Tỷ lệ không dùng tiền mặt, toàn huyện"})
    chart.set_y_axis({"num_format": "0%", "min": 0, "max": 1})
    chart.set_legend({"position": "bottom"})
    sheet.insert_chart(3, 13, chart, {"x_scale": 1.3, "y_scale": 1.2})


def write_cashless(out_dir: Path, report: CashlessReport) -> Path:
    buffer, book, formats = _book()
    _cashless_sheet(book, formats, report)
    book.close()
    out_dir.mkdir(parents=True, exist_ok=True)
    return write_atomically(out_dir / f"cashless-{report.first}-{report.last}.xlsx", buffer.getvalue())


def _chart(book, kind: str, title: str, sheet, series: list[tuple[str, int]], first: int, last: int,
           vnd: bool = False):
    chart = book.add_chart({"type": kind})
    for name, column in series:
        chart.add_series({"name": name, "categories": [sheet.name, first, 0, last, 0],
                          "values": [sheet.name, first, column, last, column]})
    chart.set_title({"name": title})
    chart.set_legend({"position": "bottom"})
    if vnd:
        chart.set_y_axis({"num_format": _VND})
    return chart


def write_trend(out_dir: Path, report: TrendReport, cashless: CashlessReport | None = None) -> Path:
    buffer, book, formats = _book()
    sheet = book.add_worksheet("Xu huong")
    sheet.write(0, 0, f"Diễn biến theo tháng {report.first} – {report.last}", formats["title"])
    _header(sheet, 2, [("Tháng", 10), ("Người chưa nhận", 14),
                       ("Tiền chưa nhận", 16), ("Báo tử trong tháng", 14),
                       ("Báo muộn", 12), ("Tổng số tháng muộn", 14),
                       ("Muộn nhất", 12), ("Chi thừa phát sinh", 16),
                       ("Đã thu hồi", 16), ("Miễn thu", 16)], formats["head"])
    first_row = 3
    for i, m in enumerate(report.months):
        row = first_row + i
        sheet.write(row, 0, str(m.month))
        values = (m.unclaimed_people, m.unclaimed_vnd, m.deaths_noticed, m.deaths_late, m.months_late_total,
                  m.months_late_max, m.overpayments_opened_vnd, m.recovered_vnd, m.written_off_vnd)
        for column, value in enumerate(values, start=1):
            sheet.write_number(row, column, value, formats["vnd"] if column in (2, 7, 8, 9) else None)
    last_row = first_row + max(len(report.months), 1) - 1
    charts = [
        _chart(book, "column", "Chưa nhận theo tháng", sheet, [("Tiền chưa nhận", 2)],
               first_row, last_row, vnd=True),
        _chart(book, "column", "Báo tử muộn", sheet,
               [("Báo tử", 3), ("Báo muộn", 4)], first_row, last_row),
        _chart(book, "line", "Chi thừa và thu hồi", sheet,
               [("Chi thừa", 7), ("Đã thu hồi", 8), ("Miễn thu", 9)], first_row, last_row, vnd=True),
    ]
    for i, chart in enumerate(charts):
        sheet.insert_chart(last_row + 3 + i * 17, 0, chart, {"x_scale": 1.4, "y_scale": 1.1})

    agents_sheet = book.add_worksheet("Quyet toan dai ly")
    agents_sheet.write(0, 0, "Quyết toán theo đại lý chi trả", formats["title"])
    agent_codes = sorted({a.agent_code for m in report.months for a in m.agents})
    _header(agents_sheet, 2, [("Tháng", 10), ("Đại lý", 22), ("Tạm ứng", 16),
                              ("Đã chi", 16), ("Hoàn trả", 16), ("Phí", 14)],
            formats["head"])
    row = 3
    for m in report.months:
        for a in m.agents:
            agents_sheet.write(row, 0, str(m.month))
            agents_sheet.write(row, 1, a.agent_code)
            for column, value in enumerate((a.advance_vnd, a.disbursed_vnd, a.returned_vnd, a.fee_vnd), start=2):
                agents_sheet.write_number(row, column, value, formats["vnd"])
            row += 1
    # Disbursed per agent by month: one column per agent, charted as stacked columns.
    pivot_col = 8
    _header(agents_sheet, 2, [("Tháng", 10), *((code, 18) for code in agent_codes)], formats["head"],
            first_column=pivot_col)
    for i, m in enumerate(report.months):
        agents_sheet.write(3 + i, pivot_col, str(m.month))
        by_code = {a.agent_code: a.disbursed_vnd for a in m.agents}
        for j, code in enumerate(agent_codes):
            agents_sheet.write_number(3 + i, pivot_col + 1 + j, by_code.get(code, 0), formats["vnd"])
    chart = book.add_chart({"type": "column", "subtype": "stacked"})
    last_pivot = 3 + max(len(report.months), 1) - 1
    for j, code in enumerate(agent_codes):
        chart.add_series({"name": [agents_sheet.name, 2, pivot_col + 1 + j],
                          "categories": [agents_sheet.name, 3, pivot_col, last_pivot, pivot_col],
                          "values": [agents_sheet.name, 3, pivot_col + 1 + j, last_pivot, pivot_col + 1 + j]})
    chart.set_title({"name": "Đã chi theo đại lý"})
    chart.set_y_axis({"num_format": _VND})
    chart.set_legend({"position": "bottom"})
    agents_sheet.insert_chart(max(row, last_pivot) + 2, 0, chart, {"x_scale": 1.6, "y_scale": 1.2})

    if cashless is not None:
        _cashless_sheet(book, formats, cashless)
    book.close()
    out_dir.mkdir(parents=True, exist_ok=True)
    return write_atomically(out_dir / f"trend-{report.first}-{report.last}.xlsx", buffer.getvalue())
