"""The Reports screen (Báo cáo): the month's settlement report with its
downloads, the unclaimed trend, the cashless share by commune, the
proxy-account payments not yet confirmed, and the trend workbook. Read
only, for every reader; the figures come from ``Queries`` as the
``ledger report`` commands print them, the charts are SVG drawn here."""
from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, Response

from ledger.months import Month

from ..formats import office_workbooks
from ..queries import Queries
from . import svg_charts

# The default window: the six months up to the month looked at.
WINDOW_MONTHS = 6
MAX_MONTHS = 36

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DOWNLOADS = {  # kind -> (label, media type)
    "quyet-toan-xlsx": ("Báo cáo quyết toán tháng (XLSX)", XLSX),
    "quyet-toan-pdf": ("Báo cáo quyết toán tháng, bản in có chữ ký (PDF)", "application/pdf"),
    "xu-huong-xlsx": ("Diễn biến theo tháng, có biểu đồ (XLSX)", XLSX),
    "khong-tien-mat-xlsx": ("Tỷ lệ không dùng tiền mặt theo xã (XLSX)", XLSX),
}


@dataclass(frozen=True)
class Screen:
    """What the screen needs from the application (adapters/web/app.py)."""

    queries: Queries
    viewer: Callable  # (request) -> the logged-in reader, or raises
    render: Callable  # (request, template, status=200, **context) -> HTMLResponse
    ledger: Callable  # runs a call while holding the application's turn
    working_month: Callable  # (calendar) -> the month to look at
    month_arg: Callable  # (text | None) -> Month | None, or raises BadRequest
    bad_request: type  # the application's BadRequest


def add_routes(app: FastAPI, s: Screen) -> None:
    def window(tu: str | None, den: str | None, thang: str | None) -> tuple[Month, Month, Month]:
        month = s.month_arg(thang)
        last = s.month_arg(den)
        if month is None or last is None:
            default = s.working_month(s.ledger(s.queries.payroll_calendar))
            month = month or default
            last = last or month
        first = s.month_arg(tu) or last - (WINDOW_MONTHS - 1)
        if last < first:
            raise s.bad_request("Tháng cuối phải sau tháng đầu.")
        if first.months_until(last) >= MAX_MONTHS:
            raise s.bad_request(f"Tối đa {MAX_MONTHS} tháng một lần xem.")
        return first, last, month

    @app.get("/bao-cao", response_class=HTMLResponse)
    def reports(request: Request, tu: str | None = None, den: str | None = None, thang: str | None = None):
        user = s.viewer(request)
        first, last, month = window(tu, den, thang)

        def read():
            return (s.queries.district_summary(month), s.queries.trend_report(first, last),
                    s.queries.cashless_report(first, last), s.queries.proxy_queue(last))

        summary, trend, cashless, proxies = s.ledger(read)
        labels = [str(m.month)[2:].replace("-", "/") for m in trend.months]
        unclaimed_svg = svg_charts.column_chart(
            "chua-nhan", "Tiền chưa nhận trong tháng chi trả", labels, [m.unclaimed_vnd for m in trend.months],
            notes=[f"{m.unclaimed_people} người" if m.unclaimed_people else "" for m in trend.months])
        shown = next((m for m in cashless.months if m.month == month), None) or (
            cashless.months[-1] if cashless.months else None)
        commune_rows = []
        if shown is not None:
            commune_rows = [(code, f.as_dict()) for code, f in shown.communes]
        cashless_svg = svg_charts.share_bars(
            "khong-tien-mat", f"Tỷ lệ chi trả không dùng tiền mặt theo xã, tháng {shown.month if shown else month}",
            [("Toàn huyện", shown.district.as_dict()["share_people"], shown.district.as_dict()["share_amount"])]
            + [(code, d["share_people"], d["share_amount"]) for code, d in commune_rows] if shown else [])
        return s.render(request, "reports.html", user=user, first=first, last=last, month=month,
                        summary=summary, trend=trend, cashless=cashless, shown=shown, commune_rows=commune_rows,
                        proxies=proxies, unclaimed_svg=unclaimed_svg, cashless_svg=cashless_svg,
                        downloads=DOWNLOADS)

    @app.get("/bao-cao/tai/{kind}")
    def download(request: Request, kind: str, tu: str | None = None, den: str | None = None,
                 thang: str | None = None):
        s.viewer(request)
        if kind not in DOWNLOADS:
            raise s.bad_request("Không có báo cáo này.", 404)
        first, last, month = window(tu, den, thang)
        media = DOWNLOADS[kind][1]
        with tempfile.TemporaryDirectory(prefix="ledger-report-") as folder:
            out = Path(folder)
            if kind.startswith("quyet-toan"):
                from ..formats.settlement_report import write_settlement_reports

                paths = s.ledger(lambda: write_settlement_reports(out, s.queries.district_summary(month)))
                path = next(p for p in paths if p.suffix == (".pdf" if kind.endswith("pdf") else ".xlsx"))
            elif kind == "xu-huong-xlsx":
                path = s.ledger(lambda: office_workbooks.write_trend(
                    out, s.queries.trend_report(first, last), s.queries.cashless_report(first, last)))
            else:
                path = s.ledger(lambda: office_workbooks.write_cashless(out, s.queries.cashless_report(first, last)))
            data = path.read_bytes()
            name = path.name
        return Response(data, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'})
