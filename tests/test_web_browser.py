"""The web application in a real browser (Debian's Chromium through
pytest-playwright): an officer imports decisions and runs the payroll, an
approver (another user) closes the month, an auditor finds a person; every
screen passes axe-core with no serious or critical violation.

With LEDGER_SCREENSHOTS=DIR, each screen is also saved there at 1366x768
(docs/screenshots/ is made so)."""
from __future__ import annotations

import os
from typing import Iterator
from contextlib import contextmanager
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from adapters import synthetic
from adapters.bootstrap import open_runtime
from adapters.commands import Commands
from adapters.demo import _agent_results
from adapters.queries import Queries, folded
from adapters.settings import LedgerSettings
from adapters.web.users import UserStore
from ledger.months import Month

CHROMIUM = "/usr/bin/chromium"
AXE = Path(__file__).parent / "vendor" / "axe.min.js"
PASSWORD = "mat-khau-dai-1"
ROOT = Path(__file__).resolve().parents[1]
SHOTS = os.environ.get("LEDGER_SCREENSHOTS")

if not Path(CHROMIUM).exists():
    if os.environ.get("LEDGER_REQUIRE_BROWSER") == "1":
        pytest.fail(f"Chromium is required (LEDGER_REQUIRE_BROWSER=1) but {CHROMIUM} is missing: "
                    "apt-get install chromium", pytrace=False)
    pytest.skip(f"no {CHROMIUM} (scripts/test.sh installs it)", allow_module_level=True)


@pytest.fixture(scope="session")
def browser_type_launch_args():
    return {"executable_path": CHROMIUM,
            "args": ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                     "--disable-component-update", "--no-first-run"]}


@pytest.fixture(scope="session")
def browser_context_args():
    return {"viewport": {"width": 1366, "height": 768}, "locale": "vi-VN"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running_server(url: str, folder: Path, today: str, **env_extra: str) -> Iterator[str]:
    """``ledger serve`` on the store at ``url`` (as a user starts it: no
    actor in the environment), its base URL once it answers; stopped after."""
    port = _free_port()
    env = dict(os.environ, PYTHONPATH=str(ROOT), LEDGER_DATABASE_URL=url,
               LEDGER_WEB_FILES_DIR=str(folder / "files"), LEDGER_TODAY=today, **env_extra)
    env.pop("LEDGER_ACTOR", None)
    server = subprocess.Popen([sys.executable, "-m", "adapters.cli", "serve", "--port", str(port)],
                              cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                pytest.fail(f"the server did not start: {server.stdout.read().decode(errors='replace')}")
            time.sleep(0.2)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=20)



@pytest.fixture(scope="module")
def district(tmp_path_factory):
    """A small synthetic district paid for January and February 2024 (with
    the agents' results and both months closed); March's decisions wait in a
    file for the officer. The app serves it on a free loopback port."""
    folder = tmp_path_factory.mktemp("web")
    url = f"sqlite:///{folder / 'ledger.db'}"
    registered = synthetic.registrations(150, seed=5, first=Month.parse("2023-12"), months_count=4)
    dead = synthetic.deaths(registered, seed=5, first=Month.parse("2024-01"), last=Month.parse("2024-03"))
    settings = LedgerSettings(database_url=url)
    with open_runtime(settings=settings) as runtime:
        queries = Queries(runtime)
        commands = Commands(runtime, queries)
        users = UserStore(runtime.engine)
        for name, role in (("canbo", "officer"), ("lanhdao", "approver"), ("lanhdao2", "approver"),
                           ("kiemtoan", "auditor"), ("quantri", "admin")):
            users.add(name, role, PASSWORD)
        early = [r for r in registered if Month.parse(r["effective_month"]) < Month.parse("2024-03")]
        commands.import_decisions(synthetic.write_csv(folder / "early.csv", early), "seed-officer")
        for month in (Month.parse("2024-01"), Month.parse("2024-02")):
            notices = synthetic.death_notices(dead, month)
            if notices:
                commands.import_deaths(synthetic.write_csv(folder / f"deaths-{month}.csv", notices,
                                                           synthetic.DEATH_COLUMNS), "seed-officer")
            payroll = commands.run_payroll(month, folder / "payroll", "seed-officer")
            _agent_results(commands, payroll.files, month, folder, 5, "seed-officer", dead)
            keys = [v.key(s.agent_code) for s in queries.reconcile(month) for v in s.variances]
            assert not commands.close_month(month, {k: "đã đối chiếu với đại lý" for k in keys}, "seed-head")
        # A death learnt late: February's collected allowance becomes an overpayment to recover.
        late = next(r for r in early if r["kind"] == "register" and r["effective_month"] <= "2024-01"
                    and queries.beneficiary_report(r["citizen_id"]).as_dict()["status"] == "active"
                    and any(m["month"] == "2024-02" and m["disbursed"] > 0
                            for m in queries.beneficiary_report(r["citizen_id"]).as_dict()["months"]))
        notice = dict(notice_id="GBT-LATE-1", citizen_id=late["citizen_id"], date_of_death="2024-01-25",
                      source="family", reported_on="2024-03-01", document_no="", funeral_arranged_by="",
                      corrects="")
        commands.import_deaths(synthetic.write_csv(folder / "late-death.csv", [notice], synthetic.DEATH_COLUMNS),
                               "seed-officer")
    march = Month.parse("2024-03")
    arriving = [r for r in registered if Month.parse(r["effective_month"]) == march]
    changes = synthetic.later_decisions(early, seed=5, month=march, share=0.05)
    decisions = synthetic.write_csv(folder / "quyet-dinh-2024-03.csv", arriving + changes)
    # The same file with one date that does not exist, for the dry run to point at.
    broken = dict(arriving[0] if arriving else changes[0])
    broken["signed_on"] = "2024-02-31"
    faulty = synthetic.write_csv(folder / "quyet-dinh-loi.csv", [broken, *(arriving + changes)[1:3]])
    with open_runtime(settings=settings) as runtime:
        overpaid = next((r for r in Queries(runtime).recoveries() if r.open > 0), None)
    person = next((r for r in early if folded(r["full_name"]).startswith("nguyen van")),
                  next((r for r in early if folded(r["full_name"]).startswith("nguyen")), early[0]))
    with running_server(url, folder, "2024-03-15") as base:
        yield dict(base=base, decisions=decisions, faulty=faulty, person=person,
                   overpaid=overpaid, people=early, folder=folder)


def check(page, shot: str | None = None) -> None:
    """No serious or critical axe-core violation, every input labelled; saved when asked."""
    page.evaluate(AXE.read_text(encoding="utf-8"))
    found = page.evaluate("""async () => {
        const r = await axe.run(document, {resultTypes: ['violations']});
        return r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
                 .map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', '));
    }""")
    assert found == [], f"{page.url}: {found}"
    unlabelled = page.evaluate("""() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
        .filter(e => !(e.labels && e.labels.length)).map(e => e.name || e.id)""")
    assert unlabelled == [], f"{page.url}: inputs without a label: {unlabelled}"
    if SHOTS and shot:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{shot}.png"))


def login(page, base: str, name: str) -> None:
    page.goto(f"{base}/dang-nhap")
    page.get_by_label("Tên đăng nhập").fill(name)
    page.get_by_label("Mật khẩu").fill(PASSWORD)
    page.get_by_role("button", name="Đăng nhập").click()
    page.wait_for_load_state()
    assert "/dang-nhap" not in page.url, page.content()


def logout(page) -> None:
    page.get_by_role("button", name="Đăng xuất").click()
    page.wait_for_url("**/dang-nhap")


def tab_to(page, selector: str, text: str | None = None, limit: int = 60) -> None:
    """Press Tab until the element matching ``selector`` (and ``text``) has the focus."""
    for _ in range(limit):
        if page.evaluate("""([selector, text]) => {
                const e = document.activeElement;
                return !!e && e.matches(selector) && (!text || e.textContent.includes(text));
            }""", [selector, text]):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached {selector} {text or ''}")


def test_officer_approver_auditor(page, district):
    base = district["base"]
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{base}/dang-nhap")
    check(page, "00-dang-nhap")

    login(page, base, "canbo")
    assert page.url.endswith("/thang-nay")
    check(page, None)
    # A dry run of a file with an error: the cell is highlighted, nothing recorded.
    page.get_by_role("link", name="Nhập tệp").click()
    page.get_by_label("Quyết định hưởng / thay đổi / thôi hưởng").check()
    page.get_by_label("Tệp (CSV, XLSX hoặc camt.054 XML)").set_input_files(str(district["faulty"]))
    page.get_by_role("button", name="Chạy thử").click()
    page.get_by_text("Tệp quyet-dinh-loi.csv bị từ chối").wait_for()
    faulty_cell = page.locator("td.loi")
    assert faulty_cell.count() == 1 and "2024-02-31" in faulty_cell.inner_text()
    page.evaluate("document.getElementById('loi').scrollIntoView({block: 'start'})")  # the screenshot shows the errors, not the form
    check(page, "02b-nhap-tep-loi")
    # The refused file's page comes with status 422, which the console reports as such.
    assert errors == ["Failed to load resource: the server responded with a status of 422 (Unprocessable Entity)"]
    errors.clear()
    # The right file: previewed, then confirmed.
    page.get_by_label("Quyết định hưởng / thay đổi / thôi hưởng").check()
    page.get_by_label("Tệp (CSV, XLSX hoặc camt.054 XML)").set_input_files(str(district["decisions"]))
    page.get_by_role("button", name="Chạy thử").click()
    page.get_by_text("Chạy thử quyet-dinh-2024-03.csv: chưa ghi gì").wait_for()
    page.evaluate("document.getElementById('xem-truoc').scrollIntoView({block: 'start'})")
    check(page, "02-nhap-tep")
    page.get_by_role("button", name="Xác nhận nhập quyet-dinh-2024-03.csv").click()
    page.get_by_text("Đã nhập quyet-dinh-2024-03.csv").wait_for()
    assert page.locator("#lich-su ~ table tbody tr").first.inner_text().count("canbo") == 1
    page.evaluate("document.getElementById('lich-su').scrollIntoView({block: 'start'})")
    check(page, "02c-nhap-tep-lich-su")

    # The officer prepares the payroll; nothing goes out, and only another user may release it.
    page.get_by_role("link", name="Chi trả").click()
    month = page.get_by_label("Lập danh sách chi trả tháng")
    assert month.input_value() == "2024-03"
    page.get_by_role("button", name="Lập danh sách").click()
    page.get_by_text("Đã lập danh sách chi trả tháng 2024-03 (lần 1)").wait_for()
    assert page.get_by_role("link", name=".csv").count() == 0  # no file before the release
    assert page.get_by_role("button", name="Phát hành danh sách tháng 2024-03").count() == 0
    page.get_by_text("Chờ lãnh đạo phê duyệt phát hành").wait_for()
    check(page, "04-chi-tra")
    logout(page)

    # The approver releases it with the keyboard alone.
    page.goto(f"{base}/dang-nhap")
    page.keyboard.press("Tab")
    tab_to(page, "input[name=username]")
    page.keyboard.type("lanhdao")
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url("**/thang-nay")
    tab_to(page, "a[href='/chi-tra']")
    page.keyboard.press("Enter")
    page.wait_for_url("**/chi-tra")
    tab_to(page, "button", "Phát hành danh sách tháng 2024-03")
    page.keyboard.press("Enter")
    page.get_by_text("Đã phát hành danh sách chi trả tháng 2024-03").wait_for()
    assert "người lập canbo, người phát hành lanhdao" in page.locator(".flash").inner_text()
    assert page.get_by_role("link", name=".csv").count() >= 1
    check(page, "04b-chi-tra-da-phat-hanh")
    logout(page)

    login(page, base, "lanhdao")
    check(page, "01-thang-nay")
    page.get_by_role("link", name="Quyết toán").click()
    assert "2024-03" in page.get_by_role("heading", level=1).inner_text()
    for field in page.locator("input[name^=reason-]").all():
        field.fill("đã đối chiếu với đại lý")
    check(page, "05-quyet-toan")
    page.get_by_role("button", name="Khoá sổ tháng 2024-03").click()
    page.get_by_text("Đã khoá sổ tháng 2024-03.").wait_for()
    page.get_by_role("link", name="Chưa nhận").click()
    page.get_by_label("Tháng", exact=True).fill("2024-02")
    page.get_by_role("button", name="Xem", exact=True).click()
    check(page, "06-chua-nhan")
    logout(page)

    # A write-off: proposed by the officer, approved by the approver.
    overpaid = district["overpaid"]
    assert overpaid is not None, "the seeded district has no open overpayment"
    login(page, base, "canbo")
    page.get_by_role("link", name="Truy thu").click()
    page.get_by_label("Số CCCD").fill(overpaid.citizen_id)
    page.get_by_label("Số tiền miễn thu (đồng)").fill(str(overpaid.open))
    page.get_by_label("Số quyết định miễn thu").fill("88/QĐ-UBND")
    page.get_by_label("Lý do").fill("người nhận đã chết, không có di sản")
    page.get_by_role("button", name="Đề nghị miễn thu").click()
    page.get_by_text("chờ lãnh đạo phê duyệt, chưa ghi sổ").wait_for()
    assert page.get_by_role("button", name=f"Phê duyệt miễn thu {overpaid.citizen_id}").count() == 0
    check(page, None)
    logout(page)
    login(page, base, "lanhdao")
    page.get_by_role("link", name="Truy thu").click()
    shown = page.locator("main").inner_text()  # who received the money, in the office's words
    assert "bank account" not in shown and "beneficiary" not in shown and "proxy" not in shown
    check(page, "07-truy-thu")
    page.get_by_role("button", name=f"Phê duyệt miễn thu {overpaid.citizen_id}").click()
    page.get_by_text("Đã phê duyệt miễn thu").wait_for()
    assert "người đề nghị canbo, người duyệt lanhdao" in page.locator(".flash").inner_text()
    check(page, "07b-truy-thu-da-duyet")
    logout(page)

    login(page, base, "kiemtoan")
    person = district["person"]
    page.get_by_role("link", name="Đối tượng").click()
    words = " ".join(folded(person["full_name"]).split()[:3])
    page.get_by_label("Số CCCD hoặc họ tên").fill(words)  # htmx fetches the results as one types
    try:
        page.get_by_role("link", name=person["citizen_id"]).wait_for(timeout=5000)
    except PlaywrightTimeout:
        raise AssertionError(f"{words!r} {errors} {page.content()[-3000:]}")
    assert "q=" in page.url  # the search is bookmarkable
    check(page, "03-doi-tuong")
    page.get_by_role("link", name=person["citizen_id"]).click()
    page.get_by_role("heading", name="Dòng thời gian (mọi sự kiện đã ghi)").wait_for()
    assert person["full_name"] in page.get_by_role("heading", level=1).inner_text()
    check(page, "03b-doi-tuong-chi-tiet")
    page.get_by_role("link", name="Kiểm toán", exact=True).click()
    try:
        page.get_by_role("button", name="Kiểm tra chuỗi băm").click(timeout=10000)
    except PlaywrightTimeout:
        raise AssertionError(f"{page.url} {errors} {page.content()[-3000:]}")
    page.get_by_text("Lịch sử nguyên vẹn").wait_for()
    page.get_by_label("Số CCCD").fill(person["citizen_id"])
    page.get_by_role("button", name="Xem", exact=True).click()
    check(page, "08-kiem-toan")
    assert page.get_by_role("button", name="Lập danh sách").count() == 0  # nothing to change for an auditor
    logout(page)

    login(page, base, "quantri")
    assert page.url.endswith("/nguoi-dung")
    check(page, "09-nguoi-dung")
    assert errors == [], errors  # no CSP violation, no script error


def test_then_a_preparer_cannot_release(page, district):
    """An approver who prepared the next month's payroll is refused its release, in Vietnamese."""
    base = district["base"]
    login(page, base, "lanhdao2")
    page.get_by_role("navigation").get_by_role("link", name="Chi trả").click()
    page.get_by_role("button", name="Lập danh sách").click()
    page.get_by_text("Chưa gửi đại lý: cần một người khác phát hành").wait_for()
    page.get_by_text("Bạn là người lập danh sách này").wait_for()
    page.get_by_role("button", name="Phát hành danh sách tháng").click()
    page.get_by_text("nguyên tắc bốn mắt").wait_for()
    assert "lanhdao2 đã lập danh sách chi trả tháng" in page.locator("main").inner_text()
    check(page, "04c-chi-tra-tu-choi")
    logout(page)
