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
from .decisions import Decision, DecisionRejected
from .facts import BeneficiaryFacts, Basis
from .months import Month
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

        def evolve(self, facts: BeneficiaryFacts | None) -> BeneficiaryFacts:
            assert facts is None, "a beneficiary is registered once"
            b = self.basis
            return (
                BeneficiaryFacts(
                    self.citizen_id, self.full_name, self.birth_date, self.sex, self.effective
                )
                .with_category(f.CategoryFact(b, tuple(self.categories), self.children_count))
                .with_status(f.StatusFact(b, f.ACTIVE))
                .with_residence(f.ResidenceFact(b, self.province_code, self.commune_code))
                .with_channel(
                    f.ChannelFact(b, self.channel, self.agent_code, self.bank_account, self.home_delivery)
                )
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
        kind = "relocate_in"
        province_code: str
        commune_code: str

        def evolve(self, facts: BeneficiaryFacts | None) -> BeneficiaryFacts:
            assert facts is not None
            b = self.basis
            return facts.with_residence(
                f.ResidenceFact(b, self.province_code, self.commune_code)
            ).with_status(f.StatusFact(b, f.ACTIVE))

    class ChannelChanged(DecisionEvent):
        kind = "change_channel"
        channel: str
        agent_code: str
        bank_account: str
        home_delivery: bool

        def evolve(self, facts: BeneficiaryFacts | None) -> BeneficiaryFacts:
            assert facts is not None
            return facts.with_channel(
                f.ChannelFact(self.basis, self.channel, self.agent_code, self.bank_account, self.home_delivery)
            )

    class ProxyAuthorised(DecisionEvent):
        kind = "authorize_proxy"
        proxy_name: str
        proxy_citizen_id: str

        def evolve(self, facts: BeneficiaryFacts | None) -> BeneficiaryFacts:
            assert facts is not None
            return facts.with_proxy(f.ProxyFact(self.basis, self.proxy_name, self.proxy_citizen_id))

    class ProxyRevoked(DecisionEvent):
        kind = "revoke_proxy"

        def evolve(self, facts: BeneficiaryFacts | None) -> BeneficiaryFacts:
            assert facts is not None
            return facts.with_proxy(f.ProxyFact(self.basis))

    class StatusDecided(DecisionEvent):
        """Base of suspension, resumption and termination."""

        reason: str
        status = ""

        def evolve(self, facts: BeneficiaryFacts | None) -> BeneficiaryFacts:
            assert facts is not None
            return facts.with_status(f.StatusFact(self.basis, self.status, self.reason))

    class Suspended(StatusDecided):
        kind = "suspend"
        status = f.SUSPENDED

    class Resumed(StatusDecided):
        kind = "resume"
        status = f.ACTIVE

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
        fingerprint: str

        def fold(self, state: BeneficiaryState | None) -> BeneficiaryState:
            folded = super().fold(state)
            return replace(folded, notices={**folded.notices, self.notice_id: self.fingerprint})

        def evolve(self, facts: BeneficiaryFacts | None) -> BeneficiaryFacts:
            assert facts is not None
            if facts.death is not None:  # a second source confirming the same death
                return facts
            return facts.with_death(
                f.DeathFact(self.date_of_death, self.notice_id, self.source, self.reported_on)
            )

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
        )

    def already_has(self, decision: Decision) -> bool:
        """True if this exact decision is recorded; raises if its key was
        recorded with other content (a correction needs its own decision)."""
        recorded = self.decisions.get(decision.key)
        if recorded is None:
            return False
        if recorded != decision.fingerprint():
            raise DecisionRejected(
                "decision_no",
                f"decision {decision.decision_no} ({decision.kind}) for {decision.citizen_id} "
                "was recorded before with different content",
            )
        return True

    def decide(self, decision: Decision, actor: str) -> None:
        """Record a decision other than the registration."""
        assert self.facts is not None
        if decision.kind == "register":
            raise DecisionRejected(
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
                commune_code=decision.commune_code, **meta,
            )
        elif kind == "change_channel":
            self.trigger_event(
                self.ChannelChanged, channel=decision.channel, agent_code=decision.agent_code,
                bank_account=decision.bank_account, home_delivery=decision.home_delivery, **meta,
            )
        elif kind == "authorize_proxy":
            self.trigger_event(
                self.ProxyAuthorised, proxy_name=decision.proxy_name,
                proxy_citizen_id=decision.proxy_citizen_id, **meta,
            )
        elif kind == "revoke_proxy":
            self.trigger_event(self.ProxyRevoked, **meta)
        elif kind in ("suspend", "resume", "terminate"):
            event = {"suspend": self.Suspended, "resume": self.Resumed, "terminate": self.Terminated}[kind]
            self.trigger_event(event, reason=decision.reason, **meta)
        else:  # the edge validates kinds; reaching here is a programming error
            raise AssertionError(f"unknown decision kind {kind!r}")


def _decision_meta(decision: Decision) -> dict:
    return dict(
        decision_no=decision.decision_no,
        signed_on=decision.signed_on,
        effective=decision.effective,
        fingerprint=decision.fingerprint(),
    )


def _check_effective(decision: Decision, birth_date: date) -> None:
    if decision.effective < Month.containing(birth_date):
        raise DecisionRejected(
            "effective_month",
            f"effective month {decision.effective} is before the birth month "
            f"{Month.containing(birth_date)}",
        )
