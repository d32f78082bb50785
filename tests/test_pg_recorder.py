"""The PostgreSQL recorder: large batches go through (the library's
pipelined insert deadlocks above ~15,000 events), ids come back in order,
and a stale aggregate still raises IntegrityError."""
from __future__ import annotations

import time
from uuid import uuid4

import pytest
from eventsourcing.persistence import IntegrityError, StoredEvent

from .helpers import open_ledger
from adapters.synthetic import registrations

from .helpers import decisions_file, event_count


def _events(count: int, version: int = 1) -> list[StoredEvent]:
    return [StoredEvent(uuid4(), version, "test:Event", b'{"x": %d}' % i + b" " * 700) for i in range(count)]


@pytest.mark.parametrize("count", [1, 499, 500, 30_000])
def test_batches_of_any_size_are_recorded_in_order(postgres_url, count):
    with open_ledger(postgres_url) as ledger:
        before = event_count(ledger)
        events = _events(count)
        ids = ledger.runtime.app.recorder.insert_events(events)
        assert ids == list(range(before + 1, before + count + 1))
        stored = ledger.runtime.app.recorder.select_notifications(start=before + 1, limit=count + 1)
        assert [(n.originator_id, n.state) for n in stored] == [(e.originator_id, e.state) for e in events]


@pytest.mark.parametrize("count", [3, 2000])
def test_a_stale_version_raises_integrity_error_and_records_nothing(postgres_url, count):
    with open_ledger(postgres_url) as ledger:
        events = _events(count)
        ledger.runtime.app.recorder.insert_events(events)
        before = event_count(ledger)
        again = _events(count) + [events[-1]]  # the last one collides
        with pytest.raises(IntegrityError):
            ledger.runtime.app.recorder.insert_events(again)
        assert event_count(ledger) == before


@pytest.mark.slow
def test_a_large_decisions_file_imports_on_postgresql(postgres_url, tmp_path):
    path = decisions_file(tmp_path / "big.csv", registrations(20_000, seed=2))
    with open_ledger(postgres_url) as ledger:
        assert ledger.commands.import_decisions(path, "o").recorded_events == 20_000


def test_the_transaction_starts_with_the_first_events(postgres_url, monkeypatch):
    """A streaming command may take a while to make its first events (a
    re-import that changes nothing makes none): no transaction is open, so
    the server's idle-in-transaction timeout cannot end it meanwhile."""
    from adapters import store

    settings = store._common_settings
    monkeypatch.setattr(store, "_common_settings",
                        lambda key: {**settings(key), "POSTGRES_IDLE_IN_TRANSACTION_SESSION_TIMEOUT": "1"})

    def chunks():
        yield [], []
        time.sleep(1.5)  # longer than the timeout
        yield _events(3), []

    with open_ledger(postgres_url) as ledger:
        before = event_count(ledger)
        assert ledger.runtime.app.recorder.insert_event_chunks(iter([([], []), ([], [])])) == 0
        assert ledger.runtime.app.recorder.insert_event_chunks(chunks()) == 3
        assert event_count(ledger) == before + 3
