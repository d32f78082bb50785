"""The population database check through the `ledger` command, on SQLite
and PostgreSQL: the answer file's results, the review queue, the hold a
reported death puts on payment and what the officer's decision does."""
from __future__ import annotations


import pytest

from adapters import synthetic

from .helpers import cmd, decisions_file, dump_views, event_count, ok_json, open_ledger, REGISTER, REGISTER_2

POP_COLUMNS = ("citizen_id", "full_name", "birth_date", "sex", "status", "date_of_death", "permanent_commune",
               "checked_on")
CASH_ID, BANK_ID = REGISTER["citizen_id"], REGISTER_2["citizen_id"]
THIRD = dict(REGISTER, decision_no="3/QĐ-UBND", citizen_id="051044001236", full_name="Lê Văn C",
             commune_code="20102")
THIRD_ID = THIRD["citizen_id"]
UNKNOWN_ID = "051044009999"


@pytest.fixture(autouse=True)
def _env(monkeypatch):
    monkeypatch.setenv("LEDGER_TODAY", "2024-09-20")
    monkeypatch.setenv("LEDGER_ACTOR", "officer-test")


def answers(tmp_path, name, *rows):
    return str(synthetic.write_csv(tmp_path / name, [dict(zip(POP_COLUMNS, r)) for r in rows], POP_COLUMNS))


def alive(citizen, name, birth, sex="M", commune="20101", on="2024-09-15"):
    return (citizen, name, birth, sex, "alive", "", commune, on)


def dead(citizen, name, birth, died, sex="F", commune="20101", on="2024-09-15"):
    return (citizen, name, birth, sex, "deceased", died, commune, on)


def pay_everyone(capsys, url, month, tmp_path):
    """The month's payroll; every cash line collected, every bank line credited."""
    summary = ok_json(capsys, url, "payroll", "run", "--month", month, "--out", str(tmp_path / "out"))
    for name in summary["files"]:
        if not name.endswith(".csv"):
            continue
        rows = synthetic.read_payroll_csv(name)
        if "VNPOST" in name:
            results = [dict(payroll_id=r["payroll_id"], line_id=r["line_id"], citizen_id=r["citizen_id"],
                            status="paid", paid_on=f"{month}-12", amount_paid=r["amount"],
                            received_by="beneficiary", at_home="n") for r in rows]
            path = synthetic.write_csv(tmp_path / f"po-{month}.csv", results, synthetic.POSTOFFICE_RESULT_COLUMNS)
            ok_json(capsys, url, "import", "postoffice", str(path))
        else:
            results = [dict(payroll_id=r["payroll_id"], line_id=r["line_id"], status="credited",
                            booked_on=f"{month}-05", amount=r["amount"]) for r in rows]
            path = synthetic.write_csv(tmp_path / f"bank-{month}.csv", results, synthetic.BANK_RESULT_COLUMNS)
            ok_json(capsys, url, "import", "bank", str(path))
    return summary


def registered(capsys, url, tmp_path, months=("2024-07", "2024-08", "2024-09")):
    assert cmd(capsys, url, "import", "decisions",
               str(decisions_file(tmp_path / "d.csv", [REGISTER, REGISTER_2, THIRD])))[0] == 0
    for month in months:
        pay_everyone(capsys, url, month, tmp_path)


def lines_of(capsys, url, citizen):
    return ok_json(capsys, url, "beneficiary", "show", citizen)["lines"]


def test_each_result_recorded_once_and_unknown_ids_reported(store_url, tmp_path, capsys):
    registered(capsys, store_url, tmp_path, months=())
    path = answers(tmp_path, "pop.csv",
                   alive(CASH_ID, "Nguyễn Văn A", "1944-03-02"),                        # matched
                   (BANK_ID, "", "", "", "not_found", "", "", "2024-09-15"),            # not found
                   alive(THIRD_ID, "Lê Văn D", "1944-03-02", sex="F", commune="20103"),  # differs
                   alive(UNKNOWN_ID, "Ai Đó", "1950-01-01"))                            # not ours
    with open_ledger(store_url) as ledger:
        before = event_count(ledger)
    rehearsed = ok_json(capsys, store_url, "import", "population", path, "--dry-run")
    assert rehearsed["people"] == 3 and rehearsed["events"] == {"PopulationChecked": 3}
    with open_ledger(store_url) as ledger:
        assert event_count(ledger) == before  # a dry run records nothing
    first = ok_json(capsys, store_url, "import", "population", path)
    assert first["results"] == {"differs": 1, "matched": 1, "not_found": 1}
    assert first["not_in_ledger"] == [{"line": 5, "citizen_id": UNKNOWN_ID}]
    assert first["recorded_events"] == 3 and first["held"] == []
    with open_ledger(store_url) as ledger:
        count = event_count(ledger)
    again = ok_json(capsys, store_url, "import", "population", path)
    assert (again["recorded_events"], again["unchanged_rows"], again["results"]) == (0, 3, {})
    with open_ledger(store_url) as ledger:
        assert event_count(ledger) == count
    code, _, err = cmd(capsys, store_url, "beneficiary", "show", UNKNOWN_ID)
    assert code == 1 and "not registered" in err  # reported, not made a person

    queue = ok_json(capsys, store_url, "population", "queue")
    assert [(r["citizen_id"], r["status"], r["differences"]) for r in queue] == [
        (BANK_ID, "not_found", []), (THIRD_ID, "differs", ["full_name", "sex", "commune"])]
    assert queue[1]["population_db"]["full_name"] == "Lê Văn D" and queue[1]["ledger"]["full_name"] == "Lê Văn C"
    assert queue[1]["checked_by"] == "officer-test" and queue[1]["checked_on"] == "2024-09-15"
    assert [r["citizen_id"] for r in ok_json(capsys, store_url, "population", "queue", "--status", "differs")] \
        == [THIRD_ID]
    assert ok_json(capsys, store_url, "population", "queue", "--commune", "20102")[0]["citizen_id"] == THIRD_ID
    assert ok_json(capsys, store_url, "population", "queue", "--status", "deceased") == []


def test_a_name_differing_only_in_diacritics_or_case_says_so(store_url, tmp_path, capsys):
    registered(capsys, store_url, tmp_path, months=())
    ok_json(capsys, store_url, "import", "population", answers(
        tmp_path, "pop.csv", alive(CASH_ID, "NGUYEN VAN A", "1944-03-02"),
        alive(THIRD_ID, "Lê văn C", "1944-03-02", commune="20102"),
        dead(BANK_ID, "Trần Thị  B", "2019-11-20", "2024-08-03")))
    queue = {r["citizen_id"]: r for r in ok_json(capsys, store_url, "population", "queue")}
    assert queue[CASH_ID]["differences"] == ["full_name_diacritics"]
    assert queue[THIRD_ID]["differences"] == ["full_name_diacritics"]  # case only
    assert queue[BANK_ID]["differences"] == []  # a doubled space is not a difference
    rates = ok_json(capsys, store_url, "population", "rates")
    assert rates == [
        {"level": "commune", "area": "20101", "checked": 2, "matched": 0, "not_found": 0, "differs": 1,
         "deceased": 1, "match_rate": 0.0},
        {"level": "commune", "area": "20102", "checked": 1, "matched": 0, "not_found": 0, "differs": 1,
         "deceased": 0, "match_rate": 0.0},
        {"level": "district", "area": "district", "checked": 3, "matched": 0, "not_found": 0, "differs": 2,
         "deceased": 1, "match_rate": 0.0}]


def test_match_rates_per_commune_and_district(store_url, tmp_path, capsys):
    registered(capsys, store_url, tmp_path, months=())
    ok_json(capsys, store_url, "import", "population", answers(
        tmp_path, "pop.csv", alive(CASH_ID, "Nguyễn Văn A", "1944-03-02"),
        alive(THIRD_ID, "Lê Văn C", "1944-03-02", commune="20102"),
        (BANK_ID, "", "", "", "not_found", "", "", "2024-09-15")))
    rates = {r["area"]: r for r in ok_json(capsys, store_url, "population", "rates")}
    assert rates["20101"]["match_rate"] == 0.5 and rates["20101"]["not_found"] == 1
    assert rates["20102"]["match_rate"] == 1.0
    assert (rates["district"]["checked"], rates["district"]["matched"]) == (3, 2)
    assert rates["district"]["match_rate"] == round(2 / 3, 4)
    code, out, _ = cmd(capsys, store_url, "population", "rates")
    assert code == 0 and "66.7 %" in out


def test_a_reported_death_holds_payment_until_rejected_then_the_held_months_are_paid_once(
        store_url, tmp_path, capsys, monkeypatch):
    registered(capsys, store_url, tmp_path)
    result = ok_json(capsys, store_url, "import", "population", answers(
        tmp_path, "pop.csv", dead(BANK_ID, "Trần Thị B", "2019-11-20", "2024-08-03")))
    assert result["held"] == [BANK_ID] and result["results"] == {"deceased": 1}
    (item,) = ok_json(capsys, store_url, "population", "queue", "--status", "deceased")
    assert item["held"] and item["population_db"]["date_of_death"] == "2024-08-03"
    monkeypatch.setenv("LEDGER_TODAY", "2024-10-05")
    for month in ("2024-10", "2024-11"):  # held: nothing issued for the person
        pay_everyone(capsys, store_url, month, tmp_path)
    show = ok_json(capsys, store_url, "beneficiary", "show", BANK_ID)
    assert show["holds"] == ["POPULATION_DB"] and show["status"] == "active"
    assert {x["line_id"][:7] for x in show["lines"]} == \
        {"2024-07", "2024-08", "2024-09"}
    assert show["arrears_due"] == 2 * 750_000  # held, not lost
    # matched is no answer to a reported death; a reason is required
    code, _, err = cmd(capsys, store_url, "population", "resolve", BANK_ID, "--as", "matched", "--reason", "ok")
    assert code == 1 and "confirm it (--as deceased) or reject it (--as rejected)" in err
    code, _, err = cmd(capsys, store_url, "population", "resolve", BANK_ID, "--as", "rejected", "--reason", " ")
    assert code == 1 and "reason is required" in err
    resolved = ok_json(capsys, store_url, "population", "resolve", BANK_ID, "--as", "rejected",
                       "--reason", "xã xác minh: người còn sống")
    assert resolved["changed"] and resolved["recorded_events"] == 1
    again = ok_json(capsys, store_url, "population", "resolve", BANK_ID, "--as", "rejected",
                    "--reason", "xã xác minh: người còn sống")
    assert not again["changed"] and again["recorded_events"] == 0  # a retry records nothing
    assert ok_json(capsys, store_url, "population", "queue") == []
    december = pay_everyone(capsys, store_url, "2024-12", tmp_path)
    assert december["lines"] == 3
    show = ok_json(capsys, store_url, "beneficiary", "show", BANK_ID)
    (arrears,) = [x for x in show["lines"] if x["line_id"].startswith("2024-12")]
    assert arrears["months"] == ["2024-10", "2024-11", "2024-12"] and arrears["amount"] == 3 * 750_000
    months = {m["month"]: m for m in show["months"]}
    assert all(months[m]["disbursed"] == 750_000 for m in ("2024-07", "2024-08", "2024-09", "2024-10",
                                                            "2024-11", "2024-12"))
    assert show["holds"] == [] and show["arrears_due"] == 0 and show["overpayment_open"] == 0


def test_a_confirmed_death_is_a_death_notice_from_the_population_database(store_url, tmp_path, capsys,
                                                                            monkeypatch):
    registered(capsys, store_url, tmp_path, months=("2024-07", "2024-08"))
    ok_json(capsys, store_url, "payroll", "run", "--month", "2024-09", "--out", str(tmp_path / "out"))
    ok_json(capsys, store_url, "import", "population", answers(
        tmp_path, "pop.csv", dead(CASH_ID, "Nguyễn Văn A", "1944-03-02", "2024-08-03", sex="M")))
    monkeypatch.setenv("LEDGER_TODAY", "2024-10-05")
    october = ok_json(capsys, store_url, "payroll", "run", "--month", "2024-10", "--out", str(tmp_path / "out"))
    assert not any(CASH_ID in line for line in october["files"])
    show = ok_json(capsys, store_url, "beneficiary", "show", CASH_ID)
    assert [x["line_id"][:7] for x in show["lines"]] == ["2024-07", "2024-08", "2024-09"]  # nothing for October
    resolved = ok_json(capsys, store_url, "population", "resolve", CASH_ID, "--as", "deceased",
                       "--reason", "UBND xã xác nhận", "--decision-no", "TB-12/UBND")
    # The September cash still with the post office is withdrawn; August was collected, due through
    # the month of death; funeral support is granted.
    assert resolved["lines_cancelled"] == [f"2024-09-{CASH_ID}"] and resolved["funeral_support_vnd"] == 10_000_000
    show = ok_json(capsys, store_url, "beneficiary", "show", CASH_ID)
    assert (show["status"], show["date_of_death"], show["holds"]) == ("deceased", "2024-08-03", [])
    timeline = ok_json(capsys, store_url, "audit", "timeline", CASH_ID)
    assert [e["type"] for e in timeline][-5:] == ["PopulationChecked", "DeathNotified", "FuneralSupportGranted",
                                                  "LineCancelled", "PopulationReviewed"]
    with open_ledger(store_url) as ledger:
        person = ledger.runtime.app.beneficiary(CASH_ID)
        assert person.facts.death.source == "population_db"
    november = ok_json(capsys, store_url, "payroll", "run", "--month", "2024-11", "--out", str(tmp_path / "out"))
    show = ok_json(capsys, store_url, "beneficiary", "show", CASH_ID)
    new = [x for x in show["lines"] if x["line_id"].startswith("2024-11")]
    assert [x["kind"] for x in new] == ["funeral_support"]  # nothing after the month of death
    assert november["lines"] == 3  # the other two, and the funeral support


def test_a_correction_is_a_decision_and_not_found_can_be_matched(store_url, tmp_path, capsys):
    registered(capsys, store_url, tmp_path, months=())
    ok_json(capsys, store_url, "import", "population", answers(
        tmp_path, "pop.csv", alive(CASH_ID, "Nguyễn Văn Á", "1944-03-02"),
        (BANK_ID, "", "", "", "not_found", "", "", "2024-09-15")))
    code, _, err = cmd(capsys, store_url, "population", "resolve", CASH_ID, "--as", "corrected",
                       "--reason", "theo CSDL dân cư", "--full-name", "Nguyễn Văn Á")
    assert code == 1 and "give its number" in err
    code, _, err = cmd(capsys, store_url, "population", "resolve", CASH_ID, "--as", "rejected", "--reason", "x")
    assert code == 1 and "rejected is for a death" in err
    resolved = ok_json(capsys, store_url, "population", "resolve", CASH_ID, "--as", "corrected",
                       "--reason", "theo CSDL dân cư", "--full-name", "Nguyễn Văn Á", "--decision-no", "15/QĐ")
    assert resolved["recorded_events"] == 2
    show = ok_json(capsys, store_url, "beneficiary", "show", CASH_ID)
    assert show["full_name"] == "Nguyễn Văn Á"
    timeline = ok_json(capsys, store_url, "audit", "timeline", CASH_ID)
    assert [(e["type"], e["basis"]) for e in timeline][-2:] == [("IdentityCorrected", "15/QĐ"),
                                                                ("PopulationReviewed", "15/QĐ")]
    ok_json(capsys, store_url, "population", "resolve", BANK_ID, "--as", "matched",
            "--reason", "CCCD gắn chip mới cấp, CSDL chưa cập nhật")
    assert ok_json(capsys, store_url, "population", "queue") == []
    code, _, err = cmd(capsys, store_url, "population", "resolve", THIRD_ID, "--as", "matched", "--reason", "x")
    assert code == 1 and "no population check awaiting review" in err
    # The views rebuilt from the events are the live ones (the correction included).
    code, out, err = cmd(capsys, store_url, "replay")
    assert code == 0, out + err


def test_a_bad_answer_file_names_file_line_and_column_and_records_nothing(store_url, tmp_path, capsys):
    registered(capsys, store_url, tmp_path, months=())
    with open_ledger(store_url) as ledger:
        before, views = event_count(ledger), dump_views(ledger.runtime.engine)
    path = answers(tmp_path, "bad.csv",
                   alive(CASH_ID, "Nguyễn Văn A", "1944-03-02"),
                   (BANK_ID, "Trần Thị B", "2019-11-20", "F", "deceased", "", "20101", "2024-09-15"),
                   (THIRD_ID, "Lê Văn C", "1944-03-02", "X", "alive", "", "20102", "2024-09-15"),
                   (THIRD_ID, "Lê Văn C", "1944-03-02", "M", "dead", "", "20102", "2024-09-16"),
                   alive(CASH_ID, "Nguyễn Văn B", "1944-03-02"),
                   alive(THIRD_ID, "Lê Văn C", "1944-03-02", on="2024-12-01"))
    code, out, err = cmd(capsys, store_url, "import", "population", path)
    assert code == 1 and out == ""
    assert err.splitlines()[:-1] == [
        f"{path}:3:6: date_of_death is required when status is deceased",
        f"{path}:4:4: sex: sex must be M or F (or Nam, Nữ) (got 'X')",
        f"{path}:5:5: status: Input should be 'alive', 'deceased' or 'not_found' (got 'dead')",
        f"{path}:6:1: duplicate key: {CASH_ID} checked on 2024-09-15 is on line 2 with other content",
        f"{path}:7:8: checked_on 2024-12-01 is after today (2024-09-20)",
    ]
    assert "nothing was recorded" in err.splitlines()[-1]
    with open_ledger(store_url) as ledger:
        assert event_count(ledger) == before and dump_views(ledger.runtime.engine) == views


def test_the_same_check_with_other_content_is_refused(store_url, tmp_path, capsys):
    registered(capsys, store_url, tmp_path, months=())
    ok_json(capsys, store_url, "import", "population", answers(
        tmp_path, "a.csv", alive(CASH_ID, "Nguyễn Văn A", "1944-03-02")))
    path = answers(tmp_path, "b.csv", alive(THIRD_ID, "Lê Văn C", "1944-03-02", commune="20102"),
                   alive(CASH_ID, "Nguyễn Văn B", "1944-03-02"))
    code, _, err = cmd(capsys, store_url, "import", "population", path)
    assert code == 1
    assert err.splitlines()[0] == (f"{path}:3:8: the check of {CASH_ID} on 2024-09-15 was recorded before "
                                   "with different content")
    assert ok_json(capsys, store_url, "population", "rates")[-1]["checked"] == 1  # b.csv recorded nothing


def test_recording_commands_need_an_actor(sqlite_url, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("LEDGER_ACTOR")
    path = answers(tmp_path, "pop.csv", alive(CASH_ID, "Nguyễn Văn A", "1944-03-02"))
    assert cmd(capsys, sqlite_url, "import", "population", path)[0] == 64
    assert cmd(capsys, sqlite_url, "population", "resolve", CASH_ID, "--as", "matched", "--reason", "x")[0] == 64


def test_a_corrected_birth_date_changes_what_was_due(store_url, tmp_path, capsys):
    """Nguyễn Văn A is paid ELDERLY_80, due from the month he turns 80; the
    database has him born in December 1944, not March: the correction (a
    decision) makes July to November not due. The September cash still at
    the post office is withdrawn; July and August, collected, are to recover."""
    registered(capsys, store_url, tmp_path, months=("2024-07", "2024-08"))
    ok_json(capsys, store_url, "payroll", "run", "--month", "2024-09", "--out", str(tmp_path / "out"))
    ok_json(capsys, store_url, "import", "population", answers(
        tmp_path, "pop.csv", alive(CASH_ID, "Nguyễn Văn A", "1944-12-02")))
    (item,) = ok_json(capsys, store_url, "population", "queue")
    assert item["differences"] == ["birth_date"] and item["population_db"]["birth_date"] == "1944-12-02"
    code, _, err = cmd(capsys, store_url, "population", "resolve", CASH_ID, "--as", "corrected", "--reason", "x",
                       "--decision-no", "16/QĐ", "--birth-date", "1945-12-02")
    assert code == 1 and "encodes birth year 1944" in err  # the id and the date must agree
    resolved = ok_json(capsys, store_url, "population", "resolve", CASH_ID, "--as", "corrected",
                       "--reason", "giấy khai sinh gốc", "--decision-no", "16/QĐ", "--birth-date", "1944-12-02")
    assert resolved["lines_cancelled"] == [f"2024-09-{CASH_ID}"]
    show = ok_json(capsys, store_url, "beneficiary", "show", CASH_ID)
    assert show["birth_date"] == "1944-12-02"
    due = {m["month"]: m["due"] for m in show["months"]}
    assert [due[m] for m in ("2024-07", "2024-08", "2024-09")] == [0, 0, 0]
    assert show["overpayment_open"] == 2 * 500_000
