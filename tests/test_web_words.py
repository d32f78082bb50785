"""The web application's words for what the ledger stores in English: who
received an overpaid line's money, as ledger/clawback.py names them."""
from __future__ import annotations

from datetime import date
from types import SimpleNamespace

from adapters.web.app import receiver_words
from ledger.clawback import named_receiver, received_by
from ledger.months import Month

JULY = Month.parse("2024-07")


def _facts(account: str = "", proxy=None):
    channel = SimpleNamespace(bank_account=account, agent_code="BANK-01")
    return SimpleNamespace(channels=SimpleNamespace(at=lambda month: channel, latest=lambda: channel),
                           proxies=SimpleNamespace(at=lambda month: proxy))


def _line(channel: str, detail: str = ""):
    return SimpleNamespace(settled_on=date(2024, 7, 12), payroll_month=JULY, channel=channel,
                           agent_code="BANK-01" if channel == "bank" else "VNPOST-01", detail=detail)


def test_every_receiver_the_ledger_names_is_said_in_vietnamese():
    proxy = SimpleNamespace(proxy_name="Trần Văn C", proxy_citizen_id="051080001234")
    named = {
        received_by(_facts("0123456789"), _line("bank")): "tài khoản 0123456789 tại BANK-01",
        received_by(_facts(""), _line("bank")): "tài khoản tại BANK-01",
        received_by(_facts(), _line("cash", "beneficiary")): "người hưởng",
        named_receiver(_facts(), "", JULY): "người hưởng",
        named_receiver(_facts(proxy=proxy), "proxy", JULY): "người được ủy quyền Trần Văn C (051080001234)",
        named_receiver(_facts(), "proxy", JULY): "người nhận thay (không có giấy ủy quyền)",
    }
    for english, vietnamese in named.items():
        assert receiver_words(english) == vietnamese, english
    assert receiver_words("something new") == "something new"  # shown as stored rather than lost
