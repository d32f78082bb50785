"""Every event class is classified once: it moves money (ledger/money.py
says how, for the books, the audit timeline and the payout view alike) or
it is listed as moving none. A new event class fails here until someone
decides which."""
from __future__ import annotations

import importlib
import pkgutil

from eventsourcing.domain import Aggregate

import ledger
from ledger.beneficiary import Beneficiary
from ledger.history import HistorySeals
from ledger.money import EFFECTS, MOVES_NO_MONEY
from ledger.imports import ImportReceipt
from ledger.payroll import PayrollCalendar


def event_classes(*extra: type) -> set[type]:
    """Every event class of every aggregate defined in ledger/ (and any given)."""
    aggregates = set()
    for module in pkgutil.iter_modules(ledger.__path__):
        for value in vars(importlib.import_module(f"ledger.{module.name}")).values():
            if isinstance(value, type) and issubclass(value, Aggregate) and value.__module__.startswith("ledger."):
                aggregates.add(value)
    found = {value for aggregate in aggregates for value in vars(aggregate).values()
             if isinstance(value, type) and issubclass(value, Aggregate.Event)}
    # Events of an aggregate defined in a module of their own (ledger/population.py).
    for module in pkgutil.iter_modules(ledger.__path__):
        found |= {value for value in vars(importlib.import_module(f"ledger.{module.name}")).values()
                  if isinstance(value, type) and issubclass(value, Aggregate.Event)
                  and value.__module__ == f"ledger.{module.name}"}
    # Bases that are never recorded themselves, and the library's default
    # Created/Event classes, which these aggregates never trigger.
    abstract = {Beneficiary.Event, Beneficiary.DecisionEvent, Beneficiary.PayoutEvent,
                Beneficiary.StatusDecided, Beneficiary.Created, PayrollCalendar.Event, PayrollCalendar.Created,
                HistorySeals.Event, HistorySeals.Created, ImportReceipt.Event, ImportReceipt.Created}
    return (found - abstract) | set(extra)


def unclassified(classes: set[type]) -> list[str]:
    return sorted(c.__qualname__ for c in classes if (c in EFFECTS) == (c in MOVES_NO_MONEY))


def test_every_event_class_moves_money_or_is_listed_as_moving_none():
    classes = event_classes()
    assert len(classes) >= 20  # the walk found the ledger's events
    assert unclassified(classes) == []
    assert set(EFFECTS) | MOVES_NO_MONEY <= classes  # nothing listed that does not exist


def test_every_money_event_is_read_by_the_close_or_moves_no_agent_float():
    """The month's close folds only FLOAT_EVENTS from the event store: a
    money event class outside them must be one that never touches an
    agent's float."""
    from ledger.settlement_book import FLOAT_EVENTS, NO_AGENT_FLOAT

    assert set(EFFECTS) == set(FLOAT_EVENTS) | NO_AGENT_FLOAT
    assert not set(FLOAT_EVENTS) & NO_AGENT_FLOAT


def test_a_new_event_class_is_caught():
    class Waived(Beneficiary.Event):  # say, a future kind of write-off
        amount_vnd: int

    assert unclassified(event_classes(Waived)) == ["test_a_new_event_class_is_caught.<locals>.Waived"]


def test_the_line_results_are_the_payout_events_after_issue():
    from datetime import date, datetime, timezone
    from uuid import uuid4

    from ledger import payouts

    common = dict(originator_id=uuid4(), originator_version=2, timestamp=datetime.now(timezone.utc), actor="a", line_id="2024-07-X",
                  agent_code="A", kind="allowance", document="d")
    paid = Beneficiary.PayoutPaid(**common, paid_on=date(2024, 7, 12), amount_vnd=500_000, received_by="x",
                                  at_home=False, source="postoffice", flags=[])
    rejected = Beneficiary.PayoutRejected(**common, booked_on=date(2024, 7, 12), reason_code="AC04",
                                          amount_vnd=500_000)
    for event, status, amount in ((paid, payouts.PAID, 500_000), (rejected, payouts.REJECTED, -500_000)):
        effect = EFFECTS[type(event)](event)
        assert (effect.line.status, effect.amount_vnd) == (status, amount)
        assert all(p.amount_vnd > 0 and p.debit != p.credit for p in effect.postings)
