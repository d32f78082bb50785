"""``ledger demo``: a synthetic district run through the ledger on the
embedded SQLite store, printing what a payment officer would look at."""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from ledger.months import Month

from . import synthetic
from .cli import beneficiary_report, entitlements_report
from .runtime import Ledger
from .store import open_store

DEMO_URL = "sqlite:///ledger-demo.db"


def _fresh_sqlite(url: str) -> None:
    store = open_store(url)
    if store.kind == "sqlite":
        path = Path(store.env["SQLITE_DBNAME"])
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)


def run_demo(args: argparse.Namespace) -> None:
    url = args.db or DEMO_URL  # its own file: the demo never touches ledger.db
    _fresh_sqlite(url)
    out = Path(args.out)
    actor = "demo-officer"
    area = synthetic.Area()
    first = Month.parse("2024-01")
    print(f"Demo district: {args.people} beneficiaries, store {url}, files in {out}/")

    registered = synthetic.registrations(args.people, seed=args.seed, area=area, first=first)
    files = [synthetic.write_csv(out / "decisions-2024-01..06.csv", registered)]
    for month in (Month.parse("2024-07"), Month.parse("2024-08"), Month.parse("2024-09")):
        changes = synthetic.later_decisions(registered, seed=args.seed, month=month, area=area)
        files.append(synthetic.write_csv(out / f"decisions-{month}.csv", changes))

    ledger = Ledger(url)
    try:
        for path in files:
            started = time.perf_counter()
            summary = ledger.import_decisions(path, actor)
            print(f"  imported {path.name}: {summary.rows} rows, {summary.recorded_events} events "
                  f"in {time.perf_counter() - started:.1f}s")
        again = ledger.import_decisions(files[0], actor)
        print(f"  imported {files[0].name} again: {again.recorded_events} new events (idempotent)")

        print("\nEntitlements by month (the standard level rose from 360,000 to 500,000 in 2024-07):")
        for month in ("2024-06", "2024-07", "2024-09", "2025-01"):
            rows = entitlements_report(ledger, Month.parse(month))
            paid = [r for r in rows if r["amount"] > 0]
            print(f"  {month}: {len(paid):>6} people due, {sum(r['amount'] for r in rows):>15,} VND")

        sample = next(r for r in registered if r["category"].startswith("ORPHAN"))
        report = beneficiary_report(ledger, sample["citizen_id"])
        print(f"\nOne person: {report['citizen_id']} ({report['full_name']}), "
              f"{', '.join(report['categories'])}, born {report['birth_date']}:")
        changes = [m for i, m in enumerate(report["months"])
                   if i == 0 or m["due"] != report["months"][i - 1]["due"]]
        for m in changes:
            print(f"  from {m['month']}: {m['due']:>9,} VND ({m['status']})")
    finally:
        ledger.close()
    print(f"\nTry: ledger --db {url} beneficiary show {sample['citizen_id']}")
