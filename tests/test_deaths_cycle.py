"""Late death notices, clawback, recoveries and funeral support end to end
through the ledger command, on SQLite and PostgreSQL."""
from __future__ import annotations


import pytest

from adapters import synthetic
from .helpers import cmd, ok_json, open_ledger

from .helpers import REGISTER, REGISTER_2, decisions_file, dump_views, event_count

DEATH_COLUMNS = ("notice_id", "citizen_id", "date_of_death", "source", "reported_on", "document_no",
                 "funeral_arranged_by", "corrects")
RECOVERY_COLUMNS = ("receipt_no", "citizen_id", "amount", "paid_on", "paid_by", "method", "decision_no", "reason")
CASH_ID, BANK_ID = REGISTER["citizen_id"], REGISTER_2["citizen_id"]


@pytest.fixture(autouse=True)
def _env(monkeypatch):
    monkeypatch.setenv("LEDGER_TODAY", "2024-12-20")
    monkeypatch.setenv("LEDGER_ACTOR", "officer-test")


def run_month(capsys, url, month, tmp_path, unpaid=()):
    """Payroll for the month; everyone collects, except the citizens in ``unpaid``."""
    summary = ok_json(capsys, url, "payroll", "run", "--month", month, "--out", str(tmp_path / "out"))
    for name in summary["files"]:
        if not name.endswith(".csv"):
            continue
        rows = synthetic.read_payroll_csv(name)
        if "VNPOST" in name:
            results = [dict(payroll_id=r["payroll_id"], line_id=r["line_id"], citizen_id=r["citizen_id"],
                            **({"status": "unpaid"} if r["citizen_id"] in unpaid else
                               {"status": "paid", "paid_on": f"{month}-12", "amount_paid": r["amount"],
                                "received_by": "proxy", "at_home": "n"}))
                       for r in rows]
            path = synthetic.write_csv(tmp_path / f"po-{month}.csv", results, synthetic.POSTOFFICE_RESULT_COLUMNS)
            ok_json(capsys, url, "import", "postoffice", str(path))
        else:
            results = [dict(payroll_id=r["payroll_id"], line_id=r["line_id"], status="credited",
                            booked_on=f"{month}-05", amount=r["amount"]) for r in rows]
            path = synthetic.write_csv(tmp_path / f"bank-{month}.csv", results, synthetic.BANK_RESULT_COLUMNS)
            ok_json(capsys, url, "import", "bank", str(path))
    return summary


def deaths(tmp_path, name, *rows):
    return str(synthetic.write_csv(tmp_path / name, [dict(zip(DEATH_COLUMNS, r)) for r in rows], DEATH_COLUMNS))


def test_late_death_cancels_held_cash_claws_back_paid_months_and_pays_funeral_support(store_url, tmp_path, capsys):
    cmd(capsys, store_url, "import", "decisions", str(decisions_file(tmp_path / "d.csv", [REGISTER, REGISTER_2])))
    run_month(capsys, store_url, "2024-07", tmp_path)
    run_month(capsys, store_url, "2024-08", tmp_path)
    run_month(capsys, store_url, "2024-09", tmp_path, unpaid={CASH_ID})  # the cash one stops collecting
    # Both died on 2024-08-03; the notices arrive in late September.
    path = deaths(tmp_path, "deaths.csv",
                  ("CR-1", CASH_ID, "2024-08-03", "civil_registry", "2024-09-28", "TK-77", "Nguyễn Văn Con", ""),
                  ("CR-2", BANK_ID, "2024-08-03", "civil_registry", "2024-09-28", "TK-78", "Trần Văn Chú", ""),
                  ("CM-9", CASH_ID, "2024-08-03", "commune", "2024-09-29", "", "", ""))  # the same death again
    result = ok_json(capsys, store_url, "import", "deaths", path)
    assert result["rows"] == 3
    assert ok_json(capsys, store_url, "import", "deaths", path)["recorded_events"] == 0

    cash = ok_json(capsys, store_url, "beneficiary", "show", CASH_ID)
    months = {m["month"]: m for m in cash["months"]}
    assert cash["status"] == "deceased"
    assert months["2024-09"]["cancelled"] == 500_000 and months["2024-09"]["due"] == 0  # held cash withdrawn
    assert cash["overpayment_open"] == 0 and cash["funeral_support"] == 10_000_000
    bank = ok_json(capsys, store_url, "beneficiary", "show", BANK_ID)
    assert bank["overpayment_open"] == 750_000  # September was credited after the death
    october = run_month(capsys, store_url, "2024-10", tmp_path)
    assert october["lines"] == 2 and october["amount"] == 20_000_000  # funeral support only, nothing else
    funeral = next(x for x in ok_json(capsys, store_url, "beneficiary", "show", CASH_ID)["lines"]
                   if x["kind"] == "funeral_support")
    assert funeral["status"] == "paid" and funeral["amount"] == 10_000_000

    recoveries = ok_json(capsys, store_url, "recoveries")
    (row,) = recoveries
    assert {k: row[k] for k in ("citizen_id", "months", "amount", "recovered", "open", "status")} == \
        {"citizen_id": BANK_ID, "months": ["2024-09"], "amount": 750_000, "recovered": 0, "open": 750_000,
         "status": "open"}


def test_conflicting_dates_need_a_correcting_notice(store_url, tmp_path, capsys):
    cmd(capsys, store_url, "import", "decisions", str(decisions_file(tmp_path / "d.csv", [REGISTER])))
    ok_json(capsys, store_url, "import", "deaths",
            deaths(tmp_path, "a.csv", ("CR-1", CASH_ID, "2024-08-03", "civil_registry", "2024-09-01", "", "", "")))
    with open_ledger(store_url) as ledger:
        before, views = event_count(ledger), dump_views(ledger.runtime.engine)
    conflicting = deaths(tmp_path, "b.csv", ("PO-1", CASH_ID, "2024-07-20", "post_office", "2024-09-05", "", "", ""))
    code, _, err = cmd(capsys, store_url, "import", "deaths", conflicting)
    assert code == 1 and f"{conflicting}:2:3: " in err and "record a correcting notice" in err
    with open_ledger(store_url) as ledger:
        assert (event_count(ledger), dump_views(ledger.runtime.engine)) == (before, views)
    correcting = deaths(tmp_path, "c.csv", ("CR-2", CASH_ID, "2024-07-20", "civil_registry", "2024-09-06",
                                            "TK-90", "", "CR-1"))
    ok_json(capsys, store_url, "import", "deaths", correcting)
    shown = ok_json(capsys, store_url, "beneficiary", "show", CASH_ID)
    assert shown["date_of_death"] == "2024-07-20"


def test_recoveries_in_parts_offset_and_write_off(store_url, tmp_path, capsys):
    cmd(capsys, store_url, "import", "decisions", str(decisions_file(tmp_path / "d.csv", [REGISTER_2])))
    for month in ("2024-07", "2024-08", "2024-09", "2024-10"):
        run_month(capsys, store_url, month, tmp_path)
    ok_json(capsys, store_url, "import", "deaths",
            deaths(tmp_path, "d1.csv", ("F-1", BANK_ID, "2024-07-15", "family", "2024-11-02", "", "Trần Văn Chú", "")))
    assert ok_json(capsys, store_url, "beneficiary", "show", BANK_ID)["overpayment_open"] == 3 * 750_000

    def recoveries(name, *rows):
        return str(synthetic.write_csv(tmp_path / name, [dict(zip(RECOVERY_COLUMNS, r)) for r in rows],
                                       RECOVERY_COLUMNS))

    too_much = recoveries("r0.csv", ("RC-0", BANK_ID, "3000000", "2024-11-10", "Trần Văn Chú", "cash", "", ""))
    code, _, err = cmd(capsys, store_url, "import", "recoveries", too_much)
    assert code == 1 and "more than the open overpayment" in err
    no_decision = recoveries("r1.csv", ("RC-1", BANK_ID, "500000", "2024-11-10", "office", "offset", "", ""))
    code, _, err = cmd(capsys, store_url, "import", "recoveries", no_decision)
    assert code == 1 and f"{no_decision}:2:7: decision_no is required for method offset" in err

    path = recoveries("r2.csv",
                      ("RC-2", BANK_ID, "750000", "2024-11-10", "Trần Văn Chú", "cash", "", ""),
                      ("RC-3", BANK_ID, "1000000", "2024-11-12", "office", "offset", "45/QĐ-UBND", ""),
                      ("RC-4", BANK_ID, "500000", "2024-11-20", "office", "write_off", "46/QĐ-UBND", "hộ nghèo, không có khả năng hoàn trả"))
    assert ok_json(capsys, store_url, "import", "recoveries", path)["recorded_events"] == 3
    assert ok_json(capsys, store_url, "import", "recoveries", path)["recorded_events"] == 0
    (row,) = ok_json(capsys, store_url, "recoveries")
    assert (row["amount"], row["recovered"], row["open"], row["status"]) == (2_250_000, 2_250_000, 0, "written_off")
    # The offset came out of the funeral support still owed to the estate.
    november = run_month(capsys, store_url, "2024-11", tmp_path)
    assert november["amount"] == 10_000_000 - 1_000_000


def test_payment_reported_after_the_date_of_death_is_flagged(store_url, tmp_path, capsys):
    cmd(capsys, store_url, "import", "decisions", str(decisions_file(tmp_path / "d.csv", [REGISTER])))
    run_month(capsys, store_url, "2024-07", tmp_path)
    ok_json(capsys, store_url, "payroll", "run", "--month", "2024-08", "--out", str(tmp_path / "out"))
    ok_json(capsys, store_url, "import", "deaths",
            deaths(tmp_path, "d.csv", ("CM-1", CASH_ID, "2024-07-20", "commune", "2024-08-09", "", "", "")))
    # The post office paid the (already cancelled) August line to a proxy on the 12th.
    results = [dict(payroll_id="VNPOST-BS-01/2024-08", line_id=f"2024-08-{CASH_ID}", citizen_id=CASH_ID,
                    status="paid", paid_on="2024-08-12", amount_paid="500000", received_by="proxy", at_home="n")]
    path = synthetic.write_csv(tmp_path / "po.csv", results, synthetic.POSTOFFICE_RESULT_COLUMNS)
    report = ok_json(capsys, store_url, "import", "postoffice", str(path))
    assert report["paid_after_death"] == [{"citizen_id": CASH_ID, "line_id": f"2024-08-{CASH_ID}"}]
    (row,) = ok_json(capsys, store_url, "recoveries")
    assert row["open"] == 500_000 and row["paid_after_death"] == [f"2024-08-{CASH_ID}"]
    assert row["received_by"] == ["proxy (none authorised)"]
