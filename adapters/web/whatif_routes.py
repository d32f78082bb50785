"""Rules what-if: what a candidate rule file, or the current rules with
another standard level, would have paid from one month to another beside
the rules in force: the budget difference, the people affected, month by
month. The same query as ``ledger rules whatif``; nothing is recorded."""
from __future__ import annotations

import re
import tempfile
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from starlette.datastructures import UploadFile

from ledger.whatif import with_level

from ..rulefiles import RULESETS_DIR, RuleFileError, load_ruleset
from .kit import Web

RULE_FILE_MAX_BYTES = 1024 * 1024
SHOWN_CHANGES = 200


def shipped_candidates() -> list[str]:
    return sorted(p.name for p in RULESETS_DIR.glob("whatif-*.toml"))


def add_routes(app: FastAPI, web: Web) -> None:
    from .app import BadRequest, _month_arg, vnd

    def show(request: Request, user, *, level: str = "", shipped: str = "", first: str = "", last: str = "",
             candidate=None, source: str = "", status: int = 200, error: str = ""):
        result = None
        if candidate is not None:
            start = _month_arg(first)
            end = _month_arg(last) or start + 11
            if end < start:
                raise BadRequest("Tháng cuối phải sau tháng đầu.")
            if end.index - start.index > 120:
                raise BadRequest("Tối đa 10 năm.")
            result = web.ledger(lambda: web.queries.whatif(candidate, start, end))
            first, last = str(start), str(end)
        return web.render(request, "whatif.html", status, user=user, result=result, level=level, shipped=shipped,
                          first=first, last=last, candidates=shipped_candidates(), source=source, error=error,
                          shown=SHOWN_CHANGES)

    @app.get("/gia-dinh", response_class=HTMLResponse)
    def whatif(request: Request, muc: str = "", tep: str = "", tu: str = "", den: str = ""):
        user = web.viewer(request)
        muc, tep = muc.strip().replace(".", "").replace(",", ""), tep.strip()
        if not (muc or tep):
            return show(request, user, first=tu or str(web.runtime.this_month()), last=den)
        if not tu:
            raise BadRequest("Hãy chọn tháng đầu.")
        if tep:
            if tep not in shipped_candidates():
                raise BadRequest(f"Không có tệp quy tắc {tep!r}.", 404)
            candidate, source = load_ruleset(RULESETS_DIR / tep), tep
        else:
            if not re.fullmatch(r"\d{4,9}", muc):
                raise BadRequest("Mức chuẩn là số đồng, ví dụ 500000.")
            candidate, source = with_level(web.runtime.rules, int(muc), _month_arg(tu)), f"mức chuẩn {vnd(int(muc))}"
        return show(request, user, level=muc, shipped=tep, first=tu, last=den, candidate=candidate, source=source)

    @app.post("/gia-dinh", response_class=HTMLResponse)
    async def whatif_file(request: Request):
        user = web.viewer(request)
        _, form = await web.posted(request, None)
        upload = form.get("rules")
        first, last = str(form.get("tu", "")), str(form.get("den", ""))
        if not isinstance(upload, UploadFile) or not upload.filename:
            raise BadRequest("Hãy chọn tệp quy tắc (.toml).")
        data = await upload.read(RULE_FILE_MAX_BYTES + 1)
        if len(data) > RULE_FILE_MAX_BYTES:
            raise BadRequest("Tệp quy tắc quá lớn.", 413)
        if not first:
            raise BadRequest("Hãy chọn tháng đầu.")
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "candidate.toml"
            path.write_bytes(data)
            try:
                candidate = load_ruleset(path)
            except RuleFileError as exc:
                message = str(exc).replace(str(path), upload.filename)
                return show(request, user, first=first, last=last, status=422,
                            error=f"Tệp quy tắc không dùng được: {message}")
        return await web.run(lambda: show(request, user, first=first, last=last, candidate=candidate,
                                          source=upload.filename))
