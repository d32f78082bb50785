"""Reads made for the web pages' speed, on SQLite and PostgreSQL: the
overpayments page (Truy thu), a page at a time, filtered by status and
commune, with totals summed by the database over everything the filter
selects (``Queries.overpayments_page`` and the page through FastAPI's
TestClient); a person's report and timeline from one fold of their
events (``Queries.person_page``), the same as each read on its own."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from adapters import synthetic
from adapters.bootstrap import open_runtime
from adapters.errors import CommandRefused
from adapters.queries import Queries, RecoveryTotals
from adapters.settings import LedgerSettings
from adapters.web.app import create_app
from ledger.months import Month
from tests.helpers import REGISTER_2, decisions_file, ok_json
from tests.test_deaths_cycle import DEATH_COLUMNS, RECOVERY_COLUMNS, run_month

PASSWORD = "mat-khau-dai-1"
# Five people paid by bank, three in one commune and two in another; all
# died in July 2024 and were noticed in late September, so August and
# September were credited after their death (1,500,000 each overpaid).
PEOPLE = [dict(REGISTER_2, decision_no=f"{i}/QĐ-UBND", citizen_id=f"05131900130{i}", full_name=f"Trần Thị {name}",
               commune_code=commune)
          for i, (name, commune) in enumerate((("An", "20101"), ("Bình", "20101"), ("Cúc", "20101"),
                                               ("Dung", "20102"), ("Hà", "20102")), start=1)]
IDS = [p["citizen_id"] for p in PEOPLE]
RECOVERED, WRITTEN_OFF = IDS[1], IDS[3]


@pytest.fixture(autouse=True)
def _env(monkeypatch):
    monkeypatch.setenv("LEDGER_TODAY", "2024-12-20")
    monkeypatch.setenv("LEDGER_ACTOR", "officer-test")


@pytest.fixture
def district(store_url, tmp_path, capsys):
    ok_json(capsys, store_url, "import", "decisions", str(decisions_file(tmp_path / "d.csv", PEOPLE)))
    for month in ("2024-07", "2024-08", "2024-09"):
        run_month(capsys, store_url, month, tmp_path)
    notices = [dict(zip(DEATH_COLUMNS, (f"CR-{i}", cid, "2024-07-15", "civil_registry", "2024-09-28", f"TK-{i}",
                                        "Trần Văn Chú", ""))) for i, cid in enumerate(IDS)]
    ok_json(capsys, store_url, "import", "deaths",
            str(synthetic.write_csv(tmp_path / "deaths.csv", notices, DEATH_COLUMNS)))
    recoveries = [dict(zip(RECOVERY_COLUMNS, r)) for r in (
        ("RC-1", RECOVERED, "1500000", "2024-10-10", "Trần Văn Chú", "cash", "", ""),
        ("RC-2", WRITTEN_OFF, "500000", "2024-10-11", "Trần Văn Chú", "cash", "", ""),
        ("RC-3", WRITTEN_OFF, "1000000", "2024-10-20", "office", "write_off", "46/QĐ-UBND", "hộ nghèo"))]
    ok_json(capsys, store_url, "import", "recoveries",
            str(synthetic.write_csv(tmp_path / "recoveries.csv", recoveries, RECOVERY_COLUMNS)))
    settings = LedgerSettings(database_url=store_url, web_files_dir=tmp_path / "files")
    with open_runtime(settings=settings) as runtime:
        yield runtime, settings


def test_pages_filters_and_totals_summed_by_the_database(district):
    runtime, _ = district
    queries = Queries(runtime)
    every = {r.citizen_id: r for r in queries.recoveries()}  # the CLI's list, every overpayment
    assert set(every) == set(IDS)
    assert every[RECOVERED].status == "recovered" and every[WRITTEN_OFF].status == "written_off"

    def totals_of(rows) -> RecoveryTotals:
        return RecoveryTotals(len(rows), sum(r.amount for r in rows), sum(r.recovered for r in rows),
                              sum(r.written_off for r in rows), sum(r.open for r in rows))

    queries.OVERPAYMENT_PAGE = 2
    first = queries.overpayments_page()  # open ones, by default
    assert (first.status, first.page, first.pages) == ("open", 1, 2)
    second = queries.overpayments_page(page=2)
    assert second.page == 2 and len(second.rows) == 1
    shown = [r.citizen_id for r in first.rows + second.rows]
    assert sorted(shown) == sorted(c for c in IDS if c not in (RECOVERED, WRITTEN_OFF))  # each once, none lost
    assert first.totals == second.totals == totals_of([every[c] for c in shown])
    assert first.totals.open == 3 * 1_500_000
    assert first.district == totals_of(list(every.values()))
    assert queries.overpayments_page(page=99).page == 2  # past the end: the last page
    assert queries.overpayments_page(page=0).page == 1
    # Commune first, then the months: the ones of 20101 before those of 20102.
    assert [r.commune_code for r in first.rows + second.rows] == ["20101", "20101", "20102"]
    row = first.rows[0]
    assert row.full_name.startswith("Trần Thị") and row.months == ("2024-08", "2024-09")
    assert row.as_dict() == {**every[row.citizen_id].as_dict(), "full_name": row.full_name,
                                  "commune_code": "20101"}

    in_commune = queries.overpayments_page(None, "20102")
    assert sorted(r.citizen_id for r in in_commune.rows) == sorted(IDS[3:])
    assert in_commune.totals == totals_of([every[c] for c in IDS[3:]])
    assert set(in_commune.by_status) == {"open", "written_off"}
    assert in_commune.district == first.district  # the district's figures whatever the filter
    assert in_commune.communes == ("20101", "20102")

    recovered = queries.overpayments_page("recovered")
    assert [r.citizen_id for r in recovered.rows] == [RECOVERED] and recovered.totals.open == 0
    written_off = queries.overpayments_page("written_off", "20102")
    assert [(r.citizen_id, r.written_off) for r in written_off.rows] == [(WRITTEN_OFF, 1_000_000)]
    assert queries.overpayments_page("written_off", "20101").rows == ()
    assert queries.overpayments_page(None, "99999").rows == ()
    with pytest.raises(CommandRefused):
        queries.overpayments_page("closed")


def login(app) -> TestClient:
    c = TestClient(app, follow_redirects=False)
    page = c.get("/dang-nhap")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    r = c.post("/dang-nhap", data={"username": "kiemtoan", "password": PASSWORD, "csrf_token": token, "next": "/"})
    assert r.status_code == 303, r.text
    return c


def listing(page) -> str:
    """The list of overpayments (not the write-offs below it)."""
    assert page.status_code == 200, page.text
    return page.text.split('<section aria-labelledby="mien-thu">')[0]


def test_the_page_filters_and_pages_without_javascript(district):
    runtime, settings = district
    app = create_app(runtime, settings)
    app.state.users.add("kiemtoan", "auditor", PASSWORD)
    app.state.queries.OVERPAYMENT_PAGE = 2
    c = login(app)

    text = listing(c.get("/truy-thu"))
    assert "Toàn huyện: còn phải thu 4.500.000 ₫" in text
    assert "3 khoản, trang 1/2" in text and "Cộng 3 khoản (mọi trang)" in text
    assert '<a href="/truy-thu?trang=2" rel="next">' in text
    assert RECOVERED not in text and WRITTEN_OFF not in text
    # A plain GET form: status and commune as query parameters.
    assert re.search(r'<form method="get" action="/truy-thu"', text)
    assert '<option value="con-no" selected>Còn nợ (3)</option>' in text
    assert '<option value="tat-ca">Tất cả (5)</option>' in text

    page2 = listing(c.get("/truy-thu?trang=2"))
    assert "trang 2/2" in page2 and '<a href="/truy-thu" rel="prev">' in page2 and IDS[4] in page2

    commune = listing(c.get("/truy-thu?trang_thai=tat-ca&xa=20102"))
    assert IDS[3] in commune and IDS[4] in commune and not any(c in commune for c in IDS[:3])
    assert "Đã miễn" in commune and "2 khoản ở xã 20102" in commune
    assert '<option value="20102" selected>20102</option>' in commune
    # The footer sums every row the filter selects: 1,500,000 each, one of them paid back or written off.
    assert "Cộng 2 khoản (mọi trang)" in commune and "3.000.000 ₫" in commune

    done = listing(c.get("/truy-thu?trang_thai=da-thu-xong"))
    assert RECOVERED in done and "Đã thu hồi xong" in done
    assert RECOVERED in listing(c.get("/truy-thu?tat_ca=1&trang=2"))  # the old link: every status
    assert "Không có khoản nào ở xã 20101" in listing(c.get("/truy-thu?trang_thai=da-mien&xa=20101"))
    assert c.get("/truy-thu?trang_thai=closed").status_code == 400
    assert c.get("/truy-thu?xa=20101%27%3B").status_code == 400


def test_person_page_is_the_report_and_the_timeline_folded_once(district):
    runtime, _ = district
    queries = Queries(runtime)
    for citizen_id in (IDS[0], RECOVERED, WRITTEN_OFF):
        report, timeline = queries.person_page(citizen_id)
        assert report == queries.beneficiary_report(citizen_id)
        assert timeline == queries.timeline(citizen_id)
        assert report.status == "deceased" and any(e.type == "RecoveryRecorded" for e in timeline) == (
            citizen_id != IDS[0])
        # As known at the moment of each of their events: the state then, and the events up to then.
        for entry in timeline[::3] + timeline[-1:]:
            at = entry.recorded_at
            report_then, timeline_then = queries.person_page(citizen_id, at)
            assert report_then == queries.beneficiary_report(citizen_id, at)
            assert timeline_then == queries.timeline(citizen_id, until=at) == [e for e in timeline
                                                                              if e.recorded_at <= at]
    with pytest.raises(CommandRefused):
        queries.person_page("051319009999")
    with pytest.raises(CommandRefused):  # before they were registered
        queries.person_page(IDS[0], timeline[0].recorded_at.replace(year=2000))


def test_district_summary_overpayments_summed_by_the_database_as_listed(district):
    runtime, _ = district
    queries = Queries(runtime)
    owed = queries.recoveries()
    summary = queries.district_summary(queries.payroll_calendar()[0].month).overpayments
    assert summary.as_dict() == {"open_count": sum(1 for r in owed if r.open > 0),
                                 "open_vnd": sum(r.open for r in owed),
                                 "recovered_vnd": sum(r.recovered - r.written_off for r in owed),
                                 "written_off_vnd": sum(r.written_off for r in owed)}
    assert (summary.open_count, summary.written_off_vnd) == (3, 1_000_000)


def test_kept_reads_follow_what_is_recorded(district, tmp_path, capsys, store_url):
    """A read kept for a page is read again once anything is recorded."""
    runtime, _ = district
    queries = Queries(runtime)
    month = Month.parse("2024-10")
    before = queries.due_totals(month)
    assert before == queries.due_totals(month)
    assert queries.trend_report(Month.parse("2024-07"), Month.parse("2024-09")) == queries.trend_report(
        Month.parse("2024-07"), Month.parse("2024-09"))
    kept = queries.cashless_report(Month.parse("2024-07"), month)
    assert sum(m.district.people_paid for m in kept.months) > 0
    extra = dict(PEOPLE[0], decision_no="9/QĐ-UBND", citizen_id="051319001399", effective_month="2024-10")
    ok_json(capsys, store_url, "import", "decisions", str(decisions_file(tmp_path / "more.csv", [extra])))
    after = queries.due_totals(month)
    assert after["people"] == before["people"] + 1 and after["amount"] == before["amount"] + 750_000


def test_last_payroll_month_as_known_at_each_issue(district):
    """Each month's issue, as known at its time and just before; again from what was kept."""
    runtime, _ = district
    queries = Queries(runtime)
    issued = sorted((c.issued_at, c.month) for c in queries.payroll_calendar())
    assert [m for _, m in issued] == [Month.parse(m) for m in ("2024-07", "2024-08", "2024-09")]
    for _ in range(2):
        previous = None
        for at, month in issued:
            assert queries.last_payroll_month_as_known_at(at) == month
            assert queries.last_payroll_month_as_known_at(at - timedelta(microseconds=1)) == previous
            previous = month
        assert queries.last_payroll_month_as_known_at(issued[-1][0] + timedelta(days=400)) == issued[-1][1]
    assert len(queries._issued) == 3
