"""Rules that meet each other (domain.md), end to end through the `ledger`
command on SQLite and PostgreSQL: a move into another district, a move
verified after an automatic suspension, who received an overpayment,
birthdays on 29 February, the settlement's advance and fee, closing with
accepted variances, what the imports say they did, registering with a
proxy, and who acted."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from adapters import synthetic
from adapters.cli import main

from .helpers import REGISTER, REGISTER_2, decisions_file

CITIZEN = REGISTER["citizen_id"]


@pytest.fixture(autouse=True)
def _env(monkeypatch):
    monkeypatch.setenv("LEDGER_ACTOR", "officer-test")


class Ledger:
    """The `ledger` command on one store, as a payment officer runs it."""

    def __init__(self, url: str, tmp_path: Path, capsys):
        self.url, self.tmp, self.capsys = url, tmp_path, capsys
        self.files = 0

    def run(self, *argv, ok: bool = True):
        code = main(["--db", self.url, *argv])
        out, err = self.capsys.readouterr()
        if ok:
            assert code == 0, err
        return code, out, err

    def json(self, *argv):
        return json.loads(self.run(*argv, "--json")[1])

    def _file(self, stem: str) -> Path:
        self.files += 1
        return self.tmp / f"{stem}-{self.files}.csv"

    def decisions(self, *rows, ok: bool = True):
        return self.run("import", "decisions", str(decisions_file(self._file("decisions"), rows)), ok=ok)

    def payroll(self, month: str) -> dict:
        summary = self.json("payroll", "run", "--month", month, "--out", str(self.tmp / "out"))
        summary["rows"] = {Path(f).name: synthetic.read_payroll_csv(f) for f in summary["files"]
                           if f.endswith(".csv")}
        return summary

    def postoffice(self, summary: dict, status: str = "paid", received_by: str = "beneficiary",
                   paid_on: str | None = None, report: Path | None = None):
        rows = []
        for name, lines in summary["rows"].items():
            if "VNPOST" not in name:
                continue
            for line in lines:
                paid = status == "paid"
                rows.append(dict(payroll_id=line["payroll_id"], line_id=line["line_id"],
                                 citizen_id=line["citizen_id"], status=status,
                                 paid_on=(paid_on or f"{summary['month']}-12") if paid else "",
                                 amount_paid=line["amount"] if paid else "",
                                 received_by=received_by if paid else "", at_home="n" if paid else "",
                                 note=""))
        path = synthetic.write_csv(self._file("postoffice"), rows, synthetic.POSTOFFICE_RESULT_COLUMNS)
        return self.run("import", "postoffice", str(path), *(["--report", str(report)] if report else []))

    def bank(self, summary: dict, report: Path | None = None):
        rows = [dict(payroll_id=line["payroll_id"], line_id=line["line_id"], status="credited",
                     booked_on=f"{summary['month']}-05", amount=line["amount"], reason_code="")
                for name, lines in summary["rows"].items() if "BANK" in name for line in lines]
        path = synthetic.write_csv(self._file("bank"), rows, synthetic.BANK_RESULT_COLUMNS)
        return self.run("import", "bank", str(path), *(["--report", str(report)] if report else []))

    def report(self, **figures) -> Path:
        return synthetic.write_csv(self._file("agent-report"), [figures], list(figures))

    def show(self, citizen_id: str = CITIZEN) -> dict:
        return self.json("beneficiary", "show", citizen_id)


def _month(shown: dict, month: str) -> dict:
    return next(m for m in shown["months"] if m["month"] == month)


def _lines_of(summary: dict, citizen_id: str = CITIZEN) -> dict[str, list[dict]]:
    """The person's lines issued in the month's payroll, by file (not the
    lines carried forward from earlier months)."""
    found = {name: [x for x in rows if x["citizen_id"] == citizen_id
                    and x["payroll_id"].endswith(summary["month"])]
             for name, rows in summary["rows"].items()}
    return {name: rows for name, rows in found.items() if rows}


# --- 1. a move into another district -----------------------------------------------

def test_relocation_into_another_district_moves_the_payments_to_the_new_agent(store_url, tmp_path, capsys,
                                                                              monkeypatch):
    monkeypatch.setenv("LEDGER_TODAY", "2024-11-25")
    ledger = Ledger(store_url, tmp_path, capsys)
    ledger.decisions(REGISTER)
    july = ledger.payroll("2024-07")
    ledger.postoffice(july)
    ledger.decisions(dict(decision_no="5/QĐ-CĐ", signed_on="2024-07-20", kind="relocate_out",
                          citizen_id=CITIZEN, effective_month="2024-08"))
    assert _lines_of(ledger.payroll("2024-08")) == {}
    # The new district decides before September's payroll, from October.
    ledger.decisions(dict(decision_no="77/QĐ-UBND", signed_on="2024-08-28", kind="relocate_in",
                          citizen_id=CITIZEN, effective_month="2024-10", province_code="051",
                          commune_code="30207", channel="cash", agent_code="VNPOST-MD-02", home_delivery="y"))
    assert _lines_of(ledger.payroll("2024-09")) == {}  # in between: no agent is issued anything
    october = _lines_of(ledger.payroll("2024-10"))
    assert list(october) == ["payroll-VNPOST-MD-02-2024-10.csv"]
    (line,) = october["payroll-VNPOST-MD-02-2024-10.csv"]
    assert (line["months"], line["amount"], line["commune_code"], line["home_delivery"]) == \
        ("2024-08;2024-09;2024-10", "1500000", "30207", "y")
    november = _lines_of(ledger.payroll("2024-11"))
    assert {name: [x["months"] for x in rows] for name, rows in november.items()} == \
        {"payroll-VNPOST-MD-02-2024-11.csv": ["2024-11"]}
    shown = ledger.show()
    assert (shown["status"], shown["agent_code"], shown["commune_code"]) == ("active", "VNPOST-MD-02", "30207")
    for month in ("2024-07", "2024-08", "2024-09", "2024-10", "2024-11"):
        assert (_month(shown, month)["due"], _month(shown, month)["issued"]) == (500_000, 500_000), month
    assert shown["arrears_due"] == 0
    old_agent = [x for x in shown["lines"] if x["payroll_id"].startswith("VNPOST-BS-01/")]
    assert [x["payroll_id"] for x in old_agent] == ["VNPOST-BS-01/2024-07"]


def test_a_relocate_in_row_names_its_channel(store_url, tmp_path, capsys):
    ledger = Ledger(store_url, tmp_path, capsys)
    ledger.decisions(REGISTER)
    row = dict(decision_no="77/QĐ-UBND", signed_on="2024-08-28", kind="relocate_in", citizen_id=CITIZEN,
               effective_month="2024-10", province_code="051", commune_code="30207")
    code, _, err = ledger.decisions(row, ok=False)
    assert code == 1 and "channel is required for kind relocate_in" in err
    code, _, err = ledger.decisions(dict(row, channel="bank", agent_code="BANK-VBSP-QNG"), ok=False)
    assert code == 1 and "bank_account is required when channel is bank" in err


# --- 2. verified as moved beats the automatic suspension ----------------------------

MOVER = dict(REGISTER, decision_no="9/QĐ-UBND", citizen_id="051040005678", full_name="Lê Văn C",
             birth_date="1940-05-10", signed_on="2024-01-05", effective_month="2024-01")


def test_a_move_verified_after_the_automatic_suspension_wins(store_url, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("LEDGER_TODAY", "2024-04-10")
    mover = MOVER["citizen_id"]
    ledger = Ledger(store_url, tmp_path, capsys)
    ledger.decisions(MOVER)
    for month in ("2024-01", "2024-02", "2024-03"):
        ledger.postoffice(ledger.payroll(month), status="unpaid")
    assert ledger.show(mover)["status"] == "suspended"  # UNCLAIMED/2024-03
    (queued,) = ledger.json("unclaimed", "--month", "2024-03")
    assert (queued["citizen_id"], queued["flag"]) == (mover, "suspended")
    # The commune verifies: the person left in February.
    ledger.decisions(dict(decision_no="12/QĐ-UBND", signed_on="2024-04-08", kind="relocate_out",
                          citizen_id=mover, effective_month="2024-02"))
    shown = ledger.show(mover)
    assert shown["status"] == "relocated_out"
    january = _month(shown, "2024-01")
    assert (january["due"], january["unclaimed"]) == (360_000, 360_000)  # still owed, held at the post office
    for month in ("2024-02", "2024-03"):  # held cash from the move: withdrawn, never disbursed
        m = _month(shown, month)
        assert (m["due"], m["issued"], m["cancelled"], m["disbursed"], m["unclaimed"]) == \
            (0, 360_000, 360_000, 0, 0), m
    assert all(m["due"] == 0 and m["status"] == "relocated_out"
               for m in shown["months"] if m["month"] >= "2024-02")
    assert (shown["monthly_amount"], shown["overpayment_open"], shown["arrears_due"]) == (0, 0, 0)
    assert ledger.json("unclaimed", "--month", "2024-03") == []
    assert ledger.json("unclaimed", "--month", "2024-04") == []
    assert [r for r in ledger.json("recoveries") if r["citizen_id"] == mover] == []
    assert _lines_of(ledger.payroll("2024-04"), mover) == {}
    (row,) = [r for r in ledger.json("entitlements", "--month", "2024-04") if r["citizen_id"] == mover] or [None]
    assert row is None or (row["status"], row["amount"]) == ("relocated_out", 0)


# --- 3. who received an overpayment is named ---------------------------------------

DEATH_COLUMNS = synthetic.DEATH_COLUMNS
PROXY = dict(decision_no="3/QĐ-UBND", signed_on="2024-07-01", kind="authorize_proxy", citizen_id=CITIZEN,
             effective_month="2024-07", proxy_name="Phạm Thị D", proxy_citizen_id="051185001111")


def _deaths(ledger: Ledger, *notices: dict):
    path = synthetic.write_csv(ledger._file("deaths"), notices, DEATH_COLUMNS)
    return ledger.run("import", "deaths", str(path))


def test_an_overpayment_collected_by_a_proxy_names_the_proxy(store_url, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("LEDGER_TODAY", "2024-08-25")
    ledger = Ledger(store_url, tmp_path, capsys)
    ledger.decisions(REGISTER, PROXY)
    ledger.postoffice(ledger.payroll("2024-07"), received_by="proxy")
    ledger.postoffice(ledger.payroll("2024-08"), received_by="proxy")
    _, out, _ = _deaths(ledger, dict(notice_id="CR-9", citizen_id=CITIZEN, date_of_death="2024-07-20",
                                     source="civil_registry", reported_on="2024-08-24"))
    assert "overpayment opened: 500,000 VND to recover from proxy Phạm Thị D (051185001111)" in out
    (row,) = ledger.json("recoveries")
    assert (row["months"], row["open"]) == (["2024-08"], 500_000)
    assert row["received_by"] == ["proxy Phạm Thị D (051185001111)"]
    assert "proxy Phạm Thị D (051185001111)" in ledger.run("recoveries")[1]
    timeline = ledger.json("audit", "timeline", CITIZEN)
    (over,) = [r for r in timeline if r["type"] == "OverpaymentChanged"]
    assert over["detail"] == "received by proxy Phạm Thị D (051185001111)"
    paid = [r["detail"] for r in timeline if r["type"] == "PayoutPaid"]
    assert paid == ["received by proxy Phạm Thị D (051185001111)"] * 2
    assert "Phạm Thị D (051185001111)" in ledger.run("audit", "timeline", CITIZEN)[1]


# --- 4. a birthday on 29 February ----------------------------------------------------

LEAP_STUDENT = dict(REGISTER, decision_no="21/QĐ-UBND", signed_on="2021-12-03", citizen_id="051200007777",
                    full_name="Đỗ Văn E", birth_date="2000-02-29", category="STUDENT_16_22",
                    effective_month="2021-12")


def test_a_student_born_on_29_february_is_paid_through_the_february_of_the_22nd_birthday(
        store_url, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("LEDGER_TODAY", "2022-03-20")
    student = LEAP_STUDENT["citizen_id"]
    ledger = Ledger(store_url, tmp_path, capsys)
    ledger.decisions(LEAP_STUDENT)
    january = _lines_of(ledger.payroll("2022-01"), student)
    assert [(x["months"], x["amount"]) for rows in january.values() for x in rows] == \
        [("2021-12;2022-01", "1080000")]
    february = _lines_of(ledger.payroll("2022-02"), student)
    assert [(x["months"], x["amount"]) for rows in february.values() for x in rows] == [("2022-02", "540000")]
    # 22 on 2022-02-28 (no 29 February in 2022): nothing from March.
    assert _lines_of(ledger.payroll("2022-03"), student) == {}
    shown = ledger.show(student)
    assert (_month(shown, "2022-02")["due"], _month(shown, "2022-03")["due"]) == (540_000, 0)
    assert _month(shown, "2022-03")["status"] == "age_limit"
    (row,) = [r for r in ledger.json("entitlements", "--month", "2022-03") if r["citizen_id"] == student]
    assert row["amount"] == 0


# --- 5. the advance and the fee are separate figures -----------------------------------

def test_a_month_paid_as_planned_closes_with_no_variance(store_url, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("LEDGER_TODAY", "2024-08-15")
    ledger = Ledger(store_url, tmp_path, capsys)
    ledger.decisions(REGISTER, REGISTER_2)
    july = ledger.payroll("2024-07")
    # Each agent reports what it received for beneficiaries, paid them all,
    # and claims the fee of its contract (0.8 % of 500,000; 6,600 per person).
    ledger.postoffice(july, report=ledger.report(
        agent_code="VNPOST-BS-01", month="2024-07", advance_received=500_000, paid_total=500_000,
        unpaid_total=0, fee_claimed=4_000, balance_remaining=0))
    ledger.bank(july, report=ledger.report(
        agent_code="BANK-VBSP-QNG", month="2024-07", advance_received=750_000, paid_total=750_000,
        unpaid_total=0, fee_claimed=6_600, balance_remaining=0))
    figures = {r["agent_code"]: r for r in ledger.json("settlement", "reconcile", "--month", "2024-07")}
    for code, advance, fee in (("VNPOST-BS-01", 500_000, 4_000), ("BANK-VBSP-QNG", 750_000, 6_600)):
        row = figures[code]
        assert (row["advance"], row["disbursed"], row["fee"], row["closing_balance"], row["reported_balance"]) \
            == (advance, advance, fee, 0, 0), row
        assert row["variances"] == []
    ledger.run("settlement", "close", "--month", "2024-07")  # no --accept needed
    closed = {r["agent_code"]: r for r in ledger.json("settlement", "reconcile", "--month", "2024-07")}
    assert all(r["closed"] and r["variances"] == [] for r in closed.values())
    assert [(r["advance"], r["fee"], r["closing_balance"]) for r in closed.values()] == \
        [(figures[c]["advance"], figures[c]["fee"], 0) for c in closed]


# --- 6. closing with accepted variances -----------------------------------------------

def test_closing_accepts_variances_by_forgiving_keys_and_shows_who_accepted_them(store_url, tmp_path, capsys,
                                                                                 monkeypatch):
    monkeypatch.setenv("LEDGER_TODAY", "2024-08-15")
    ledger = Ledger(store_url, tmp_path, capsys)
    ledger.decisions(REGISTER)
    july = ledger.payroll("2024-07")
    ledger.postoffice(july, report=ledger.report(
        agent_code="VNPOST-BS-01", month="2024-07", advance_received=500_000, paid_total=500_000,
        unpaid_total=0, fee_claimed=104_000, balance_remaining=0))
    (row,) = ledger.json("settlement", "reconcile", "--month", "2024-07")
    (variance,) = row["variances"]
    assert (variance["kind"], variance["amount"], variance["accepted"]) == ("fee_differs", 100_000, None)
    code, _, err = ledger.run("settlement", "close", "--month", "2024-07",
                              "--accept", "VNPOST-BS-01/amount_differs=typo", ok=False)
    assert code == 1 and "no variance VNPOST-BS-01/amount_differs" in err
    assert "VNPOST-BS-01/fee_differs/" in err  # the open variances are listed
    assert not ledger.json("settlement", "reconcile", "--month", "2024-07")[0]["closed"]
    reason = "phí theo hợp đồng; đại lý đồng ý ngày 2024-08-20"
    ledger.run("--actor", "Trưởng phòng", "settlement", "close", "--month", "2024-07",
               "--accept", f"VNPOST-BS-01/fee_differs={reason}")  # no trailing slash
    (row,) = ledger.json("settlement", "reconcile", "--month", "2024-07")
    assert row["closed"]
    assert row["variances"][0]["accepted"] == {"reason": reason, "actor": "Trưởng phòng"}
    assert f"accepted by Trưởng phòng: {reason}" in ledger.run("settlement", "reconcile", "--month", "2024-07")[1]
    files = ledger.json("settlement", "report", "--month", "2024-07", "--out", str(tmp_path / "reports"))["files"]
    from openpyxl import load_workbook
    workbook = load_workbook(next(f for f in files if f.endswith(".xlsx")))
    texts = [str(c.value) for sheet in workbook for r in sheet.iter_rows() for c in r if c.value]
    assert any("Trưởng phòng" in t and reason in t for t in texts)


# --- 7. the imports say what they did ---------------------------------------------------

def test_the_imports_say_what_each_row_did(store_url, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("LEDGER_TODAY", "2024-09-25")
    ledger = Ledger(store_url, tmp_path, capsys)
    _, out, _ = ledger.decisions(REGISTER, REGISTER_2, PROXY)
    assert "recorded: authorize_proxy 1, register 2" in out
    ledger.postoffice(ledger.payroll("2024-07"))
    ledger.bank(ledger.payroll("2024-08"))
    august = ledger.payroll("2024-09")  # the cash line of August and September not collected yet
    ledger.postoffice(august, status="unpaid")
    _, out, _ = ledger.decisions(dict(decision_no="30/QĐ-UBND", signed_on="2024-09-20", kind="terminate",
                                      citizen_id=REGISTER_2["citizen_id"], effective_month="2024-08",
                                      reason="no longer eligible"))
    assert "recorded: terminate 1" in out
    assert "overpayments raised by 750,000 VND" in out  # August was credited
    notices = [dict(notice_id="CR-1", citizen_id=CITIZEN, date_of_death="2024-07-20", source="civil_registry",
                    reported_on="2024-09-22", funeral_arranged_by="Nguyễn Văn Con"),
               dict(notice_id="CM-1", citizen_id=CITIZEN, date_of_death="2024-07-20", source="commune",
                    reported_on="2024-09-23")]
    _, out, _ = _deaths(ledger, *notices)
    lines = out.splitlines()
    first = next(x for x in lines if x.startswith("CR-1 "))
    assert f"2024-08-{CITIZEN}" in first and f"2024-09-{CITIZEN}" in first and "2 lines cancelled" in first
    assert "1,000,000 VND returned by the agent" in first
    assert "funeral support of 10,000,000 VND due" in first
    second = next(x for x in lines if x.startswith("CM-1 "))
    assert "confirms the death recorded from notice CR-1" in second and "no payment was affected" in second
    (data,) = [ledger.json("import", "deaths", str(synthetic.write_csv(ledger._file("deaths"), notices[:1],
                                                                     DEATH_COLUMNS)))]
    assert [(n["notice_id"], n["outcome"]) for n in data["notices"]] == [("CR-1", "recorded before")]


# --- 8. registering with a proxy; a column a kind does not use ---------------------------

def test_a_registration_records_its_proxy(store_url, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("LEDGER_TODAY", "2024-07-25")
    ledger = Ledger(store_url, tmp_path, capsys)
    ledger.decisions(dict(REGISTER, proxy_name="Phạm Thị D", proxy_citizen_id="051185001111"))
    assert ledger.show()["proxy_name"] == "Phạm Thị D"
    (line,) = _lines_of(ledger.payroll("2024-07"))["payroll-VNPOST-BS-01-2024-07.csv"]
    assert line["receiver"] == "Phạm Thị D"
    (row,) = [r for r in ledger.json("entitlements", "--month", "2024-07") if r["citizen_id"] == CITIZEN]
    assert row["amount"] == 500_000


@pytest.mark.parametrize("row, column", [
    (dict(decision_no="5/QĐ", signed_on="2024-07-20", kind="relocate_out", citizen_id=CITIZEN,
          effective_month="2024-08", reason="moved to Đà Nẵng"), "reason"),
    (dict(decision_no="6/QĐ", signed_on="2024-07-20", kind="change_category", citizen_id=CITIZEN,
          category="ELDERLY_POOR", channel="bank"), "channel"),
    (dict(REGISTER, decision_no="7/QĐ", citizen_id="051044001299", reason="new"), "reason"),
    (dict(decision_no="8/QĐ", signed_on="2024-07-20", kind="authorize_proxy", citizen_id=CITIZEN,
          proxy_name="Phạm Thị D", bank_account="0123456789"), "bank_account"),
])
def test_a_column_the_kind_does_not_use_is_an_error(sqlite_url, tmp_path, capsys, row, column):
    ledger = Ledger(sqlite_url, tmp_path, capsys)
    ledger.decisions(REGISTER)
    path = decisions_file(tmp_path / "bad.csv", [row])
    code, _, err = ledger.run("import", "decisions", str(path), ok=False)
    col = synthetic.DECISION_COLUMNS.index(column) + 1
    assert code == 1 and f"{path}:2:{col}: {column} is not used by kind {row['kind']}" in err, err


def test_registrations_recorded_before_the_proxy_was_kept_read_as_before():
    from eventsourcing.persistence import StoredEvent

    from ledger.application import LedgerApp
    from adapters.rulefiles import default_ruleset
    from ledger.beneficiary import Beneficiary
    from adapters.formats.decisions import DecisionRow, to_decision

    app = LedgerApp(env={"PERSISTENCE_MODULE": "eventsourcing.popo"}, rules=default_ruleset())
    person = Beneficiary.register(to_decision(DecisionRow.model_validate(
        {k: v for k, v in REGISTER.items() if v})), "o")
    (event,) = person.collect_events()
    stored = app.mapper.to_stored_event(event)
    state = app.mapper.transcoder.decode(stored.state)
    del state["proxy_name"], state["proxy_citizen_id"]  # as stored before
    old = app.mapper.to_domain_event(StoredEvent(stored.originator_id, stored.originator_version, stored.topic,
                                                 app.mapper.transcoder.encode(state)))
    facts = old.evolve(None)
    assert facts.proxies.facts == () and facts.full_name == REGISTER["full_name"]


# --- 9. who acted ------------------------------------------------------------------------

def test_recording_commands_refuse_to_run_with_no_actor(store_url, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("LEDGER_ACTOR", raising=False)
    monkeypatch.setenv("USER", "root")  # a login name is not who acted
    monkeypatch.setenv("LEDGER_TODAY", "2024-07-25")
    ledger = Ledger(store_url, tmp_path, capsys)
    path = decisions_file(tmp_path / "d.csv", [REGISTER])
    for argv in (("import", "decisions", str(path)), ("payroll", "run", "--month", "2024-07", "--out", str(tmp_path)),
                 ("settlement", "close", "--month", "2024-07"), ("--actor", " ", "import", "decisions", str(path))):
        code, out, err = ledger.run(*argv, ok=False)
        assert code == 64 and "--actor" in err and "LEDGER_ACTOR" in err, (argv, err)
    assert ledger.json("entitlements", "--month", "2024-07") == []  # reading needs no actor; nothing recorded
    ledger.run("--actor", "Nguyễn Thị Cán Bộ", "import", "decisions", str(path))
    monkeypatch.setenv("LEDGER_ACTOR", "officer-env")
    ledger.payroll("2024-07")
    assert [r["actor"] for r in ledger.json("audit", "timeline", CITIZEN)] == ["Nguyễn Thị Cán Bộ", "officer-env"]


def test_snapshots_written_before_read_as_the_events_now_fold():
    """A write-side snapshot from before: status facts of four items, the
    schedule memoised under the bare rule fingerprint."""
    import orjson

    from adapters.formats.decisions import DecisionRow, to_decision
    from adapters.rulefiles import default_ruleset
    from adapters.state_codec import state_from_bytes, state_to_bytes
    from ledger.beneficiary import Beneficiary
    from ledger.entitlement import segments

    rules = default_ruleset()
    rows = [REGISTER,
            dict(decision_no="5/QĐ", signed_on="2024-07-20", kind="relocate_out", citizen_id=CITIZEN,
                 effective_month="2024-08"),
            dict(decision_no="77/QĐ", signed_on="2024-08-28", kind="relocate_in", citizen_id=CITIZEN,
                 effective_month="2024-10", province_code="051", commune_code="30207", channel="cash",
                 agent_code="VNPOST-MD-02")]
    decisions = [to_decision(DecisionRow.model_validate({k: v for k, v in r.items() if v})) for r in rows]
    person = Beneficiary.register(decisions[0], "o")
    for decision in decisions[1:]:
        person.decide(decision, "o")
    now = segments(person.state.facts, rules)
    raw = orjson.loads(state_to_bytes(person.state))
    raw["facts"]["st"] = [x[:4] for x in raw["facts"]["st"]]
    raw["facts"]["memo"][0] = rules.fingerprint()  # the key memos had
    raw["facts"]["memo"][1] = [["2024-07", None, 500_000, "active", ["ELDERLY_80"]]]  # some other schedule
    before = state_from_bytes(orjson.dumps(raw))
    assert before.facts.statuses == person.state.facts.statuses
    assert segments(before.facts, rules) == now  # the old memo is not used
