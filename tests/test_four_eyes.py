"""Four eyes on money through the ledger command, on SQLite and PostgreSQL:
a payroll prepared by one person and released by another, a write-off
proposed by one and approved by another, both names on the events; and
imports rehearsed (--dry-run records nothing) and recorded with a receipt
that the history of imports is rebuilt from."""
from __future__ import annotations

import json
import threading

import pytest

from adapters import synthetic
from adapters.cli import main
from adapters.commands import PreviewDiffers
from adapters.errors import CommandRefused, NotPermitted
from ledger.months import Month

from .helpers import REGISTER, REGISTER_2, decisions_file, dump_views, event_count, open_ledger

JULY = Month.parse("2024-07")
RECOVERY_COLUMNS = ("receipt_no", "citizen_id", "amount", "paid_on", "paid_by", "method", "decision_no", "reason")
DEATH_COLUMNS = ("notice_id", "citizen_id", "date_of_death", "source", "reported_on", "document_no",
                 "funeral_arranged_by", "corrects")
BANK_ID = REGISTER_2["citizen_id"]


@pytest.fixture(autouse=True)
def _env(monkeypatch):
    monkeypatch.setenv("LEDGER_TODAY", "2024-12-20")
    monkeypatch.delenv("LEDGER_ACTOR", raising=False)
    monkeypatch.delenv("LEDGER_FOUR_EYES", raising=False)


def cmd(capsys, url, actor, *argv, four_eyes=False):
    flags = ["--db", url, "--actor", actor]
    import os

    if four_eyes:
        os.environ["LEDGER_FOUR_EYES"] = "1"
    try:
        code = main([*flags, *argv])
    finally:
        os.environ.pop("LEDGER_FOUR_EYES", None)
    out, err = capsys.readouterr()
    return code, out, err


def ok_json(capsys, url, actor, *argv, four_eyes=False):
    code, out, err = cmd(capsys, url, actor, *argv, "--json", four_eyes=four_eyes)
    assert code == 0, err
    return json.loads(out)


def calendar_events(url):
    with open_ledger(url) as ledger:
        calendar = ledger.runtime.app.calendar()
        return [] if calendar is None else list(ledger.runtime.app.repository.event_store.get(calendar.id))


def test_prepare_then_release_by_another_person(store_url, tmp_path, capsys):
    ok_json(capsys, store_url, "canbo", "import", "decisions", str(decisions_file(tmp_path / "d.csv", [REGISTER])))
    out = str(tmp_path / "out")
    prepared = ok_json(capsys, store_url, "canbo", "payroll", "prepare", "--month", "2024-07", four_eyes=True)
    assert (prepared["preparation"], prepared["prepared_by"], prepared["prepared_now"]) == (1, "canbo", True)
    assert (prepared["lines"], prepared["amount"]) == (1, 500_000)
    with open_ledger(store_url) as ledger:
        before, views = event_count(ledger), dump_views(ledger.runtime.engine)
        assert ledger.queries.payroll_calendar() == []  # nothing issued: no line, no advance
        assert ledger.queries.beneficiary_report(REGISTER["citizen_id"]).as_dict()["months"][0]["issued"] == 0
    # Preparing again with the data unchanged records nothing.
    again = ok_json(capsys, store_url, "canbo", "payroll", "prepare", "--month", "2024-07", four_eyes=True)
    assert (again["preparation"], again["prepared_now"]) == (1, False)
    # The preparer may not release it, nor run the payroll in one step.
    code, _, err = cmd(capsys, store_url, "canbo", "payroll", "release", "--month", "2024-07", "--out", out,
                       four_eyes=True)
    assert code == 1 and "canbo prepared the payroll of 2024-07: another person must release it" in err
    code, _, err = cmd(capsys, store_url, "canbo", "payroll", "run", "--month", "2024-07", "--out", out,
                       four_eyes=True)
    assert code == 1 and "ledger payroll prepare" in err and "ledger payroll release" in err
    with open_ledger(store_url) as ledger:
        assert (event_count(ledger), dump_views(ledger.runtime.engine)) == (before, views)
    released = ok_json(capsys, store_url, "lanhdao", "payroll", "release", "--month", "2024-07", "--out", out,
                       four_eyes=True)
    assert (released["prepared_by"], released["released_by"], released["issued_now"]) == ("canbo", "lanhdao", True)
    assert released["lines"] == 1 and any(f.endswith(".csv") for f in released["files"])
    # Released again (a retry): nothing new, the same files.
    again = ok_json(capsys, store_url, "lanhdao", "payroll", "release", "--month", "2024-07", "--out", out,
                    four_eyes=True)
    assert again["issued_now"] is False and again["files"] == released["files"]
    issued = [e for e in calendar_events(store_url) if type(e).__name__ == "MonthIssued"]
    assert [(e.prepared_by, e.actor, e.preparation) for e in issued] == [("canbo", "lanhdao", 1)]
    # The officer who prepared it may not close the month either.
    with open_ledger(store_url) as ledger:
        with pytest.raises(NotPermitted):
            ledger.commands.close_month(JULY, {}, "canbo", four_eyes=True)


def test_a_changed_ledger_needs_a_new_preparation(store_url, tmp_path, capsys):
    ok_json(capsys, store_url, "canbo", "import", "decisions", str(decisions_file(tmp_path / "d.csv", [REGISTER])))
    ok_json(capsys, store_url, "canbo", "payroll", "prepare", "--month", "2024-07")
    ok_json(capsys, store_url, "canbo", "import", "decisions", str(decisions_file(tmp_path / "d2.csv", [REGISTER_2])))
    out = str(tmp_path / "out")
    with open_ledger(store_url) as ledger:
        before = event_count(ledger)
    code, _, err = cmd(capsys, store_url, "lanhdao", "payroll", "release", "--month", "2024-07", "--out", out,
                       four_eyes=True)
    assert code == 1 and "no longer what preparation 1 showed" in err
    with open_ledger(store_url) as ledger:
        assert event_count(ledger) == before  # the lines planned at release were rolled back
    second = ok_json(capsys, store_url, "canbo", "payroll", "prepare", "--month", "2024-07")
    assert (second["preparation"], second["lines"], second["amount"]) == (2, 2, 1_250_000)
    prepared = [e for e in calendar_events(store_url) if type(e).__name__ == "PayrollPrepared"]
    assert [e.number for e in prepared] == [1, 2] and prepared[1].supersedes == prepared[0].digest
    # A release naming the superseded preparation is refused; the latest one goes through.
    code, _, err = cmd(capsys, store_url, "lanhdao", "payroll", "release", "--month", "2024-07", "--out", out,
                       "--preparation", "1", four_eyes=True)
    assert code == 1 and "superseded by preparation 2" in err
    released = ok_json(capsys, store_url, "lanhdao", "payroll", "release", "--month", "2024-07", "--out", out,
                       "--preparation", "2", four_eyes=True)
    assert (released["lines"], released["amount"]) == (2, 1_250_000)


def test_two_releases_at_once_issue_once(store_url, tmp_path):
    with open_ledger(store_url) as ledger:
        ledger.commands.import_decisions(decisions_file(tmp_path / "d.csv", [REGISTER, REGISTER_2]), "canbo")
        ledger.commands.prepare_payroll(JULY, "canbo")
    results, errors = [], []

    def release(name):
        try:
            with open_ledger(store_url) as ledger:
                results.append(ledger.commands.release_payroll(JULY, tmp_path / name, name, four_eyes=True))
        except Exception as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=release, args=(n,)) for n in ("lanhdao", "lanhdao2")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and sorted(r.issued_now for r in results) == [False, True]
    with open_ledger(store_url) as ledger:
        (month,) = ledger.queries.payroll_calendar()
        assert month.lines == 2
        report = ledger.queries.beneficiary_report(REGISTER["citizen_id"]).as_dict()
        assert report["months"][0]["issued"] == 500_000  # once


def _overpaid(capsys, url, tmp_path):
    """The bank-paid person dies in July; four months paid: 2,250,000 VND overpaid."""
    ok_json(capsys, url, "canbo", "import", "decisions", str(decisions_file(tmp_path / "d.csv", [REGISTER_2])))
    for month in ("2024-07", "2024-08", "2024-09", "2024-10"):
        summary = ok_json(capsys, url, "canbo", "payroll", "run", "--month", month, "--out", str(tmp_path / "out"))
        for name in summary["files"]:
            if name.endswith(".csv"):
                rows = synthetic.read_payroll_csv(name)
                results = [dict(payroll_id=r["payroll_id"], line_id=r["line_id"], status="credited",
                                booked_on=f"{month}-05", amount=r["amount"]) for r in rows]
                path = synthetic.write_csv(tmp_path / f"bank-{month}.csv", results, synthetic.BANK_RESULT_COLUMNS)
                ok_json(capsys, url, "canbo", "import", "bank", str(path))
    notice = synthetic.write_csv(tmp_path / "deaths.csv", [dict(zip(DEATH_COLUMNS, (
        "F-1", BANK_ID, "2024-07-15", "family", "2024-11-02", "", "Trần Văn Chú", "")))], DEATH_COLUMNS)
    ok_json(capsys, url, "canbo", "import", "deaths", str(notice))


def test_a_write_off_moves_money_only_once_another_person_approves(store_url, tmp_path, capsys):
    _overpaid(capsys, store_url, tmp_path)
    proposed = ok_json(capsys, store_url, "canbo", "write-off", "propose", BANK_ID, "--amount", "500000",
                       "--decision", "46/QĐ-UBND", "--reason", "hộ nghèo, không có khả năng hoàn trả")
    assert (proposed["status"], proposed["recorded_now"], proposed["proposed_by"]) == ("proposed", True, "canbo")
    (row,) = ok_json(capsys, store_url, "canbo", "recoveries")
    assert (row["recovered"], row["open"]) == (0, 2_250_000)  # nothing moved yet
    # More than is open less what awaits approval is refused.
    code, _, err = cmd(capsys, store_url, "canbo", "write-off", "propose", BANK_ID, "--amount", "2000000",
                       "--decision", "47/QĐ-UBND", "--reason", "x")
    assert code == 1 and "awaiting approval" in err
    code, _, err = cmd(capsys, store_url, "canbo", "write-off", "approve", BANK_ID, "46/QĐ-UBND")
    assert code == 1 and "another person must approve it" in err
    approved = ok_json(capsys, store_url, "lanhdao", "write-off", "approve", BANK_ID, "46/QĐ-UBND")
    assert (approved["status"], approved["proposed_by"], approved["decided_by"]) == ("approved", "canbo", "lanhdao")
    again = ok_json(capsys, store_url, "lanhdao", "write-off", "approve", BANK_ID, "46/QĐ-UBND")
    assert again["recorded_now"] is False
    (row,) = ok_json(capsys, store_url, "canbo", "recoveries")
    assert (row["recovered"], row["written_off"], row["open"]) == (500_000, 500_000, 1_750_000)
    (listed,) = ok_json(capsys, store_url, "canbo", "write-off", "list")
    assert (listed["status"], listed["proposed_by"], listed["decided_by"]) == ("approved", "canbo", "lanhdao")
    timeline = ok_json(capsys, store_url, "canbo", "audit", "timeline", BANK_ID)
    assert [(e["type"], e["actor"], e["amount"]) for e in timeline if "WriteOff" in e["type"]
            or e["type"] == "RecoveryRecorded"] == [("WriteOffProposed", "canbo", None),
                                                     ("RecoveryRecorded", "lanhdao", 500_000)]
    # A write-off in a recoveries file, with four eyes on, is only proposed; rejected, nothing moves.
    path = synthetic.write_csv(tmp_path / "r.csv", [dict(zip(RECOVERY_COLUMNS, (
        "RC-9", BANK_ID, "250000", "2024-12-01", "office", "write_off", "48/QĐ-UBND", "không tìm được người nhận")))],
        RECOVERY_COLUMNS)
    ok_json(capsys, store_url, "canbo", "import", "recoveries", str(path), four_eyes=True)
    assert ok_json(capsys, store_url, "canbo", "recoveries")[0]["open"] == 1_750_000
    code, _, err = cmd(capsys, store_url, "lanhdao", "write-off", "reject", BANK_ID, "RC-9", "--reason",
                       "chưa đủ hồ sơ", "--json")
    assert code == 0, err
    statuses = {w["receipt_no"]: w["status"] for w in ok_json(capsys, store_url, "canbo", "write-off", "list")}
    assert statuses == {"46/QĐ-UBND": "approved", "RC-9": "rejected"}
    assert ok_json(capsys, store_url, "canbo", "recoveries")[0]["open"] == 1_750_000
    assert ok_json(capsys, store_url, "canbo", "replay")["matches"] is True
    assert ok_json(capsys, store_url, "canbo", "audit", "verify")["ok"] is True


def test_dry_run_records_nothing_and_the_history_is_rebuilt_from_events(store_url, tmp_path, capsys):
    path = str(decisions_file(tmp_path / "d.csv", [REGISTER, REGISTER_2]))
    with open_ledger(store_url) as ledger:
        before, views = event_count(ledger), dump_views(ledger.runtime.engine)
    preview = ok_json(capsys, store_url, "canbo", "import", "decisions", path, "--dry-run")
    assert preview["dry_run"] is True and preview["people"] == 2 and preview["events"] == {"Registered": 2}
    with open_ledger(store_url) as ledger:
        assert (event_count(ledger), dump_views(ledger.runtime.engine)) == (before, views)
    done = ok_json(capsys, store_url, "canbo", "import", "decisions", path)
    assert done["recorded_events"] == preview["summary"]["recorded_events"] == 2
    assert ok_json(capsys, store_url, "canbo", "import", "decisions", path)["recorded_events"] == 0
    (receipt,) = ok_json(capsys, store_url, "canbo", "import", "history")  # the re-import left none
    assert (receipt["actor"], receipt["file_name"], receipt["sha256"], receipt["events"]) == \
        ("canbo", "d.csv", preview["sha256"], {"Registered": 2})
    # A payroll's money shows in a results file's dry run.
    ok_json(capsys, store_url, "canbo", "payroll", "run", "--month", "2024-07", "--out", str(tmp_path / "out"))
    rows = synthetic.read_payroll_csv(str(tmp_path / "out" / "payroll-BANK-VBSP-QNG-2024-07.csv"))
    bank = synthetic.write_csv(tmp_path / "bank.csv", [dict(payroll_id=r["payroll_id"], line_id=r["line_id"],
                                                            status="credited", booked_on="2024-07-05",
                                                            amount=r["amount"]) for r in rows],
                               synthetic.BANK_RESULT_COLUMNS)
    preview = ok_json(capsys, store_url, "canbo", "import", "bank", str(bank), "--dry-run")
    assert preview["money"] == {"disbursed": 750_000} and preview["events"] == {"PayoutPaid": 1}
    ok_json(capsys, store_url, "canbo", "import", "bank", str(bank))
    history = ok_json(capsys, store_url, "canbo", "import", "history")
    assert [h["kind"] for h in history] == ["bank", "decisions"] and history[0]["money"] == {"disbursed": 750_000}
    replayed = ok_json(capsys, store_url, "canbo", "replay")
    assert replayed["matches"] is True


def test_a_confirmation_must_be_the_file_and_outcome_previewed(store_url, tmp_path):
    path = decisions_file(tmp_path / "d.csv", [REGISTER])
    with open_ledger(store_url) as ledger:
        preview = ledger.commands.import_decisions(path, "canbo", dry_run=True)
        with pytest.raises(PreviewDiffers, match="not the file that was previewed"):
            ledger.commands.import_decisions(path, "canbo", expect_sha256="0" * 64)
        # Another import changes what this one would record: refused, nothing recorded.
        ledger.commands.import_decisions(decisions_file(tmp_path / "same.csv", [REGISTER]), "lanhdao")
        before = event_count(ledger)
        with pytest.raises(CommandRefused, match="would now record other than its dry run showed"):
            ledger.commands.import_decisions(path, "canbo", expect_sha256=preview.sha256,
                                             expect_outcome=preview.outcome_digest())
        assert event_count(ledger) == before
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    url = store_url if "postgresql" in store_url else f"sqlite:///{fresh / 'ledger.db'}"
    if "postgresql" in store_url:
        return
    with open_ledger(url) as ledger:
        preview = ledger.commands.import_decisions(path, "canbo", dry_run=True)
        summary = ledger.commands.import_decisions(path, "canbo", expect_sha256=preview.sha256,
                                                   expect_outcome=preview.outcome_digest())
        assert summary.recorded_events == 1


def test_prepare_and_release_issue_what_a_single_run_issues(tmp_path):
    """Two steps by two people and one step by one person record the same
    lists (each agent's digest covers who, months, amount and account)."""
    registered = synthetic.registrations(300, seed=11, first=Month.parse("2024-05"), months_count=3)
    path = decisions_file(tmp_path / "d.csv", registered)
    recorded = []
    for mode in ("run", "two steps"):
        with open_ledger(f"sqlite:///{tmp_path / (mode + '.db')}") as ledger:
            ledger.commands.import_decisions(path, "canbo")
            for month in (Month.parse("2024-05"), Month.parse("2024-06"), JULY):
                if mode == "run":
                    ledger.commands.run_payroll(month, tmp_path / mode, "canbo")
                else:
                    ledger.commands.prepare_payroll(month, "canbo")
                    ledger.commands.release_payroll(month, tmp_path / mode, "lanhdao", four_eyes=True)
            recorded.append(ledger.runtime.app.calendar().months)
    assert recorded[0] == recorded[1] and len(recorded[0]) == 3
