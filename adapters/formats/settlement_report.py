"""The printed settlement of a month (quyết toán): what the payment officer
hands on after settling with each payment agent.

``write_settlement_reports`` writes, from the district summary of
``Queries.district_summary`` (a ``DistrictSummary``, or its ``as_dict()``):

- ``settlement-<month>.xlsx``: the district summary, one row per agent with a
  total row, every variance, and the payments by commune;
- ``settlement-<month>.pdf``: the same on A4 paper, with the two charts;
- ``unclaimed-trend-<month>.png`` and ``cashless-by-commune-<month>.png``.

Every file is written atomically, and the same summary always gives the same
bytes, so a report written again can be compared with the one already sent."""
from __future__ import annotations

import io
import unicodedata
from datetime import datetime
from pathlib import Path
from typing import Iterable, Sequence
from xml.sax.saxutils import escape

from ledger import settlement
from ledger.months import Month, month_range

from ..files import stable_xlsx, write_atomically
from .printable_list import MOTTO, NATION
from .vnd_words import vnd_in_words

REPORT_TITLE = "Quyết toán chi trả trợ cấp xã hội hằng tháng"

SUMMARY_SHEET = "Tổng hợp"
AGENTS_SHEET = "Quyết toán"
VARIANCES_SHEET = "Chênh lệch"
COMMUNES_SHEET = "Theo xã"

FINAL_STATUS = "Chính thức: tháng đã khóa sổ"
PROVISIONAL_STATUS = "Tạm tính: tháng chưa khóa sổ, số liệu còn có thể thay đổi"
PROVISIONAL_MARK = "TẠM TÍNH"
NO_VARIANCES = "Không có chênh lệch"
TOTAL_LABEL = "Tổng cộng"

# The variance kinds of ledger/settlement.py as an officer reads them.
VARIANCE_KINDS_VI: dict[str, str] = {
    settlement.NOT_IN_PAYROLL: "Không có trong bảng kê",
    settlement.CITIZEN_DIFFERS: "Sai người nhận",
    settlement.AMOUNT_DIFFERS: "Sai số tiền",
    settlement.PAID_AFTER_DEATH: "Chi trả sau ngày mất",
    settlement.PAID_TWICE: "Chi trả trùng",
    settlement.PAID_AFTER_CANCELLATION: "Chi trả sau khi đã hủy",
    settlement.BALANCE_DIFFERS: "Chênh lệch số dư",
    settlement.FEE_DIFFERS: "Sai phí dịch vụ",
    settlement.ADVANCE_DIFFERS: "Sai số tạm ứng",
}

# The agent's figures in the order of the settlement: opening + advance
# - disbursed - returned = closing; the fee is a figure of its own (advanced
# and taken in the same month, it leaves the balance unchanged).
AGENT_AMOUNTS: tuple[tuple[str, str], ...] = (
    ("opening_balance", "Số dư đầu kỳ"),
    ("advance", "Tạm ứng"),
    ("disbursed", "Đã chi trả"),
    ("fee", "Phí dịch vụ"),
    ("returned", "Hoàn trả"),
    ("closing_balance", "Số dư cuối kỳ"),
)
AGENT_TITLE = "Đại lý chi trả"
REPORTED_TITLE = "Số dư đại lý báo cáo"
DIFFERENCE_TITLE = "Chênh lệch"
VARIANCE_COUNT_TITLE = "Số khoản chênh lệch"
AGENT_STATUS_TITLE = "Khóa sổ"
TOTAL_KEYS = ("advance", "disbursed", "fee", "returned", "closing_balance")

VARIANCE_TITLES = (AGENT_TITLE, "Loại chênh lệch", "Mã dòng", "Số CCCD", "Số tiền (đồng)", "Diễn giải")
COMMUNE_TITLES = ("Mã xã", "Chi tiền mặt (đồng)", "Chi qua tài khoản (đồng)",
                  "Tỷ lệ không dùng tiền mặt", "Số người đã nhận", "Số người nhận qua tài khoản",
                  "Tỷ lệ người không dùng tiền mặt")

_VND_FORMAT = "#,##0"
_COUNT_FORMAT = "#,##0"
_SHARE_FORMAT = "0.0%"

# Charts: 150 dpi prints sharply at the size they take in the PDF.
_CHART_DPI = 150
# Without these PNG keys the bytes carry no matplotlib version.
_PNG_METADATA = {"Software": None}


def write_settlement_reports(out_dir: Path, summary) -> list[Path]:
    """Write the month's settlement workbook, PDF and two charts into
    ``out_dir`` (created if missing); returns the paths written."""
    if hasattr(summary, "as_dict"):  # a DistrictSummary: the files are made from its keys
        summary = summary.as_dict()
    _check_summary(summary)
    month = summary["month"]
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    # Charts first: the PDF embeds the very PNG bytes written beside it.
    trend_png = unclaimed_trend_png(summary)
    cashless_png = cashless_by_commune_png(summary)
    return [
        write_atomically(out_dir / f"settlement-{month}.xlsx", settlement_xlsx(summary)),
        write_atomically(out_dir / f"settlement-{month}.pdf",
                         settlement_pdf(summary, trend_png, cashless_png)),
        write_atomically(out_dir / f"unclaimed-trend-{month}.png", trend_png),
        write_atomically(out_dir / f"cashless-by-commune-{month}.png", cashless_png),
    ]


# --- checks -----------------------------------------------------------------

def _check_summary(summary: dict) -> None:
    """The ledger builds the summary, so an inconsistent one is a programming
    error: raise before anything is written rather than print a report whose
    total row disagrees with its rows."""
    month = summary["month"]
    if str(Month.parse(month)) != month:
        raise ValueError(f"month must be YYYY-MM, got {month!r}")
    for agent in summary["agents"]:
        if agent["month"] != month:
            raise ValueError(f"agent {agent['agent_code']}: settlement of {agent['month']}, not {month}")
        for key, _ in AGENT_AMOUNTS:
            _check_vnd(agent[key], f"agent {agent['agent_code']}: {key}")
        if agent["reported_balance"] is not None:
            _check_vnd(agent["reported_balance"], f"agent {agent['agent_code']}: reported balance")
        for variance in agent["variances"]:
            _check_vnd(variance["amount"], f"agent {agent['agent_code']}: variance {variance['kind']}")
    for key in TOTAL_KEYS:
        _check_vnd(summary["totals"][key], f"totals: {key}")
        booked_vnd = sum(agent[key] for agent in summary["agents"])
        if summary["totals"][key] != booked_vnd:
            raise ValueError(f"totals: {key} is {summary['totals'][key]:,} VND, "
                             f"the agents add up to {booked_vnd:,} VND")
    shares = [summary["cashless_share"], *(c["cashless_share"] for c in summary["communes"])]
    if any(not 0 <= share <= 1 for share in shares):
        raise ValueError("a cashless share must lie between 0 and 1")
    for point in summary["unclaimed_trend"]:
        if Month.parse(point["month"]) > Month.parse(month):
            raise ValueError(f"unclaimed trend: {point['month']} is after {month}")


def _check_vnd(value, where: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{where}: amounts are whole VND, got {value!r}")


# --- shared figures -----------------------------------------------------------

def _difference_vnd(agent: dict) -> int | None:
    """What the agent reported minus what the books say it holds."""
    if agent["reported_balance"] is None:
        return None
    return agent["reported_balance"] - agent["closing_balance"]


def _agent_totals(agents: Sequence[dict]) -> dict[str, int | None]:
    """Sums of the agents' figures. The reported balance and its difference
    are summed only when every agent reported: a partial sum would read as
    the district's figure."""
    totals: dict[str, int | None] = {key: sum(a[key] for a in agents) for key, _ in AGENT_AMOUNTS}
    everyone_reported = all(a["reported_balance"] is not None for a in agents)
    totals["reported_balance"] = (sum(a["reported_balance"] for a in agents)
                                  if everyone_reported else None)
    totals["difference"] = (sum(_difference_vnd(a) for a in agents)
                            if everyone_reported else None)
    return totals


def _variance_rows(summary: dict) -> list[tuple[str, dict]]:
    return [(agent["agent_code"], variance)
            for agent in summary["agents"] for variance in agent["variances"]]


def variance_kind_text(kind: str) -> str:
    """``Chi trả sau ngày mất``; an unknown kind as its code."""
    return VARIANCE_KINDS_VI.get(kind, kind)


# The agent's report figures a report variance is about (ledger/settlement.py facts).
REPORT_FIGURES_VI = {
    "balance_remaining": "Số dư còn lại",
    "fee_claimed": "Phí dịch vụ đề nghị",
    "paid_total": "Tổng đã chi trả",
    "advance_received": "Tạm ứng đã nhận",
}


def _vi_date(text: str) -> str:
    """``2024-09-05`` -> ``05/09/2024``; anything else as it is."""
    parts = str(text).split("-")
    return f"{parts[2]}/{parts[1]}/{parts[0]}" if len(parts) == 3 else str(text)


def variance_detail_text(variance: dict) -> str:
    """What the variance is, in Vietnamese, from its facts (the ledger's
    ``detail`` is the English of the command line)."""
    kind, facts = variance["kind"], variance.get("facts") or {}
    if "figure" in facts:
        figure = REPORT_FIGURES_VI.get(facts["figure"], facts["figure"])
        return (f"{figure}: đại lý báo cáo {_vi_number(facts['reported'])} đồng, "
                f"sổ sách {_vi_number(facts['booked'])} đồng")
    paid_on = _vi_date(facts["paid_on"]) if facts.get("paid_on") else ""
    if kind == settlement.NOT_IN_PAYROLL:
        return f"Bảng kê {facts.get('payroll_id', '')} không có dòng {variance['line_id']}"
    if kind == settlement.CITIZEN_DIFFERS:
        return f"Dòng được cấp cho người có số CCCD {facts.get('issued_to', '')}"
    if kind == settlement.AMOUNT_DIFFERS and "booked" in facts:
        return (f"Số tiền được cấp {_vi_number(facts['booked'])} đồng, "
                f"báo cáo {_vi_number(facts['reported'])} đồng")
    if kind == settlement.PAID_TWICE:
        if facts.get("months"):
            months = ", ".join(_month_label(m) for m in facts["months"])
            return f"Các tháng {months} đã được chi trả ở dòng khác"
        return f"Đã chi trả ngày {paid_on}" if paid_on else "Đã chi trả ở một dòng khác của tệp này"
    if kind == settlement.PAID_AFTER_DEATH:
        died = f" (ngày mất {_vi_date(facts['died_on'])})" if facts.get("died_on") else ""
        return f"Chi trả ngày {paid_on}, sau ngày mất của đối tượng{died}"
    if kind == settlement.PAID_AFTER_CANCELLATION:
        return f"Chi trả ngày {paid_on}, sau khi Phòng đã hủy dòng chi trả"
    return variance_kind_text(kind)


def _status_text(summary: dict) -> str:
    return FINAL_STATUS if summary["closed"] else PROVISIONAL_STATUS


def _month_label(month: str) -> str:
    """``2024-09`` -> ``09/2024``, as Vietnamese forms write a month."""
    parsed = Month.parse(month)
    return f"{parsed.month:02d}/{parsed.year}"


def _report_time(month: str) -> datetime:
    """The time stamped into the workbook: the first moment after the month,
    so the same month's report always carries the same date."""
    return datetime.combine((Month.parse(month) + 1).first_day, datetime.min.time())


# --- .xlsx --------------------------------------------------------------------

def settlement_xlsx(summary: dict) -> bytes:
    from openpyxl import Workbook

    workbook = Workbook()
    _fill_summary_sheet(workbook.active, summary)
    _fill_agents_sheet(workbook.create_sheet(AGENTS_SHEET), summary["agents"])
    _fill_variances_sheet(workbook.create_sheet(VARIANCES_SHEET), summary)
    _fill_communes_sheet(workbook.create_sheet(COMMUNES_SHEET), summary)
    buffer = io.BytesIO()
    workbook.save(buffer)
    out = io.BytesIO()
    stable_xlsx(buffer, out, _report_time(summary["month"]))
    return out.getvalue()


def _put(sheet, row: int, column: int, value, number_format: str | None = None, *,
         bold: bool = False) -> None:
    from openpyxl.styles import Font

    cell = sheet.cell(row=row, column=column, value=value)
    # Office names and variance details are free text: every text cell is
    # written as a string, so one starting with "=" prints as text instead
    # of running as a formula.
    if isinstance(value, str):
        cell.data_type = "s"
    if number_format and isinstance(value, (int, float)):
        cell.number_format = number_format
    if bold:
        cell.font = Font(bold=True)


def _table(sheet, columns: Sequence[tuple[str, int, str | None]], rows: Iterable[Sequence],
           total: Sequence | None = None) -> None:
    """A header row (bold, frozen), the rows and an optional bold total row.
    ``columns``: (title, width in characters, number format of its cells)."""
    from openpyxl.utils import get_column_letter

    for column, (title, width, _) in enumerate(columns, start=1):
        _put(sheet, 1, column, title, bold=True)
        sheet.column_dimensions[get_column_letter(column)].width = width
    row_number = 1
    for row_number, values in enumerate(rows, start=2):
        for column, (value, (_, _, number_format)) in enumerate(zip(values, columns), start=1):
            _put(sheet, row_number, column, value, number_format)
    if total is not None:
        for column, (value, (_, _, number_format)) in enumerate(zip(total, columns), start=1):
            _put(sheet, row_number + 1, column, value, number_format, bold=True)
    sheet.freeze_panes = "A2"


def _chain_rows(chain: dict) -> list[tuple[str, object, str | None]]:
    """The hash chain's head the month was closed on (or, before the close,
    the head now): on the paper the agent signs, it anchors the history
    (`ledger audit verify`)."""
    if not chain:
        return []
    when = "khi khóa sổ" if chain.get("at_close") else "hiện tại, chưa khóa sổ"
    return [(f"Chuỗi băm: vị trí ({when})", chain["position"], _COUNT_FORMAT),
            ("Chuỗi băm: SHA-256", chain["hash"], None)]


def _summary_groups(summary: dict) -> list[tuple[str, list[tuple[str, object, str | None]]]]:
    """The district summary as (group title, [(label, value, number format)]),
    shared by the workbook (one list) and the PDF (a table per group)."""
    totals, queue, owed = summary["totals"], summary["unclaimed_queue"], summary["overpayments"]
    return [
        ("Thông tin chung", [
            ("Đơn vị", summary["office"], None),
            ("Số văn bản", document_number(summary["month"]), None),
            ("Tháng", summary["month"], None),
            ("Tình trạng", _status_text(summary), None),
            ("Số đại lý chi trả", len(summary["agents"]), _COUNT_FORMAT),
            ("Số khoản chênh lệch", len(_variance_rows(summary)), _COUNT_FORMAT),
            ("Tổng đã chi trả bằng chữ", vnd_in_words(totals["disbursed"]), None),
            *_chain_rows(summary.get("chain") or {}),
        ]),
        ("Quyết toán với đại lý", [
            ("Tổng tạm ứng (đồng)", totals["advance"], _VND_FORMAT),
            ("Tổng đã chi trả (đồng)", totals["disbursed"], _VND_FORMAT),
            ("Tổng phí dịch vụ (đồng)", totals["fee"], _VND_FORMAT),
            ("Tổng hoàn trả (đồng)", totals["returned"], _VND_FORMAT),
            ("Tổng số dư cuối kỳ (đồng)", totals["closing_balance"], _VND_FORMAT),
        ]),
        ("Không dùng tiền mặt và chưa nhận tiền", [
            ("Tỷ lệ chi trả không dùng tiền mặt", summary["cashless_share"], _SHARE_FORMAT),
            ("Tỷ lệ người nhận không dùng tiền mặt", _people_share(summary), _SHARE_FORMAT),
            ("Chưa nhận tiền: cần xác minh (người)", queue["verify"], _COUNT_FORMAT),
            ("Chưa nhận tiền: tạm dừng chi trả (người)", queue["suspended"], _COUNT_FORMAT),
            ("Chưa nhận tiền: số tiền đang giữ (đồng)", queue["held_vnd"], _VND_FORMAT),
        ]),
        ("Chi thừa cần thu hồi", [
            ("Chi thừa chưa thu hồi (khoản)", owed["open_count"], _COUNT_FORMAT),
            ("Chi thừa chưa thu hồi (đồng)", owed["open_vnd"], _VND_FORMAT),
            ("Chi thừa đã thu hồi (đồng)", owed["recovered_vnd"], _VND_FORMAT),
            ("Chi thừa đã xóa nợ (đồng)", owed["written_off_vnd"], _VND_FORMAT),
        ]),
    ]


def _share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def _people_share(summary: dict) -> float:
    """People paid by bank over all people paid in the month (offices report
    both this and the share of the amount)."""
    communes = summary["communes"]
    return _share(sum(c["people_bank"] for c in communes), sum(c["people_paid"] for c in communes))


def _fill_summary_sheet(sheet, summary: dict) -> None:
    sheet.title = SUMMARY_SHEET
    figures = [figure for _, group in _summary_groups(summary) for figure in group]
    _table(sheet, [("Chỉ tiêu", 44, None), ("Giá trị", 70, None)],
           [(label, value) for label, value, _ in figures])
    for row_number, (_, value, number_format) in enumerate(figures, start=2):
        if number_format:
            sheet.cell(row=row_number, column=2).number_format = number_format


def _agent_row(agent: dict) -> list:
    return [agent["agent_code"], *(agent[key] for key, _ in AGENT_AMOUNTS),
            agent["reported_balance"], _difference_vnd(agent), len(agent["variances"]),
            "Đã khóa" if agent["closed"] else "Chưa khóa"]


def _fill_agents_sheet(sheet, agents: Sequence[dict]) -> None:
    columns = [(AGENT_TITLE, 20, None),
               *((title, 16, _VND_FORMAT) for _, title in AGENT_AMOUNTS),
               (REPORTED_TITLE, 20, _VND_FORMAT), (DIFFERENCE_TITLE, 14, _VND_FORMAT),
               (VARIANCE_COUNT_TITLE, 19, _COUNT_FORMAT), (AGENT_STATUS_TITLE, 11, None)]
    totals = _agent_totals(agents)
    total_row = [TOTAL_LABEL, *(totals[key] for key, _ in AGENT_AMOUNTS),
                 totals["reported_balance"], totals["difference"],
                 sum(len(a["variances"]) for a in agents), None]
    _table(sheet, columns, [_agent_row(a) for a in agents], total_row)


def _variance_text(variance: dict) -> str:
    """The variance's detail, with who accepted it and why, once accepted."""
    accepted = variance.get("accepted")
    detail = variance_detail_text(variance)
    if not accepted:
        return detail
    return f"{detail}. Đã chấp nhận, lý do: {accepted['reason']} (người chấp nhận: {accepted['actor']})"


def _fill_variances_sheet(sheet, summary: dict) -> None:
    widths = (20, 42, 24, 15, 15, 60)
    formats = (None, None, None, None, _VND_FORMAT, None)
    rows = [(agent_code, variance_kind_text(v["kind"]), v["line_id"], v["citizen_id"], v["amount"],
             _variance_text(v)) for agent_code, v in _variance_rows(summary)]
    if not rows:
        rows = [(NO_VARIANCES,)]
    _table(sheet, list(zip(VARIANCE_TITLES, widths, formats)), rows)


def _fill_communes_sheet(sheet, summary: dict) -> None:
    widths = (10, 22, 24, 26, 18, 26, 30)
    formats = (None, _VND_FORMAT, _VND_FORMAT, _SHARE_FORMAT, _COUNT_FORMAT, _COUNT_FORMAT, _SHARE_FORMAT)
    communes = sorted(summary["communes"], key=lambda c: c["commune_code"])
    rows = [(c["commune_code"], c["paid_cash_vnd"], c["paid_bank_vnd"], c["cashless_share"],
             c["people_paid"], c["people_bank"], _share(c["people_bank"], c["people_paid"])) for c in communes]
    total = ("Toàn huyện", sum(c["paid_cash_vnd"] for c in communes),
             sum(c["paid_bank_vnd"] for c in communes), summary["cashless_share"],
             sum(c["people_paid"] for c in communes), sum(c["people_bank"] for c in communes),
             _people_share(summary))
    _table(sheet, list(zip(COMMUNE_TITLES, widths, formats)), rows, total)


# --- charts -------------------------------------------------------------------

def _figure(width_in: float, height_in: float):
    """A Figure on the Agg canvas, outside pyplot: no global state and no
    GUI backend, so a command on a server without a display can draw it."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width_in, height_in), dpi=_CHART_DPI, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _png(figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata=_PNG_METADATA)
    return buffer.getvalue()


def _no_data(axes, text: str) -> None:
    axes.text(0.5, 0.5, text, ha="center", va="center", transform=axes.transAxes, color="0.4")
    axes.set_xticks([])
    axes.set_yticks([])


def _vi_number(value: float, decimals: int = 0) -> str:
    """Vietnamese digit grouping: ``1.234.567,5``."""
    text = f"{value:,.{decimals}f}"
    return text.replace(",", "\0").replace(".", ",").replace("\0", ".")


def _percent(share: float) -> str:
    return _vi_number(share * 100, 1) + "%"


def _continuous_trend(points: Sequence[dict]) -> list[dict]:
    """Every month from the first to the last: a month without unclaimed
    lines has no row, and a gap on the axis would hide the good month."""
    if not points:
        return []
    by_month = {p["month"]: p for p in points}
    months = sorted(Month.parse(p["month"]) for p in points)
    return [by_month.get(str(m), {"month": str(m), "lines_unclaimed": 0, "amount_vnd": 0})
            for m in month_range(months[0], months[-1])]


def unclaimed_trend_png(summary: dict) -> bytes:
    """Unclaimed lines per month (bars) and the amount they hold (line, in
    million VND on the right-hand axis)."""
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    trend = _continuous_trend(summary["unclaimed_trend"])
    figure = _figure(7, 5.2)
    lines_axes = figure.add_subplot()
    lines_axes.set_title("Chi trả chưa nhận theo tháng")
    if not trend:
        _no_data(lines_axes, "Không có số liệu")
        return _png(figure)
    positions = range(len(trend))
    bars = lines_axes.bar(positions, [p["lines_unclaimed"] for p in trend], color="#8fb3d9",
                          label="Số dòng chưa nhận")
    if len(trend) <= 18:  # beyond that the counts crowd into each other; the axis reads them
        lines_axes.bar_label(bars, fontsize=9, padding=2)
    lines_axes.set_ylabel("Số dòng")
    lines_axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    lines_axes.set_ylim(0, max(1, *(p["lines_unclaimed"] for p in trend)) * 1.18)
    lines_axes.set_xticks(list(positions), [_month_label(p["month"]) for p in trend],
                          rotation=45 if len(trend) > 12 else 0, fontsize=9)
    lines_axes.set_xlabel("Tháng chi trả")

    amount_axes = lines_axes.twinx()
    amount_axes.plot(positions, [p["amount_vnd"] / 1e6 for p in trend], color="#c0392b",
                     marker="o", linewidth=2, label="Số tiền (triệu đồng)")
    amount_axes.set_ylabel("Triệu đồng")
    amount_axes.set_ylim(0, max(1, *(p["amount_vnd"] / 1e6 for p in trend)) * 1.18)
    amount_axes.yaxis.set_major_formatter(FuncFormatter(lambda v, _: _vi_number(v, 1)))

    handles = [bars, *amount_axes.get_lines()]
    lines_axes.legend(handles, [h.get_label() for h in handles], loc="best", fontsize=9)
    return _png(figure)


def cashless_by_commune_png(summary: dict) -> bytes:
    """Each commune's share paid by bank, highest at the top, against the
    district's share."""
    from matplotlib.ticker import FuncFormatter

    communes = sorted(summary["communes"], key=lambda c: (c["cashless_share"], c["commune_code"]))
    # A quarter of an inch per commune: a district's 30 or so fit on one
    # printed page beside the trend, labels still legible.
    figure = _figure(7, max(5.2, 1.6 + 0.25 * len(communes)))
    axes = figure.add_subplot()
    axes.set_title("Tỷ lệ chi trả không dùng tiền mặt theo xã")
    if not communes:
        _no_data(axes, "Không có số liệu")
        return _png(figure)
    # Two bars a commune: the share of the amount (as the district line) and
    # the share of the people paid by bank; the figure after each bar.
    rows = range(len(communes))
    amount = axes.barh([y + 0.2 for y in rows], [c["cashless_share"] * 100 for c in communes], height=0.4,
                       color="#5b9bd5", label="Số tiền")
    people = axes.barh([y - 0.2 for y in rows],
                       [_share(c["people_bank"], c["people_paid"]) * 100 for c in communes], height=0.4,
                       color="#2e7d4f", label="Số người")
    for bar in (*amount, *people):
        axes.text(bar.get_width() + 0.8, bar.get_y() + bar.get_height() / 2, _percent(bar.get_width() / 100),
                  va="center", ha="left", fontsize=7)
    axes.set_yticks(list(rows), [f"Xã {c['commune_code']}" for c in communes])
    district = summary["cashless_share"]
    axes.axvline(district * 100, color="#c0392b", linestyle="--", linewidth=1.5,
                 label=f"Toàn huyện: {_percent(district)}")
    axes.set_xlim(0, 100)
    axes.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.0f}%"))
    axes.set_xlabel("Tỷ lệ chi qua tài khoản")
    axes.tick_params(axis="y", labelsize=8)
    axes.legend(loc="lower right", fontsize=9)
    return _png(figure)


# --- PDF ----------------------------------------------------------------------

_FONT = "DejaVuSans"
_BOLD_FONT = "DejaVuSans-Bold"


def _register_fonts() -> None:
    """DejaVu Sans has every Vietnamese letter; the copy in matplotlib's
    package data is used so that no system font package is needed."""
    import matplotlib
    from reportlab.lib.fonts import addMapping
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    if _FONT in pdfmetrics.getRegisteredFontNames():
        return
    fonts = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    pdfmetrics.registerFont(TTFont(_FONT, str(fonts / "DejaVuSans.ttf")))
    pdfmetrics.registerFont(TTFont(_BOLD_FONT, str(fonts / "DejaVuSans-Bold.ttf")))
    # So that <b> in a paragraph picks the bold face.
    for italic in (0, 1):
        addMapping(_FONT, 0, italic, _FONT)
        addMapping(_FONT, 1, italic, _BOLD_FONT)


def _pdf_text(text: str) -> str:
    """Paragraph markup of free text. reportlab places glyphs without
    shaping, so decomposed diacritics (as some spreadsheets save them) would
    print beside their letter: compose them first."""
    return escape(unicodedata.normalize("NFC", str(text)))


def _vnd(amount_vnd: int | None) -> str:
    return "" if amount_vnd is None else _vi_number(amount_vnd)


class _Styles:
    def __init__(self) -> None:
        from reportlab.lib import colors
        from reportlab.lib.enums import TA_CENTER, TA_RIGHT
        from reportlab.lib.styles import ParagraphStyle

        body = ParagraphStyle("body", fontName=_FONT, fontSize=9, leading=12)
        self.body = body
        self.office = ParagraphStyle("office", body, fontName=_BOLD_FONT, fontSize=10)
        self.header_left = ParagraphStyle("header_left", body, fontName=_BOLD_FONT, fontSize=10,
                                          alignment=TA_CENTER)
        self.header_right = ParagraphStyle("header_right", self.header_left, fontSize=11)
        self.header_note = ParagraphStyle("header_note", body, alignment=TA_CENTER)
        self.title = ParagraphStyle("title", body, fontName=_BOLD_FONT, fontSize=15, leading=19,
                                    alignment=TA_CENTER, spaceBefore=6)
        self.subtitle = ParagraphStyle("subtitle", body, fontSize=11, leading=15, alignment=TA_CENTER)
        self.final = ParagraphStyle("final", self.subtitle, fontName=_BOLD_FONT,
                                    textColor=colors.HexColor("#1e7b34"))
        self.provisional = ParagraphStyle("provisional", self.final, textColor=colors.HexColor("#c0392b"))
        self.heading = ParagraphStyle("heading", body, fontName=_BOLD_FONT, fontSize=11, leading=14,
                                      spaceBefore=8, spaceAfter=4)
        self.cell = ParagraphStyle("cell", body, fontSize=8, leading=10)
        self.header_cell = ParagraphStyle("header_cell", self.cell, fontName=_BOLD_FONT,
                                          alignment=TA_CENTER)
        # A number too wide for its cell runs over the border rather than
        # breaking into two lines that read as two amounts.
        self.amount = ParagraphStyle("amount", self.cell, alignment=TA_RIGHT, splitLongWords=0)
        self.caption = ParagraphStyle("caption", body, fontSize=8, textColor=colors.HexColor("#555555"))
        self.signature = ParagraphStyle("signature", body, alignment=TA_CENTER)


def settlement_pdf(summary: dict, trend_png: bytes, cashless_png: bytes) -> bytes:
    """The settlement on A4 landscape: the per-agent table needs ten columns
    of full VND amounts, which portrait paper only fits in unreadable type."""
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.units import mm
    from reportlab.platypus import KeepTogether, PageBreak, SimpleDocTemplate

    _register_fonts()
    styles = _Styles()
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer, pagesize=landscape(A4), leftMargin=15 * mm, rightMargin=15 * mm,
        topMargin=12 * mm, bottomMargin=14 * mm,
        title=f"{REPORT_TITLE} {summary['month']}", author=summary["office"],
        subject=f"Quyết toán chi trả {summary['month']}",
        # A fixed creation date and document id: the same summary, the same bytes.
        invariant=1)
    story = [
        *_title_block(summary, styles),
        *_agents_section(summary, styles, document.width),
        *_words_section(summary, styles),
        *_variances_section(summary, styles, document.width),
        # The signatures close the figures they sign: never alone on a page.
        KeepTogether([*_summary_section(summary, styles, document.width),
                      *_signatures(styles, document.width)]),
        # The charts are an annex on a page of their own, after the signatures.
        PageBreak(),
        *_charts_section(trend_png, cashless_png, styles, document.width, document.height),
    ]
    decorate = _page_decorator(summary)
    document.build(story, onFirstPage=decorate, onLaterPages=decorate)
    return buffer.getvalue()


def _page_decorator(summary: dict):
    """Footer on every page; while the month is open, a large pale
    PROVISIONAL across each page, drawn first so the figures stay legible."""
    from reportlab.lib import colors
    from reportlab.lib.units import mm
    from reportlab.pdfbase.pdfmetrics import stringWidth

    footer = f"{summary['office']} - {REPORT_TITLE} - tháng {_month_label(summary['month'])}"
    footer = unicodedata.normalize("NFC", footer)
    # The chain's head on every page: a page taken out of the signed copy
    # still names the history it was printed from.
    chain = summary.get("chain") or {}
    anchor = (f"Chuỗi băm {'khi khóa sổ' if chain.get('at_close') else 'hiện tại'}: vị trí "
              f"{chain['position']}, SHA-256 {chain['hash']}") if chain else ""

    def decorate(canvas, document) -> None:
        width, height = document.pagesize
        canvas.saveState()
        if not summary["closed"]:
            canvas.setFillColor(colors.HexColor("#c0392b"))
            canvas.setFillAlpha(0.10)
            # As large as fits across the page once turned.
            size = min(64, 0.8 * width / stringWidth(PROVISIONAL_MARK, _BOLD_FONT, 1))
            canvas.setFont(_BOLD_FONT, size)
            canvas.translate(width / 2, height / 2)
            canvas.rotate(30)
            canvas.drawCentredString(0, -20, PROVISIONAL_MARK)
            canvas.rotate(-30)
            canvas.translate(-width / 2, -height / 2)
            canvas.setFillAlpha(1)
        canvas.setFillColor(colors.HexColor("#555555"))
        canvas.setFont(_FONT, 7.5)
        canvas.drawString(document.leftMargin, 9 * mm, footer)
        if anchor:
            canvas.setFont(_FONT, 6.5)
            canvas.drawString(document.leftMargin, 6 * mm, anchor)
            canvas.setFont(_FONT, 7.5)
        canvas.drawRightString(width - document.rightMargin, 9 * mm, f"Trang {document.page}")
        canvas.restoreState()

    return decorate


def document_number(month: str) -> str:
    """The report's number in the office's register of documents: month,
    year and QTCT (quyết toán chi trả)."""
    parsed = Month.parse(month)
    return f"Số: {parsed.month:02d}/{parsed.year}/QTCT"


def _title_block(summary: dict, styles: _Styles) -> list:
    """The national header of an administrative document (Decree
    30/2020/NĐ-CP): the office and the document's number on the left, the
    nation and its motto on the right, the place and date left for the pen."""
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, Spacer, Table, TableStyle

    status = (Paragraph(_pdf_text(FINAL_STATUS), styles.final) if summary["closed"]
              else Paragraph(_pdf_text(PROVISIONAL_STATUS), styles.provisional))
    month = Month.parse(summary["month"])
    header = Table([
        [Paragraph(_pdf_text(summary["office"].upper()), styles.header_left),
         Paragraph(_pdf_text(NATION), styles.header_right)],
        [Paragraph(_pdf_text(document_number(summary["month"])), styles.header_note),
         Paragraph(_pdf_text(MOTTO), styles.header_right)],
        ["", Paragraph("......, ngày ...... tháng ...... năm ........", styles.header_note)],
    ], colWidths=[110 * mm, 157 * mm])
    header.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"),
                                ("LINEBELOW", (1, 1), (1, 1), 0.6, "black")]))
    return [
        header,
        Paragraph(_pdf_text(REPORT_TITLE.upper()), styles.title),
        Paragraph(f"Tháng {month.month} năm {month.year}", styles.subtitle),
        status,
        Paragraph("Đơn vị tính: đồng", styles.caption),
        Spacer(1, 4),
    ]


def _words_section(summary: dict, styles: _Styles) -> list:
    """The month's totals in figures and in words, as a financial document
    states them (the words stop a figure being altered on paper)."""
    from reportlab.platypus import Paragraph

    totals = summary["totals"]
    out = []
    for label, amount in (("Tổng số tiền tạm ứng", totals["advance"]),
                          ("Tổng số tiền đã chi trả", totals["disbursed"]),
                          ("Tổng phí dịch vụ chi trả", totals["fee"])):
        out.append(Paragraph(f"<b>{_pdf_text(label)}: {_vnd(amount)} đồng.</b> "
                             f"<i>Bằng chữ: {_pdf_text(vnd_in_words(amount))}.</i>", styles.body))
    return out


def _grid_style(header_rows: int = 1, total_row: bool = False):
    from reportlab.lib import colors
    from reportlab.platypus import TableStyle

    commands = [
        ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#888888")),
        ("BACKGROUND", (0, 0), (-1, header_rows - 1), colors.HexColor("#e4ebf5")),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("TOPPADDING", (0, 0), (-1, -1), 2),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
        ("LEFTPADDING", (0, 0), (-1, -1), 3),
        ("RIGHTPADDING", (0, 0), (-1, -1), 3),
    ]
    if total_row:
        commands.append(("BACKGROUND", (0, -1), (-1, -1), colors.HexColor("#f2f2f2")))
    return TableStyle(commands)


def _cells(values: Sequence, styles: Sequence, bold: bool = False) -> list:
    from reportlab.platypus import Paragraph

    wrap = (lambda text: f"<b>{text}</b>") if bold else (lambda text: text)
    return [Paragraph(wrap(_pdf_text(value)), style) for value, style in zip(values, styles)]


def _agents_section(summary: dict, styles: _Styles, width: float) -> list:
    from reportlab.platypus import Paragraph, Table

    agents = summary["agents"]
    titles = [AGENT_TITLE, *(title for _, title in AGENT_AMOUNTS), REPORTED_TITLE, DIFFERENCE_TITLE,
              VARIANCE_COUNT_TITLE, AGENT_STATUS_TITLE]
    column_styles = [styles.cell, *[styles.amount] * 9, styles.cell]
    rows = [_cells(titles, [styles.header_cell] * len(titles))]
    for agent in agents:
        reported = agent["reported_balance"]
        values = [agent["agent_code"], *(_vnd(agent[key]) for key, _ in AGENT_AMOUNTS),
                  "chưa báo cáo" if reported is None else _vnd(reported),
                  _vnd(_difference_vnd(agent)), str(len(agent["variances"])),
                  "Đã khóa" if agent["closed"] else "Chưa khóa"]
        rows.append(_cells(values, column_styles))
    totals = _agent_totals(agents)
    total_values = [TOTAL_LABEL, *(_vnd(totals[key]) for key, _ in AGENT_AMOUNTS),
                    _vnd(totals["reported_balance"]), _vnd(totals["difference"]),
                    str(sum(len(a["variances"]) for a in agents)), ""]
    rows.append(_cells(total_values, column_styles, bold=True))
    # The amount columns hold a bold ten-digit total ("2.356.220.000").
    fractions = [0.1, *[0.094] * 8, 0.078, 0.07]
    table = Table(rows, colWidths=[width * f for f in fractions], repeatRows=1)
    table.setStyle(_grid_style(total_row=True))
    return [Paragraph("1. Quyết toán theo đại lý chi trả", styles.heading),
            table,
            Paragraph("Số dư cuối kỳ = Số dư đầu kỳ + Tạm ứng - Đã chi trả - Hoàn trả (phí dịch vụ tạm ứng "
                      "và thanh toán riêng); "
                      "Chênh lệch = Số dư đại lý báo cáo - Số dư cuối kỳ.", styles.caption)]


def _variances_section(summary: dict, styles: _Styles, width: float) -> list:
    from reportlab.platypus import Paragraph, Table

    heading = Paragraph("2. Chênh lệch", styles.heading)
    variances = _variance_rows(summary)
    if not variances:
        return [heading, Paragraph(NO_VARIANCES + ".", styles.body)]
    column_styles = [styles.cell, styles.cell, styles.cell, styles.cell, styles.amount, styles.cell]
    rows = [_cells(VARIANCE_TITLES, [styles.header_cell] * len(VARIANCE_TITLES))]
    for agent_code, v in variances:
        rows.append(_cells([agent_code, variance_kind_text(v["kind"]), v["line_id"] or "-",
                            v["citizen_id"] or "-", _vnd(v["amount"]), _variance_text(v)], column_styles))
    fractions = [0.1, 0.23, 0.14, 0.1, 0.09, 0.34]
    table = Table(rows, colWidths=[width * f for f in fractions], repeatRows=1)
    table.setStyle(_grid_style())
    return [heading, table]


def _figure_text(value, number_format: str | None) -> str:
    if number_format == _SHARE_FORMAT:
        return _percent(value)
    return _vi_number(value) if number_format else str(value)


def _summary_section(summary: dict, styles: _Styles, width: float) -> list:
    """The district's figures as three small tables side by side. The
    general group is left out: the title and the tables above show it."""
    from reportlab.platypus import Paragraph, Table, TableStyle

    gap = width * 0.02
    group_width = (width - 2 * gap) / 3
    tables = []
    for title, figures in _summary_groups(summary)[1:]:
        rows = [[Paragraph(f"<b>{_pdf_text(title)}</b>", styles.cell), ""]]
        rows += [_cells([label, _figure_text(value, number_format)], [styles.cell, styles.amount])
                 for label, value, number_format in figures]
        table = Table(rows, colWidths=[group_width * 0.7, group_width * 0.3])
        style = _grid_style()
        style.add("SPAN", (0, 0), (1, 0))
        table.setStyle(style)
        tables.append(table)
    row = Table([[tables[0], "", tables[1], "", tables[2]]],
                colWidths=[group_width, gap, group_width, gap, group_width])
    row.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"),
                             ("LEFTPADDING", (0, 0), (-1, -1), 0),
                             ("RIGHTPADDING", (0, 0), (-1, -1), 0)]))
    # The chain's head, printed so the paper copy the agent signs anchors the
    # recorded history (the general group above is left out of the PDF).
    chain = [Paragraph(f"{_pdf_text(label)}: {_pdf_text(str(value))}", styles.cell)
             for label, value, _ in _chain_rows(summary.get("chain") or {})]
    return [Paragraph("3. Tổng hợp toàn huyện", styles.heading), row, *chain]


def _image(png: bytes, max_width: float, max_height: float):
    """The chart scaled to fit its box, keeping its proportions."""
    from reportlab.lib.utils import ImageReader
    from reportlab.platypus import Image

    pixels_wide, pixels_high = ImageReader(io.BytesIO(png)).getSize()
    scale = min(max_width / pixels_wide, max_height / pixels_high)
    return Image(io.BytesIO(png), width=pixels_wide * scale, height=pixels_high * scale)


def _charts_section(trend_png: bytes, cashless_png: bytes, styles: _Styles, width: float,
                    height: float) -> list:
    from reportlab.lib.units import mm
    from reportlab.platypus import KeepTogether, Paragraph, Table, TableStyle

    # Side by side, each as large as half the page and its height allow
    # (the heading takes the rest).
    box_width, box_height = width / 2 - 3 * mm, height - 20 * mm
    charts = Table([[_image(trend_png, box_width, box_height), _image(cashless_png, box_width, box_height)]],
                   colWidths=[width / 2, width / 2])
    charts.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"),
                                ("ALIGN", (0, 0), (-1, -1), "CENTER")]))
    return [KeepTogether([Paragraph("Phụ lục: Biểu đồ", styles.heading), charts])]


def _signatures(styles: _Styles, width: float) -> list:
    """The signature block of a Vietnamese financial report. The date is
    left for the pen: the report is printed before it is signed, and a
    printed date would also make the file differ from day to day."""
    from reportlab.platypus import Paragraph, Spacer, Table, TableStyle

    roles = (("ĐẠI DIỆN ĐẠI LÝ CHI TRẢ", "(Ký, ghi rõ họ tên, đóng dấu)"),
             ("NGƯỜI LẬP BIỂU", "(Ký, ghi rõ họ tên)"), ("KẾ TOÁN", "(Ký, ghi rõ họ tên)"),
             ("THỦ TRƯỞNG ĐƠN VỊ", "(Ký, ghi rõ họ tên, đóng dấu)"))
    dated = ["", "", "", Paragraph("Ngày ...... tháng ...... năm ........", styles.signature)]
    cells = [Paragraph(f"<b>{role}</b><br/>{hint}", styles.signature) for role, hint in roles]
    # Room below the titles for the signatures and the seals.
    table = Table([dated, cells, [""] * len(roles)], colWidths=[width / len(roles)] * len(roles),
                  rowHeights=[None, None, 42])
    table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP")]))
    return [Spacer(1, 6), table]
