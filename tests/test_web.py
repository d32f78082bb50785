"""The web application's security rules, through FastAPI's TestClient."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from adapters.bootstrap import open_runtime
from adapters.checkpoints import check_against
from adapters.cli import main
from adapters.settings import LedgerSettings
from adapters.web.app import create_app
from ledger.months import Month
from tests.helpers import REGISTER, REGISTER_2, decisions_file

PASSWORD = "mat-khau-dai-1"


@pytest.fixture
def web(tmp_path):
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    key = tmp_path / "office.pem"
    assert main(["keygen", "--signing", "--out", str(key)]) == 0
    settings = LedgerSettings(database_url=url, web_files_dir=tmp_path / "files", signing_key_file=key,
                              checkpoint_dir=tmp_path / "checkpoints")
    with open_runtime(settings=settings) as runtime:
        app = create_app(runtime, settings)
        for name, role in (("canbo", "officer"), ("lanhdao", "approver"), ("lanhdao2", "approver"),
                           ("kiemtoan", "auditor"), ("quantri", "admin")):
            app.state.users.add(name, role, PASSWORD)
        app.state.decisions = decisions_file(tmp_path / "decisions.csv", [REGISTER, REGISTER_2])
        yield app


def client(app) -> TestClient:
    return TestClient(app, follow_redirects=False)


def csrf(c: TestClient, path: str = "/dang-nhap") -> str:
    page = c.get(path)
    assert page.status_code == 200, page.text
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)


def login(app, name: str) -> TestClient:
    c = client(app)
    r = c.post("/dang-nhap", data={"username": name, "password": PASSWORD, "csrf_token": csrf(c), "next": "/"})
    assert r.status_code == 303, r.text
    return c


def test_no_session_redirects_to_login(web):
    c = client(web)
    for path in ("/", "/thang-nay", "/doi-tuong?q=nguyen", "/chi-tra", "/quyet-toan", "/kiem-toan", "/nguoi-dung"):
        r = c.get(path)
        assert r.status_code == 303 and r.headers["location"].startswith("/dang-nhap?next="), path
    r = c.post("/chi-tra/lap", data={"month": "2024-07"})
    assert r.status_code == 303 and r.headers["location"].startswith("/dang-nhap")


def test_security_headers_and_cookie(web):
    c = client(web)
    r = c.get("/dang-nhap")
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "style-src 'self'" in csp
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["referrer-policy"] == "same-origin"
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    assert 'style="' not in r.text and "<script>" not in r.text


def test_missing_or_wrong_csrf_is_refused(web):
    c = client(web)
    csrf(c)
    r = c.post("/dang-nhap", data={"username": "canbo", "password": PASSWORD})
    assert r.status_code == 403
    c = login(web, "canbo")
    with open(web.state.decisions, "rb") as f:
        r = c.post("/nhap-tep", data={"kind": "decisions"}, files={"file": ("d.csv", f, "text/csv")})
    assert r.status_code == 403
    r = c.post("/chi-tra/lap", data={"month": "2024-07", "csrf_token": "forged"})
    assert r.status_code == 403
    assert web.state.queries.payroll_calendar() == []


def test_auditor_changes_nothing(web):
    c = login(web, "kiemtoan")
    token = csrf(c, "/thang-nay")
    assert c.get("/doi-tuong?q=nguyen van").status_code == 200
    with open(web.state.decisions, "rb") as f:
        r = c.post("/nhap-tep", data={"kind": "decisions", "csrf_token": token},
                   files={"file": ("d.csv", f, "text/csv")})
    assert r.status_code == 403
    for path, data in (("/chi-tra/lap", {"month": "2024-07"}), ("/chi-tra/phat-hanh", {"month": "2024-07"}),
                       ("/truy-thu/de-nghi-mien", {}), ("/truy-thu/quyet-dinh-mien", {}),
                       ("/nhap-tep/xac-nhan", {}), ("/quyet-toan", {"month": "2024-07"}),
                       ("/nguoi-dung", {"username": "x", "role": "admin", "password": PASSWORD}),
                       ("/nguoi-dung/khoa", {"username": "canbo"}), ("/anything", {})):
        assert c.post(path, data={**data, "csrf_token": token}).status_code == 403, path
    assert web.state.queries.store_status().events == 0
    assert [u.name for u in web.state.users.list() if u.disabled] == []
    # Logging out is not a change to the ledger.
    assert c.post("/dang-xuat", data={"csrf_token": token}).status_code == 303


def test_roles_see_their_screens(web):
    admin = login(web, "quantri")
    assert admin.get("/nguoi-dung").status_code == 200
    assert admin.get("/thang-nay").status_code == 403
    officer = login(web, "canbo")
    assert officer.get("/nguoi-dung").status_code == 403
    token = csrf(officer, "/thang-nay")
    assert officer.post("/quyet-toan", data={"month": "2024-07", "csrf_token": token}).status_code == 403


def test_lockout_after_five_failures(web):
    c = client(web)
    for _ in range(5):
        r = c.post("/dang-nhap", data={"username": "canbo", "password": "sai-mat-khau", "csrf_token": csrf(c)})
        assert r.status_code == 401
    assert "tạm khoá 15 phút" in r.text
    r = c.post("/dang-nhap", data={"username": "canbo", "password": PASSWORD, "csrf_token": csrf(c)})
    assert r.status_code == 401 and "tạm khoá" in r.text
    assert web.state.users.get("canbo").locked_until is not None


def dry_run_then_confirm(c: TestClient, path, name: str, kind: str = "decisions"):
    """Step one (the dry run) and step two (confirm the very file previewed)."""
    token = csrf(c, "/nhap-tep")
    with open(path, "rb") as f:
        r = c.post("/nhap-tep", data={"kind": kind, "csrf_token": token}, files={"file": (name, f, "text/csv")})
    assert r.status_code == 200 and f"Chạy thử {name}: chưa ghi gì" in r.text, r.text[-2000:]
    fields = dict(re.findall(r'<input type="hidden" name="([a-z_0-9]+)" value="([^"]*)"', r.text))
    return r, fields


def test_actor_is_the_user_and_four_eyes(web, tmp_path):
    officer = login(web, "canbo")
    r, fields = dry_run_then_confirm(officer, web.state.decisions, "quyet-dinh.csv")
    assert web.state.queries.store_status().events == 0  # the dry run recorded nothing
    r = officer.post("/nhap-tep/xac-nhan", data=fields)
    assert r.status_code == 200 and "Đã nhập quyet-dinh.csv" in r.text
    assert "Lịch sử nhập tệp" in r.text and fields["sha256"][:12] in r.text
    (receipt,) = web.state.queries.import_history()
    assert (receipt.actor, receipt.file_name, receipt.sha256) == ("canbo", "quyet-dinh.csv", fields["sha256"])
    token = csrf(officer, "/chi-tra")
    r = officer.post("/chi-tra/lap", data={"month": "2024-07", "csrf_token": token})
    assert r.status_code == 303
    page = officer.get(r.headers["location"])
    assert "chờ phát hành" in page.text and "VNPOST-BS-01" in page.text and ".csv" not in page.text
    assert officer.get("/chi-tra/2024-07/tep/payroll-VNPOST-BS-01-2024-07.csv").status_code == 404
    # An officer cannot release; an approver who prepared it may not either (the domain's four eyes).
    assert officer.post("/chi-tra/phat-hanh", data={"month": "2024-07", "preparation": "1",
                                                    "csrf_token": token}).status_code == 403
    approver = login(web, "lanhdao")
    token = csrf(approver, "/chi-tra")
    r = approver.post("/chi-tra/phat-hanh", data={"month": "2024-07", "preparation": "1", "csrf_token": token})
    assert r.status_code == 303
    page = approver.get(r.headers["location"])
    assert "VNPOST-BS-01" in page.text and ".csv" in page.text and "người phát hành lanhdao" in page.text
    timeline = web.state.queries.timeline(REGISTER["citizen_id"])
    assert {e.actor for e in timeline} == {"canbo", "lanhdao"}
    (month,) = web.state.queries.payroll_calendar()
    assert (month.prepared_by, month.issued_by) == ("canbo", "lanhdao")
    # The officer who prepared the payroll may not close the month; the approver may.
    assert not web.state.queries.payroll_calendar()[0].closed
    other = login(web, "lanhdao")
    settlement = other.get("/quyet-toan?thang=2024-07").text
    count = int(re.search(r'name="variances" value="(\d+)"', settlement).group(1))
    data = {"month": "2024-07", "csrf_token": csrf(other, "/quyet-toan"), "variances": str(count)}
    for i in range(count):
        key = re.search(rf'name="key-{i}" value="([^"]+)"', settlement).group(1)
        data |= {f"key-{i}": key, f"reason-{i}": "đã xác minh với đại lý"}
    r = other.post("/quyet-toan", data=data)
    assert r.status_code == 303, r.text
    calendar = web.state.queries.payroll_calendar()[0]
    assert calendar.closed and calendar.month == Month.parse("2024-07")
    # The close from the web writes the signed checkpoint of the head, as the command does.
    (checkpoint,) = (tmp_path / "checkpoints").glob("checkpoint-2024-07-*.json")
    assert check_against(web.state.queries.runtime, str(checkpoint)).ok
    assert f"Điểm kiểm đã ký: {checkpoint.name}" in other.get(r.headers["location"]).text


def test_a_preparer_cannot_release_and_a_stale_preparation_is_refused(web, tmp_path):
    officer = login(web, "canbo")
    r, fields = dry_run_then_confirm(officer, web.state.decisions, "d.csv")
    assert officer.post("/nhap-tep/xac-nhan", data=fields).status_code == 200
    first = login(web, "lanhdao")
    token = csrf(first, "/chi-tra")
    assert first.post("/chi-tra/lap", data={"month": "2024-07", "csrf_token": token}).status_code == 303
    r = first.post("/chi-tra/phat-hanh", data={"month": "2024-07", "preparation": "1", "csrf_token": token})
    assert r.status_code == 403 and "nguyên tắc bốn mắt" in r.text and "lanhdao đã lập" in r.text
    # The data changes after the preparation: the release is refused, nothing issued.
    later = decisions_file(tmp_path / "later.csv", [dict(REGISTER, decision_no="9/QĐ-UBND",
                                                         citizen_id="051044009999")])
    r, fields = dry_run_then_confirm(officer, later, "later.csv")
    assert officer.post("/nhap-tep/xac-nhan", data=fields).status_code == 200
    second = login(web, "lanhdao2")
    token = csrf(second, "/chi-tra")
    r = second.post("/chi-tra/phat-hanh", data={"month": "2024-07", "preparation": "1", "csrf_token": token})
    assert r.status_code == 409 and "cần lập lại danh sách" in r.text
    assert web.state.queries.payroll_calendar() == []


def test_a_confirmed_import_must_be_the_file_previewed(web, tmp_path):
    officer = login(web, "canbo")
    r, fields = dry_run_then_confirm(officer, web.state.decisions, "d.csv")
    kept = Path(web.state.files_dir) / "uploads" / fields["upload"]
    kept.write_bytes(kept.read_bytes().replace(b"Nguy", b"Nguy_"))
    r = officer.post("/nhap-tep/xac-nhan", data=fields)
    assert r.status_code == 409 and "thay đổi sau khi chạy thử" in r.text
    assert web.state.queries.store_status().events == 0


def test_an_import_error_is_shown_at_its_cell(web, tmp_path):
    bad = decisions_file(tmp_path / "bad.csv", [dict(REGISTER, birth_date="31/02/1944")])
    officer = login(web, "canbo")
    token = csrf(officer, "/nhap-tep")
    with open(bad, "rb") as f:
        r = officer.post("/nhap-tep", data={"kind": "decisions", "csrf_token": token},
                         files={"file": ("bad.csv", f, "text/csv")})
    assert r.status_code == 422 and 'class="loi"' in r.text and "31/02/1944" in r.text
    assert web.state.queries.store_status().events == 0


def test_rejected_file_shows_every_problem(web, tmp_path):
    bad = decisions_file(tmp_path / "bad.csv", [dict(REGISTER, birth_date="31/02/1944"),
                                                dict(REGISTER_2, citizen_id="12")])
    officer = login(web, "canbo")
    with open(bad, "rb") as f:
        r = officer.post("/nhap-tep", data={"kind": "decisions", "csrf_token": csrf(officer, "/nhap-tep")},
                         files={"file": ("bad.csv", f, "text/csv")})
    assert r.status_code == 422
    assert "bị từ chối" in r.text and r.text.count("<td>bad.csv</td>") >= 2
    assert web.state.queries.store_status().events == 0


def test_search_ignores_diacritics(web):
    officer = login(web, "canbo")
    _, fields = dry_run_then_confirm(officer, web.state.decisions, "d.csv")
    assert officer.post("/nhap-tep/xac-nhan", data=fields).status_code == 200
    auditor = login(web, "kiemtoan")
    r = auditor.get("/doi-tuong", params={"q": "nguyen van"})
    assert "Nguyễn Văn A" in r.text and "Trần Thị B" not in r.text
    partial = auditor.get("/doi-tuong", params={"q": "tran thi"}, headers={"HX-Request": "true"})
    assert "Trần Thị B" in partial.text and "<html" not in partial.text
    assert auditor.get(f"/doi-tuong/{REGISTER['citizen_id']}").status_code == 200
    assert auditor.get("/doi-tuong/000000000000").status_code == 404
    for path in ("/kiem-toan", "/kiem-toan?kiem_tra=1", f"/kiem-toan?cccd={REGISTER['citizen_id']}",
                 "/chua-nhan", "/truy-thu", "/thang-nay", "/chi-tra", "/quyet-toan", "/nhap-tep"):
        assert auditor.get(path).status_code == 200, path


def test_a_close_on_the_web_stands_on_the_books_and_says_the_view_differs(web, tmp_path):
    """The postings view altered in the database: the close from the web
    records the books' figures, and its message says which agent's figures
    differ and to run `ledger replay`."""
    import sqlalchemy as sa

    from projections import postings as post_view

    officer = login(web, "canbo")
    r, fields = dry_run_then_confirm(officer, web.state.decisions, "quyet-dinh.csv")
    assert officer.post("/nhap-tep/xac-nhan", data=fields).status_code == 200
    token = csrf(officer, "/chi-tra")
    assert officer.post("/chi-tra/lap", data={"month": "2024-07", "csrf_token": token}).status_code == 303
    approver = login(web, "lanhdao")
    token = csrf(approver, "/chi-tra")
    assert approver.post("/chi-tra/phat-hanh", data={"month": "2024-07", "preparation": "1",
                                                     "csrf_token": token}).status_code == 303
    (true,) = [s for s in web.state.queries.reconcile(Month.parse("2024-07")) if s.agent_code == "VNPOST-BS-01"]
    p = post_view.postings
    with web.state.queries.runtime.engine.begin() as conn:  # the advance halved, in the view only
        conn.execute(sa.update(p).where(p.c.agent_code == "VNPOST-BS-01", p.c.kind == "advance")
                     .values(amount_vnd=p.c.amount_vnd / 2))
    data = {"month": "2024-07", "csrf_token": csrf(approver, "/quyet-toan"), "variances": "0"}
    r = approver.post("/quyet-toan", data=data)
    assert r.status_code == 303, r.text
    page = approver.get(r.headers["location"]).text
    assert "CẢNH BÁO" in page and "ledger replay" in page
    assert f"VNPOST-BS-01: tạm ứng trên trang {true.advance // 2:,}".replace(",", ".") in page
    closed = web.state.queries.runtime.app.calendar().closed["2024-07"]["VNPOST-BS-01"]
    assert (closed["advance"], closed["closing"]) == (true.advance, true.closing_balance)
