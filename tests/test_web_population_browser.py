"""The population check's screen in a real browser (Chromium): the officer
uploads the population database's answer (a dry run first), confirms one reported death and
rejects another; the screen passes axe-core (no serious or critical
violation, every input labelled) and logs no console error."""
from __future__ import annotations

from adapters import synthetic

from tests.test_web_browser import (browser_context_args, browser_type_launch_args, check,  # noqa: F401
                                    district, login, logout)

POP_COLUMNS = ("citizen_id", "full_name", "birth_date", "sex", "status", "date_of_death", "permanent_commune",
               "checked_on")


def test_officer_reviews_the_population_check(page, district):
    base, people = district["base"], district["people"]
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    alive = [r for r in people[:8]]
    rows = [dict(citizen_id=r["citizen_id"], full_name=r["full_name"], birth_date=r["birth_date"], sex=r["sex"],
                 status="alive", date_of_death="", permanent_commune=r["commune_code"], checked_on="2024-03-10")
            for r in alive]
    rows[0]["full_name"] = rows[0]["full_name"].upper()  # only the marks and case differ
    rows[1].update(status="not_found", full_name="", birth_date="", sex="", permanent_commune="")
    for row in rows[2:4]:
        row.update(status="deceased", date_of_death="2024-02-20")
    path = synthetic.write_csv(district["folder"] / "dan-cu-2024-03.csv", rows, POP_COLUMNS)

    login(page, base, "canbo")
    page.get_by_role("link", name="Đối chiếu dân cư").click()
    page.get_by_label("Tệp trả lời của CSDL dân cư", exact=False).set_input_files(str(path))
    page.get_by_role("button", name="Chạy thử").click()  # the Imports screen's dry run, then confirm
    page.get_by_text("Chạy thử dan-cu-2024-03.csv: chưa ghi gì").wait_for()
    assert page.get_by_text("2 người được CSDL dân cư báo đã chết sẽ bị tạm giữ").count() == 1
    page.get_by_role("button", name="Xác nhận nhập dan-cu-2024-03.csv").click()
    page.get_by_text("Đã nhập dan-cu-2024-03.csv").wait_for()
    page.get_by_role("link", name="Xem hàng đợi đối chiếu dân cư và tỉ lệ khớp").click()
    assert page.locator("form[action='/doi-chieu-dan-cu/quyet-dinh']").count() == 4
    check(page, "10-doi-chieu-dan-cu")

    confirm, reject = rows[2]["citizen_id"], rows[3]["citizen_id"]
    assert page.get_by_label("Lý do").count() == 4  # every decision form has its own labelled reason
    page.locator(f"#o-{confirm}").select_option("deceased")
    page.locator(f"#l-{confirm}").fill("UBND xã xác nhận đã chết")
    page.locator(f"form:has(#o-{confirm}) button").click()
    page.get_by_text(f"Đã ghi kết luận cho {confirm}").wait_for()
    page.locator(f"#o-{reject}").select_option("rejected")
    page.locator(f"#l-{reject}").fill("Cán bộ xã gặp trực tiếp")
    page.locator(f"form:has(#o-{reject}) button").click()
    page.get_by_text(f"Đã ghi kết luận cho {reject}").wait_for()
    assert page.locator("form[action='/doi-chieu-dan-cu/quyet-dinh']").count() == 2
    check(page, None)
    logout(page)

    login(page, base, "kiemtoan")
    page.goto(f"{base}/doi-tuong/{confirm}")
    assert "Đã chết" in page.content()
    page.goto(f"{base}/doi-chieu-dan-cu")
    assert page.get_by_role("button", name="Ghi kết luận").count() == 0  # the auditor only reads
    check(page, None)
    assert errors == [], errors
