"""The unclaimed queue (people who have not collected for the rule's
number of rounds), by commune and agent, with the verify / suspended flags;
and what the commune found, recorded as the ledger's own decision or notice:
still here -> a resume decision, moved -> a relocation (relocate_out), died
-> a death notice. The rules are the commands'; this module only turns a
form into a decisions or notices file's cells."""
from __future__ import annotations

import re
from collections import Counter

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from ledger.decisions import DEATH_SOURCES

from ..commands import FieldsRejected
from ..errors import CommandRefused
from .kit import Web

SOURCE_NAMES = {"civil_registry": "Đăng ký hộ tịch", "commune": "UBND xã", "post_office": "Bưu điện",
                "bank": "Ngân hàng", "family": "Gia đình"}
# What the commune found -> what the ledger records.
FINDINGS = {
    "con-o": ("resume", "Vẫn còn ở địa phương: tiếp tục chi trả"),
    "chuyen-di": ("relocate_out", "Đã chuyển đi nơi khác: thôi chi trả tại đây"),
    "da-chet": ("death", "Đã chết: ghi giấy báo tử"),
}
DECISION_FIELDS = ("decision_no", "signed_on", "effective_month", "reason")
DEATH_FIELDS = ("notice_id", "date_of_death", "source", "reported_on", "document_no", "funeral_arranged_by")


def add_routes(app: FastAPI, web: Web) -> None:
    from .app import BadRequest, _month_arg

    def queue_month(thang: str | None):
        calendar = web.ledger(web.queries.payroll_calendar)
        return _month_arg(thang) or (calendar[0].month if calendar else web.runtime.this_month())

    @app.get("/chua-nhan", response_class=HTMLResponse)
    def unclaimed(request: Request, thang: str | None = None, xa: str = "", dai_ly: str = ""):
        user = web.viewer(request)
        month = queue_month(thang)
        rows = web.ledger(lambda: web.queries.unclaimed(month))
        communes = sorted({r.commune_code for r in rows})
        agents = sorted({r.agent_code for r in rows})
        shown = sorted((r for r in rows if (not xa or r.commune_code == xa) and (not dai_ly or r.agent_code == dai_ly)),
                       key=lambda r: (r.commune_code, r.agent_code, -r.consecutive_months, r.citizen_id))
        groups: dict[tuple[str, str], list] = {}
        for r in shown:
            groups.setdefault((r.commune_code, r.agent_code), []).append(r)
        flags = Counter(r.flag for r in shown)
        return web.render(request, "unclaimed.html", user=user, month=month, groups=groups, rows=shown,
                          held=sum(r.amount for r in shown), xa=xa, dai_ly=dai_ly, communes=communes,
                          agents=agents, verify=flags.get("verify", 0), suspended=flags.get("suspended", 0))

    def follow_up(request: Request, user, citizen_id: str, month, status: int = 200, **context):
        queries = web.queries

        def read():
            entry = next((r for r in queries.unclaimed(month) if r.citizen_id == citizen_id), None)
            return entry, queries.beneficiary_report(citizen_id)

        try:
            entry, person = web.ledger(read)
        except CommandRefused:
            raise BadRequest(f"Không có đối tượng {citizen_id}.", 404) from None
        today = web.runtime.today()
        defaults = dict(signed_on=today.isoformat(), effective_month=str(month + 1), reported_on=today.isoformat(),
                        source="commune", reason="UBND xã xác minh: vẫn cư trú tại địa phương")
        return web.render(request, "unclaimed_person.html", status, user=user, month=month, entry=entry, p=person,
                          findings=FINDINGS, sources=[(s, SOURCE_NAMES.get(s, s)) for s in DEATH_SOURCES],
                          values={**defaults, **context.pop("values", {})}, problems=context.pop("problems", []),
                          finding=context.pop("finding", ""), **context)

    def checked_id(citizen_id: str) -> str:
        if not re.fullmatch(r"\d{12}", citizen_id):
            raise BadRequest("Số CCCD gồm 12 chữ số.", 404)
        return citizen_id

    @app.get("/chua-nhan/{citizen_id}", response_class=HTMLResponse)
    def unclaimed_person(request: Request, citizen_id: str, thang: str | None = None):
        user = web.viewer(request)
        return follow_up(request, user, checked_id(citizen_id), queue_month(thang))

    @app.post("/chua-nhan/{citizen_id}/{finding}", response_class=HTMLResponse)
    async def record_finding(request: Request, citizen_id: str, finding: str):
        user, form = await web.posted(request, "verify")
        checked_id(citizen_id)
        if finding not in FINDINGS:
            raise BadRequest("Không có kết quả xác minh này.", 404)
        month = _month_arg(str(form.get("thang", ""))) or queue_month(None)
        kind = FINDINGS[finding][0]
        names = DEATH_FIELDS if kind == "death" else DECISION_FIELDS
        values = {name: str(form.get(f"{finding}-{name}", "")).strip() for name in names}
        if kind == "relocate_out":
            values.pop("reason")  # a relocation's decision carries no reason column (formats.md)
        try:
            if kind == "death":
                summary = await web.run(lambda: web.commands.record_death(
                    dict(values, citizen_id=citizen_id), user.name))
            else:
                summary = await web.run(lambda: web.commands.record_decision(
                    dict(values, kind=kind, citizen_id=citizen_id), user.name))
        except FieldsRejected as exc:
            return follow_up(request, user, citizen_id, month, 422, values=values, finding=finding,
                             problems=[(f"{finding}-{field}", message) for field, message in exc.problems])
        except CommandRefused as exc:
            return follow_up(request, user, citizen_id, month, 422, values=values, finding=finding,
                             problems=[("", str(exc))])
        if summary.recorded_events == 0:
            web.flash(request, f"{citizen_id}: đã ghi trước đây, không ghi thêm gì.", "info")
        else:
            web.flash(request, f"{citizen_id}: đã ghi {FINDINGS[finding][1].split(':')[0].lower()} "
                               f"({summary.recorded_events} sự kiện).")
        return RedirectResponse(f"/chua-nhan?thang={month}", status_code=303)
