"""The population database check's read model: one row per person checked,
with their latest answer, its result and where their review stands; the
review queue and the match rates are read from it, joined with the
entitlements view for the person's name and commune as known now.

Rows are keyed by the aggregate: the events carry no citizen id, and the
join gives it. Commands never read this view (the payroll decides from the
aggregate's hold)."""
from __future__ import annotations

from datetime import date
from typing import Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ledger import population as pop

from . import bulk
from .entitlements import beneficiaries
from .personal import Sealed
from .runner import metadata

checks = sa.Table(
    "population_checks", metadata,
    sa.Column("aggregate_id", sa.String(36), primary_key=True),
    sa.Column("checked_on", sa.String(10), nullable=False),
    sa.Column("db_status", sa.String(12), nullable=False),
    sa.Column("result", sa.String(12), nullable=False),
    sa.Column("differences", sa.Text, nullable=False),  # ';'-joined field names
    sa.Column("db_full_name", Sealed, nullable=False),
    sa.Column("db_birth_date", Sealed),
    sa.Column("db_sex", sa.String(1), nullable=False),
    sa.Column("db_commune", sa.String(16), nullable=False),
    sa.Column("db_date_of_death", sa.String(10)),
    sa.Column("document", sa.Text, nullable=False),
    sa.Column("review_open", sa.Boolean, nullable=False),
    sa.Column("death_reported", sa.String(10)),  # awaiting the officer; payment held meanwhile
    sa.Column("resolution", sa.String(12), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("resolved_by", sa.Text, nullable=False),
    sa.Column("checked_by", sa.Text, nullable=False),
    sa.Index("ix_population_checks_open", "review_open"),
)


def _day(value) -> str | None:
    return value.isoformat() if value else None


class PopulationProjection:
    name = "population"
    tables = (checks,)

    def version(self) -> str:
        return "2"

    def process(self, conn: Connection, events: Sequence[tuple[int, object]]) -> None:
        changes = [e for _, e in events if isinstance(e, (pop.PopulationChecked, pop.PopulationReviewed))]
        if not changes:
            return
        ids = sorted({str(e.originator_id) for e in changes})
        rows: dict[str, dict] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            for row in conn.execute(sa.select(checks).where(checks.c.aggregate_id.in_(chunk))).mappings():
                rows[row["aggregate_id"]] = dict(row)
        for event in changes:
            key = str(event.originator_id)
            if isinstance(event, pop.PopulationChecked):
                earlier = rows.get(key, {})
                death = earlier.get("death_reported")
                review_open, death_reported = pop.review_after_check(
                    None if death is None else date.fromisoformat(death), event)
                rows[key] = dict(
                    earlier, aggregate_id=key, checked_on=event.checked_on.isoformat(),
                    db_status=event.db_status, result=event.result, differences=";".join(event.differences),
                    db_full_name=event.full_name, db_birth_date=_day(event.birth_date), db_sex=event.sex,
                    db_commune=event.permanent_commune, db_date_of_death=_day(event.date_of_death),
                    document=event.document, review_open=review_open, death_reported=_day(death_reported),
                    resolution=earlier.get("resolution", ""), reason=earlier.get("reason", ""),
                    resolved_by=earlier.get("resolved_by", ""), checked_by=event.actor)
            elif key in rows:
                rows[key].update(review_open=False, death_reported=None, resolution=event.outcome,
                                 reason=event.reason, resolved_by=event.actor)
        for start in range(0, len(ids), 500):
            conn.execute(checks.delete().where(checks.c.aggregate_id.in_(ids[start:start + 500])))
        bulk.insert_rows(conn, checks, list(rows.values()))


def _joined(*conditions) -> sa.Select:
    b = beneficiaries
    return (sa.select(checks, b.c.citizen_id, b.c.full_name, b.c.birth_date, b.c.sex, b.c.commune_code,
                      b.c.status.label("ledger_status"))
            .join(b, b.c.aggregate_id == checks.c.aggregate_id)
            .where(*conditions))


def queue(conn: Connection, awaiting: Sequence[str] = (), commune: str | None = None) -> list[dict]:
    """The open reviews, by commune and citizen id; ``awaiting`` limits them
    to deceased (a reported death), not_found or differs."""
    conditions = [checks.c.review_open.is_(True)]
    if commune:
        conditions.append(beneficiaries.c.commune_code == commune)
    # Sorted here: an encrypted citizen id does not sort as the id.
    rows = sorted((dict(r) for r in conn.execute(_joined(*conditions)).mappings()),
                  key=lambda r: (r["commune_code"], r["citizen_id"]))
    for row in rows:
        row["awaiting"] = pop.DECEASED if row["death_reported"] else row["result"]
    return [r for r in rows if not awaiting or r["awaiting"] in awaiting]


def latest_results(conn: Connection) -> list[tuple[str, str]]:
    """(commune, result of the latest check) for everyone checked."""
    return [(r.commune_code, r.result) for r in conn.execute(
        sa.select(beneficiaries.c.commune_code, checks.c.result)
        .join(beneficiaries, beneficiaries.c.aggregate_id == checks.c.aggregate_id))]


def of_person(conn: Connection, citizen_id: str) -> dict | None:
    row = conn.execute(_joined(beneficiaries.c.citizen_id == citizen_id)).mappings().first()
    return dict(row) if row else None
