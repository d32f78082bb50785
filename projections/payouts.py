"""Payout read models: every payroll line with its latest status, each
payroll run per agent (advance, new lines, lines carried forward), and the
unclaimed queue (consecutive rounds not collected, and the cash held).

Payout events touch their lines only; the queue is recomputed from the
lines of the people whose results changed it."""
from __future__ import annotations

import json
from typing import Iterator, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ledger import payouts
from ledger.beneficiary import Beneficiary
from ledger.money import effect_of
from ledger.months import Month
from ledger.payroll import PayrollCalendar, citizen_of_line

from . import bulk
from .personal import Keyed, Sealed
from .runner import metadata

lines = sa.Table(
    "pay_lines", metadata,
    sa.Column("line_id", Keyed, primary_key=True),
    sa.Column("payroll_id", sa.String(80), nullable=False),
    sa.Column("citizen_id", Keyed, nullable=False, index=True),
    sa.Column("full_name", Sealed, nullable=False),
    sa.Column("commune_code", sa.String(16), nullable=False),
    sa.Column("agent_code", sa.String(64), nullable=False),
    sa.Column("channel", sa.String(8), nullable=False),
    sa.Column("payroll_month", sa.String(7), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("months", sa.Text, nullable=False),  # ';'-joined, as in the files
    sa.Column("amount_vnd", sa.BigInteger, nullable=False),
    sa.Column("receiver", Sealed, nullable=False),
    sa.Column("bank_account", Sealed, nullable=False),
    sa.Column("home_delivery", sa.Boolean, nullable=False),
    sa.Column("status", sa.String(12), nullable=False),
    sa.Column("settled_on", sa.String(10)),
    sa.Column("detail", Sealed, nullable=False),  # received by, or the reason code
    sa.Column("flags", sa.Text, nullable=False),
    sa.Index("ix_pay_lines_agent_month", "agent_code", "payroll_month"),
)

runs = sa.Table(
    "payroll_runs", metadata,
    sa.Column("month", sa.String(7), primary_key=True),
    sa.Column("agent_code", sa.String(64), primary_key=True),
    sa.Column("channel", sa.String(8), nullable=False),
    sa.Column("lines_count", sa.Integer, nullable=False),
    sa.Column("advance_vnd", sa.BigInteger, nullable=False),
    sa.Column("carried_count", sa.Integer, nullable=False),
    sa.Column("carried_vnd", sa.BigInteger, nullable=False),
    sa.Column("line_ids", Sealed, nullable=False),  # JSON list, in file order
    sa.Column("carried_ids", Sealed, nullable=False),
    sa.Column("recorded_at", sa.String(40), nullable=False),
    sa.Column("actor", sa.Text, nullable=False),
)

unclaimed_table = sa.Table(
    "unclaimed_queue", metadata,
    sa.Column("citizen_id", Keyed, primary_key=True),
    sa.Column("agent_code", sa.String(64), nullable=False),
    sa.Column("commune_code", sa.String(16), nullable=False),
    sa.Column("consecutive_months", sa.Integer, nullable=False),
    sa.Column("amount_vnd", sa.BigInteger, nullable=False),
    sa.Column("last_payroll_month", sa.String(7), nullable=False),
)

class PayoutsProjection:
    name = "payouts"
    tables = (lines, runs, unclaimed_table)

    def version(self) -> str:
        return "5"

    def process(self, conn: Connection, events: Sequence[tuple[int, object]]) -> None:
        inserts, updates, run_rows = [], [], []
        for _, event in events:
            if isinstance(event, Beneficiary.PayoutIssued):
                inserts.append(dict(
                    line_id=event.line_id, payroll_id=event.payroll_id, citizen_id=event.citizen_id,
                    full_name=event.full_name, commune_code=event.commune_code,
                    agent_code=event.agent_code, channel=event.channel,
                    payroll_month=str(event.payroll_month), kind=event.kind,
                    months=";".join(str(m) for m in event.months), amount_vnd=sum(event.amounts),
                    receiver=event.receiver, bank_account=event.bank_account,
                    home_delivery=event.home_delivery, status=payouts.ISSUED, settled_on=None,
                    detail="", flags=""))
            elif (effect := effect_of(event)) is not None and effect.line is not None:
                result = effect.line
                updates.append(dict(line_id=result.line_id, status=result.status,
                                    settled_on=result.settled_on.isoformat() if result.settled_on else None,
                                    detail=result.detail, flags=";".join(result.flags)))
            elif isinstance(event, PayrollCalendar.MonthIssued):
                for code, agent in sorted(event.agents.items()):
                    run_rows.append(dict(
                        month=str(event.month), agent_code=code, channel=agent["channel"],
                        lines_count=len(agent["lines"]), advance_vnd=agent["advance_vnd"],
                        carried_count=len(agent["carried"]), carried_vnd=agent["carried_vnd"],
                        line_ids=json.dumps(agent["lines"]), carried_ids=json.dumps(agent["carried"]),
                        recorded_at=event.timestamp.isoformat(), actor=event.actor))
        # Inserts first: a line issued and settled within one batch is updated after.
        bulk.insert_rows(conn, lines, inserts)
        bulk.update_rows(conn, lines, "line_id", ("status", "settled_on", "detail", "flags"), updates)
        if run_rows:
            conn.execute(runs.insert(), run_rows)
        self._requeue(conn, {citizen_of_line(u["line_id"]) for u in updates if u["status"] == payouts.UNPAID},
                      {citizen_of_line(u["line_id"]) for u in updates} | {i["citizen_id"] for i in inserts})

    @staticmethod
    def _requeue(conn: Connection, unpaid: set[str], settled: set[str]) -> None:
        """Recompute the queue rows of who was reported unpaid, and of anyone
        already queued who got a line or a result (a new line changes the
        last payroll month, not the run, until its result is in)."""
        u = unclaimed_table
        touched = set(unpaid)
        for chunk in _chunks(sorted(settled - unpaid), 500):
            touched.update(conn.execute(sa.select(u.c.citizen_id).where(u.c.citizen_id.in_(chunk))).scalars())
        if not touched:
            return
        by_citizen: dict[str, list] = {}
        for chunk in _chunks(sorted(touched), 500):
            conn.execute(u.delete().where(u.c.citizen_id.in_(chunk)))
            query = sa.select(lines.c.citizen_id, lines.c.payroll_month, lines.c.status, lines.c.kind,
                              lines.c.amount_vnd, lines.c.agent_code, lines.c.commune_code
                              ).where(lines.c.citizen_id.in_(chunk))
            for row in conn.execute(query):
                by_citizen.setdefault(row.citizen_id, []).append(row)
        rows = []
        for citizen, person_lines in by_citizen.items():
            rounds, held_vnd = payouts.unclaimed_run(
                (Month.parse(x.payroll_month), x.status, x.kind, x.amount_vnd) for x in person_lines)
            if rounds == 0:
                continue
            last_unpaid = max((x for x in person_lines if x.status == payouts.UNPAID),
                              key=lambda x: x.payroll_month)
            rows.append(dict(citizen_id=citizen, agent_code=last_unpaid.agent_code,
                             commune_code=last_unpaid.commune_code, consecutive_months=rounds,
                             amount_vnd=held_vnd,
                             last_payroll_month=max(x.payroll_month for x in person_lines)))
        bulk.insert_rows(conn, u, rows)


def _chunks(items: list, size: int):
    for start in range(0, len(items), size):
        yield items[start:start + size]


# --- queries -------------------------------------------------------------------------

def unclaimed(conn: Connection, month: str) -> list[dict]:
    u = unclaimed_table
    query = sa.select(u).where(u.c.last_payroll_month <= month)
    return sorted((dict(r._mapping) for r in conn.execute(query)),
                  key=lambda r: (r["agent_code"], r["commune_code"], r["citizen_id"]))


def payroll_of(conn: Connection, month: str) -> list[dict]:
    return [dict(r._mapping) for r in conn.execute(
        sa.select(runs).where(runs.c.month == month).order_by(runs.c.agent_code))]


def lines_by_id(conn: Connection, line_ids: Sequence[str]) -> dict[str, dict]:
    found = {}
    for start in range(0, len(line_ids), 500):
        chunk = list(line_ids[start:start + 500])
        for row in conn.execute(sa.select(lines).where(lines.c.line_id.in_(chunk))).mappings().all():
            found[row["line_id"]] = dict(row)
    return found


# The ids of one payroll list, so the database sorts and streams its lines.
_list_ids = sa.Table(
    "payroll_list_ids", sa.MetaData(),
    sa.Column("line_id", Keyed, primary_key=True),
    sa.Column("carried", sa.Boolean, nullable=False),
    prefixes=["TEMPORARY"],
)


def lines_in_file_order(conn: Connection, new_ids: Sequence[str], carried_ids: Sequence[str],
                        page: int = 2000) -> Iterator[dict]:
    """The lines of one payroll list, each with its ``carried`` flag, in the
    order of the files (commune, citizen, new before carried, line id),
    read a page at a time: an agent's list of any length in flat memory
    (a commune's lines at most, sorted here: an encrypted citizen or line id
    does not sort as the id)."""
    _list_ids.drop(conn, checkfirst=True)
    _list_ids.create(conn)
    result = None
    try:
        bulk.insert_rows(conn, _list_ids, [{"line_id": i, "carried": False} for i in new_ids]
                         + [{"line_id": i, "carried": True} for i in carried_ids])
        query = (sa.select(lines, _list_ids.c.carried)
                 .join(_list_ids, _list_ids.c.line_id == lines.c.line_id)
                 .order_by(lines.c.commune_code)
                 .execution_options(stream_results=True, yield_per=page))
        result = conn.execute(query)
        commune: list[dict] = []
        for row in result.mappings():
            if commune and commune[0]["commune_code"] != row["commune_code"]:
                yield from sorted(commune, key=_file_order)
                commune = []
            commune.append(dict(row))
        yield from sorted(commune, key=_file_order)
    finally:
        if result is not None:
            result.close()
        _list_ids.drop(conn, checkfirst=True)


def _file_order(line: dict) -> tuple:
    return line["citizen_id"], line["carried"], line["line_id"]


def payroll_ids_of(conn: Connection, line_ids: set[str]) -> dict[str, str]:
    """The payroll that issued each of the given lines (those known)."""
    found: dict[str, str] = {}
    ordered = sorted(line_ids)
    for start in range(0, len(ordered), 500):
        query = sa.select(lines.c.line_id, lines.c.payroll_id).where(lines.c.line_id.in_(ordered[start:start + 500]))
        found.update({line_id: payroll_id for line_id, payroll_id in conn.execute(query)})
    return found


def flagged_payments(conn: Connection, month: str) -> list[dict]:
    """Payments flagged for follow-up whose disbursement is in the month's
    books (its posting's period: a payment recorded after its month was
    closed is followed up in the first open month, beside its money), each
    with the months the same person was paid on other lines in the books up
    to that month (so a closed month's variances never change later)."""
    from .postings import PAID_KINDS, postings

    def paid_in(*periods) -> sa.Select:
        return sa.select(postings.c.line_id).where(*periods, postings.c.kind.in_(PAID_KINDS))

    flagged = sorted((dict(r._mapping) for r in conn.execute(
        sa.select(lines).where(lines.c.flags != "", lines.c.line_id.in_(paid_in(postings.c.period == month))))),
        key=lambda r: (r["agent_code"], r["line_id"]))  # sorted here: a keyed line id does not sort as the id
    # The flagged people's paid lines in the books up to the month, in one
    # query (one pass over the postings, not one per flagged line).
    people = sorted({line["citizen_id"] for line in flagged})
    paid: dict[str, list[tuple[str, str]]] = {}
    for start in range(0, len(people), 500):
        chunk = people[start:start + 500]
        rows = conn.execute(sa.select(lines.c.citizen_id, lines.c.line_id, lines.c.months).where(
            lines.c.citizen_id.in_(chunk),
            lines.c.line_id.in_(paid_in(postings.c.period <= month, postings.c.citizen_id.in_(chunk))),
            lines.c.status == "paid", lines.c.kind != "funeral_support"))
        for citizen_id, line_id, months in rows:
            paid.setdefault(citizen_id, []).append((line_id, months))
    for line in flagged:
        line["other_paid_months"] = {m for line_id, text in paid.get(line["citizen_id"], ())
                                     if line_id != line["line_id"] for m in text.split(";")}
    return flagged


def paid_by_commune(conn: Connection, month: str) -> list[dict]:
    """The month's payments by commune and channel (the cashless share), in
    one pass over the month's paid lines summed by the database."""
    bank = lines.c.channel == "bank"
    query = (sa.select(lines.c.commune_code,
                       sa.func.coalesce(sa.func.sum(sa.case((bank, 0), else_=lines.c.amount_vnd)), 0),
                       sa.func.coalesce(sa.func.sum(sa.case((bank, lines.c.amount_vnd), else_=0)), 0),
                       # someone paid by both channels counts once, and as paid by bank
                       # (adapters/office_reports.py)
                       sa.func.count(sa.distinct(lines.c.citizen_id)),
                       sa.func.count(sa.distinct(sa.case((bank, lines.c.citizen_id)))))
             .where(lines.c.status == "paid", lines.c.settled_on.like(f"{month}-%"))
             .group_by(lines.c.commune_code))
    out = []
    for commune, cash_vnd, bank_vnd, people, people_bank in conn.execute(query):
        row = dict(commune_code=commune, paid_cash_vnd=int(cash_vnd), paid_bank_vnd=int(bank_vnd),
                   people_paid=int(people), people_bank=int(people_bank))
        total = row["paid_cash_vnd"] + row["paid_bank_vnd"]
        row["cashless_share"] = row["paid_bank_vnd"] / total if total else 0.0
        row["cashless_share_people"] = row["people_bank"] / row["people_paid"] if row["people_paid"] else 0.0
        out.append(row)
    return sorted(out, key=lambda r: r["commune_code"])


def unclaimed_trend(conn: Connection, month: str) -> list[dict]:
    """Per payroll month up to ``month``: the cash lines not collected in the
    month they were issued for (still unpaid, or collected later), counted
    and summed by the database."""
    late = sa.and_(lines.c.status == "paid", lines.c.settled_on.is_not(None), lines.c.settled_on != "",
                   sa.func.substr(lines.c.settled_on, 1, 7) > lines.c.payroll_month)
    unclaimed = sa.or_(lines.c.status == "unpaid", late)
    query = (sa.select(lines.c.payroll_month, sa.func.sum(sa.case((unclaimed, 1), else_=0)),
                       sa.func.sum(sa.case((unclaimed, lines.c.amount_vnd), else_=0)))
             .where(lines.c.channel == "cash", lines.c.payroll_month <= month, lines.c.kind != "funeral_support")
             .group_by(lines.c.payroll_month))
    return sorted((dict(month=m, lines_unclaimed=int(count), amount_vnd=int(amount))
                   for m, count, amount in conn.execute(query)), key=lambda r: r["month"])
