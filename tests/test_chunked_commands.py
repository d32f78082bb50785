"""The payroll and the agents' results stream their events a chunk of people
at a time, in one transaction: the outcome does not depend on the chunk
size, and a row refused in a late chunk records nothing at all."""
from __future__ import annotations

import pytest

from adapters import synthetic
from .helpers import open_ledger
from adapters.tabular import InputRejected
from ledger.application import LedgerApp
from ledger.months import Month

from .helpers import decisions_file, event_count

JULY = Month.parse("2024-07")


def _month(ledger, tmp_path, registrations):
    ledger.commands.import_decisions(registrations, "o")
    payroll = ledger.commands.run_payroll(JULY, tmp_path / "out", "o")
    (po,) = [f for f in payroll.files if "VNPOST" in f and f.endswith(".csv")]
    results = synthetic.postoffice_results(synthetic.read_payroll_csv(po), "2024-07", seed=3)
    po_path = synthetic.write_csv(tmp_path / "po.csv", results, synthetic.POSTOFFICE_RESULT_COLUMNS)
    return payroll, ledger.commands.import_postoffice(po_path, "o")


def test_the_chunk_size_does_not_change_the_outcome(store_url, sqlite_url, tmp_path, monkeypatch):
    registered = synthetic.registrations(40, seed=12, first=JULY, months_count=1)
    path = decisions_file(tmp_path / "d.csv", registered)
    outcomes = []
    for url, chunk in ((sqlite_url, 10_000), (store_url.replace("ledger.db", "small.db"), 3)):
        monkeypatch.setattr(LedgerApp, "CHUNK_PEOPLE", chunk)
        (tmp_path / str(chunk)).mkdir()
        with open_ledger(url) as ledger:
            payroll, results = _month(ledger, tmp_path / str(chunk), path)
            events = event_count(ledger)
            lines = [tuple(line.items()) for line in synthetic.read_payroll_csv(
                next(f for f in payroll.files if "VNPOST" in f and f.endswith(".csv")))]
            outcomes.append((payroll.lines, payroll.amount, results.recorded, results.suspended, events, lines))
    assert outcomes[0] == outcomes[1]
    assert outcomes[1][0] > 3 * 3  # several chunks were written


def test_a_row_refused_in_the_last_chunk_records_nothing(store_url, tmp_path, monkeypatch):
    monkeypatch.setattr(LedgerApp, "CHUNK_PEOPLE", 3)
    registered = synthetic.registrations(30, seed=13, first=JULY, months_count=1)
    with open_ledger(store_url) as ledger:
        ledger.commands.import_decisions(decisions_file(tmp_path / "d.csv", registered), "o")
        payroll = ledger.commands.run_payroll(JULY, tmp_path / "out", "o")
        (po,) = [f for f in payroll.files if "VNPOST" in f and f.endswith(".csv")]
        results = synthetic.postoffice_results(synthetic.read_payroll_csv(po), "2024-07", seed=3)
        assert len(results) > 3 * 3
        unknown = dict(results[-1], line_id=results[-1]["line_id"][:-1] + "9")
        path = synthetic.write_csv(tmp_path / "po.csv", results + [unknown], synthetic.POSTOFFICE_RESULT_COLUMNS)
        before = event_count(ledger)
        with pytest.raises(InputRejected) as refused:
            ledger.commands.import_postoffice(path, "o")
        assert [p.line for p in refused.value.problems] == [len(results) + 2]
        assert event_count(ledger) == before
        good = synthetic.write_csv(tmp_path / "good.csv", results, synthetic.POSTOFFICE_RESULT_COLUMNS)
        assert ledger.commands.import_postoffice(good, "o").recorded == len(results)
