"""The entitlements read model, in plain columns: each beneficiary's current
facts, the whole schedule as runs of equal months (segments), so that "who
is due what in month M" is one indexed query, and the overpayments to
recover.

Only the events that change a person's facts (decisions, death notices)
touch their row and segments; payout events never do. The facts before
such an event are folded from the person's earlier decision and death
events, read from the event store (``FactsHistory``): the view keeps no
per-person state. Overpayments are what the ledger recorded
(``OverpaymentChanged``) and what was recovered since.

The segments depend on the rule set, so the rule fingerprint is part of the
projection's version: a changed rule file rebuilds the view (commands never
read it).
"""
from __future__ import annotations

from datetime import date
from typing import Protocol, Sequence
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ledger.beneficiary import Beneficiary
from ledger.entitlement import segments
from ledger.facts import BeneficiaryFacts
from ledger.payouts import FUNERAL
from ledger.rules import RuleSet

from . import bulk
from .payouts import lines
from .personal import Keyed, Sealed
from .runner import metadata

B = Beneficiary

beneficiaries = sa.Table(
    "ent_beneficiaries", metadata,
    sa.Column("citizen_id", Keyed, primary_key=True),
    sa.Column("aggregate_id", sa.String(36), nullable=False, unique=True),
    sa.Column("full_name", Sealed, nullable=False),
    sa.Column("birth_date", Sealed, nullable=False),
    sa.Column("sex", sa.String(1), nullable=False),
    sa.Column("province_code", sa.String(3), nullable=False),
    sa.Column("commune_code", sa.String(16), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("categories", sa.Text, nullable=False),  # ';'-separated, as in the files
    sa.Column("channel", sa.String(8), nullable=False),
    sa.Column("agent_code", sa.String(64), nullable=False),
    sa.Column("bank_account", Sealed, nullable=False),
    sa.Column("home_delivery", sa.Boolean, nullable=False),
    sa.Column("proxy_name", Sealed, nullable=False),
    sa.Column("proxy_citizen_id", Sealed, nullable=False),
    sa.Column("first_month", sa.String(7), nullable=False),
    sa.Column("date_of_death", sa.String(10)),
)

overpayments_table = sa.Table(
    "overpayments", metadata,
    sa.Column("citizen_id", Keyed, primary_key=True),
    sa.Column("months", sa.Text, nullable=False),
    sa.Column("amount_vnd", sa.BigInteger, nullable=False),
    sa.Column("recovered_vnd", sa.BigInteger, nullable=False),  # every method, write-offs included
    sa.Column("written_off_vnd", sa.BigInteger, nullable=False),
    sa.Column("open_vnd", sa.BigInteger, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # open, recovered, written_off
    sa.Column("received_by", Sealed, nullable=False),
)

segments_table = sa.Table(
    "ent_segments", metadata,
    sa.Column("citizen_id", Keyed, primary_key=True),
    sa.Column("first_month", sa.String(7), primary_key=True),
    sa.Column("last_month", sa.String(7)),  # NULL: open-ended
    sa.Column("amount_vnd", sa.BigInteger, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("categories", sa.Text, nullable=False),
    sa.Index("ix_ent_segments_month", "first_month", "last_month"),
)

CODE_VERSION = "13"

# The events that change a person's facts, and so their row and schedule.
FACT_EVENTS = (B.DecisionEvent, B.DeathNotified)


class FactsHistory(Protocol):
    def facts_before(self, versions: dict[UUID, int]) -> dict[UUID, BeneficiaryFacts]:
        """Each person's facts folded from their decision and death events
        below the given version (read from the event store)."""


def beneficiary_row(aggregate_id: UUID, facts: BeneficiaryFacts) -> dict:
    categories = facts.categories.latest()
    residence = facts.residences.latest()
    channel = facts.channels.latest()
    proxy = facts.proxies.latest()
    return dict(
        citizen_id=facts.citizen_id,
        aggregate_id=str(aggregate_id),
        full_name=facts.full_name,
        birth_date=facts.birth_date.isoformat(),
        sex=facts.sex,
        province_code=residence.province_code if residence else "",
        commune_code=residence.commune_code if residence else "",
        status=facts.current_status(),
        categories=";".join(categories.categories) if categories else "",
        channel=channel.channel if channel else "",
        agent_code=channel.agent_code if channel else "",
        bank_account=channel.bank_account if channel else "",
        home_delivery=bool(channel and channel.home_delivery),
        proxy_name=proxy.proxy_name if proxy else "",
        proxy_citizen_id=proxy.proxy_citizen_id if proxy else "",
        first_month=str(facts.first_month),
        date_of_death=facts.death.date_of_death.isoformat() if facts.death else None,
    )


class EntitlementsProjection:
    name = "entitlements"
    tables = (beneficiaries, segments_table, overpayments_table)

    def __init__(self, rules: RuleSet, history: FactsHistory):
        self.rules = rules
        self.history = history

    def version(self) -> str:
        return f"{CODE_VERSION}:{self.rules.fingerprint()}"

    def process(self, conn: Connection, events: Sequence[tuple[int, object]]) -> None:
        facts = self._fold_facts([e for _, e in events if isinstance(e, FACT_EVENTS)])
        self._write_people(conn, facts)
        self._write_overpayments(conn, [e for _, e in events
                                        if isinstance(e, (B.OverpaymentChanged, B.RecoveryRecorded))])

    def _fold_facts(self, changes: list) -> dict[UUID, BeneficiaryFacts]:
        """Each changed person's facts after the batch's events."""
        if not changes:
            return {}
        first: dict[UUID, int] = {}
        for event in changes:
            first.setdefault(event.originator_id, event.originator_version)
        earlier = self.history.facts_before(
            {i: v for i, v in first.items() if v > 1})  # a registration starts from nothing
        facts: dict[UUID, BeneficiaryFacts | None] = dict(earlier)
        for event in changes:
            facts[event.originator_id] = event.evolve(facts.get(event.originator_id))
        return facts

    def _write_people(self, conn: Connection, facts: dict[UUID, BeneficiaryFacts]) -> None:
        if not facts:
            return
        citizens = [f.citizen_id for f in facts.values()]
        for chunk in _chunks(citizens, 500):
            conn.execute(beneficiaries.delete().where(beneficiaries.c.citizen_id.in_(chunk)))
            conn.execute(segments_table.delete().where(segments_table.c.citizen_id.in_(chunk)))
        bulk.insert_rows(conn, beneficiaries, [beneficiary_row(i, f) for i, f in facts.items()])
        bulk.insert_rows(conn, segments_table, [
            dict(citizen_id=f.citizen_id, first_month=str(s.first),
                 last_month=str(s.last) if s.last else None, amount_vnd=s.amount_vnd,
                 status=s.status, categories=";".join(s.categories))
            for f in facts.values() for s in segments(f, self.rules)])

    def _write_overpayments(self, conn: Connection, changes: list) -> None:
        """The recorded overpayment and the recoveries against it, per person."""
        if not changes:
            return
        citizen_of = citizens_of(conn, {e.originator_id for e in changes})
        o = overpayments_table
        rows: dict[str, dict] = {}
        for chunk in _chunks(sorted(set(citizen_of.values())), 500):
            for row in conn.execute(sa.select(o).where(o.c.citizen_id.in_(chunk))).mappings():
                rows[row["citizen_id"]] = dict(row)
        for event in changes:
            citizen = citizen_of[event.originator_id]
            row = rows.setdefault(citizen, dict(citizen_id=citizen, months="", amount_vnd=0, recovered_vnd=0,
                                                written_off_vnd=0, open_vnd=0, status="", received_by=""))
            if isinstance(event, B.OverpaymentChanged):
                row.update(months=";".join(str(m) for m in event.months), amount_vnd=event.total_vnd,
                           received_by=";".join(event.received_by))
            else:
                row["recovered_vnd"] += event.amount_vnd
                if event.method == "write_off":
                    row["written_off_vnd"] += event.amount_vnd
        for row in rows.values():
            row["open_vnd"] = row["amount_vnd"] - row["recovered_vnd"]
            row["status"] = ("open" if row["open_vnd"] > 0 else
                             "written_off" if row["written_off_vnd"] else "recovered")
        for chunk in _chunks(list(rows), 500):
            conn.execute(o.delete().where(o.c.citizen_id.in_(chunk)))
        # Nothing ever overpaid, or an overpayment withdrawn before any recovery: no row.
        bulk.insert_rows(conn, o, [r for r in rows.values() if r["amount_vnd"] or r["recovered_vnd"]])


def citizens_of(conn: Connection, aggregate_ids: set[UUID]) -> dict[UUID, str]:
    found = {}
    for chunk in _chunks([str(i) for i in aggregate_ids], 500):
        query = sa.select(beneficiaries.c.aggregate_id, beneficiaries.c.citizen_id).where(
            beneficiaries.c.aggregate_id.in_(chunk))
        found.update({UUID(a): c for a, c in conn.execute(query)})
    return found


def anyone_paid_by_bank(conn: Connection) -> bool:
    return conn.execute(sa.select(beneficiaries.c.citizen_id).where(
        beneficiaries.c.channel == "bank").limit(1)).first() is not None


def people_by_id(conn: Connection, citizen_ids: set[str]) -> list[dict]:
    """Birth date and categories of the given people (as the register has them now)."""
    b = beneficiaries
    found = []
    for chunk in _chunks(sorted(citizen_ids), 500):
        query = sa.select(b.c.citizen_id, b.c.birth_date, b.c.categories).where(b.c.citizen_id.in_(chunk))
        found += [dict(row._mapping) for row in conn.execute(query)]
    return found


def _chunks(items: list, size: int):
    for start in range(0, len(items), size):
        yield items[start:start + size]


# --- queries -------------------------------------------------------------------

STOPPED = ("terminated", "relocated_out", "deceased")


def people(conn: Connection, commune: str | None = None) -> list[dict]:
    """Everyone in the view (in the commune, if given), with the columns a
    search shows, by citizen id (sorted here: an encrypted citizen id does
    not sort as the id)."""
    b = beneficiaries.c
    query = sa.select(b.citizen_id, b.full_name, b.birth_date, b.status, b.commune_code, b.categories,
                      b.channel, b.agent_code)
    if commune is not None:
        query = query.where(b.commune_code == commune)
    return sorted((dict(r._mapping) for r in conn.execute(query)), key=lambda r: r["citizen_id"])


def due_totals(conn: Connection, month: str) -> dict:
    """The month's people due something, the amount, and those paid in cash:
    summed by the database (for_month's rows with an amount)."""
    s, b = segments_table, beneficiaries
    query = (sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(s.c.amount_vnd), 0),
                       sa.func.count().filter(b.c.channel == "cash"))
             .join(b, b.c.citizen_id == s.c.citizen_id)
             .where(s.c.first_month <= month, sa.or_(s.c.last_month.is_(None), s.c.last_month >= month),
                    s.c.status != "not_registered", sa.or_(s.c.status.not_in(STOPPED), s.c.first_month == month),
                    s.c.amount_vnd > 0))
    people, amount, cash = conn.execute(query).one()
    return {"people": int(people), "amount": int(amount), "cash": int(cash)}


def for_month(conn: Connection, month: str) -> list[dict]:
    """Everyone with a decision in force in the month: the people being paid
    or held, and those whose payment stopped in that very month."""
    s, b = segments_table, beneficiaries
    query = (
        sa.select(b.c.citizen_id, b.c.full_name, b.c.commune_code, s.c.status, s.c.categories,
                  s.c.amount_vnd, b.c.channel, b.c.agent_code)
        .join(b, b.c.citizen_id == s.c.citizen_id)
        .where(s.c.first_month <= month,
               sa.or_(s.c.last_month.is_(None), s.c.last_month >= month),
               s.c.status != "not_registered",
               sa.or_(s.c.status.not_in(STOPPED), s.c.first_month == month))
    )
    return sorted((dict(row._mapping) for row in conn.execute(query)),
                  key=lambda r: (r["agent_code"], r["commune_code"], r["citizen_id"]))


def statuses_in(conn: Connection, wanted: dict[str, str]) -> dict[str, str]:
    """Each citizen's status in a month of their own (citizen id -> month)."""
    found = {}
    s = segments_table
    for chunk in _chunks(sorted(wanted), 500):
        query = sa.select(s.c.citizen_id, s.c.first_month, s.c.last_month, s.c.status).where(
            s.c.citizen_id.in_(chunk))
        for citizen, first, last, status in conn.execute(query):
            month = wanted[citizen]
            if first <= month and (last is None or month <= last):
                found[citizen] = status
    return found


def recoveries(conn: Connection, citizen_id: str | None = None) -> list[dict]:
    """Every overpayment (one person's, if given) with its recoveries, and
    the payments made after a known date of death (for follow-up)."""
    o = overpayments_table
    query = sa.select(o)
    if citizen_id is not None:
        query = query.where(o.c.citizen_id == citizen_id)
    # Sorted here: an encrypted citizen id does not sort as the id.
    rows = sorted((dict(r._mapping) for r in conn.execute(query)), key=lambda r: (r["status"], r["citizen_id"]))
    late = paid_after_death(conn, [r["citizen_id"] for r in rows])
    for row in rows:
        row["paid_after_death"] = late.get(row["citizen_id"], [])
    return rows


RECOVERY_STATUSES = ("open", "recovered", "written_off")


def _commune_of_overpaid() -> sa.ScalarSelect:
    """The overpaid person's commune, looked up by their key for each
    overpayment: a few thousand index reads, where a join hashes every
    person of the district (100,000 rows) to find them."""
    b, o = beneficiaries, overpayments_table
    return sa.select(b.c.commune_code).where(b.c.citizen_id == o.c.citizen_id).correlate(o).scalar_subquery()


def recoveries_listed(conn: Connection, status: str | None, commune: str | None,
                      offset: int, limit: int) -> list[dict]:
    """One page of overpayments (in the status and commune, if given), each
    with the person's name and commune and the payments made after their
    death: the database filters, orders and cuts the page (oldest months
    first within a commune; the keyed citizen id only breaks ties, so the
    order is stable from page to page with or without a cipher)."""
    o, b = overpayments_table, beneficiaries
    commune_code = _commune_of_overpaid()
    query = (sa.select(o, commune_code.label("commune_code"))
             .where(*([commune_code == commune] if commune else []), *([o.c.status == status] if status else []))
             .order_by(o.c.status, commune_code, o.c.months, o.c.citizen_id)
             .offset(offset).limit(limit))
    rows = [dict(r._mapping) for r in conn.execute(query)]
    ids = [r["citizen_id"] for r in rows]
    names = {citizen: name for citizen, name in conn.execute(
        sa.select(b.c.citizen_id, b.c.full_name).where(b.c.citizen_id.in_(ids)))} if ids else {}
    late = paid_after_death(conn, ids)
    for row in rows:
        row["full_name"] = names.get(row["citizen_id"], "")
        row["commune_code"] = row["commune_code"] or ""
        row["paid_after_death"] = late.get(row["citizen_id"], [])
    return rows


def _sums(o) -> tuple:
    return (sa.func.count(), *(sa.func.coalesce(sa.func.sum(c), 0) for c in (
        o.c.amount_vnd, o.c.recovered_vnd, o.c.written_off_vnd, o.c.open_vnd)))


def _totals(count, amount, recovered, written_off, open_) -> dict:
    return dict(count=int(count), amount_vnd=int(amount), recovered_vnd=int(recovered),
                written_off_vnd=int(written_off), open_vnd=int(open_))


def recovery_totals(conn: Connection) -> dict[str, dict]:
    """Per status: how many overpayments, and their amounts, recovered
    (write-offs included), written off and open; summed by the database."""
    o = overpayments_table
    return {status: _totals(*figures)
            for status, *figures in conn.execute(sa.select(o.c.status, *_sums(o)).group_by(o.c.status))}


def recovery_totals_by_commune(conn: Connection) -> dict[tuple[str, str], dict]:
    """The same per commune and status, in one pass (commune "" for a
    person the view does not hold)."""
    o = overpayments_table
    inner = sa.select(o, _commune_of_overpaid().label("commune_code")).subquery()
    query = (sa.select(inner.c.commune_code, inner.c.status, *_sums(inner))
             .group_by(inner.c.commune_code, inner.c.status))
    return {(commune or "", status): _totals(*figures) for commune, status, *figures in conn.execute(query)}


def paid_after_death(conn: Connection, citizen_ids: list[str]) -> dict[str, list[str]]:
    b = beneficiaries
    found: dict[str, list[str]] = {}
    for chunk in _chunks(citizen_ids, 500):
        query = (sa.select(lines.c.citizen_id, lines.c.line_id)
                 .join(b, b.c.citizen_id == lines.c.citizen_id)
                 .where(lines.c.citizen_id.in_(chunk), lines.c.status == "paid", lines.c.kind != FUNERAL,
                        b.c.date_of_death.is_not(None), lines.c.settled_on > b.c.date_of_death))
        for citizen, line_id in conn.execute(query):
            found.setdefault(citizen, []).append(line_id)
    return {citizen: sorted(line_ids) for citizen, line_ids in found.items()}


def dates_of_death(conn: Connection, citizen_ids: set[str]) -> dict[str, date]:
    found = {}
    for chunk in _chunks(sorted(citizen_ids), 500):
        query = sa.select(beneficiaries.c.citizen_id, beneficiaries.c.date_of_death).where(
            beneficiaries.c.citizen_id.in_(chunk), beneficiaries.c.date_of_death.is_not(None))
        for citizen_id, died in conn.execute(query):
            found[citizen_id] = date.fromisoformat(died)
    return found
