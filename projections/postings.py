"""The postings read model: every money-moving event as balanced
double-entry postings, each in an accounting month (period).

A posting's period is the month the money moved in, unless that month is
already closed: then it lands in the first open month, as a correction. Month
closes are events in the same log, so a replay assigns the same periods and a
closed month's figures never change."""
from __future__ import annotations

from typing import Mapping, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ledger.money import citizen_of, effect_of
from ledger.months import Month
from ledger.payroll import PayrollCalendar
from ledger.postings import PAID_KINDS, period_of

from . import bulk
from .personal import Keyed
from .runner import metadata

postings = sa.Table(
    "postings", metadata,
    sa.Column("position", sa.BigInteger, primary_key=True),  # the event's notification id
    sa.Column("seq", sa.Integer, primary_key=True),  # postings of one event, in order
    sa.Column("period", sa.String(7), nullable=False),
    sa.Column("natural_month", sa.String(7), nullable=False),
    sa.Column("debit", sa.String(80), nullable=False),
    sa.Column("credit", sa.String(80), nullable=False),
    sa.Column("amount_vnd", sa.BigInteger, nullable=False),
    sa.Column("kind", sa.String(40), nullable=False),
    sa.Column("agent_code", sa.String(64), nullable=False),
    sa.Column("line_id", Keyed, nullable=False),
    sa.Column("citizen_id", Keyed, nullable=False),
    sa.Index("ix_postings_period", "period"),
)

closed_months = sa.Table(
    "closed_months", metadata,
    sa.Column("month", sa.String(7), primary_key=True),
)


class PostingsProjection:
    name = "postings"
    tables = (postings, closed_months)

    def version(self) -> str:
        return "2"

    def process(self, conn: Connection, events: Sequence[tuple[int, object]]) -> None:
        last_closed = conn.execute(sa.select(sa.func.max(closed_months.c.month))).scalar()
        last_closed = Month.parse(last_closed) if last_closed else None
        rows, closes = [], []
        for position, event in events:
            effect = effect_of(event)
            if effect is None:
                continue
            entries = effect.postings
            period_floor = last_closed
            if isinstance(event, PayrollCalendar.MonthClosed):
                closes.append({"month": str(event.month)})
                period_floor = None  # the fees belong to the month being closed
                last_closed = event.month
            citizen = citizen_of(event)
            for seq, p in enumerate(entries):
                rows.append(dict(position=position, seq=seq, period=str(period_of(p.month, period_floor)),
                                 natural_month=str(p.month), debit=p.debit, credit=p.credit,
                                 amount_vnd=p.amount_vnd, kind=p.kind, agent_code=p.agent_code,
                                 line_id=p.line_id, citizen_id=citizen))
        bulk.insert_rows(conn, postings, rows)
        if closes:
            conn.execute(closed_months.insert(), closes)


# --- queries -----------------------------------------------------------------------

def empty_movement() -> dict:
    return dict(opening=0, advance=0, disbursed=0, returned=0, fee=0, persons_paid=0, paid_vnd=0)


def agent_movements(conn: Connection, month: str,
                    closed_before: tuple[str, Mapping[str, int]] | None = None) -> dict[str, dict]:
    """Per agent: float balance before the month, and the month's movements.
    Summed by the database: a province's month has millions of postings.

    ``closed_before``: the last month closed before this one and each
    agent's closing balance recorded at its close. Months close in order
    and a closed month's postings never change, so the opening balance is
    that closing plus the months since; only those are summed (the whole
    history otherwise, which at 24 months is the settlement page's cost)."""
    p = postings
    float_account = sa.literal("float:") + p.c.agent_code
    before, now = p.c.period < month, p.c.period == month
    since = None
    if closed_before is not None:
        since, closings = closed_before
        before = sa.and_(before, p.c.period > since)

    def total(*conditions) -> sa.ColumnElement:
        return sa.func.coalesce(sa.func.sum(sa.case((sa.and_(*conditions), p.c.amount_vnd), else_=0)), 0)

    query = (sa.select(
        p.c.agent_code,
        (total(before, p.c.debit == float_account) - total(before, p.c.credit == float_account)).label("opening"),
        total(now, p.c.kind == "advance").label("advance"),  # the fee's advance is not the beneficiaries' money
        total(now, p.c.kind == "disbursed").label("disbursed"),
        total(now, p.c.kind == "returned").label("returned"),
        total(now, p.c.kind == "fee").label("fee"),
        total(now, p.c.kind.in_(PAID_KINDS)).label("paid_vnd"),
        sa.func.count(sa.distinct(sa.case((sa.and_(now, p.c.kind.in_(PAID_KINDS)), p.c.citizen_id)))
                      ).label("persons_paid"),
    ).where(p.c.agent_code != "", p.c.period <= month, *([p.c.period > since] if since else []))
             .group_by(p.c.agent_code))
    found = {row.agent_code: {key: int(value) for key, value in row._mapping.items() if key != "agent_code"}
             for row in conn.execute(query)}
    if closed_before is not None:
        for code, closing in closings.items():
            found.setdefault(code, empty_movement())["opening"] += closing
    return found


def trial_balance(conn: Connection, month: str | None = None) -> dict[str, int]:
    """Balance per account (debits positive), for one period or all."""
    balances: dict[str, int] = {}
    query = sa.select(postings.c.debit, postings.c.credit, postings.c.amount_vnd)
    if month is not None:
        query = query.where(postings.c.period == month)
    for debit, credit, amount in conn.execute(query):
        balances[debit] = balances.get(debit, 0) + amount
        balances[credit] = balances.get(credit, 0) - amount
    return balances
