"""A beneficiary's facts as known now: effective-dated timelines.

Each fact carries the month it takes effect and the decision it rests on. A
timeline is kept sorted by (effective month, signing date, decision number),
so the state in force in any month does not depend on the order in which
facts were recorded: a back-dated decision simply slots into the past.
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Generic, TypeVar

from .months import Month

ACTIVE = "active"
SUSPENDED = "suspended"
TERMINATED = "terminated"
RELOCATED_OUT = "relocated_out"
DECEASED = "deceased"


@dataclass(frozen=True, slots=True)
class Basis:
    """When a fact applies and what it rests on."""

    effective: Month
    signed_on: date
    decision_no: str

    @property
    def order(self) -> tuple[int, date, str]:
        return (self.effective.index, self.signed_on, self.decision_no)


@dataclass(frozen=True, slots=True)
class CategoryFact:
    basis: Basis
    categories: tuple[str, ...]
    children_count: int = 0


@dataclass(frozen=True, slots=True)
class StatusFact:
    basis: Basis
    status: str
    reason: str = ""
    # A resumption ends the suspension before it: the held months become
    # payable again (back pay, truy lĩnh), not only the months after it.
    lifts_hold: bool = False
    # A move into the new district (relocate_in) ends the move out before
    # it: the months in between are due, paid once as arrears by the new
    # agent (domain.md, "Moving to another district").
    ends_move: bool = False


@dataclass(frozen=True, slots=True)
class ResidenceFact:
    basis: Basis
    province_code: str
    commune_code: str


@dataclass(frozen=True, slots=True)
class ChannelFact:
    basis: Basis
    channel: str  # "cash" or "bank"
    agent_code: str
    bank_account: str = ""
    home_delivery: bool = False


@dataclass(frozen=True, slots=True)
class ProxyFact:
    basis: Basis
    proxy_name: str = ""  # empty: no proxy (revoked)
    proxy_citizen_id: str = ""
    # The proxy's own account: bank lines go there while the proxy is in
    # force (empty: to the beneficiary's account, as the channel says).
    bank_account: str = ""


F = TypeVar("F", CategoryFact, StatusFact, ResidenceFact, ChannelFact, ProxyFact)


@dataclass(frozen=True, slots=True)
class Timeline(Generic[F]):
    facts: tuple[F, ...] = ()

    def add(self, fact: F) -> Timeline[F]:
        keys = [f.basis.order for f in self.facts]
        index = bisect.bisect_right(keys, fact.basis.order)
        return Timeline(self.facts[:index] + (fact,) + self.facts[index:])

    def at(self, month: Month) -> F | None:
        """The fact in force in ``month`` (the last one effective by then)."""
        found = None
        for fact in self.facts:
            if fact.basis.effective > month:
                break
            found = fact
        return found

    def latest(self) -> F | None:
        return self.facts[-1] if self.facts else None

    def months(self) -> set[Month]:
        return {f.basis.effective for f in self.facts}


@dataclass(frozen=True, slots=True)
class DeathFact:
    date_of_death: date
    notice_id: str
    source: str
    reported_on: date


@dataclass(frozen=True, slots=True)
class BeneficiaryFacts:
    citizen_id: str
    full_name: str
    birth_date: date
    sex: str
    first_month: Month
    categories: Timeline[CategoryFact] = field(default_factory=Timeline)
    statuses: Timeline[StatusFact] = field(default_factory=Timeline)
    residences: Timeline[ResidenceFact] = field(default_factory=Timeline)
    channels: Timeline[ChannelFact] = field(default_factory=Timeline)
    proxies: Timeline[ProxyFact] = field(default_factory=Timeline)
    death: DeathFact | None = None
    # The schedule computed from these facts under a rule set, memoised on
    # this immutable value (see entitlement.segments); never compared, and
    # dropped by every change below.
    schedule_memo: tuple | None = field(default=None, compare=False, hash=False, repr=False)

    def with_category(self, fact: CategoryFact) -> BeneficiaryFacts:
        return replace(self, categories=self.categories.add(fact), schedule_memo=None)

    def with_status(self, fact: StatusFact) -> BeneficiaryFacts:
        return replace(self, statuses=self.statuses.add(fact), schedule_memo=None)

    def with_residence(self, fact: ResidenceFact) -> BeneficiaryFacts:
        return replace(self, residences=self.residences.add(fact), schedule_memo=None)

    def with_channel(self, fact: ChannelFact) -> BeneficiaryFacts:
        return replace(self, channels=self.channels.add(fact), schedule_memo=None)

    def with_proxy(self, fact: ProxyFact) -> BeneficiaryFacts:
        return replace(self, proxies=self.proxies.add(fact), schedule_memo=None)

    def with_death(self, fact: DeathFact) -> BeneficiaryFacts:
        return replace(self, death=fact, schedule_memo=None)

    @property
    def amended(self) -> bool:
        """Anything decided or notified beyond the registration that could
        lower what is due (channels and proxies cannot)."""
        return (self.death is not None or len(self.categories.facts) > 1
                or len(self.statuses.facts) > 1 or len(self.residences.facts) > 1)

    @property
    def death_month(self) -> Month | None:
        return Month.containing(self.death.date_of_death) if self.death else None

    def status_decisions(self) -> tuple[StatusFact, ...]:
        """The status decisions that take effect, in effective order. A
        suspension while the person is relocated out is moot: the commune
        verified that the person moved (domain.md, "Verified as moved beats
        suspension"), whichever was recorded first."""
        kept: list[StatusFact] = []
        for fact in self.statuses.facts:
            if fact.status == SUSPENDED and kept and kept[-1].status == RELOCATED_OUT:
                continue
            kept.append(fact)
        return tuple(kept)

    def status_at(self, month: Month) -> str:
        """Status in force in a month: deceased after the month of death;
        a suspended month counts as active once a later resumption lifts
        the hold (the person was eligible throughout), and so does a month
        between a move out and the move into the new district."""
        if self.death_month is not None and month > self.death_month:
            return DECEASED
        facts = self.status_decisions()
        index = _index_at(facts, month)
        if index is None:
            return ACTIVE
        status = facts[index].status
        following = facts[index + 1] if index + 1 < len(facts) else None
        if following is not None:
            if status == SUSPENDED and following.lifts_hold:
                return ACTIVE
            if status == RELOCATED_OUT and following.ends_move:
                return ACTIVE
        return status

    def in_transit(self, month: Month) -> bool:
        """Moved out of the district as of this month (whether or not a move
        in follows): no agent is issued anything for a payroll of this
        month; once the person is in, the new agent pays it as arrears."""
        facts = self.status_decisions()
        index = _index_at(facts, month)
        return index is not None and facts[index].status == RELOCATED_OUT

    def current_status(self) -> str:
        """The status the facts end in (deceased wins; otherwise the last
        status decision that takes effect, whatever month it takes effect)."""
        if self.death is not None:
            return DECEASED
        facts = self.status_decisions()
        return facts[-1].status if facts else ACTIVE

    def fact_months(self) -> set[Month]:
        months = {self.first_month}
        for timeline in (self.categories, self.statuses, self.residences):
            months |= timeline.months()
        if self.death_month is not None:
            months.add(self.death_month + 1)
        return months


def _index_at(facts: tuple[StatusFact, ...], month: Month) -> int | None:
    """The index of the status fact in force in ``month`` (None: before any)."""
    index = None
    for i, fact in enumerate(facts):
        if fact.basis.effective > month:
            break
        index = i
    return index
