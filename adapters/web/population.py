"""The web screen of the population database check (Đối chiếu CSDL quốc gia
về dân cư): the review queue with each person's answer beside the ledger's
record, the match rates per commune, the answer file's upload (sent to the
Imports screen's dry run, then confirmed there, like every file), and the
officer's decision on a review (confirm or reject a reported death; accept
or correct a differing record). It decides nothing itself: it calls the same
commands and queries as `ledger population …`."""
from __future__ import annotations

import re
from datetime import date
from types import SimpleNamespace

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool

from ledger import population as pop

from ..errors import CommandRefused
from ..population import QUEUE_STATUSES, PopulationCommands, resolution_from

PATH = "/doi-chieu-dan-cu"
AWAITING_NAMES = {"deceased": "Báo đã chết: đang tạm giữ chi trả", "not_found": "Không tìm thấy trong CSDL",
                  "differs": "Thông tin khác"}
FIELD_NAMES = {"full_name": "Họ tên (khác chữ)", "full_name_diacritics": "Họ tên (chỉ khác dấu hoặc chữ hoa)",
               "birth_date": "Ngày sinh", "sex": "Giới tính", "commune": "Xã thường trú",
               "status": "Tình trạng (sổ đã ghi báo tử)"}
OUTCOME_NAMES = {"deceased": "Xác nhận đã chết (ghi giấy báo tử nguồn CSDL dân cư)",
                 "rejected": "Bác bỏ: người còn sống (bỏ tạm giữ, truy lĩnh kỳ sau)",
                 "matched": "Hồ sơ đúng, giữ nguyên", "corrected": "Điều chỉnh theo quyết định"}
SEX_NAMES = {"M": "Nam", "F": "Nữ", "": ""}


def add_routes(app: FastAPI, web: SimpleNamespace) -> None:
    """``web`` holds the application's helpers: viewer, posted, render,
    flash, ledger (one call at a time),
    queries, commands, BadRequest."""
    env = web.templates.env
    env.globals.update(AWAITING_NAMES=AWAITING_NAMES, FIELD_NAMES=FIELD_NAMES, OUTCOME_NAMES=OUTCOME_NAMES,
                       SEX_NAMES=SEX_NAMES, POPULATION_OUTCOMES=pop.RESOLUTIONS)

    def page(request: Request, status: int = 200, **extra):
        user = extra.pop("user", None) or web.viewer(request)
        wanted = str(request.query_params.get("trang_thai", ""))
        commune = str(request.query_params.get("xa", "")).strip()[:16]
        statuses = (wanted,) if wanted in QUEUE_STATUSES else ()
        queue, rates = web.ledger(lambda: (web.queries.population_queue(statuses, commune or None),
                                           web.queries.population_rates()))
        context = dict(user=user, queue=queue, rates=rates, wanted=wanted, commune=commune, error=None)
        context.update(extra)
        return web.render(request, "population.html", status, **context)

    @app.get(PATH, response_class=HTMLResponse)
    def population_page(request: Request):
        return page(request)

    @app.post(PATH + "/quyet-dinh", response_class=HTMLResponse)
    async def resolve(request: Request):
        user, form = await web.posted(request, "review")
        citizen = str(form.get("citizen_id", ""))
        if not re.fullmatch(r"\d{12}", citizen):
            raise web.BadRequest("Số CCCD gồm 12 chữ số.")
        outcome = str(form.get("outcome", ""))
        if outcome not in pop.RESOLUTIONS:
            raise web.BadRequest("Hãy chọn kết luận.")
        birth = str(form.get("birth_date", "")).strip()
        try:
            birth_date = date.fromisoformat(birth) if birth else None
        except ValueError:
            raise web.BadRequest("Ngày sinh dạng YYYY-MM-DD.") from None
        resolution = resolution_from(
            citizen, outcome, str(form.get("reason", "")), web.runtime.today(),
            decision_no=str(form.get("decision_no", "")), full_name=str(form.get("full_name", "")),
            birth_date=birth_date, sex=str(form.get("sex", "")) if form.get("sex") in ("M", "F") else "")
        try:
            summary = await run_in_threadpool(
                web.ledger, lambda: PopulationCommands(web.commands).resolve(resolution, user.name))
        except CommandRefused as exc:
            return page(request, 422, user=user, error=f"{citizen}: {exc}")
        done = summary.as_dict()
        text = f"Đã ghi kết luận cho {citizen}: {OUTCOME_NAMES[outcome]}."
        if done["lines_cancelled"]:
            text += f" Huỷ {len(done['lines_cancelled'])} dòng chi trả bưu điện đang giữ."
        if done["funeral_support_vnd"]:
            text += " Trợ cấp mai táng sẽ chi ở kỳ sau."
        if not done["changed"]:
            text = f"{citizen}: kết luận này đã ghi trước đây, không ghi thêm."
        web.flash(request, text)
        return RedirectResponse(PATH, status_code=303)
