"""The whole state of one beneficiary, as an immutable value folded from
its events: the facts (decisions and notices), the payout book, and the
keys already recorded (so re-imports record nothing twice).

The aggregate holds one; the read model keeps the same value per person, so
bulk commands can restore aggregates without replaying every event."""
from __future__ import annotations

from dataclasses import dataclass, field

from .facts import BeneficiaryFacts
from .payouts import PayoutBook


@dataclass(frozen=True, slots=True)
class BeneficiaryState:
    facts: BeneficiaryFacts
    book: PayoutBook = field(default_factory=PayoutBook)
    decisions: dict[str, str] = field(default_factory=dict)  # decision key -> fingerprint
    notices: dict[str, str] = field(default_factory=dict)  # death notice id -> fingerprint
    # payroll month -> fingerprint of the commune's confirmation that the
    # proxy-account payment of that month reached the person
    confirmations: dict[str, str] = field(default_factory=dict)
