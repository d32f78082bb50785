"""Signed checkpoints anchor the history outside the database: every way of
rewriting it that the chain alone cannot see (the tail deleted with its
seals, a truncation, everything from a position rewritten and sealed again)
is found by `audit verify --against`, on SQLite and PostgreSQL, with the
first position that differs; rows appended outside the ledger have no seal."""
from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from adapters import synthetic
from adapters.cli import main
from ledger.months import Month
from projections.chain import GENESIS, seals

from .helpers import decisions_file, event_count, open_ledger

FIRST = Month.parse("2024-07")


@pytest.fixture
def signed(store_url, tmp_path, monkeypatch, capsys):
    """A district through one payroll, a checkpoint of it, then one more month."""
    monkeypatch.setenv("LEDGER_ACTOR", "o")
    monkeypatch.setenv("LEDGER_TODAY", "2024-08-20")
    key = tmp_path / "office.pem"
    assert main(["keygen", "--signing", "--out", str(key)]) == 0
    monkeypatch.setenv("LEDGER_SIGNING_KEY_FILE", str(key))
    registered = synthetic.registrations(20, seed=3, first=FIRST, months_count=1)
    with open_ledger(store_url) as ledger:
        ledger.commands.import_decisions(decisions_file(tmp_path / "d.csv", registered), "o")
        ledger.commands.run_payroll(FIRST, tmp_path / "out", "o")
    checkpoint = tmp_path / "checkpoint.json"
    assert main(["--db", store_url, "audit", "checkpoint", "--out", str(checkpoint)]) == 0
    with open_ledger(store_url) as ledger:
        ledger.commands.run_payroll(FIRST + 1, tmp_path / "out", "o")
    capsys.readouterr()
    return store_url, checkpoint, json.loads(checkpoint.read_text())


def _verify(url, checkpoint, capsys) -> tuple[int, dict]:
    code = main(["--db", url, "audit", "verify", "--against", str(checkpoint), "--json"])
    return code, json.loads(capsys.readouterr().out)


class Rows:
    def __init__(self, ledger):
        store = ledger.runtime.store
        self.engine, self.table = ledger.runtime.engine, store.events_table
        self.pos = "rowid" if store.kind == "sqlite" else "notification_id"

    def delete_from(self, position: int, seals_too: bool = True) -> list:
        with self.engine.begin() as conn:
            rows = conn.execute(sa.text(f"SELECT {self.pos}, originator_id, originator_version, topic, state "
                                        f"FROM {self.table} WHERE {self.pos} >= :p ORDER BY {self.pos}"),
                                {"p": position}).all()
            conn.execute(sa.text(f"DELETE FROM {self.table} WHERE {self.pos} >= :p"), {"p": position})
            if seals_too:
                conn.execute(sa.text("DELETE FROM audit_chain WHERE position >= :p"), {"p": position})
        return rows

    def insert(self, rows, position: int, seal: bool) -> None:
        """Rows written at positions from ``position`` on; sealed as the
        ledger would seal them if ``seal`` (someone who knows the algorithm)."""
        from uuid import UUID

        with self.engine.begin() as conn:
            head = conn.execute(sa.text("SELECT hash FROM audit_chain ORDER BY position DESC LIMIT 1")).scalar()
            written = []
            for offset, (_, oid, version, topic, state) in enumerate(rows):
                conn.execute(sa.text(f"INSERT INTO {self.table} ({self.pos}, originator_id, originator_version, "
                                     "topic, state) VALUES (:p, :o, :v, :t, :s)"),
                             {"p": position + offset, "o": oid, "v": version, "t": topic, "s": bytes(state)})
                written.append((position + offset, oid if isinstance(oid, UUID) else UUID(str(oid)),
                                version, topic, bytes(state)))
            if seal:
                for pos, digest in seals(head or GENESIS, written):
                    conn.execute(sa.text("INSERT INTO audit_chain (position, hash) VALUES (:p, :h)"),
                                 {"p": pos, "h": digest})


def test_an_untouched_history_extends_its_checkpoint(signed, capsys):
    url, checkpoint, signed_head = signed
    code, data = _verify(url, checkpoint, capsys)
    assert code == 0 and data["ok"], data
    assert data["against"] == [{"file": str(checkpoint), "ok": True, "position": None, "problem": ""}]
    assert data["head"]["position"] > signed_head["position"]
    for key in ("checked", "first_bad", "unsealed", "first_bad_position", "problem", "snapshots_checked",
                "first_bad_snapshot"):
        assert key in data


def test_an_edited_middle_row(signed, capsys):
    url, checkpoint, _ = signed
    with open_ledger(url) as ledger:
        rows = Rows(ledger)
        with rows.engine.begin() as conn:
            conn.execute(sa.text(f"UPDATE {rows.table} SET topic = topic || 'X' WHERE {rows.pos} = 7"))
    code, data = _verify(url, checkpoint, capsys)
    assert code == 2
    assert data["first_bad"] == 7 and data["against"][0]["position"] == 7


def test_the_tail_deleted_with_its_seals(signed, capsys):
    url, checkpoint, signed_head = signed
    cut = signed_head["position"] - 4
    with open_ledger(url) as ledger:
        Rows(ledger).delete_from(cut)
    code, data = _verify(url, checkpoint, capsys)
    assert code == 2
    assert data["first_bad_position"] is None  # the chain alone sees nothing wrong
    assert data["against"][0]["position"] == cut and data["first_bad"] == cut
    assert "ends before" in data["against"][0]["problem"]


def test_rows_appended_outside_the_ledger(signed, capsys):
    url, checkpoint, _ = signed
    with open_ledger(url) as ledger:
        rows = Rows(ledger)
        last = event_count(ledger)
        copied = rows.delete_from(last, seals_too=False)  # take the last row ...
        rows.insert(copied, last, seal=False)  # ... put it back, then a forged one after it
        (_, oid, version, topic, state) = copied[0]
        rows.insert([(None, oid, version + 1000, topic, state)], last + 1, seal=False)
    code, data = _verify(url, checkpoint, capsys)
    assert code == 2
    assert data["first_bad"] == last + 1 and data["unsealed"] == 1
    assert "appended outside the ledger" in data["problem"]
    assert data["against"][0]["ok"]  # it does extend the checkpoint: the seals are what it lacks


def test_seals_deleted_from_p_and_the_history_rewritten_from_p(signed, capsys):
    url, checkpoint, signed_head = signed
    p = signed_head["position"] - 6
    with open_ledger(url) as ledger:
        rows = Rows(ledger)
        taken = rows.delete_from(p)
        rows.insert(list(reversed(taken)), p, seal=True)  # reordered from p, sealed again
    code, data = _verify(url, checkpoint, capsys)
    assert code == 2
    assert data["first_bad_position"] is None  # consistent with its own (rewritten) seals
    assert data["against"][0]["position"] == p and data["first_bad"] == p
    assert "rewritten" in data["against"][0]["problem"]


def test_a_truncated_store(signed, capsys):
    url, checkpoint, _ = signed
    with open_ledger(url) as ledger:
        Rows(ledger).delete_from(1)
    code, data = _verify(url, checkpoint, capsys)
    assert code == 2
    assert data["against"][0]["position"] == 1


def test_an_altered_checkpoint_file_is_refused(signed, capsys):
    url, checkpoint, signed_head = signed
    checkpoint.write_text(json.dumps(dict(signed_head, position=signed_head["position"] - 1)))
    code, data = _verify(url, checkpoint, capsys)
    assert code == 2
    assert "signature is not valid" in data["against"][0]["problem"]


def test_closing_a_month_records_its_seal_and_writes_a_checkpoint(signed, tmp_path, capsys):
    url, _, _ = signed
    with open_ledger(url) as ledger:
        head_before = ledger.runtime.chain.head()
    out = tmp_path / "seals"
    assert main(["--db", url, "settlement", "close", "--month", str(FIRST), "--checkpoint-out", str(out),
                 "--json"]) == 0
    written = json.loads(capsys.readouterr().out)["checkpoint"]
    assert written and written.startswith(str(out))
    with open_ledger(url) as ledger:
        calendar = ledger.runtime.app.calendar()
        assert calendar.seals[str(FIRST)] == {"position": head_before[0], "hash": head_before[1]}
        chain = ledger.queries.district_summary(FIRST).as_dict()["chain"]
        assert chain == {"position": head_before[0], "hash": head_before[1], "at_close": True}
    code, data = _verify(url, written, capsys)
    assert code == 0 and data["against"][0]["ok"]
