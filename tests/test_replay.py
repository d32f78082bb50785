"""Replays: deterministic, and as known at any time equal to what the live
views were then; on SQLite and PostgreSQL."""
from __future__ import annotations

import json
import time
from datetime import datetime, timezone

import pytest
import sqlalchemy as sa

from adapters import synthetic
from adapters.cli import main
from adapters.errors import CommandRefused
from .helpers import open_ledger
from ledger.months import Month
from projections.runner import metadata

from .helpers import decisions_file

FIRST = Month.parse("2024-07")


def _views(engine) -> dict:
    out = {}
    with engine.connect() as conn:
        for table in metadata.sorted_tables:
            if table.name in ("projection_tracking", "audit_chain"):
                continue
            out[table.name] = sorted(tuple(int(v) if isinstance(v, bool) else v for v in row)
                                     for row in conn.execute(sa.select(table)))
    return out


def _month(ledger, month, tmp_path, dead):
    notices = synthetic.death_notices(dead, month)
    if notices:
        ledger.commands.import_deaths(synthetic.write_csv(tmp_path / f"d-{month}.csv", notices, synthetic.DEATH_COLUMNS), "o")
    payroll = ledger.commands.run_payroll(month, tmp_path / "out", "o")
    for name in payroll.files:
        if name.endswith(".csv"):
            rows = synthetic.read_payroll_csv(name)
            if "VNPOST" in name:
                ledger.commands.import_postoffice(synthetic.write_csv(
                    tmp_path / f"po-{month}.csv", synthetic.postoffice_results(rows, str(month), seed=4, dead=dead),
                    synthetic.POSTOFFICE_RESULT_COLUMNS), "o")
            else:
                ledger.commands.import_bank(synthetic.write_csv(
                    tmp_path / f"b-{month}-{len(rows)}.csv", synthetic.bank_results(rows, str(month), seed=4, dead=dead),
                    synthetic.BANK_RESULT_COLUMNS), "o")


def test_replay_is_deterministic_and_as_known_at_equals_the_past(store_url, tmp_path, capsys):
    registered = synthetic.registrations(60, seed=4, first=FIRST, months_count=1)
    dead = synthetic.deaths(registered, seed=4, first=FIRST, last=FIRST + 3, yearly_rate=0.8)
    with open_ledger(store_url) as ledger:
        ledger.commands.import_decisions(decisions_file(tmp_path / "reg.csv", registered), "o")
        _month(ledger, FIRST, tmp_path, dead)
        ledger.runtime.catch_up()
        then_views = _views(ledger.runtime.engine)
        someone = registered[0]["citizen_id"]
        then_show = ledger.queries.beneficiary_report(someone).as_dict()
        time.sleep(0.01)
        moment = datetime.now(timezone.utc)
        time.sleep(0.01)
        for offset in (1, 2):  # more is recorded afterwards
            _month(ledger, FIRST + offset, tmp_path, dead)
        ledger.runtime.catch_up()
        now_views = _views(ledger.runtime.engine)
        assert now_views != then_views

        # As known at the moment: equal to what the live views were then.
        ledger.queries.rebuild_into(f"sqlite:///{tmp_path / 'asof.db'}", until=moment, show_progress=False)
        from adapters.store import open_store
        engine = open_store(f"sqlite:///{tmp_path / 'asof.db'}").engine()
        assert _views(engine) == then_views
        engine.dispose()
        assert ledger.queries.beneficiary_report(someone, as_known_at=moment).as_dict() == dict(
            then_show, as_known_at=moment.isoformat())
        assert _views(ledger.runtime.engine) == now_views  # the live views were not touched

        # Two full rebuilds are identical, and equal to the live views.
        one = ledger.queries.rebuild_into(f"sqlite:///{tmp_path / 'one.db'}", show_progress=False)
        two = ledger.queries.rebuild_into(f"sqlite:///{tmp_path / 'two.db'}", show_progress=False)
        assert one == two
        assert one.checksums == ledger.queries.live_checksums()
        assert (tmp_path / "one.db").read_bytes() != b""

    assert main(["--db", store_url, "replay", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["matches"] is True
    assert main(["--db", store_url, "replay", "--as-known-at", moment.isoformat(),
                 "--into", str(tmp_path / "cli-asof.db"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["checksums"] == \
        open_ledger_checksums(f"sqlite:///{tmp_path / 'asof.db'}")


def open_ledger_checksums(url):
    from adapters.rulefiles import default_ruleset
    from adapters.bootstrap import view_projections
    from adapters.store import open_store
    from projections.runner import checksums

    engine = open_store(url).engine()
    try:  # checksums read the rows only: the projections need no history here
        return checksums(engine, view_projections(default_ruleset(), history=None))
    finally:
        engine.dispose()


def test_replay_reports_a_view_that_differs(sqlite_url, tmp_path, capsys):
    from .helpers import REGISTER
    with open_ledger(sqlite_url) as ledger:
        ledger.commands.import_decisions(decisions_file(tmp_path / "d.csv", [REGISTER]), "o")
        with ledger.runtime.engine.begin() as conn:  # someone edits a read model by hand
            conn.execute(sa.text("UPDATE ent_segments SET amount_vnd = amount_vnd + 1"))
    import pytest
    assert main(["--db", sqlite_url, "replay"]) == 3
    out = capsys.readouterr().out
    assert "entitlements" in out and "DIFFERS from the live view" in out
    assert out.count("matches the live view") == 5  # payouts, postings, write-offs, imports, office figures


def test_as_known_at_ends_and_reads_only_what_was_recorded_before(sqlite_url, tmp_path):
    """More than a batch (5,000 events) recorded after T used to make the
    as-known-at replay loop for ever on a batch with nothing before T."""
    people = synthetic.registrations(6000, seed=3, first=Month.parse("2024-07"), months_count=1)
    first, second = people[:3000], people[3000:]
    with open_ledger(sqlite_url) as ledger:
        before_all = datetime.now(timezone.utc)
        time.sleep(0.01)
        ledger.commands.import_decisions(decisions_file(tmp_path / "a.csv", first), "o")
        between = datetime.now(timezone.utc)
        time.sleep(0.01)
        ledger.commands.import_decisions(decisions_file(tmp_path / "b.csv", second), "o")
        total = ledger.runtime.app.recorder.max_notification_id()

        read = ledger.queries.rebuild_into(f"sqlite:///{tmp_path / 'none.db'}", until=before_all,
                                      show_progress=False).events
        assert read <= ledger.runtime.runner.BATCH < total  # stopped at the first later batch
        engine = sa.create_engine(f"sqlite:///{tmp_path / 'none.db'}")
        assert _views(engine)["ent_beneficiaries"] == []

        read = ledger.queries.rebuild_into(f"sqlite:///{tmp_path / 'between.db'}", until=between,
                                      show_progress=False).events
        assert read < total
        engine = sa.create_engine(f"sqlite:///{tmp_path / 'between.db'}")
        known = {row[0] for row in _views(engine)["ent_beneficiaries"]}
        assert known == {p["citizen_id"] for p in first}

        assert ledger.queries.beneficiary_report(second[0]["citizen_id"], as_known_at=datetime.now(timezone.utc))
        with pytest.raises(CommandRefused, match="not registered"):
            ledger.queries.beneficiary_report(second[0]["citizen_id"], as_known_at=between)
