"""The entitlements read model: rebuilt from scratch it equals the one
maintained incrementally, on SQLite and PostgreSQL."""
from __future__ import annotations

from hypothesis import HealthCheck, given, settings, strategies as st

from .helpers import OpenLedger, open_ledger
from adapters.synthetic import later_decisions, registrations
from ledger.months import Month
from projections import entitlements as view

from .helpers import decisions_file, dump_views
from .strategies import history


def test_rebuild_equals_incremental_on_a_synthetic_district(store_url, tmp_path):
    registered = registrations(300, seed=11)
    files = [decisions_file(tmp_path / "reg-a.csv", registered[:120]),
             decisions_file(tmp_path / "reg-b.csv", registered[120:])]
    for month in ("2024-07", "2024-08", "2024-09", "2024-10"):
        files.append(decisions_file(tmp_path / f"{month}.csv",
                                    later_decisions(registered, seed=11, month=Month.parse(month), share=0.1)))
    with open_ledger(store_url) as ledger:
        for path in files:
            ledger.commands.import_decisions(path, "o")  # catches up after each file
        incremental = dump_views(ledger.runtime.engine)
        ledger.runtime.runner.rebuild()
        assert dump_views(ledger.runtime.engine) == incremental
        assert len(incremental["ent_beneficiaries"]) == 300


def _record(ledger: OpenLedger, decisions) -> None:
    ledger.runtime.app.record_decisions(decisions, "tester")


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(history(max_later=4), min_size=1, max_size=4), st.integers(1, 3))
def test_rebuild_equals_incremental_for_random_histories(store_url, histories, batch):
    """Catches: a projection whose incremental fold depends on how events
    are batched (a person's registration and back-dated change folded in
    different batches giving other schedule runs than one rebuild)."""
    with open_ledger(store_url) as ledger:
        ledger.runtime.runner.rebuild()  # each example starts from an empty view
        before = ledger.runtime.app.recorder.max_notification_id() or 0
        fresh = []
        for serial, (reg, later) in enumerate(histories):
            from dataclasses import replace
            from ledger import citizen_id as cid
            citizen = cid.make(51, reg.birth_date.year, reg.sex, before + serial + 1)
            fresh.append([replace(reg, citizen_id=citizen)] + [replace(d, citizen_id=citizen) for d in later])
        # Record in several steps, catching up in between.
        decisions = [d for person in fresh for d in person]
        for start in range(0, len(decisions), batch):
            _record(ledger, decisions[start:start + batch])
            ledger.runtime.runner.BATCH = 2  # fold in small batches, as a live runner would
            ledger.runtime.runner.catch_up()
        incremental = dump_views(ledger.runtime.engine)
        ledger.runtime.runner.BATCH = 5000
        ledger.runtime.runner.rebuild()
        assert dump_views(ledger.runtime.engine) == incremental


def test_entitlements_for_a_month(store_url, tmp_path):
    from .helpers import REGISTER, REGISTER_2

    terminate = dict(decision_no="7/QĐ", signed_on="2024-10-02", kind="terminate",
                     citizen_id=REGISTER_2["citizen_id"], effective_month="2024-10", reason="adopted")
    with open_ledger(store_url) as ledger:
        ledger.commands.import_decisions(decisions_file(tmp_path / "d.csv", [REGISTER, REGISTER_2, terminate]), "o")
        with ledger.runtime.engine.connect() as conn:
            september = {r["citizen_id"]: r for r in view.for_month(conn, "2024-09")}
            october = {r["citizen_id"]: r for r in view.for_month(conn, "2024-10")}
            november = {r["citizen_id"]: r for r in view.for_month(conn, "2024-11")}
            june = view.for_month(conn, "2024-06")
    assert september[REGISTER_2["citizen_id"]]["amount_vnd"] == 750_000
    assert october[REGISTER_2["citizen_id"]]["status"] == "terminated"
    assert october[REGISTER_2["citizen_id"]]["amount_vnd"] == 0
    assert REGISTER_2["citizen_id"] not in november  # stopped before: no longer listed
    assert november[REGISTER["citizen_id"]]["amount_vnd"] == 500_000
    assert june == []


def test_a_changed_rule_file_rebuilds_the_view(sqlite_url, tmp_path):
    from adapters.rulefiles import default_ruleset
    from ledger.rules import LevelEntry
    from .helpers import REGISTER

    with open_ledger(sqlite_url) as ledger:
        ledger.commands.import_decisions(decisions_file(tmp_path / "d.csv", [REGISTER]), "o")
    rules = default_ruleset()
    raised = rules.model_copy(update={"levels": [*rules.levels, LevelEntry(
        effective_from=Month.parse("2025-01").first_day, amount_vnd=600_000, source="test")]})
    with open_ledger(sqlite_url, rules=raised) as ledger:
        ledger.runtime.catch_up()
        with ledger.runtime.engine.connect() as conn:
            (row,) = view.for_month(conn, "2025-01")
    assert row["amount_vnd"] == 600_000


def test_aggregates_restored_from_snapshots_equal_replayed_ones(store_url, tmp_path):
    """Bulk commands restore aggregates from the write-side snapshots; that
    must be exactly what replaying the person's events gives."""
    from adapters.snapshots import SnapshotLoader
    from adapters.store import EventReplayLoader
    from ledger.beneficiary import beneficiary_id

    registered = registrations(120, seed=5)
    with open_ledger(store_url) as ledger:
        ledger.commands.import_decisions(decisions_file(tmp_path / "r.csv", registered), "o")
        ledger.commands.import_decisions(decisions_file(tmp_path / "c.csv", later_decisions(
            registered, seed=5, month=Month.parse("2024-08"), share=0.3)), "o")
        ids = [beneficiary_id(r["citizen_id"]) for r in registered]
        restored = SnapshotLoader(ledger.runtime.store, ledger.runtime.engine, ledger.runtime.app.mapper)(ids)
        replayed = EventReplayLoader(ledger.runtime.store, ledger.runtime.app)(ids)
        assert restored.keys() == replayed.keys() == set(ids)
        for aggregate_id in ids:
            one, other = restored[aggregate_id], replayed[aggregate_id]
            assert (one.version, one.state, one.modified_on) == (other.version, other.state, other.modified_on)
