"""Commands take turns (adapters/command_lock.py), on SQLite and PostgreSQL:
two payroll runs of one month at once issue one set of lines and both write
their files; an import during a payroll loses nothing; a command that waits
longer than --wait exits 75 naming the holder. The trials are repeated
(LEDGER_CONCURRENCY_TRIALS, default 10; scripts/concurrency-trials.sh runs 50)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from adapters import synthetic
from ledger.months import Month

from .helpers import decisions_file, event_count, open_ledger

ROOT = Path(__file__).resolve().parent.parent
TRIALS = int(os.environ.get("LEDGER_CONCURRENCY_TRIALS", "10"))
FIRST = Month.parse("2024-07")
PEOPLE = 60


def _env(url: str, **more) -> dict:
    return {**os.environ, "PYTHONPATH": str(ROOT), "LEDGER_DATABASE_URL": url, "LEDGER_TODAY": "2024-07-20",
            "LEDGER_ACTOR": "officer-test", **more}


def _start(url: str, *argv: str, today: str = "2024-07-20") -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "adapters.cli", *argv], env=_env(url, LEDGER_TODAY=today),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finish(process: subprocess.Popen) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=300)
    assert "Traceback" not in err, err
    return process.returncode, out, err


def _lines_files(folder: Path) -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(folder.glob("*.csv"))}


@pytest.fixture
def district(store_url, tmp_path):
    registered = synthetic.registrations(PEOPLE, seed=5, first=FIRST, months_count=1)
    with open_ledger(store_url) as ledger:
        ledger.commands.import_decisions(decisions_file(tmp_path / "d.csv", registered), "o")
    return store_url


def test_two_payroll_runs_of_one_month_issue_one_set_of_lines(district, tmp_path):
    waited = 0
    for trial in range(TRIALS):
        month = FIRST + trial
        with open_ledger(district) as ledger:
            before = event_count(ledger)
        runs = [_start(district, "payroll", "run", "--month", str(month), "--out", str(tmp_path / f"{trial}-{n}"),
                       "--json") for n in (1, 2)]
        results = [_finish(p) for p in runs]
        assert [code for code, _, _ in results] == [0, 0], [err for _, _, err in results]
        summaries = [json.loads(out) for _, out, _ in results]
        assert sorted(s["issued_now"] for s in summaries) == [False, True], (trial, summaries)
        waited += sum("waiting for" in err for _, _, err in results)
        with open_ledger(district) as ledger:
            # The winner's lines, the calendar's PayrollPrepared and MonthIssued (and its Opened the first time).
            (winner,) = [s for s in summaries if s["issued_now"]]
            assert event_count(ledger) == before + winner["lines"] + (3 if trial == 0 else 2), trial
            assert ledger.queries.verify().ok
        # The winner and the one that came second both wrote the same lines.
        first, second = (_lines_files(tmp_path / f"{trial}-{n}") for n in (1, 2))
        assert first and first == second, trial
    print(f"\n{TRIALS} trials, {waited} in which one run waited for the other")


def test_an_import_during_a_payroll_loses_nothing(district, tmp_path):
    known = {row["citizen_id"] for row in synthetic.registrations(PEOPLE, seed=5, first=FIRST, months_count=1)}
    for trial in range(max(1, TRIALS // 3)):
        month = FIRST + trial
        # People registered from a later month: not in this payroll, whichever goes first.
        newcomers = [dict(row, decision_no=f"{trial}-{n}/QĐ-NEW") for n, row in enumerate(
            synthetic.registrations(40, seed=100 + trial, first=Month.parse("2026-01"), months_count=1))
            if row["citizen_id"] not in known]
        known.update(row["citizen_id"] for row in newcomers)
        path = decisions_file(tmp_path / f"new-{trial}.csv", newcomers)
        with open_ledger(district) as ledger:
            before = event_count(ledger)
        payroll = _start(district, "payroll", "run", "--month", str(month), "--out", str(tmp_path / f"out-{trial}"),
                         "--json")
        imported = _start(district, "import", "decisions", str(path), today="2026-01-20")
        outputs = []
        for process in (payroll, imported):
            code, out, err = _finish(process)
            assert code == 0, err
            outputs.append(out)
        lines = json.loads(outputs[0])["lines"]
        with open_ledger(district) as ledger:
            # The lines, the calendar's events, the newcomers and their import's receipt.
            assert event_count(ledger) == before + lines + (3 if trial == 0 else 2) + len(newcomers) + 1, trial
            assert ledger.queries.verify().ok


def test_a_command_waiting_longer_than_wait_exits_75_naming_the_holder(district, tmp_path):
    path = decisions_file(tmp_path / "late.csv", synthetic.registrations(3, seed=77, first=FIRST, months_count=1))
    with open_ledger(district) as ledger:
        before = event_count(ledger)
        with ledger.runtime.turns.hold("payroll run", "officer-holding"):
            code, _, err = _finish(_start(district, "--wait", "1", "import", "decisions", str(path)))
            # Reading commands never wait.
            reading = _finish(_start(district, "--wait", "0", "audit", "verify"))
        assert event_count(ledger) == before
    assert code == 75, err
    assert "`payroll run` by officer-holding" in err
    assert "Nothing of this command was recorded" in err
    assert reading[0] == 0, reading[2]
    # Released: the same command now goes through.
    assert _finish(_start(district, "--wait", "1", "import", "decisions", str(path)))[0] == 0
