"""The ledger application: a thin service whose methods are the commands.

Each command loads the aggregates it touches, decides, and saves every new
event in one call, which the recorder writes in one transaction: a command
records everything or nothing, and re-running it records nothing twice.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date
from contextlib import contextmanager, nullcontext
from typing import Callable, ContextManager, Iterable, Iterator, Mapping, Sequence
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application, ProcessingEvent
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import JSONTranscoder, Transcoding
from eventsourcing.utils import get_topic

from . import facts as f
from . import population
from .beneficiary import Beneficiary, IdOf, beneficiary_id
from .decisions import DeathNotice, Decision, ReceiptConfirmation
from .errors import Refused
from .history import HISTORY_SEALS_ID, HistorySeals
from .months import Month
from .outcomes import Consequences
from .payouts import FUNERAL, AgentResult, Recovery
from .payroll import (CALENDAR_ID, NotPrepared, PayrollCalendar, PayrollOutOfOrder, citizen_of_line, list_digest,
                      list_entry, plan_funeral, plan_line)
from .rules import RuleSet

LoadMany = Callable[[Sequence[UUID]], Mapping[UUID, Beneficiary]]
LoadAll = Callable[[], Iterable[Beneficiary]]
# A beneficiary's write-side snapshot, as the recorder stores it beside the
# events of the same save (see adapters/snapshots.py).
SnapshotOf = Callable[[Beneficiary], object]


class MonthAsText(Transcoding):
    type = Month
    name = "month"

    def encode(self, obj: Month) -> str:
        return str(obj)

    def decode(self, data: str) -> Month:
        return Month.parse(data)


class DateAsISO(Transcoding):
    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


@dataclass(frozen=True)
class RowProblem:
    """A rejected input row: its position in the input and the field at fault."""

    row: int
    field: str
    message: str


class Rejected(Exception):
    """The whole input is rejected; nothing was recorded."""

    def __init__(self, problems: Sequence[RowProblem]):
        super().__init__(f"{len(problems)} problem(s)")
        self.problems = list(problems)


@dataclass(frozen=True)
class RecordOutcome:
    rows: int
    recorded_events: int
    unchanged_rows: int
    # What the file changed, for the officer (see ``decisions_changes`` and
    # ``NoticeEffect``); keys as the command prints them.
    changes: dict = field(default_factory=dict)


class _Collected(ProcessingEvent):
    def collect_events(self, *objs, **kwargs) -> None:
        for obj in objs:
            if isinstance(obj, Aggregate):  # a plain class check: cheap
                self.events.extend(obj.collect_events())
                self.aggregates[obj.id] = obj
            elif obj is not None:
                super().collect_events(obj)
        self.saved_kwargs.update(kwargs)


class LedgerApp(Application):
    name = "Ledger"
    # People handled, and events written, at a time by the commands that
    # stream (payroll, agents' results, notices): their memory stays flat.
    CHUNK_PEOPLE = 1000

    def __init__(self, env: Mapping[str, str] | None = None, *, rules: RuleSet,
                 load_many: LoadMany | None = None, id_of: IdOf = beneficiary_id) -> None:
        super().__init__(env)
        self.rules = rules
        # How a citizen id names its aggregate: uuid5, or a keyed HMAC when
        # the store is encrypted (chosen by the composition root).
        self.id_of = id_of
        self._load_many = load_many or self._load_one_by_one
        self._snapshot_of: SnapshotOf | None = None
        # An observer of every save (see ``observed``): what an import
        # records, for its receipt, or, in a rehearsal, instead of recording.
        self._observer = None
        self._rehearse = False
        # Progress of the long commands: (label, total or None) -> a context
        # giving advance(count); the composition root shows it as a bar.
        self.progress: Callable[[str, int | None], ContextManager[Callable[[int], None]]] = \
            lambda label, total: nullcontext(lambda count: None)

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(MonthAsText())
        transcoder.register(DateAsISO())

    # --- loading ------------------------------------------------------------

    def save(self, *objs, **kwargs):
        # The library's save (eventsourcing 9.5.6, pinned), collecting the
        # aggregates' events without its runtime-protocol isinstance checks,
        # which took a third of a large save's time on Python 3.11.
        processing_event = _Collected()
        processing_event.collect_events(*objs, **kwargs)
        recordings = self._record(processing_event)
        self._take_snapshots(processing_event)
        self._notify(recordings)
        return recordings

    @contextmanager
    def observed(self, observer, *, rehearse: bool = False) -> Iterator[None]:
        """Within: every aggregate saved in chunks and its new events are
        shown to ``observer.seen(aggregate, events)``; once the chunks are
        done, ``observer.closing()`` gives aggregates saved last in the same
        transaction (raising there rolls everything back). With
        ``rehearse``, nothing is written: the command decides all it would
        record, the observer sees it, and the store is left as it was."""
        self._observer, self._rehearse = observer, rehearse
        try:
            yield
        finally:
            self._observer, self._rehearse = None, False

    def _observed_chunks(self, chunks: Iterable[Sequence[Aggregate | None]]) -> Iterator[Sequence]:
        observer = self._observer
        observer.begin()  # a command run again after a conflict starts its count again
        yield from chunks
        yield observer.closing()

    def save_in_chunks(self, chunks: Iterable[Sequence[Aggregate | None]]) -> int:
        """Save aggregates handed over a chunk at a time, all in one
        transaction: each chunk's events are encoded and written as it comes,
        then dropped, so a command over a whole province holds one chunk of
        people at a time. An exception raised by whatever makes the chunks
        (a refused row found late) rolls back everything. Returns the count
        of events recorded. (The library's after-save hooks, snapshots and
        recordings for followers, are not used by this application.)"""
        if self._observer is not None:
            chunks = self._observed_chunks(chunks)
        if self._rehearse:
            count = 0
            for chunk in chunks:
                for aggregate in chunk:
                    if aggregate is not None:
                        pending = aggregate.collect_events()
                        self._observer.seen(aggregate, pending)
                        count += len(pending)
            return count
        made = (self._stored_events(chunk) for chunk in chunks)
        insert_chunks = getattr(self.recorder, "insert_event_chunks", None)
        if insert_chunks is not None:  # the ledger's recorders (adapters/*_recorder.py)
            count = insert_chunks(made)
        else:  # any other recorder (the library's in-memory one, in tests): one insert
            events = [e for chunk_events, _ in made for e in chunk_events]
            self.recorder.insert_events(events)
            count = len(events)
        # The command's own events: an observer's closing ones (a receipt) are not counted.
        return count - (self._observer.closing_events if self._observer is not None else 0)

    def _stored_events(self, aggregates: Sequence[Aggregate | None]) -> tuple[list, list]:
        """A chunk's stored events, and the snapshots of the beneficiaries
        they bring up to date (written in the same transaction)."""
        to_stored = self.mapper.to_stored_event
        events, snapshots = [], []
        for aggregate in aggregates:
            if aggregate is None:
                continue
            pending = aggregate.collect_events()
            if self._observer is not None:
                self._observer.seen(aggregate, pending)
            events.extend(to_stored(e) for e in pending)
            if pending and self._snapshot_of is not None and isinstance(aggregate, Beneficiary):
                snapshots.append(self._snapshot_of(aggregate))
        return events, snapshots

    def use_loader(self, load_many: LoadMany, load_all: LoadAll | None = None,
                   snapshot_of: SnapshotOf | None = None) -> None:
        """Install faster ways to load many aggregates, from the event store
        and its write-side snapshots (see adapters/snapshots.py)."""
        self._load_many = load_many
        if load_all is not None:
            self._load_all = load_all
        if snapshot_of is not None:
            self._snapshot_of = snapshot_of

    def _load_all(self) -> Iterable[Beneficiary]:
        """Every beneficiary, one by one from the notification log (the
        stores the ledger runs on install a batched loader instead)."""
        topic = get_topic(Beneficiary.Registered)
        start = 0
        while True:
            found = self.recorder.select_notifications(start=start, limit=1000, topics=[topic],
                                                       inclusive_of_start=False)
            if not found:
                return
            yield from self._load_one_by_one([n.originator_id for n in found]).values()
            start = found[-1].id

    def seal_existing_history(self, actor: str, events_sealed: int, first_position: int, last_position: int,
                              seals_rechained: int, previous_head: tuple[int, str]) -> None:
        """Record who sealed the history stored before the hash chain, in the
        transaction that seals the whole log anew (the recorder's
        ``insert_events_resealing``): the record and the seals go in together
        or not at all."""
        try:
            seals = self.repository.get(HISTORY_SEALS_ID)
        except AggregateNotFoundError:
            seals = HistorySeals.open()
        seals.record_sealing(actor, events_sealed, first_position, last_position, seals_rechained, previous_head)
        stored = [self.mapper.to_stored_event(e) for e in seals.collect_events()]
        self.recorder.insert_events_resealing(stored)

    def calendar(self) -> PayrollCalendar | None:
        try:
            return self.repository.get(CALENDAR_ID)
        except AggregateNotFoundError:
            return None

    def _load_one_by_one(self, ids: Sequence[UUID]) -> dict[UUID, Beneficiary]:
        found = {}
        for aggregate_id in ids:
            try:
                found[aggregate_id] = self.repository.get(aggregate_id)
            except AggregateNotFoundError:
                pass
        return found

    def beneficiaries(self, citizen_ids: Iterable[str]) -> dict[str, Beneficiary]:
        """The registered ones among the given citizens, by citizen id."""
        ids = {self.id_of(c): c for c in citizen_ids}
        loaded = self._load_many(list(ids))
        return {ids[agg_id]: agg for agg_id, agg in loaded.items()}

    def beneficiary(self, citizen_id: str) -> Beneficiary | None:
        return self.beneficiaries([citizen_id]).get(citizen_id)

    # --- commands -----------------------------------------------------------

    def record_decisions(self, decisions: Sequence[Decision], actor: str) -> RecordOutcome:
        """Record a file's decisions, in file order, all or nothing.

        Raises ``Rejected`` listing every row that cannot be recorded (row =
        index in ``decisions``); then nothing is saved."""
        by_kind: dict[str, int] = {}
        consequences = Consequences()

        def register(decision: Decision) -> Beneficiary:
            if decision.kind != "register":
                raise Refused("citizen_id", f"{decision.citizen_id} is not registered: "
                                            f"a {decision.kind} decision needs a registration first")
            person = Beneficiary.register(decision, actor, self.id_of)
            by_kind["register"] = by_kind.get("register", 0) + 1
            return person

        def record(person: Beneficiary, decision: Decision) -> bool:
            if person.already_has(decision):
                return False
            start = len(person.pending_events)
            person.decide(decision, actor)
            # A back-dated decision may leave cash with an agent for months
            # no longer due as issued: withdrawn at once.
            person.correct_payouts(self.rules, decision.decision_no, actor, on=decision.signed_on)
            by_kind[decision.kind] = by_kind.get(decision.kind, 0) + 1
            consequences.add(person.pending_events[start:])
            return True

        applied = ChunkedApply(self, decisions, lambda d: d.citizen_id, record, create=register)
        recorded = self.save_in_chunks(applied.chunks())
        changes = dict(decisions_by_kind={kind: by_kind[kind] for kind in sorted(by_kind)},
                       lines_cancelled=len(consequences.lines_cancelled),
                       cancelled_vnd=consequences.cancelled_vnd,
                       overpayment_change_vnd=consequences.overpayment_delta_vnd)
        return RecordOutcome(len(decisions), recorded, applied.unchanged, changes)

    # --- payroll -------------------------------------------------------------------

    def run_payroll(self, month: Month, actor: str) -> PayrollOutcome:
        """Issue the month's payroll: one line per person owed anything up to
        the month, in one transaction with the calendar entry (prepared and
        released by one person). A month that was run before issues nothing new."""
        calendar = self.calendar() or PayrollCalendar.open(actor)
        if calendar.has_run(month):
            return PayrollOutcome(month, calendar.months[str(month)], issued_now=False)
        calendar.check_next(month)
        plan = PayrollPlan(self, month, actor)

        def chunks() -> Iterator[list]:
            yield from plan.chunks()
            calendar.issue(month, plan.agents, self.rules, actor)
            yield [calendar]

        self.save_in_chunks(chunks())
        return PayrollOutcome(month, plan.agents, issued_now=True)

    def prepare_payroll(self, month: Month, actor: str) -> PreparationOutcome:
        """Plan the month's payroll and record it for a second person to
        release: the lines, each agent's totals and its list's digest.
        Nothing is issued. Unchanged since the latest preparation: nothing
        recorded; changed: a new preparation supersedes it."""
        calendar = self.calendar() or PayrollCalendar.open(actor)
        if calendar.has_run(month):
            return PreparationOutcome(month, calendar.months[str(month)], 0, calendar.prepared_by[str(month)],
                                      prepared_now=False, released=True)
        calendar.check_next(month)
        plan = PayrollPlan(self, month, actor)
        for _ in plan.chunks():
            pass  # the people's issue events are planned, then dropped: nothing goes to the agents
        recorded = calendar.prepare(month, plan.agents, self.rules, actor)
        if recorded:
            self.save(calendar)
        prepared = calendar.prepared[str(month)]
        return PreparationOutcome(month, prepared["agents"], prepared["number"], prepared["actor"],
                                  prepared_now=recorded, released=False)

    def release_payroll(self, month: Month, actor: str, four_eyes: bool,
                        preparation: int | None = None) -> PayrollOutcome:
        """Issue the payroll as prepared: planned again from the events and
        issued only if it is exactly the preparation (by another person
        when ``four_eyes``). Released before: nothing new."""
        calendar = self.calendar()
        if calendar is None:
            raise NotPrepared(f"the payroll of {month} has not been prepared: prepare it first")
        if calendar.has_run(month):
            return PayrollOutcome(month, calendar.months[str(month)], issued_now=False)
        calendar.check_release(month, actor, four_eyes, preparation)  # before the long planning
        plan = PayrollPlan(self, month, actor)

        def chunks() -> Iterator[list]:
            yield from plan.chunks()
            # Not the preparation: raises, and the whole save is rolled back.
            calendar.release(month, plan.agents, self.rules, actor, four_eyes, preparation)
            yield [calendar]

        self.save_in_chunks(chunks())
        return PayrollOutcome(month, plan.agents, issued_now=True)

    def record_agent_results(self, results: Sequence[AgentResult], actor: str, today: date,
                             reports: Sequence[AgentReport] = ()) -> ResultsOutcome:
        """Record a post office's or bank's results (and its monthly report),
        all or nothing; then suspend whoever reached the unclaimed threshold,
        in the same save."""
        calendar = None
        if reports:
            calendar = self.calendar()
            if calendar is None:
                raise Rejected([RowProblem(-1, "month", "no payroll has been run: there is nothing to report on")])
            for report in reports:
                try:
                    calendar.file_report(report.agent_code, report.month, report.figures(),
                                         report.document, actor)
                except PayrollOutOfOrder as exc:
                    raise Rejected([RowProblem(-1, "month", str(exc))]) from None
        suspended: list[str] = []
        flagged: list[tuple[str, str]] = []

        def settle(person: Beneficiary) -> None:
            # A payment after a death or a lowering decision is an overpayment
            # at once; with the registration alone nothing can be overpaid.
            if person.facts.amended or person.state.book.overpaid_recorded_vnd:
                person.correct_payouts(self.rules, results[0].document, actor, on=today)
            citizen = person.facts.citizen_id
            if person.suspend_if_unclaimed(self.rules, today, actor):
                suspended.append(citizen)
            flagged.extend((citizen, e.line_id) for e in person.pending_events
                           if isinstance(e, Beneficiary.PayoutPaid) and e.flags)

        applied = ChunkedApply(
            self, results, lambda r: citizen_of_line(r.line_id) or "",
            lambda person, r: person.record_result(r, actor), settle=settle,
            unknown=lambda r: Refused("line_id", f"line {r.line_id} is not in payroll {r.payroll_id}"))
        self.save_in_chunks(applied.chunks(last=[calendar]))
        return ResultsOutcome(len(results), len(results) - applied.unchanged, applied.unchanged,
                              sorted(suspended), sorted(flagged))

    def close_month(self, month: Month, settled: dict, open_variances: list[str],
                    acceptances: dict[str, str], actor: str, four_eyes: bool = False,
                    chain_head: tuple[int, str] = (0, ""), books_from: int = 0) -> list[str]:
        """Close a month on the calendar (see PayrollCalendar.close); returns
        the variances still unexplained, in which case nothing was recorded."""
        calendar = self.calendar()
        if calendar is None:
            raise PayrollOutOfOrder(f"no payroll was run for {month}")
        missing = calendar.close(month, settled, open_variances, acceptances, actor, four_eyes, chain_head,
                                 books_from)
        if not missing:
            self.save(calendar)
        return missing

    # --- deaths and recoveries -------------------------------------------------------

    def _record_each(self, items: Sequence, citizen_of, record) -> RecordOutcome:
        applied = ChunkedApply(self, items, citizen_of, record)
        recorded = self.save_in_chunks(applied.chunks())
        return RecordOutcome(len(items), recorded, applied.unchanged)

    def record_deaths(self, notices: Sequence[DeathNotice], actor: str) -> RecordOutcome:
        """Record death notices; the outcome says, notice by notice, what
        each did (``changes["notices"]``, in file order)."""
        effects: dict[int, dict] = {}

        def record(person: Beneficiary, notice: DeathNotice) -> bool:
            start = len(person.pending_events)
            known = person.facts.death
            recorded = person.notify_death(notice, self.rules, actor)
            consequences = Consequences()
            consequences.add(person.pending_events[start:])
            if not recorded:
                outcome = "recorded before"
            elif known is not None and not notice.corrects:
                outcome = f"confirms the death recorded from notice {known.notice_id}"
            elif notice.corrects:
                outcome = f"corrects notice {notice.corrects}"
            else:
                outcome = "death recorded"
            effects[id(notice)] = dict(notice_id=notice.notice_id, citizen_id=notice.citizen_id,
                                       date_of_death=notice.date_of_death.isoformat(), outcome=outcome,
                                       **consequences.as_dict())
            return recorded

        outcome = self._record_each(notices, lambda n: n.citizen_id, record)
        return replace(outcome, changes=dict(notices=[effects[id(n)] for n in notices if id(n) in effects]))

    def record_confirmations(self, confirmations: Sequence[ReceiptConfirmation], actor: str) -> RecordOutcome:
        """The communes' confirmations that proxy-account payments reached the person."""
        return self._record_each(confirmations, lambda c: c.citizen_id,
                                 lambda person, c: person.confirm_receipt(c, actor))

    def record_recoveries(self, recoveries: Sequence[tuple[str, Recovery]], actor: str,
                          four_eyes: bool = False) -> RecordOutcome:
        """Recoveries as (citizen id, recovery) pairs. With ``four_eyes`` a
        write-off is recorded as proposed: another person approves it."""
        return self._record_each(recoveries, lambda r: r[0],
                                 lambda person, r: person.record_recovery(r[1], self.rules, actor, four_eyes))

    def decide_write_off(self, citizen_id: str, receipt_no: str, actor: str, *, approve: bool, on: date,
                         reason: str = "", four_eyes: bool = True) -> bool:
        """Approve (the money moves) or reject a proposed write-off; False if
        it was decided so before. Raises Refused (SamePersonRefused for the
        person who proposed it)."""
        person = self.beneficiary(citizen_id)
        if person is None:
            raise Refused("citizen_id", f"{citizen_id} is not registered")
        if approve:
            changed = person.approve_write_off(receipt_no, self.rules, actor, on, four_eyes)
        else:
            changed = person.reject_write_off(receipt_no, actor, reason, four_eyes)
        if changed:
            self.save(person)
        return changed


@dataclass(frozen=True)
class AgentReport:
    """An agent's own monthly summary (agent-report.csv)."""

    agent_code: str
    month: Month
    advance_received: int
    paid_total: int
    unpaid_total: int
    fee_claimed: int
    balance_remaining: int
    document: str

    def figures(self) -> dict:
        return dict(advance_received=self.advance_received, paid_total=self.paid_total,
                    unpaid_total=self.unpaid_total, fee_claimed=self.fee_claimed,
                    balance_remaining=self.balance_remaining)


@dataclass(frozen=True)
class PayrollOutcome:
    month: Month
    agents: dict
    issued_now: bool

    @property
    def lines_count(self) -> int:
        return sum(len(a["lines"]) for a in self.agents.values())

    @property
    def amount_vnd(self) -> int:
        return sum(a["advance_vnd"] for a in self.agents.values())


@dataclass(frozen=True)
class PreparationOutcome:
    month: Month
    agents: dict
    number: int  # the preparation in force (0: released before preparations were kept)
    prepared_by: str
    prepared_now: bool
    released: bool

    @property
    def lines_count(self) -> int:
        return sum(len(a["lines"]) for a in self.agents.values())

    @property
    def amount_vnd(self) -> int:
        return sum(a["advance_vnd"] for a in self.agents.values())


class PayrollPlan:
    """A month's payroll planned person by person from the event store:
    each person's line is issued on their aggregate (a release saves them,
    a preparation drops them), and ``agents`` gathers each agent's list,
    totals and digest once ``chunks()`` is exhausted."""

    def __init__(self, app: LedgerApp, month: Month, actor: str) -> None:
        self.app, self.month, self.actor = app, month, actor
        self.agents: dict[str, dict] = {}
        self._entries: dict[str, list[str]] = {}  # agent code -> its list's entries, for the digest

    def _agent(self, code: str, channel: str) -> dict:
        self._entries.setdefault(code, [])
        return self.agents.setdefault(code, {"channel": channel, "lines": [], "carried": [],
                                             "advance_vnd": 0, "carried_vnd": 0,
                                             "arrears_lines": 0, "arrears_vnd": 0})

    def chunks(self) -> Iterator[list]:
        with self.app.progress("payroll", None) as advance:
            yield from self._planned(advance)

    def _planned(self, advance) -> Iterator[list]:
        app, month, actor, entries = self.app, self.month, self.actor, self._entries
        touched: list[Beneficiary] = []
        for person in app._load_all():
            advance(1)
            state = person.state
            for planned in (plan_line(state, app.rules, month), plan_funeral(state, month)):
                if planned is None:
                    continue
                person.issue(month, planned, app.rules.id, actor)
                line = person.state.book.lines[-1]
                entry = self._agent(line.agent_code, line.channel)
                entry["lines"].append(line.line_id)
                entry["advance_vnd"] += line.amount_vnd
                if planned.kind != FUNERAL and any(m < month for m in planned.months):
                    # Back pay (truy lĩnh) in the line: the months before this one.
                    entry["arrears_lines"] += 1
                    entry["arrears_vnd"] += sum(a for m, a in zip(planned.months, planned.amounts) if m < month)
                issued = person.pending_events[-1]
                entries[line.agent_code].append(list_entry(
                    line.line_id, line.payroll_id, line.months, line.amount_vnd, carried=False,
                    citizen_id=issued.citizen_id, full_name=issued.full_name,
                    commune_code=issued.commune_code, receiver=issued.receiver,
                    bank_account=issued.bank_account, home_delivery=issued.home_delivery))
                if not touched or touched[-1] is not person:
                    touched.append(person)
            if state.facts.status_at(month) == f.SUSPENDED or population.is_held(state):
                # Cash held for a suspended person, or one the population
                # database reports dead, is not handed out.
                continue
            for line in state.book.open_lines():
                if line.channel == "cash" and line.payroll_month < month:
                    entry = self._agent(line.agent_code, line.channel)
                    entry["carried"].append(line.line_id)
                    entry["carried_vnd"] += line.amount_vnd
                    entries[line.agent_code].append(list_entry(
                        line.line_id, line.payroll_id, line.months, line.amount_vnd, carried=True))
            if len(touched) >= app.CHUNK_PEOPLE:
                yield touched
                touched = []
        for code, entry in self.agents.items():
            entry["lines"].sort()
            entry["carried"].sort()
            entry["digest"] = list_digest(entries[code])
        if touched:
            yield touched


@dataclass(frozen=True)
class ResultsOutcome:
    rows: int
    recorded: int
    unchanged: int
    suspended: list[str]  # citizen ids suspended for unclaimed months
    flagged: list[tuple[str, str]]  # (citizen id, line id) paid after the date of death



class ChunkedApply:
    """A file's items applied to their people a chunk of people at a time,
    for ``LedgerApp.save_in_chunks``. Each chunk loads its people, applies
    their items (in file order for each person), settles them and hands the
    changed ones over. Every refused item is kept; after the last chunk they
    are raised together, sorted by row, as ``Rejected``, which rolls back
    whatever the earlier chunks wrote."""

    def __init__(self, app: LedgerApp, items: Sequence, citizen_of, record, *, settle=None,
                 unknown=None, create=None) -> None:
        """``record(person, item)`` applies an item to a known person and
        says whether it changed anything; an item for someone not known is
        refused (``unknown(item)`` says why), unless ``create(item)`` makes
        the person from it (a registration)."""
        self.app, self.items, self.record = app, items, record
        self.settle, self.unknown, self.create = settle, unknown, create
        self.rows_of: dict[str, list[int]] = {}
        for row, item in enumerate(items):
            self.rows_of.setdefault(citizen_of(item), []).append(row)
        self.unchanged = 0

    def chunks(self, last: Sequence = ()) -> Iterator[list]:
        problems: list[RowProblem] = []
        citizens = list(self.rows_of)
        size = self.app.CHUNK_PEOPLE
        with self.app.progress("people", len(citizens)) as advance:
            for start in range(0, len(citizens), size):
                batch = citizens[start:start + size]
                people = self.app.beneficiaries(batch)
                changed = []
                for citizen in batch:
                    person = self._apply(people.get(citizen), citizen, problems)
                    if person is not None:
                        changed.append(person)
                advance(len(batch))
                if not problems:
                    yield changed
        if problems:
            raise Rejected(sorted(problems, key=lambda p: p.row))
        yield list(last)

    def _apply(self, person: Beneficiary | None, citizen: str,
               problems: list[RowProblem]) -> Beneficiary | None:
        """The person changed by their items, or None if nothing changed."""
        touched = False
        for row in self.rows_of[citizen]:
            item = self.items[row]
            try:
                if person is None:
                    if self.create is None:
                        raise (self.unknown(item) if self.unknown else
                               Refused("citizen_id", f"{citizen} is not registered"))
                    person = self.create(item)
                    touched = True
                elif self.record(person, item):
                    touched = True
                else:
                    self.unchanged += 1
            except Refused as exc:
                problems.append(RowProblem(row, exc.field, exc.message))
        if not touched:
            return None
        if self.settle is not None:
            self.settle(person)
        return person
