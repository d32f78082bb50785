"""Changing the account a person is paid into (a proxy's own account, the
person's own, or back to cash), back-dated or not, while transfers are in
flight: no month is paid twice and none is lost; a transfer in flight to
the old account is settled by its bank result (domain level: the same
aggregates the commands use)."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import example, given, settings, strategies as st

from adapters.state_codec import state_from_bytes, state_to_bytes
from ledger import payouts
from ledger.beneficiary import Beneficiary
from ledger.decisions import Decision, ReceiptConfirmation
from ledger.errors import Refused
from ledger.months import Month, month_range
from ledger.payroll import payable_by_month, plan_line

from .test_payroll_properties import RULES, START, _result, make_person

# A change of where the money goes, signed in the month: effective some
# months back (back-dated), this month or the next.
change = st.fixed_dictionaries({
    "kind": st.sampled_from(["proxy_account", "proxy_no_account", "revoke_proxy", "to_cash", "to_bank"]),
    "effective": st.integers(-2, 1),
})
# What the agents report this month for the lines without a result: every
# line settled, none yet (still in flight), or the bank refuses the account.
month_step = st.fixed_dictionaries({
    "changes": st.lists(change, max_size=2),
    "results": st.sampled_from(["settle", "settle", "in_flight", "reject"]),
})


def _apply(p: Beneficiary, c: dict, month: Month, serial: str) -> None:
    citizen = p.facts.citizen_id
    effective = max(month + c["effective"], p.facts.first_month)
    common = dict(decision_no=f"D{serial}", signed_on=month.first_day, citizen_id=citizen, effective=effective)
    if c["kind"] == "proxy_account":
        p.decide(Decision(kind="authorize_proxy", proxy_name=f"Proxy {serial}", proxy_bank_account=f"77{serial}00",
                          **common), "t")
    elif c["kind"] == "proxy_no_account":
        p.decide(Decision(kind="authorize_proxy", proxy_name=f"Proxy {serial}", **common), "t")
    elif c["kind"] == "revoke_proxy":
        p.decide(Decision(kind="revoke_proxy", **common), "t")
    elif c["kind"] == "to_cash":
        p.decide(Decision(kind="change_channel", channel="cash", agent_code="VNPOST-1", **common), "t")
    else:
        p.decide(Decision(kind="change_channel", channel="bank", agent_code="BANK-1",
                          bank_account=f"55{serial}00", **common), "t")


def _report(p: Beneficiary, how: str, month: Month) -> None:
    on = month.first_day + timedelta(days=10)
    for line in p.state.book.open_lines():
        if how == "in_flight":
            continue
        if line.channel == "bank":
            p.record_result(_result(line, "rejected" if how == "reject" else "credited", on, "AC04"), "t")
        else:
            p.record_result(_result(line, "paid", on), "t")


def _issue(p: Beneficiary, month: Month) -> None:
    planned = plan_line(p.state, RULES, month)
    if planned is None:
        return
    p.issue(month, planned, RULES.id, "t")
    issued = p.pending_events[-1]
    assert isinstance(issued, Beneficiary.PayoutIssued)
    # Where the line goes follows the facts in force for the payroll month.
    channel = p.facts.channels.at(month) or p.facts.channels.latest()
    proxy = p.facts.proxies.at(month)
    to_proxy = channel.channel == "bank" and bool(proxy and proxy.proxy_name and proxy.bank_account)
    assert issued.channel == channel.channel and issued.to_proxy_account == to_proxy
    if to_proxy:
        assert (issued.bank_account, issued.receiver) == (proxy.bank_account, proxy.proxy_name)
    elif channel.channel == "bank":
        assert (issued.bank_account, issued.receiver) == (channel.bank_account, p.facts.full_name)


def _check(p: Beneficiary, last: Month) -> None:
    assert state_from_bytes(state_to_bytes(p.state)) == p.state
    payable = payable_by_month(p.state, RULES, last)
    for month in month_range(p.facts.first_month, last):
        figures = p.state.book.figures(month)
        assert figures.issued == figures.disbursed + figures.unclaimed + figures.cancelled
        assert figures.disbursed <= payable.get(month, 0), month  # never paid twice
        assert figures.issued - figures.cancelled <= payable.get(month, 0), month  # never issued twice
    # A refused account's details hold payment only while an account is used:
    # a person moved to cash meanwhile is paid in cash without another decision.
    if any(kind == payouts.BANK_DETAILS for kind, _ in p.state.book.holds):
        assert p.facts.channels.latest().channel == "bank"


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(["bank", "cash"]), st.lists(month_step, min_size=1, max_size=7))
@example("bank", [{"changes": [{"kind": "proxy_account", "effective": 0}], "results": "settle"},
                  {"changes": [{"kind": "to_cash", "effective": -1}], "results": "in_flight"},
                  {"changes": [], "results": "reject"}])
@example("bank", [{"changes": [], "results": "in_flight"},
                  {"changes": [{"kind": "proxy_account", "effective": -1}], "results": "reject"},
                  {"changes": [{"kind": "revoke_proxy", "effective": 0}], "results": "settle"}])
def test_changing_the_account_pays_every_month_once(channel, steps):
    """Catches: a month re-issued to the new account while the old transfer
    is in flight (paid twice when both are credited), a rejected transfer
    whose month is never paid again (lost), a hold on the old account's
    details that stops a person already moved to cash."""
    p = make_person(1, date(1944, 6, 1), channel, START, "ELDERLY_POOR")
    month = START
    for offset, step in enumerate(steps):
        month = START + offset
        for i, c in enumerate(step["changes"]):
            _apply(p, c, month, f"{offset}{i}")
        _issue(p, month)
        _report(p, step["results"], month)
        _check(p, month)
    # Then months go by with every transfer settled: if a refused account's
    # details hold payment, the office records a fresh one, as it must.
    for extra in range(1, 4):
        month = START + len(steps) - 1 + extra
        if p.state.book.holds:  # a refused account: the office records a fresh one
            _apply(p, {"kind": "to_bank", "effective": 0}, month, f"X{extra}")
        _issue(p, month)
        _report(p, "settle", month)
        _check(p, month)
    payable = payable_by_month(p.state, RULES, month)
    for m in month_range(p.facts.first_month, month):
        assert p.state.book.figures(m).disbursed == payable[m], m  # none lost, none twice
    assert plan_line(p.state, RULES, month) is None


def test_a_confirmation_needs_a_credited_proxy_account_payment():
    p = make_person(2, date(1944, 6, 1), "bank", START, "ELDERLY_POOR")
    _apply(p, {"kind": "proxy_account", "effective": 0}, START, "1")
    _issue(p, START)
    confirmation = ReceiptConfirmation(p.facts.citizen_id, START, START.first_day + timedelta(days=20), "xã", "visit")
    with pytest.raises(Refused, match="not credited"):
        p.confirm_receipt(confirmation, "t")
    _report(p, "settle", START)
    assert p.confirm_receipt(confirmation, "t") is True
    assert p.confirm_receipt(confirmation, "t") is False  # recorded before exactly so
    with pytest.raises(Refused, match="different content"):
        p.confirm_receipt(ReceiptConfirmation(p.facts.citizen_id, START, confirmation.confirmed_on, "xã", "phone"),
                          "t")
    assert state_from_bytes(state_to_bytes(p.state)) == p.state


def test_a_planner_that_reissues_months_in_flight_is_caught(monkeypatch):
    """Broken variant: a month whose transfer is in flight counts as unpaid."""
    real = payouts.PayoutBook.net_issued_by_month

    def broken(self):
        net = real(self)
        for line in self.allowance_lines():
            if line.status == payouts.ISSUED and line.channel == "bank":
                for m, a in zip(line.months, line.amounts):
                    net[m] = net.get(m, 0) - a
        return net

    monkeypatch.setattr(payouts.PayoutBook, "net_issued_by_month", broken)
    with pytest.raises(AssertionError):
        test_changing_the_account_pays_every_month_once.hypothesis.inner_test(
            "bank", [{"changes": [], "results": "in_flight"},
                     {"changes": [{"kind": "to_cash", "effective": -1}], "results": "settle"}])
