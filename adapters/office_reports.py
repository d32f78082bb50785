"""The figures offices report, read from the views as typed values
(``as_dict()`` gives the JSON keys): the cashless share per commune and
month, the month-by-month trends, and the queue of proxy-account payments
no commune has confirmed. ``Queries`` (adapters/queries.py) serves them.

The ledger's database is one district office's: the "district" figures are
the whole ledger's, the commune figures each commune's."""
from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ledger.months import Month, month_range
from projections import office_figures
from projections.payouts import lines
from projections.postings import PAID_KINDS, postings

# Payments into a proxy's account unconfirmed this many months after their
# payroll month put the person on the queue (domain.md, "Proxy accounts").
CONFIRMATION_WAIT_MONTHS = 2


def _share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


@dataclass(frozen=True)
class CashlessFigures:
    people_paid: int
    people_bank: int
    paid_vnd: int
    bank_vnd: int

    def as_dict(self) -> dict:
        return {"people_paid": self.people_paid, "people_bank": self.people_bank,
                "paid_vnd": self.paid_vnd, "bank_vnd": self.bank_vnd,
                "share_people": _share(self.people_bank, self.people_paid),
                "share_amount": _share(self.bank_vnd, self.paid_vnd)}


@dataclass(frozen=True)
class CashlessMonth:
    month: Month
    district: CashlessFigures
    communes: tuple[tuple[str, CashlessFigures], ...]

    def as_dict(self) -> dict:
        return {"month": str(self.month), "district": self.district.as_dict(),
                "communes": [{"commune_code": code, **figures.as_dict()} for code, figures in self.communes]}


@dataclass(frozen=True)
class CashlessReport:
    first: Month
    last: Month
    months: tuple[CashlessMonth, ...]

    def as_dict(self) -> dict:
        return {"from": str(self.first), "to": str(self.last), "months": [m.as_dict() for m in self.months]}


def cashless(conn: Connection, first: Month, last: Month) -> CashlessReport:
    """Everyone paid in each month (a line paid, by its date of payment, as
    the monthly report counts it): by bank over all, in people and in VND.
    A person paid by both channels in a month counts once, as paid by bank.
    Summed by the database: a province's year has millions of lines."""
    month = sa.func.substr(lines.c.settled_on, 1, 7)
    bank = lines.c.channel == "bank"
    figures = (sa.func.count(sa.distinct(lines.c.citizen_id)),
               sa.func.count(sa.distinct(sa.case((bank, lines.c.citizen_id)))),
               sa.func.sum(lines.c.amount_vnd),
               sa.func.coalesce(sa.func.sum(sa.case((bank, lines.c.amount_vnd), else_=0)), 0))
    paid_in_range = (lines.c.status == "paid", lines.c.settled_on >= f"{first}-01",
                     lines.c.settled_on <= f"{last}-31")
    communes: dict[str, list[tuple[str, CashlessFigures]]] = {}
    for m, commune, *values in conn.execute(sa.select(month, lines.c.commune_code, *figures)
                                            .where(*paid_in_range).group_by(month, lines.c.commune_code)
                                            .order_by(month, lines.c.commune_code)):
        communes.setdefault(m, []).append((commune, CashlessFigures(*(int(v) for v in values))))
    district = {m: CashlessFigures(*(int(v) for v in values))
                for m, *values in conn.execute(sa.select(month, *figures).where(*paid_in_range).group_by(month))}
    empty = CashlessFigures(0, 0, 0, 0)
    return CashlessReport(first, last, tuple(
        CashlessMonth(m, district.get(str(m), empty), tuple(communes.get(str(m), ())))
        for m in month_range(first, last)))


@dataclass(frozen=True)
class AgentMonth:
    agent_code: str
    advance_vnd: int
    disbursed_vnd: int
    returned_vnd: int
    fee_vnd: int

    def as_dict(self) -> dict:
        return {"agent_code": self.agent_code, "advance": self.advance_vnd, "disbursed": self.disbursed_vnd,
                "returned": self.returned_vnd, "fee": self.fee_vnd}


@dataclass(frozen=True)
class TrendMonth:
    month: Month
    unclaimed_people: int  # cash lines of the payroll month not collected in it
    unclaimed_vnd: int
    deaths_noticed: int  # first notices reported in the month
    deaths_late: int  # of those, reported in a later month than the death
    months_late_total: int  # months between death and notice, summed
    months_late_max: int
    overpayments_opened_vnd: int  # receivables recorded (net of reductions) in the month
    recovered_vnd: int  # repaid or offset in the month
    written_off_vnd: int
    agents: tuple[AgentMonth, ...] = field(default=())

    def as_dict(self) -> dict:
        return {"month": str(self.month), "unclaimed_people": self.unclaimed_people,
                "unclaimed_amount": self.unclaimed_vnd, "deaths_noticed": self.deaths_noticed,
                "deaths_late": self.deaths_late, "months_late_total": self.months_late_total,
                "months_late_max": self.months_late_max,
                "overpayments_opened": self.overpayments_opened_vnd, "recovered": self.recovered_vnd,
                "written_off": self.written_off_vnd, "agents": [a.as_dict() for a in self.agents]}


@dataclass(frozen=True)
class TrendReport:
    first: Month
    last: Month
    months: tuple[TrendMonth, ...]

    def as_dict(self) -> dict:
        return {"from": str(self.first), "to": str(self.last), "months": [m.as_dict() for m in self.months]}


def trend(conn: Connection, first: Month, last: Month) -> TrendReport:
    wanted = [str(m) for m in month_range(first, last)]
    # Cash lines not collected in the month they were issued for (still
    # unpaid, or collected later), as the monthly report's unclaimed trend.
    late = sa.and_(lines.c.status == "paid", sa.func.substr(lines.c.settled_on, 1, 7) > lines.c.payroll_month)
    query = (sa.select(lines.c.payroll_month, sa.func.count(sa.distinct(lines.c.citizen_id)),
                       sa.func.sum(lines.c.amount_vnd))
             .where(lines.c.channel == "cash", lines.c.kind != "funeral_support",
                    lines.c.payroll_month >= str(first), lines.c.payroll_month <= str(last),
                    sa.or_(lines.c.status == "unpaid", late))
             .group_by(lines.c.payroll_month))
    unclaimed = {m: (0, 0) for m in wanted}
    for payroll_month, people, amount in conn.execute(query):
        unclaimed[payroll_month] = (int(people), int(amount))

    deaths = {m: [0, 0, 0, 0] for m in wanted}  # noticed, late, months late, max
    for row in office_figures.deaths_noticed(conn, str(first), str(last)):
        noticed = Month.parse(row["reported_on"][:7])
        lag = max(0, Month.parse(row["date_of_death"][:7]).months_until(noticed))
        figures = deaths[str(noticed)]
        figures[0] += 1
        figures[1] += 1 if lag > 0 else 0
        figures[2] += lag
        figures[3] = max(figures[3], lag)

    p = postings
    money: dict[str, dict[str, int]] = {m: {} for m in wanted}
    agents: dict[str, dict[str, dict[str, int]]] = {m: {} for m in wanted}
    query = (sa.select(p.c.period, p.c.kind, p.c.agent_code, sa.func.sum(p.c.amount_vnd))
             .where(p.c.period >= str(first), p.c.period <= str(last))
             .group_by(p.c.period, p.c.kind, p.c.agent_code))
    for period, kind, agent, amount in conn.execute(query):
        money[period][kind] = money[period].get(kind, 0) + int(amount)
        if agent:
            slot = {"advance": "advance", "returned": "returned", "fee": "fee"}.get(
                kind, "disbursed" if kind in PAID_KINDS else None)
            if slot:
                figures = agents[period].setdefault(agent, {})
                figures[slot] = figures.get(slot, 0) + int(amount)

    months = []
    for m in wanted:
        k = money[m]
        months.append(TrendMonth(
            Month.parse(m), *unclaimed[m], *deaths[m],
            overpayments_opened_vnd=k.get("overpayment", 0) - k.get("overpayment_reduced", 0),
            recovered_vnd=k.get("recovered_cash", 0) + k.get("recovered_bank", 0) + k.get("recovered_offset", 0),
            written_off_vnd=k.get("recovered_write_off", 0),
            agents=tuple(AgentMonth(code, f.get("advance", 0), f.get("disbursed", 0), f.get("returned", 0),
                                    f.get("fee", 0)) for code, f in sorted(agents[m].items()))))
    return TrendReport(first, last, tuple(months))


@dataclass(frozen=True)
class ProxyQueueEntry:
    citizen_id: str
    full_name: str
    proxy_name: str
    bank_account: str  # the proxy's
    commune_code: str
    agent_code: str
    months: tuple[str, ...]  # payroll months credited and not confirmed
    amount: int  # VND credited into the proxy's account, unconfirmed
    months_waiting: int  # since the oldest of them

    def as_dict(self) -> dict:
        return {"citizen_id": self.citizen_id, "full_name": self.full_name, "proxy_name": self.proxy_name,
                "bank_account": self.bank_account, "commune_code": self.commune_code,
                "agent_code": self.agent_code, "months": list(self.months), "amount": self.amount,
                "months_waiting": self.months_waiting}


def proxy_queue(conn: Connection, month: Month) -> list[ProxyQueueEntry]:
    """Who was paid into a proxy's account at least two months before
    ``month`` without the commune confirming the money reached them, by
    commune; a person once, with every month still unconfirmed."""
    people: dict[str, list[dict]] = {}
    for row in office_figures.unconfirmed(conn, str(month), CONFIRMATION_WAIT_MONTHS):
        people.setdefault(row["citizen_id"], []).append(row)
    out = []
    for citizen, rows in people.items():
        last = rows[-1]
        months = tuple(sorted({r["payroll_month"] for r in rows}))
        out.append(ProxyQueueEntry(citizen, last["full_name"], last["receiver"], last["bank_account"],
                                   last["commune_code"], last["agent_code"], months,
                                   sum(r["amount_vnd"] for r in rows),
                                   Month.parse(months[0]).months_until(month)))
    return sorted(out, key=lambda e: (e.commune_code, e.citizen_id))
