"""Optional encryption at rest: with LEDGER_CIPHER_KEY the stored events
are unreadable without the key, and the ledger works as before."""
from __future__ import annotations

import pytest
import sqlalchemy as sa
from eventsourcing.cryptography import AESCipher

from .helpers import open_ledger

from .helpers import REGISTER, REGISTER_2, decisions_file


def test_stored_events_are_unreadable_without_the_key(store_url, tmp_path, monkeypatch):
    monkeypatch.setenv("LEDGER_CIPHER_KEY", AESCipher.create_key(32))
    path = decisions_file(tmp_path / "d.csv", [REGISTER, REGISTER_2])
    with open_ledger(store_url) as ledger:
        ledger.commands.import_decisions(path, "o")
        assert ledger.queries.beneficiary_report(REGISTER_2["citizen_id"]).full_name == REGISTER_2["full_name"]
        with ledger.runtime.engine.connect() as conn:
            states = [bytes(s) for s in conn.execute(sa.text(f"SELECT state FROM {ledger.runtime.store.events_table}")).scalars()]
        assert ledger.queries.verify().ok
    secrets = [REGISTER["citizen_id"], REGISTER_2["full_name"], REGISTER_2["bank_account"], "Nguy"]
    for state in states:
        for secret in secrets:
            assert secret.encode() not in state
    # Without the key (or with another one) nothing can be read back.
    monkeypatch.setenv("LEDGER_CIPHER_KEY", AESCipher.create_key(32))
    with open_ledger(store_url) as ledger:
        with pytest.raises(Exception):
            ledger.runtime.runner.rebuild()
