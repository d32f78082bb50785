"""Read models for the figures offices report and the follow-up of
payments into proxies' accounts:

- ``proxy_payments``: every bank line paid into a proxy's own account, its
  bank result and the commune's confirmation that it reached the person;
- ``death_notices_known``: each person's death as first notified (a
  correcting notice moves the date), for how late deaths are learnt of.

Both are folded from the same events as the other views and rebuilt with
them; nothing here decides a payment."""
from __future__ import annotations

from typing import Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ledger import payouts
from ledger.beneficiary import Beneficiary
from ledger.money import effect_of
from ledger.months import Month

from . import bulk
from .runner import metadata

proxy_payments = sa.Table(
    "proxy_payments", metadata,
    sa.Column("line_id", sa.String(40), primary_key=True),
    sa.Column("citizen_id", sa.String(12), nullable=False, index=True),
    sa.Column("full_name", sa.Text, nullable=False),
    sa.Column("receiver", sa.Text, nullable=False),  # the proxy
    sa.Column("bank_account", sa.String(64), nullable=False),  # the proxy's
    sa.Column("commune_code", sa.String(16), nullable=False),
    sa.Column("agent_code", sa.String(64), nullable=False),
    sa.Column("payroll_month", sa.String(7), nullable=False, index=True),
    sa.Column("amount_vnd", sa.BigInteger, nullable=False),
    sa.Column("status", sa.String(12), nullable=False),
    sa.Column("settled_on", sa.String(10)),
    sa.Column("confirmed_on", sa.String(10)),
    sa.Column("confirmed_by", sa.Text),
    sa.Column("method", sa.String(16)),
)

death_notices_known = sa.Table(
    "death_notices_known", metadata,
    # The person's aggregate id (a notice names no citizen id; the
    # entitlements view maps the one to the other).
    sa.Column("aggregate_id", sa.String(36), primary_key=True),
    sa.Column("notice_id", sa.String(64), nullable=False),
    sa.Column("source", sa.String(32), nullable=False),
    sa.Column("date_of_death", sa.String(10), nullable=False),
    sa.Column("reported_on", sa.String(10), nullable=False),
)


class OfficeFiguresProjection:
    name = "office_figures"
    tables = (proxy_payments, death_notices_known)

    def version(self) -> str:
        return "1"

    def process(self, conn: Connection, events: Sequence[tuple[int, object]]) -> None:
        inserts: list[dict] = []
        results: list[dict] = []
        confirmations: list[dict] = []
        deaths: dict[str, dict] = {}
        corrections: list[dict] = []
        for _, event in events:
            if isinstance(event, Beneficiary.PayoutIssued):
                if event.to_proxy_account:
                    inserts.append(dict(
                        line_id=event.line_id, citizen_id=event.citizen_id, full_name=event.full_name,
                        receiver=event.receiver, bank_account=event.bank_account,
                        commune_code=event.commune_code, agent_code=event.agent_code,
                        payroll_month=str(event.payroll_month), amount_vnd=sum(event.amounts),
                        status=payouts.ISSUED, settled_on=None, confirmed_on=None, confirmed_by=None,
                        method=None))
            elif isinstance(event, Beneficiary.ReceiptConfirmed):
                confirmations += [dict(line_id=line_id, confirmed_on=event.confirmed_on.isoformat(),
                                       confirmed_by=event.confirmed_by, method=event.method)
                                  for line_id in event.line_ids]
            elif isinstance(event, Beneficiary.DeathNotified):
                person = str(event.originator_id)
                row = dict(aggregate_id=person, notice_id=event.notice_id, source=event.source,
                           date_of_death=event.date_of_death.isoformat(),
                           reported_on=event.reported_on.isoformat())
                if event.corrects:
                    corrections.append(row)
                else:
                    deaths.setdefault(person, row)  # a second source confirms the first
            elif (effect := effect_of(event)) is not None and effect.line is not None:
                result = effect.line
                results.append(dict(line_id=result.line_id, status=result.status,
                                    settled_on=result.settled_on.isoformat() if result.settled_on else None))
        bulk.insert_rows(conn, proxy_payments, inserts)
        # Results of any line come by; only those of proxy-account lines match a row.
        bulk.update_rows(conn, proxy_payments, "line_id", ("status", "settled_on"),
                         _known(conn, results, {i["line_id"] for i in inserts}))
        bulk.update_rows(conn, proxy_payments, "line_id", ("confirmed_on", "confirmed_by", "method"),
                         confirmations)
        if deaths:
            known = set()
            for chunk in _chunks(sorted(deaths), 500):
                known.update(conn.execute(sa.select(death_notices_known.c.aggregate_id).where(
                    death_notices_known.c.aggregate_id.in_(chunk))).scalars())
            bulk.insert_rows(conn, death_notices_known, [r for c, r in deaths.items() if c not in known])
        for row in corrections:  # the corrected date of death; the first notice's date of report stays
            conn.execute(death_notices_known.update().where(
                death_notices_known.c.aggregate_id == row["aggregate_id"]).values(
                date_of_death=row["date_of_death"]))


def _known(conn: Connection, results: list[dict], new_ids: set[str]) -> list[dict]:
    ids = sorted({r["line_id"] for r in results} - new_ids)
    known = set(new_ids)
    for chunk in _chunks(ids, 500):
        known.update(conn.execute(sa.select(proxy_payments.c.line_id).where(
            proxy_payments.c.line_id.in_(chunk))).scalars())
    return [r for r in results if r["line_id"] in known]


def _chunks(items: list, size: int):
    for start in range(0, len(items), size):
        yield items[start:start + size]


# --- queries ---------------------------------------------------------------------------

def unconfirmed(conn: Connection, month: str, min_months: int) -> list[dict]:
    """Credited proxy-account payments of payroll months at least
    ``min_months`` before ``month`` that no commune has confirmed."""
    p = proxy_payments
    latest = str(Month.parse(month) - min_months)
    query = (sa.select(p).where(p.c.status == payouts.PAID, p.c.confirmed_on.is_(None),
                                p.c.payroll_month <= latest)
             .order_by(p.c.commune_code, p.c.citizen_id, p.c.payroll_month, p.c.line_id))
    return [dict(r._mapping) for r in conn.execute(query)]


def payments_of(conn: Connection, first: str, last: str) -> list[dict]:
    p = proxy_payments
    query = (sa.select(p).where(p.c.payroll_month >= first, p.c.payroll_month <= last)
             .order_by(p.c.payroll_month, p.c.citizen_id, p.c.line_id))
    return [dict(r._mapping) for r in conn.execute(query)]


def deaths_noticed(conn: Connection, first: str, last: str) -> list[dict]:
    """Deaths whose first notice was reported in the months given, with the
    person's citizen id and commune."""
    from .entitlements import beneficiaries

    d = death_notices_known
    query = (sa.select(d, beneficiaries.c.citizen_id, beneficiaries.c.commune_code)
             .join(beneficiaries, beneficiaries.c.aggregate_id == d.c.aggregate_id)
             .where(d.c.reported_on >= f"{first}-01", d.c.reported_on <= f"{last}-31")
             .order_by(d.c.reported_on, beneficiaries.c.citizen_id))
    return [dict(r._mapping) for r in conn.execute(query)]
