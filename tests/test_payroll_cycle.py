"""The monthly cycle end to end through the ledger command, on files, on
SQLite and PostgreSQL: payroll, post office and bank results, the queue."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from adapters import synthetic
from adapters.cli import main
from .helpers import open_ledger

from .helpers import REGISTER, REGISTER_2, decisions_file, dump_views, event_count


@pytest.fixture(autouse=True)
def _env(monkeypatch):
    monkeypatch.setenv("LEDGER_TODAY", "2024-10-25")
    monkeypatch.setenv("LEDGER_ACTOR", "officer-test")


def ledger_cmd(capsys, url, *argv):
    code = main(["--db", url, *argv])
    out, err = capsys.readouterr()
    return code, out, err


def payroll(capsys, url, month, out):
    code, text, err = ledger_cmd(capsys, url, "payroll", "run", "--month", month, "--out", str(out), "--json")
    assert code == 0, err
    return json.loads(text)


def results_for(summary, month, tmp_path, seed=1, transform=None):
    """The agents' result files for a payroll, as the synthetic agents report."""
    files = []
    for name in summary["files"]:
        if not name.endswith(".csv"):
            continue
        rows = synthetic.read_payroll_csv(name)
        if "VNPOST" in name:
            results = synthetic.postoffice_results(rows, month, seed=seed)
            columns = synthetic.POSTOFFICE_RESULT_COLUMNS
        else:
            results = synthetic.bank_results(rows, month, seed=seed)
            columns = synthetic.BANK_RESULT_COLUMNS
        if transform:
            results = transform(results)
        target = tmp_path / f"result-{Path(name).stem}.csv"
        files.append(synthetic.write_csv(target, results, columns))
    return files


def test_payroll_files_and_rerun(store_url, tmp_path, capsys):
    path = decisions_file(tmp_path / "d.csv", [REGISTER, REGISTER_2])
    ledger_cmd(capsys, store_url, "import", "decisions", str(path))
    first = payroll(capsys, store_url, "2024-07", tmp_path / "out")
    assert (first["month"], first["lines"], first["amount"]) == ("2024-07", 2, 1_250_000)
    names = sorted(Path(f).name for f in first["files"])
    assert names == ["danh-sach-chi-tra-VNPOST-BS-01-2024-07.pdf", "danh-sach-chi-tra-VNPOST-BS-01-2024-07.xlsx",
                     "payroll-BANK-VBSP-QNG-2024-07.csv", "payroll-BANK-VBSP-QNG-2024-07.pain.001.xml",
                     "payroll-VNPOST-BS-01-2024-07.csv", "payroll-VNPOST-BS-01-2024-07.xlsx"]
    contents = {f: Path(f).read_bytes() for f in first["files"]}
    events = _events(store_url)
    again = payroll(capsys, store_url, "2024-07", tmp_path / "out")
    assert again["issued_now"] is False and again["lines"] == 2
    assert {f: Path(f).read_bytes() for f in again["files"]} == contents  # the same files
    assert _events(store_url) == events  # nothing new
    code, _, err = ledger_cmd(capsys, store_url, "payroll", "run", "--month", "2024-09", "--out", str(tmp_path))
    assert code == 1 and "the next is 2024-08" in err


def _events(url):
    with open_ledger(url) as ledger:
        return event_count(ledger)


def test_a_month_cycle_with_unclaimed_months_suspension_and_arrears(store_url, tmp_path, capsys):
    absent = REGISTER["citizen_id"]  # a cash beneficiary who stops collecting
    path = decisions_file(tmp_path / "d.csv", [REGISTER, REGISTER_2])
    ledger_cmd(capsys, store_url, "import", "decisions", str(path))

    def nobody_collects_for_absent(rows):
        return [dict(r, status="unpaid", paid_on="", amount_paid="", received_by="", at_home="")
                if r.get("citizen_id") == absent else r for r in rows]

    for month in ("2024-07", "2024-08", "2024-09"):
        summary = payroll(capsys, store_url, month, tmp_path / "out")
        for result in results_for(summary, month, tmp_path, transform=nobody_collects_for_absent):
            kind = "postoffice" if "VNPOST" in result.name else "bank"
            code, out, err = ledger_cmd(capsys, store_url, "import", kind, str(result), "--json")
            assert code == 0, err
        if month == "2024-08":
            code, out, _ = ledger_cmd(capsys, store_url, "unclaimed", "--month", month, "--json")
            (row,) = json.loads(out)
            assert (row["citizen_id"], row["consecutive_months"], row["flag"], row["amount"]) == \
                (absent, 2, "verify", 1_000_000)
    # After three rounds uncollected, the ledger suspended the person itself.
    code, out, _ = ledger_cmd(capsys, store_url, "unclaimed", "--month", "2024-09", "--json")
    (row,) = json.loads(out)
    assert (row["consecutive_months"], row["flag"], row["amount"]) == (3, "suspended", 1_500_000)
    shown = _show(capsys, store_url, absent)
    assert shown["status"] == "suspended"
    # Nothing new is issued while suspended, and the held cash is not handed out again.
    october = payroll(capsys, store_url, "2024-10", tmp_path / "out")
    assert october["lines"] == 1 and october["carried_lines"] == 0
    # The commune verifies: resumed from December; October and November are back pay.
    resume = dict(decision_no="R1/QĐ", signed_on="2024-11-20", kind="resume", citizen_id=absent,
                  effective_month="2024-12", reason="verified at home")
    ledger_cmd(capsys, store_url, "import", "decisions", str(decisions_file(tmp_path / "r.csv", [resume])))
    payroll(capsys, store_url, "2024-11", tmp_path / "out")
    december = payroll(capsys, store_url, "2024-12", tmp_path / "out")
    shown = _show(capsys, store_url, absent)
    line = next(x for x in shown["lines"] if x["payroll_id"].endswith("2024-11") or x["months"][0] == "2024-10")
    assert line["months"][:2] == ["2024-10", "2024-11"]
    assert december["carried_lines"] >= 3  # July-September still held, handed out again
    for month in shown["months"]:
        if "2024-07" <= month["month"] <= "2024-12":
            assert month["issued"] == month["due"] == 500_000, month
    assert shown["arrears_due"] == 0


def _show(capsys, url, citizen_id):
    code, out, err = ledger_cmd(capsys, url, "beneficiary", "show", citizen_id, "--json")
    assert code == 0, err
    return json.loads(out)


BAD_RESULTS = {
    "unknown line": (lambda r: dict(r, line_id="2024-07-051044009999"), "line_id", "is not in payroll"),
    "wrong citizen": (lambda r: dict(r, citizen_id="051319001235"), "citizen_id", "was issued to"),
    "amount differs": (lambda r: dict(r, amount_paid="499000"), "amount_paid", "issued for 500000 VND, reported 499000"),
    "bad status": (lambda r: dict(r, status="gone"), "status", "status"),
    "paid without date": (lambda r: dict(r, paid_on=""), "paid_on", "paid_on is required"),
}


@pytest.mark.parametrize("case", sorted(BAD_RESULTS))
def test_a_bad_result_line_rejects_the_file(store_url, tmp_path, capsys, case):
    change, column, message = BAD_RESULTS[case]
    ledger_cmd(capsys, store_url, "import", "decisions", str(decisions_file(tmp_path / "d.csv", [REGISTER])))
    summary = payroll(capsys, store_url, "2024-07", tmp_path / "out")
    rows = synthetic.postoffice_results(synthetic.read_payroll_csv(summary["files"][0]), "2024-07", seed=1)
    rows = [dict(rows[0], status="paid", paid_on="2024-07-12", amount_paid="500000", received_by="beneficiary")]
    bad = synthetic.write_csv(tmp_path / "po.csv", [change(rows[0])], synthetic.POSTOFFICE_RESULT_COLUMNS)
    with open_ledger(store_url) as ledger:
        before, views = event_count(ledger), dump_views(ledger.runtime.engine)
    code, out, err = ledger_cmd(capsys, store_url, "import", "postoffice", str(bad))
    assert code == 1
    col = synthetic.POSTOFFICE_RESULT_COLUMNS.index(column) + 1
    assert f"{bad}:2:{col}: " in err and message in err, err
    with open_ledger(store_url) as ledger:
        assert (event_count(ledger), dump_views(ledger.runtime.engine)) == (before, views)


def test_results_reimport_and_prefix_record_nothing_twice(store_url, tmp_path, capsys):
    registered = synthetic.registrations(40, seed=4, first=synthetic.Month.parse("2024-07"), months_count=1)
    ledger_cmd(capsys, store_url, "import", "decisions", str(decisions_file(tmp_path / "d.csv", registered)))
    summary = payroll(capsys, store_url, "2024-07", tmp_path / "out")
    for result in results_for(summary, "2024-07", tmp_path):
        rows = synthetic.read_payroll_csv(result)
        columns = list(rows[0])
        prefix = synthetic.write_csv(tmp_path / f"prefix-{result.name}", rows[: len(rows) // 2], columns)
        kind = "postoffice" if "VNPOST" in result.name else "bank"
        _, out, _ = ledger_cmd(capsys, store_url, "import", kind, str(prefix), "--json")
        assert json.loads(out)["recorded_events"] == len(rows) // 2
        _, out, _ = ledger_cmd(capsys, store_url, "import", kind, str(result), "--json")
        assert json.loads(out)["recorded_events"] == len(rows) - len(rows) // 2
        _, out, _ = ledger_cmd(capsys, store_url, "import", kind, str(result), "--json")
        assert json.loads(out)["recorded_events"] == 0


def test_bank_rejections_hold_payment_until_the_office_decides(store_url, tmp_path, capsys):
    ledger_cmd(capsys, store_url, "import", "decisions", str(decisions_file(tmp_path / "d.csv", [REGISTER_2])))
    summary = payroll(capsys, store_url, "2024-07", tmp_path / "out")
    (csv_name,) = [f for f in summary["files"] if f.endswith(".csv")]
    (row,) = synthetic.read_payroll_csv(csv_name)
    rejected = [dict(payroll_id=row["payroll_id"], line_id=row["line_id"], status="rejected",
                     booked_on="2024-07-05", amount=row["amount"], reason_code="AC04")]
    from .writers import write_camt054
    from datetime import datetime
    xml = tmp_path / "camt.xml"
    write_camt054(xml, rejected, agent_code="BANK-VBSP-QNG", month="2024-07",
                  created_at=datetime(2024, 7, 6, 9, 0))
    code, _, err = ledger_cmd(capsys, store_url, "import", "bank", str(xml))
    assert code == 0, err
    shown = _show(capsys, store_url, REGISTER_2["citizen_id"])
    assert shown["holds"] == ["AC04"]
    assert shown["months"][0]["cancelled"] == 750_000 and shown["months"][0]["issued"] == 750_000
    # No payment to a closed account: nothing issued in August.
    assert payroll(capsys, store_url, "2024-08", tmp_path / "out")["lines"] == 0
    change = dict(decision_no="K1", signed_on="2024-08-20", kind="change_channel",
                  citizen_id=REGISTER_2["citizen_id"], effective_month="2024-09", channel="cash",
                  agent_code="VNPOST-BS-01", home_delivery="n")
    ledger_cmd(capsys, store_url, "import", "decisions", str(decisions_file(tmp_path / "k.csv", [change])))
    september = payroll(capsys, store_url, "2024-09", tmp_path / "out")
    assert september["lines"] == 1 and september["amount"] == 3 * 750_000  # July and August as arrears


def test_a_camt054_made_from_the_pain001_without_payment_ids_is_applied(store_url, tmp_path, capsys):
    """Round trip: the ledger's pain.001, a bank's camt.054 answering it that
    echoes only the end-to-end ids and books other money too."""
    import xml.etree.ElementTree as ET
    from datetime import datetime

    from .writers import write_camt054

    ledger_cmd(capsys, store_url, "import", "decisions", str(decisions_file(tmp_path / "d.csv", [REGISTER_2])))
    summary = payroll(capsys, store_url, "2024-07", tmp_path / "out")
    (pain,) = [f for f in summary["files"] if f.endswith(".pain.001.xml")]
    ns = {"p": "urn:iso:std:iso:20022:tech:xsd:pain.001.001.09"}
    transfers = ET.parse(pain).getroot().findall(".//p:CdtTrfTxInf", ns)
    rows = [dict(line_id=t.findtext("p:PmtId/p:EndToEndId", namespaces=ns), status="credited",
                 booked_on="2024-07-10", amount=t.findtext("p:Amt/p:InstdAmt", namespaces=ns), reason_code="")
            for t in transfers]
    xml = tmp_path / "camt.xml"
    write_camt054(xml, rows, agent_code="BANK-VBSP-QNG", month="2024-07", created_at=datetime(2024, 7, 11, 9, 0))
    text = xml.read_text(encoding="utf-8")
    text = "\n".join(line for line in text.splitlines() if "<PmtInfId>" not in line and "<NtryRef>" not in line)
    foreign = ("<Ntry><Amt Ccy=\"VND\">90000000</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts>"
               "<BookgDt><Dt>2024-07-02</Dt></BookgDt><NtryDtls><TxDtls><Refs><EndToEndId>NGANSACH-07"
               "</EndToEndId></Refs></TxDtls></NtryDtls></Ntry>")
    xml.write_text(text.replace("</Ntfctn>", foreign + "</Ntfctn>"), encoding="utf-8")
    code, out, err = ledger_cmd(capsys, store_url, "import", "bank", str(xml))
    assert code == 0, err
    assert "ignored:" in out and "NGANSACH-07" in out
    shown = _show(capsys, store_url, REGISTER_2["citizen_id"])
    assert shown["months"][0]["disbursed"] == 750_000


def test_no_bank_payroll_without_the_treasury_account(store_url, tmp_path, capsys, monkeypatch):
    ledger_cmd(capsys, store_url, "import", "decisions", str(decisions_file(tmp_path / "d.csv", [REGISTER_2])))
    monkeypatch.delenv("LEDGER_TREASURY_ACCOUNT")
    events = _events(store_url)
    code, _, err = ledger_cmd(capsys, store_url, "payroll", "run", "--month", "2024-07", "--out", str(tmp_path))
    assert code == 1 and "treasury_account" in err and "LEDGER_TREASURY_ACCOUNT" in err
    assert _events(store_url) == events  # nothing recorded


def test_the_post_office_list_filled_in_and_sent_back_is_applied(store_url, tmp_path, capsys):
    """Round trip: the .xlsx list the post office was sent, its result
    columns filled in by hand (Vietnamese dates, grouped amounts) and mailed
    back under another name, is read as the workbook it is and applied."""
    from openpyxl import load_workbook

    ledger_cmd(capsys, store_url, "import", "decisions", str(decisions_file(tmp_path / "d.csv", [REGISTER])))
    summary = payroll(capsys, store_url, "2024-07", tmp_path / "out")
    (sent,) = [f for f in summary["files"] if f.endswith(".xlsx") and Path(f).name.startswith("payroll-")]
    workbook = load_workbook(sent)
    sheet = workbook.worksheets[0]
    width = sheet.max_column
    for offset, title in enumerate(("status", "paid_on", "amount_paid", "received_by")):
        sheet.cell(row=1, column=width + 1 + offset, value=title)
    for row in range(2, sheet.max_row + 1):
        amount = sheet.cell(row=row, column=8).value
        for offset, value in enumerate(("paid", "12/07/2024", f"{amount:,}".replace(",", "."), "beneficiary")):
            sheet.cell(row=row, column=width + 1 + offset, value=value)
    returned = tmp_path / "ket-qua-buu-dien-thang-7.dat"  # renamed by the mail system
    workbook.save(returned)
    code, out, err = ledger_cmd(capsys, store_url, "import", "postoffice", str(returned))
    assert code == 0, err
    shown = _show(capsys, store_url, REGISTER["citizen_id"])
    assert shown["months"][0]["disbursed"] == summary["amount"]
    # Sent back twice: recorded once.
    before = _events(store_url)
    assert ledger_cmd(capsys, store_url, "import", "postoffice", str(returned))[0] == 0
    assert _events(store_url) == before
