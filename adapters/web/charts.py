"""Small charts drawn on the server as SVG (no script, no library): the
geometry is computed here, the template only writes the elements."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str  # what a screen reader and a tooltip say


@dataclass(frozen=True)
class Tick:
    x: float
    y: float
    text: str


@dataclass(frozen=True)
class BarChart:
    width: int
    height: int
    baseline: float
    due: tuple[Bar, ...]
    paid: tuple[Bar, ...]
    x_ticks: tuple[Tick, ...]
    y_ticks: tuple[Tick, ...]
    left: float
    right: float


def schedule_chart(months, money, width: int = 760, height: int = 190) -> BarChart | None:
    """Each month's amount due (outlined) beside what was paid out for it
    (filled); ``months`` are the report's MonthLine values, ``money`` formats VND."""
    months = list(months)
    if not months:
        return None
    left, right, top, bottom = 78.0, 8.0, 10.0, 28.0
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max(max(m.due, m.disbursed, m.issued) for m in months) or 1
    step = plot_w / len(months)
    bar_w = max(1.0, step * 0.38)
    base = top + plot_h

    def h(amount: int) -> float:
        return plot_h * amount / peak

    due, paid, ticks = [], [], []
    every = max(1, len(months) // 12)  # about twelve month labels at most
    for i, m in enumerate(months):
        x = left + i * step + step * 0.1
        due.append(Bar(round(x, 1), round(base - h(m.due), 1), round(bar_w, 1), round(h(m.due), 1),
                       f"{m.month}: phải trả {money(m.due)}"))
        paid.append(Bar(round(x + bar_w, 1), round(base - h(m.disbursed), 1), round(bar_w, 1),
                        round(h(m.disbursed), 1), f"{m.month}: đã chi {money(m.disbursed)}"))
        if i % every == 0:
            ticks.append(Tick(round(left + i * step + step / 2, 1), base + 16, str(m.month)))
    y_ticks = tuple(Tick(left - 6, round(base - plot_h * f, 1) + 4, money(int(peak * f))) for f in (0, 0.5, 1))
    return BarChart(width, height, base, tuple(due), tuple(paid), tuple(ticks), y_ticks, left, width - right)
