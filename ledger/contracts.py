"""Payment agents' contracts as data: the fee, as a percentage of the amount
actually paid (with an optional monthly cap) or a fixed amount per person
paid, per agent, with effective dates (domain.md: Bắc Kạn at most 1.05 %,
Hòa Bình 0.8 %, Ho Chi Minh City 6,600 VND per person)."""
from __future__ import annotations

from datetime import date
from decimal import Decimal
from fractions import Fraction
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .months import Month
from .rules import round_vnd


class Contract(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # An agent code, or a prefix ending in '*' (e.g. "VNPOST-*") for every
    # agent of a network; the most specific match applies.
    agent: str = Field(pattern=r"^[A-Za-z0-9_.-]+\*?$")
    effective_from: date
    fee: Literal["percent", "per_person"]
    percent: Decimal | None = Field(default=None, ge=0, le=100)
    cap_vnd: int | None = Field(default=None, gt=0)  # per agent and month
    per_person_vnd: int | None = Field(default=None, ge=0)
    # For a bank: its profile (adapters/formats/banks/<name>.toml), which says
    # how its credit-transfer files are written.
    bank_profile: str | None = Field(default=None, pattern=r"^[a-z0-9_-]+$")
    source: str

    @model_validator(mode="after")
    def _complete(self) -> Contract:
        if self.fee == "percent" and self.percent is None:
            raise ValueError("a percent fee needs percent")
        if self.fee == "per_person" and self.per_person_vnd is None:
            raise ValueError("a per_person fee needs per_person_vnd")
        return self

    def matches(self, agent_code: str) -> bool:
        if self.agent.endswith("*"):
            return agent_code.startswith(self.agent[:-1])
        return agent_code == self.agent

    def fee_vnd(self, disbursed_vnd: int, persons_paid: int) -> int:
        if self.fee == "per_person":
            return persons_paid * (self.per_person_vnd or 0)
        fee = round_vnd(Fraction(self.percent) * disbursed_vnd / 100)
        return min(fee, self.cap_vnd) if self.cap_vnd else fee


class Contracts(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    contracts: list[Contract]

    def for_agent(self, agent_code: str, month: Month) -> Contract | None:
        day = month.first_day
        candidates = [c for c in self.contracts if c.matches(agent_code) and c.effective_from <= day]
        # Exact codes beat prefixes, then the latest in force.
        candidates.sort(key=lambda c: (not c.agent.endswith("*"), len(c.agent), c.effective_from))
        return candidates[-1] if candidates else None

    def bank_profile(self, agent_code: str, month: Month) -> str | None:
        contract = self.for_agent(agent_code, month)
        return contract.bank_profile if contract else None

    def fee_vnd(self, agent_code: str, month: Month, disbursed_vnd: int, persons_paid: int) -> int:
        contract = self.for_agent(agent_code, month)
        return contract.fee_vnd(disbursed_vnd, persons_paid) if contract else 0
