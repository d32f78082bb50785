"""The person page (as known at, chart), the unclaimed follow-up (resume,
relocation, death notice through the commands), the audit screen (event
browser, export bundle, verify against a checkpoint) and the rules what-if,
through FastAPI's TestClient on both stores."""
from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import time
import uuid
import zipfile
from datetime import datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient

from adapters.bootstrap import open_runtime
from adapters.checkpoints import make_checkpoint, load_signing_key, new_signing_key
from adapters.cli import main
from adapters.settings import LedgerSettings
from adapters.web.app import create_app, vnd
from ledger.months import Month
from ledger.whatif import with_level
from projections.chain import GENESIS, link
from tests.helpers import REGISTER, REGISTER_2, decisions_file

PASSWORD = "mat-khau-dai-1"
A, B = REGISTER["citizen_id"], REGISTER_2["citizen_id"]


@pytest.fixture
def web(store_url, tmp_path):
    key = tmp_path / "office-signing.pem"
    key.write_bytes(new_signing_key()[0])
    settings = LedgerSettings(database_url=store_url, web_files_dir=tmp_path / "files", signing_key_file=key)
    with open_runtime(settings=settings) as runtime:
        app = create_app(runtime, settings)
        for name, role in (("canbo", "officer"), ("lanhdao", "approver"), ("kiemtoan", "auditor")):
            app.state.users.add(name, role, PASSWORD)
        app.state.commands.import_decisions(decisions_file(tmp_path / "d.csv", [REGISTER, REGISTER_2]), "seed")
        app.state.tmp = tmp_path
        app.state.url = store_url
        yield app


def login(app, name: str) -> TestClient:
    c = TestClient(app, follow_redirects=False)
    token = csrf(c, "/dang-nhap")
    r = c.post("/dang-nhap", data={"username": name, "password": PASSWORD, "csrf_token": token, "next": "/"})
    assert r.status_code == 303, r.text
    return c


def csrf(c: TestClient, path: str) -> str:
    page = c.get(path)
    assert page.status_code == 200, page.text
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)


def head_and_count(app) -> tuple:
    q = app.state.queries
    return q.runtime.chain.head(), q.store_status().events


# --- people ------------------------------------------------------------------------------

def test_search_ignores_diacritics_and_finds_by_citizen_id_and_commune(web):
    c = login(web, "kiemtoan")
    assert A in c.get("/doi-tuong", params={"q": "nguyen van"}).text
    assert A in c.get("/doi-tuong", params={"q": "NGUYỄN văn a"}).text
    page = c.get("/doi-tuong", params={"q": "tran thi"}).text
    assert B in page and A not in page
    page = c.get("/doi-tuong", params={"q": A[:8]}).text
    assert A in page
    both = c.get("/doi-tuong", params={"xa": REGISTER["commune_code"]}).text
    assert A in both and B in both
    assert A not in c.get("/doi-tuong", params={"xa": "99999"}).text
    narrowed = c.get("/doi-tuong", params={"q": "tran", "xa": REGISTER["commune_code"]}).text
    assert B in narrowed and A not in narrowed


def test_person_page_as_known_at_shows_what_was_recorded_then(web):
    c = login(web, "kiemtoan")
    time.sleep(0.05)
    before = datetime.now(timezone.utc)
    time.sleep(0.05)
    terminate = dict(decision_no="9/QĐ-UBND", signed_on="2024-08-05", kind="terminate", citizen_id=A,
                     effective_month="2024-09", reason="no longer eligible")
    web.state.commands.import_decisions(decisions_file(web.state.tmp / "t.csv", [terminate]), "canbo")
    now = c.get(f"/doi-tuong/{A}")
    assert now.status_code == 200
    assert "9/QĐ-UBND" in now.text and "Terminated" in now.text  # the timeline with its legal basis
    assert '<svg viewBox' in now.text and "Phải trả và đã chi theo tháng" in now.text
    then = c.get(f"/doi-tuong/{A}", params={"biet_luc": before.strftime("%Y-%m-%dT%H:%M:%S.%f")})
    assert then.status_code == 200
    assert "9/QĐ-UBND" not in then.text and "Terminated" not in then.text
    assert "Đây là những gì sổ đã ghi đến" in then.text
    # the same query as the CLI's --as-known-at
    report = web.state.queries.beneficiary_report(A, before)
    assert report.status == "active" and web.state.queries.beneficiary_report(A).status != "active"
    early = c.get(f"/doi-tuong/{A}", params={"biet_luc": "2001-01-01T00:00"})
    assert early.status_code == 404 and "chưa có đối tượng" in early.text
    assert c.get(f"/doi-tuong/{A}", params={"biet_luc": "hôm qua"}).status_code == 400


# --- unclaimed follow-up -------------------------------------------------------------------

def finding(c: TestClient, cid: str, what: str, **fields):
    token = csrf(c, f"/chua-nhan/{cid}")
    data = {"csrf_token": token, **{f"{what}-{k}": v for k, v in fields.items()}}
    return c.post(f"/chua-nhan/{cid}/{what}", data=data)


def test_commune_findings_become_the_decision_or_notice_events(web):
    officer = login(web, "canbo")
    suspend = dict(decision_no="5/QĐ-UBND", signed_on="2024-09-02", kind="suspend", citizen_id=A,
                   effective_month="2024-09", reason="unclaimed, commune to verify")
    web.state.commands.import_decisions(decisions_file(web.state.tmp / "s.csv", [suspend]), "canbo")
    r = finding(officer, A, "con-o", decision_no="6/QĐ-UBND", signed_on="2024-10-01", effective_month="2024-10",
                reason="commune verified: still living here")
    assert r.status_code == 303, r.text
    timeline = web.state.queries.timeline(A)
    assert (timeline[-1].type, timeline[-1].basis, timeline[-1].actor) == ("Resumed", "6/QĐ-UBND", "canbo")
    again = finding(officer, A, "con-o", decision_no="6/QĐ-UBND", signed_on="2024-10-01",
                    effective_month="2024-10", reason="commune verified: still living here")
    assert again.status_code == 303 and len(web.state.queries.timeline(A)) == len(timeline)  # nothing twice

    r = finding(officer, B, "chuyen-di", decision_no="7/QĐ-UBND", signed_on="2024-10-03", effective_month="2024-11")
    assert r.status_code == 303, r.text
    assert web.state.queries.timeline(B)[-1].type == "RelocatedOut"

    r = finding(officer, A, "da-chet", notice_id="KT-1", date_of_death="2024-10-20", source="commune",
                reported_on="2024-11-02", document_no="12/TLKT")
    assert r.status_code == 303, r.text
    report = web.state.queries.beneficiary_report(A)
    assert report.date_of_death.isoformat() == "2024-10-20" and report.status == "deceased"
    death = [e for e in web.state.queries.timeline(A) if e.type == "DeathNotified"]
    assert death and death[0].basis == "12/TLKT" and death[0].actor == "canbo"


def test_a_bad_finding_is_refused_with_the_field_named_and_nothing_recorded(web):
    officer = login(web, "canbo")
    before = head_and_count(web)
    r = finding(officer, A, "da-chet", notice_id="KT-2", date_of_death="2024-11-20", source="commune",
                reported_on="2024-11-02")
    assert r.status_code == 422 and "reported_on is before date_of_death" in r.text
    r = finding(officer, A, "con-o", decision_no="8/QĐ-UBND", signed_on="2024-10-01", effective_month="2026-10",
                reason="x")
    assert r.status_code == 422 and "effective_month" in r.text and "a mistyped year" in r.text
    r = finding(officer, A, "chuyen-di", decision_no="", signed_on="2024-10-01", effective_month="2024-10")
    assert r.status_code == 422 and "decision_no" in r.text
    assert head_and_count(web) == before


def test_only_an_officer_records_a_finding_and_only_with_the_csrf_token(web):
    before = head_and_count(web)
    for name in ("kiemtoan", "lanhdao"):
        r = finding(login(web, name), A, "con-o", decision_no="6/QĐ-UBND", signed_on="2024-10-01",
                    effective_month="2024-10", reason="x")
        assert r.status_code == 403, name
    officer = login(web, "canbo")
    r = officer.post(f"/chua-nhan/{A}/con-o", data={"con-o-decision_no": "6/QĐ-UBND", "con-o-signed_on": "2024-10-01",
                                                    "con-o-effective_month": "2024-10", "con-o-reason": "x"})
    assert r.status_code == 403
    anonymous = TestClient(web, follow_redirects=False).post(f"/chua-nhan/{A}/con-o", data={})
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/dang-nhap")
    assert head_and_count(web) == before


# --- audit ---------------------------------------------------------------------------------

def test_event_browser_filters_and_pages_with_bookmarkable_urls(web):
    c = login(web, "kiemtoan")
    page = c.get("/kiem-toan/su-kien", params={"loai": "Registered"})
    assert page.status_code == 200 and A in page.text and B in page.text
    page = c.get("/kiem-toan/su-kien", params={"cccd": B})
    assert B in page.text and A not in page.text.replace(f'value="{B}"', "")
    assert c.get("/kiem-toan/su-kien", params={"nguoi": "nobody"}).text.count("<td class=\"num\">") == 0
    assert A in c.get("/kiem-toan/su-kien", params={"nguoi": "seed", "thang": "2024-07"}).text
    assert A not in c.get("/kiem-toan/su-kien", params={"thang": "2023-01"}).text
    assert A not in c.get("/kiem-toan/su-kien", params={"tu": "2100-01-01T00:00"}).text
    assert A not in c.get("/kiem-toan/su-kien", params={"den": "2001-01-01T00:00"}).text
    first = c.get("/kiem-toan/su-kien", params={"so_dong": 25, "loai": "Registered"})
    assert "Tiếp theo" not in first.text  # two people: one page
    # paging: one row a page through the store's own browser, then the link the page gives
    from adapters import event_log

    one = event_log.browse(web.state.queries.runtime, event_log.EventFilter(type="Registered"), page_size=1)
    assert len(one.rows) == 1 and one.next_after is not None
    two = event_log.browse(web.state.queries.runtime, event_log.EventFilter(type="Registered"),
                           after=one.next_after, page_size=1)
    assert {one.rows[0].citizen_id, two.rows[0].citizen_id} == {A, B}
    assert c.get("/kiem-toan/su-kien", params={"loai": "NoSuchEvent"}).status_code == 400


def test_export_bundle_holds_every_event_a_signed_checkpoint_and_their_sha256(web):
    c = login(web, "kiemtoan")
    r = c.get("/kiem-toan/xuat")
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    bundle = zipfile.ZipFile(io.BytesIO(r.content))
    manifest = json.loads(bundle.read("manifest.json"))
    for name, entry in manifest["files"].items():
        assert hashlib.sha256(bundle.read(name)).hexdigest() == entry["sha256"], name
    lines = [json.loads(x) for x in bundle.read("events.jsonl").splitlines()]
    head, count = head_and_count(web)
    assert manifest["events"] == len(lines) == count and manifest["signed"] is True
    checkpoint = json.loads(bundle.read("checkpoint.json"))
    assert (checkpoint["position"], checkpoint["hash"]) == tuple(head)
    # the chain recomputed from the bundle alone reaches the signed head
    previous = GENESIS
    for line in lines:
        previous = link(previous, line["position"], uuid.UUID(line["originator_id"]), line["originator_version"],
                        line["topic"], base64.b64decode(line["stored"]))
        assert previous == line["seal"]
    assert previous == checkpoint["hash"]
    assert any(line["state"].get("citizen_id") == A for line in lines)
    # the same bundle from the command line
    out = web.state.tmp / "bundle.zip"
    assert main(["--db", web.state.url, "audit", "export", "--out", str(out)]) == 0
    assert json.loads(zipfile.ZipFile(out).read("manifest.json"))["events"] == count
    assert head_and_count(web) == (head, count)


def test_verify_against_an_uploaded_checkpoint(web):
    runtime = web.state.queries.runtime
    checkpoint = make_checkpoint(runtime, load_signing_key(runtime.signing_key_file))
    c = login(web, "kiemtoan")  # an auditor may send the file: it is read, nothing recorded
    token = csrf(c, "/kiem-toan")
    good = json.dumps(checkpoint).encode()
    r = c.post("/kiem-toan/doi-chieu", data={"csrf_token": token},
               files={"checkpoint": ("checkpoint-2024-07.json", good, "application/json")})
    assert r.status_code == 200 and "nối tiếp đúng điểm kiểm checkpoint-2024-07.json" in r.text
    forged = json.dumps(dict(checkpoint, position=checkpoint["position"] + 5)).encode()
    r = c.post("/kiem-toan/doi-chieu", data={"csrf_token": token},
               files={"checkpoint": ("x.json", forged, "application/json")})
    assert r.status_code == 409 and "KHÔNG KHỚP" in r.text and "signature is not valid" in r.text
    r = c.post("/kiem-toan/doi-chieu", files={"checkpoint": ("x.json", good, "application/json")})
    assert r.status_code == 403  # no CSRF token


def test_replay_as_known_at_on_the_audit_screen(web):
    c = login(web, "kiemtoan")
    later = datetime.now(timezone.utc) + timedelta(minutes=2)  # the picker has minutes, the events seconds
    now = c.get("/kiem-toan", params={"biet_luc": later.strftime("%Y-%m-%dT%H:%M")})
    assert now.status_code == 200 and "Các bảng như đã biết lúc" in now.text
    early = c.get("/kiem-toan", params={"biet_luc": "2001-01-01T00:00"})
    codes = lambda page: re.findall(r"<code>([0-9a-f]{16})</code>", page.text)  # noqa: E731
    assert codes(early) and codes(now) and codes(early) != codes(now)  # the views then held no one
    r = c.get("/kiem-toan/dung-lai.db", params={"biet_luc": "2001-01-01T00:00"})
    assert r.status_code == 200 and r.content.startswith(b"SQLite format 3")


# --- rules what-if ------------------------------------------------------------------------

def test_whatif_shows_the_difference_month_by_month_and_records_nothing(web):
    before = head_and_count(web)
    c = login(web, "kiemtoan")
    r = c.get("/gia-dinh", params={"muc": "600000", "tu": "2024-07", "den": "2024-12"})
    assert r.status_code == 200, r.text
    july = Month.parse("2024-07")
    result = web.state.queries.whatif(with_level(web.state.queries.runtime.rules, 600000, july), july, july + 5)
    assert result.difference > 0 and result.people_affected == 2
    months = result.months()
    assert [m["month"] for m in months] == ["2024-07", "2024-08", "2024-09", "2024-10", "2024-11", "2024-12"]
    assert sum(m["difference"] for m in months) == result.difference
    assert vnd(result.difference) in r.text and vnd(months[0]["candidate"]) in r.text
    token = csrf(c, "/gia-dinh")
    rules = b'extends = "vn-social-assistance.toml"\nid = "candidate"\ntitle = "same rules"\n'
    r = c.post("/gia-dinh", data={"csrf_token": token, "tu": "2024-07", "den": "2024-09"},
               files={"rules": ("ung-vien.toml", rules, "application/toml")})
    assert r.status_code == 200 and "ung-vien.toml" in r.text and "0 / 2" in r.text
    r = c.post("/gia-dinh", data={"csrf_token": token, "tu": "2024-07"},
               files={"rules": ("hong.toml", b"this is = = not toml", "application/toml")})
    assert r.status_code == 422 and "hong.toml" in r.text
    assert c.get("/gia-dinh", params={"tep": "whatif-2025-social-pension.toml", "tu": "2025-07"}).status_code == 200
    assert head_and_count(web) == before
