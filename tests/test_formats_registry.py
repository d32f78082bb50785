"""The registry: a file is read by what the officer says it is and by what
its first bytes show, never by its name; a kind and a format that do not go
together are refused at line 1, column 1, and nothing is recorded."""
from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path

import pytest

from adapters.cli import main
from adapters.formats import registry
from adapters.tabular import InputRejected

from .helpers import REGISTER, decisions_file, event_count, open_ledger
from .writers import write_camt054

CAMT_ROWS = [dict(line_id="B0001", status="credited", booked_on="2024-03-05", amount="500000", reason_code="")]


def camt(path: Path) -> Path:
    return write_camt054(path, CAMT_ROWS, agent_code="BANK-A", month="2024-03",
                         created_at=datetime(2024, 3, 8, 16, 0))


def table(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def test_every_import_kind_has_a_reader():
    assert {"decisions", "deaths", "recoveries", "postoffice", "bank", "agent_report"} <= set(registry.kinds())


@pytest.mark.parametrize("kind", ["decisions", "deaths", "recoveries", "confirmations", "postoffice", "agent_report"])
def test_an_xml_document_is_refused_for_a_table_kind(tmp_path, kind):
    path = camt(tmp_path / "results.csv")  # the name says CSV; the content is camt.054
    with pytest.raises(InputRejected) as caught:
        registry.read(kind, path, **({"known_categories": set()} if kind == "decisions" else {}))
    (problem,) = caught.value.problems
    assert (problem.line, problem.column) == (1, 1)
    assert f"this is an XML document; a {kind} file is a CSV text file or an .xlsx workbook" in problem.message


def test_a_workbook_is_not_a_bank_file(tmp_path):
    from openpyxl import Workbook

    path = tmp_path / "bank.xml"
    Workbook().save(path)
    with pytest.raises(InputRejected, match=r"1:1: this is an .xlsx workbook; a bank file is a CSV "
                                            r"text file or an XML document"):
        registry.read("bank", path)


def test_a_bank_notification_is_read_whatever_it_is_called(tmp_path):
    parsed = registry.read("bank", camt(tmp_path / "ket-qua-ngan-hang.txt"))
    assert [(r.line_id, r.status, r.amount_vnd) for r in parsed.results] == [("B0001", "credited", 500000)]


def test_evidence_kind_comes_from_the_content(tmp_path):
    bank_csv = table(tmp_path / "postoffice-named.csv",
                     ["payroll_id", "line_id", "status", "booked_on", "amount", "reason_code"],
                     [["BANK-A/2024-03", "B0001", "credited", "2024-03-05", "500000", ""]])
    post_csv = table(tmp_path / "bank-named.csv", ["payroll_id", "line_id", "citizen_id", "status"],
                     [["PO-A/2024-03", "P0001", "051144000001", "unpaid"]])
    assert registry.result_kind(bank_csv) == "bank"
    assert registry.result_kind(camt(tmp_path / "n.xml")) == "bank"
    assert registry.result_kind(post_csv) == "postoffice"
    assert [r["line_id"] for r in registry.evidence_lines(bank_csv)] == ["B0001"]
    assert [r["status"] for r in registry.evidence_lines(post_csv)] == ["unpaid"]


def test_the_command_refuses_a_mismatch_and_records_nothing(tmp_path, capsys, sqlite_url, monkeypatch):
    monkeypatch.setenv("LEDGER_ACTOR", "officer-test")
    assert main(["--db", sqlite_url, "import", "decisions", str(decisions_file(tmp_path / "d.csv", [REGISTER]))]) == 0
    with open_ledger(sqlite_url) as ledger:
        before = event_count(ledger)
    capsys.readouterr()
    path = camt(tmp_path / "decisions.csv")
    code = main(["--db", sqlite_url, "import", "decisions", str(path)])
    err = capsys.readouterr().err
    assert code == 1  # refused input
    assert f"{path}:1:1: this is an XML document; a decisions file is" in err
    assert "Traceback" not in err
    with open_ledger(sqlite_url) as ledger:
        assert event_count(ledger) == before
