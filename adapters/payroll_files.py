"""One month's payroll files for a payment agent, written together: the
CSV every agent gets, the .xlsx for a post office, the pain.001 for a bank
(the formats themselves are in adapters/formats/). Every file is staged
and renamed only when all of them are complete, so an agent never picks up
half a list or a list without its twin."""
from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Iterable

from ledger.months import Month

from .files import Staging
from .formats.bank_profiles import DEFAULT_PROFILE, BankProfile, load_profile
from .formats.pain001 import PLACEHOLDER_DEBTOR_ACCOUNT, NoDebtorAccount, Pain001List, missing_treasury_account
from .formats.payroll_list import (
    ListTotals, PayrollFileLine, TotalsDiffer, CsvList, check_line, check_payroll, payroll_id_of,
)
from .formats.postoffice_xlsx import XlsxList


def write_payroll_files(out_dir: Path, agent_code: str, month: str, channel: str,
                        lines: Iterable[PayrollFileLine], *, debtor_name: str,
                        debtor_account: str, created_at: datetime,
                        profile: BankProfile | None = None,
                        execution_date: date | None = None,
                        totals: ListTotals | None = None) -> list[Path]:
    """Write ``payroll-<agent_code>-<month>.csv`` and, for a post office, the
    .xlsx, or for a bank, the ``.pain.001.xml``. Returns the paths written.

    The lines are read once, in file order, and streamed into every file,
    so a list of any length takes the same memory; ``totals`` must then say
    what they add up to (computed from ``lines`` when not given), and a list
    that does not add up to them is refused. Every file is written beside
    its target and renamed over it only when all of them are complete: a
    wrong line leaves the previous files as they were.

    A bank's file is written as its ``profile`` says (the one its contract
    names; the default profile otherwise): the bank's code and BIC, names
    with or without diacritics, the file name; ``execution_date`` (the
    requested execution date) defaults to the profile's payment day of the
    payroll month (the 10th). A bank file needs a real debtor account: the
    settings' placeholder is refused.
    A bank list without any new line gets no pain.001: ISO 20022 requires at
    least one transfer in a payment instruction."""
    if totals is None:
        lines = list(lines)
        totals = ListTotals.of(lines)
    check_payroll(agent_code, month, channel)
    if channel == "bank" and not 0 < len(debtor_account) <= 34:
        raise ValueError(f"debtor account {debtor_account!r}: 1 to 34 characters (ISO 20022)")
    if channel == "bank" and totals.new_count and debtor_account == PLACEHOLDER_DEBTOR_ACCOUNT:
        raise NoDebtorAccount(missing_treasury_account())
    if channel == "bank":
        profile = profile or load_profile(DEFAULT_PROFILE)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = out_dir / f"payroll-{agent_code}-{month}"
    with Staging() as staging:
        writers: list = [CsvList(staging.add(stem.with_name(stem.name + ".csv")))]
        if channel == "cash":
            writers.append(XlsxList(staging, stem.with_name(stem.name + ".xlsx"), agent_code, month,
                                     created_at))
        elif totals.new_count:
            writers.append(Pain001List(
                staging.add(out_dir / profile.pain_file_name(agent_code, month)), agent_code, month, totals,
                debtor_name=debtor_name, debtor_account=debtor_account, created_at=created_at,
                profile=profile, execution_date=execution_date or profile.execution_date(month)))
        try:
            _write_lines(lines, writers, agent_code, month, channel, totals)
        except BaseException:
            for writer in writers:
                writer.discard()
            raise
        for writer in writers:
            writer.close(totals)
        return staging.commit()


def _write_lines(lines: Iterable[PayrollFileLine], writers: list, agent_code: str, month: str,
                 channel: str, totals: ListTotals) -> None:
    own_id, current = payroll_id_of(agent_code, month), Month.parse(month)
    seen: set[tuple[str, str]] = set()
    counted = [0, 0, 0, 0]
    for line in lines:
        check_line(line, own_id, agent_code, current, channel)
        key = (line.payroll_id, line.line_id)
        if key in seen:
            raise ValueError(f"line {line.line_id!r} of {line.payroll_id} appears twice")
        seen.add(key)
        at = 2 if line.carried else 0
        counted[at] += 1
        counted[at + 1] += line.amount
        for writer in writers:
            writer.add(line)
    if ListTotals(*counted) != totals:
        raise TotalsDiffer(f"the lines add up to {ListTotals(*counted)}, not to {totals}")
