"""A crash in the middle of an import or a payroll run leaves nothing or
everything, and running the command again completes it."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from adapters import synthetic
from .helpers import open_ledger
from ledger.months import Month

from .helpers import decisions_file, dump_views, event_count


class Crash(Exception):
    pass


def _crash_after_writing(ledger, monkeypatch):
    """The recorder writes every row, then the process 'dies' before commit:
    the last step inside each recorder's transaction is made to fail."""
    recorder = ledger.runtime.app.recorder
    # SQLite: the library's insert; PostgreSQL: reading back the ids inserted,
    # or a COPY of rows, the last things before the commit.
    names = ["_insert_events"] if ledger.runtime.store.kind == "sqlite" else ["_fetch_ids_after_insert_events", "_copy_rows"]
    for name in names:
        original = getattr(recorder, name)

        def write_then_crash(*args, _original=original, **kwargs):
            _original(*args, **kwargs)
            raise Crash("power cut before commit")

        monkeypatch.setattr(recorder, name, write_then_crash)


@pytest.mark.parametrize("step", ["decisions", "payroll", "postoffice"])
def test_a_crash_before_commit_records_nothing_and_a_retry_completes(store_url, tmp_path, monkeypatch, step):
    registered = synthetic.registrations(60, seed=8, first=Month.parse("2024-07"), months_count=1)
    path = decisions_file(tmp_path / "d.csv", registered)
    with open_ledger(store_url) as ledger:
        if step != "decisions":
            ledger.commands.import_decisions(path, "o")
        if step == "postoffice":
            summary = ledger.commands.run_payroll(Month.parse("2024-07"), tmp_path / "out", "o")
            (po,) = [f for f in summary.files if "VNPOST" in f and f.endswith(".csv")]
            results = synthetic.postoffice_results(synthetic.read_payroll_csv(po), "2024-07", seed=1)
            po_path = synthetic.write_csv(tmp_path / "po.csv", results, synthetic.POSTOFFICE_RESULT_COLUMNS)
        run = {
            "decisions": lambda: ledger.commands.import_decisions(path, "o"),
            "payroll": lambda: ledger.commands.run_payroll(Month.parse("2024-07"), tmp_path / "out", "o"),
            "postoffice": lambda: ledger.commands.import_postoffice(po_path, "o"),
        }[step]
        before_events, before_views = event_count(ledger), dump_views(ledger.runtime.engine)
        with monkeypatch.context() as patch:
            _crash_after_writing(ledger, patch)
            with pytest.raises(Crash):
                run()
        assert event_count(ledger) == before_events
        ledger.runtime.catch_up()
        assert dump_views(ledger.runtime.engine) == before_views
        run()  # the retry completes it
        after = event_count(ledger)
        assert after > before_events
        run()  # and a further retry records nothing
        assert event_count(ledger) == after


def test_killing_the_payroll_process_leaves_nothing_or_everything(store_url, tmp_path):
    registered = synthetic.registrations(1500, seed=9, first=Month.parse("2024-07"), months_count=1)
    path = decisions_file(tmp_path / "d.csv", registered)
    with open_ledger(store_url) as ledger:
        ledger.commands.import_decisions(path, "o")
        start = event_count(ledger)
    env = dict(os.environ, LEDGER_DATABASE_URL=store_url, LEDGER_TODAY="2024-07-20",
               LEDGER_ACTOR="officer-test")
    command = [sys.executable, "-m", "adapters.cli", "payroll", "run", "--month", "2024-07",
               "--out", str(tmp_path / "out")]
    for delay in (0.3, 0.8, 1.5):
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)
        process.wait()
        with open_ledger(store_url) as ledger:
            count = event_count(ledger)
        # One line per person plus the calendar's three events (opened, prepared,
        # issued: one person prepares and releases), or nothing at all.
        assert count in (start, start + len(registered) + 3), (delay, count - start)
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    with open_ledger(store_url) as ledger:
        assert event_count(ledger) == start + len(registered) + 3
