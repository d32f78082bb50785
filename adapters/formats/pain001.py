"""pain.001.001.09, CustomerCreditTransferInitiation (formats.md, "Payroll
lists"): the transfers a bank makes for one agent's month, laid out as the
agent's bank profile says (adapters/formats/bank_profiles.py)."""
from __future__ import annotations

import unicodedata
import xml.etree.ElementTree as ET
from datetime import date, datetime
from pathlib import Path
from typing import Sequence

from ledger.months import Month

from .bank_profiles import BankProfile
from .iso20022 import MAX_TEXT, ascii_text, max35, vietnam_time, xml_bytes, xml_path
from .payroll_list import ListTotals, PayrollFileLine, TextList, payroll_id_of

NAMESPACE = "urn:iso:std:iso:20022:tech:xsd:pain.001.001.09"
# The debtor account of the settings' default: not an account a bank can debit.
PLACEHOLDER_DEBTOR_ACCOUNT = "KBNN-0000000000"


class NoDebtorAccount(ValueError):
    """A bank file would name no real account to debit."""


def missing_treasury_account() -> str:
    return ("no debtor account for the bank files: set the office's treasury account "
            "(`treasury_account` in ledger.toml, or LEDGER_TREASURY_ACCOUNT)")


def message_id(agent_code: str, month: str) -> str:
    """Same agent and month, same id: a bank discards a re-sent duplicate
    instead of paying the month twice."""
    return max35(f"PAYROLL/{agent_code}/{month}")


def payment_information_id(agent_code: str, month: str) -> str:
    """The payroll id itself, which banks echo back in camt.054 (Refs/PmtInfId)."""
    return max35(payroll_id_of(agent_code, month))


def _month_runs(months: Sequence[str]) -> list[str]:
    """``2024-01;2024-02;2024-03;2024-05`` -> ``2024-01 den 2024-03``, ``2024-05``."""
    ordered = sorted({Month.parse(m) for m in months})
    runs: list[list[Month]] = []
    for month in ordered:
        if runs and runs[-1][-1] + 1 == month:
            runs[-1].append(month)
        else:
            runs.append([month])
    return [str(r[0]) if len(r) == 1 else f"{r[0]} den {r[-1]}" for r in runs]


def remittance_text(months: Sequence[str]) -> str:
    text = "Tro cap xa hoi " + ", ".join(_month_runs(months))
    if len(text) > MAX_TEXT:
        ordered = sorted(months)
        text = f"Tro cap xa hoi {ordered[0]} den {ordered[-1]} ({len(ordered)} thang)"
    return ascii_text(text)


class Pain001List(TextList):
    """CustomerCreditTransferInitiation (pain.001.001.09) for the new lines;
    carried lines are left out because a bank carries nothing forward. The
    document around the transfers is laid out once with a placeholder;
    each transfer is then written in its place as it comes, indented as
    ``xml_bytes`` would indent the whole tree."""

    PLACEHOLDER = "CdtTrfTxInf"

    def __init__(self, path: Path, agent_code: str, month: str, totals: ListTotals, *,
                 debtor_name: str, debtor_account: str, created_at: datetime, profile: BankProfile,
                 execution_date: date) -> None:
        count, control_sum_vnd = str(totals.new_count), str(totals.new_vnd)
        self.profile = profile
        debtor_name = self.name(debtor_name)
        # The namespace is set as a plain attribute on unqualified tags: it
        # gives a default namespace without ElementTree's global prefix registry.
        document = ET.Element("Document", xmlns=NAMESPACE)
        initiation = xml_path(document, "CstmrCdtTrfInitn")
        header = xml_path(initiation, "GrpHdr")
        xml_path(header, "MsgId", message_id(agent_code, month))
        xml_path(header, "CreDtTm", vietnam_time(created_at))
        xml_path(header, "NbOfTxs", count)
        xml_path(header, "CtrlSum", control_sum_vnd)
        xml_path(header, "InitgPty/Nm", debtor_name[:MAX_TEXT])
        payment = xml_path(initiation, "PmtInf")
        xml_path(payment, "PmtInfId", payment_information_id(agent_code, month))
        xml_path(payment, "PmtMtd", "TRF")
        xml_path(payment, "NbOfTxs", count)
        xml_path(payment, "CtrlSum", control_sum_vnd)
        xml_path(payment, "ReqdExctnDt/Dt", execution_date.isoformat())
        xml_path(payment, "Dbtr/Nm", debtor_name[:MAX_TEXT])
        xml_path(payment, "DbtrAcct/Id/Othr/Id", debtor_account)
        self.agent(payment, "DbtrAgt")
        xml_path(payment, self.PLACEHOLDER)
        text = xml_bytes(document).decode("utf-8")
        marker = f"<{self.PLACEHOLDER} />"
        at = text.index(marker)
        self.indent = text[text.rindex("\n", 0, at) + 1:at]
        self.head, self.tail = text[:at - len(self.indent)], text[at + len(marker) + 1:]
        super().__init__(path)
        self.handle.write(self.head)

    def add(self, line: PayrollFileLine) -> None:
        if line.carried:
            return
        transfer = ET.Element(self.PLACEHOLDER)
        xml_path(transfer, "PmtId/EndToEndId", line.line_id)
        # VND has no minor unit: the amount is written as a whole number.
        xml_path(transfer, "Amt/InstdAmt", str(line.amount), Ccy="VND")
        if self.profile.bic:
            # The beneficiaries' accounts are held at the paying bank.
            self.agent(transfer, "CdtrAgt")
        xml_path(transfer, "Cdtr/Nm", self.name(line.receiver))
        xml_path(transfer, "CdtrAcct/Id/Othr/Id", line.bank_account)
        xml_path(transfer, "RmtInf/Ustrd", remittance_text(line.months))
        ET.indent(transfer, level=self.indent.count("  "))
        self.handle.write(f"{self.indent}{ET.tostring(transfer, encoding='unicode')}\n")

    def name(self, text: str) -> str:
        text = unicodedata.normalize("NFC", text)
        if self.profile.transliterate:
            text = " ".join(ascii_text(text).split())
        return text[:MAX_TEXT]

    def agent(self, parent: ET.Element, tag: str) -> None:
        if self.profile.bic:
            xml_path(parent, f"{tag}/FinInstnId/BICFI", self.profile.bic)
        else:
            xml_path(parent, f"{tag}/FinInstnId/Othr/Id", self.profile.bank_code)

    def close(self, totals: ListTotals) -> None:
        self.handle.write(self.tail)
        super().close(totals)
