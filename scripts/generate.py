#!/usr/bin/env python3
"""A synthetic province, deterministic by seed: the files the office
receives, month by month, and the agents' result files for each payroll.

    python scripts/generate.py --n 100000 --seed 1 --months 2 --out province/
    python scripts/generate.py results --payroll-dir out/payroll --month 2024-07 \\
        --province province/ --out out/results

The first form writes a province of N beneficiaries (the mix of
``adapters/synthetic.py``: categories and ages as in domain.md, 70 % paid in
cash by post offices, 30 % by banks):

    province.json                       what was generated: parameters, months, files, row counts
    decisions/registrations.csv         the caseload: N registrations, effective over the
                                        6 months before the first payroll month
    decisions/decisions-YYYY-MM.csv     later decisions signed that month: back-dated disability
                                        reassessments, channel changes, proxies, terminations
    deaths/deaths-YYYY-MM.csv           death notices reaching the office that month (about 5 %
                                        die a year; most notices are one to four months late;
                                        the first month also brings the notices that arrived
                                        before the first payroll)
    world/deaths.csv                    every death in the period with the month its notice
                                        arrives: what the agents see, not the office

Import them in that order each month: the month's decisions, then the
payroll, then the agents' results, then the month's death notices.

The agents' results depend on the payroll the ledger issued, so they are
made from the payroll files afterwards (second form): for every
``payroll-<agent>-<month>.csv`` in --payroll-dir, a post office (its list
came with an .xlsx) writes ``postoffice-result-<list>.csv``: each person
collects all their lines or none, a few percent leave months unclaimed, and
after an unreported death a relative sometimes still collects; a bank writes
``bank-result-<list>.csv``: mostly credited, a few AC01/AC04/MD07 rejections.
With --province the deaths of world/deaths.csv and the province's seed are
used; with --seed alone nobody has died.

Same arguments, same bytes: every random draw comes from the seed.
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Sequence

from adapters import synthetic
from ledger.months import Month

FORMAT_VERSION = 1
DEFAULT_FIRST_PAYROLL_MONTH = "2024-07"
REGISTRATION_MONTHS_COUNT = 6  # registrations take effect over the half year before
# Deaths are drawn from this many months before the first payroll, so the
# first months already see notices that are months late, as in a running office.
DEATHS_LEAD_MONTHS_COUNT = 4
DEFAULT_CHANGES_SHARE = 0.01  # later decisions a month, as a share of the caseload
WORLD_DEATH_COLUMNS = ("citizen_id", "date_of_death", "notice_month", "source")


# --- the province ---------------------------------------------------------------------

def payroll_months(first_payroll_month: Month, months_count: int) -> list[Month]:
    return [first_payroll_month + i for i in range(months_count)]


def slim(registered: Sequence[dict]) -> list[dict]:
    """What the later decisions and deaths look at: a fraction of the memory
    of the full rows, which matters at a million beneficiaries."""
    return [dict(citizen_id=r["citizen_id"], category=r["category"],
                 effective_month=r["effective_month"]) for r in registered]


def mix_of(registered: Sequence[dict]) -> dict:
    categories = Counter(r["category"] for r in registered)
    channels = Counter(r["channel"] for r in registered)
    return dict(channels=dict(sorted(channels.items())),
                categories=dict(sorted(categories.items(), key=lambda kv: (-kv[1], kv[0]))))


def notices_by_month(dead: dict[str, synthetic.Death], months: Sequence[Month]) -> dict[Month, list[dict]]:
    """Each month's notices; notices that reached the office before the first
    payroll month are handed in with the first month's."""
    first = months[0]
    by_month: dict[Month, list[dict]] = {m: [] for m in months}
    for death in dead.values():
        arrives = max(death.notice_month, first)
        if arrives in by_month:
            # death_notices() picks a death by its notice month; feed it one
            # with the month it is actually handed in.
            moved = synthetic.Death(death.citizen_id, death.date_of_death, arrives, death.source)
            by_month[arrives] += synthetic.death_notices({death.citizen_id: moved}, arrives)
    for rows in by_month.values():
        rows.sort(key=lambda r: (r["reported_on"], r["citizen_id"]))
    return by_month


def write_world_deaths(path: Path, dead: dict[str, synthetic.Death]) -> Path:
    rows = (dict(citizen_id=d.citizen_id, date_of_death=d.date_of_death.isoformat(),
                 notice_month=str(d.notice_month), source=d.source)
            for d in sorted(dead.values(), key=lambda d: d.citizen_id))
    return synthetic.write_csv(path, rows, WORLD_DEATH_COLUMNS)


def file_entry(out: Path, path: Path, rows_count: int) -> dict:
    return dict(file=path.relative_to(out).as_posix(), rows=rows_count)


def generate_province(out: Path, *, n: int, seed: int, months_count: int,
                      first_payroll_month: Month = Month.parse(DEFAULT_FIRST_PAYROLL_MONTH),
                      changes_share: float = DEFAULT_CHANGES_SHARE) -> dict:
    """Writes the province's files under ``out``; returns (and writes) its description."""
    out.mkdir(parents=True, exist_ok=True)
    months = payroll_months(first_payroll_month, months_count)
    first_registration_month = first_payroll_month - REGISTRATION_MONTHS_COUNT
    registered = synthetic.registrations(n, seed=seed, first=first_registration_month,
                                         months_count=REGISTRATION_MONTHS_COUNT)
    mix = mix_of(registered)
    registrations_path = synthetic.write_csv(out / "decisions" / "registrations.csv", registered)
    registered = slim(registered)

    description: dict = dict(
        generator="scripts/generate.py", format=FORMAT_VERSION, n=n, seed=seed,
        changes_share=changes_share,
        first_registration_month=str(first_registration_month),
        payroll_months=[str(m) for m in months],
        mix=mix,
        registrations=file_entry(out, registrations_path, n),
        later_decisions={}, death_notices={},
    )
    for month in months:
        changes = synthetic.later_decisions(registered, seed=seed, month=month, share=changes_share)
        path = synthetic.write_csv(out / "decisions" / f"decisions-{month}.csv", changes)
        description["later_decisions"][str(month)] = file_entry(out, path, len(changes))

    dead = synthetic.deaths(registered, seed=seed, first=first_payroll_month - DEATHS_LEAD_MONTHS_COUNT,
                            last=months[-1])
    for month, notices in notices_by_month(dead, months).items():
        path = synthetic.write_csv(out / "deaths" / f"deaths-{month}.csv", notices,
                                   synthetic.DEATH_COLUMNS)
        description["death_notices"][str(month)] = file_entry(out, path, len(notices))
    world = write_world_deaths(out / "world" / "deaths.csv", dead)
    description["deaths"] = file_entry(out, world, len(dead))

    (out / "province.json").write_text(json.dumps(description, indent=1, ensure_ascii=False) + "\n",
                                       encoding="utf-8")
    return description


# --- the agents' results -----------------------------------------------------------------

def read_world_deaths(path: Path) -> dict[str, synthetic.Death]:
    with path.open(encoding="utf-8", newline="") as handle:
        return {row["citizen_id"]: synthetic.Death(row["citizen_id"], date.fromisoformat(row["date_of_death"]),
                                                   Month.parse(row["notice_month"]), row["source"])
                for row in csv.DictReader(handle)}


def is_postoffice_list(payroll_csv: Path) -> bool:
    # The ledger writes an .xlsx beside every post office's list, never a bank's.
    return payroll_csv.with_suffix(".xlsx").exists()


def write_results(payroll_dir: Path, month: str, out: Path, *, seed: int,
                  dead: dict[str, synthetic.Death]) -> list[dict]:
    """One result file per payroll list of the month; returns what was written.
    One list at a time, so memory stays at one list's size."""
    written = []
    for payroll_csv in sorted(payroll_dir.glob(f"payroll-*-{month}.csv")):
        rows = synthetic.read_payroll_csv(payroll_csv)
        if is_postoffice_list(payroll_csv):
            results = synthetic.postoffice_results(rows, month, seed=seed, dead=dead)
            path = synthetic.write_csv(out / f"postoffice-result-{payroll_csv.stem}.csv", results,
                                       synthetic.POSTOFFICE_RESULT_COLUMNS)
            channel = "cash"
        else:
            results = synthetic.bank_results(rows, month, seed=seed, dead=dead)
            path = synthetic.write_csv(out / f"bank-result-{payroll_csv.stem}.csv", results,
                                       synthetic.BANK_RESULT_COLUMNS)
            channel = "bank"
        written.append(dict(file=str(path), channel=channel, rows=len(results),
                            statuses=dict(sorted(Counter(r["status"] for r in results).items()))))
    return written


# --- command line --------------------------------------------------------------------------

def parse_province_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="generate.py", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="The agents' results: generate.py results --help")
    parser.add_argument("--n", type=int, default=100_000, help="beneficiaries (default 100000)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--months", type=int, default=2, help="payroll months of files (default 2)")
    parser.add_argument("--first-month", type=Month.parse, default=Month.parse(DEFAULT_FIRST_PAYROLL_MONTH),
                        help=f"the first payroll month (default {DEFAULT_FIRST_PAYROLL_MONTH})")
    parser.add_argument("--changes-share", type=float, default=DEFAULT_CHANGES_SHARE,
                        help="later decisions a month as a share of the caseload (default 0.01)")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    if args.n < 1 or args.months < 1:
        parser.error("--n and --months must be at least 1")
    return args


def parse_results_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="generate.py results",
                                     description="The agents' result files for a month's payroll lists.")
    parser.add_argument("--payroll-dir", type=Path, required=True,
                        help="where the ledger wrote payroll-<agent>-<month>.csv (and .xlsx)")
    parser.add_argument("--month", type=Month.parse, required=True)
    parser.add_argument("--out", type=Path, required=True)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--province", type=Path, help="a generated province: its seed and its deaths")
    source.add_argument("--seed", type=int, help="without a province: this seed, and nobody has died")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["results"]:
        args = parse_results_args(argv[1:])
        if args.province:
            seed = json.loads((args.province / "province.json").read_text(encoding="utf-8"))["seed"]
            dead = read_world_deaths(args.province / "world" / "deaths.csv")
        else:
            seed, dead = args.seed, {}
        written = write_results(args.payroll_dir, str(args.month), args.out, seed=seed, dead=dead)
        print(json.dumps(dict(month=str(args.month), files=written), ensure_ascii=False))
        return 0
    if argv[:1] == ["province"]:  # the default, also accepted by name
        argv = argv[1:]
    args = parse_province_args(argv)
    description = generate_province(args.out, n=args.n, seed=args.seed, months_count=args.months,
                                    first_payroll_month=args.first_month,
                                    changes_share=args.changes_share)
    print(json.dumps(_summary(description), ensure_ascii=False))
    return 0


def _summary(description: dict) -> dict:
    return dict(n=description["n"], seed=description["seed"], months=description["payroll_months"],
                later_decisions={m: e["rows"] for m, e in description["later_decisions"].items()},
                death_notices={m: e["rows"] for m, e in description["death_notices"].items()},
                deaths=description["deaths"]["rows"], channels=description["mix"]["channels"])


if __name__ == "__main__":
    sys.exit(main())
