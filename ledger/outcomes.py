"""What a command's rows did, for the officer who ran it: the money
consequences of the events a row caused, and the words the `ledger`
command prints for them."""
from __future__ import annotations

from dataclasses import dataclass, field

from .beneficiary import Beneficiary


@dataclass
class Consequences:
    """What the events a row caused do to the money: lines withdrawn from
    agents, the overpayment re-derived, funeral support granted."""

    lines_cancelled: list[str] = field(default_factory=list)
    cancelled_vnd: int = 0
    overpayment_delta_vnd: int = 0
    overpayment_vnd: int | None = None  # the overpayment as now derived, if it changed
    received_by: list[str] = field(default_factory=list)
    funeral_support_vnd: int = 0

    def add(self, events) -> None:
        for event in events:
            if isinstance(event, Beneficiary.LineCancelled):
                self.lines_cancelled.append(event.line_id)
                self.cancelled_vnd += event.amount_vnd
            elif isinstance(event, Beneficiary.OverpaymentChanged):
                self.overpayment_delta_vnd += event.delta_vnd
                self.overpayment_vnd = event.total_vnd
                self.received_by = list(event.received_by)
            elif isinstance(event, Beneficiary.FuneralSupportGranted):
                self.funeral_support_vnd += event.amount_vnd

    def as_dict(self) -> dict:
        return dict(lines_cancelled=self.lines_cancelled, cancelled_vnd=self.cancelled_vnd,
                    overpayment_change_vnd=self.overpayment_delta_vnd, overpayment_vnd=self.overpayment_vnd,
                    received_by=self.received_by, funeral_support_vnd=self.funeral_support_vnd)


def _vnd(amount: int) -> str:
    return f"{amount:,}"


def describe_notice(effect: dict) -> str:
    """One death notice: what it did (``Application.record_deaths``)."""
    head = f"{effect['notice_id']} {effect['citizen_id']} died {effect['date_of_death']}: {effect['outcome']}"
    if effect["outcome"] == "recorded before":
        return head + ", nothing changed"
    parts = []
    if effect["lines_cancelled"]:
        count = len(effect["lines_cancelled"])
        parts.append(f"{count} line{'s' if count > 1 else ''} cancelled ({', '.join(effect['lines_cancelled'])}; "
                     f"{_vnd(effect['cancelled_vnd'])} VND returned by the agent)")
    change = effect["overpayment_change_vnd"]
    if change > 0:
        receivers = "; ".join(effect["received_by"])
        parts.append(f"overpayment {'opened' if change == effect['overpayment_vnd'] else 'raised'}: "
                     f"{_vnd(change)} VND to recover" + (f" from {receivers}" if receivers else ""))
    elif change < 0:
        parts.append(f"overpayment lowered by {_vnd(-change)} VND to {_vnd(effect['overpayment_vnd'])} VND")
    if effect["funeral_support_vnd"]:
        parts.append(f"funeral support of {_vnd(effect['funeral_support_vnd'])} VND due on the next payroll")
    return head + ("; " + "; ".join(parts) if parts else "; no payment was affected")


def describe_decisions(changes: dict) -> str:
    """What a decisions file changed: decisions recorded per kind, and the
    lines and overpayments they corrected."""
    kinds = changes.get("decisions_by_kind") or {}
    text = "recorded: " + (", ".join(f"{kind} {count}" for kind, count in kinds.items()) if kinds else "nothing new")
    if changes.get("lines_cancelled"):
        text += (f"\n{changes['lines_cancelled']} line(s) cancelled "
                 f"({_vnd(changes['cancelled_vnd'])} VND returned by the agents)")
    change = changes.get("overpayment_change_vnd", 0)
    if change:
        text += f"\noverpayments {'raised' if change > 0 else 'lowered'} by {_vnd(abs(change))} VND"
    return text
