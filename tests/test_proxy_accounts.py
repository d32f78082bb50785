"""Payments into a proxy's own account and the communes' confirmations,
end to end through the ledger command on SQLite and PostgreSQL."""
from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from adapters import synthetic

from .helpers import cmd, decisions_file, dump_views, event_count, ok_json, open_ledger, REGISTER, REGISTER_2

COLUMNS = (*synthetic.DECISION_COLUMNS, "proxy_bank_account")
CONFIRMATION_COLUMNS = ("citizen_id", "month", "confirmed_on", "confirmed_by", "method")
CASH_ID, BANK_ID = REGISTER["citizen_id"], REGISTER_2["citizen_id"]
PROXY_ACCOUNT = "9876543210"
AUTHORIZE = dict(decision_no="7/QĐ-UBND", signed_on="2024-07-25", kind="authorize_proxy", citizen_id=BANK_ID,
                 proxy_name="Trần Văn Giám Hộ", proxy_citizen_id="051080001111", effective_month="2024-08",
                 proxy_bank_account=PROXY_ACCOUNT)


@pytest.fixture(autouse=True)
def _env(monkeypatch):
    monkeypatch.setenv("LEDGER_TODAY", "2024-12-20")
    monkeypatch.setenv("LEDGER_ACTOR", "officer-test")


def run_month(capsys, url, month, tmp_path, rejected=()):
    """Payroll for the month; every cash line collected, every bank line
    credited except those of the citizens in ``rejected`` (AC04)."""
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
        elif rows:
            results = [dict(payroll_id=r["payroll_id"], line_id=r["line_id"],
                            **({"status": "rejected", "reason_code": "AC04"} if r["citizen_id"] in rejected
                               else {"status": "credited"}),
                            booked_on=f"{month}-05", amount=r["amount"]) for r in rows]
            path = synthetic.write_csv(tmp_path / f"bank-{month}.csv", results, synthetic.BANK_RESULT_COLUMNS)
            ok_json(capsys, url, "import", "bank", str(path))
    return summary


def confirmations(tmp_path, name, rows):
    return str(synthetic.write_csv(tmp_path / name, rows, CONFIRMATION_COLUMNS))


def confirmation(month, **overrides):
    return dict(dict(citizen_id=BANK_ID, month=month, confirmed_on="2024-11-04", confirmed_by="Cán bộ xã Lê C",
                     method="visit"), **overrides)


def bank_lines(summary, citizen):
    return [r for name in summary["files"] if name.endswith(".csv") and "VNPOST" not in name
            for r in synthetic.read_payroll_csv(name) if r["citizen_id"] == citizen]


def test_bank_lines_go_to_the_proxy_account_named_as_the_proxy(store_url, capsys, tmp_path):
    path = decisions_file(tmp_path / "d.csv", [REGISTER, REGISTER_2, AUTHORIZE], COLUMNS)
    ok_json(capsys, store_url, "import", "decisions", str(path))
    july = run_month(capsys, store_url, "2024-07", tmp_path)
    august = run_month(capsys, store_url, "2024-08", tmp_path)
    [own] = bank_lines(july, BANK_ID)
    assert (own["receiver"], own["bank_account"]) == (REGISTER_2["full_name"], REGISTER_2["bank_account"])
    [proxied] = bank_lines(august, BANK_ID)
    assert (proxied["receiver"], proxied["bank_account"]) == (AUTHORIZE["proxy_name"], PROXY_ACCOUNT)
    [xml] = [n for n in august["files"] if n.endswith(".xml")]
    ns = {"p": ET.parse(xml).getroot().tag.split("}")[0][1:]}
    transfers = ET.parse(xml).getroot().findall(".//p:CdtTrfTxInf", ns)
    [transfer] = [t for t in transfers if t.findtext("p:PmtId/p:EndToEndId", namespaces=ns) == proxied["line_id"]]
    assert transfer.findtext("p:CdtrAcct/p:Id/p:Othr/p:Id", namespaces=ns) == PROXY_ACCOUNT
    assert transfer.findtext("p:Cdtr/p:Nm", namespaces=ns).upper().replace(" ", "") in (
        AUTHORIZE["proxy_name"].upper().replace(" ", ""), "TRANVANGIAMHO")
    # The cash person's list is untouched; the person's months are each paid once.
    shown = ok_json(capsys, store_url, "beneficiary", "show", BANK_ID)
    assert [(m["month"], m["issued"], m["disbursed"]) for m in shown["months"][:2]] == [
        ("2024-07", m := shown["monthly_amount"], m), ("2024-08", m, m)]


def test_unconfirmed_proxy_payments_queue_after_two_months(store_url, capsys, tmp_path):
    path = decisions_file(tmp_path / "d.csv", [REGISTER, REGISTER_2, AUTHORIZE], COLUMNS)
    ok_json(capsys, store_url, "import", "decisions", str(path))
    for month in ("2024-07", "2024-08", "2024-09", "2024-10"):
        run_month(capsys, store_url, month, tmp_path)
    assert ok_json(capsys, store_url, "proxy", "queue", "--month", "2024-09") == []
    [entry] = ok_json(capsys, store_url, "proxy", "queue", "--month", "2024-10")
    assert entry["citizen_id"] == BANK_ID and entry["months"] == ["2024-08"]
    assert entry["proxy_name"] == AUTHORIZE["proxy_name"] and entry["bank_account"] == PROXY_ACCOUNT
    assert entry["months_waiting"] == 2 and entry["amount"] > 0
    [entry] = ok_json(capsys, store_url, "proxy", "queue", "--month", "2024-12")
    assert entry["months"] == ["2024-08", "2024-09", "2024-10"] and entry["months_waiting"] == 4

    before = event_count_of(store_url)
    good = confirmations(tmp_path, "c.csv", [confirmation("2024-08"), confirmation("09/2024", method="phone")])
    summary = ok_json(capsys, store_url, "import", "confirmations", good)
    assert (summary["rows"], summary["unchanged_rows"]) == (2, 0)
    assert event_count_of(store_url) == before + 2 + 1  # and the import's receipt
    again = ok_json(capsys, store_url, "import", "confirmations", good)
    assert (again["rows"], again["unchanged_rows"]) == (2, 2)
    assert event_count_of(store_url) == before + 2 + 1  # nothing new: no second receipt
    [entry] = ok_json(capsys, store_url, "proxy", "queue", "--month", "2024-12")
    assert entry["months"] == ["2024-10"]
    code, out, _ = cmd(capsys, store_url, "proxy", "queue", "--month", "2024-12")
    assert code == 0 and BANK_ID in out and "2024-10" in out


@pytest.mark.parametrize("row, column, message", [
    (confirmation("2024-07"), "month", "no payment into a proxy's account"),  # paid to the person's own account
    (confirmation("2024-08", citizen_id=CASH_ID), "month", "no payment into a proxy's account"),
    (confirmation("2024-08", confirmed_on="2024-08-01"), "confirmed_on", "before the payment was credited"),
    (confirmation("2024-08", method="letter"), "method", "method"),
    (confirmation("2024-13"), "month", "month"),
    (confirmation("2024-08", confirmed_by=""), "confirmed_by", "confirmed_by"),
])
def test_a_bad_confirmation_names_its_place_and_records_nothing(sqlite_url, capsys, tmp_path, row, column,
                                                               message):
    path = decisions_file(tmp_path / "d.csv", [REGISTER, REGISTER_2, AUTHORIZE], COLUMNS)
    ok_json(capsys, sqlite_url, "import", "decisions", str(path))
    for month in ("2024-07", "2024-08"):
        run_month(capsys, sqlite_url, month, tmp_path)
    before = event_count_of(sqlite_url)
    # A good row first: the bad one must take it down with it.
    bad = confirmations(tmp_path, "bad.csv", [confirmation("2024-08", citizen_id=BANK_ID, method="phone"), row]
                        if row["month"] != "2024-08" or row["citizen_id"] != BANK_ID else [row])
    code, out, err = cmd(capsys, sqlite_url, "import", "confirmations", bad)
    assert code == 1 and out == ""
    column_no = CONFIRMATION_COLUMNS.index(column) + 1
    lines = [x for x in err.splitlines() if x.startswith(bad)]
    assert lines and all(f":{column_no}:" in x for x in lines), err
    assert message in err and "Traceback" not in err
    assert event_count_of(sqlite_url) == before


def test_a_confirmation_changed_later_is_refused(store_url, capsys, tmp_path):
    path = decisions_file(tmp_path / "d.csv", [REGISTER, REGISTER_2, AUTHORIZE], COLUMNS)
    ok_json(capsys, store_url, "import", "decisions", str(path))
    for month in ("2024-07", "2024-08"):
        run_month(capsys, store_url, month, tmp_path)
    ok_json(capsys, store_url, "import", "confirmations", confirmations(tmp_path, "a.csv", [confirmation("2024-08")]))
    before = event_count_of(store_url)
    changed = confirmations(tmp_path, "b.csv", [confirmation("2024-08", method="phone")])
    code, _, err = cmd(capsys, store_url, "import", "confirmations", changed)
    assert code == 1 and "recorded before with different content" in err
    assert event_count_of(store_url) == before


@pytest.mark.parametrize("result", ["rejected", "credited"])
def test_a_transfer_in_flight_to_the_proxy_account_is_settled_by_its_result(store_url, capsys, tmp_path, result):
    """A transfer in flight to the old account is settled by its bank
    result: credited, the month is paid; rejected, it is paid again once,
    through the channel in force (here cash, decided while in flight)."""
    path = decisions_file(tmp_path / "d.csv", [REGISTER, REGISTER_2, AUTHORIZE], COLUMNS)
    ok_json(capsys, store_url, "import", "decisions", str(path))
    run_month(capsys, store_url, "2024-07", tmp_path)
    august = ok_json(capsys, store_url, "payroll", "run", "--month", "2024-08", "--out", str(tmp_path / "o8"))
    # While the August transfer is with the bank, the person goes back to cash from August.
    back_to_cash = dict(decision_no="9/QĐ-UBND", signed_on="2024-08-20", kind="change_channel", citizen_id=BANK_ID,
                        channel="cash", agent_code="VNPOST-BS-01", home_delivery="n", effective_month="2024-08")
    ok_json(capsys, store_url, "import", "decisions", str(decisions_file(tmp_path / "d2.csv", [back_to_cash],
                                                                         COLUMNS)))
    [line] = bank_lines(august, BANK_ID)
    assert line["bank_account"] == PROXY_ACCOUNT
    results = [dict(payroll_id=line["payroll_id"], line_id=line["line_id"], status=result,
                    reason_code="AC04" if result == "rejected" else "", booked_on="2024-08-06", amount=line["amount"])]
    ok_json(capsys, store_url, "import", "bank", str(synthetic.write_csv(tmp_path / "b8.csv", results,
                                                                         synthetic.BANK_RESULT_COLUMNS)))
    september = run_month(capsys, store_url, "2024-09", tmp_path)
    paid_in_cash = [r for name in september["files"] if name.endswith(".csv") and "VNPOST" in name
                    for r in synthetic.read_payroll_csv(name) if r["citizen_id"] == BANK_ID]
    expected = ["2024-08", "2024-09"] if result == "rejected" else ["2024-09"]
    assert sorted(m for r in paid_in_cash for m in r["months"].split(";")) == expected
    assert bank_lines(september, BANK_ID) == []
    shown = ok_json(capsys, store_url, "beneficiary", "show", BANK_ID)
    months = {m["month"]: m for m in shown["months"]}
    for month in ("2024-07", "2024-08", "2024-09"):
        assert months[month]["disbursed"] == months[month]["due"] > 0, month
    assert shown["arrears_due"] == 0 and shown["overpayment_open"] == 0


def test_views_rebuild_to_the_same_rows(sqlite_url, capsys, tmp_path):
    path = decisions_file(tmp_path / "d.csv", [REGISTER, REGISTER_2, AUTHORIZE], COLUMNS)
    ok_json(capsys, sqlite_url, "import", "decisions", str(path))
    for month in ("2024-07", "2024-08", "2024-09"):
        run_month(capsys, sqlite_url, month, tmp_path)
    ok_json(capsys, sqlite_url, "import", "confirmations", confirmations(tmp_path, "c.csv", [confirmation("2024-08")]))
    code, _, err = cmd(capsys, sqlite_url, "replay")
    assert code == 0, err
    rows = dump_views(open_engine(sqlite_url))
    assert [r for r in rows["proxy_payments"] if r[10]]  # a confirmed row (confirmed_on)


def event_count_of(url: str) -> int:
    with open_ledger(url) as ledger:
        return event_count(ledger)


def open_engine(url: str):
    import sqlalchemy as sa

    return sa.create_engine(url)
