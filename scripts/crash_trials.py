"""kill -9 of the ``ledger`` command at random points, then check and retry.

Per store (SQLite, and PostgreSQL when LEDGER_TEST_POSTGRES_URL is set), a
clean run first: import decisions, payroll run, post office results, bank
results, on a fresh store, no kills; each step timed. Then TRIALS trials on
fresh stores with the same inputs: each step is started and killed with
SIGKILL after a random delay (up to the clean step's time and a bit more),
then `ledger audit verify` and `ledger replay` must pass, and the command run
again must complete. The trial's final state is compared with the clean
run's: the events stored per topic and the payroll lines (id, person, month,
amount, status). Lost: fewer than the clean run; doubled: more. Every
command not killed must exit 0 without a traceback.

    python scripts/crash_trials.py [TRIALS]      (run by scripts/crash-test.sh)
"""
from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from adapters import synthetic  # noqa: E402
from ledger.months import Month  # noqa: E402

PEOPLE = int(os.environ.get("CRASH_PEOPLE", "600"))
MONTH = "2024-07"
ENV = {"LEDGER_TODAY": "2024-07-20", "LEDGER_ACTOR": "officer-crash", "LEDGER_TREASURY_ACCOUNT": "3761201000123",
       "PYTHONPATH": str(ROOT)}
STEPS = ("decisions", "payroll", "postoffice", "bank")


def ledger(url: str, *argv: str) -> list[str]:
    return [sys.executable, "-m", "adapters.cli", "--db", url, *argv]


def run(url: str, *argv: str) -> tuple[int, str, str]:
    done = subprocess.run(ledger(url, *argv), env={**os.environ, **ENV}, capture_output=True, text=True,
                          timeout=600)
    return done.returncode, done.stdout, done.stderr


class Store:
    def __init__(self, kind: str, folder: Path):
        self.kind, self.folder, self.made = kind, folder, []

    def fresh(self) -> str:
        if self.kind == "sqlite":
            return f"sqlite:///{tempfile.mkdtemp(dir=self.folder)}/ledger.db"
        import psycopg

        base = os.environ["LEDGER_TEST_POSTGRES_URL"]
        name = f"crash_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        self.made.append(name)
        return urlunparse(urlparse(base)._replace(path=f"/{name}"))

    def drop(self) -> None:
        if self.made:
            import psycopg

            with psycopg.connect(os.environ["LEDGER_TEST_POSTGRES_URL"], autocommit=True) as conn:
                for name in self.made:
                    conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def inputs(folder: Path) -> Path:
    people = synthetic.registrations(PEOPLE, seed=11, first=Month.parse(MONTH), months_count=1)
    for n, row in enumerate(people):
        if n % 3 == 0:
            row.update(channel="bank", agent_code="BANK-VBSP-QNG", bank_account=f"0{n:09d}", home_delivery="")
    return synthetic.write_csv(folder / "decisions.csv", people)


def results_files(out: Path, folder: Path) -> dict[str, Path]:
    """The agents' answers to the payroll files in ``out`` (deterministic)."""
    files = {}
    for path in sorted(out.glob("payroll-*.csv")):
        rows = synthetic.read_payroll_csv(path)
        if "VNPOST" in path.name:
            files["postoffice"] = synthetic.write_csv(folder / "po.csv", synthetic.postoffice_results(
                rows, MONTH, seed=2), synthetic.POSTOFFICE_RESULT_COLUMNS)
        else:
            files["bank"] = synthetic.write_csv(folder / "bank.csv", synthetic.bank_results(
                rows, MONTH, seed=2), synthetic.BANK_RESULT_COLUMNS)
    return files


def argv_of(step: str, decisions: Path, work: Path, results: dict[str, Path]) -> list[str]:
    if step == "decisions":
        return ["import", "decisions", str(decisions)]
    if step == "payroll":
        return ["payroll", "run", "--month", MONTH, "--out", str(work / "out")]
    return ["import", step, str(results[step])]


def state(url: str) -> tuple[Counter, Counter]:
    """Events stored per topic, and the payroll lines."""
    from adapters.bootstrap import open_runtime

    with open_runtime(url) as runtime, runtime.engine.connect() as conn:
        topics = Counter({t: n for t, n in conn.execute(sa.text(
            f"SELECT topic, count(*) FROM {runtime.store.events_table} GROUP BY topic"))})
        lines = Counter(tuple(r) for r in conn.execute(sa.text(
            "SELECT line_id, citizen_id, payroll_month, amount_vnd, status FROM pay_lines")))
    return topics, lines


def clean_run(store: Store, decisions: Path, folder: Path) -> tuple[tuple[Counter, Counter], dict[str, float]]:
    url, work = store.fresh(), Path(tempfile.mkdtemp(dir=folder))
    timings, results = {}, {}
    for step in STEPS:
        started = time.monotonic()
        code, _, err = run(url, *argv_of(step, decisions, work, results))
        timings[step] = time.monotonic() - started
        assert code == 0, (step, err)
        if step == "payroll":
            results = results_files(work / "out", work)
    return state(url), timings


def trial(store: Store, decisions: Path, folder: Path, timings: dict[str, float], rng: random.Random,
          tally: Counter) -> tuple[Counter, Counter]:
    url, work = store.fresh(), Path(tempfile.mkdtemp(dir=folder))
    results: dict[str, Path] = {}
    for step in STEPS:
        argv = argv_of(step, decisions, work, results)
        process = subprocess.Popen(ledger(url, *argv), env={**os.environ, **ENV}, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.05, timings[step] * 1.1))
        finished = process.poll() is not None
        process.send_signal(signal.SIGKILL)
        process.wait()
        tally["finished before the kill" if finished else "killed"] += 1
        for check, expected in ((("audit", "verify"), 0), (("replay",), 0), (argv, 0)):
            code, out, err = run(url, *check)
            tally["tracebacks"] += ("Traceback" in out) + ("Traceback" in err)
            if code != expected:
                tally["failures"] += 1
                print(f"  {step}: `ledger {' '.join(check)}` exited {code}: {err.strip()[-300:]}", flush=True)
        if step == "payroll":
            results = results_files(work / "out", work)
    return state(url)


def main() -> int:
    trials = int(sys.argv[1]) if len(sys.argv) > 1 else int(os.environ.get("TRIALS", "10"))
    kinds = ["sqlite"] + (["postgresql"] if os.environ.get("LEDGER_TEST_POSTGRES_URL") else [])
    if os.environ.get("CRASH_STORES"):  # e.g. CRASH_STORES=postgresql: one store only
        kinds = [k for k in kinds if k in os.environ["CRASH_STORES"].split(",")]
    bad = 0
    with tempfile.TemporaryDirectory(prefix="ledger-crash-") as tmp:
        folder = Path(tmp)
        decisions = inputs(folder)
        for kind in kinds:
            store, rng, tally = Store(kind, folder), random.Random(f"crash:{kind}"), Counter()
            started = time.monotonic()
            try:
                (clean_topics, clean_lines), timings = clean_run(store, decisions, folder)
                lost = doubled = 0
                for n in range(trials):
                    topics, lines = trial(store, decisions, folder, timings, rng, tally)
                    trial_lost = sum((clean_topics - topics).values()) + sum((clean_lines - lines).values())
                    trial_doubled = sum((topics - clean_topics).values()) + sum((lines - clean_lines).values())
                    if trial_lost or trial_doubled:
                        print(f"  trial {n}: lost {trial_lost}, doubled {trial_doubled}", flush=True)
                    lost, doubled = lost + trial_lost, doubled + trial_doubled
                    if (n + 1) % 10 == 0 and n + 1 < trials:  # figures so far, for a run cut short
                        print(f"  {kind}: {n + 1} trials so far, {tally['killed']} killed, lost {lost}, "
                              f"doubled {doubled}, tracebacks {tally['tracebacks']}, failed checks "
                              f"{tally['failures']}; {time.monotonic() - started:.0f} s", flush=True)
            finally:
                store.drop()
            print(f"{kind}: {trials} trials ({PEOPLE} people; {tally['killed']} commands killed, "
                  f"{tally['finished before the kill']} finished before the kill), lost {lost}, doubled {doubled}, "
                  f"tracebacks {tally['tracebacks']}, failed checks {tally['failures']}; "
                  f"clean run {sum(clean_topics.values())} events, {sum(clean_lines.values())} lines; "
                  f"{time.monotonic() - started:.0f} s", flush=True)
            bad += lost + doubled + tally["tracebacks"] + tally["failures"]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
