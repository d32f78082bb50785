"""Views are caches: whoever can edit them must not decide a payment.

Two stores go through the same month; one has every view table altered
(accounts, amounts, statuses, positions). The next payroll issues exactly
the same lines in both, the files of the altered one are refused (its list
no longer matches the recorded payroll), and replay names the altered views.
A write-side snapshot that is not the fold of its events fails audit verify."""
from __future__ import annotations

import json
from dataclasses import replace

import pytest
import sqlalchemy as sa
from eventsourcing.persistence import StoredEvent

from adapters import synthetic
from adapters.cli import main
from adapters.errors import CommandRefused
from adapters.snapshots import SnapshotCodec
from adapters.store import as_uuid
from ledger.beneficiary import Beneficiary
from ledger.months import Month

from .helpers import decisions_file, open_ledger
from .test_payroll_cycle import results_for

MONTH_1, MONTH_2 = Month.parse("2024-07"), Month.parse("2024-08")

TAMPER = [  # every view table, each in a way that would pay someone else or something else
    "UPDATE ent_beneficiaries SET bank_account = '666666666666', channel = 'bank', status = 'active'",
    "UPDATE ent_segments SET amount_vnd = 7500000, status = 'active'",
    "UPDATE pay_lines SET bank_account = '666666666666', amount_vnd = 7500000, status = 'cancelled', "
    "months = '2024-01;2024-02'",
    "UPDATE payroll_runs SET advance_vnd = 1, line_ids = '[]', carried_ids = '[]'",
    "INSERT INTO unclaimed_queue VALUES ('001090000001', 'VNPOST-X', '00001', 5, 7500000, '2024-07')",
    "INSERT INTO overpayments VALUES ('001090000001', '2024-07', 7500000, 0, 0, 7500000, 'open', 'x')",
    "UPDATE postings SET amount_vnd = amount_vnd + 1",
    "INSERT INTO closed_months VALUES ('2024-07')",
    "UPDATE projection_tracking SET position = position + 1000000",
]


@pytest.fixture(autouse=True)
def _env(monkeypatch):
    monkeypatch.setenv("LEDGER_TODAY", "2024-08-25")
    monkeypatch.setenv("LEDGER_ACTOR", "officer-test")


def first_month(url, tmp_path, capsys):
    tmp_path.mkdir(exist_ok=True)
    people = synthetic.registrations(40, seed=4, first=MONTH_1, months_count=1)
    assert main(["--db", url, "import", "decisions", str(decisions_file(tmp_path / "d.csv", people))]) == 0
    capsys.readouterr()
    assert main(["--db", url, "payroll", "run", "--month", str(MONTH_1), "--out", str(tmp_path / "p1"),
                 "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    for result in results_for(summary, str(MONTH_1), tmp_path):
        kind = "postoffice" if "VNPOST" in result.name else "bank"
        assert main(["--db", url, "import", kind, str(result)]) == 0
    capsys.readouterr()


def issued_lines(ledger, month: Month) -> list[tuple]:
    """The recorded PayoutIssued events of a month, from the event store."""
    runtime = ledger.runtime
    table = runtime.store.events_table
    topic = f"{Beneficiary.PayoutIssued.__module__}:{Beneficiary.PayoutIssued.__qualname__}"
    with runtime.engine.connect() as conn:
        rows = conn.execute(sa.text(f"SELECT originator_id, originator_version, topic, state FROM {table} "
                                    "WHERE topic = :topic"), {"topic": topic}).all()
    lines = []
    for originator_id, version, topic, state in rows:
        oid = as_uuid(originator_id)
        event = runtime.app.mapper.to_domain_event(StoredEvent(oid, version, topic, bytes(state)))
        if event.payroll_month == month:
            lines.append((event.citizen_id, tuple(str(m) for m in event.months), tuple(event.amounts),
                          event.agent_code, event.channel, event.bank_account, event.receiver))
    return sorted(lines)


@pytest.mark.parametrize("fresh_store", ["sqlite", "postgresql"], indirect=True)
def test_altered_views_decide_nothing(fresh_store, tmp_path, capsys):
    clean, altered = fresh_store(), fresh_store()
    first_month(clean, tmp_path / "clean", capsys)
    first_month(altered, tmp_path / "altered", capsys)
    with open_ledger(altered) as ledger, ledger.runtime.engine.begin() as conn:
        for statement in TAMPER:
            assert conn.execute(sa.text(statement)).rowcount > 0, statement

    with open_ledger(clean) as ledger:
        ledger.commands.run_payroll(MONTH_2, tmp_path / "clean-out", "officer-test")
        expected = issued_lines(ledger, MONTH_2)
    with open_ledger(altered) as ledger:
        with pytest.raises(CommandRefused, match="payout view does not match"):
            ledger.commands.run_payroll(MONTH_2, tmp_path / "altered-out", "officer-test")
        assert issued_lines(ledger, MONTH_2) == expected
    assert len(expected) >= 30 and any(line[4] == "bank" for line in expected)
    assert not list((tmp_path / "altered-out").glob("*.xml")), "no bank file from an altered view"

    assert main(["--db", altered, "replay", "--json"]) == 3
    differing = {p["name"] for p in json.loads(capsys.readouterr().out)["projections"] if not p["matches"]}
    assert differing == {"entitlements", "payouts", "postings"}
    assert main(["--db", clean, "replay"]) == 0


def test_a_snapshot_that_is_not_the_fold_of_its_events_fails_verify(store_url, tmp_path, capsys):
    first_month(store_url, tmp_path, capsys)
    assert main(["--db", store_url, "audit", "verify", "--json"]) == 0
    verdict = json.loads(capsys.readouterr().out)
    assert verdict["ok"] and verdict["snapshots_checked"] == 40

    with open_ledger(store_url) as ledger:
        loader = ledger.runtime.loader
        (person,) = loader([next(iter(loader.all())).id]).values()
        forged = person.state.facts.channels.latest()
        person.state = replace(person.state, facts=replace(person.state.facts, channels=replace(
            person.state.facts.channels, facts=(*person.state.facts.channels.facts[:-1],
                                                replace(forged, bank_account="666666666666")))))
        row = SnapshotCodec(ledger.runtime.app.mapper).row(person)
        key = ledger.runtime.store.key(person.id)
        with ledger.runtime.engine.begin() as conn:
            conn.execute(sa.text("UPDATE aggregate_snapshots SET state = :s WHERE aggregate_id = :a"),
                         {"s": row.state, "a": key})
    assert main(["--db", store_url, "audit", "verify", "--json"]) == 2
    verdict = json.loads(capsys.readouterr().out)
    assert not verdict["ok"] and verdict["first_bad_snapshot"] == str(person.id)
