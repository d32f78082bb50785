"""The figures offices report (ledger report cashless / trend), end to end
through the ledger command on SQLite and PostgreSQL, checked against a
computation of our own from the recorded events (not the views)."""
from __future__ import annotations

from collections import defaultdict

import openpyxl
import pytest
import sqlalchemy as sa
from eventsourcing.persistence import StoredEvent

from adapters import synthetic
from adapters.store import as_uuid
from ledger.beneficiary import Beneficiary as B
from ledger.months import Month
from adapters.cli import main

from .helpers import cmd, decisions_file, ok_json, open_ledger, REGISTER, REGISTER_2

CASH_ID, BANK_ID = REGISTER["citizen_id"], REGISTER_2["citizen_id"]
THIRD = dict(REGISTER, decision_no="3/QĐ-UBND", citizen_id="051043001236", full_name="Lê Văn D",
             birth_date="1943-05-06", commune_code="20102")
DEATH_COLUMNS = ("notice_id", "citizen_id", "date_of_death", "source", "reported_on")
RECOVERY_COLUMNS = ("receipt_no", "citizen_id", "amount", "paid_on", "paid_by", "method")


@pytest.fixture(autouse=True)
def _env(monkeypatch):
    monkeypatch.setenv("LEDGER_TODAY", "2024-12-20")
    monkeypatch.setenv("LEDGER_ACTOR", "officer-test")


def run_month(capsys, url, month, tmp_path, unpaid=(), late=()):
    """The month's payroll and results: cash collected on the 12th (the
    citizens in ``unpaid`` do not collect; a carried line of those in
    ``late`` is collected this month), bank lines credited on the 5th."""
    summary = ok_json(capsys, url, "payroll", "run", "--month", month, "--out", str(tmp_path / month))
    for name in summary["files"]:
        if not name.endswith(".csv"):
            continue
        rows = synthetic.read_payroll_csv(name)
        if "VNPOST" in name:
            results = [dict(payroll_id=r["payroll_id"], line_id=r["line_id"], citizen_id=r["citizen_id"],
                            **({"status": "unpaid"} if r["citizen_id"] in unpaid else
                               {"status": "paid", "paid_on": f"{month}-12", "amount_paid": r["amount"],
                                "received_by": "beneficiary", "at_home": "n"}))
                       for r in rows]
            path = synthetic.write_csv(tmp_path / f"po-{month}.csv", results, synthetic.POSTOFFICE_RESULT_COLUMNS)
            ok_json(capsys, url, "import", "postoffice", str(path))
        elif rows:
            results = [dict(payroll_id=r["payroll_id"], line_id=r["line_id"], status="credited",
                            booked_on=f"{month}-05", amount=r["amount"]) for r in rows]
            path = synthetic.write_csv(tmp_path / f"bank-{month}.csv", results, synthetic.BANK_RESULT_COLUMNS)
            ok_json(capsys, url, "import", "bank", str(path))
    return summary


def district(capsys, url, tmp_path):
    path = decisions_file(tmp_path / "d.csv", [REGISTER, REGISTER_2, THIRD])
    ok_json(capsys, url, "import", "decisions", str(path))
    run_month(capsys, url, "2024-07", tmp_path)
    run_month(capsys, url, "2024-08", tmp_path, unpaid={CASH_ID})
    run_month(capsys, url, "2024-09", tmp_path)  # the carried August line is collected with September's
    # The third person died in August; the commune reports it in October.
    deaths = synthetic.write_csv(tmp_path / "deaths.csv", [dict(
        notice_id="KT-1", citizen_id=THIRD["citizen_id"], date_of_death="2024-08-10", source="commune",
        reported_on="2024-10-03")], DEATH_COLUMNS)
    ok_json(capsys, url, "import", "deaths", str(deaths))
    recovery = synthetic.write_csv(tmp_path / "rec.csv", [dict(
        receipt_no="PT-1", citizen_id=THIRD["citizen_id"], amount="200000", paid_on="2024-10-15",
        paid_by="con trai", method="cash")], RECOVERY_COLUMNS)
    ok_json(capsys, url, "import", "recoveries", str(recovery))
    run_month(capsys, url, "2024-10", tmp_path)


def recorded_events(url):
    """Every recorded event, in order, straight from the event store."""
    with open_ledger(url) as ledger:
        rt = ledger.runtime
        with rt.engine.connect() as conn:
            order = "rowid" if rt.store.kind == "sqlite" else "notification_id"
            rows = conn.execute(sa.text(f"SELECT originator_id, originator_version, topic, state "
                                        f"FROM {rt.store.events_table} ORDER BY {order}")).all()
        return [rt.app.mapper.to_domain_event(StoredEvent(as_uuid(o), v, t, bytes(s))) for o, v, t, s in rows]


def expected_cashless(events, months):
    issued = {e.line_id: e for e in events if isinstance(e, B.PayoutIssued)}
    paid = defaultdict(lambda: defaultdict(lambda: [0, 0]))  # (month, commune) -> citizen -> [cash, bank]
    for e in events:
        if isinstance(e, B.PayoutPaid):
            line = issued[e.line_id]
            paid[(str(Month.containing(e.paid_on)), line.commune_code)][line.citizen_id][
                1 if line.channel == "bank" else 0] += e.amount_vnd
    out = {}
    for m in months:
        people = {}
        for (month, commune), by in paid.items():
            if month == m:
                out[(m, commune)] = by
                people.update(by)
        out[(m, "district")] = people
    return {key: (len(by), sum(1 for c, b in by.values() if b), sum(c + b for c, b in by.values()),
                  sum(b for _, b in by.values())) for key, by in out.items()}


def test_cashless_share_matches_the_events(store_url, capsys, tmp_path):
    district(capsys, store_url, tmp_path)
    report = ok_json(capsys, store_url, "report", "cashless", "--from", "2024-07", "--to", "2024-10")
    expected = expected_cashless(recorded_events(store_url), ["2024-07", "2024-08", "2024-09", "2024-10"])
    got = {}
    for m in report["months"]:
        for code, f in [("district", m["district"])] + [(c["commune_code"], c) for c in m["communes"]]:
            got[(m["month"], code)] = (f["people_paid"], f["people_bank"], f["paid_vnd"], f["bank_vnd"])
            assert f["share_people"] == (f["people_bank"] / f["people_paid"] if f["people_paid"] else 0)
    assert got == expected
    july = report["months"][0]["district"]
    assert (july["people_paid"], july["people_bank"]) == (3, 1)
    assert report["months"][1]["district"]["people_paid"] == 2  # the cash person did not collect in August
    assert {c["commune_code"] for c in report["months"][0]["communes"]} == {"20101", "20102"}
    code, out, _ = cmd(capsys, store_url, "report", "cashless", "--from", "2024-07", "--to", "2024-07")
    assert code == 0 and "33.3 %" in out


def test_trend_matches_the_events(store_url, capsys, tmp_path):
    district(capsys, store_url, tmp_path)
    report = ok_json(capsys, store_url, "report", "trend", "--from", "2024-07", "--to", "2024-10",
                     "--out", str(tmp_path / "reports"))
    events = recorded_events(store_url)
    months = {m["month"]: m for m in report["months"]}
    assert list(months) == ["2024-07", "2024-08", "2024-09", "2024-10"]

    issued = {e.line_id: e for e in events if isinstance(e, B.PayoutIssued)}
    last_result = {}
    for e in events:
        if isinstance(e, (B.PayoutPaid, B.PayoutUnpaid, B.PayoutRejected, B.LineCancelled)):
            last_result[e.line_id] = e
    unclaimed = defaultdict(lambda: [set(), 0])
    for line_id, line in issued.items():
        result = last_result.get(line_id)
        if line.channel != "cash" or line.kind == "funeral_support":
            continue
        late = isinstance(result, B.PayoutPaid) and str(Month.containing(result.paid_on)) > str(line.payroll_month)
        if isinstance(result, B.PayoutUnpaid) or late:
            unclaimed[str(line.payroll_month)][0].add(line.citizen_id)
            unclaimed[str(line.payroll_month)][1] += sum(line.amounts)
    for month, m in months.items():
        assert (m["unclaimed_people"], m["unclaimed_amount"]) == (len(unclaimed[month][0]), unclaimed[month][1])
    assert months["2024-08"]["unclaimed_people"] == 1

    deaths = [e for e in events if isinstance(e, B.DeathNotified)]
    assert [(months[str(Month.containing(e.reported_on))]["deaths_noticed"],
             months[str(Month.containing(e.reported_on))]["months_late_max"]) for e in deaths] == [(1, 2)]
    assert sum(m["deaths_noticed"] for m in months.values()) == 1

    opened = defaultdict(int)
    for e in events:
        if isinstance(e, B.OverpaymentChanged):
            opened[str(Month.containing(e.on))] += e.delta_vnd
    assert {k: m["overpayments_opened"] for k, m in months.items() if m["overpayments_opened"]} == \
        {k: v for k, v in opened.items() if v}
    assert months["2024-10"]["overpayments_opened"] > 0 and months["2024-10"]["recovered"] == 200000

    advance, disbursed = defaultdict(int), defaultdict(int)
    for e in events:
        if isinstance(e, B.PayoutIssued):
            advance[(str(e.payroll_month), e.agent_code)] += sum(e.amounts)
        elif isinstance(e, B.PayoutPaid):
            disbursed[(str(Month.containing(e.paid_on)), e.agent_code)] += e.amount_vnd
    got_advance = {(m, a["agent_code"]): a["advance"] for m, x in months.items() for a in x["agents"] if a["advance"]}
    got_disbursed = {(m, a["agent_code"]): a["disbursed"] for m, x in months.items() for a in x["agents"]
                     if a["disbursed"]}
    assert got_advance == dict(advance) and got_disbursed == dict(disbursed)

    # The workbook: its sheets hold the same figures and native charts.
    book = openpyxl.load_workbook(tmp_path / "reports" / "trend-2024-07-2024-10.xlsx")
    assert book.sheetnames == ["Xu huong", "Quyet toan dai ly", "Khong dung tien mat"]
    trend_sheet = book["Xu huong"]
    assert [trend_sheet.cell(4 + i, 3).value for i in range(4)] == [m["unclaimed_amount"] for m in months.values()]
    assert len(trend_sheet._charts) == 3 and len(book["Quyet toan dai ly"]._charts) == 1
    assert len(book["Khong dung tien mat"]._charts) == 1


def test_a_range_backwards_is_refused(sqlite_url, capsys):
    code, out, err = cmd(capsys, sqlite_url, "report", "trend", "--from", "2024-10", "--to", "2024-07")
    assert code == 1 and out == "" and "before --from" in err and "Traceback" not in err
    with pytest.raises(SystemExit) as exit_:  # argparse's own exit, as for every command
        main(["--db", sqlite_url, "report", "cashless", "--from", "2024-13", "--to", "2024-07"])
    assert exit_.value.code == 64 and "month must be 1..12" in capsys.readouterr().err
