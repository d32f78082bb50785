"""The population check's web screen (Đối chiếu dân cư), through FastAPI's
TestClient: the queue, the upload, confirm and reject, CSRF and roles."""
from __future__ import annotations

import re

from adapters import synthetic
from tests.helpers import REGISTER, REGISTER_2
from tests.test_web import csrf, dry_run_then_confirm, login, web  # noqa: F401 - the shared fixture

POP_COLUMNS = ("citizen_id", "full_name", "birth_date", "sex", "status", "date_of_death", "permanent_commune",
               "checked_on")
CASH_ID, BANK_ID = REGISTER["citizen_id"], REGISTER_2["citizen_id"]


def _answers(tmp_path, monkeypatch):
    monkeypatch.setenv("LEDGER_TODAY", "2024-09-20")
    rows = [dict(zip(POP_COLUMNS, r)) for r in (
        (CASH_ID, "NGUYEN VAN A", "1944-03-02", "M", "alive", "", "20101", "2024-09-15"),
        (BANK_ID, "Trần Thị B", "2019-11-20", "F", "deceased", "2024-08-03", "20101", "2024-09-15"),
        ("051044009999", "Ai Đó", "1950-01-01", "M", "alive", "", "20101", "2024-09-15"))]
    return synthetic.write_csv(tmp_path / "dan-cu.csv", rows, POP_COLUMNS)


def _upload(c, path, token):
    """The population screen's form: a dry run on the Imports screen, then
    the confirmation of the very file previewed. The dry run's page when it
    refuses, the confirmation's otherwise."""
    with open(path, "rb") as f:
        r = c.post("/nhap-tep", data={"kind": "population", "csrf_token": token},
                   files={"file": (path.name, f, "text/csv")})
    if r.status_code != 200:
        return r
    assert f"Chạy thử {path.name}: chưa ghi gì" in r.text
    fields = dict(re.findall(r'<input type="hidden" name="([a-z_0-9]+)" value="([^"]*)"', r.text))
    return c.post("/nhap-tep/xac-nhan", data=fields)


def _registered(web, c, monkeypatch):
    monkeypatch.setenv("LEDGER_TODAY", "2024-09-20")
    _, fields = dry_run_then_confirm(c, web.state.decisions, "d.csv")
    assert c.post("/nhap-tep/xac-nhan", data=fields).status_code == 200
    return csrf(c, "/nhap-tep")


def test_officer_uploads_answers_and_confirms_a_death_and_a_correction(web, tmp_path, monkeypatch):
    officer = login(web, "canbo")
    token = _registered(web, officer, monkeypatch)
    form = officer.get("/doi-chieu-dan-cu").text  # the screen's upload goes to the dry run
    assert 'action="/nhap-tep"' in form and 'name="kind" value="population"' in form
    path = _answers(tmp_path, monkeypatch)
    with open(path, "rb") as f:
        preview = officer.post("/nhap-tep", data={"kind": "population", "csrf_token": token},
                               files={"file": (path.name, f, "text/csv")})
    assert "Không có trong sổ (sẽ không ghi): dòng 4 (051044009999)" in preview.text
    assert "1 người được CSDL dân cư báo đã chết sẽ bị tạm giữ" in preview.text
    assert web.state.queries.population_rates()[-1].checked == 0  # the dry run recorded nothing
    done = _upload(officer, path, token)
    assert done.status_code == 200, done.text
    assert "Không có trong sổ (không ghi): dòng 4 (051044009999)" in done.text
    assert f"Tạm giữ chi trả từ kỳ sau (CSDL dân cư báo đã chết): {BANK_ID}" in done.text
    page = officer.get("/doi-chieu-dan-cu")
    assert "Báo đã chết: đang tạm giữ chi trả" in page.text
    assert "(dan-cu.csv, canbo)" in page.text  # the check names the file as uploaded
    assert "Họ tên (chỉ khác dấu hoặc chữ hoa)" in page.text
    assert "Toàn huyện" in page.text and "0.0 %" in page.text
    queue = officer.get("/doi-chieu-dan-cu?trang_thai=deceased")
    assert queue.text.count('name="citizen_id"') == 1 and BANK_ID in queue.text

    r = officer.post("/doi-chieu-dan-cu/quyet-dinh", data={
        "csrf_token": token, "citizen_id": BANK_ID, "outcome": "deceased", "reason": "UBND xã xác nhận"})
    assert r.status_code == 303
    page = officer.get("/doi-chieu-dan-cu")
    assert "Đã ghi kết luận cho " + BANK_ID in page.text
    person = web.state.queries.beneficiary_report(BANK_ID)
    assert person.status == "deceased" and person.holds == ()
    assert person.funeral_support > 0

    r = officer.post("/doi-chieu-dan-cu/quyet-dinh", data={
        "csrf_token": token, "citizen_id": CASH_ID, "outcome": "corrected", "reason": "theo CSDL",
        "full_name": "Nguyễn Văn Á"})
    assert r.status_code == 422 and "give its number" in r.text  # a correction is a decision
    r = officer.post("/doi-chieu-dan-cu/quyet-dinh", data={
        "csrf_token": token, "citizen_id": CASH_ID, "outcome": "corrected", "reason": "theo CSDL",
        "decision_no": "15/QĐ", "full_name": "Nguyễn Văn Á"})
    assert r.status_code == 303
    assert web.state.queries.beneficiary_report(CASH_ID).full_name == "Nguyễn Văn Á"
    assert web.state.queries.population_queue() == []
    timeline = [e.type for e in web.state.queries.timeline(CASH_ID)]
    actors = {e.actor for e in web.state.queries.timeline(CASH_ID)}
    assert timeline[-2:] == ["IdentityCorrected", "PopulationReviewed"] and "canbo" in actors


def test_reject_lifts_the_hold(web, tmp_path, monkeypatch):
    officer = login(web, "canbo")
    token = _registered(web, officer, monkeypatch)
    _upload(officer, _answers(tmp_path, monkeypatch), token)
    assert web.state.queries.beneficiary_report(BANK_ID).holds == ("POPULATION_DB",)
    r = officer.post("/doi-chieu-dan-cu/quyet-dinh", data={
        "csrf_token": token, "citizen_id": BANK_ID, "outcome": "rejected", "reason": ""})
    assert r.status_code == 422 and "reason is required" in r.text
    r = officer.post("/doi-chieu-dan-cu/quyet-dinh", data={
        "csrf_token": token, "citizen_id": BANK_ID, "outcome": "rejected", "reason": "Xã gặp trực tiếp"})
    assert r.status_code == 303
    assert web.state.queries.beneficiary_report(BANK_ID).holds == ()


def test_a_bad_file_lists_its_problems(web, tmp_path, monkeypatch):
    officer = login(web, "canbo")
    token = _registered(web, officer, monkeypatch)
    bad = tmp_path / "bad.csv"
    bad.write_text(",".join(POP_COLUMNS) + f"\n{BANK_ID},B,2019-11-20,F,deceased,,20101,2024-09-15\n")
    r = _upload(officer, bad, token)
    assert r.status_code == 422
    assert "date_of_death is required when status is deceased" in r.text and "không có gì được ghi" in r.text


def test_csrf_and_roles(web, tmp_path, monkeypatch):
    officer = login(web, "canbo")
    token = _registered(web, officer, monkeypatch)
    path = _answers(tmp_path, monkeypatch)
    assert _upload(officer, path, "forged").status_code == 403
    assert web.state.queries.population_rates()[-1].checked == 0
    _upload(officer, path, token)
    assert officer.post("/doi-chieu-dan-cu/quyet-dinh", data={
        "citizen_id": BANK_ID, "outcome": "rejected", "reason": "x"}).status_code == 403  # no token
    approver = login(web, "lanhdao")
    page = approver.get("/doi-chieu-dan-cu")
    assert page.status_code == 200 and "Ghi kết luận" not in page.text  # the approver reads the queue
    assert approver.post("/doi-chieu-dan-cu/quyet-dinh", data={
        "csrf_token": csrf(approver, "/doi-chieu-dan-cu"), "citizen_id": BANK_ID, "outcome": "rejected",
        "reason": "x"}).status_code == 403
    auditor = login(web, "kiemtoan")
    assert auditor.get("/doi-chieu-dan-cu").status_code == 200
    assert auditor.post("/doi-chieu-dan-cu/quyet-dinh", data={
        "csrf_token": csrf(auditor, "/doi-chieu-dan-cu"), "citizen_id": BANK_ID, "outcome": "rejected",
        "reason": "x"}).status_code == 403
    assert web.state.queries.beneficiary_report(BANK_ID).holds == ("POPULATION_DB",)
    assert re.search(r'href="/doi-chieu-dan-cu"', page.text)  # in the menu
