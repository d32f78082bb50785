"""The agents' floats as the events say, for a month's close: what the
close records is folded here from the events that move an agent's float,
through the one definition of each event's money (``money.EFFECTS``) and
of the period a posting lands in (``postings.period_of``), so it equals
the postings view's settlement unless that view was altered.

Which events are read. A posting's period is the month its money moved
in, or, when that month was already closed as it was recorded, the first
open month. Months close in order, so when month M is closed after month
L (the last close), M's periods (L, M] hold:

- every posting recorded after L's close (its chain position), with its
  month moved up to L + 1 when it was at or before L, and
- the postings recorded before L's close for a month after L (a payroll of
  M released, or results dated in M, before L was closed).

The second kind is why a close cannot fold only what came after the last
close. Each close records ``books_from``: the position of the first event
it read that has a posting for a month after the one it closes (else the
position after its head). Every such event is at or after it, so the next
close reads from there, and never the whole history. A ledger whose last
close did not record it (closed before it was kept), or that has none,
is read from its first event, once."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from .beneficiary import Beneficiary
from .money import citizen_of, effect_of
from .months import Month
from .payroll import PayrollCalendar
from .postings import PAID_KINDS, float_of, period_of

# The events whose postings touch an agent's float (money.EFFECTS says
# how), and PayoutUnpaid, which moves no money but is a line's latest
# result (it clears the flags of a payment it follows).
FLOAT_EVENTS: tuple[type, ...] = (
    Beneficiary.PayoutIssued, Beneficiary.PayoutPaid, Beneficiary.PayoutUnpaid, Beneficiary.PayoutRejected,
    Beneficiary.LineCancelled, PayrollCalendar.MonthClosed,
)
# The other events that move money: between the office's own accounts
# (overpayments, recoveries, a funeral grant owed), never an agent's float.
# Every class of money.EFFECTS is in one of the two (tests/test_money.py),
# so a new one is not left out of the close unnoticed.
NO_AGENT_FLOAT: frozenset[type] = frozenset({
    Beneficiary.OverpaymentChanged, Beneficiary.RecoveryRecorded, Beneficiary.FuneralSupportGranted,
})


@dataclass(frozen=True)
class LastClose:
    """The close the month's books start from."""

    month: Month
    chain_position: int  # the last event recorded before it
    closings: Mapping[str, int]  # agent code -> closing balance recorded at it
    books_from: int  # the first position the next close must read


@dataclass
class AgentFloat:
    opening: int = 0  # the float before the month: what the agent still owed beneficiaries
    advance: int = 0  # the month's new lines, as issued
    disbursed: int = 0
    returned: int = 0
    paid_vnd: int = 0  # paid to beneficiaries in the month (the fee's base)
    paid_citizens: set[str] = field(default_factory=set)

    @property
    def closing(self) -> int:
        return self.opening + self.advance - self.disbursed - self.returned


class FloatBook:
    """The fold: ``add(position, event)`` for each event of FLOAT_EVENTS
    from ``start()`` on, in position order, up to the head the month is
    closed on."""

    def __init__(self, month: Month, last: LastClose | None) -> None:
        self.month, self.last = month, last
        self.agents: dict[str, AgentFloat] = {}
        if last is not None:
            for code, closing in last.closings.items():
                self.agents[code] = AgentFloat(opening=closing)
        # Read from the first event: the months closed so far, as a replay of the view tracks them.
        self._closed: Month | None = None
        self._paid_in_month: dict[str, str] = {}  # line id -> agent, paid (a PAID_KINDS posting) in the month
        self._flags: dict[str, tuple[str, ...]] = {}  # line id -> the flags of its latest result
        self.books_from: int | None = None  # the first event read with a posting after the month

    def start(self) -> int:
        """The first position to read."""
        return self.last.books_from if self.last is not None else 0

    def add(self, position: int, event: object) -> None:
        effect = effect_of(event)
        if effect is None:
            return
        if effect.line is not None:
            self._flags[effect.line.line_id] = effect.line.flags
        is_close = isinstance(event, PayrollCalendar.MonthClosed)
        citizen = citizen_of(event)
        for posting in effect.postings:
            if not posting.agent_code:
                continue
            if posting.month > self.month and self.books_from is None:
                self.books_from = position
            period = self._period(position, posting.month, is_close)
            if period is None or period > self.month:
                continue
            agent = self.agents.setdefault(posting.agent_code, AgentFloat())
            if period < self.month:
                account = float_of(posting.agent_code)
                agent.opening += ((posting.amount_vnd if posting.debit == account else 0)
                                  - (posting.amount_vnd if posting.credit == account else 0))
                continue
            kind = posting.kind
            if kind == "advance":  # the fee's advance is not the beneficiaries' money
                agent.advance += posting.amount_vnd
            elif kind == "disbursed":
                agent.disbursed += posting.amount_vnd
            elif kind == "returned":
                agent.returned += posting.amount_vnd
            if kind in PAID_KINDS:
                agent.paid_vnd += posting.amount_vnd
                agent.paid_citizens.add(citizen)
                self._paid_in_month[posting.line_id] = posting.agent_code
        if is_close and self.last is None:
            self._closed = event.month

    def _period(self, position: int, natural: Month, is_close: bool) -> Month | None:
        """The posting's period, or None when it is in a month closed
        before this one (summed in the last close's closing balances)."""
        last = self.last
        if last is None:  # from the first event: as the view assigned it
            return natural if is_close else period_of(natural, self._closed)
        if position <= last.chain_position:  # recorded before the last close
            return natural if natural > last.month else None
        period = natural if is_close else period_of(natural, last.month)
        return period if period > last.month else None

    def flagged_lines(self) -> dict[str, str]:
        """Line id -> agent: the lines paid in the month whose latest result
        is flagged for follow-up (paid after a death or a cancellation)."""
        return {line: code for line, code in self._paid_in_month.items() if self._flags.get(line)}

    def flags_of(self, line_id: str) -> tuple[str, ...]:
        return self._flags.get(line_id, ())

    def next_books_from(self, head_position: int) -> int:
        """Where the next close reads from (see the module's docstring)."""
        return self.books_from if self.books_from is not None else head_position + 1
