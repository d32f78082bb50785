"""``ledger rules whatif --level``: a year of everyone's schedule at a new
standard level beside the current rules, recording nothing; people/s."""
from __future__ import annotations

from typing import Any

from ..ledger_cli import ledger
from ..measure import with_ratios
from ..worker import load_province

WHATIF_LEVEL_VND = 600_000
WHATIF_MONTHS_COUNT = 12


def add_months(month: str, count: int) -> str:
    year, number = map(int, month.split("-"))
    index = year * 12 + number - 1 + count
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def work(work, steps, out: dict[str, Any]) -> None:
    first = add_months(load_province(work)["payroll_months"][0], 6)
    last = add_months(first, WHATIF_MONTHS_COUNT - 1)

    def whatif():
        result = ledger(work.url, "rules", "whatif", "--level", str(WHATIF_LEVEL_VND),
                        "--from", first, "--to", last)
        return "people", result["people"], dict(
            first=first, last=last, level_vnd=WHATIF_LEVEL_VND, changed_months=len(result["changed"]),
            changed_people=len({c["citizen_id"] for c in result["changed"]}),
            baseline_total_vnd=result["baseline_total"], candidate_total_vnd=result["candidate_total"],
            difference_vnd=result["difference"])
    steps.measure(out, "whatif", f"what-if {WHATIF_MONTHS_COUNT} months", whatif)


def collect(run, target, url: str, done: dict[str, Any]) -> dict[str, Any]:
    data = run.spawn(target, url, "whatif")
    if "whatif" in data:
        with_ratios(data["whatif"], done["baseline"].get("read", {}), "ratio_to_baseline_read")
    data.update(read_primary=target.primary_read, read_labels=target.read_labels)
    return data
