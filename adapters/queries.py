"""The read side: every question the ``ledger`` command asks of the books,
answered with typed values. Each has ``as_dict()`` with the keys of cli.md;
nothing here is worded or formatted for people (adapters/cli.py does that).
Queries record nothing; they bring the read models up to date first."""
from __future__ import annotations

import copy
import functools
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path
from typing import Callable, Sequence, TypeVar

import sqlalchemy as sa
from eventsourcing.persistence import StoredEvent

from ledger import audit, settlement, whatif
from ledger.clawback import open_overpayment_vnd
from ledger.entitlement import due_for_month
from ledger.months import Month, month_range
from ledger.payroll import CALENDAR_ID, owed_months
from ledger.rules import UNCLAIMED_SUSPENDED, UNCLAIMED_VERIFY, RuleSet
from ledger.settlement import AgentSettlement
from projections import entitlements as ent_view
from projections import payouts as pay_view
from projections import postings as post_view
from projections import imports as imports_view
from projections import write_offs as write_offs_view
from projections.chain import Verdict
from projections.runner import ProjectionRunner, checksums

from . import office_reports, progress
from .formats import registry
from .bootstrap import Runtime
from .errors import CommandRefused
from .gc_pause import without_cycle_collector
from .snapshots import SnapshotAudit
from .store import raw_event_rows_of

T = TypeVar("T")


# --- the typed answers -------------------------------------------------------------

@dataclass(frozen=True)
class MonthLine:
    """One month of a person's schedule with the money that moved for it."""

    month: Month
    due: int
    status: str
    categories: tuple[str, ...]  # those paying
    issued: int
    disbursed: int
    unclaimed: int
    cancelled: int

    def as_dict(self) -> dict:
        return {"month": str(self.month), "due": self.due, "status": self.status,
                "categories": list(self.categories), "issued": self.issued,
                "disbursed": self.disbursed, "unclaimed": self.unclaimed, "cancelled": self.cancelled}


@dataclass(frozen=True)
class PayoutLine:
    line_id: str
    payroll_id: str
    kind: str
    months: tuple[Month, ...]
    amount: int
    status: str
    settled_on: date | None

    def as_dict(self) -> dict:
        return {"line_id": self.line_id, "payroll_id": self.payroll_id, "kind": self.kind,
                "months": [str(m) for m in self.months], "amount": self.amount, "status": self.status,
                "settled_on": self.settled_on.isoformat() if self.settled_on else None}


@dataclass(frozen=True)
class BeneficiaryReport:
    citizen_id: str
    full_name: str
    birth_date: date
    status: str
    categories: tuple[str, ...]
    monthly_amount: int
    province_code: str
    commune_code: str
    channel: str
    agent_code: str
    proxy_name: str
    date_of_death: date | None
    months: tuple[MonthLine, ...]
    lines: tuple[PayoutLine, ...]
    holds: tuple[str, ...]
    arrears_due: int
    overpayment_open: int
    as_known_at: datetime | None
    recovered: int
    funeral_support: int

    def as_dict(self) -> dict:
        return {
            "citizen_id": self.citizen_id,
            "full_name": self.full_name,
            "birth_date": self.birth_date.isoformat(),
            "status": self.status,
            "categories": list(self.categories),
            "monthly_amount": self.monthly_amount,
            "province_code": self.province_code,
            "commune_code": self.commune_code,
            "channel": self.channel,
            "agent_code": self.agent_code,
            "proxy_name": self.proxy_name,
            "date_of_death": self.date_of_death.isoformat() if self.date_of_death else None,
            "months": [m.as_dict() for m in self.months],
            "lines": [x.as_dict() for x in self.lines],
            "holds": list(self.holds),
            "arrears_due": self.arrears_due,
            "overpayment_open": self.overpayment_open,
            "as_known_at": self.as_known_at.isoformat() if self.as_known_at else None,
            "recovered": self.recovered,
            "funeral_support": self.funeral_support,
        }


@dataclass(frozen=True)
class EntitlementLine:
    """One person's entitlement for a month (the entitlements view)."""

    citizen_id: str
    status: str
    categories: tuple[str, ...]
    amount: int
    channel: str
    agent_code: str
    commune_code: str

    def as_dict(self) -> dict:
        return {"citizen_id": self.citizen_id, "status": self.status, "categories": list(self.categories),
                "amount": self.amount, "channel": self.channel, "agent_code": self.agent_code,
                "commune_code": self.commune_code}


@dataclass(frozen=True)
class UnclaimedEntry:
    citizen_id: str
    agent_code: str
    commune_code: str
    consecutive_months: int
    amount: int  # VND held
    flag: str  # verify or suspended

    def as_dict(self) -> dict:
        return {"citizen_id": self.citizen_id, "agent_code": self.agent_code,
                "commune_code": self.commune_code, "consecutive_months": self.consecutive_months,
                "amount": self.amount, "flag": self.flag}


@dataclass(frozen=True)
class RecoveryEntry:
    """An overpayment, open or closed, with what was recovered."""

    citizen_id: str
    months: tuple[str, ...]
    amount: int
    recovered: int
    open: int
    status: str
    written_off: int
    received_by: tuple[str, ...]
    paid_after_death: tuple[str, ...]

    def as_dict(self) -> dict:
        return {"citizen_id": self.citizen_id, "months": list(self.months), "amount": self.amount,
                "recovered": self.recovered, "open": self.open, "status": self.status,
                "written_off": self.written_off, "received_by": list(self.received_by),
                "paid_after_death": list(self.paid_after_death)}


@dataclass(frozen=True)
class OverpaymentListed:
    """An overpayment on the overpayments page: the person's name and commune beside it."""

    citizen_id: str
    full_name: str
    commune_code: str
    months: tuple[str, ...]
    amount: int
    recovered: int
    written_off: int
    open: int
    status: str
    received_by: tuple[str, ...]
    paid_after_death: tuple[str, ...]

    def as_dict(self) -> dict:
        return {"citizen_id": self.citizen_id, "full_name": self.full_name, "commune_code": self.commune_code,
                "months": list(self.months), "amount": self.amount, "recovered": self.recovered,
                "written_off": self.written_off, "open": self.open, "status": self.status,
                "received_by": list(self.received_by), "paid_after_death": list(self.paid_after_death)}


@dataclass(frozen=True)
class RecoveryTotals:
    """How many overpayments, and their sums (recovered includes write-offs)."""

    count: int = 0
    amount: int = 0
    recovered: int = 0
    written_off: int = 0
    open: int = 0

    def __add__(self, other: "RecoveryTotals") -> "RecoveryTotals":
        return RecoveryTotals(*(a + b for a, b in zip(self.__dict__.values(), other.__dict__.values())))

    def as_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass(frozen=True)
class OverpaymentPage:
    """One page of the overpayments, filtered by status and commune, with
    the totals of everything the filter selects (not only the page)."""

    status: str | None  # None: every status
    commune: str | None
    page: int  # from 1
    pages: int
    rows: tuple[OverpaymentListed, ...]
    by_status: dict[str, RecoveryTotals]  # in the commune (if given), every status
    communes: tuple[str, ...]  # those with an overpayment, for the filter
    district: RecoveryTotals  # every overpayment, whatever the filter

    @property
    def totals(self) -> RecoveryTotals:
        """Everything the filter selects."""
        return sum((t for s, t in self.by_status.items() if self.status in (None, s)), RecoveryTotals())

    def as_dict(self) -> dict:
        return {"status": self.status, "commune": self.commune, "page": self.page, "pages": self.pages,
                "rows": [r.as_dict() for r in self.rows], "totals": self.totals.as_dict(),
                "by_status": {s: t.as_dict() for s, t in self.by_status.items()},
                "communes": list(self.communes), "district": self.district.as_dict()}


@dataclass(frozen=True)
class TimelineEntry:
    """One event about a person, with its money consequence (or None)."""

    position: int
    recorded_at: datetime
    effective: str | None
    type: str
    actor: str
    basis: str
    amount: int | None
    detail: str  # e.g. who received a payment (ledger/audit.py detail_of)

    def as_dict(self) -> dict:
        return {"position": self.position, "recorded_at": self.recorded_at.isoformat(),
                "effective": self.effective, "type": self.type, "actor": self.actor,
                "basis": self.basis, "amount": self.amount, "detail": self.detail}


@dataclass(frozen=True)
class SettlementTotals:
    advance: int
    disbursed: int
    fee: int
    returned: int
    closing_balance: int

    def as_dict(self) -> dict:
        return {"advance": self.advance, "disbursed": self.disbursed, "fee": self.fee,
                "returned": self.returned, "closing_balance": self.closing_balance}


@dataclass(frozen=True)
class QueueSummary:
    verify: int
    suspended: int
    held_vnd: int

    def as_dict(self) -> dict:
        return {"verify": self.verify, "suspended": self.suspended, "held_vnd": self.held_vnd}


@dataclass(frozen=True)
class OverpaymentSummary:
    open_count: int
    open_vnd: int
    recovered_vnd: int
    written_off_vnd: int

    def as_dict(self) -> dict:
        return {"open_count": self.open_count, "open_vnd": self.open_vnd,
                "recovered_vnd": self.recovered_vnd, "written_off_vnd": self.written_off_vnd}


@dataclass(frozen=True)
class DistrictSummary:
    """What the settlement reports show (adapters/formats/settlement_report.py reads ``as_dict()``)."""

    month: Month
    office: str
    closed: bool
    agents: tuple[AgentSettlement, ...]
    totals: SettlementTotals
    cashless_share: float
    communes: tuple[dict, ...]  # the payouts view's rows, per commune
    unclaimed_trend: tuple[dict, ...]  # the payouts view's rows, per payroll month
    unclaimed_queue: QueueSummary
    overpayments: OverpaymentSummary
    # The hash chain's head: the one the month was closed on, or (not yet
    # closed) the head now; printed on the report the agent signs.
    chain: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "chain": dict(self.chain),
            "month": str(self.month),
            "office": self.office,
            "closed": self.closed,
            "agents": [s.as_dict() for s in self.agents],
            "totals": self.totals.as_dict(),
            "cashless_share": self.cashless_share,
            "communes": list(self.communes),
            "unclaimed_trend": list(self.unclaimed_trend),
            "unclaimed_queue": self.unclaimed_queue.as_dict(),
            "overpayments": self.overpayments.as_dict(),
        }


@dataclass(frozen=True)
class Rebuild:
    """Views folded from the event log into another store."""

    events: int
    checksums: dict[str, str]


@dataclass(frozen=True)
class RebuildAsKnownAt:
    as_known_at: datetime
    into: str
    events: int
    checksums: dict[str, str]

    def as_dict(self) -> dict:
        return {"as_known_at": self.as_known_at.isoformat(), "into": self.into, "events": self.events,
                "checksums": self.checksums}


@dataclass(frozen=True)
class ProjectionCheck:
    name: str
    checksum: str
    live: str

    @property
    def matches(self) -> bool:
        return self.checksum == self.live

    def as_dict(self) -> dict:
        return {"name": self.name, "checksum": self.checksum, "live": self.live, "matches": self.matches}


@dataclass(frozen=True)
class ReplayCheck:
    """A full rebuild's checksums beside the live views'."""

    events: int
    projections: tuple[ProjectionCheck, ...] = field(default_factory=tuple)

    @property
    def matches(self) -> bool:
        return all(p.matches for p in self.projections)

    def as_dict(self) -> dict:
        return {"events": self.events, "projections": [p.as_dict() for p in self.projections],
                "matches": self.matches}


@dataclass(frozen=True)
class PersonFound:
    citizen_id: str
    full_name: str
    birth_date: str
    status: str
    commune_code: str
    categories: tuple[str, ...]
    channel: str
    agent_code: str

    def as_dict(self) -> dict:
        return {"citizen_id": self.citizen_id, "full_name": self.full_name, "birth_date": self.birth_date,
                "status": self.status, "commune_code": self.commune_code, "categories": list(self.categories),
                "channel": self.channel, "agent_code": self.agent_code}


@dataclass(frozen=True)
class AgentRun:
    agent_code: str
    channel: str
    lines: int
    advance: int
    carried_lines: int
    carried_amount: int

    def as_dict(self) -> dict:
        return {"agent_code": self.agent_code, "channel": self.channel, "lines": self.lines,
                "advance": self.advance, "carried_lines": self.carried_lines,
                "carried_amount": self.carried_amount}


@dataclass(frozen=True)
class CalendarMonth:
    """One payroll month on the calendar: who ran it, when, and whether it is closed."""

    month: Month
    issued_at: datetime | None
    issued_by: str
    agents: tuple[AgentRun, ...]
    closed: bool
    prepared_by: str = ""  # who prepared it (issued_by released it)

    @property
    def lines(self) -> int:
        return sum(a.lines for a in self.agents)

    @property
    def advance(self) -> int:
        return sum(a.advance for a in self.agents)

    def as_dict(self) -> dict:
        return {"month": str(self.month), "issued_at": self.issued_at.isoformat() if self.issued_at else None,
                "issued_by": self.issued_by, "prepared_by": self.prepared_by,
                "agents": [a.as_dict() for a in self.agents],
                "lines": self.lines, "advance": self.advance, "closed": self.closed}


@dataclass(frozen=True)
class PreparedPayroll:
    """A month's latest preparation (nothing issued until it is released)."""

    month: Month
    number: int
    prepared_by: str
    prepared_at: datetime | None
    digest: str
    agents: tuple[dict, ...]  # agent_code, channel, lines, amount, arrears_*, carried_*
    released: bool
    released_by: str

    @property
    def lines(self) -> int:
        return sum(a["lines"] for a in self.agents)

    @property
    def amount(self) -> int:
        return sum(a["amount"] for a in self.agents)

    @property
    def arrears(self) -> int:
        return sum(a["arrears_amount"] for a in self.agents)

    def as_dict(self) -> dict:
        return {"month": str(self.month), "preparation": self.number, "prepared_by": self.prepared_by,
                "prepared_at": self.prepared_at.isoformat() if self.prepared_at else None, "digest": self.digest,
                "agents": list(self.agents), "lines": self.lines, "amount": self.amount, "arrears": self.arrears,
                "released": self.released, "released_by": self.released_by}


@dataclass(frozen=True)
class WriteOffEntry:
    """A write-off proposed, and what became of it (both names)."""

    citizen_id: str
    receipt_no: str
    decision_no: str
    amount: int
    reason: str
    proposed_by: str
    proposed_at: str
    status: str  # pending, approved, rejected
    decided_by: str
    decided_at: str
    decision_reason: str

    def as_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass(frozen=True)
class ImportRecord:
    """One import in the history: the file, who, when, what it recorded."""

    position: int
    recorded_at: str
    actor: str
    kind: str
    file_name: str
    sha256: str
    size_bytes: int
    people: int
    events: dict
    money: dict

    @property
    def recorded_events(self) -> int:
        return sum(self.events.values())

    def as_dict(self) -> dict:
        return dict(self.__dict__, recorded_events=self.recorded_events)


@dataclass(frozen=True)
class StoreStatus:
    database: str  # sqlite or postgresql
    events: int

    def as_dict(self) -> dict:
        return {"database": self.database, "events": self.events}


# --- the queries ---------------------------------------------------------------------

class Queries:
    EVIDENCE_PAGE = 5000

    def __init__(self, runtime: Runtime):
        self.runtime = runtime
        self._calendar_cache: tuple[int, object] | None = None
        self._people: PeopleIndex | None = None
        self._kept_reads: dict[tuple, tuple[tuple, object]] = {}  # see _kept
        self._issued: dict[int, tuple[datetime, Month]] = {}  # see last_payroll_month_as_known_at

    def _calendar(self):
        """The payroll calendar from the event store, folded again only when
        it has recorded something since (its last version is one indexed
        read; folding it reads every month's line ids, the cost of a page)."""
        rt = self.runtime
        with rt.engine.connect() as conn:
            version = conn.execute(sa.text(f"SELECT max(originator_version) FROM {rt.store.events_table} "
                                           "WHERE originator_id = :id"), {"id": rt.store.key(CALENDAR_ID)}).scalar()
        if version is None:
            return None
        if self._calendar_cache is None or self._calendar_cache[0] != version:
            calendar = rt.app.calendar()
            self._calendar_cache = (calendar.version, calendar) if calendar is not None else None
            return calendar
        return self._calendar_cache[1]

    def _caught_up(self) -> None:
        self.runtime.catch_up()

    KEPT_READS = 64

    def _kept(self, key: tuple, read: Callable[[], T]) -> T:
        """A read of the views (caught up first), kept until any view folds
        new events: the views' positions are one read, where the figures a
        page sums over a district's months (every line paid in six months,
        every schedule) take the database a second at 100,000 people. A
        view moves only when something is recorded, a few times a day; the
        first read after that pays. Only for values made of the recorded
        events (the views, or the event store: once caught up, every event
        recorded moves every view's position), the rules and the settings,
        never the clock; a copy is handed out, so a caller's change stays its own."""
        self._caught_up()
        with self.runtime.engine.connect() as conn:
            positions = tuple(conn.execute(sa.text("SELECT name, position FROM projection_tracking ORDER BY name")))
        hit = self._kept_reads.get(key)
        if hit is not None and hit[0] == positions:
            return copy.deepcopy(hit[1])
        value = read()
        if len(self._kept_reads) >= self.KEPT_READS:
            self._kept_reads.clear()
        self._kept_reads[key] = (positions, copy.deepcopy(value))
        return value

    # --- store -------------------------------------------------------------------

    def store_status(self) -> StoreStatus:
        rt = self.runtime
        return StoreStatus(rt.store.kind, rt.app.recorder.max_notification_id() or 0)

    # --- one person ----------------------------------------------------------------

    def beneficiary_report(self, citizen_id: str, as_known_at: datetime | None = None) -> BeneficiaryReport:
        """One person: status, categories, the month-by-month schedule with
        what was issued, disbursed, left unclaimed and cancelled; with
        ``as_known_at``, from the events recorded up to then."""
        if as_known_at is None:
            self._caught_up()
            person = self.runtime.app.beneficiary(citizen_id)  # the event store, not a view
            state = person.state if person else None
        else:
            state = self.state_as_known_at(citizen_id, as_known_at)
        if state is None:
            raise CommandRefused(f"{citizen_id} is not registered"
                                 + (f" as known at {as_known_at.isoformat()}" if as_known_at else ""))
        return self._report_of(state, as_known_at)

    def person_page(self, citizen_id: str, as_known_at: datetime | None = None
                    ) -> tuple[BeneficiaryReport, list[TimelineEntry]]:
        """A person's report and timeline (as ``beneficiary_report`` and
        ``timeline`` give them) from one read of their events, folded once:
        the timeline's last state is the state the report is made of."""
        if as_known_at is None:
            self._caught_up()
        timeline, state = self._timeline_and_state(citizen_id, as_known_at)
        return self._report_of(state, as_known_at), timeline

    def _last_payroll_month(self, as_known_at: datetime | None) -> Month | None:
        if as_known_at is not None:
            return self.last_payroll_month_as_known_at(as_known_at)
        # The last payroll run, from the calendar: a month that issued
        # nothing to anyone is still the last run (no view row shows it).
        calendar = self._calendar()
        return calendar.last_month if calendar else None

    def _report_of(self, state, as_known_at: datetime | None) -> BeneficiaryReport:
        rules = self.runtime.rules
        month = self._last_payroll_month(as_known_at)
        last_payroll = str(month) if month else None
        facts = state.facts
        now = self.runtime.this_month()
        last_payroll_month = Month.parse(last_payroll) if last_payroll else None
        last = max(now, facts.first_month, last_payroll_month or now)
        months = [due_for_month(facts, rules, m) for m in month_range(facts.first_month, last)]
        figures = {d.month: state.book.figures(d.month) for d in months}
        arrears = sum(a for _, a in owed_months(state, rules, last_payroll_month)) \
            if last_payroll_month else 0
        current = due_for_month(facts, rules, now)
        channel = facts.channels.latest()
        residence = facts.residences.latest()
        proxy = facts.proxies.latest()
        return BeneficiaryReport(
            citizen_id=facts.citizen_id,
            full_name=facts.full_name,
            birth_date=facts.birth_date,
            status=facts.current_status(),
            categories=tuple(current.categories or (facts.categories.latest().categories)),
            monthly_amount=current.amount_vnd,
            province_code=residence.province_code if residence else "",
            commune_code=residence.commune_code if residence else "",
            channel=channel.channel if channel else "",
            agent_code=channel.agent_code if channel else "",
            proxy_name=proxy.proxy_name if proxy else "",
            date_of_death=facts.death.date_of_death if facts.death else None,
            months=tuple(
                MonthLine(d.month, d.amount_vnd, d.status, tuple(d.paying), figures[d.month].issued,
                          figures[d.month].disbursed, figures[d.month].unclaimed, figures[d.month].cancelled)
                for d in months),
            lines=tuple(PayoutLine(x.line_id, x.payroll_id, x.kind, tuple(x.months), x.amount_vnd, x.status,
                                   x.settled_on) for x in state.book.lines),
            holds=tuple(code for _, code in state.book.holds),
            arrears_due=arrears,
            overpayment_open=open_overpayment_vnd(state, rules),
            as_known_at=as_known_at,
            recovered=state.book.recovered_vnd(),
            funeral_support=state.book.funeral.amount_vnd if state.book.funeral else 0,
        )

    def _events_of(self, aggregate_id):
        rt = self.runtime
        for position, originator_id, version, topic, blob in raw_event_rows_of(rt.store, rt.engine, aggregate_id):
            yield position, rt.app.mapper.to_domain_event(StoredEvent(originator_id, version, topic, blob))

    def state_as_known_at(self, citizen_id: str, when: datetime):
        """One person's state from the events recorded up to ``when``."""
        state = None
        for _, event in self._events_of(self.runtime.app.id_of(citizen_id)):
            if event.timestamp <= when:
                state = event.fold(state)
        return state

    def last_payroll_month_as_known_at(self, when: datetime) -> Month | None:
        """The last payroll month issued by ``when``: the calendar's issue
        events read latest first until one is old enough. An issue event
        holds every line id of its month (100,000 of them, a tenth of a
        second to decode), and a recorded event never changes: each one's
        time and month are decoded once and kept by its position."""
        from eventsourcing.utils import get_topic

        from ledger.payroll import PayrollCalendar

        rt = self.runtime
        position = "rowid" if rt.store.kind == "sqlite" else "notification_id"
        table = rt.store.events_table
        topic = get_topic(PayrollCalendar.MonthIssued)
        with rt.engine.connect() as conn:
            positions = conn.execute(sa.text(
                f"SELECT {position} FROM {table} WHERE originator_id = :id AND topic = :topic "
                f"ORDER BY {position} DESC"), {"id": rt.store.key(CALENDAR_ID), "topic": topic}).scalars().all()
            for at in positions:
                issued = self._issued.get(at)
                if issued is None:
                    version, state = conn.execute(sa.text(
                        f"SELECT originator_version, state FROM {table} WHERE {position} = :at"), {"at": at}).one()
                    event = rt.app.mapper.to_domain_event(StoredEvent(CALENDAR_ID, version, topic, bytes(state)))
                    issued = self._issued[at] = (event.timestamp, event.month)
                if issued[0] <= when:
                    return issued[1]
        return None

    def timeline(self, citizen_id: str, until: datetime | None = None) -> list[TimelineEntry]:
        """Every event about a person, in recorded order, with its money
        consequence; with ``until``, those recorded up to then."""
        return self._timeline_and_state(citizen_id, until)[0]

    def _timeline_and_state(self, citizen_id: str, until: datetime | None):
        """The timeline, and the person's state after its last event."""
        events = [(p, e) for p, e in self._events_of(self.runtime.app.id_of(citizen_id))
                  if until is None or e.timestamp <= until]
        if not events:
            raise CommandRefused(f"{citizen_id} is not registered"
                                 + (f" as known at {until.isoformat()}" if until else ""))
        state, out = None, []
        for position, event in events:
            after = event.fold(state)
            out.append(TimelineEntry(position, event.timestamp, audit.effective_of(event), type(event).__name__,
                                     event.actor, event.basis_text,
                                     audit.money_consequence(event, state, after, self.runtime.rules),
                                     audit.detail_of(event, after)))
            state = after
        return out, state

    # --- everyone ------------------------------------------------------------------

    SEARCH_LIMIT = 200

    def search_people(self, text: str, limit: int = SEARCH_LIMIT, commune: str = "") -> list[PersonFound]:
        """People whose citizen id starts with ``text`` or whose name holds
        every word of it (each as the start of a word), ignoring case and
        diacritics ("nguyen van" finds "Nguyễn Văn"), in the commune if one
        is given; at most ``limit``, by citizen id."""
        words = folded(text).split()
        commune = commune.strip()
        if not words and not commune:
            return []
        self._caught_up()
        index = self._people_index()
        return [index.found(i) for i in index.search(text.strip(), words, commune, limit)]

    def _people_index(self) -> "PeopleIndex":
        """The people view's search index, made again when the view has
        folded new events since (its position is one read)."""
        with self.runtime.engine.connect() as conn:
            position = _view_position(conn, "entitlements")
            if self._people is None or self._people.position != position:
                self._people = PeopleIndex(position, ent_view.people(conn), self._people)
        return self._people

    def payroll_calendar(self) -> list[CalendarMonth]:
        """Every payroll month run, latest first: who ran it, the agents' lists, closed or not."""
        calendar = self._calendar()
        if calendar is None:
            return []
        out = []
        for month in sorted(calendar.months, reverse=True):
            agents = tuple(AgentRun(code, run["channel"], len(run["lines"]), run["advance_vnd"],
                                    len(run["carried"]), run["carried_vnd"])
                           for code, run in sorted(calendar.months[month].items()))
            out.append(CalendarMonth(Month.parse(month), calendar.issued_at.get(month),
                                     calendar.issued_by.get(month, ""), agents, calendar.is_closed(Month.parse(month)),
                                     calendar.prepared_by.get(month, "")))
        return out

    def payroll_preparation(self, month: Month) -> PreparedPayroll | None:
        """The month's latest preparation, released or not; None if none."""
        from .commands import agent_figures

        calendar = self._calendar()  # folded again only when it has recorded something
        prepared = calendar.prepared.get(str(month)) if calendar else None
        if prepared is None:
            return None
        return PreparedPayroll(month, prepared["number"], prepared["actor"], prepared["at"], prepared["digest"],
                               tuple(agent_figures(prepared["agents"])), calendar.has_run(month),
                               calendar.issued_by.get(str(month), ""))

    def write_offs(self, status: str | None = None) -> list[WriteOffEntry]:
        """Write-offs proposed (newest first), optionally only those in ``status``."""
        self._caught_up()
        with self.runtime.engine.connect() as conn:
            rows = write_offs_view.listed(conn, status)
        return [WriteOffEntry(r["citizen_id"], r["receipt_no"], r["decision_no"], r["amount_vnd"], r["reason"],
                              r["proposed_by"], r["proposed_at"], r["status"], r["decided_by"], r["decided_at"],
                              r["decision_reason"]) for r in rows]

    def import_history(self, limit: int = 500) -> list[ImportRecord]:
        """The files imported, newest first (from their receipts)."""
        self._caught_up()
        with self.runtime.engine.connect() as conn:
            rows = imports_view.history(conn, limit)
        return [ImportRecord(**r) for r in rows]

    def due_totals(self, month: Month) -> dict:
        """How many people are due something in the month, how much, and
        how many in cash: summed by the database over every person's
        schedule, kept until the views move ("this month" asks on every visit)."""
        def read() -> dict:
            with self.runtime.engine.connect() as conn:
                return ent_view.due_totals(conn, str(month))
        return self._kept(("due_totals", str(month)), read)

    def entitlements(self, month: Month) -> list[EntitlementLine]:
        self._caught_up()
        with self.runtime.engine.connect() as conn:
            rows = ent_view.for_month(conn, str(month))
        return [EntitlementLine(r["citizen_id"], r["status"], tuple(c for c in r["categories"].split(";") if c),
                                r["amount_vnd"], r["channel"], r["agent_code"], r["commune_code"]) for r in rows]

    def unclaimed(self, month: Month) -> list[UnclaimedEntry]:
        """The unclaimed-month queue: who has not collected for the rule's
        number of rounds, by agent and commune (kept until the views move:
        each person's status is read for it, in pages of 500)."""
        return self._kept(("unclaimed", str(month)), lambda: self._unclaimed(month))

    def _unclaimed(self, month: Month) -> list[UnclaimedEntry]:
        with self.runtime.engine.connect() as conn:
            rows = pay_view.unclaimed(conn, str(month))
            # Each person's status in the month after their last payroll.
            status = ent_view.statuses_in(conn, {r["citizen_id"]: str(Month.parse(r["last_payroll_month"]) + 1)
                                                 for r in rows})
        rule = self.runtime.rules.unclaimed_rule(month)
        out = []
        for r in rows:
            flag = rule.flag(r["consecutive_months"], suspended=status.get(r["citizen_id"]) == "suspended")
            if flag is not None:
                out.append(UnclaimedEntry(r["citizen_id"], r["agent_code"], r["commune_code"],
                                          r["consecutive_months"], r["amount_vnd"], flag))
        return out

    # --- the figures offices report (adapters/office_reports.py) ----------------------

    def proxy_queue(self, month: Month) -> list[office_reports.ProxyQueueEntry]:
        """Payments into proxies' accounts not confirmed for two months or more."""
        self._caught_up()
        with self.runtime.engine.connect() as conn:
            return office_reports.proxy_queue(conn, month)

    def cashless_report(self, first: Month, last: Month) -> office_reports.CashlessReport:
        """Kept until the views move: every line paid in the months, counted per commune."""
        def read():
            with self.runtime.engine.connect() as conn:
                return office_reports.cashless(conn, first, last)
        return self._kept(("cashless", str(first), str(last)), read)

    def trend_report(self, first: Month, last: Month) -> office_reports.TrendReport:
        """Kept until the views move: every cash line of the months, and their postings."""
        def read():
            with self.runtime.engine.connect() as conn:
                return office_reports.trend(conn, first, last)
        return self._kept(("trend", str(first), str(last)), read)

    def overpayment_of(self, citizen_id: str) -> RecoveryEntry | None:
        """One person's overpayment, open or closed, with what was recovered."""
        return next((r for r in self.recoveries(citizen_id)), None)

    def recoveries(self, citizen_id: str | None = None) -> list[RecoveryEntry]:
        """Open and closed overpayments with what was recovered."""
        self._caught_up()
        with self.runtime.engine.connect() as conn:
            rows = ent_view.recoveries(conn, citizen_id)
        return [RecoveryEntry(r["citizen_id"], tuple(m for m in r["months"].split(";") if m), r["amount_vnd"],
                              r["recovered_vnd"], r["open_vnd"], r["status"], r["written_off_vnd"],
                              tuple(x for x in r["received_by"].split(";") if x),
                              tuple(r["paid_after_death"])) for r in rows]

    OVERPAYMENT_PAGE = 50

    def overpayments_page(self, status: str | None = "open", commune: str | None = None,
                          page: int = 1) -> OverpaymentPage:
        """One page of overpayments (``OVERPAYMENT_PAGE`` a page), in a
        status (open, recovered, written_off; None: all) and a commune if
        given, with the totals of all that the filter selects: the database
        filters, sums and cuts the page, whatever the number of deaths."""
        if status is not None and status not in ent_view.RECOVERY_STATUSES:
            raise CommandRefused(f"unknown overpayment status {status!r}")
        self._caught_up()
        size = self.OVERPAYMENT_PAGE

        def totals(figures: dict) -> RecoveryTotals:
            return RecoveryTotals(**{k.removesuffix("_vnd"): v for k, v in figures.items()})

        with self.runtime.engine.connect() as conn:
            by_commune = {key: totals(t) for key, t in ent_view.recovery_totals_by_commune(conn).items()}
            by_status: dict[str, RecoveryTotals] = {}
            for (place, s), t in by_commune.items():
                if not commune or place == commune:
                    by_status[s] = by_status.get(s, RecoveryTotals()) + t
            district = sum(by_commune.values(), RecoveryTotals())
            communes = sorted({place for place, _ in by_commune if place})
            selected = sum(t.count for s, t in by_status.items() if status in (None, s))
            pages = max(1, -(-selected // size))
            page = min(max(1, page), pages)
            rows = ent_view.recoveries_listed(conn, status, commune or None, (page - 1) * size, size)
        listed = tuple(OverpaymentListed(
            r["citizen_id"], r["full_name"], r["commune_code"], tuple(m for m in r["months"].split(";") if m),
            r["amount_vnd"], r["recovered_vnd"], r["written_off_vnd"], r["open_vnd"], r["status"],
            tuple(x for x in r["received_by"].split(";") if x), tuple(r["paid_after_death"])) for r in rows)
        return OverpaymentPage(status, commune or None, page, pages, listed, by_status, tuple(communes), district)

    # --- the monthly settlement --------------------------------------------------------

    @without_cycle_collector
    def reconcile(self, month: Month, agent: str | None = None,
                  evidence: Sequence[str | Path] = ()) -> list[AgentSettlement]:
        """Each agent's settlement for the month, with the variances found in
        the books (reports, flagged payments) and in any result files given
        as evidence."""
        self._caught_up()
        rt = self.runtime
        calendar = self._calendar()
        closed = calendar.closed.get(str(month)) if calendar else None
        reports = calendar.reports if calendar else {}
        with rt.engine.connect() as conn:
            movements = post_view.agent_movements(conn, str(month), _closed_before(calendar, month))
            for run in pay_view.payroll_of(conn, str(month)):
                movements.setdefault(run["agent_code"], post_view.empty_movement())
            flagged = pay_view.flagged_payments(conn, str(month))
            evidence_variances = self._evidence_variances(conn, evidence)
        settlements = []
        for code, m in sorted(movements.items()):
            if agent and code != agent:
                continue
            recorded = closed.get(code) if closed is not None else None
            if recorded is not None and all(key in recorded for key in CLOSE_FIGURES):
                # A closed month: the figures its close recorded, folded from
                # the events (so its report and what it publishes are the books').
                m = dict(m, **{key: recorded[key] for key in CLOSE_FIGURES})
            closed_fee = recorded["fee"] if recorded is not None else None
            fee = settlement.fee_for(rt.contracts, code, month, paid_vnd=m["paid_vnd"],
                                     persons_paid=m["persons_paid"], closed_fee=closed_fee)
            result = settlement.settle(code, month, opening=m["opening"], advance=m["advance"],
                                       disbursed=m["disbursed"], returned=m["returned"], fee=fee,
                                       report=reports.get(f"{code}/{month}"))
            result.closed = closed is not None
            lines = [x for x in flagged if x["agent_code"] == code]
            result.variances += [settlement.flagged_variance(x, x["other_paid_months"]) for x in lines]
            result.variances += evidence_variances.get(code, [])
            settlement.mark_accepted(result, calendar.acceptances(month) if calendar else {})
            settlements.append(result)
        return settlements

    def settlements(self, month: Month) -> list[AgentSettlement]:
        """Each agent's settlement for the month as ``reconcile`` gives it
        (no evidence files), kept until the views move: it sums the month's
        postings (hundreds of thousands at 100,000 people) and the pages
        that show it (settlement, this month, reports) are read far more
        often than anything is recorded. Commands call ``reconcile``."""
        return self._kept(("settlements", str(month)), lambda: self.reconcile(month))

    def _evidence_variances(self, conn, evidence: Sequence[str | Path]) -> dict[str, list]:
        """The variances in the agents' result files, by agent, compared with
        the payroll a page of lines at a time (the files may be long)."""
        found: dict[str, list] = {}
        seen: dict[str, set[str]] = {}  # line ids paid so far, by agent
        for path in evidence:
            rows = registry.evidence_lines(path)
            for start in range(0, len(rows), self.EVIDENCE_PAGE):
                page = rows[start:start + self.EVIDENCE_PAGE]
                issued = pay_view.lines_by_id(conn, [r["line_id"] for r in page])
                deaths = ent_view.dates_of_death(conn, {r["citizen_id"] for r in page if r["citizen_id"]}
                                                 | {line["citizen_id"] for line in issued.values()})
                by_agent: dict[str, list[dict]] = {}
                for r in page:
                    by_agent.setdefault(r["payroll_id"].split("/")[0], []).append(r)
                for code, results in by_agent.items():
                    found.setdefault(code, []).extend(settlement.compare_result_lines(
                        results, issued, deaths, seen.setdefault(code, set())))
        return found

    def district_summary(self, month: Month) -> DistrictSummary:
        """Each agent's settlement and the district's figures for the month."""
        settlements = self.settlements(month)
        totals = SettlementTotals(*(sum(getattr(s, key) for s in settlements)
                                    for key in ("advance", "disbursed", "fee", "returned", "closing_balance")))
        def read():  # every line paid in the month, and every cash line up to it: kept until the views move
            with self.runtime.engine.connect() as conn:
                return (pay_view.paid_by_commune(conn, str(month)), pay_view.unclaimed_trend(conn, str(month)),
                        ent_view.recovery_totals(conn))
        communes, trend, owed = self._kept(("district_summary", str(month)), read)
        every = list(owed.values())
        paid = sum(c["paid_cash_vnd"] + c["paid_bank_vnd"] for c in communes)
        queue = self.unclaimed(month)
        calendar = self._calendar()
        seals = getattr(calendar, "seals", {}) if calendar is not None else {}
        seal = seals.get(str(month))
        if seal is None:
            position, digest = self.runtime.chain.head()
            seal = {"position": position, "hash": digest}
        return DistrictSummary(
            chain=dict(seal, at_close=str(month) in seals),
            month=month,
            office=self.runtime.office.office_name,
            closed=bool(settlements) and all(s.closed for s in settlements),
            agents=tuple(settlements),
            totals=totals,
            cashless_share=(sum(c["paid_bank_vnd"] for c in communes) / paid) if paid else 0.0,
            communes=tuple(communes),
            unclaimed_trend=tuple(trend),
            unclaimed_queue=QueueSummary(verify=sum(1 for q in queue if q.flag == UNCLAIMED_VERIFY),
                                         suspended=sum(1 for q in queue if q.flag == UNCLAIMED_SUSPENDED),
                                         held_vnd=sum(q.amount for q in queue)),
            # Summed by the database (status "open" is an open amount above zero).
            overpayments=OverpaymentSummary(open_count=owed.get("open", {}).get("count", 0),
                                            open_vnd=sum(t["open_vnd"] for t in every),
                                            recovered_vnd=sum(t["recovered_vnd"] - t["written_off_vnd"]
                                                              for t in every),
                                            written_off_vnd=sum(t["written_off_vnd"] for t in every)),
        )

    # --- audit and replay ----------------------------------------------------------------

    def verify(self) -> Verdict:
        """The hash chain over the stored events, then every write-side
        snapshot against the fold of the events it summarises."""
        verdict = self.runtime.chain.verify()
        if not verdict.ok:
            return verdict
        runtime = self.runtime
        snapshots = SnapshotAudit(runtime.store, runtime.engine, runtime.app.mapper, runtime.rules).verify()
        return replace(verdict, ok=snapshots.ok, problem=snapshots.problem,
                       snapshots_checked=snapshots.checked, first_bad_snapshot=snapshots.first_bad)

    @without_cycle_collector
    def rebuild_into(self, url: str, *, until: datetime | None = None,
                     show_progress: bool = True) -> Rebuild:
        """Fold the event log from scratch into the views of another store
        (never the live views), up to the events recorded by ``until`` if
        given; with the rebuilt views' checksums."""
        runner = self.runtime.views_elsewhere(url)
        try:
            total = self.runtime.app.recorder.max_notification_id() or 0
            with progress.bar(total, "replay", enabled=show_progress) as advance:
                count = runner.rebuild(advance) if until is None else _rebuild_until(runner, until, advance)
            return Rebuild(count, checksums(runner.engine, runner.projections))
        finally:
            runner.engine.dispose()

    def live_checksums(self) -> dict[str, str]:
        self._caught_up()
        return checksums(self.runtime.engine, self.runtime.runner.projections)

    def replay_check(self, url: str) -> ReplayCheck:
        """Rebuild every view into ``url`` and compare it with the live one."""
        live = self.live_checksums()
        rebuilt = self.rebuild_into(url)
        return ReplayCheck(rebuilt.events, tuple(ProjectionCheck(name, rebuilt.checksums[name], live[name])
                                                 for name in sorted(rebuilt.checksums)))

    def as_known_at(self, url: str, into: str, when: datetime) -> RebuildAsKnownAt:
        """The views as known at ``when``, rebuilt into ``url`` (the file ``into``)."""
        rebuilt = self.rebuild_into(url, until=when)
        return RebuildAsKnownAt(when, into, rebuilt.events, rebuilt.checksums)

    # --- the population database check (adapters/population.py) -------------------------

    def population_queue(self, statuses: Sequence[str] = (), commune: str | None = None) -> list:
        """The open reviews (a reported death, not found, differs): ``ReviewItem``s."""
        from .population import read_queue

        self._caught_up()
        with self.runtime.engine.connect() as conn:
            return read_queue(conn, statuses, commune)

    def population_rates(self) -> list:
        """The match rate per commune, then the district's: ``MatchRateRow``s."""
        from .population import read_rates

        self._caught_up()
        with self.runtime.engine.connect() as conn:
            return read_rates(conn)

    # --- rules -------------------------------------------------------------------------

    def whatif(self, candidate: RuleSet, first: Month, last: Month) -> whatif.WhatIf:
        """Everyone's schedule under the candidate rules beside the current
        ones, from the event store; records nothing."""
        return whatif.compare((person.facts for person in self.runtime.loader.all()), self.runtime.rules,
                              candidate, first, last)


def _view_position(conn, name: str) -> int | None:
    """The last event a view has folded: when it moves, what was read from the view may have changed."""
    return conn.execute(sa.text("SELECT position FROM projection_tracking WHERE name = :name"),
                        {"name": name}).scalar()


# The figures a close records for each agent (the closing balance follows from them).
CLOSE_FIGURES = ("opening", "advance", "disbursed", "returned", "fee")


def _closed_before(calendar, month: Month) -> tuple[str, dict[str, int]] | None:
    """The last month closed before ``month`` with each agent's closing
    balance as recorded at its close (None: no such month, or one closed
    before closings were recorded)."""
    earlier = sorted(m for m in (calendar.closed if calendar else {}) if m < str(month))
    if not earlier:
        return None
    agents = calendar.closed[earlier[-1]]
    if any("closing" not in figures for figures in agents.values()):
        return None
    return earlier[-1], {code: figures["closing"] for code, figures in agents.items()}


class PeopleIndex:
    """The people view's rows (by citizen id) with each folded name word
    and each commune pointing at its rows: a search reads the few distinct
    words that start like the words asked, not every name."""

    def __init__(self, position, rows: list[dict], earlier: "PeopleIndex | None" = None):
        self.position = position
        self.rows = rows  # ordered by citizen id
        self.ids = [r["citizen_id"] for r in rows]
        self.words: dict[str, set[int]] = {}
        self.communes: dict[str, set[int]] = {}
        # Names repeat: each is folded once, and kept for the next index.
        self.name_words: dict[str, tuple[str, ...]] = earlier.name_words if earlier else {}
        for i, r in enumerate(rows):
            name = r["full_name"]
            words = self.name_words.get(name)
            if words is None:
                words = self.name_words[name] = tuple(folded(name).split())
            for word in words:
                self.words.setdefault(word, set()).add(i)
            self.communes.setdefault(r["commune_code"], set()).add(i)

    def search(self, text: str, words: list[str], commune: str, limit: int) -> list[int]:
        import bisect

        named: set[int] | None = None
        for w in words:
            having = set().union(*(rows for word, rows in self.words.items() if word.startswith(w)))
            named = having if named is None else named & having
        found = set(named or ())
        if text and text[0].isdigit():  # a citizen id's first digits
            start = bisect.bisect_left(self.ids, text)
            end = start
            while end < len(self.ids) and self.ids[end].startswith(text):
                end += 1
            found.update(range(start, end))
        if commune:
            found = (found & self.communes.get(commune, set())) if words else set(self.communes.get(commune, ()))
        return sorted(found)[:limit]

    def found(self, i: int) -> PersonFound:
        r = self.rows[i]
        return PersonFound(r["citizen_id"], r["full_name"], r["birth_date"], r["status"], r["commune_code"],
                           tuple(c for c in r["categories"].split(";") if c), r["channel"], r["agent_code"])


@functools.lru_cache(maxsize=65536)  # names repeat: a district has a few thousand distinct ones
def folded(text: str) -> str:
    """Lower case without diacritics (đ as d), for searching Vietnamese names."""
    import unicodedata

    text = unicodedata.normalize("NFD", text.casefold().replace("đ", "d"))
    return "".join(c for c in text if not unicodedata.combining(c))


def _rebuild_until(runner: ProjectionRunner, until: datetime, advance) -> int:
    with runner.engine.begin() as conn:
        for projection in runner.projections:
            runner._reset(conn, projection)
    return runner.catch_up(advance, until=until)
