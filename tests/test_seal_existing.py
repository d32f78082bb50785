"""`ledger audit seal --existing`: a store written before the hash chain
existed is sealed once, by a named person, and then verifies; rows that
look appended outside the ledger after sealed ones are refused, not sealed.
On SQLite and PostgreSQL."""
from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from adapters import synthetic
from adapters.cli import main
from ledger.history import HISTORY_SEALS_ID
from ledger.months import Month

from .helpers import decisions_file, event_count, open_ledger
from .test_checkpoints import Rows

FIRST = Month.parse("2024-07")


@pytest.fixture
def before_the_chain(store_url, tmp_path, monkeypatch):
    """A district through one payroll, its seals removed: a store as the
    ledger wrote it before the chain existed."""
    monkeypatch.setenv("LEDGER_ACTOR", "o")
    monkeypatch.setenv("LEDGER_TODAY", "2024-08-20")
    registered = synthetic.registrations(20, seed=3, first=FIRST, months_count=1)
    with open_ledger(store_url) as ledger:
        ledger.commands.import_decisions(decisions_file(tmp_path / "d.csv", registered), "o")
        ledger.commands.run_payroll(FIRST, tmp_path / "out", "o")
        with ledger.runtime.engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM audit_chain"))
        count = event_count(ledger)
    return store_url, count


def run(capsys, url, *argv) -> tuple[int, str, str]:
    code = main(["--db", url, *argv])
    out, err = capsys.readouterr()
    return code, out, err


def verify(capsys, url) -> tuple[int, dict]:
    code, out, _ = run(capsys, url, "audit", "verify", "--json")
    return code, json.loads(out)


def test_a_store_from_before_the_chain_is_sealed_once(before_the_chain, capsys):
    url, count = before_the_chain
    code, data = verify(capsys, url)
    assert code == 2 and data["first_bad"] == 1 and "no seal" in data["problem"]

    code, out, err = run(capsys, url, "--actor", "auditor-lan", "audit", "seal", "--existing", "--json")
    assert code == 0, err
    sealed = json.loads(out)
    assert (sealed["sealed"], sealed["first_position"], sealed["last_position"]) == (count, 1, count)
    code, data = verify(capsys, url)
    assert code == 0 and data["ok"] and data["checked"] == count + 2  # the record of the sealing, sealed too
    assert data["head"] == sealed["head"]
    with open_ledger(url) as ledger:
        sealings = ledger.runtime.app.repository.get(HISTORY_SEALS_ID).sealings
        assert sealings == [dict(actor="auditor-lan", events_sealed=count, first_position=1, last_position=count)]
        events = event_count(ledger)

    code, out, _ = run(capsys, url, "--actor", "auditor-lan", "audit", "seal", "--existing")
    assert code == 0 and "nothing to seal" in out
    with open_ledger(url) as ledger:
        assert event_count(ledger) == events  # once: nothing recorded the second time


def test_commands_run_before_the_sealing_are_chained_on(before_the_chain, tmp_path, capsys):
    """The realistic order: the ledger upgraded, a command run (it seals its
    own events, from an empty chain), then the old history sealed."""
    url, count = before_the_chain
    with open_ledger(url) as ledger:
        ledger.commands.run_payroll(FIRST + 1, tmp_path / "out", "o")
        later = event_count(ledger) - count
    code, out, err = run(capsys, url, "--actor", "auditor-lan", "audit", "seal", "--existing", "--json")
    assert code == 0, err
    sealed = json.loads(out)
    assert (sealed["sealed"], sealed["last_position"], sealed["rechained"]) == (count, count, later)
    code, data = verify(capsys, url)
    assert code == 0 and data["checked"] == count + later + 2


@pytest.mark.parametrize("sealed_first", [False, True])
def test_rows_appended_after_sealed_ones_are_refused(before_the_chain, tmp_path, capsys, sealed_first):
    url, count = before_the_chain
    if sealed_first:  # sealed properly, then a row forged at the end
        assert run(capsys, url, "--actor", "a", "audit", "seal", "--existing")[0] == 0
    else:  # a command ran after the upgrade (sealed), then a row forged after it
        with open_ledger(url) as ledger:
            ledger.commands.run_payroll(FIRST + 1, tmp_path / "out", "o")
    with open_ledger(url) as ledger:
        rows, last = Rows(ledger), event_count(ledger)
        (_, oid, version, topic, state), = rows.delete_from(last, seals_too=False)
        rows.insert([(None, oid, version, topic, state)], last, seal=False)  # put back
        rows.insert([(None, oid, version + 1000, topic, state)], last + 1, seal=False)  # forged
        events = event_count(ledger)
    code, out, err = run(capsys, url, "--actor", "a", "audit", "seal", "--existing")
    assert code == 1 and "Traceback" not in err
    assert f"position {last + 1} has no seal but comes after sealed events" in err
    assert "appended outside the ledger" in err
    with open_ledger(url) as ledger:
        assert event_count(ledger) == events  # nothing recorded, nothing sealed
    code, data = verify(capsys, url)
    assert code == 2 and data["first_bad"] == (last + 1 if sealed_first else 1)


def test_a_changed_sealed_row_is_refused(before_the_chain, tmp_path, capsys):
    url, count = before_the_chain
    with open_ledger(url) as ledger:
        ledger.commands.run_payroll(FIRST + 1, tmp_path / "out", "o")
        rows = Rows(ledger)
        with ledger.runtime.engine.begin() as conn:
            conn.execute(sa.text(f"UPDATE {rows.table} SET originator_version = originator_version + 500 "
                                 f"WHERE {rows.pos} = :p"), {"p": count + 2})
    code, _, err = run(capsys, url, "--actor", "a", "audit", "seal", "--existing")
    assert code == 1 and f"position {count + 2} does not match its seal" in err


def test_sealing_needs_an_actor(before_the_chain, capsys, monkeypatch):
    url, _ = before_the_chain
    monkeypatch.delenv("LEDGER_ACTOR")
    code, _, err = run(capsys, url, "audit", "seal", "--existing")
    assert code == 64 and "actor" in err


def test_a_month_closed_before_its_history_is_sealed_settles_on_every_event(before_the_chain, tmp_path):
    """Catches: a close that reads the events only up to the chain's head,
    which on a store from before the chain is none of them (it would record
    an advance of 0), or that leaves a mark the next close cannot trust."""
    url, _ = before_the_chain
    with open_ledger(url) as ledger:
        payroll = ledger.runtime.app.calendar().months[str(FIRST)]
        assert ledger.runtime.chain.head()[0] == 0  # nothing sealed
        differs: list = []
        missing = ledger.commands.close_month(FIRST, {}, "chief-officer", on_view_differs=differs.extend)
        assert missing == [] and differs == []
        calendar = ledger.runtime.app.calendar()
        closed = calendar.closed[str(FIRST)]
        assert {code: f["advance"] for code, f in closed.items()} == \
               {code: run["advance_vnd"] for code, run in payroll.items()}
        assert str(FIRST) not in calendar.books_from  # the next close reads from the first event
        ledger.commands.run_payroll(FIRST + 1, tmp_path / "out", "o")
        assert ledger.commands.close_month(FIRST + 1, {}, "chief-officer", on_view_differs=differs.extend) == []
        assert differs == []
        august = ledger.runtime.app.calendar().closed[str(FIRST + 1)]
        assert {code: f["opening"] for code, f in august.items()} == \
               {code: f["closing"] for code, f in closed.items()}
