"""The Reports screen (Báo cáo) in a real browser (Debian's Chromium through
pytest-playwright), on a district whose bank payments partly go into
proxies' accounts: the charts are server-drawn SVG, the figures are those
of ``ledger report``, the downloads are real workbooks, axe-core finds no
serious or critical violation; saved as docs/screenshots/10-bao-cao.png
with LEDGER_SCREENSHOTS=docs/screenshots."""
from __future__ import annotations

import io
import os
from pathlib import Path

import openpyxl
import pytest

from adapters import demo_proxies, synthetic
from adapters.bootstrap import open_runtime
from adapters.commands import Commands
from adapters.demo import _agent_results
from adapters.queries import Queries
from adapters.settings import LedgerSettings
from adapters.web.users import UserStore
from ledger.months import Month

from .test_web_browser import (PASSWORD, browser_context_args, running_server,  # noqa: F401 - fixtures
                               browser_type_launch_args, check, login)


@pytest.fixture(scope="module")
def district(tmp_path_factory):
    """A synthetic district paid March to June 2024; from April some paid by
    bank have a proxy with the proxy's own account; June's confirmations
    cover part of them."""
    folder = tmp_path_factory.mktemp("web-reports")
    url = f"sqlite:///{folder / 'ledger.db'}"
    first, last = Month.parse("2024-03"), Month.parse("2024-06")
    registered = synthetic.registrations(200, seed=11, first=first - 2, months_count=3)
    dead = synthetic.deaths(registered, seed=11, first=first, last=last)
    with open_runtime(settings=LedgerSettings(database_url=url)) as runtime:
        queries = Queries(runtime)
        commands = Commands(runtime, queries)
        UserStore(runtime.engine).add("kiemtoan", "auditor", PASSWORD)
        for month in (first, first + 1, first + 2, last):
            arriving = [r for r in registered if Month.parse(r["effective_month"]) <= month
                        and (month == first or Month.parse(r["effective_month"]) == month)]
            if arriving:
                commands.import_decisions(synthetic.write_csv(folder / f"d-{month}.csv", arriving), "seed")
            if month == first + 1:
                assert demo_proxies.authorise(commands, registered, month, folder, 11, "seed", share=0.2) > 0
            if month == last:
                demo_proxies.confirm_some(commands, queries, month, folder, 11, "seed")
            notices = synthetic.death_notices(dead, month)
            if notices:
                commands.import_deaths(synthetic.write_csv(folder / f"deaths-{month}.csv", notices,
                                                           synthetic.DEATH_COLUMNS), "seed")
            payroll = commands.run_payroll(month, folder / "payroll", "seed")
            _agent_results(commands, payroll.files, month, folder, 11, "seed", dead)
        expected = dict(cashless=queries.cashless_report(first, last), trend=queries.trend_report(first, last),
                        proxies=queries.proxy_queue(last))
    with running_server(url, folder, "2024-06-20") as base:
        yield dict(base=base, **expected)


def test_reports_screen(page, district):
    base = district["base"]
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    login(page, base, "kiemtoan")
    page.get_by_role("link", name="Báo cáo").click()
    page.get_by_label("Từ tháng").fill("2024-03")
    page.get_by_label("Đến tháng").fill("2024-06")
    page.get_by_label("Tháng quyết toán").fill("2024-06")
    page.get_by_role("button", name="Xem", exact=True).click()
    page.wait_for_load_state()
    assert "tu=2024-03" in page.url  # a plain GET form: bookmarkable, no script needed
    assert "2024-03" in page.get_by_role("heading", level=1).inner_text()

    # Two server-drawn charts, each an image with a title for screen readers.
    charts = page.locator("figure.chart svg[role=img]")
    assert charts.count() == 2
    assert "Tiền chưa nhận" in charts.nth(0).locator("title").text_content()
    june = district["cashless"].months[-1]
    assert len(june.communes) >= 2
    assert charts.nth(1).locator("rect").count() >= 2 * (len(june.communes) + 1)

    # The figures in the tables are those of `ledger report`.
    district_share = june.district.as_dict()["share_people"]
    cashless_table = page.get_by_role("table").filter(has_text="Toàn huyện")
    assert f"{district_share * 100:.1f} %".replace(".", ",") in cashless_table.inner_text()
    trend_table = page.get_by_role("table").filter(has_text="Người chưa nhận")
    body_rows = trend_table.locator("tbody tr")
    assert body_rows.count() == 4
    for row, month in zip(body_rows.all(), district["trend"].months):
        cells = row.locator("td").all_inner_texts()
        assert cells[0] == str(month.month) and int(cells[1]) == month.unclaimed_people
    proxies = district["proxies"]
    assert page.get_by_text(f"{len(proxies)} người chưa được xã xác nhận").count() == 1
    for entry in proxies:
        assert page.get_by_role("link", name=entry.citizen_id).count() >= 1

    # The downloads are real workbooks with native charts.
    with page.expect_download() as caught:
        page.get_by_role("link", name="Diễn biến theo tháng, có biểu đồ (XLSX)").click()
    book = openpyxl.load_workbook(io.BytesIO(Path(caught.value.path()).read_bytes()))
    assert book.sheetnames == ["Xu huong", "Quyet toan dai ly", "Khong dung tien mat"]
    assert len(book["Xu huong"]._charts) == 3
    with page.expect_download() as caught:
        page.get_by_role("link", name="Báo cáo quyết toán tháng, bản in có chữ ký (PDF)").click()
    assert Path(caught.value.path()).read_bytes()[:5] == b"%PDF-"
    check(page, "10-bao-cao")
    if os.environ.get("LEDGER_SCREENSHOTS"):  # the charts, further down the same screen
        page.get_by_role("heading", name="Diễn biến chưa nhận tiền").scroll_into_view_if_needed()
        page.mouse.wheel(0, 560)
        page.screenshot(path=str(Path(os.environ["LEDGER_SCREENSHOTS"]) / "10b-bao-cao-bieu-do.png"))
    assert errors == [], errors  # no CSP violation, no script error


def test_reports_refuses_a_backward_range(page, district):
    base = district["base"]
    login(page, base, "kiemtoan")
    response = page.goto(f"{base}/bao-cao?tu=2024-06&den=2024-03&thang=2024-06")
    assert response.status == 400
    assert "Tháng cuối phải sau tháng đầu" in page.content()
