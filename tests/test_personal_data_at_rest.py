"""Personal data kept from whoever reads the database: with a cipher key,
no name, citizen id, bank account or proxy is in clear in any table, on
SQLite and PostgreSQL, and the command and queries still show them."""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from urllib.parse import urlparse

import pytest
from eventsourcing.cryptography import AESCipher

from adapters.cli import main
from ledger.beneficiary import beneficiary_id

from .helpers import REGISTER, REGISTER_2, decisions_file, open_ledger
from .test_payroll_cycle import results_for

PROXY = dict(REGISTER, decision_no="3/QĐ-UBND", signed_on="2024-07-10", kind="authorize_proxy",
             effective_month="2024-07", proxy_name="Lê Thị Ủy Quyền", proxy_citizen_id="051185004321",
             full_name="", birth_date="", sex="", category="", province_code="", commune_code="", channel="",
             agent_code="", home_delivery="")


def secrets() -> list[str]:
    return [REGISTER["citizen_id"], REGISTER_2["citizen_id"], REGISTER["full_name"], REGISTER_2["full_name"],
            REGISTER_2["bank_account"], PROXY["proxy_name"], PROXY["proxy_citizen_id"],
            "Nguy", "Tr\u1ea7n"]


@pytest.fixture(autouse=True)
def _env(monkeypatch):
    monkeypatch.setenv("LEDGER_TODAY", "2024-08-25")
    monkeypatch.setenv("LEDGER_ACTOR", "officer-test")
    monkeypatch.setenv("LEDGER_TREASURY_ACCOUNT", "3761201000123")


def ledger_cmd(capsys, url, *argv):
    code = main(["--db", url, *argv])
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


def every_value(url: str):
    """(table, value) for every value of every table of the database, as
    the driver gives it: what someone with a copy of the database reads."""
    if url.startswith("sqlite:///"):
        path = url[len("sqlite:///"):]
        with sqlite3.connect(path) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            tables = [t for (t,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
            for table in tables:
                for row in conn.execute(f'SELECT * FROM "{table}"'):
                    for value in row:
                        yield table, value
        yield "the database file", Path(path).read_bytes()
        return
    import psycopg

    with psycopg.connect(url) as conn:
        tables = [t for (t,) in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()")]
        for table in tables:
            for row in conn.execute(f'SELECT * FROM "{table}"'):
                for value in row:
                    yield table, value


def found_in_clear(url: str) -> list[tuple[str, str]]:
    found, tables = [], set()
    for table, value in every_value(url):
        tables.add(table)
        data = bytes(value) if isinstance(value, (bytes, memoryview)) else str(value).encode()
        found += [(table, s) for s in secrets() if s.encode() in data]
    assert {"ent_beneficiaries", "pay_lines", "postings", "ent_segments"} <= tables
    return found


def cycle(capsys, url, tmp_path) -> dict:
    path = decisions_file(tmp_path / "d.csv", [REGISTER, REGISTER_2, PROXY])
    ledger_cmd(capsys, url, "import", "decisions", str(path))
    summary = json.loads(ledger_cmd(capsys, url, "payroll", "run", "--month", "2024-07", "--out",
                                    str(tmp_path / "out"), "--json"))
    for result in results_for(summary, "2024-07", tmp_path):
        kind = "postoffice" if "VNPOST" in result.name else "bank"
        ledger_cmd(capsys, url, "import", kind, str(result))
    ledger_cmd(capsys, url, "payroll", "run", "--month", "2024-08", "--out", str(tmp_path / "out8"))
    return summary


def test_no_personal_data_in_clear_with_a_key(store_url, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("LEDGER_CIPHER_KEY", AESCipher.create_key(32))
    summary = cycle(capsys, store_url, tmp_path)

    assert found_in_clear(store_url) == []

    # ...and everyone who holds the key sees them as before.
    shown = ledger_cmd(capsys, store_url, "beneficiary", "show", REGISTER["citizen_id"])
    assert REGISTER["full_name"] in shown
    people = json.loads(ledger_cmd(capsys, store_url, "entitlements", "--month", "2024-08", "--json"))
    assert [p["citizen_id"] for p in people] == [REGISTER_2["citizen_id"], REGISTER["citizen_id"]]  # by agent
    files = "".join(Path(f).read_text(encoding="utf-8") for f in summary["files"] if f.endswith(".csv"))
    for value in (REGISTER["full_name"], REGISTER_2["bank_account"], PROXY["proxy_name"]):
        assert value in files
    with open_ledger(store_url) as ledger:
        found = ledger.queries.search_people("tran thi")
        assert [(p.citizen_id, p.full_name) for p in found] == [(REGISTER_2["citizen_id"], REGISTER_2["full_name"])]
        assert [p.citizen_id for p in ledger.queries.search_people(REGISTER["citizen_id"][:3])] == \
            sorted([REGISTER["citizen_id"], REGISTER_2["citizen_id"]])
        # The views rebuilt from the events are the live ones, read in clear.
        assert ledger.queries.replay_check(f"sqlite:///{tmp_path / 'replay.db'}").matches
        assert ledger.queries.verify().ok


def test_without_a_key_the_views_are_in_clear(sqlite_url, tmp_path, capsys, monkeypatch):
    """The same run without a key: the check above finds what it looks for."""
    monkeypatch.delenv("LEDGER_CIPHER_KEY", raising=False)
    cycle(capsys, sqlite_url, tmp_path)
    found = {table for table, _ in found_in_clear(sqlite_url)}
    assert {"ent_beneficiaries", "pay_lines", "postings", "unclaimed_queue"} & found >= {
        "ent_beneficiaries", "pay_lines", "postings"}


def test_aggregate_ids_are_keyed_with_a_key(store_url, tmp_path, monkeypatch):
    path = decisions_file(tmp_path / "d.csv", [REGISTER])
    monkeypatch.setenv("LEDGER_CIPHER_KEY", AESCipher.create_key(32))
    with open_ledger(store_url) as ledger:
        ledger.commands.import_decisions(path, "o")
        person = ledger.runtime.app.beneficiary(REGISTER["citizen_id"])
        assert person.id != beneficiary_id(REGISTER["citizen_id"]) and person.id.version == 4
        # Another key, another id: the id says nothing without the key.
        from adapters.personal_cipher import beneficiary_ids
        assert beneficiary_ids(AESCipher.create_key(32))(REGISTER["citizen_id"]) != person.id
    with open_ledger(store_url) as ledger:  # reopened: the same scheme, the same person
        assert ledger.runtime.app.beneficiary(REGISTER["citizen_id"]).id == person.id


def test_a_store_registered_with_uuid5_ids_keeps_them(store_url, tmp_path, monkeypatch):
    """An encrypted store made before keyed ids: its people stay found, and
    a new decision about them changes them rather than registering again."""
    monkeypatch.setenv("LEDGER_CIPHER_KEY", AESCipher.create_key(32))
    with open_ledger(store_url) as ledger:
        ledger.runtime.app.id_of = beneficiary_id  # as the ledger named people before
        ledger.commands.import_decisions(decisions_file(tmp_path / "d.csv", [REGISTER]), "o")
    with open_ledger(store_url) as ledger:
        assert ledger.runtime.app.id_of is beneficiary_id
        outcome = ledger.commands.import_decisions(decisions_file(tmp_path / "m.csv", [PROXY]), "o")
        assert outcome.recorded_events == 1
        assert ledger.queries.beneficiary_report(REGISTER["citizen_id"]).full_name == REGISTER["full_name"]


def test_without_a_key_ids_are_uuid5(sqlite_url, tmp_path, monkeypatch):
    monkeypatch.delenv("LEDGER_CIPHER_KEY", raising=False)
    with open_ledger(sqlite_url) as ledger:
        ledger.commands.import_decisions(decisions_file(tmp_path / "d.csv", [REGISTER]), "o")
        assert ledger.runtime.app.beneficiary(REGISTER["citizen_id"]).id == beneficiary_id(REGISTER["citizen_id"])
