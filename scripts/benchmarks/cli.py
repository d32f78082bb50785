"""Benchmarks of the ledger, run as named stages of one command.

    scripts/bench --n 100000 --stores sqlite,postgresql
    scripts/bench --stages import --n 1000 --stores sqlite --json-out bench-results/import.json

On each store in turn (a fresh database each), on a generated province
(scripts/generate.py): ``baseline`` (raw write and raw read+decode of
event-shaped rows), then the ``ledger`` commands users run: ``import``,
``cycle`` (per payroll month), ``replay``, ``whatif``. Every figure is
printed with its ratio to the baseline of the same run, then the goals
(PASS/MISS/n/a); all of it is written as JSON (--json-out).

PostgreSQL comes from --postgres-url, else $LEDGER_BENCH_POSTGRES_URL,
else a durable throwaway server started with scripts/pg-tmp.sh. The
benchmark creates databases of its own and drops them afterwards.
It measures and reports; it never fails because of a figure. It exits 1
when a step did not finish within --step-timeout, or failed: that store's
run stops there (the figures so far are kept) and the next store runs."""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from contextlib import nullcontext
from datetime import datetime
from pathlib import Path
from typing import Any, Sequence

from . import facts, goals, report
from .measure import stopwatch
from .pg import postgres_server
from .stages import COLLECT, LEDGER_STAGES, STAGE_ORDER
from .stores import STORES, Target, target_for
from .worker import REPO, Run, run_worker

GENERATE = REPO / "scripts" / "generate.py"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stages", default=",".join(STAGE_ORDER),
                        help=f"comma-separated, run in this order: {', '.join(STAGE_ORDER)} "
                             "(default all; a ledger stage brings baseline and import with it)")
    parser.add_argument("--n", type=int, default=100_000, help="beneficiaries (default 100000)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--months", type=int, default=2, help="payroll months the cycle runs (default 2)")
    parser.add_argument("--stores", default="sqlite,postgresql",
                        help="comma-separated: sqlite, postgresql (default both)")
    parser.add_argument("--postgres-url",
                        help="server to create throwaway databases on (default "
                             "$LEDGER_BENCH_POSTGRES_URL, else a server started for the run)")
    parser.add_argument("--province-dir", type=Path,
                        help="keep the generated province here, and reuse it if it has the same "
                             "--n, --seed and --months (default: a temporary folder)")
    parser.add_argument("--json-out", type=Path,
                        help="default bench-results/<stages>-<n>-<timestamp>.json")
    parser.add_argument("--scale-against", type=Path, metavar="JSON",
                        help="an earlier result at another N: judge whether the cycle's cost is linear")
    parser.add_argument("--step-timeout", type=float, default=900.0, metavar="SECONDS",
                        help="stop a store's run when one step takes longer (default 900; 0 = no limit)")
    parser.add_argument("--profile", action="store_true",
                        help="run every step under cProfile (slower); profiles beside --json-out")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    asked = _choices(parser, "--stages", args.stages, STAGE_ORDER)
    needed = set(asked) | ({"baseline", "import"} if set(asked) & set(LEDGER_STAGES) else set())
    args.stages = [stage for stage in STAGE_ORDER if stage in needed]
    args.added_stages = [stage for stage in args.stages if stage not in asked]
    args.stores = _choices(parser, "--stores", args.stores, STORES)
    if args.n < 1 or args.months < 1:
        parser.error("--n and --months must be at least 1")
    args.postgres_url = args.postgres_url or os.environ.get("LEDGER_BENCH_POSTGRES_URL")
    return args


def _choices(parser: argparse.ArgumentParser, option: str, text: str, known) -> list[str]:
    chosen = [word.strip() for word in text.split(",") if word.strip()]
    unknown = [word for word in chosen if word not in known]
    if unknown or not chosen:
        parser.error(f"{option}: expected some of {', '.join(known)}, got {text!r}")
    return chosen


def progress_shown(args: argparse.Namespace) -> bool:
    # Bars on a terminal, or in logs when LEDGER_PROGRESS=1 asks (as the ledger's own).
    asked = sys.stderr.isatty() or os.environ.get("LEDGER_PROGRESS") == "1"
    return asked and not args.no_progress


def generate_province(args: argparse.Namespace, folder: Path) -> tuple[Path, dict[str, Any]]:
    """The province's files, made by generate.py in a process of its own, or
    reused from --province-dir when made with the same parameters."""
    target = args.province_dir or folder / "province"
    described = target / "province.json"
    if described.exists():
        known = json.loads(described.read_text(encoding="utf-8"))
        if (known["n"], known["seed"], len(known["payroll_months"])) == (args.n, args.seed, args.months):
            print(f"province: reusing {target}", file=sys.stderr)
            return target, dict(reused=True, generate_seconds=None)
    command = [sys.executable, str(GENERATE), "--n", str(args.n), "--seed", str(args.seed),
               "--months", str(args.months), "--out", str(target)]
    with stopwatch() as took:
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    print(f"province: {args.n:,} beneficiaries, {args.months} months, generated in "
          f"{took['seconds']:.1f} s", file=sys.stderr)
    return target, dict(reused=False, generate_seconds=round(took["seconds"], 2))


def province_facts(path: Path, generated: dict[str, Any]) -> dict[str, Any]:
    described = json.loads((path / "province.json").read_text(encoding="utf-8"))
    return dict(generated, n=described["n"], seed=described["seed"],
                payroll_months=described["payroll_months"], mix=described["mix"],
                registrations_csv_bytes=(path / described["registrations"]["file"]).stat().st_size,
                later_decisions={m: e["rows"] for m, e in described["later_decisions"].items()},
                death_notices={m: e["rows"] for m, e in described["death_notices"].items()},
                deaths=described["deaths"]["rows"],
                files_bytes=sum(p.stat().st_size for p in path.rglob("*.csv")))


def run_store(run: Run, args: argparse.Namespace, target: Target, results: dict[str, Any]) -> None:
    """Every stage on one fresh database; a stage that stopped ends the store's run."""
    done: dict[str, Any] = {}
    stopped = None
    with target.fresh_database() as url:
        for name in args.stages:
            if stopped:
                data = dict(skipped=f"{stopped} stopped", failure=None)
            else:
                data = done[name] = COLLECT[name](run, target, url, done)
                if data.get("failure"):
                    stopped = name
            results["stages"].setdefault(name, {"stores": {}})["stores"][target.name] = data
            print(f"== stage {name}: {args.n:,} beneficiaries, seed {args.seed}, {target.name} ==")
            print(report.format_stage(name, target.name, data))
            print(flush=True)


def stopped_steps(results: dict[str, Any]) -> list[str]:
    return [f"{stage}/{store}: {data['failure']['step']}"
            for stage, result in results["stages"].items()
            for store, data in result.get("stores", {}).items() if data.get("failure")]


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--worker"]:
        return run_worker(Path(argv[1]))
    args = parse_args(argv)
    digests = facts.code_digests()
    started = datetime.now()
    json_out = args.json_out or (REPO / "bench-results" /
                                 f"{'-'.join(args.stages)}-{args.n}-{started:%Y%m%d-%H%M%S}.json")
    results: dict[str, Any] = dict(
        started_at=started.astimezone().isoformat(timespec="seconds"),
        command=["bench", *argv],
        params=dict(stages=args.stages, n=args.n, seed=args.seed, months=args.months, stores=args.stores,
                    step_timeout_seconds=args.step_timeout, profile=args.profile),
        machine=facts.machine_facts(), code=facts.code_facts(),
        library_settings=facts.library_settings(), stages={})
    if args.added_stages:
        print(f"also running {', '.join(args.added_stages)}: the stages asked for need them", file=sys.stderr)
    if results["library_settings"]:
        print("library settings from the environment: " + ", ".join(
            f"{k}={v}" for k, v in results["library_settings"].items()))
    profile_dir = json_out.with_name(json_out.stem + "-profiles") if args.profile else None
    # A server is started only when PostgreSQL is measured and none was given.
    server = postgres_server(args.postgres_url) if "postgresql" in args.stores else nullcontext()
    with tempfile.TemporaryDirectory(prefix="ledger-bench-") as folder, server as pg_url:
        province, generated = generate_province(args, Path(folder))
        results["province"] = province_facts(province, generated)
        if "import" in args.stages:
            results["stages"]["import"] = dict(input=dict(
                registrations=args.n, seed=args.seed, csv_bytes=results["province"]["registrations_csv_bytes"],
                generate_seconds=generated["generate_seconds"]), stores={})
        run = Run(Path(folder), province, args.seed, args.step_timeout or None, progress_shown(args),
                  profile_dir, results["province"]["payroll_months"][:args.months])
        for store in args.stores:
            target = target_for(store, Path(folder), pg_url)
            if store == "postgresql":
                results["machine"]["postgresql_server_version"] = target.facts()["server_version"]
            run_store(run, args, target, results)
    earlier = json.loads(args.scale_against.read_text(encoding="utf-8")) if args.scale_against else None
    results["goals"] = goals.evaluate(results, args.stores, earlier)
    print(f"== goals at N={args.n:,} ==")
    print(report.format_goals(results["goals"]))
    results["machine"]["load_average_1m_at_end"] = facts.load_average()
    results["finished_at"] = datetime.now().astimezone().isoformat(timespec="seconds")
    changed = results["code"]["changed_during_run"] = facts.code_changed_since(digests)
    if changed:
        print(f"warning: the code changed during the run: {', '.join(changed)}", file=sys.stderr)
    report.write_json(json_out, results)
    print(f"figures written to {json_out}")
    # Slow is a figure, not a failure; a step that never finished is one.
    return 1 if stopped_steps(results) else 0
