"""For auditors: the history's hash chain finds any altered row, the
timeline tells each event's story, on SQLite and PostgreSQL."""
from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, example, given, settings, strategies as st

from adapters import synthetic
from adapters.cli import main
from .helpers import open_ledger
from ledger.months import Month

from .helpers import REGISTER, decisions_file, event_count

FIRST = Month.parse("2024-07")


@pytest.fixture
def history(store_url, tmp_path):
    """A small district through two months of payroll."""
    registered = synthetic.registrations(12, seed=2, first=FIRST, months_count=1)
    with open_ledger(store_url) as ledger:
        ledger.commands.import_decisions(decisions_file(tmp_path / "d.csv", registered), "o")
        for month in (FIRST, FIRST + 1):
            payroll = ledger.commands.run_payroll(month, tmp_path / "out", "o")
            for name in payroll.files:
                if name.endswith(".csv") and "VNPOST" in name:
                    results = synthetic.postoffice_results(synthetic.read_payroll_csv(name), str(month), seed=2)
                    ledger.commands.import_postoffice(synthetic.write_csv(tmp_path / f"po-{month}.csv", results,
                                                                 synthetic.POSTOFFICE_RESULT_COLUMNS), "o")
        assert ledger.queries.verify().ok
    return store_url


class Tamper:
    """Direct edits to the stored event rows, undone afterwards."""

    def __init__(self, ledger):
        self.ledger = ledger
        store = ledger.runtime.store
        self.table = store.events_table
        self.pos = "rowid" if store.kind == "sqlite" else "notification_id"

    def row(self, conn, position):
        return conn.execute(sa.text(f"SELECT originator_id, originator_version, topic, state FROM {self.table} "
                                    f"WHERE {self.pos} = :p"), {"p": position}).one()

    def apply(self, kind: str, position: int, other: int):
        with self.ledger.runtime.engine.begin() as conn:
            original = self.row(conn, position)
            if kind == "change_state":
                state = bytearray(original.state)
                state[len(state) // 2] ^= 0x01
                conn.execute(sa.text(f"UPDATE {self.table} SET state = :s WHERE {self.pos} = :p"),
                             {"s": bytes(state), "p": position})
            elif kind == "change_topic":
                conn.execute(sa.text(f"UPDATE {self.table} SET topic = :t WHERE {self.pos} = :p"),
                             {"t": original.topic + "X", "p": position})
            elif kind == "delete":
                conn.execute(sa.text(f"DELETE FROM {self.table} WHERE {self.pos} = :p"), {"p": position})
            elif kind == "swap":  # reorder: two rows trade places
                second = self.row(conn, other)
                for target, source in ((position, second), (other, original)):
                    conn.execute(sa.text(f"UPDATE {self.table} SET state = :s, topic = :t WHERE {self.pos} = :p"),
                                 {"s": bytes(source.state), "t": source.topic, "p": target})
        return original

    def undo(self, kind: str, position: int, other: int, original, second=None):
        with self.ledger.runtime.engine.begin() as conn:
            if kind == "delete":
                id_value = original.originator_id
                columns = f"{self.pos}, originator_id, originator_version, topic, state"
                conn.execute(sa.text(f"INSERT INTO {self.table} ({columns}) VALUES (:p, :o, :v, :t, :s)"),
                             {"p": position, "o": id_value, "v": original.originator_version,
                              "t": original.topic, "s": bytes(original.state)})
            else:
                for target, source in ((position, original), (other, second)) if second else ((position, original),):
                    conn.execute(sa.text(f"UPDATE {self.table} SET state = :s, topic = :t WHERE {self.pos} = :p"),
                                 {"s": bytes(source.state), "t": source.topic, "p": target})


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind=st.sampled_from(["change_state", "change_topic", "delete", "swap"]), pick=st.floats(0, 1),
       other_pick=st.floats(0, 1))
@example(kind="delete", pick=1.0, other_pick=0.0)  # the last row: nothing after it to break
@example(kind="swap", pick=0.0, other_pick=1.0)  # the first and the last trade places
def test_verify_finds_every_single_row_alteration(history, kind, pick, other_pick):
    """Catches: a chain that only checks the rows after a change (the last
    row deleted), or that hashes the content but not the position."""
    with open_ledger(history) as ledger:
        total = event_count(ledger)
        position = 1 + int(pick * (total - 1))
        other = 1 + int(other_pick * (total - 1))
        tamper = Tamper(ledger)
        if kind == "swap":
            with ledger.runtime.engine.connect() as conn:
                if other == position or tamper.row(conn, other).state == tamper.row(conn, position).state:
                    return
                second = tamper.row(conn, other)
        else:
            second = None
        original = tamper.apply(kind, position, other)
        try:
            verdict = ledger.queries.verify()
            assert not verdict.ok
            assert verdict.first_bad_position == (min(position, other) if kind == "swap" else position)
        finally:
            tamper.undo(kind, position, other, original, second)
        assert ledger.queries.verify().ok


def test_verify_command_exit_codes(history, capsys):
    assert main(["--db", history, "audit", "verify", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["ok"] is True
    with open_ledger(history) as ledger:
        tamper = Tamper(ledger)
        original = tamper.apply("change_state", 5, 0)
    assert main(["--db", history, "audit", "verify"]) == 2
    assert "HISTORY ALTERED at position 5" in capsys.readouterr().out
    with open_ledger(history) as ledger:
        Tamper(ledger).undo("change_state", 5, 0, original)


def test_timeline_tells_each_event(store_url, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("LEDGER_TODAY", "2024-09-01")
    change = dict(decision_no="9/QĐ", signed_on="2024-08-20", kind="reassess_disability",
                  citizen_id=REGISTER["citizen_id"], category="DISABLED_SPECIAL", effective_month="2024-07")
    with open_ledger(store_url) as ledger:
        ledger.commands.import_decisions(decisions_file(tmp_path / "d.csv", [dict(REGISTER, category="DISABLED_SEVERE")]), "o")
        ledger.commands.run_payroll(FIRST, tmp_path / "out", "officer-b")
        ledger.commands.import_decisions(decisions_file(tmp_path / "c.csv", [change]), "officer-c")
    assert main(["--db", store_url, "audit", "timeline", REGISTER["citizen_id"], "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    # The reassessment upward leaves the July line be: the difference is arrears.
    assert [r["type"] for r in rows] == ["Registered", "PayoutIssued", "DisabilityReassessed"]
    assert [r["actor"] for r in rows] == ["o", "officer-b", "officer-c"]
    assert [r["basis"] for r in rows] == ["1/QĐ-UBND", "VNPOST-BS-01/2024-07", "9/QĐ"]
    assert [r["amount"] for r in rows] == [1_000_000, 1_000_000, 250_000]
    assert rows[2]["effective"] == "2024-07"
    assert [r["position"] for r in rows] == sorted(r["position"] for r in rows)
    for row in rows:
        assert set(row) == {"position", "recorded_at", "effective", "type", "actor", "basis", "amount", "detail"}
