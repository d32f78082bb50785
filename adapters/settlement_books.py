"""A month's settlement from the event store, for its close: the events
that move an agent's float read through the recorder (by topic, from the
position the last close recorded; ledger/settlement_book.py says why
there), folded with ledger/money.py; the agents' reports from the payroll
calendar; the people behind flagged payments loaded from their events.
No view is read: what the close records is the books' own figures.

``view_differences`` then sets the postings view's settlement beside
them: they differ only if the view was altered (``ledger replay`` shows
which), and the close says so."""
from __future__ import annotations

from dataclasses import dataclass

from eventsourcing.utils import get_topic

from ledger import settlement
from ledger.months import Month
from ledger.payouts import FUNERAL, PAID
from ledger.payroll import PayrollCalendar, citizen_of_line
from ledger.settlement import AgentSettlement
from ledger.settlement_book import FLOAT_EVENTS, AgentFloat, FloatBook, LastClose

from .bootstrap import Runtime

PAGE_EVENTS = 5000  # events decoded at a time: the close's memory stays flat
FIGURES = (("opening_balance", "opening"), ("advance", "advance"), ("disbursed", "disbursed"), ("fee", "fee"),
           ("returned", "returned"), ("closing_balance", "closing"))


@dataclass(frozen=True)
class MonthBooks:
    month: Month
    settlements: list[AgentSettlement]  # with the books' variances (reports, flagged payments)
    books_from: int  # where the next close reads from
    events_read: int

    def settled(self) -> dict[str, dict]:
        """Each agent's figures as the close records them."""
        return {s.agent_code: {recorded: getattr(s, name) for name, recorded in FIGURES}
                for s in self.settlements}

    def variance_keys(self) -> list[str]:
        return [v.key(s.agent_code) for s in self.settlements for v in s.variances]


def last_close(calendar: PayrollCalendar, month: Month) -> LastClose | None:
    """The last close before ``month``, if it recorded all the next one
    starts from (closing balances, its chain position, where to read);
    None: read from the first event."""
    earlier = sorted(m for m in calendar.closed if m < str(month))
    if not earlier:
        return None
    last = earlier[-1]
    agents = calendar.closed[last]
    seal = calendar.seals.get(last)
    books_from = calendar.books_from.get(last)
    if (seal is None or not seal["position"] or not books_from
            or any("closing" not in figures for figures in agents.values())):
        return None
    return LastClose(Month.parse(last), seal["position"], {code: f["closing"] for code, f in agents.items()},
                     books_from)


def month_books(runtime: Runtime, calendar: PayrollCalendar, month: Month, head_position: int) -> MonthBooks:
    """Each agent's settlement for ``month`` from the events up to
    ``head_position`` (the head the month is closed on)."""
    app = runtime.app
    book = FloatBook(month, last_close(calendar, month))
    topics = [get_topic(cls) for cls in FLOAT_EVENTS]
    start, read = book.start(), 0
    while start <= head_position:
        found = app.recorder.select_notifications(start, PAGE_EVENTS, stop=head_position, topics=topics)
        for notification in found:
            book.add(notification.id, app.mapper.to_domain_event(notification))
        read += len(found)
        if len(found) < PAGE_EVENTS:
            break
        start = found[-1].id + 1
    agents = dict(book.agents)
    for code in calendar.months.get(str(month), {}):  # an agent of the month's payroll, even with no movement
        agents.setdefault(code, AgentFloat())
    flagged = _flagged_lines(runtime, book, month)
    settlements = []
    for code, figures in sorted(agents.items()):
        fee = settlement.fee_for(runtime.contracts, code, month, paid_vnd=figures.paid_vnd,
                                 persons_paid=len(figures.paid_citizens))
        result = settlement.settle(code, month, opening=figures.opening, advance=figures.advance,
                                   disbursed=figures.disbursed, returned=figures.returned, fee=fee,
                                   report=calendar.reports.get(f"{code}/{month}"))
        result.variances += [settlement.flagged_variance(line, other) for line, other in flagged.get(code, [])]
        settlements.append(result)
    return MonthBooks(month, settlements, book.next_books_from(head_position), read)


def _flagged_lines(runtime: Runtime, book: FloatBook, month: Month) -> dict[str, list[tuple[dict, set[str]]]]:
    """By agent, in line order: each line paid in the month and flagged for
    follow-up, as the settlement describes it, with the months its person
    was paid on other lines (paid in the books up to the month) from the
    person's own events."""
    lines = book.flagged_lines()
    people = runtime.app.beneficiaries({citizen_of_line(line) or "" for line in lines})
    found: dict[str, list[tuple[dict, set[str]]]] = {}
    for line_id, code in sorted(lines.items()):
        citizen = citizen_of_line(line_id) or ""
        person = people.get(citizen)
        paid_line = person.state.book.line(line_id) if person is not None else None
        if paid_line is None:  # a result recorded on a person's line is in that person's events
            raise AssertionError(f"{line_id}: paid in {month} but not in its person's events")
        other_months = {str(m) for other in person.state.book.lines
                        if other.line_id != line_id and other.status == PAID and other.kind != FUNERAL
                        and other.settled_on is not None and Month.containing(other.settled_on) <= month
                        for m in other.months}
        described = dict(line_id=line_id, citizen_id=citizen, amount_vnd=paid_line.amount_vnd,
                         months=";".join(str(m) for m in paid_line.months),
                         settled_on=paid_line.settled_on.isoformat() if paid_line.settled_on else None,
                         flags=";".join(book.flags_of(line_id)))
        found.setdefault(code, []).append((described, other_months))
    return found


@dataclass(frozen=True)
class ViewDiffers:
    """One thing the views' settlement shows otherwise than the books: a
    figure (both amounts), a variance (``key``) or a whole agent found on
    one side only."""

    agent_code: str
    figure: str = ""  # a field of AgentSettlement, e.g. "disbursed"
    in_view: int | None = None
    in_books: int | None = None
    variance: str = ""  # a variance's key, found in the books only or in the view only
    side: str = ""  # "books" or "view": where the variance or the agent alone is

    def __str__(self) -> str:
        if self.figure:
            return (f"{self.agent_code}: {self.figure.replace('_', ' ')} {self.in_view:,} in the view, "
                    f"{self.in_books:,} in the books")
        if self.variance:
            return f"{self.agent_code}: variance {self.variance} in the {self.side} only"
        return f"{self.agent_code}: in the {'views' if self.side == 'view' else 'books'} only"


def view_differences(books: list[AgentSettlement], view: list[AgentSettlement]) -> list[ViewDiffers]:
    """Where the settlement read from the views differs from the books:
    each figure with both amounts, each variance or agent on one side only."""
    by_agent = {s.agent_code: s for s in view}
    differences: list[ViewDiffers] = []
    for s in books:
        shown = by_agent.pop(s.agent_code, None)
        if shown is None:
            differences.append(ViewDiffers(s.agent_code, side="books"))
            continue
        differences += [ViewDiffers(s.agent_code, name, getattr(shown, name), getattr(s, name))
                        for name, _ in FIGURES if getattr(shown, name) != getattr(s, name)]
        booked = [v.key(s.agent_code) for v in s.variances]
        seen = [v.key(s.agent_code) for v in shown.variances]
        differences += [ViewDiffers(s.agent_code, variance=key, side="books") for key in booked if key not in seen]
        differences += [ViewDiffers(s.agent_code, variance=key, side="view") for key in seen if key not in booked]
    differences += [ViewDiffers(code, side="view") for code in sorted(by_agent)]
    return differences
