"""The Reports screen and the confirmations import through the web
application (FastAPI's TestClient): who may see what, the downloads, a
confirmations file imported by an officer and refused with its place."""
from __future__ import annotations

import io
import re

import openpyxl
from fastapi.testclient import TestClient

from adapters import synthetic
from ledger.months import Month

from .test_proxy_accounts import AUTHORIZE, BANK_ID, COLUMNS, CONFIRMATION_COLUMNS, confirmation
from .test_web import client, csrf, dry_run_then_confirm, login, web  # noqa: F401 - the fixture
from .helpers import REGISTER, REGISTER_2, decisions_file


def _paid_months(app, tmp_path, months):
    """Decisions (with a proxy's own account from August), payroll and results, as the CLI does."""
    commands, queries = app.state.commands, app.state.queries
    commands.import_decisions(decisions_file(tmp_path / "d.csv", [REGISTER, REGISTER_2, AUTHORIZE], COLUMNS), "o")
    for month in months:
        summary = commands.run_payroll(Month.parse(month), tmp_path / "out", "o")
        for name in summary.files:
            if not name.endswith(".csv"):
                continue
            rows = synthetic.read_payroll_csv(name)
            if "VNPOST" in name:
                results = [dict(payroll_id=r["payroll_id"], line_id=r["line_id"], citizen_id=r["citizen_id"],
                                status="paid", paid_on=f"{month}-12", amount_paid=r["amount"],
                                received_by="beneficiary", at_home="n") for r in rows]
                commands.import_postoffice(synthetic.write_csv(tmp_path / f"po-{month}.csv", results,
                                                               synthetic.POSTOFFICE_RESULT_COLUMNS), "o")
            elif rows:
                results = [dict(payroll_id=r["payroll_id"], line_id=r["line_id"], status="credited",
                                booked_on=f"{month}-05", amount=r["amount"]) for r in rows]
                commands.import_bank(synthetic.write_csv(tmp_path / f"bank-{month}.csv", results,
                                                         synthetic.BANK_RESULT_COLUMNS), "o")
    return queries


def test_reports_need_a_reader(web):
    c = client(web)
    r = c.get("/bao-cao")
    assert r.status_code == 303 and r.headers["location"].startswith("/dang-nhap")
    assert client(web).get("/bao-cao/tai/xu-huong-xlsx").status_code == 303
    admin = login(web, "quantri")
    assert admin.get("/bao-cao").status_code == 403  # users only
    empty = login(web, "canbo").get("/bao-cao")  # nothing recorded yet
    assert empty.status_code == 200 and "Chưa lập danh sách chi trả" in empty.text


def test_reports_screen_and_downloads(web, tmp_path, monkeypatch):
    monkeypatch.setenv("LEDGER_TODAY", "2024-10-20")
    _paid_months(web, tmp_path, ["2024-07", "2024-08", "2024-09", "2024-10"])
    c = login(web, "kiemtoan")
    page = c.get("/bao-cao", params={"tu": "2024-07", "den": "2024-10", "thang": "2024-10"})
    assert page.status_code == 200
    assert page.text.count('role="img"') == 2 and "<script" not in page.text.split("</head>")[1]
    assert 'style="' not in page.text  # the charts use presentation attributes only (CSP)
    assert BANK_ID in page.text and AUTHORIZE["proxy_name"] in page.text  # August, unconfirmed
    assert "50,0 %" in page.text  # one of two people paid by bank
    r = c.get("/bao-cao/tai/xu-huong-xlsx", params={"tu": "2024-07", "den": "2024-10"})
    assert r.status_code == 200 and "trend-2024-07-2024-10.xlsx" in r.headers["content-disposition"]
    book = openpyxl.load_workbook(io.BytesIO(r.content))
    assert [len(book[name]._charts) for name in book.sheetnames] == [3, 1, 1]
    r = c.get("/bao-cao/tai/khong-tien-mat-xlsx", params={"tu": "2024-07", "den": "2024-10"})
    assert r.status_code == 200 and len(openpyxl.load_workbook(io.BytesIO(r.content)).worksheets[0]._charts) == 1
    assert c.get("/bao-cao/tai/quyet-toan-pdf", params={"thang": "2024-10"}).content[:5] == b"%PDF-"
    assert c.get("/bao-cao/tai/khong-co").status_code == 404
    assert c.get("/bao-cao", params={"tu": "2024-10", "den": "2024-07"}).status_code == 400
    assert c.get("/bao-cao", params={"tu": "2024-13"}).status_code == 400


def test_an_officer_imports_confirmations(web, tmp_path, monkeypatch):
    monkeypatch.setenv("LEDGER_TODAY", "2024-10-20")
    queries = _paid_months(web, tmp_path, ["2024-07", "2024-08", "2024-09", "2024-10"])
    assert [e.months for e in queries.proxy_queue(Month.parse("2024-10"))] == [("2024-08",)]
    c = login(web, "canbo")
    token = csrf(c, "/nhap-tep")
    bad = synthetic.write_csv(tmp_path / "bad.csv", [confirmation("2024-07")], CONFIRMATION_COLUMNS)
    with open(bad, "rb") as f:
        r = c.post("/nhap-tep", data={"kind": "confirmations", "csrf_token": token},
                   files={"file": ("xac-nhan.csv", f, "text/csv")})
    assert r.status_code == 422 and "no payment into a proxy&#39;s account" in r.text
    assert re.search(r"xac-nhan\.csv.*2", r.text, re.S)  # the file and its line
    good = synthetic.write_csv(tmp_path / "good.csv", [confirmation("2024-08")], CONFIRMATION_COLUMNS)
    _, fields = dry_run_then_confirm(c, good, "xac-nhan.csv", kind="confirmations")
    assert [e.months for e in queries.proxy_queue(Month.parse("2024-10"))] == [("2024-08",)]  # a dry run
    r = c.post("/nhap-tep/xac-nhan", data=fields)
    assert r.status_code == 200 and "Đã nhập xac-nhan.csv" in r.text, r.text[-2000:]
    assert queries.proxy_queue(Month.parse("2024-10")) == []
    auditor = login(web, "kiemtoan")
    with open(good, "rb") as f:
        r = auditor.post("/nhap-tep", data={"kind": "confirmations", "csrf_token": csrf(auditor, "/nhap-tep")},
                         files={"file": ("xac-nhan.csv", f, "text/csv")})
    assert r.status_code == 403
