"""The PostgreSQL server stopped (`pg_ctl restart -m immediate`: a crash
shutdown, then crash recovery) in the middle of a recording command: the
command reconnects, says whether what it did was committed, and running it
again records nothing twice. On a throwaway cluster of its own, started
with scripts/pg-tmp.sh (the test server of the other tests is not touched)."""
from __future__ import annotations

import json
import os
import re
import subprocess
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import psycopg
import pytest

from adapters import synthetic
from adapters.cli import main
from adapters.commands import Commands
from ledger.months import Month

from .conftest import _require_postgres
from .helpers import decisions_file, event_count, open_ledger

ROOT = Path(__file__).resolve().parent.parent
MONTH = Month.parse("2024-07")
PEOPLE = 1500
FRACTIONS = (0.1, 0.3, 0.5, 0.7, 0.9)  # of the clean run's time: when the server is stopped
ROUNDS = int(os.environ.get("SERVER_STOP_ROUNDS", "1"))  # of FRACTIONS, each a fresh store through both steps


@pytest.fixture(scope="module")
def cluster():
    _require_postgres()  # PostgreSQL tests enabled: this one makes its own server
    started = subprocess.run(["bash", str(ROOT / "scripts" / "pg-tmp.sh"), "start"], capture_output=True,
                             text=True, check=True)
    env = dict(re.findall(r"(\w+)=(\S+)", started.stdout))
    folder, bindir, url = env["PGTMP_DIR"], env["PGTMP_BINDIR"], env["LEDGER_TEST_POSTGRES_URL"]
    as_server = ["runuser", "-u", "postgres", "--"] if os.getuid() == 0 else []

    def restart_immediately() -> None:
        # The server started again logs to its file: it must not hold our pipes.
        subprocess.run([*as_server, f"{bindir}/pg_ctl", "-D", f"{folder}/data", "-l", f"{folder}/server.log",
                        "-m", "immediate", "-w", "-t", "60", "restart"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)

    try:
        yield url, restart_immediately
    finally:
        subprocess.run(["bash", str(ROOT / "scripts" / "pg-tmp.sh"), "stop", folder], capture_output=True)


def fresh_database(base: str) -> str:
    name = f"stop_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return urlunparse(urlparse(base)._replace(path=f"/{name}"))


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def events(url: str) -> int:
    with open_ledger(url) as ledger:
        return event_count(ledger)


@pytest.fixture
def env(monkeypatch, tmp_path):
    monkeypatch.setenv("LEDGER_ACTOR", "officer-stop")
    monkeypatch.setenv("LEDGER_TODAY", "2024-07-20")
    # Crash recovery on a loaded machine can take longer than the default
    # few seconds of reconnecting: wait up to a minute for the answer.
    monkeypatch.setattr(Commands, "RECONNECT_ATTEMPTS", 120)
    monkeypatch.setattr(Commands, "RECONNECT_PAUSE_SECONDS", 0.5)
    people = synthetic.registrations(PEOPLE, seed=5, first=MONTH, months_count=1)
    return decisions_file(tmp_path / "decisions.csv", people)


def steps(decisions: Path, out: Path) -> dict[str, list[str]]:
    return {"decisions": ["import", "decisions", str(decisions)],
            "payroll": ["payroll", "run", "--month", str(MONTH), "--out", str(out)]}


def test_a_server_stopped_mid_command_is_reported_and_the_retry_records_nothing_twice(cluster, env, tmp_path,
                                                                                     capsys):
    base, restart_immediately = cluster
    # A clean run: each step's events and time.
    clean_url, clean, took = fresh_database(base), {}, {}
    for step, argv in steps(env, tmp_path / "clean").items():
        before, started = events(clean_url), time.monotonic()
        code, _, err = run_cli(capsys, "--db", clean_url, *argv)
        assert code == 0, err
        took[step], clean[step] = time.monotonic() - started, events(clean_url) - before

    told = {"nothing recorded": 0, "recorded": 0, "finished first": 0}
    for trial, fraction in enumerate(FRACTIONS * ROUNDS):
        url = fresh_database(base)
        for step, argv in steps(env, tmp_path / f"t{trial}").items():
            before = events(url)
            outcome: dict = {}

            def command() -> None:
                outcome["code"] = main(["--db", url, *argv])

            worker = threading.Thread(target=command)
            worker.start()
            time.sleep(fraction * took[step])
            restart_immediately()
            worker.join(timeout=300)
            assert not worker.is_alive(), f"{step} did not end after the server came back"
            out, err = capsys.readouterr()
            assert "Traceback" not in out + err
            recorded = events(url) - before
            assert recorded in (0, clean[step]), f"{step}: {recorded} events of {clean[step]}: not all or nothing"
            if outcome["code"] == 0:
                told["finished first"] += 1
                assert recorded == clean[step]
            else:
                assert outcome["code"] == 75, err
                assert f"the database stopped during `{' '.join(argv[:2])}" in err or "database" in err, err
                if "nothing of it was recorded" in err:
                    told["nothing recorded"] += 1
                    assert recorded == 0, err
                elif "it WAS recorded" in err:
                    told["recorded"] += 1
                    assert f"({recorded} events)" in err and recorded == clean[step], err
                else:  # stopped after its commit, while the views were brought up to date
                    told["finished first"] += 1
                    assert recorded == clean[step], err
            # The retry is safe either way: it records what is missing, nothing twice.
            code, _, err = run_cli(capsys, "--db", url, *argv)
            assert code == 0, err
            assert events(url) - before == clean[step]
        code, out, _ = run_cli(capsys, "--db", url, "audit", "verify", "--json")
        assert code == 0 and json.loads(out)["ok"]
        code, _, err = run_cli(capsys, "--db", url, "replay")
        assert code == 0, err
    print(f"server stopped during {2 * len(FRACTIONS) * ROUNDS} commands: {told}")
    # The check proved something: the server did stop under running commands.
    assert told["nothing recorded"] + told["recorded"] >= 2 * ROUNDS, told
