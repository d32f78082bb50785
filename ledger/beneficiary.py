"""The beneficiary aggregate: every decision, notice and payout about one
person, as immutable events. Its state (state.py) is folded from them by the
events' own pure ``fold``, which the read models use too; nothing is
updated in place.
"""
from __future__ import annotations

from dataclasses import replace
from datetime import date
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate

from . import facts as f
from . import payouts
from .decisions import Decision, DeathNotice, ReceiptConfirmation
from .errors import Refused, SamePersonRefused
from .facts import BeneficiaryFacts, Basis, Timeline
from .months import Month
from .payouts import AgentResult, PayLine
from .state import BeneficiaryState

_ID_NAMESPACE = uuid5(NAMESPACE_URL, "urn:allowance-ledger:beneficiary")


def beneficiary_id(citizen_id: str) -> UUID:
    """Deterministic: the same citizen id always names the same aggregate."""
    return uuid5(_ID_NAMESPACE, citizen_id)


class Beneficiary(Aggregate):
    @staticmethod
    def create_id(citizen_id: str) -> UUID:
        return beneficiary_id(citizen_id)

    def __init__(self) -> None:
        self.state: BeneficiaryState | None = None

    @property
    def facts(self) -> BeneficiaryFacts:
        assert self.state is not None
        return self.state.facts

    @property
    def decisions(self) -> dict[str, str]:
        assert self.state is not None
        return self.state.decisions

    @classmethod
    def restore(cls, aggregate_id: UUID, version: int, modified_on, state: BeneficiaryState) -> Beneficiary:
        """An aggregate from a state folded elsewhere (the read model keeps
        one per person): what replaying its events up to ``version`` gives."""
        aggregate = cls.__new__(cls)
        aggregate.__base_init__(aggregate_id, version, modified_on)
        aggregate.state = state
        return aggregate

    # --- events -------------------------------------------------------------

    class Event(Aggregate.Event):
        """Every event names the acting person; its timestamp is the time it
        was recorded."""

        actor: str
        def apply(self, aggregate: Beneficiary) -> None:
            aggregate.state = self.fold(aggregate.state)

        def fold(self, state: BeneficiaryState | None) -> BeneficiaryState:
            """The pure fold shared by the aggregate and the read models."""
            assert state is not None
            return replace(state, facts=self.evolve(state.facts))

        def evolve(self, facts: BeneficiaryFacts | None) -> BeneficiaryFacts:
            """How the event changes the facts (payout events leave them)."""
            assert facts is not None
            return facts

        @property
        def basis_text(self) -> str:
            return getattr(self, "decision_no", "") or getattr(self, "notice_id", "")

    class DecisionEvent(Event):
        decision_no: str
        signed_on: date
        effective: Month
        fingerprint: str

        def fold(self, state: BeneficiaryState | None) -> BeneficiaryState:
            if state is None:  # the registration
                folded = BeneficiaryState(self.evolve(None))
            else:
                folded = super().fold(state)
            key = f"{self.kind}|{self.decision_no}"
            return replace(folded, decisions={**folded.decisions, key: self.fingerprint})

        @property
        def basis(self) -> Basis:
            return Basis(self.effective, self.signed_on, self.decision_no)

        kind = ""

    class Registered(Aggregate.Created, DecisionEvent):
        kind = "register"
        citizen_id: str
        full_name: str
        birth_date: date
        sex: str
        province_code: str
        commune_code: str
        categories: list[str]
        children_count: int
        channel: str
        agent_code: str
        bank_account: str
        home_delivery: bool
        # A proxy authorised with the registration (registrations recorded
        # before the proxy was kept on them have none).
        proxy_name: str = ""
        proxy_citizen_id: str = ""
        proxy_bank_account: str = ""

        def evolve(self, facts: BeneficiaryFacts | None) -> BeneficiaryFacts:
            assert facts is None, "a beneficiary is registered once"
            b = self.basis
            proxies = (Timeline((f.ProxyFact(b, self.proxy_name, self.proxy_citizen_id,
                                             self.proxy_bank_account),))
                       if self.proxy_name else Timeline())
            # Built in one go (not fact by fact): a province registers at once.
            return BeneficiaryFacts(
                self.citizen_id, self.full_name, self.birth_date, self.sex, self.effective,
                categories=Timeline((f.CategoryFact(b, tuple(self.categories), self.children_count),)),
                statuses=Timeline((f.StatusFact(b, f.ACTIVE),)),
                residences=Timeline((f.ResidenceFact(b, self.province_code, self.commune_code),)),
                channels=Timeline((f.ChannelFact(b, self.channel, self.agent_code, self.bank_account,
                                                 self.home_delivery),)),
                proxies=proxies,
            )

    class CategoryChanged(DecisionEvent):
        kind = "change_category"
        categories: list[str]
        children_count: int

        def evolve(self, facts: BeneficiaryFacts | None) -> BeneficiaryFacts:
            assert facts is not None
            return facts.with_category(
                f.CategoryFact(self.basis, tuple(self.categories), self.children_count)
            )

    class DisabilityReassessed(CategoryChanged):
        kind = "reassess_disability"

    class RelocatedOut(DecisionEvent):
        kind = "relocate_out"

        def evolve(self, facts: BeneficiaryFacts | None) -> BeneficiaryFacts:
            assert facts is not None
            return facts.with_status(f.StatusFact(self.basis, f.RELOCATED_OUT))

    class RelocatedIn(DecisionEvent):
        """Into the new district: its commune and, from the same month, its
        payment agent (events recorded before the channel was kept have
        none: the channel stays as it was)."""

        kind = "relocate_in"
        province_code: str
        commune_code: str
        channel: str = ""
        agent_code: str = ""
        bank_account: str = ""
        home_delivery: bool = False

        def fold(self, state: BeneficiaryState | None) -> BeneficiaryState:
            folded = super().fold(state)
            if not self.channel:
                return folded
            return replace(folded, book=folded.book.without_hold(payouts.BANK_DETAILS))

        def evolve(self, facts: BeneficiaryFacts | None) -> BeneficiaryFacts:
            assert facts is not None
            b = self.basis
            moved = facts.with_residence(
                f.ResidenceFact(b, self.province_code, self.commune_code)
            ).with_status(f.StatusFact(b, f.ACTIVE, ends_move=True))
            if self.channel:
                moved = moved.with_channel(
                    f.ChannelFact(b, self.channel, self.agent_code, self.bank_account, self.home_delivery))
            return moved

    class ChannelChanged(DecisionEvent):
        kind = "change_channel"
        channel: str
        agent_code: str
        bank_account: str
        home_delivery: bool

        def fold(self, state: BeneficiaryState | None) -> BeneficiaryState:
            folded = super().fold(state)  # new bank details or channel: retry payment
            return replace(folded, book=folded.book.without_hold(payouts.BANK_DETAILS))

        def evolve(self, facts: BeneficiaryFacts | None) -> BeneficiaryFacts:
            assert facts is not None
            return facts.with_channel(
                f.ChannelFact(self.basis, self.channel, self.agent_code, self.bank_account, self.home_delivery)
            )

    class ProxyAuthorised(DecisionEvent):
        kind = "authorize_proxy"
        proxy_name: str
        proxy_citizen_id: str
        proxy_bank_account: str = ""  # events recorded before it was kept have none

        def fold(self, state: BeneficiaryState | None) -> BeneficiaryState:
            assert state is not None
            before = state.facts.proxies.latest()
            folded = super().fold(state)
            if not self.proxy_bank_account and not (before and before.bank_account):
                return folded
            # Another account to pay into (the new proxy's, or the person's
            # own instead of the old proxy's): a transfer refused for the old
            # account's details is tried again.
            return replace(folded, book=folded.book.without_hold(payouts.BANK_DETAILS))

        def evolve(self, facts: BeneficiaryFacts | None) -> BeneficiaryFacts:
            assert facts is not None
            return facts.with_proxy(f.ProxyFact(self.basis, self.proxy_name, self.proxy_citizen_id,
                                                self.proxy_bank_account))

    class ProxyRevoked(DecisionEvent):
        kind = "revoke_proxy"

        def fold(self, state: BeneficiaryState | None) -> BeneficiaryState:
            folded = super().fold(state)  # back to the person's own account, if any
            return replace(folded, book=folded.book.without_hold(payouts.BANK_DETAILS))

        def evolve(self, facts: BeneficiaryFacts | None) -> BeneficiaryFacts:
            assert facts is not None
            return facts.with_proxy(f.ProxyFact(self.basis))

    class StatusDecided(DecisionEvent):
        """Base of suspension, resumption and termination."""

        reason: str
        status = ""
        lifts_hold = False

        def evolve(self, facts: BeneficiaryFacts | None) -> BeneficiaryFacts:
            assert facts is not None
            return facts.with_status(f.StatusFact(self.basis, self.status, self.reason, self.lifts_hold))

    class Suspended(StatusDecided):
        kind = "suspend"
        status = f.SUSPENDED

    class Resumed(StatusDecided):
        kind = "resume"
        status = f.ACTIVE
        lifts_hold = True

        def fold(self, state: BeneficiaryState | None) -> BeneficiaryState:
            folded = super().fold(state)  # the commune verified the person
            return replace(folded, book=folded.book.without_hold(payouts.DEATH_VERIFICATION))

    class Terminated(StatusDecided):
        kind = "terminate"
        status = f.TERMINATED

    class DeathNotified(Event):
        notice_id: str
        date_of_death: date
        source: str
        reported_on: date
        document_no: str
        funeral_arranged_by: str
        corrects: str  # the notice whose date this one corrects, if any
        fingerprint: str

        @property
        def basis_text(self) -> str:
            return self.document_no or self.notice_id

        def fold(self, state: BeneficiaryState | None) -> BeneficiaryState:
            folded = super().fold(state)
            return replace(folded, notices={**folded.notices, self.notice_id: self.fingerprint})

        def evolve(self, facts: BeneficiaryFacts | None) -> BeneficiaryFacts:
            assert facts is not None
            if facts.death is not None and not self.corrects:
                return facts  # a second source confirming the same death
            return facts.with_death(
                f.DeathFact(self.date_of_death, self.notice_id, self.source, self.reported_on)
            )

    class FuneralSupportGranted(Event):
        notice_id: str
        amount_vnd: int
        date_of_death: date
        arranged_by: str
        rules_id: str

        @property
        def basis_text(self) -> str:
            return self.notice_id

        def fold(self, state: BeneficiaryState | None) -> BeneficiaryState:
            assert state is not None
            grant = payouts.FuneralGrant(self.amount_vnd, self.date_of_death, self.arranged_by, self.notice_id)
            return replace(state, book=state.book.with_funeral(grant))

    class RecoveryRecorded(Event):
        receipt_no: str
        amount_vnd: int
        paid_on: date
        paid_by: str
        method: str
        decision_no: str
        reason: str
        # A write-off: who proposed it (``actor`` approved it); "" for
        # recoveries recorded before write-offs needed a second person.
        proposed_by: str = ""

        @property
        def basis_text(self) -> str:
            return self.decision_no or self.receipt_no

        def fold(self, state: BeneficiaryState | None) -> BeneficiaryState:
            assert state is not None
            recovery = payouts.Recovery(self.receipt_no, self.amount_vnd, self.paid_on, self.paid_by,
                                        self.method, self.decision_no, self.reason)
            book = state.book.with_recovery(recovery)
            if self.method == "write_off":
                book = book.without_proposal(self.receipt_no)
            return replace(state, book=book)

    class WriteOffProposed(Event):
        """A write-off proposed (with its decision and reason); it moves no
        money until another person approves it (a RecoveryRecorded)."""

        receipt_no: str
        amount_vnd: int
        decision_no: str
        reason: str
        proposed_on: date

        @property
        def basis_text(self) -> str:
            return self.decision_no

        def fold(self, state: BeneficiaryState | None) -> BeneficiaryState:
            assert state is not None
            proposal = payouts.WriteOffProposal(self.receipt_no, self.amount_vnd, self.decision_no, self.reason,
                                                self.proposed_on, self.actor)
            return replace(state, book=state.book.with_proposal(proposal))

    class WriteOffRejected(Event):
        """A proposed write-off turned down by the approver, with the reason."""

        receipt_no: str
        decision_no: str
        proposed_by: str
        reason: str

        @property
        def basis_text(self) -> str:
            return self.decision_no

        def fold(self, state: BeneficiaryState | None) -> BeneficiaryState:
            assert state is not None
            return replace(state, book=state.book.without_proposal(self.receipt_no))


    # --- payouts ---------------------------------------------------------------

    class PayoutEvent(Event):
        line_id: str
        agent_code: str  # who holds or held the money
        kind: str  # allowance, arrears, funeral_support
        document: str  # the payroll or the agent's result file it comes from

        @property
        def basis_text(self) -> str:
            return self.document

    class PayoutIssued(PayoutEvent):
        citizen_id: str
        full_name: str
        payroll_id: str
        agent_code: str
        channel: str
        payroll_month: Month
        kind: str
        months: list[Month]
        amounts: list[int]
        receiver: str
        bank_account: str
        home_delivery: bool
        commune_code: str
        rules_id: str
        to_proxy_account: bool = False  # bank_account is the proxy's (lines before it: never)

        def fold(self, state: BeneficiaryState | None) -> BeneficiaryState:
            assert state is not None
            line = PayLine(self.payroll_id, self.line_id, self.agent_code, self.channel,
                           self.payroll_month, self.kind, tuple(self.months), tuple(self.amounts),
                           to_proxy_account=self.to_proxy_account)
            return replace(state, book=state.book.with_line(line))

    class PayoutPaid(PayoutEvent):
        paid_on: date
        amount_vnd: int
        received_by: str  # beneficiary or proxy
        at_home: bool
        source: str  # postoffice or bank
        flags: list[str]  # e.g. paid_after_death: for follow-up, never silently

        def fold(self, state: BeneficiaryState | None) -> BeneficiaryState:
            assert state is not None
            return replace(state, book=state.book.settle(self.line_id, payouts.PAID, self.paid_on,
                                                         self.received_by))

    class PayoutUnpaid(PayoutEvent):
        note: str

        def fold(self, state: BeneficiaryState | None) -> BeneficiaryState:
            assert state is not None
            return replace(state, book=state.book.settle(self.line_id, payouts.UNPAID, None, self.note))

    class PayoutRejected(PayoutEvent):
        booked_on: date
        reason_code: str
        amount_vnd: int  # returned to the office
        # False when the person was moved to cash while the transfer was in
        # flight: no account is used any more, so its details hold nothing.
        holds: bool = True

        def fold(self, state: BeneficiaryState | None) -> BeneficiaryState:
            assert state is not None
            book = state.book.settle(self.line_id, payouts.REJECTED, self.booked_on, self.reason_code)
            hold = payouts.REASON_HOLDS.get(self.reason_code) if self.holds else None
            return replace(state, book=book.with_hold(hold, self.reason_code) if hold else book)

    class LineCancelled(PayoutEvent):
        """Withdrawn by the office: the months are no longer due as the line
        pays them (a death, a back-dated decision). The agent returns the cash."""

        reason: str
        on: date  # the date of the fact that made it so (notice reported, decision signed)
        amount_vnd: int  # the line's amount, handed back by the agent

        def fold(self, state: BeneficiaryState | None) -> BeneficiaryState:
            assert state is not None
            return replace(state, book=state.book.settle(self.line_id, payouts.CANCELLED, None, self.reason))

    class OverpaymentChanged(Event):
        """Money disbursed beyond what is now due, re-derived after a fact
        changed (a death, a back-dated decision, a payment after either):
        the receivable to recover, month by month, and from whom."""

        delta_vnd: int
        total_vnd: int
        months: list[Month]
        amounts: list[int]
        received_by: list[str]
        on: date
        basis: str

        @property
        def basis_text(self) -> str:
            return self.basis

        def fold(self, state: BeneficiaryState | None) -> BeneficiaryState:
            assert state is not None
            return replace(state, book=replace(state.book, overpaid_recorded_vnd=self.total_vnd))

    class ReceiptConfirmed(Event):
        """The commune checked that the payment of a payroll month made into
        the proxy's account reached the beneficiary."""

        month: Month  # the payroll month
        confirmed_on: date
        confirmed_by: str
        method: str  # visit, phone, at_office
        line_ids: list[str]  # the proxy-account lines of that month it confirms
        fingerprint: str

        @property
        def basis_text(self) -> str:
            return f"confirmation {self.month} ({self.confirmed_by})"

        def fold(self, state: BeneficiaryState | None) -> BeneficiaryState:
            assert state is not None
            return replace(state, confirmations={**state.confirmations, str(self.month): self.fingerprint})

    class DeathVerificationRequested(PayoutEvent):
        """A bank reported the account holder deceased (MD07): the commune
        must verify; payment is held meanwhile."""

        reason_code: str

    # --- commands -----------------------------------------------------------

    @classmethod
    def register(cls, decision: Decision, actor: str) -> Beneficiary:
        assert decision.kind == "register" and decision.birth_date is not None
        _check_effective(decision, decision.birth_date)
        return cls._create(
            cls.Registered,
            id=beneficiary_id(decision.citizen_id),
            actor=actor,
            **_decision_meta(decision),
            citizen_id=decision.citizen_id,
            full_name=decision.full_name,
            birth_date=decision.birth_date,
            sex=decision.sex,
            province_code=decision.province_code,
            commune_code=decision.commune_code,
            categories=list(decision.categories),
            children_count=decision.children_count,
            channel=decision.channel,
            agent_code=decision.agent_code,
            bank_account=decision.bank_account,
            home_delivery=decision.home_delivery,
            proxy_name=decision.proxy_name,
            proxy_citizen_id=decision.proxy_citizen_id,
            **({"proxy_bank_account": decision.proxy_bank_account} if decision.proxy_bank_account else {}),
        )

    def already_has(self, decision: Decision) -> bool:
        """True if this exact decision is recorded; raises if its key was
        recorded with other content (a correction needs its own decision)."""
        recorded = self.decisions.get(decision.key)
        if recorded is None:
            return False
        if recorded != decision.fingerprint():
            raise Refused(
                "decision_no",
                f"decision {decision.decision_no} ({decision.kind}) for {decision.citizen_id} "
                "was recorded before with different content",
            )
        return True

    def decide(self, decision: Decision, actor: str) -> None:
        """Record a decision other than the registration."""
        assert self.facts is not None
        if decision.kind == "register":
            raise Refused(
                "citizen_id",
                f"{decision.citizen_id} is already registered "
                f"(from {self.facts.first_month}); use change_category or relocate_in",
            )
        _check_effective(decision, self.facts.birth_date)
        meta = dict(actor=actor, **_decision_meta(decision))
        kind = decision.kind
        if kind in ("change_category", "reassess_disability"):
            event = self.CategoryChanged if kind == "change_category" else self.DisabilityReassessed
            self.trigger_event(
                event, categories=list(decision.categories),
                children_count=decision.children_count, **meta,
            )
        elif kind == "relocate_out":
            self.trigger_event(self.RelocatedOut, **meta)
        elif kind == "relocate_in":
            self.trigger_event(
                self.RelocatedIn, province_code=decision.province_code,
                commune_code=decision.commune_code, channel=decision.channel,
                agent_code=decision.agent_code, bank_account=decision.bank_account,
                home_delivery=decision.home_delivery, **meta,
            )
        elif kind == "change_channel":
            self.trigger_event(
                self.ChannelChanged, channel=decision.channel, agent_code=decision.agent_code,
                bank_account=decision.bank_account, home_delivery=decision.home_delivery, **meta,
            )
        elif kind == "authorize_proxy":
            self.trigger_event(
                self.ProxyAuthorised, proxy_name=decision.proxy_name,
                proxy_citizen_id=decision.proxy_citizen_id,
                **({"proxy_bank_account": decision.proxy_bank_account} if decision.proxy_bank_account else {}),
                **meta,
            )
        elif kind == "revoke_proxy":
            self.trigger_event(self.ProxyRevoked, **meta)
        elif kind in ("suspend", "resume", "terminate"):
            event = {"suspend": self.Suspended, "resume": self.Resumed, "terminate": self.Terminated}[kind]
            self.trigger_event(event, reason=decision.reason, **meta)
        else:  # the edge validates kinds; reaching here is a programming error
            raise AssertionError(f"unknown decision kind {kind!r}")

    # --- payout commands ------------------------------------------------------------

    def issue(self, month: Month, planned, rules_id: str, actor: str) -> None:
        from .payroll import line_id, payroll_id

        channel = self.facts.channels.at(month) or self.facts.channels.latest()
        proxy = self.facts.proxies.at(month)
        residence = self.facts.residences.at(month) or self.facts.residences.latest()
        receiver = proxy.proxy_name if proxy and proxy.proxy_name else self.facts.full_name
        bank_account = channel.bank_account
        # A bank line goes into the proxy's own account while a proxy with
        # one is in force for the month; the line says so, for the commune's
        # confirmation that the money reached the person.
        to_proxy_account = bool(channel.channel == "bank" and proxy and proxy.proxy_name and proxy.bank_account
                                and planned.kind != payouts.FUNERAL)
        if to_proxy_account:
            bank_account = proxy.bank_account
        elif channel.channel == "bank":
            receiver = self.facts.full_name  # the account holder, whom the bank credits
        if planned.kind == payouts.FUNERAL:  # to whoever arranged the funeral
            grant = self.state.book.funeral
            receiver = grant.arranged_by or f"gia đình {self.facts.full_name}"
        self.trigger_event(
            self.PayoutIssued, actor=actor, line_id=line_id(month, self.facts.citizen_id, planned.kind),
            citizen_id=self.facts.citizen_id, full_name=self.facts.full_name,
            document=payroll_id(channel.agent_code, month),
            payroll_id=payroll_id(channel.agent_code, month), agent_code=channel.agent_code,
            channel=channel.channel, payroll_month=month, kind=planned.kind,
            months=list(planned.months), amounts=list(planned.amounts),
            receiver=receiver,
            bank_account=bank_account, home_delivery=channel.home_delivery,
            commune_code=residence.commune_code, rules_id=rules_id,
            # Only when set: the events before it read the same.
            **({"to_proxy_account": True} if to_proxy_account else {}),
        )

    def _line_for_result(self, result: AgentResult) -> PayLine:
        line = self.state.book.line(result.line_id)
        if line is None or line.payroll_id != result.payroll_id:
            raise Refused("line_id", f"line {result.line_id} is not in payroll {result.payroll_id}")
        if result.citizen_id and result.citizen_id != self.facts.citizen_id:
            raise Refused("citizen_id", f"line {result.line_id} was issued to {self.facts.citizen_id}, "
                                        f"not {result.citizen_id}")
        return line

    def record_result(self, result: AgentResult, actor: str) -> bool:
        """Record what an agent reported for a line; False if it was recorded
        before exactly so. A report that contradicts an earlier one is refused."""
        line = self._line_for_result(result)
        if result.status in ("paid", "credited"):
            if result.amount_vnd != line.amount_vnd:
                raise Refused("amount", f"line {line.line_id} was issued for {line.amount_vnd} VND, "
                                        f"reported {result.amount_vnd}")
            if line.status == payouts.PAID:
                if (line.settled_on, line.detail) == (result.on, result.received_by):
                    return False
                raise Refused("status", f"line {line.line_id} was reported paid on {line.settled_on} before")
            if line.status not in payouts.OPEN + (payouts.CANCELLED,):
                raise Refused("status", f"line {line.line_id} is {line.status}: it cannot be paid")
            died = self.facts.death.date_of_death if self.facts.death else None
            # Funeral support is paid after a death by its nature; anything else
            # collected after it is followed up (who collected, and why).
            flags = ["paid_after_death"] if died and result.on > died and line.kind != payouts.FUNERAL else []
            if line.status == payouts.CANCELLED:
                # Paid out before the agent learned of the cancellation: the
                # money is gone and becomes an overpayment, flagged.
                flags.append("paid_after_cancellation")
            self.trigger_event(self.PayoutPaid, actor=actor, **_line(line),
                               document=result.document, paid_on=result.on,
                               amount_vnd=result.amount_vnd, received_by=result.received_by,
                               at_home=result.at_home, source=result.source, flags=flags)
            return True
        if result.status == "unpaid":
            if line.status == payouts.UNPAID:
                return False  # still carried forward
            if line.status != payouts.ISSUED:
                raise Refused("status", f"line {line.line_id} is {line.status}: it cannot be unpaid")
            self.trigger_event(self.PayoutUnpaid, actor=actor, **_line(line),
                               document=result.document, note=result.note)
            return True
        if result.status == "rejected":
            if line.status == payouts.REJECTED:
                if line.detail == result.reason_code:
                    return False
                raise Refused("reason_code", f"line {line.line_id} was rejected with {line.detail} before")
            if line.status != payouts.ISSUED:
                raise Refused("status", f"line {line.line_id} is {line.status}: it cannot be rejected")
            latest = self.facts.channels.latest()
            moot = (payouts.REASON_HOLDS.get(result.reason_code) == payouts.BANK_DETAILS
                    and latest is not None and latest.channel != "bank")
            self.trigger_event(self.PayoutRejected, actor=actor, **_line(line),
                               document=result.document, booked_on=result.on,
                               reason_code=result.reason_code, amount_vnd=line.amount_vnd,
                               **({"holds": False} if moot else {}))
            if payouts.REASON_HOLDS.get(result.reason_code) == payouts.DEATH_VERIFICATION:
                self.trigger_event(self.DeathVerificationRequested, actor=actor, **_line(line),
                                   document=result.document, reason_code=result.reason_code)
            return True
        raise AssertionError(f"unknown result status {result.status!r}")

    def confirm_receipt(self, confirmation: ReceiptConfirmation, actor: str) -> bool:
        """Record the commune's confirmation that the proxy-account payment
        of a payroll month reached the person; False if recorded before
        exactly so. Only a payment credited to a proxy's account can be
        confirmed, and not before it was credited."""
        key = str(confirmation.month)
        recorded = self.state.confirmations.get(key)
        if recorded is not None:
            if recorded != confirmation.fingerprint():
                raise Refused("month", f"the confirmation of {self.facts.citizen_id} for {key} was recorded "
                                       "before with different content")
            return False
        lines = [x for x in self.state.book.lines if x.payroll_month == confirmation.month and x.to_proxy_account]
        if not lines:
            raise Refused("month", f"{self.facts.citizen_id} had no payment into a proxy's account "
                                   f"in the payroll of {key}")
        credited = [x for x in lines if x.status == payouts.PAID]
        if not credited:
            raise Refused("month", f"the proxy-account payment of {self.facts.citizen_id} for {key} is "
                                   f"{lines[-1].status}, not credited: nothing reached anyone to confirm")
        first_credit = min(x.settled_on for x in credited if x.settled_on is not None)
        if confirmation.confirmed_on < first_credit:
            raise Refused("confirmed_on", f"confirmed on {confirmation.confirmed_on}, before the payment "
                                          f"was credited on {first_credit}")
        self.trigger_event(self.ReceiptConfirmed, actor=actor, month=confirmation.month,
                           confirmed_on=confirmation.confirmed_on, confirmed_by=confirmation.confirmed_by,
                           method=confirmation.method, line_ids=[x.line_id for x in credited],
                           fingerprint=confirmation.fingerprint())
        return True

    def suspend_if_unclaimed(self, rules, today: date, actor: str) -> bool:
        """At the rule's threshold of consecutive uncollected rounds, record
        a suspension from the next payroll month (Thông tư 02/2021 Art 2)."""
        rounds, _ = self.state.book.unclaimed_run()
        last = self.state.book.last_payroll_month()
        if last is None:
            return False
        rule = rules.unclaimed_rule(last)
        if rounds < rule.suspend_after_months or self.facts.status_at(last + 1) != f.ACTIVE:
            return False
        self.trigger_event(
            self.Suspended, actor=actor, decision_no=f"UNCLAIMED/{last}", signed_on=today,
            effective=last + 1, fingerprint="", reason=f"{rounds} consecutive months unclaimed ({rule.source})")
        return True

    # --- deaths, corrections, recoveries ---------------------------------------

    def notify_death(self, notice: DeathNotice, rules, actor: str) -> bool:
        """Record a death notice; False if this notice was recorded before.
        Two sources on the same date are one death; a different date needs a
        correcting notice, never a silent choice."""
        recorded = self.state.notices.get(notice.notice_id)
        if recorded is not None:
            if recorded != notice.fingerprint():
                raise Refused("notice_id", f"notice {notice.notice_id} was recorded before with different content")
            return False
        known = self.facts.death
        if notice.date_of_death < self.facts.birth_date:
            raise Refused("date_of_death", "date_of_death is before the birth date")
        if notice.corrects and notice.corrects not in self.state.notices:
            raise Refused("corrects", f"no notice {notice.corrects} is recorded for {self.facts.citizen_id}")
        if known is not None and known.date_of_death != notice.date_of_death and not notice.corrects:
            raise Refused("date_of_death",
                          f"notice {known.notice_id} ({known.source}) gives {known.date_of_death}, this one "
                          f"{notice.date_of_death}: record a correcting notice (column corrects) to resolve it")
        self.trigger_event(
            self.DeathNotified, actor=actor, notice_id=notice.notice_id,
            date_of_death=notice.date_of_death, source=notice.source, reported_on=notice.reported_on,
            document_no=notice.document_no, funeral_arranged_by=notice.funeral_arranged_by,
            corrects=notice.corrects, fingerprint=notice.fingerprint())
        self._grant_funeral_support(notice, rules, actor)
        self.correct_payouts(rules, notice.notice_id, actor, on=notice.reported_on)
        return True

    def _grant_funeral_support(self, notice: DeathNotice, rules, actor: str) -> None:
        """Once per death of a beneficiary entitled at the time (Decree 20 Art 11)."""
        if self.state.book.funeral is not None:
            return
        death_month = Month.containing(notice.date_of_death)
        if death_month < self.facts.first_month or self.facts.status_at(death_month) not in (f.ACTIVE, f.SUSPENDED):
            return
        residence = self.facts.residences.at(death_month) or self.facts.residences.latest()
        amount = rules.funeral_support(residence.province_code, notice.date_of_death)
        if amount:
            self.trigger_event(self.FuneralSupportGranted, actor=actor, notice_id=notice.notice_id,
                               amount_vnd=amount, date_of_death=notice.date_of_death,
                               arranged_by=notice.funeral_arranged_by, rules_id=rules.id)

    def correct_payouts(self, rules, basis: str, actor: str, on: date) -> list[str]:
        """After a fact changed: cancel every open line that pays more than is
        now due, and re-derive the overpayment; returns the cancelled ids."""
        from .clawback import lines_to_cancel, overpayment

        cancelled = []
        for line in lines_to_cancel(self.state, rules):
            self.trigger_event(self.LineCancelled, actor=actor, **_line(line), document=basis,
                               reason=f"no longer due as issued ({basis})", on=on,
                               amount_vnd=line.amount_vnd)
            cancelled.append(line.line_id)
        over = overpayment(self.state, rules)
        recorded = self.state.book.overpaid_recorded_vnd
        if over.amount_vnd != recorded:
            self.trigger_event(self.OverpaymentChanged, actor=actor, delta_vnd=over.amount_vnd - recorded,
                               total_vnd=over.amount_vnd, months=list(over.months), amounts=list(over.amounts),
                               received_by=list(over.received_by), on=on, basis=basis)
        return cancelled

    def record_recovery(self, recovery: payouts.Recovery, rules, actor: str, four_eyes: bool = False) -> bool:
        """Record money back on the overpayment; False if this receipt was
        recorded before exactly so. With ``four_eyes`` a write-off is only
        proposed (see ``approve_write_off``)."""
        from .clawback import funeral_to_issue_vnd, open_overpayment_vnd

        for earlier in self.state.book.recoveries:
            if earlier.receipt_no == recovery.receipt_no:
                if four_eyes and earlier.method == recovery.method == "write_off":
                    # Proposed again after its approval: the same write-off is not made twice.
                    if (earlier.amount_vnd, earlier.decision_no, earlier.reason) != \
                            (recovery.amount_vnd, recovery.decision_no, recovery.reason):
                        raise Refused("receipt_no", f"write-off {recovery.receipt_no} was approved before "
                                                    "with different content")
                    return False
                if earlier != recovery:
                    raise Refused("receipt_no", f"receipt {recovery.receipt_no} was recorded before "
                                                "with different content")
                return False
        open_vnd = open_overpayment_vnd(self.state, rules)
        if recovery.amount_vnd > open_vnd:
            raise Refused("amount", f"{recovery.amount_vnd} VND is more than the open overpayment "
                                    f"of {self.facts.citizen_id} ({open_vnd} VND)")
        if recovery.method in ("offset", "write_off") and not recovery.decision_no:
            raise Refused("decision_no", f"a {recovery.method} needs a decision")
        if recovery.method == "write_off" and not recovery.reason:
            raise Refused("reason", "a write_off needs a reason")
        if recovery.method == "offset" and recovery.amount_vnd > funeral_to_issue_vnd(self.state):
            raise Refused("amount", f"the estate is owed {funeral_to_issue_vnd(self.state)} VND "
                                    "of funeral support not yet paid: an offset cannot exceed it")
        if recovery.method == "write_off" and four_eyes:
            return self._propose_write_off(recovery, open_vnd, actor)
        self.trigger_event(self.RecoveryRecorded, actor=actor, receipt_no=recovery.receipt_no,
                           amount_vnd=recovery.amount_vnd, paid_on=recovery.paid_on,
                           paid_by=recovery.paid_by, method=recovery.method,
                           decision_no=recovery.decision_no, reason=recovery.reason,
                           proposed_by=actor if recovery.method == "write_off" else "")
        return True

    # --- write-offs: proposed by one person, approved by another -------------------

    def propose_write_off(self, recovery: payouts.Recovery, rules, actor: str) -> bool:
        """Propose writing off (part of) the open overpayment; False if this
        proposal was made (or approved) before exactly so."""
        return self.record_recovery(replace(recovery, method="write_off"), rules, actor, four_eyes=True)

    def _propose_write_off(self, recovery: payouts.Recovery, open_vnd: int, actor: str) -> bool:
        pending = self.state.book.proposal(recovery.receipt_no)
        if pending is not None:
            if (pending.amount_vnd, pending.decision_no, pending.reason) != \
                    (recovery.amount_vnd, recovery.decision_no, recovery.reason):
                raise Refused("receipt_no", f"write-off {recovery.receipt_no} was proposed before with "
                                            "different content")
            return False
        awaiting = sum(p.amount_vnd for p in self.state.book.proposals)
        if recovery.amount_vnd > open_vnd - awaiting:
            raise Refused("amount", f"{recovery.amount_vnd} VND is more than the open overpayment of "
                                    f"{self.facts.citizen_id} ({open_vnd} VND) less the write-offs awaiting "
                                    f"approval ({awaiting} VND)")
        self.trigger_event(self.WriteOffProposed, actor=actor, receipt_no=recovery.receipt_no,
                           amount_vnd=recovery.amount_vnd, decision_no=recovery.decision_no,
                           reason=recovery.reason, proposed_on=recovery.paid_on)
        return True

    def approve_write_off(self, receipt_no: str, rules, actor: str, on: date, four_eyes: bool = True) -> bool:
        """Record the proposed write-off (the money moves now); False if it
        was approved before. Never by the person who proposed it."""
        from .clawback import open_overpayment_vnd

        if any(r.receipt_no == receipt_no and r.method == "write_off" for r in self.state.book.recoveries):
            return False
        proposal = self.state.book.proposal(receipt_no)
        if proposal is None:
            raise Refused("receipt_no", f"no write-off {receipt_no} of {self.facts.citizen_id} awaits approval")
        if four_eyes and proposal.proposed_by == actor:
            raise SamePersonRefused("actor", f"{actor} proposed write-off {receipt_no} of {self.facts.citizen_id}: "
                                             "another person must approve it (four eyes)")
        open_vnd = open_overpayment_vnd(self.state, rules)
        if proposal.amount_vnd > open_vnd:
            raise Refused("amount", f"write-off {receipt_no} is {proposal.amount_vnd} VND but only {open_vnd} VND "
                                    "is open now: reject it and propose it again")
        self.trigger_event(self.RecoveryRecorded, actor=actor, receipt_no=receipt_no,
                           amount_vnd=proposal.amount_vnd, paid_on=on, paid_by="", method="write_off",
                           decision_no=proposal.decision_no, reason=proposal.reason,
                           proposed_by=proposal.proposed_by)
        return True

    def reject_write_off(self, receipt_no: str, actor: str, reason: str, four_eyes: bool = True) -> bool:
        """Turn a proposed write-off down (nothing moves); False if nothing awaits."""
        proposal = self.state.book.proposal(receipt_no)
        if proposal is None:
            if any(r.receipt_no == receipt_no and r.method == "write_off" for r in self.state.book.recoveries):
                raise Refused("receipt_no", f"write-off {receipt_no} was approved: it cannot be rejected")
            return False
        if not reason.strip():
            raise Refused("reason", "a rejection needs a reason")
        if four_eyes and proposal.proposed_by == actor:
            raise SamePersonRefused("actor", f"{actor} proposed write-off {receipt_no}: another person decides on it")
        self.trigger_event(self.WriteOffRejected, actor=actor, receipt_no=receipt_no,
                           decision_no=proposal.decision_no, proposed_by=proposal.proposed_by, reason=reason)
        return True


def _line(line: PayLine) -> dict:
    """The line fields every payout event carries."""
    return dict(line_id=line.line_id, agent_code=line.agent_code, kind=line.kind)


def _decision_meta(decision: Decision) -> dict:
    return dict(
        decision_no=decision.decision_no,
        signed_on=decision.signed_on,
        effective=decision.effective,
        fingerprint=decision.fingerprint(),
    )


def _check_effective(decision: Decision, birth_date: date) -> None:
    if decision.effective < Month.containing(birth_date):
        raise Refused(
            "effective_month",
            f"effective month {decision.effective} is before the birth month "
            f"{Month.containing(birth_date)}",
        )
