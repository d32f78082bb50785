"""A model-based test of the whole ledger: random sequences of decisions,
deaths, payrolls, agents' results, recoveries, month closes and replays,
driven through the application the `ledger` command uses, checked after
every step against a small reference model kept in a few dicts.

Every call into the application goes through ``LedgerDriver`` below, so
that a change of the composition root means editing that class only.
"""
from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, event, settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from adapters.errors import CommandRefused, NotPermitted
from ledger import citizen_id as cid
from ledger.application import Rejected
from ledger.decisions import DeathNotice, Decision, ReceiptConfirmation
from ledger.months import Month, month_range
from ledger.payouts import AgentResult, PayLine, Recovery
from ledger.payroll import PreparationStale, SamePerson

# --- the driver: the only code that knows how the application is reached -----------


class LedgerDriver:
    """The ledger as the `ledger` command reaches it (the runtime, its
    commands and queries), with domain values in and plain values out."""

    ACTOR = "model-officer"
    APPROVER = "model-approver"  # releases what the officer prepared, approves write-offs (four eyes)

    def __init__(self, url: str, work: Path):
        from adapters.bootstrap import build_runtime
        from adapters.commands import Commands
        from adapters.queries import Queries

        self.url, self.work = url, work
        self.runtime = build_runtime(url)
        self.app = self.runtime.app
        self.queries = Queries(self.runtime)
        self.commands = Commands(self.runtime, self.queries)

    def close(self) -> None:
        self.runtime.close()

    def set_today(self, day: date) -> None:
        os.environ["LEDGER_TODAY"] = day.isoformat()

    def _command(self, run):
        outcome = self.commands.command(run)
        self.runtime.catch_up(show_progress=False)
        return outcome

    # commands (each raises ledger.application.Rejected when refused, recording nothing)

    def record_decisions(self, decisions: list[Decision]) -> None:
        self._command(lambda: self.app.record_decisions(decisions, self.ACTOR))

    def record_deaths(self, notices: list[DeathNotice]) -> None:
        self._command(lambda: self.app.record_deaths(notices, self.ACTOR))

    def run_payroll(self, month: Month) -> dict:
        """The agents' summary of the run: code -> lines, carried, amounts."""
        outcome = self._command(lambda: self.app.run_payroll(month, self.ACTOR))
        assert outcome.issued_now
        return outcome.agents

    def prepare_payroll(self, month: Month, actor: str):
        """Record the month's payroll as prepared by ``actor``; the outcome."""
        return self._command(lambda: self.app.prepare_payroll(month, actor))

    def release_payroll(self, month: Month, actor: str) -> dict:
        """Release the prepared payroll with four eyes on; the agents' summary."""
        outcome = self._command(lambda: self.app.release_payroll(month, actor, four_eyes=True))
        assert outcome.issued_now
        return outcome.agents

    def propose_write_off(self, citizen: str, receipt_no: str, amount: int, actor: str) -> bool:
        return self.commands.propose_write_off(citizen, amount, receipt_no, "estate has no means", actor).recorded_now

    def decide_write_off(self, citizen: str, receipt_no: str, actor: str, approve: bool) -> bool:
        return self.commands.decide_write_off(citizen, receipt_no, actor, approve=approve,
                                              reason="" if approve else "the family can repay").recorded_now

    def agent_results(self, results: list[AgentResult], today: date) -> list[str]:
        """Record a post office's or bank's results; the citizens suspended."""
        outcome = self._command(lambda: self.app.record_agent_results(results, self.ACTOR, today))
        return outcome.suspended

    def record_recoveries(self, recoveries: list[tuple[str, Recovery]]) -> None:
        self._command(lambda: self.app.record_recoveries(recoveries, self.ACTOR))

    def record_confirmations(self, confirmations: list[ReceiptConfirmation]) -> None:
        self._command(lambda: self.app.record_confirmations(confirmations, self.ACTOR))

    def population_check(self, answers: list) -> list[str]:
        """Record the population database's answers; the citizens held."""
        from ledger import population_app

        return self._command(lambda: population_app.record_checks(self.app, answers, "pop.csv", self.ACTOR)).held

    def population_resolve(self, resolution) -> None:
        from ledger import population_app

        self._command(lambda: population_app.resolve(self.app, resolution, self.ACTOR))

    def close_month(self, month: Month) -> None:
        """Close the month, every variance accepted with a reason."""
        keys = [v.key(s.agent_code) for s in self.queries.reconcile(month) for v in s.variances]
        differs: list = []  # the close folds its figures from the events: the views must agree
        missing = self.commands.close_month(month, {k: "followed up" for k in keys}, self.ACTOR,
                                            on_view_differs=differs.extend)
        assert missing == [], missing
        assert differs == [], differs

    # queries

    def event_count(self) -> int:
        return self.app.recorder.max_notification_id() or 0

    def lines(self, citizen: str) -> tuple[PayLine, ...]:
        person = self.app.beneficiary(citizen)
        return person.state.book.lines if person else ()

    def report(self, citizen: str, as_known_at: datetime | None = None) -> dict:
        """What `ledger beneficiary show --json` prints."""
        return self.queries.beneficiary_report(citizen, as_known_at).as_dict()

    def trial_balance(self, period: str | None = None) -> dict[str, int]:
        from projections import postings as post_view

        with self.runtime.engine.connect() as conn:
            return post_view.trial_balance(conn, period)

    def settlements(self, month: Month) -> list[dict]:
        return [s.as_dict() for s in self.queries.reconcile(month)]

    def proxy_queue(self, month: Month) -> dict[str, list[str]]:
        """`ledger proxy queue --month M --json`: citizen -> months unconfirmed."""
        return {e.citizen_id: list(e.months) for e in self.queries.proxy_queue(month)}

    def replay_checksums(self) -> tuple[dict, dict]:
        """(live, rebuilt into a fresh SQLite file) checksums per view."""
        target = self.work / f"replay-{time.monotonic_ns()}.db"
        rebuilt = self.queries.rebuild_into(f"sqlite:///{target}", show_progress=False)
        return self.queries.live_checksums(), rebuilt.checksums


# --- the reference model -------------------------------------------------------------

FIRST_PAYROLL = Month.parse("2024-05")
LAST_PAYROLL = Month.parse("2025-02")
LEVEL_RISE = Month.parse("2024-07")  # 360,000 before, 500,000 from (Decree 76/2024)
# Everyone is born in the 1930s: every category below pays one coefficient at every age reached.
COEFFICIENT = {"ELDERLY_80": Decimal("1.0"), "ELDERLY_CARED": Decimal("3.0"),
               "DISABLED_SEVERE": Decimal("2.0"), "DISABLED_SPECIAL": Decimal("2.5")}
PEOPLE = 4
CASH_AGENT, BANK_AGENT = "VNPOST-M-01", "BANK-M-01"
HOLDS = {"AC01": "bank_details", "AC04": "bank_details", "MD07": "death_verification"}
# The hold a death reported by the population database puts on payment (its code in `beneficiary show`).
POPULATION_HOLD = {"POPULATION_DB": "population_death"}
NOT_PAID = ("suspended", "terminated", "relocated_out", "deceased")


def level(month: Month) -> int:
    return 360_000 if month < LEVEL_RISE else 500_000


@dataclass
class Person:
    citizen: str
    birth: date
    first: Month | None = None  # None: not registered
    categories: list = field(default_factory=list)  # (order, code)
    statuses: list = field(default_factory=list)  # (order, status, lifts_hold, ends_move)
    death: date | None = None
    notices: list = field(default_factory=list)  # notice ids recorded
    channel: str = "cash"
    channels: list = field(default_factory=list)  # (order, channel)
    proxy_account: bool = False  # the proxy in force pays into their own account
    confirmed: set = field(default_factory=set)  # payroll months the commune confirmed
    holds: set = field(default_factory=set)
    paid: set = field(default_factory=set)  # line ids reported paid or credited
    paid_after_cancellation: set = field(default_factory=set)  # cancelled lines the agent paid anyway
    recovered: int = 0  # every recovery recorded, write-offs included
    max_due: dict = field(default_factory=dict)  # month -> highest due known at a payroll
    reported_dead: date | None = None  # by the population database, awaiting the officer
    checked: set = field(default_factory=set)  # days the population database was asked

    def __repr__(self) -> str:
        return f"Person({self.citizen})"

    @property
    def death_month(self) -> Month | None:
        return Month.containing(self.death) if self.death else None

    def status_at(self, month: Month) -> str:
        """The status in force (domain.md: a resumption lifts the suspension
        just before it; nothing after the month of death)."""
        return self._in_force(month)[0]

    def between_moves(self, month: Month) -> bool:
        """Moved out, and the move in is later than ``month``: the month is
        due, but as arrears the new agent pays from the move in (domain.md,
        "Moving to another district"), not on this month's payroll."""
        return self._in_force(month)[1]

    def _in_force(self, month: Month) -> tuple[str, bool]:
        if self.death_month is not None and month > self.death_month:
            return "deceased", False
        ordered = []
        for decided in sorted(self.statuses, key=lambda s: s[0]):
            if decided[1] == "suspended" and ordered and ordered[-1][1] == "relocated_out":
                continue  # verified as moved beats a suspension
            ordered.append(decided)
        in_force = [i for i, s in enumerate(ordered) if s[0][0] <= month.index]
        if not in_force:
            return "active", False
        i = in_force[-1]
        status = ordered[i][1]
        following = ordered[i + 1] if i + 1 < len(ordered) else None
        if status == "suspended" and following and following[2]:
            return "active", False
        if status == "relocated_out" and following and following[3]:
            return "active", True  # the move in: the new district pays the months between
        return status, False

    def due(self, month: Month) -> int:
        if self.first is None or month < self.first:
            return 0
        if self.status_at(month) in ("terminated", "relocated_out", "deceased"):
            return 0
        code = [c for order, c in sorted(self.categories, key=lambda x: x[0]) if order[0] <= month.index][-1]
        return int(level(month) * COEFFICIENT[code])

    def payable(self, month: Month) -> int:
        return 0 if self.status_at(month) == "suspended" else self.due(month)


def _net_issued(lines) -> dict[Month, int]:
    net: dict[Month, int] = {}
    for line in lines:
        if line.kind == "funeral_support" or line.status in ("rejected", "cancelled"):
            continue
        for m, a in zip(line.months, line.amounts):
            net[m] = net.get(m, 0) + a
    return net


# --- the machine -----------------------------------------------------------------------

class LedgerModel(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.folder = tempfile.TemporaryDirectory(prefix="ledger-model-")
        work = Path(self.folder.name)
        self.driver = LedgerDriver(f"sqlite:///{work / 'ledger.db'}", work)
        self.people = [Person(cid.make(51, 1930 + i, "MF"[i % 2], 100 + i), date(1930 + i, 1 + 2 * i, 10 + i))
                       for i in range(PEOPLE)]
        self.last_run: Month | None = None
        self.closed: dict[str, list] = {}  # month -> its settlements when closed
        self.known_at: list = []  # (time, today, citizen, report) snapshots
        self.serial = 0
        self.prepared: tuple[Month, int] | None = None  # (month, events recorded right after preparing)
        self.proposals: dict[str, tuple[Person, int]] = {}  # write-offs awaiting a decision
        self.overpaid: set[str] = set()  # citizens with an overpayment open (each_person_matches_the_reference)
        self.today = (FIRST_PAYROLL - 1).first_day + timedelta(days=14)
        self.driver.set_today(self.today)

    def teardown(self):
        self.driver.close()
        self.folder.cleanup()
        os.environ.pop("LEDGER_TODAY", None)

    # helpers

    def _next_no(self, prefix: str) -> str:
        self.serial += 1
        return f"{prefix}{self.serial:04d}"

    @property
    def current(self) -> Month:
        return Month.containing(self.today)

    def registered(self) -> list[Person]:
        return [p for p in self.people if p.first is not None]

    def _decide(self, person: Person, kind: str, effective: Month, **extra) -> Decision:
        decision = Decision(self._next_no("QD"), self.today, kind, person.citizen, effective, **extra)
        self.driver.record_decisions([decision])
        return decision

    def _order(self, decision: Decision) -> tuple:
        return (decision.effective.index, decision.signed_on, decision.decision_no)

    # --- decisions ---

    @initialize(data=st.data())
    def register_most(self, data):
        for _ in range(PEOPLE - 1):
            self.register(data)

    @precondition(lambda self: any(p.first is None for p in self.people))
    @rule(data=st.data())
    def register(self, data):
        waiting = [p for p in self.people if p.first is None]
        person = data.draw(st.sampled_from(waiting))
        first = self.current + data.draw(st.integers(-3, 1))
        channel = data.draw(st.sampled_from(["cash", "bank"]))
        code = data.draw(st.sampled_from(sorted(COEFFICIENT)))
        decision = Decision(
            self._next_no("REG"), self.today, "register", person.citizen, first, full_name=f"Người {person.citizen[-3:]}",
            birth_date=person.birth, sex="M" if person.citizen[3] in "02" else "F", province_code="051",
            commune_code="20101", categories=(code,), channel=channel,
            agent_code=BANK_AGENT if channel == "bank" else CASH_AGENT,
            bank_account="0123456789" if channel == "bank" else "")
        self.driver.record_decisions([decision])
        person.first, person.channel = first, channel
        person.channels.append((self._order(decision), channel))
        person.categories.append((self._order(decision), code))
        person.statuses.append((self._order(decision), "active", False, False))

    def _effective(self, data, person: Person) -> Month:
        """Back-dated up to four months, or up to two ahead; never before registration."""
        return max(person.first, self.current + data.draw(st.integers(-4, 2)))

    @precondition(lambda self: self.registered())
    @rule(data=st.data(), kind=st.sampled_from(["change_category", "reassess_disability"]))
    def change_category(self, data, kind):
        person = data.draw(st.sampled_from(self.registered()))
        codes = sorted(COEFFICIENT) if kind == "change_category" else ["DISABLED_SEVERE", "DISABLED_SPECIAL"]
        code = data.draw(st.sampled_from(codes))
        decision = self._decide(person, kind, self._effective(data, person), categories=(code,))
        person.categories.append((self._order(decision), code))

    @precondition(lambda self: self.registered())
    @rule(data=st.data(), kind=st.sampled_from(["relocate_out", "relocate_in", "terminate", "resume"]))
    def change_status(self, data, kind):
        person = data.draw(st.sampled_from(self.registered()))
        extra = {"relocate_in": dict(province_code="051", commune_code="20102")}.get(kind, {})
        if kind in ("terminate", "resume"):
            extra = dict(reason="decided by the office")
        decision = self._decide(person, kind, self._effective(data, person), **extra)
        status = {"relocate_out": "relocated_out", "terminate": "terminated"}.get(kind, "active")
        person.statuses.append((self._order(decision), status, kind == "resume", kind == "relocate_in"))
        if kind == "resume":
            person.holds.discard("death_verification")

    @precondition(lambda self: self.registered())
    @rule(data=st.data(), channel=st.sampled_from(["cash", "bank"]))
    def change_channel(self, data, channel):
        person = data.draw(st.sampled_from(self.registered()))
        decision = self._decide(person, "change_channel", self.current + 1, channel=channel,
                                agent_code=BANK_AGENT if channel == "bank" else CASH_AGENT,
                                bank_account=f"99{self.serial:08d}" if channel == "bank" else "")
        person.holds.discard("bank_details")
        person.channel = channel
        person.channels.append((self._order(decision), channel))

    @precondition(lambda self: self.registered())
    @rule(data=st.data(), authorise=st.booleans(), own_account=st.booleans())
    def proxy(self, data, authorise, own_account):
        """A proxy, perhaps with their own account (bank lines go there), or none."""
        person = data.draw(st.sampled_from(self.registered()))
        if authorise:
            self._decide(person, "authorize_proxy", self.current, proxy_name="Nguyễn Thị Con",
                         proxy_citizen_id=cid.make(51, 1970, "F", 900),
                         proxy_bank_account=f"77{self.serial:08d}" if own_account else "")
            if own_account or person.proxy_account:  # another account to pay into
                person.holds.discard("bank_details")
            person.proxy_account = own_account
        else:
            self._decide(person, "revoke_proxy", self.current)
            person.holds.discard("bank_details")
            person.proxy_account = False

    @precondition(lambda self: self.registered())
    @rule(data=st.data())
    def confirm_receipt(self, data):
        """The commune confirms a payment credited to a proxy's account (or,
        refused as a whole, one that was not)."""
        person = data.draw(st.sampled_from(self.registered()))
        lines = self.driver.lines(person.citizen)
        # Credited by today: a confirmation dated before the credit is refused.
        credited = sorted({x.payroll_month for x in lines if x.to_proxy_account and x.status == "paid"
                           and x.settled_on is not None and x.settled_on <= self.today} - person.confirmed)
        months = sorted({x.payroll_month for x in lines} - set(credited) - person.confirmed)
        pick = data.draw(st.sampled_from(credited or months or [self.current]))
        confirmation = ReceiptConfirmation(person.citizen, pick, self.today, "Cán bộ xã", "visit")
        if pick in credited:
            self.driver.record_confirmations([confirmation])
            person.confirmed.add(pick)
            event("proxy-account payment confirmed")
        else:
            before = self.driver.event_count()
            with pytest.raises(Rejected):
                self.driver.record_confirmations([confirmation])
            assert self.driver.event_count() == before

    # --- deaths ---

    @precondition(lambda self: self.registered())
    @rule(data=st.data(), how=st.sampled_from(["notice", "notice", "confirm", "conflict", "correct"]))
    def death(self, data, how):
        person = data.draw(st.sampled_from(self.registered()))
        earliest = person.first.first_day
        if earliest > self.today:
            return
        died = earliest + timedelta(days=data.draw(st.integers(0, (self.today - earliest).days)))
        source = data.draw(st.sampled_from(["civil_registry", "commune", "family", "post_office"]))
        notice_id = self._next_no("N")
        if person.death is None:
            notice = DeathNotice(notice_id, person.citizen, died, source, self.today, funeral_arranged_by="Con trai")
            self.driver.record_deaths([notice])
            person.death = died
            person.notices.append(notice_id)
            return
        if how in ("notice", "confirm"):  # a second source, the same date: one death
            self.driver.record_deaths([DeathNotice(notice_id, person.citizen, person.death, source, self.today)])
            person.notices.append(notice_id)
            return
        if died == person.death:
            died = person.death - timedelta(days=1) if person.death > earliest else person.death + timedelta(days=1)
            if died > self.today:
                return
        if how == "conflict":  # another date without a correction: refused, nothing recorded
            before = self.driver.event_count()
            try:
                self.driver.record_deaths([DeathNotice(notice_id, person.citizen, died, source, self.today)])
            except Rejected as refused:
                assert [p.field for p in refused.problems] == ["date_of_death"]
            else:
                raise AssertionError("a notice with another date of death was recorded without a correction")
            assert self.driver.event_count() == before
            event("conflicting death notice refused")
            return
        corrected = data.draw(st.sampled_from(person.notices))
        self.driver.record_deaths([DeathNotice(notice_id, person.citizen, died, source, self.today,
                                               corrects=corrected)])
        person.death = died
        person.notices.append(notice_id)
        event("death date corrected")

    # --- the population database check ---

    @precondition(lambda self: self.registered())
    @rule(data=st.data(), said=st.sampled_from(["deceased", "deceased", "alive", "not_found"]))
    def population_check(self, data, said):
        """The population database answers for one person; a reported death
        the ledger does not have holds payment from the next payroll."""
        from ledger.population import Answer

        person = data.draw(st.sampled_from(self.registered()))
        earliest = person.first.first_day
        if self.today in person.checked or earliest > self.today:
            return
        died = None
        if said == "deceased":
            died = earliest + timedelta(days=data.draw(st.integers(0, (self.today - earliest).days)))
        answer = Answer(person.citizen, said, self.today, date_of_death=died)
        if any(day > self.today for day in person.checked):  # the results rules move today back
            before = self.driver.event_count()
            with pytest.raises(Rejected):  # answers are imported in the order they were made
                self.driver.population_check([answer])
            assert self.driver.event_count() == before
            event("population answer older than the latest: refused")
            return
        held = self.driver.population_check([answer])
        person.checked.add(self.today)
        if said == "deceased" and person.death is None:
            assert held == [person.citizen] or person.reported_dead is not None
            person.holds.add("population_death")
            person.reported_dead = died
            event("population database reports a death: held")
        else:
            assert held == []

    @precondition(lambda self: any(p.reported_dead for p in self.people))
    @rule(data=st.data(), confirm=st.booleans())
    def population_decide(self, data, confirm):
        """The officer confirms the reported death (a death notice from
        population_db) or rejects it (the hold is lifted; the held months
        are owed and paid as arrears)."""
        from ledger.population import Resolution

        person = data.draw(st.sampled_from([p for p in self.people if p.reported_dead]))
        if not confirm:
            self.driver.population_resolve(Resolution(person.citizen, "rejected", "the commune saw her", self.today))
            event("reported death rejected")
        else:
            resolution = Resolution(person.citizen, "deceased", "confirmed by the commune", self.today)
            if person.death is not None and person.death != person.reported_dead:
                before = self.driver.event_count()
                try:
                    self.driver.population_resolve(resolution)
                except Rejected as refused:
                    assert [p.field for p in refused.problems] == ["date_of_death"]
                else:
                    raise AssertionError("a population death with another date was confirmed without a correction")
                assert self.driver.event_count() == before
                return
            self.driver.population_resolve(resolution)
            if person.death is None:
                person.death = person.reported_dead
                person.notices.append(f"POP/{person.citizen}/{max(person.checked)}")
            event("reported death confirmed")
        person.holds.discard("population_death")
        person.reported_dead = None

    # --- the payroll and the agents ---

    @precondition(lambda self: (self.last_run or FIRST_PAYROLL - 1) < LAST_PAYROLL)
    @rule()
    def prepare_payroll(self):
        """The officer prepares the next month's payroll: nothing is issued
        and no person's history changes; the approver releases it later."""
        month = FIRST_PAYROLL if self.last_run is None else self.last_run + 1
        lines = {p.citizen: self.driver.lines(p.citizen) for p in self.registered()}
        outcome = self.driver.prepare_payroll(month, LedgerDriver.ACTOR)
        assert not outcome.released and outcome.prepared_by == LedgerDriver.ACTOR
        assert {p.citizen: self.driver.lines(p.citizen) for p in self.registered()} == lines
        self.prepared = (month, self.driver.event_count())
        event("payroll prepared" if outcome.prepared_now else "payroll prepared again: unchanged")

    def _release(self, month: Month) -> dict | None:
        """Release the preparation: refused to the person who prepared it;
        refused, recording nothing, when something was recorded since that
        changes the payroll (then prepared again); never refused when nothing
        was recorded since. None when there is no preparation to release."""
        if self.prepared is None or self.prepared[0] != month:
            return None
        quiet = self.driver.event_count() == self.prepared[1]
        before = self.driver.event_count()
        try:
            self.driver.release_payroll(month, LedgerDriver.ACTOR)
        except SamePerson:
            pass
        else:
            raise AssertionError("the person who prepared the payroll released it")
        assert self.driver.event_count() == before
        try:
            agents = self.driver.release_payroll(month, LedgerDriver.APPROVER)
        except PreparationStale:
            assert not quiet, "a preparation with nothing recorded since was refused as stale"
            assert self.driver.event_count() == before
            self.driver.prepare_payroll(month, LedgerDriver.ACTOR)
            agents = self.driver.release_payroll(month, LedgerDriver.APPROVER)
            event("stale preparation refused, prepared again")
        self.prepared = None
        event("payroll released (four eyes)")
        return agents

    @precondition(lambda self: (self.last_run or FIRST_PAYROLL - 1) < LAST_PAYROLL)
    @rule()
    def run_payroll(self):
        month = FIRST_PAYROLL if self.last_run is None else self.last_run + 1
        before = {p.citizen: self.driver.lines(p.citizen) for p in self.registered()}
        self.today = month.first_day + timedelta(days=4)
        self.driver.set_today(self.today)
        agents = self._release(month)
        if agents is None:
            agents = self.driver.run_payroll(month)
        self.last_run = month
        issued = {line_id for a in agents.values() for line_id in a["lines"]}
        carried = {line_id for a in agents.values() for line_id in a["carried"]}
        expected_carried = set()
        for person in self.registered():
            old = before[person.citizen]
            lines = self.driver.lines(person.citizen)
            new = [x for x in lines if x.payroll_month == month and x.kind != "funeral_support"]
            net_before = _net_issued(old)
            for m in month_range(person.first, month):
                person.max_due[m] = max(person.max_due.get(m, 0), person.due(m))
            payable_now = person.status_at(month) not in NOT_PAID and not person.holds \
                and not person.between_moves(month)
            if new:
                (line,) = new
                assert line.line_id in issued
                assert payable_now, (person.citizen, person.status_at(month), person.holds)
                for m, amount in zip(line.months, line.amounts):
                    assert person.first <= m <= month
                    if person.death_month is not None:
                        assert m <= person.death_month, f"{line.line_id} pays {m}, after the death"
                    assert amount == person.payable(m) - net_before.get(m, 0), (line.line_id, m)
            if payable_now:  # everything payable up to the month is now issued, once
                net = _net_issued(lines)
                for m in month_range(person.first, month):
                    assert net.get(m, 0) >= person.payable(m), (person.citizen, m)
            if person.status_at(month) != "suspended" and "population_death" not in person.holds:
                expected_carried |= {x.line_id for x in lines if x.channel == "cash" and x.payroll_month < month
                                     and x.status in ("issued", "unpaid")}
        assert carried == expected_carried
        event("payroll issued lines" if issued else "payroll issued nothing")
        if carried:
            event("payroll carried cash forward")

    def _results(self, data, channel: str) -> list[tuple[Person, PayLine, str, str]]:
        picked = []
        for person in self.registered():
            for line in self.driver.lines(person.citizen):
                if line.channel != channel:
                    continue
                if channel == "cash":
                    choices = {"issued": ["paid", "unpaid", None], "unpaid": ["paid", None, None],
                               "cancelled": ["paid", None, None, None]}.get(line.status)
                else:
                    choices = ["credited", "credited", "rejected", None] if line.status == "issued" else None
                if not choices:
                    continue
                status = data.draw(st.sampled_from(choices))
                if status:
                    code = data.draw(st.sampled_from(sorted(HOLDS))) if status == "rejected" else ""
                    picked.append((person, line, status, code))
        return picked

    def _record_results(self, picked, source: str):
        results = [AgentResult(line.payroll_id, line.line_id, person.citizen, status,
                               None if status == "unpaid" else self.today, line.amount_vnd,
                               received_by="beneficiary" if status in ("paid", "credited") else "",
                               reason_code=code, source=source, document=f"{source}-{self.today}")
                   for person, line, status, code in picked]
        suspended = self.driver.agent_results(results, self.today)
        for _, _, status, code in picked:
            event(f"result {status} {code}".strip())
        if suspended:
            event("suspended for unclaimed rounds")
        for person, line, status, code in picked:
            if status in ("paid", "credited"):
                person.paid.add(line.line_id)
                if line.status == "cancelled":
                    person.paid_after_cancellation.add(line.line_id)
            # A refused account is looked at while one is used; moved to cash
            # meanwhile, the person is paid in cash without another decision.
            if status == "rejected" and (HOLDS[code] != "bank_details" or max(person.channels)[1] == "bank"):
                person.holds.add(HOLDS[code])
        last = self.last_run
        for person in self.registered():
            if person.citizen in suspended:
                order = ((last + 1).index, self.today, f"UNCLAIMED/{last}")
                person.statuses.append((order, "suspended", False, False))

    @precondition(lambda self: (self.last_run or FIRST_PAYROLL - 1) < LAST_PAYROLL)
    @rule(data=st.data())
    def month_cycle(self, data):
        """A whole month at once: the payroll, then both agents report."""
        self.run_payroll()
        self.post_office_results(data, 6)
        self.bank_results(data, 3)

    @precondition(lambda self: self.last_run is not None)
    @rule(data=st.data(), days=st.integers(0, 20))
    def post_office_results(self, data, days):
        self.today = self.last_run.first_day + timedelta(days=5 + days)
        self.driver.set_today(self.today)
        picked = self._results(data, "cash")
        if picked:
            self._record_results(picked, "postoffice")

    @precondition(lambda self: self.last_run is not None)
    @rule(data=st.data(), days=st.integers(0, 20))
    def bank_results(self, data, days):
        self.today = self.last_run.first_day + timedelta(days=5 + days)
        self.driver.set_today(self.today)
        picked = self._results(data, "bank")
        if picked:
            self._record_results(picked, "bank")

    # --- overpayments ---

    @precondition(lambda self: self.registered())
    @rule(data=st.data(), method=st.sampled_from(["cash", "bank", "write_off"]),
          how=st.sampled_from(["part", "all", "too_much"]), amount=st.integers(1, 1_500_000))
    def recovery(self, data, method, how, amount):
        person = data.draw(st.sampled_from(self.registered()))
        open_vnd = self.driver.report(person.citizen)["overpayment_open"]
        if open_vnd <= 0 and how != "too_much":
            return
        amount = {"part": min(amount, open_vnd), "all": open_vnd, "too_much": max(open_vnd, 0) + amount}[how]
        receipt = Recovery(self._next_no("RC"), amount, self.today, "family", method,
                           decision_no=self._next_no("QD") if method == "write_off" else "",
                           reason="estate has no means" if method == "write_off" else "")
        if how == "too_much":
            before = self.driver.event_count()
            try:
                self.driver.record_recoveries([(person.citizen, receipt)])
            except Rejected as refused:
                assert [p.field for p in refused.problems] == ["amount"]
            else:
                raise AssertionError(f"{amount} VND recovered with {open_vnd} VND open")
            assert self.driver.event_count() == before
            return
        self.driver.record_recoveries([(person.citizen, receipt)])
        person.recovered += amount
        event(f"recovery recorded ({method})")

    @precondition(lambda self: self.overpaid)
    @rule(data=st.data(), share=st.integers(1, 100))
    def propose_write_off(self, data, share):
        """The officer proposes writing off part of an open overpayment:
        nothing moves until another person decides."""
        person = data.draw(st.sampled_from([p for p in self.people if p.citizen in self.overpaid]))
        report = self.driver.report(person.citizen)
        awaiting = sum(amount for p, amount in self.proposals.values() if p is person)
        room = report["overpayment_open"] - awaiting
        if room <= 0:
            return
        amount = max(1, room * share // 100)
        receipt = self._next_no("WO")
        assert self.driver.propose_write_off(person.citizen, receipt, amount, LedgerDriver.ACTOR)
        after = self.driver.report(person.citizen)
        assert (after["overpayment_open"], after["recovered"]) == (report["overpayment_open"], report["recovered"])
        self.proposals[receipt] = (person, amount)
        event("write-off proposed")

    @precondition(lambda self: self.proposals)
    @rule(data=st.data(), approve=st.booleans())
    def decide_write_off(self, data, approve):
        """Never decided by the person who proposed it; approved, the money
        moves now, unless less is open than proposed (then refused)."""
        receipt = data.draw(st.sampled_from(sorted(self.proposals)))
        person, amount = self.proposals[receipt]
        before = self.driver.event_count()
        with pytest.raises(NotPermitted):
            self.driver.decide_write_off(person.citizen, receipt, LedgerDriver.ACTOR, approve)
        assert self.driver.event_count() == before
        open_vnd = self.driver.report(person.citizen)["overpayment_open"]
        if approve and amount > open_vnd:
            with pytest.raises(CommandRefused):
                self.driver.decide_write_off(person.citizen, receipt, LedgerDriver.APPROVER, True)
            assert self.driver.event_count() == before
            approve = False  # refused: the approver turns it down instead
            event("write-off larger than what is open now: refused")
        assert self.driver.decide_write_off(person.citizen, receipt, LedgerDriver.APPROVER, approve)
        del self.proposals[receipt]
        if approve:
            person.recovered += amount
        event("write-off approved" if approve else "write-off rejected")

    # --- the settlement, replays and what was known when ---

    @precondition(lambda self: self.last_run is not None)
    @rule()
    def close_month(self):
        runs = month_range(FIRST_PAYROLL, self.last_run)
        open_months = [m for m in runs if str(m) not in self.closed]
        if not open_months:
            return
        month = open_months[0]
        self.driver.close_month(month)
        self.closed[str(month)] = self.driver.settlements(month)
        event("month closed")

    @rule()
    def replay(self):
        live, rebuilt = self.driver.replay_checksums()
        assert live == rebuilt

    @precondition(lambda self: self.registered())
    @rule(data=st.data())
    def remember_what_is_known(self, data):
        person = data.draw(st.sampled_from(self.registered()))
        self.known_at.append((datetime.now(timezone.utc), self.today, person.citizen,
                              self.driver.report(person.citizen)))
        time.sleep(0.002)  # whatever is recorded next is recorded strictly later

    @precondition(lambda self: self.known_at)
    @rule()
    def as_known_at(self):
        for when, today, citizen, report in self.known_at[-3:]:
            self.driver.set_today(today)
            then = self.driver.report(citizen, as_known_at=when)
            differ = {k: (v, then[k]) for k, v in report.items() if k != "as_known_at" and then[k] != v}
            assert not differ, (citizen, when.isoformat(), differ)
        self.driver.set_today(self.today)

    # --- invariants, after every step ---

    @invariant()
    def books_balance(self):
        balances = self.driver.trial_balance()
        assert sum(balances.values()) == 0
        if self.last_run is not None:
            for month in month_range(FIRST_PAYROLL, self.last_run):
                assert sum(self.driver.trial_balance(str(month)).values()) == 0
        # Each agent holds exactly the lines still open with it.
        open_by_agent: dict[str, int] = {}
        for person in self.registered():
            for line in self.driver.lines(person.citizen):
                if line.status in ("issued", "unpaid"):
                    open_by_agent[line.agent_code] = open_by_agent.get(line.agent_code, 0) + line.amount_vnd
        floats = {a.split(":", 1)[1]: v for a, v in balances.items() if a.startswith("float:") and v}
        assert floats == {a: v for a, v in open_by_agent.items() if v}

    @invariant()
    def each_person_matches_the_reference(self):
        for person in self.registered():
            report = self.driver.report(person.citizen)
            lines = self.driver.lines(person.citizen)
            # The schedule: level x coefficient, nothing after a relocation, a termination or the death.
            for row in report["months"]:
                month = Month.parse(row["month"])
                assert row["due"] == person.due(month), (person.citizen, row)
            assert report["date_of_death"] == (person.death.isoformat() if person.death else None)
            assert {{**HOLDS, **POPULATION_HOLD}[c] for c in report["holds"]} == person.holds, \
                (person.citizen, report["holds"])
            # Paid lines are exactly those the agents reported paid.
            assert {x.line_id for x in lines if x.status == "paid"} == person.paid
            # Issued once: what stays issued for a month never exceeds the most it was ever due
            # (a line the agent paid after the office withdrew it is an overpayment, not an issue).
            kept = [x for x in lines if x.line_id not in person.paid_after_cancellation]
            for m, amount in _net_issued(kept).items():
                assert amount <= person.max_due.get(m, 0), (person.citizen, m, amount)
            # disbursed - due, where positive = open + recovered (write-offs are recoveries).
            disbursed: dict[Month, int] = {}
            for line in lines:
                if line.status == "paid" and line.kind != "funeral_support":
                    for m, a in zip(line.months, line.amounts):
                        disbursed[m] = disbursed.get(m, 0) + a
            excess = sum(max(0, paid - person.due(m)) for m, paid in disbursed.items())
            assert report["recovered"] == person.recovered
            assert excess == report["overpayment_open"] + report["recovered"], (person.citizen, excess)
            if report["overpayment_open"] > 0:
                self.overpaid.add(person.citizen)
            else:
                self.overpaid.discard(person.citizen)
            if excess:
                event("a person was overpaid")
            if any(x.status == "cancelled" for x in lines):
                event("a line was cancelled")

    @invariant()
    def proxy_queue_matches_the_lines(self):
        """Payments credited to a proxy's account, unconfirmed two months on."""
        expected = {}
        for person in self.registered():
            months = sorted({str(x.payroll_month) for x in self.driver.lines(person.citizen)
                             if x.to_proxy_account and x.status == "paid"
                             and x.payroll_month <= self.current - 2 and x.payroll_month not in person.confirmed})
            if months:
                expected[person.citizen] = months
        assert self.driver.proxy_queue(self.current) == expected

    @invariant()
    def closed_months_never_change(self):
        """A closed month's figures and variances never change (a payment
        recorded after the close is followed up in the first open month:
        test_a_closed_month_gains_no_variance)."""
        for month, settled in self.closed.items():
            now = self.driver.settlements(Month.parse(month))
            changed = [(then["agent_code"], key, then.get(key), again.get(key))
                       for then, again in zip(settled, now) for key in then
                       if key != "variances" and then[key] != again.get(key)]
            assert len(now) == len(settled) and not changed, (month, changed)
            for then, again in zip(settled, now):
                assert again["variances"] == then["variances"], (month, then["agent_code"])


def test_a_closed_month_gains_no_variance(tmp_path, monkeypatch):
    """Found by the model: the post office reports, after July was closed, a
    payment it made in July to someone who had died. The money lands in
    August's figures (July's stay as closed), and so does the
    paid_after_death variance: under August, whose close it holds up, not
    under the closed July, where nobody could accept it any more."""
    monkeypatch.setenv("LEDGER_TODAY", "2024-07-20")
    driver = LedgerDriver(f"sqlite:///{tmp_path / 'ledger.db'}", tmp_path)
    try:
        july, august = Month.parse("2024-07"), Month.parse("2024-08")
        citizen = cid.make(51, 1930, "F", 1)
        driver.record_decisions([Decision(
            "1/QĐ", date(2024, 7, 1), "register", citizen, july, full_name="Bà A", birth_date=date(1930, 3, 1),
            sex="F", province_code="051", commune_code="20101", categories=("ELDERLY_80",), channel="cash",
            agent_code=CASH_AGENT)])
        (line,) = driver.run_payroll(july)[CASH_AGENT]["lines"]
        driver.close_month(july)  # the post office has not reported yet
        closed = driver.settlements(july)
        assert closed[0]["variances"] == []
        driver.set_today(date(2024, 8, 3))
        driver.run_payroll(august)
        driver.record_deaths([DeathNotice("CR-1", citizen, date(2024, 7, 2), "civil_registry", date(2024, 8, 3))])
        driver.agent_results([AgentResult(f"{CASH_AGENT}/2024-07", line, citizen, "paid", date(2024, 7, 12),
                                          500_000, received_by="proxy", document="po-2024-07.csv")],
                             date(2024, 8, 3))
        again = driver.settlements(july)
        assert [{k: v for k, v in s.items() if k != "variances"} for s in again] == \
            [{k: v for k, v in s.items() if k != "variances"} for s in closed]  # the figures hold
        in_july = [v["kind"] for s in again for v in s["variances"]]
        in_august = [v["kind"] for s in driver.settlements(august) for v in s["variances"]]
        assert (in_july, in_august) == ([], ["paid_after_death"])
    finally:
        driver.close()


def test_arrears_reckoned_to_the_last_payroll_run(tmp_path, monkeypatch):
    """Found by the model: when a payroll month issues nothing at all (here
    the only person's bank account was rejected, AC01, so payment is held),
    `beneficiary show` reckoned the arrears up to the last month that had an
    agent's run in the payouts view; it reckons them, as the report as known
    now does, up to the calendar's last payroll month."""
    monkeypatch.setenv("LEDGER_TODAY", "2024-07-20")
    driver = LedgerDriver(f"sqlite:///{tmp_path / 'ledger.db'}", tmp_path)
    try:
        july = Month.parse("2024-07")
        citizen = cid.make(51, 1930, "F", 1)
        driver.record_decisions([Decision(
            "1/QĐ", date(2024, 7, 1), "register", citizen, july, full_name="Bà A", birth_date=date(1930, 3, 1),
            sex="F", province_code="051", commune_code="20101", categories=("ELDERLY_80",), channel="bank",
            agent_code=BANK_AGENT, bank_account="0123456789")])
        (line,) = driver.run_payroll(july)[BANK_AGENT]["lines"]
        driver.agent_results([AgentResult(f"{BANK_AGENT}/2024-07", line, citizen, "rejected", date(2024, 7, 10),
                                          500_000, reason_code="AC01", source="bank", document="camt.xml")],
                             date(2024, 7, 20))
        driver.set_today(date(2024, 8, 5))
        assert driver.run_payroll(july + 1) == {}  # held: August issues nothing
        time.sleep(0.002)
        live = driver.report(citizen)["arrears_due"]
        known_now = driver.report(citizen, as_known_at=datetime.now(timezone.utc))["arrears_due"]
        assert known_now == 1_000_000  # July (returned) and August, owed
        assert live == known_now
    finally:
        driver.close()


# The "ci" profile (tests/conftest.py) fixes the seed; these sizes keep the
# machine to about a minute here. The "long" profile sets its own.
CI_SIZE = dict(max_examples=80, stateful_step_count=40)
LedgerModel.TestCase.settings = settings(
    settings.default,
    **({} if settings.get_current_profile_name() == "long" else CI_SIZE),
    deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    **({"phases": [Phase.explicit, Phase.generate]} if os.environ.get("MODEL_NO_SHRINK") else {}))
TestLedgerModel = LedgerModel.TestCase
