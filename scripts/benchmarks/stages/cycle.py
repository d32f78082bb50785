"""A payroll month as the office runs it, each step one ``ledger``
command: the month's later decisions (timed, outside the cycle), then the
cycle: ``payroll run`` (with its files), the post offices' and banks'
result files (``import postoffice``/``import bank``, one per file), and
``settlement reconcile`` with the result files as evidence. The month's
death notices (``import deaths``) are timed beside it, outside the cycle,
and so is the month's ``settlement close`` (each variance of the books
accepted; their keys read first, untimed, from ``settlement reconcile``).
Every command catches the read models up itself. One process per month."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

from ..ledger_cli import ledger
from ..measure import Figure, stopwatch, with_ratios
from ..worker import load_province

GENERATE = Path(__file__).resolve().parent.parent.parent / "generate.py"
CYCLE_STEPS = ("payroll", "postoffice", "bank", "reconcile")  # the month cycle's goal


def agents_results(work, payroll_dir: Path) -> dict[str, Any]:
    """The agents pay the lists and report back (generate.py results), in a
    process of its own: the agents' side, neither timed nor in the memory."""
    command = [sys.executable, str(GENERATE), "results", "--payroll-dir", str(payroll_dir),
               "--month", work.month, "--province", work.province,
               "--out", str(Path(work.folder) / "results")]
    with stopwatch() as took:
        completed = subprocess.run(command, check=True, capture_output=True, text=True)
    made = json.loads(completed.stdout)
    made["seconds"] = round(took["seconds"], 3)
    return made


def import_results(url: str, kind: str, files: list[dict[str, Any]]):
    """Every result file of one kind, one ``ledger import`` each."""
    def run():
        rows = recorded = unchanged = suspended = flagged = 0
        statuses: dict[str, int] = defaultdict(int)
        for made in files:
            summary = ledger(url, "import", kind, made["file"])
            rows += summary["rows"]
            recorded += summary["recorded_events"]
            unchanged += summary["unchanged_rows"]
            suspended += len(summary["suspended"])
            flagged += len(summary["paid_after_death"])
            for status, count in made["statuses"].items():
                statuses[status] += count
        return "rows", rows, dict(files=len(files), recorded=recorded, unchanged=unchanged,
                                  suspended=suspended, paid_after_death=flagged,
                                  statuses=dict(sorted(statuses.items())))
    return run


def work(work, steps, out: dict[str, Any]) -> None:
    province = load_province(work)
    month, url = work.month, work.url
    # The office handles the month's results and notices on the 28th: after
    # the agents paid, before the next payroll (suspensions are dated by it).
    os.environ["LEDGER_TODAY"] = out["office_day"] = f"{month}-28"
    out["month"] = month
    out["steps"] = done = {}
    payroll_dir = Path(work.folder) / "payroll"

    def decide():
        entry = province["later_decisions"][month]
        summary = ledger(url, "import", "decisions", str(Path(work.province) / entry["file"]))
        return "rows", summary["rows"], dict(recorded_events=summary["recorded_events"],
                                             unchanged_rows=summary["unchanged_rows"])
    steps.measure(done, "decisions", "decisions", decide)

    def payroll():
        summary = ledger(url, "payroll", "run", "--month", month, "--out", str(payroll_dir))
        return "lines", summary["lines"] + summary["carried_lines"], dict(
            new_lines=summary["lines"], carried_lines=summary["carried_lines"],
            advance_vnd=summary["amount"], carried_vnd=summary["carried_amount"],
            files=len(summary["files"]), issued_now=summary["issued_now"])
    steps.measure(done, "payroll", "payroll run", payroll)

    made = agents_results(work, payroll_dir)
    out["agents_results_seconds"] = made["seconds"]
    by_channel = {c: [m for m in made["files"] if m["channel"] == c] for c in ("cash", "bank")}
    steps.measure(done, "postoffice", "post office results",
                  import_results(url, "postoffice", by_channel["cash"]))
    steps.measure(done, "bank", "bank results", import_results(url, "bank", by_channel["bank"]))

    notices = province["death_notices"][month]

    def deaths():
        if not notices["rows"]:
            return "rows", 0, dict(recorded_events=0)
        summary = ledger(url, "import", "deaths", str(Path(work.province) / notices["file"]))
        return "rows", summary["rows"], dict(recorded_events=summary["recorded_events"])
    steps.measure(done, "deaths", "death notices", deaths)

    def reconcile():
        evidence = [word for m in made["files"] for word in ("--results", m["file"])]
        settlements = ledger(url, "settlement", "reconcile", "--month", month, *evidence)
        return "rows", sum(m["rows"] for m in made["files"]), dict(
            agents=len(settlements), variances=sum(len(s["variances"]) for s in settlements))
    steps.measure(done, "reconcile", "settlement reconcile", reconcile)

    # The keys of the variances the close settles on (the books', not the
    # evidence's), read before the close so that its own time is all it is.
    keys = [f"{s['agent_code']}/{v['kind']}/{v['line_id']}"
            for s in ledger(url, "settlement", "reconcile", "--month", month) for v in s["variances"]
            if not v.get("accepted")]

    def close():
        accepted = [word for key in keys for word in ("--accept", f"{key}=benchmark: accepted")]
        closed = ledger(url, "settlement", "close", "--month", month, *accepted)
        return "variances", len(keys), dict(closed=closed["closed"])
    steps.measure(done, "close", "settlement close", close)


def collect(run, target, url: str, done: dict[str, Any]) -> dict[str, Any]:
    raw = done["baseline"].get("raw", {})
    months: dict[str, Any] = {}
    failure = None
    for month in run.months:
        data = run.spawn(target, url, "cycle", month)
        steps = data.get("steps", {})
        for figure in steps.values():
            with_ratios(figure, raw)
        if all(key in steps for key in CYCLE_STEPS):
            data["cycle"] = Figure(
                "lines", steps["payroll"]["count"],
                seconds=sum(steps[k]["seconds"] for k in CYCLE_STEPS),
                cpu_seconds=sum(steps[k]["cpu_seconds"] for k in CYCLE_STEPS),
                extra=dict(steps=list(CYCLE_STEPS))).as_dict()
        months[month] = data
        if data.get("failure"):
            failure = data["failure"]
            break
    peaks = [m["peak_rss_mib"] for m in months.values() if m.get("peak_rss_mib")]
    return dict(raw_primary=target.primary_raw, raw_labels=target.raw_labels, raw=raw, months=months,
                peak_rss_mib=max(peaks, default=None), failure=failure)
