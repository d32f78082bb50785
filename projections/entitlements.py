"""The entitlements read model: each beneficiary's current facts and the
whole schedule as runs of equal months (segments), so that "who is due what
in month M" is one indexed query, whatever M is.

The rows depend on the rule set, so the rule fingerprint is part of the
projection's version: a changed rule file rebuilds the view.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Sequence
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ledger.beneficiary import Beneficiary
from ledger.clawback import overpayment
from ledger.entitlement import segments
from ledger.state import BeneficiaryState
from ledger.rules import RuleSet

from . import bulk
from .codec import state_from_json, state_to_json
from .runner import metadata

beneficiaries = sa.Table(
    "ent_beneficiaries", metadata,
    sa.Column("citizen_id", sa.String(12), primary_key=True),
    sa.Column("aggregate_id", sa.String(36), nullable=False, unique=True),
    sa.Column("full_name", sa.Text, nullable=False),
    sa.Column("birth_date", sa.String(10), nullable=False),
    sa.Column("sex", sa.String(1), nullable=False),
    sa.Column("province_code", sa.String(3), nullable=False),
    sa.Column("commune_code", sa.String(16), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("categories", sa.Text, nullable=False),  # ';'-separated, as in the files
    sa.Column("channel", sa.String(8), nullable=False),
    sa.Column("agent_code", sa.String(64), nullable=False),
    sa.Column("bank_account", sa.String(64), nullable=False),
    sa.Column("home_delivery", sa.Boolean, nullable=False),
    sa.Column("proxy_name", sa.Text, nullable=False),
    sa.Column("first_month", sa.String(7), nullable=False),
    sa.Column("date_of_death", sa.String(10)),
    sa.Column("aggregate_version", sa.Integer, nullable=False),
    sa.Column("modified_on", sa.String(40), nullable=False),  # last event's recorded time
    sa.Column("state", sa.Text, nullable=False),  # fold state, see codec.py
)

unclaimed_table = sa.Table(
    "unclaimed_queue", metadata,
    sa.Column("citizen_id", sa.String(12), primary_key=True),
    sa.Column("agent_code", sa.String(64), nullable=False),
    sa.Column("commune_code", sa.String(16), nullable=False),
    sa.Column("consecutive_months", sa.Integer, nullable=False),
    sa.Column("amount_vnd", sa.BigInteger, nullable=False),
    sa.Column("last_payroll_month", sa.String(7), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
)

overpayments_table = sa.Table(
    "overpayments", metadata,
    sa.Column("citizen_id", sa.String(12), primary_key=True),
    sa.Column("months", sa.Text, nullable=False),
    sa.Column("amount_vnd", sa.BigInteger, nullable=False),
    sa.Column("recovered_vnd", sa.BigInteger, nullable=False),  # every method, write-offs included
    sa.Column("written_off_vnd", sa.BigInteger, nullable=False),
    sa.Column("open_vnd", sa.BigInteger, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # open, recovered, written_off
    sa.Column("received_by", sa.Text, nullable=False),
    sa.Column("paid_after_death", sa.Text, nullable=False),  # line ids, for follow-up
)

segments_table = sa.Table(
    "ent_segments", metadata,
    sa.Column("citizen_id", sa.String(12), primary_key=True),
    sa.Column("first_month", sa.String(7), primary_key=True),
    sa.Column("last_month", sa.String(7)),  # NULL: open-ended
    sa.Column("amount_vnd", sa.BigInteger, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("categories", sa.Text, nullable=False),
    sa.Index("ix_ent_segments_month", "first_month", "last_month"),
)

CODE_VERSION = "8"


def beneficiary_row(aggregate_id, state: BeneficiaryState, version: int, modified_on) -> dict:
    facts = state.facts
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
        first_month=str(facts.first_month),
        date_of_death=facts.death.date_of_death.isoformat() if facts.death else None,
        aggregate_version=version,
        modified_on=modified_on.isoformat(),
        state=state_to_json(state),
    )


class EntitlementsProjection:
    name = "entitlements"
    tables = (beneficiaries, segments_table, unclaimed_table, overpayments_table)

    def __init__(self, rules: RuleSet):
        self.rules = rules

    def version(self) -> str:
        return f"{CODE_VERSION}:{self.rules.fingerprint()}"

    def process(self, conn: Connection, events: Sequence[tuple[int, object]]) -> None:
        relevant = [e for _, e in events if isinstance(e, Beneficiary.Event)]
        if not relevant:
            return
        existing = load_states(conn, {e.originator_id for e in relevant})
        present = set(existing)
        folded: dict = {}  # originator_id -> Folded
        for event in relevant:
            before = folded.get(event.originator_id) or existing.get(event.originator_id)
            state = event.fold(before.state if before else None)
            facts_changed = before is None or before.facts_changed or state.facts is not before.state.facts
            folded[event.originator_id] = Folded(state, event.originator_version, event.timestamp,
                                                 facts_changed)
        self._write(conn, folded, present)

    def _write(self, conn: Connection, folded: dict, present: set) -> None:
        for f in folded.values():
            segments(f.state.facts, self.rules)  # memoised on the facts, saved with the state
        # Rows whose facts did not change keep their columns: only the state moves.
        kept = {i for i, f in folded.items() if i in present and not f.facts_changed}
        updates = [dict(aggregate_id=str(i), state=state_to_json(f.state), aggregate_version=f.version,
                        modified_on=f.modified_on.isoformat()) for i, f in folded.items() if i in kept]
        bulk.update_rows(conn, beneficiaries, "aggregate_id", ("state", "aggregate_version", "modified_on"),
                         updates)
        rows = [beneficiary_row(i, f.state, f.version, f.modified_on) for i, f in folded.items() if i not in kept]
        for chunk in _chunks([str(i) for i in present - kept], 500):
            conn.execute(beneficiaries.delete().where(beneficiaries.c.aggregate_id.in_(chunk)))
        bulk.insert_rows(conn, beneficiaries, rows)
        # The schedule depends on the facts only: payout events leave it be.
        rescheduled = [f.state.facts for f in folded.values() if f.facts_changed]
        for chunk in _chunks([facts.citizen_id for facts in rescheduled], 500):
            conn.execute(segments_table.delete().where(segments_table.c.citizen_id.in_(chunk)))
        segment_rows = [
            dict(citizen_id=facts.citizen_id, first_month=str(s.first),
                 last_month=str(s.last) if s.last else None, amount_vnd=s.amount_vnd,
                 status=s.status, categories=";".join(s.categories))
            for facts in rescheduled for s in segments(facts, self.rules)
        ]
        bulk.insert_rows(conn, segments_table, segment_rows)
        self._write_queue(conn, folded)
        self._write_overpayments(conn, folded)

    def _write_overpayments(self, conn: Connection, folded: dict) -> None:
        citizen_ids = [f.state.facts.citizen_id for f in folded.values()]
        for chunk in _chunks(citizen_ids, 500):
            conn.execute(overpayments_table.delete().where(overpayments_table.c.citizen_id.in_(chunk)))
        rows = [row for f in folded.values() if (row := overpayment_row(f.state, self.rules))]
        bulk.insert_rows(conn, overpayments_table, rows)

    def _write_queue(self, conn: Connection, folded: dict) -> None:
        """Who has not collected for consecutive rounds, and the cash held."""
        citizen_ids = [f.state.facts.citizen_id for f in folded.values()]
        for chunk in _chunks(citizen_ids, 500):
            conn.execute(unclaimed_table.delete().where(unclaimed_table.c.citizen_id.in_(chunk)))
        rows = []
        for f in folded.values():
            rounds, held_vnd = f.state.book.unclaimed_run()
            if rounds == 0:
                continue
            last = f.state.book.last_payroll_month()
            unpaid = [x for x in f.state.book.lines if x.status == "unpaid"]
            rows.append(dict(citizen_id=f.state.facts.citizen_id, agent_code=unpaid[-1].agent_code,
                             commune_code=(f.state.facts.residences.latest().commune_code),
                             consecutive_months=rounds, amount_vnd=held_vnd,
                             last_payroll_month=str(last), status=f.state.facts.status_at(last + 1)))
        bulk.insert_rows(conn, unclaimed_table, rows)


@dataclass
class Folded:
    state: BeneficiaryState
    version: int
    modified_on: datetime
    facts_changed: bool = False


def _chunks(items: list, size: int):
    for start in range(0, len(items), size):
        yield items[start:start + size]


def overpayment_row(state: BeneficiaryState, rules: RuleSet) -> dict | None:
    if not state.book.overpaid_recorded_vnd and not state.book.recoveries:
        return None  # nothing was ever overpaid (the aggregate records every change)
    over = overpayment(state, rules)
    recovered = state.book.recovered_vnd()
    if not over.amount_vnd and not recovered:
        return None
    open_vnd = over.amount_vnd - recovered
    written_off = any(r.method == "write_off" for r in state.book.recoveries)
    died = state.facts.death.date_of_death if state.facts.death else None
    late = [x.line_id for x in state.book.allowance_lines()
            if x.status == "paid" and died and x.settled_on and x.settled_on > died]
    return dict(citizen_id=state.facts.citizen_id, months=";".join(str(m) for m in over.months),
                amount_vnd=over.amount_vnd, recovered_vnd=recovered, open_vnd=open_vnd,
                written_off_vnd=sum(r.amount_vnd for r in state.book.recoveries if r.method == "write_off"),
                status="open" if open_vnd > 0 else ("written_off" if written_off else "recovered"),
                received_by=";".join(over.received_by), paid_after_death=";".join(late))


def load_states(conn: Connection, originator_ids: set) -> dict:
    """Fold state of the given aggregates already in the view."""
    found = {}
    keys = [str(i) for i in originator_ids]
    for chunk in _chunks(keys, 500):
        query = sa.select(beneficiaries.c.aggregate_id, beneficiaries.c.state,
                          beneficiaries.c.aggregate_version, beneficiaries.c.modified_on,
                          ).where(beneficiaries.c.aggregate_id.in_(chunk))
        for aggregate_id, state_json, version, modified_on in conn.execute(query):
            found[UUID(aggregate_id)] = Folded(state_from_json(state_json), version,
                                               datetime.fromisoformat(modified_on))
    return found


# --- queries -------------------------------------------------------------------

STOPPED = ("terminated", "relocated_out", "deceased")


def read_state(conn: Connection, citizen_id: str) -> BeneficiaryState | None:
    text = conn.execute(sa.select(beneficiaries.c.state)
                        .where(beneficiaries.c.citizen_id == citizen_id)).scalar()
    return state_from_json(text) if text is not None else None


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
        .order_by(b.c.agent_code, b.c.commune_code, b.c.citizen_id)
    )
    return [dict(row._mapping) for row in conn.execute(query)]


def unclaimed(conn: Connection, month: str) -> list[dict]:
    u = unclaimed_table
    query = sa.select(u).where(u.c.last_payroll_month <= month).order_by(
        u.c.agent_code, u.c.commune_code, u.c.citizen_id)
    return [dict(r._mapping) for r in conn.execute(query)]


def recoveries(conn: Connection) -> list[dict]:
    o = overpayments_table
    return [dict(r._mapping) for r in conn.execute(sa.select(o).order_by(o.c.status, o.c.citizen_id))]


def dates_of_death(conn: Connection, citizen_ids: set[str]) -> dict[str, date]:
    found = {}
    for chunk in _chunks(sorted(citizen_ids), 500):
        query = sa.select(beneficiaries.c.citizen_id, beneficiaries.c.date_of_death).where(
            beneficiaries.c.citizen_id.in_(chunk), beneficiaries.c.date_of_death.is_not(None))
        for citizen_id, died in conn.execute(query):
            found[citizen_id] = date.fromisoformat(died)
    return found
