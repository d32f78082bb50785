"""Charts drawn on the server as SVG for the Reports screen: no script,
no inline style (the content security policy allows neither), only
presentation attributes; every text escaped. Each chart is an image with
its own title and description for screen readers, and the same figures
are in a table beside it."""
from __future__ import annotations

from html import escape
from typing import Sequence

from markupsafe import Markup

BAR = "#0b4f9c"
BAR_ALT = "#00703c"
AXIS = "#505a5f"
TEXT = "#1b1b1b"
GRID = "#c9d1db"


def _text(x: float, y: float, text: str, *, anchor: str = "start", size: int = 12, weight: str = "normal",
          fill: str = TEXT) -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" '
            f'font-weight="{weight}" fill="{fill}">{escape(text)}</text>')


def _svg(width: int, height: int, title: str, description: str, body: list[str], chart_id: str) -> Markup:
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" role="img" aria-labelledby="{chart_id}-t {chart_id}-d" '
        f'font-family="system-ui, \'Noto Sans\', Arial, sans-serif">'
        f'<title id="{chart_id}-t">{escape(title)}</title><desc id="{chart_id}-d">{escape(description)}</desc>'
        + "".join(body) + "</svg>")


def _nice_step(value: float, ticks: int = 4) -> float:
    """A round step (1, 2, 2.5 or 5 times a power of ten) such that
    ``ticks`` steps reach at least ``value``."""
    if value <= 0:
        return 1.0
    raw = value / ticks
    magnitude = 10 ** (len(str(int(raw))) - 1) if raw >= 1 else 1
    for step in (1, 2, 2.5, 5, 10):
        if step * magnitude >= raw:
            return step * magnitude
    return 10 * magnitude


def _short_vnd(amount: float) -> str:
    if amount >= 1_000_000:
        return f"{amount / 1_000_000:.2f}".rstrip("0").rstrip(".").replace(".", ",") + " tr"
    if amount >= 1_000:
        return f"{amount / 1_000:.0f} nghìn"
    return f"{amount:.0f}"


def column_chart(chart_id: str, title: str, labels: Sequence[str], values: Sequence[int],
                 notes: Sequence[str] = (), width: int = 640, height: int = 260) -> Markup:
    """Vertical bars, one per label (months), amounts in VND."""
    left, right, top, bottom = 70, 10, 30, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    top_value = 4 * _nice_step(max(values, default=0))
    body = [_text(left, 18, title, size=14, weight="bold")]
    for i in range(5):
        value = top_value * i / 4
        y = top + plot_h - plot_h * i / 4
        body.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" stroke="{GRID}"/>')
        body.append(_text(left - 6, y + 4, _short_vnd(value), anchor="end", size=11, fill=AXIS))
    slot = plot_w / max(len(values), 1)
    bar_w = min(48, slot * 0.6)
    for i, (label, value) in enumerate(zip(labels, values)):
        x = left + slot * i + (slot - bar_w) / 2
        h = plot_h * value / top_value
        body.append(f'<rect x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
                    f'fill="{BAR}"/>')
        body.append(_text(x + bar_w / 2, height - bottom + 16, label, anchor="middle", size=11))
        if i < len(notes) and notes[i]:
            body.append(_text(x + bar_w / 2, top + plot_h - h - 4, notes[i], anchor="middle", size=11))
    body.append(f'<line x1="{left}" y1="{top + plot_h}" x2="{width - right}" y2="{top + plot_h}" stroke="{AXIS}"/>')
    description = "; ".join(f"{label}: {value} đồng" for label, value in zip(labels, values)) or "không có số liệu"
    return _svg(width, height, title, description, body, chart_id)


def share_bars(chart_id: str, title: str, rows: Sequence[tuple[str, float, float]], width: int = 640) -> Markup:
    """Horizontal bars per commune: share of people and share of VND paid
    without cash (0..1), with a 50 % guide."""
    left, right, top, row_h = 90, 60, 44, 34
    height = top + row_h * max(len(rows), 1) + 24
    plot_w = width - left - right
    body = [_text(left, 18, title, size=14, weight="bold"),
            f'<rect x="{left}" y="26" width="12" height="10" fill="{BAR}"/>', _text(left + 16, 35, "người", size=11),
            f'<rect x="{left + 70}" y="26" width="12" height="10" fill="{BAR_ALT}"/>',
            _text(left + 86, 35, "số tiền", size=11)]
    for i in range(5):
        x = left + plot_w * i / 4
        body.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{height - 22}" stroke="{GRID}"/>')
        body.append(_text(x, height - 8, f"{25 * i} %", anchor="middle", size=11, fill=AXIS))
    for i, (label, people, amount) in enumerate(rows):
        y = top + row_h * i + 4
        body.append(_text(left - 6, y + 17, label, anchor="end", size=12))
        for j, (share, colour) in enumerate(((people, BAR), (amount, BAR_ALT))):
            body.append(f'<rect x="{left}" y="{y + j * 13:.1f}" width="{plot_w * share:.1f}" height="12" '
                        f'fill="{colour}"/>')
            body.append(_text(left + plot_w * share + 4, y + j * 13 + 10, f"{share * 100:.1f} %".replace(".", ","),
                              size=10))
    description = "; ".join(f"{label}: {people * 100:.1f}% người, {amount * 100:.1f}% số tiền"
                            for label, people, amount in rows) or "không có số liệu"
    return _svg(width, height, title, description, body, chart_id)
