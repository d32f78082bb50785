"""Importing decisions: all or nothing, idempotent, errors at file:line:column."""
from __future__ import annotations

import re

import pytest
from openpyxl import Workbook

from .helpers import open_ledger
from adapters.synthetic import DECISION_COLUMNS, registrations
from adapters.tabular import InputRejected

from .helpers import REGISTER, REGISTER_2, decisions_file, dump_views, event_count


def test_import_records_every_decision_once(store_url, tmp_path):
    change = dict(decision_no="3/QĐ-UBND", signed_on="2024-09-01", kind="change_category",
                  citizen_id=REGISTER["citizen_id"], category="ELDERLY_80;DISABLED_SEVERE",
                  effective_month="2024-08")
    path = decisions_file(tmp_path / "d.csv", [REGISTER, REGISTER_2, change])
    with open_ledger(store_url) as ledger:
        first = ledger.commands.import_decisions(path, "officer-a")
        assert (first.rows, first.recorded_events, first.unchanged_rows) == (3, 3, 0)
        again = ledger.commands.import_decisions(path, "officer-a")
        assert (again.recorded_events, again.unchanged_rows) == (0, 3)
        assert event_count(ledger) == 3 + 1  # and the first import's receipt; the second left none
        person = ledger.runtime.app.beneficiary(REGISTER["citizen_id"])
        assert person.version == 2
        events = person.collect_events()  # none pending after a load
        assert events == []


def test_prefix_then_whole_file_records_only_the_rest(store_url, tmp_path):
    rows = registrations(40, seed=3)
    with open_ledger(store_url) as ledger:
        ledger.commands.import_decisions(decisions_file(tmp_path / "part.csv", rows[:15]), "o")
        outcome = ledger.commands.import_decisions(decisions_file(tmp_path / "all.csv", rows), "o")
        assert (outcome.recorded_events, outcome.unchanged_rows) == (25, 15)
        assert event_count(ledger) == 40 + 2  # and a receipt of each import


def test_xlsx_with_the_same_content_is_the_same_import(store_url, tmp_path):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(list(DECISION_COLUMNS))
    for row in (REGISTER, REGISTER_2):
        values = [row.get(c, "") or None for c in DECISION_COLUMNS]
        # Excel drops the leading zero of a numeric citizen id: it is restored.
        values[DECISION_COLUMNS.index("citizen_id")] = int(row["citizen_id"])
        sheet.append(values)
    workbook.save(tmp_path / "d.xlsx")
    with open_ledger(store_url) as ledger:
        assert ledger.commands.import_decisions(decisions_file(tmp_path / "d.csv", [REGISTER, REGISTER_2]), "o").recorded_events == 2
        assert ledger.commands.import_decisions(tmp_path / "d.xlsx", "o").recorded_events == 0


BAD_ROWS = {
    # name: (rows, columns or None, expected line, expected column name, message pattern)
    "bad id": ([dict(REGISTER_2), dict(REGISTER, citizen_id="05104400123")], None, 3, "citizen_id", "12 digits"),
    "id disagrees with birth year": ([dict(REGISTER, birth_date="1945-03-02")], None, 2, "citizen_id", "encodes birth year 1944"),
    "unknown category": ([dict(REGISTER, category="ELDERLY_90")], None, 2, "category", "unknown category 'ELDERLY_90'"),
    "bad date": ([dict(REGISTER, signed_on="2024-02-30")], None, 2, "signed_on", "signed_on"),
    "bad month": ([dict(REGISTER, effective_month="2024-7")], None, 2, "effective_month", "YYYY-MM"),
    "effective month before birth": ([dict(REGISTER_2, effective_month="2019-10")], None, 2, "effective_month", "before the birth month"),
    "missing cell for the kind": ([dict(REGISTER, full_name="")], None, 2, "full_name", "full_name is required for kind register"),
    "unknown kind": ([dict(REGISTER, kind="deregister")], None, 2, "kind", "unknown kind 'deregister'"),
    "bank without account": ([dict(REGISTER_2, bank_account="")], None, 2, "bank_account", "bank_account is required"),
    "duplicate key, other content": ([REGISTER, REGISTER_2, dict(REGISTER, full_name="Nguyễn Văn Á")], None, 4, "decision_no", "is on line 2 with different content"),
    "change before registration": ([dict(decision_no="9", signed_on="2024-09-01", kind="suspend", citizen_id="051044001299", reason="x")], None, 2, "citizen_id", "is not registered"),
}


@pytest.mark.parametrize("case", sorted(BAD_ROWS))
def test_a_bad_row_rejects_the_file_and_records_nothing(store_url, tmp_path, case):
    rows, columns, line, column_name, pattern = BAD_ROWS[case]
    path = decisions_file(tmp_path / "bad.csv", rows, columns or DECISION_COLUMNS)
    with open_ledger(store_url) as ledger:
        ledger.commands.import_decisions(decisions_file(tmp_path / "earlier.csv", [dict(REGISTER, decision_no="0/QĐ", citizen_id="051144000001", birth_date="1944-01-01", sex="F")]), "o")
        before_events, before_views = event_count(ledger), dump_views(ledger.runtime.engine)
        with pytest.raises(InputRejected) as caught:
            ledger.commands.import_decisions(path, "o")
        assert event_count(ledger) == before_events
        assert dump_views(ledger.runtime.engine) == before_views
    column = list(columns or DECISION_COLUMNS).index(column_name) + 1
    messages = [str(p) for p in caught.value.problems]
    assert any(m.startswith(f"{path}:{line}:{column}: ") and re.search(pattern, m) for m in messages), messages


def test_key_recorded_before_with_other_content_is_refused(store_url, tmp_path):
    with open_ledger(store_url) as ledger:
        ledger.commands.import_decisions(decisions_file(tmp_path / "a.csv", [REGISTER]), "o")
        path = decisions_file(tmp_path / "b.csv", [REGISTER_2, dict(REGISTER, commune_code="20199")])
        with pytest.raises(InputRejected, match=r"b.csv:3:1: .*recorded before with different content"):
            ledger.commands.import_decisions(path, "o")
        assert event_count(ledger) == 1 + 1  # the first file's registration and its receipt


@pytest.mark.parametrize("header_change, pattern", [
    (lambda cols: cols + ["remarks"], r":1:20: unknown column 'remarks'"),
    (lambda cols: [c for c in cols if c != "kind"], r":1:19: missing required column 'kind'"),
])
def test_column_problems_name_the_header(store_url, tmp_path, header_change, pattern):
    columns = header_change(list(DECISION_COLUMNS))
    path = decisions_file(tmp_path / "cols.csv", [REGISTER], columns)
    with open_ledger(store_url) as ledger:
        with pytest.raises(InputRejected, match=pattern):
            ledger.commands.import_decisions(path, "o")
        assert event_count(ledger) == 0


def test_every_bad_row_is_listed_not_only_the_first(tmp_path, sqlite_url):
    rows = [dict(REGISTER, citizen_id="1"), REGISTER_2, dict(REGISTER_2, decision_no="5", citizen_id="051319001299", category="NOPE")]
    with open_ledger(sqlite_url) as ledger:
        with pytest.raises(InputRejected) as caught:
            ledger.commands.import_decisions(decisions_file(tmp_path / "many.csv", rows), "o")
    assert [p.line for p in caught.value.problems] == [2, 4]


def test_a_file_that_is_not_utf8_is_refused_at_the_line_and_column(tmp_path, sqlite_url):
    path = decisions_file(tmp_path / "d.csv", [REGISTER, REGISTER_2])
    # A name saved by a legacy 8-bit code page ("â" as one byte): not UTF-8.
    path.write_bytes(path.read_bytes().replace("Trần".encode(), b"Tr\xe2n"))
    with open_ledger(sqlite_url) as ledger:
        with pytest.raises(InputRejected) as caught:
            ledger.commands.import_decisions(path, "o")
        assert event_count(ledger) == 0
    (problem,) = caught.value.problems
    assert (problem.line, problem.column) == (3, DECISION_COLUMNS.index("full_name") + 1)
    assert "not UTF-8" in problem.message
