"""A district for the web benchmark: N people run month by month through
the ledger's own commands (decisions, death notices, payroll with its files,
the agents' results, the close), as ``ledger demo`` does, on the store the
URL names. Resumable: each month is one step, and a run carries on from the
month after the last one closed, so a time budget can stop it between months
and a later run finish the history.

    PYTHONPATH=scripts:. python3 -m benchmarks.web_district \\
        --db postgresql://... --n 100000 --months 24 --budget-minutes 0

The full size of the web goal is ``--n 100000 --months 24``; on a 2-core
machine that is hours, not minutes (about 75 s a month at 100,000)."""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from adapters import synthetic
from adapters.bootstrap import open_runtime
from adapters.commands import Commands
from adapters.demo import DEMO_OFFICE, DEMO_TREASURY_ACCOUNT, _agent_results, _close
from adapters.queries import Queries
from adapters.settings import LedgerSettings
from adapters.web.users import UserStore
from ledger.months import Month, month_range

FIRST = Month.parse("2023-01")
PASSWORD = "mat-khau-dai-1"
USERS = (("canbo", "officer"), ("lanhdao", "approver"), ("kiemtoan", "auditor"))


def settings_for(url: str) -> LedgerSettings:
    return LedgerSettings(database_url=url, office_name=DEMO_OFFICE, treasury_account=DEMO_TREASURY_ACCOUNT)


def populate(url: str, n: int, months_count: int, seed: int, out: Path, budget_seconds: float) -> dict:
    started = time.monotonic()
    months = month_range(FIRST, FIRST + (months_count - 1))
    registered = synthetic.registrations(n, seed=seed, first=FIRST - 2, months_count=6)
    dead = synthetic.deaths(registered, seed=seed, first=FIRST, last=months[-1])
    done: list[dict] = []
    with open_runtime(settings=settings_for(url)) as runtime:
        queries, commands = Queries(runtime), Commands(runtime)
        users = UserStore(runtime.engine)
        for name, role in USERS:
            if users.get(name) is None:
                users.add(name, role, PASSWORD)
        ran = {c.month for c in queries.payroll_calendar()}
        for month in months:
            if month in ran:
                continue
            if budget_seconds and time.monotonic() - started > budget_seconds:
                print(f"budget reached before {month}", file=sys.stderr)
                break
            t0 = time.monotonic()
            arriving = [r for r in registered if Month.parse(r["effective_month"]) == month
                        or (month == FIRST and Month.parse(r["effective_month"]) < month)]
            earlier = {r["citizen_id"] for r in registered if Month.parse(r["effective_month"]) < month}
            changes = [c for c in synthetic.later_decisions(registered, seed=seed, month=month, share=0.01)
                       if c["citizen_id"] in earlier]
            if arriving or changes:
                commands.import_decisions(synthetic.write_csv(out / f"decisions-{month}.csv",
                                                              arriving + changes), "bench-officer")
            notices = synthetic.death_notices(dead, month)
            if notices:
                commands.import_deaths(synthetic.write_csv(out / f"deaths-{month}.csv", notices,
                                                           synthetic.DEATH_COLUMNS), "bench-officer")
            payroll = commands.run_payroll(month, out / "payroll" / str(month), "bench-officer")
            _agent_results(commands, payroll.files, month, out / str(month), seed, "bench-officer", dead)
            _close(commands, queries, month)
            took = time.monotonic() - t0
            done.append({"month": str(month), "seconds": round(took, 1), "lines": payroll.lines})
            print(f"{month}: {payroll.lines} lines, {took:.1f} s", file=sys.stderr, flush=True)
        calendar = queries.payroll_calendar()
        events = queries.store_status().events
    return {"n": n, "months_run": len(calendar), "months_asked": months_count, "events": events,
            "this_run": done, "seconds": round(time.monotonic() - started, 1)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", required=True)
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", default="bench-results/web-district-files")
    parser.add_argument("--budget-minutes", type=float, default=0, help="stop between months after this (0: none)")
    args = parser.parse_args(argv)
    result = populate(args.db, args.n, args.months, args.seed, Path(args.out), args.budget_minutes * 60)
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
