"""The command never shows a traceback: each failure an officer can meet is
a message on stderr and a documented exit code."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest
import sqlalchemy as sa

from adapters import synthetic
from adapters.cli import main
from ledger.months import Month

from .helpers import REGISTER, decisions_file


@pytest.fixture(autouse=True)
def _env(monkeypatch):
    monkeypatch.setenv("LEDGER_TODAY", "2024-08-25")
    monkeypatch.setenv("LEDGER_ACTOR", "officer-test")


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def test_version_and_usage_errors(capsys):
    with pytest.raises(SystemExit) as done:  # argparse's own exits, after printing
        main(["--version"])
    assert done.value.code == 0 and "ledger " in capsys.readouterr().out
    with pytest.raises(SystemExit) as usage:
        main(["payroll", "run", "--month", "13-2024"])
    assert usage.value.code == 64  # not 2: that is `audit verify`'s "history altered"
    with pytest.raises(SystemExit) as usage:
        main(["no-such-command"])
    assert usage.value.code == 64


def test_missing_file_folder_and_unreadable_file(sqlite_url, tmp_path, capsys):
    code, _, err = run(capsys, "--db", sqlite_url, "import", "decisions", str(tmp_path / "nowhere.csv"))
    assert code == 1 and "nowhere.csv" in err
    code, _, err = run(capsys, "--db", sqlite_url, "import", "deaths", str(tmp_path))
    assert code == 1 and "folder" in err
    locked = decisions_file(tmp_path / "locked.csv", [REGISTER])
    locked.chmod(0)
    if os.access(locked, os.R_OK):  # root reads anything: nothing to test here
        return
    code, _, err = run(capsys, "--db", sqlite_url, "import", "decisions", str(locked))
    assert code == 1 and "locked.csv" in err


def test_unreachable_postgresql_is_temporary(capsys):
    with socket.socket() as s:  # a loopback port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code, _, err = run(capsys, "--db", f"postgresql://postgres@127.0.0.1:{port}/nobody", "unclaimed",
                       "--month", "2024-08")
    assert code == 75 and "unreachable" in err and "records nothing twice" in err


def test_a_corrupted_event_met_during_replay(sqlite_url, tmp_path, capsys):
    assert main(["--db", sqlite_url, "import", "decisions", str(decisions_file(tmp_path / "d.csv", [REGISTER]))]) == 0
    engine = sa.create_engine(sqlite_url)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE stored_events SET state = X'7b2262726f6b656e' WHERE rowid = 1"))
    engine.dispose()
    capsys.readouterr()
    code, _, err = run(capsys, "--db", sqlite_url, "replay")
    assert code == 2 and "cannot be read" in err


def test_ctrl_c_exits_130_and_says_what_was_recorded(tmp_path):
    people = synthetic.registrations(20000, seed=2, first=Month.parse("2024-07"), months_count=1)
    path = decisions_file(tmp_path / "d.csv", people)
    env = dict(os.environ, LEDGER_DATABASE_URL=f"sqlite:///{tmp_path / 'l.db'}", LEDGER_ACTOR="o")
    process = subprocess.Popen([sys.executable, "-m", "adapters.cli", "import", "decisions", str(path)],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # Interrupt once the command is under way (it has opened its store): on a
    # busy machine, loading the libraries alone can take seconds.
    deadline = time.monotonic() + 60
    while not (tmp_path / "l.db").exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1.0)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=120)
    assert "Traceback" not in err
    if process.returncode == 0:  # it finished first: nothing to interrupt on this machine
        return
    assert process.returncode == 130 and "interrupted" in err and "records nothing twice" in err
    # The file was recorded whole or not at all (the interrupt may land after
    # the commit, during the views' catch-up); running it again completes it,
    # recording nothing twice.
    done = subprocess.run([sys.executable, "-m", "adapters.cli", "import", "decisions", str(path), "--json"],
                          env=env, capture_output=True, text=True, timeout=300)
    summary = json.loads(done.stdout)
    assert done.returncode == 0 and summary["unchanged_rows"] in (0, len(people))
    engine = sa.create_engine(env["LEDGER_DATABASE_URL"])
    with engine.connect() as conn:
        # Every registration and one receipt of the import (ledger/imports.py), whichever run recorded it.
        assert conn.execute(sa.text("SELECT count(*) FROM stored_events")).scalar() == len(people) + 1
    engine.dispose()


def test_settings_file_environment_and_flags(tmp_path, monkeypatch, capsys):
    config = tmp_path / "ledger.toml"
    config.write_text('office_name = "Phòng LĐTBXH huyện A"\nactor = "from-file"\n'
                      'cipher_key = "c2VjcmV0"\ntreasury_account = "KBNN-1111"\n', encoding="utf-8")
    monkeypatch.delenv("LEDGER_ACTOR")
    monkeypatch.delenv("LEDGER_OFFICE_NAME", raising=False)
    monkeypatch.setenv("LEDGER_TREASURY_ACCOUNT", "KBNN-2222")
    code, out, _ = run(capsys, "--config", str(config), "--actor", "from-flag", "config", "show", "--json")
    shown = json.loads(out)
    assert code == 0
    assert shown["office_name"] == "Phòng LĐTBXH huyện A"  # the file
    assert shown["treasury_account"] == "KBNN-2222"  # the environment over the file
    assert shown["actor"] == "from-flag"  # the flag over both
    assert shown["cipher_key"] == "********" and "c2VjcmV0" not in out
    config.write_text('no_such_setting = 1\n', encoding="utf-8")
    code, _, err = run(capsys, "--config", str(config), "config", "show")
    assert code == 1 and "no_such_setting" in err


def test_ctrl_c_while_the_program_loads_is_not_a_traceback(tmp_path):
    """An interrupt before the command has started (its libraries still
    loading) says nothing was recorded and exits 130."""
    env = dict(os.environ, LEDGER_DATABASE_URL=f"sqlite:///{tmp_path / 'l.db'}", LEDGER_ACTOR="o")
    code = ("import os, signal, sys; sys.argv = ['ledger', 'status']; "
            "from adapters.startup import interrupt_quietly; interrupt_quietly(); "
            "os.kill(os.getpid(), signal.SIGINT); import adapters.cli")
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 130
    assert done.stderr == "ledger: interrupted before the command started; nothing was recorded.\n"
    assert not (tmp_path / "l.db").exists()


def test_a_connection_dropped_under_a_transaction_is_a_temporary_failure():
    """Seen when the server restarted mid-command: the pool hands back the
    connection it lost before replacing it. It is the database going away
    (exit 75, try again), not an unexpected failure (1)."""
    from sqlalchemy.exc import PendingRollbackError

    from adapters.errors import EXIT_TEMPORARY, explain, is_connection_failure

    dropped = PendingRollbackError("Can't reconnect until invalid transaction is rolled back.")
    assert is_connection_failure(dropped)
    code, message = explain(dropped)
    assert code == EXIT_TEMPORARY and "unreachable or stopped mid-command" in message


def test_ctrl_c_inside_the_json_encoder_is_still_an_interrupt(tmp_path, monkeypatch, capsys):
    # orjson turns an exception raised in its `default` callback (here the
    # KeyboardInterrupt of a Ctrl-C landing while an event is encoded) into
    # "TypeError: Type is not JSON serializable"; it must read as an interrupt.
    import orjson

    import adapters.cli as cli

    class Unencodable:
        pass

    def encode_while_interrupted(*args, **kwargs):
        orjson.dumps({"state": Unencodable()}, default=lambda value: signal.raise_signal(signal.SIGINT))
        raise AssertionError("orjson should have raised")

    monkeypatch.setattr(cli, "open_runtime", encode_while_interrupted)
    # A job started in the background inherits Ctrl-C ignored; the command
    # is run here as from a terminal, with Python's own handler.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        code, _, err = run(capsys, "--db", f"sqlite:///{tmp_path / 'l.db'}", "entitlements", "--month", "2024-07")
    finally:
        signal.signal(signal.SIGINT, previous)
    assert code == 130 and "interrupted" in err and "TypeError" not in err
