"""The auditor's screen: verify the hash chain (and against a signed
checkpoint file, as ``ledger audit verify --against``), rebuild the views as
known at a time, browse the events, export the bundle an inspection takes
away (``ledger audit export``). Everything here reads; an auditor may post
the checkpoint file, which records nothing."""
from __future__ import annotations

import re
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse
from starlette.background import BackgroundTask
from starlette.datastructures import UploadFile

from ledger.months import Month

from .. import event_log
from ..checkpoints import check_against, load_signing_key, public_hex
from ..errors import CommandRefused
from .kit import Web
from .people_routes import known_at

CHECKPOINT_MAX_BYTES = 4 * 1024 * 1024
PAGE_SIZES = (25, 50, 100, 200)


def add_routes(app: FastAPI, web: Web) -> None:
    from .app import BadRequest

    queries, runtime = web.queries, web.runtime

    def page(request: Request, user, status: int = 200, **context):
        store = web.ledger(queries.store_status)
        context.setdefault("verdict", None)
        return web.render(request, "audit.html", status, user=user, store=store, against=context.pop("against", None),
                          replay=context.pop("replay", None), known=context.pop("known", None),
                          timeline=context.pop("timeline", None), error=context.pop("error", None),
                          cccd=context.pop("cccd", ""), picker=context.pop("picker", ""), **context)

    @app.get("/kiem-toan", response_class=HTMLResponse)
    def audit(request: Request, cccd: str = "", kiem_tra: str = "", dung_lai: str = "", biet_luc: str = ""):
        user = web.viewer(request)
        verdict = web.ledger(queries.verify) if kiem_tra else None
        replay = known = None
        if dung_lai:
            with tempfile.TemporaryDirectory() as folder:
                replay = web.ledger(lambda: queries.replay_check(f"sqlite:///{Path(folder) / 'replay.db'}"))
        when = known_at(biet_luc)
        if when is not None:
            with tempfile.TemporaryDirectory() as folder:
                into = Path(folder) / "as-known-at.db"
                known = web.ledger(lambda: queries.as_known_at(f"sqlite:///{into}", into.name, when))
        timeline, error = None, None
        cccd = cccd.strip()
        if cccd:
            try:
                timeline = web.ledger(lambda: queries.timeline(cccd))
            except CommandRefused:
                error = f"Không có đối tượng {cccd}."
        return page(request, user, verdict=verdict, replay=replay, known=known, cccd=cccd, timeline=timeline,
                    error=error, picker=when.strftime("%Y-%m-%dT%H:%M:%S") if when else "", when=when)

    @app.post("/kiem-toan/doi-chieu", response_class=HTMLResponse)
    async def verify_against(request: Request):
        user = web.viewer(request)
        _, form = await web.posted(request, None)
        upload = form.get("checkpoint")
        if not isinstance(upload, UploadFile) or not upload.filename:
            raise BadRequest("Hãy chọn tệp điểm kiểm (checkpoint .json).")
        data = await upload.read(CHECKPOINT_MAX_BYTES + 1)
        if len(data) > CHECKPOINT_MAX_BYTES:
            raise BadRequest("Tệp điểm kiểm quá lớn.", 413)
        name = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(upload.filename).name)[:80] or "checkpoint.json"

        def run():
            with tempfile.TemporaryDirectory() as folder:
                path = Path(folder) / name
                path.write_bytes(data)
                own_key = (public_hex(load_signing_key(runtime.signing_key_file))
                           if runtime.signing_key_file else None)
                result = check_against(runtime, str(path), own_key)
            return queries.verify(), result

        verdict, against = await web.run(run)
        return page(request, user, 200 if verdict.ok and against.ok else 409, verdict=verdict, against=against,
                    against_name=upload.filename, head=runtime.chain.head())

    @app.get("/kiem-toan/dung-lai.db")
    def as_known_at_file(request: Request, biet_luc: str = ""):
        web.viewer(request)
        when = known_at(biet_luc)
        if when is None:
            raise BadRequest("Hãy chọn thời điểm.")
        folder = Path(tempfile.mkdtemp(prefix="as-known-at-"))
        name = f"ledger-as-known-at-{when:%Y%m%dT%H%M%S}.db"
        web.ledger(lambda: queries.as_known_at(f"sqlite:///{folder / name}", name, when))
        return FileResponse(folder / name, filename=name, media_type="application/vnd.sqlite3",
                            background=BackgroundTask(_remove, folder))

    @app.get("/kiem-toan/su-kien", response_class=HTMLResponse)
    def events(request: Request, loai: str = "", cccd: str = "", nguoi: str = "", tu: str = "", den: str = "",
               thang: str = "", sau: int = 0, so_dong: int = 50):
        user = web.viewer(request)
        cccd, nguoi, thang = cccd.strip(), nguoi.strip()[:64], thang.strip()
        if cccd and not re.fullmatch(r"\d{12}", cccd):
            raise BadRequest("Số CCCD gồm 12 chữ số.")
        if thang:
            try:
                thang = str(Month.parse(thang))
            except ValueError:
                raise BadRequest(f"Tháng không hợp lệ: {thang!r} (dạng YYYY-MM)") from None
        if loai and loai not in event_log.EVENT_TYPES:
            raise BadRequest(f"Không có loại sự kiện {loai!r}.")
        where = event_log.EventFilter(type=loai, citizen_id=cccd, actor=nguoi, recorded_from=_start(tu),
                                      recorded_to=known_at(den), effective=thang)
        size = so_dong if so_dong in PAGE_SIZES else 50
        found = web.ledger(lambda: event_log.browse(runtime, where, after=max(0, sau), page_size=size))
        params = {k: v for k, v in dict(loai=loai, cccd=cccd, nguoi=nguoi, tu=tu, den=den, thang=thang,
                                         so_dong=size if size != 50 else "").items() if v}
        next_url = f"/kiem-toan/su-kien?{urlencode(dict(params, sau=found.next_after))}" if found.next_after else None
        return web.render(request, "audit_events.html", user=user, page=found, types=list(event_log.EVENT_TYPES),
                          f=dict(loai=loai, cccd=cccd, nguoi=nguoi, tu=tu, den=den, thang=thang, so_dong=size),
                          sizes=PAGE_SIZES, next_url=next_url,
                          first_url=f"/kiem-toan/su-kien?{urlencode(params)}" if sau else None)

    @app.get("/kiem-toan/xuat")
    def export(request: Request):
        web.viewer(request)
        folder = Path(tempfile.mkdtemp(prefix="bundle-"))
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        name = f"ho-so-kiem-tra-{stamp}.zip"
        try:
            web.ledger(lambda: event_log.export_bundle(runtime, folder / name))
        except CommandRefused as exc:
            _remove(folder)
            raise BadRequest(f"Không xuất được: {exc}", 409) from None
        return FileResponse(folder / name, filename=name, media_type="application/zip",
                            background=BackgroundTask(_remove, folder))


def _start(text: str) -> datetime | None:
    """'From' a date means from its first moment (the end-of-day rule is for 'up to')."""
    from .app import BadRequest

    if not text.strip():
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise BadRequest(f"Thời điểm không hợp lệ: {text!r} (dạng YYYY-MM-DDTHH:MM)") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _remove(folder: Path) -> None:
    import shutil

    shutil.rmtree(folder, ignore_errors=True)
