"""The monthly payroll: what each person is owed up to a payroll month, as
one line (this month plus any arrears), and the calendar of payroll runs.

Pure planning: the schedule as known now, minus what was issued and not
withdrawn. Months still held unpaid by a post office count as issued, so
they are carried forward, never issued twice."""
from __future__ import annotations

import hashlib

from dataclasses import dataclass
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate

from . import facts as f
from .clawback import funeral_to_issue_vnd
from .entitlement import segments
from .months import Month, month_range
from .payouts import FUNERAL
from .rules import RuleSet
from .settlement import match_acceptances
from .state import BeneficiaryState

# People who get no new line while in one of these statuses (domain.md:
# suspended, terminated, deceased and relocated-out people get nothing).
NOT_PAID = (f.SUSPENDED, f.TERMINATED, f.RELOCATED_OUT, f.DECEASED)


@dataclass(frozen=True, slots=True)
class PlannedLine:
    kind: str  # allowance (includes the payroll month) or arrears
    months: tuple[Month, ...]
    amounts: tuple[int, ...]

    @property
    def amount_vnd(self) -> int:
        return sum(self.amounts)


def payable_by_month(state: BeneficiaryState, rules: RuleSet, last: Month) -> dict[Month, int]:
    """What may be paid for each month from the first through ``last``
    (suspended months are held: nothing payable until a resumption)."""
    payable = {}
    for run in segments(state.facts, rules):
        if run.first > last:
            break
        held = run.status == f.SUSPENDED
        for month in month_range(run.first, min(run.last or last, last)):
            payable[month] = 0 if held else run.amount_vnd
    return payable


def owed_months(state: BeneficiaryState, rules: RuleSet, last: Month) -> list[tuple[Month, int]]:
    """Months up to ``last`` where the payable amount exceeds what was issued
    and not withdrawn, with the difference (arrears and the current month)."""
    net = state.book.net_issued_by_month()
    owed = []
    for month, payable in sorted(payable_by_month(state, rules, last).items()):
        gap = payable - net.get(month, 0)
        if gap > 0:
            owed.append((month, gap))
    return owed


def plan_line(state: BeneficiaryState, rules: RuleSet, month: Month) -> PlannedLine | None:
    """The line to issue for a person in the payroll of ``month``, if any."""
    facts = state.facts
    if facts.status_at(month) in NOT_PAID or facts.in_transit(month) or state.book.holds:
        return None
    owed = owed_months(state, rules, month)
    if not owed:
        return None
    months = tuple(m for m, _ in owed)
    kind = "allowance" if month in months else "arrears"
    return PlannedLine(kind, months, tuple(a for _, a in owed))


def plan_funeral(state: BeneficiaryState, month: Month) -> PlannedLine | None:
    """Funeral support granted and not yet issued (less any offset)."""
    amount = funeral_to_issue_vnd(state)
    if not amount or state.book.funeral is None:
        return None
    return PlannedLine(FUNERAL, (Month.containing(state.book.funeral.date_of_death),), (amount,))


def line_id(month: Month, citizen_id: str, kind: str = "allowance") -> str:
    """Unique across all payrolls: one allowance line per person and month."""
    suffix = "-F" if kind == "funeral_support" else ""
    return f"{month}-{citizen_id}{suffix}"


def citizen_of_line(line: str) -> str | None:
    """The citizen a line id names (lines are "YYYY-MM-<citizen id>[-F]")."""
    parts = line.split("-")
    if len(parts) in (3, 4) and len(parts[2]) == 12 and parts[2].isdigit():
        return parts[2]
    return None


def list_entry(line_id: str, payroll_id: str, months, amount_vnd: int, *, carried: bool,
               citizen_id: str = "", full_name: str = "", commune_code: str = "", receiver: str = "",
               bank_account: str = "", home_delivery: bool = False) -> str:
    """One line of an agent's list as the payroll recorded it, for the
    list's digest: who, what for, how much and where the money goes. A
    carried line is named by its key and amount (it was listed in full when
    it was issued)."""
    months_text = ";".join(str(m) for m in months)
    if carried:
        return f"carried|{line_id}|{payroll_id}|{months_text}|{amount_vnd}"
    return (f"new|{line_id}|{payroll_id}|{months_text}|{amount_vnd}|{citizen_id}|{full_name}|"
            f"{commune_code}|{receiver}|{bank_account}|{int(bool(home_delivery))}")


def list_digest(entries) -> str:
    """SHA-256 of an agent's list entries in line-id order: the files written
    from the payout view later must give the same, or the view was altered."""
    digest = hashlib.sha256()
    for entry in sorted(entries):
        digest.update(entry.encode())
        digest.update(b"\n")
    return digest.hexdigest()


def payroll_id(agent_code: str, month: Month) -> str:
    return f"{agent_code}/{month}"


def prepared_digest(agents: dict) -> str:
    """One SHA-256 over a month's agents: each list's digest and totals. The
    release must plan exactly this again, or the data changed since."""
    digest = hashlib.sha256()
    for code, run in sorted(agents.items()):
        digest.update(f"{code}|{run['channel']}|{len(run['lines'])}|{run['advance_vnd']}|"
                      f"{len(run['carried'])}|{run['carried_vnd']}|{run.get('digest', '')}\n".encode())
    return digest.hexdigest()


# --- the calendar of payroll runs ------------------------------------------------

CALENDAR_ID = uuid5(NAMESPACE_URL, "urn:allowance-ledger:payroll-calendar")


class PayrollOutOfOrder(ValueError):
    pass


class SamePerson(PayrollOutOfOrder):
    """Four eyes: the person who prepared a month's payroll may neither
    release it nor close the month."""


class NotPrepared(PayrollOutOfOrder):
    """A release with no preparation, or not the latest one."""


class PreparationStale(PayrollOutOfOrder):
    """The payroll planned at release is not the one prepared: the data
    changed since (a decision, a result); it must be prepared again."""


class PayrollCalendar(Aggregate):
    """One per ledger: the monthly cycle, in month order. Every payroll run,
    the agents' monthly reports, accepted variances and month closes. Being a
    single aggregate, two runs (or closes) at once conflict on its version:
    one of them is refused, nothing is done twice."""

    @staticmethod
    def create_id() -> UUID:
        return CALENDAR_ID

    def __init__(self) -> None:
        self.months: dict[str, dict] = {}  # "YYYY-MM" -> per-agent summary
        self.issued_at: dict[str, object] = {}  # "YYYY-MM" -> when the payroll was recorded
        self.issued_by: dict[str, str] = {}  # "YYYY-MM" -> who released (issued) the payroll
        self.prepared_by: dict[str, str] = {}  # "YYYY-MM" -> who prepared the payroll released
        # "YYYY-MM" -> the latest preparation: {"agents", "digest", "number", "actor", "at"}
        self.prepared: dict[str, dict] = {}
        self.reports: dict[str, dict] = {}  # "AGENT/YYYY-MM" -> the agent's own figures
        self.accepted: dict[str, dict] = {}  # "YYYY-MM" -> {variance key: reason}
        self.accepted_by: dict[str, dict] = {}  # "YYYY-MM" -> {variance key: actor}
        self.closed: dict[str, dict] = {}  # "YYYY-MM" -> per-agent settled figures
        self.seals: dict[str, dict] = {}  # "YYYY-MM" -> the hash chain's head the month was closed on
        # "YYYY-MM" -> the position the next month's close reads the events
        # from (ledger/settlement_book.py)
        self.books_from: dict[str, int] = {}

    class Opened(Aggregate.Created):
        actor: str

    class MonthIssued(Aggregate.Event):
        month: Month
        # agent code -> {"channel", "lines", "carried", "advance_vnd", "carried_vnd",
        # "digest" (of the list's entries, see list_digest; absent before it was kept)}
        agents: dict
        rules_id: str
        rules_fingerprint: str
        actor: str  # who released it
        # Who prepared it, and which preparation (months issued before the
        # two steps were kept: "" and 0, prepared by whoever issued them).
        prepared_by: str = ""
        preparation: int = 0

        def apply(self, calendar: PayrollCalendar) -> None:
            calendar.months[str(self.month)] = self.agents
            calendar.issued_at[str(self.month)] = self.timestamp
            calendar.issued_by[str(self.month)] = self.actor
            calendar.prepared_by[str(self.month)] = self.prepared_by or self.actor

    class PayrollPrepared(Aggregate.Event):
        """A month's payroll planned and kept for a second person to
        release; nothing goes to the agents yet. A later preparation with
        other figures supersedes it (``number`` counts them)."""

        month: Month
        agents: dict  # as MonthIssued's, with "arrears_lines" and "arrears_vnd"
        digest: str  # prepared_digest(agents)
        number: int
        supersedes: str  # the digest of the preparation it replaces ("" for the first)
        rules_id: str
        rules_fingerprint: str
        actor: str

        def apply(self, calendar: PayrollCalendar) -> None:
            calendar.prepared[str(self.month)] = dict(agents=self.agents, digest=self.digest, number=self.number,
                                                      actor=self.actor, at=self.timestamp)

    class AgentReportFiled(Aggregate.Event):
        agent_code: str
        month: Month
        advance_received: int
        paid_total: int
        unpaid_total: int
        fee_claimed: int
        balance_remaining: int
        document: str
        actor: str

        def apply(self, calendar: PayrollCalendar) -> None:
            calendar.reports[f"{self.agent_code}/{self.month}"] = dict(
                advance_received=self.advance_received, paid_total=self.paid_total,
                unpaid_total=self.unpaid_total, fee_claimed=self.fee_claimed,
                balance_remaining=self.balance_remaining, document=self.document)

    class VarianceAccepted(Aggregate.Event):
        month: Month
        key: str  # agent/kind/line id
        reason: str
        actor: str

        def apply(self, calendar: PayrollCalendar) -> None:
            calendar.accepted.setdefault(str(self.month), {})[self.key] = self.reason
            calendar.accepted_by.setdefault(str(self.month), {})[self.key] = self.actor

    class MonthClosed(Aggregate.Event):
        month: Month
        agents: dict  # agent code -> settled figures, fee included
        actor: str
        # The hash chain's head when the month was closed: the month's seal,
        # printed on its signed report. (Months closed before it was kept: 0, "".)
        chain_position: int = 0
        chain_hash: str = ""
        # The first event the next month's close must read: its figures are
        # folded from the events from there (ledger/settlement_book.py).
        # Months closed before it was kept: 0 (the next close reads all).
        books_from: int = 0

        def apply(self, calendar: PayrollCalendar) -> None:
            calendar.closed[str(self.month)] = self.agents
            if self.chain_hash:
                calendar.seals[str(self.month)] = {"position": self.chain_position, "hash": self.chain_hash}
            if self.books_from:
                calendar.books_from[str(self.month)] = self.books_from

    @classmethod
    def open(cls, actor: str) -> PayrollCalendar:
        return cls._create(cls.Opened, id=CALENDAR_ID, actor=actor)

    @property
    def last_month(self) -> Month | None:
        return max((Month.parse(m) for m in self.months), default=None)

    def has_run(self, month: Month) -> bool:
        return str(month) in self.months

    def check_next(self, month: Month) -> None:
        last = self.last_month
        if last is not None and month != last + 1:
            raise PayrollOutOfOrder(
                f"payroll months run in order: the last was {last}, so the next is {last + 1}, not {month}")

    def issue(self, month: Month, agents: dict, rules: RuleSet, actor: str) -> None:
        """Prepare and release at once, by one person (four eyes off)."""
        self.prepare(month, agents, rules, actor)
        self.release(month, agents, rules, actor, four_eyes=False)

    def prepare(self, month: Month, agents: dict, rules: RuleSet, actor: str) -> bool:
        """Record the month's planned payroll; False if the latest
        preparation has the same figures (then nothing is recorded)."""
        if self.has_run(month):
            raise PayrollOutOfOrder(f"the payroll of {month} was released: it cannot be prepared again")
        self.check_next(month)
        digest = prepared_digest(agents)
        earlier = self.prepared.get(str(month))
        if earlier is not None and earlier["digest"] == digest:
            return False
        self.trigger_event(self.PayrollPrepared, month=month, agents=agents, digest=digest,
                           number=earlier["number"] + 1 if earlier else 1,
                           supersedes=earlier["digest"] if earlier else "", rules_id=rules.id,
                           rules_fingerprint=rules.fingerprint(), actor=actor)
        return True

    def check_release(self, month: Month, actor: str, four_eyes: bool, preparation: int | None = None) -> dict:
        """The preparation a release of ``month`` by ``actor`` would issue
        (checked before the payroll is planned again)."""
        prepared = self.prepared.get(str(month))
        if prepared is None:
            raise NotPrepared(f"the payroll of {month} has not been prepared: prepare it first")
        if preparation is not None and preparation != prepared["number"]:
            raise NotPrepared(f"preparation {preparation} of {month} was superseded by preparation "
                              f"{prepared['number']} (by {prepared['actor']}): look at it again before releasing")
        if four_eyes and prepared["actor"] == actor:
            raise SamePerson(f"{actor} prepared the payroll of {month}: another person must release it (four eyes)")
        self.check_next(month)
        return prepared

    def release(self, month: Month, agents: dict, rules: RuleSet, actor: str, four_eyes: bool,
                preparation: int | None = None) -> None:
        """Issue the prepared payroll: ``agents`` is the payroll planned
        again now, which must be the one prepared."""
        prepared = self.check_release(month, actor, four_eyes, preparation)
        if prepared_digest(agents) != prepared["digest"]:
            raise PreparationStale(
                f"the payroll of {month} is no longer what preparation {prepared['number']} showed (decisions "
                "or results were recorded since): it must be prepared again, then released")
        self.trigger_event(self.MonthIssued, month=month, agents=agents, rules_id=rules.id,
                           rules_fingerprint=rules.fingerprint(), actor=actor, prepared_by=prepared["actor"],
                           preparation=prepared["number"])

    # --- the agents' reports and the month close ----------------------------------

    def file_report(self, agent_code: str, month: Month, figures: dict, document: str, actor: str) -> bool:
        """Record an agent's monthly report; False if filed before exactly so.
        A changed report is filed again (the latest one counts)."""
        if str(month) in self.closed:
            raise PayrollOutOfOrder(f"{month} is closed: its reports are final")
        earlier = self.reports.get(f"{agent_code}/{month}")
        if earlier is not None and {k: earlier[k] for k in figures} == figures:
            return False
        self.trigger_event(self.AgentReportFiled, agent_code=agent_code, month=month, document=document,
                           actor=actor, **figures)
        return True

    def close(self, month: Month, settled: dict, open_variances: list[str],
              acceptances: dict[str, str], actor: str, four_eyes: bool = False,
              chain_head: tuple[int, str] = (0, ""), books_from: int = 0) -> list[str]:
        """Close a month once every variance is explained. Returns the
        variances still unexplained (then nothing is recorded). With
        ``four_eyes``, the person who prepared the month's payroll may not.
        ``settled`` and ``open_variances`` come from the events (never a
        view); ``books_from`` is where the next close reads them from."""
        if not self.has_run(month):
            raise PayrollOutOfOrder(f"no payroll was run for {month}")
        if str(month) in self.closed:
            return []
        if four_eyes and self.prepared_by.get(str(month)) == actor:
            raise SamePerson(f"{actor} prepared the payroll for {month}: another person must close it (four eyes)")
        earlier = [m for m in self.months if m < str(month) and m not in self.closed]
        if earlier:
            raise PayrollOutOfOrder(f"months close in order: close {min(earlier)} first")
        acceptances = match_acceptances(month, open_variances, acceptances)
        accepted = self.accepted.get(str(month), {})
        missing = [v for v in open_variances if v not in accepted and not acceptances.get(v)]
        if missing:
            return missing
        for key in open_variances:
            if key not in accepted:
                self.trigger_event(self.VarianceAccepted, month=month, key=key,
                                   reason=acceptances[key], actor=actor)
        self.trigger_event(self.MonthClosed, month=month, agents=settled, actor=actor,
                           chain_position=chain_head[0], chain_hash=chain_head[1], books_from=books_from)
        return []

    def acceptances(self, month: Month) -> dict[str, dict]:
        """The variances accepted for a month: key -> {"reason", "actor"}."""
        by = self.accepted_by.get(str(month), {})
        return {key: {"reason": reason, "actor": by.get(key, "")}
                for key, reason in self.accepted.get(str(month), {}).items()}

    def is_closed(self, month: Month) -> bool:
        return str(month) in self.closed
