"""The screens where money is approved and files come in: the payroll
(prepared by one user, released by another), write-offs of overpayments
(proposed by one, approved by another) and imports (a dry run first, then
the very file previewed is confirmed by its SHA-256). Four eyes always
hold here; the rule itself is the domain's, these routes only word its
refusals in Vietnamese."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from ledger.months import Month
from ledger.payroll import NotPrepared, PreparationStale

from ..commands import PreviewDiffers
from ..errors import CommandRefused, NotPermitted
from ..population import PopulationCommands
from ..tabular import InputRejected
from .file_grid import grid


@dataclass
class Web:
    """What the routes share with the rest of the application (app.py)."""

    runtime: Any
    commands: Any
    queries: Any
    files_dir: Path
    viewer: Callable
    posted: Callable
    render: Callable
    ledger: Callable
    flash: Callable
    saved: Callable  # an upload kept under files_dir/uploads
    month_arg: Callable
    bad_request: type
    forbidden: type
    vnd: Callable
    import_kinds: dict


UPLOAD_NAME = re.compile(r"^[0-9T]+-[a-z]+-[A-Za-z0-9._-]+\.(csv|xlsx|xml|txt)$")


def add_routes(app: FastAPI, web: Web) -> None:
    commands, queries, ledger, render, flash = web.commands, web.queries, web.ledger, web.render, web.flash
    BadRequest, Forbidden = web.bad_request, web.forbidden

    # --- the payroll: prepare, release, files ---------------------------------------------

    def payroll_folder(month: Month) -> Path:
        return web.files_dir / "payroll" / str(month)

    def payroll_files(month: Month) -> list[Path]:
        """A released month's files, written from what the payroll recorded when missing."""
        folder = payroll_folder(month)
        if not folder.is_dir() or not any(folder.iterdir()):
            ledger(lambda: commands.write_payroll_files(month, folder))
        return sorted(p for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []

    @app.get("/chi-tra", response_class=HTMLResponse)
    def payroll(request: Request, thang: str | None = None):
        user = web.viewer(request)
        calendar = ledger(queries.payroll_calendar)
        next_month = calendar[0].month + 1 if calendar else web.runtime.this_month()
        pending = ledger(lambda: queries.payroll_preparation(next_month))
        month = web.month_arg(thang) or (next_month if pending or not calendar else calendar[0].month)
        entry = next((c for c in calendar if c.month == month), None)
        prepared = pending if month == next_month else ledger(lambda: queries.payroll_preparation(month))
        files = []
        if entry:  # only once released
            try:
                files = payroll_files(month)
            except CommandRefused as exc:  # e.g. no treasury account for a bank's file: say so, not a 500
                flash(request, f"Chưa ghi được các tệp của tháng {month}: {exc}", "error")
        return render(request, "payroll.html", user=user, calendar=calendar, month=month, entry=entry,
                      files=files, next_month=next_month, prepared=prepared)

    @app.post("/chi-tra/lap", response_class=HTMLResponse)
    async def prepare(request: Request):
        user, form = await web.posted(request, "prepare")
        month = web.month_arg(str(form.get("month", "")))
        if month is None:
            raise BadRequest("Hãy chọn tháng.")
        try:
            summary = await run_in_threadpool(ledger, lambda: commands.prepare_payroll(month, user.name))
        except CommandRefused as exc:
            raise BadRequest(f"Không lập được danh sách tháng {month}: {exc}", 409) from None
        d = summary.as_dict()
        if d["released"]:
            flash(request, f"Tháng {month} đã phát hành trước đây: không lập lại.", "info")
        elif d["prepared_now"]:
            flash(request, f"Đã lập danh sách chi trả tháng {month} (lần {d['preparation']}): {d['lines']} dòng, "
                           f"{web.vnd(d['amount'])}. Chưa gửi đại lý: cần một người khác phát hành.")
        else:
            flash(request, f"Dữ liệu không đổi từ lần lập {d['preparation']} của {d['prepared_by']}: "
                           "không ghi gì thêm.", "info")
        return RedirectResponse(f"/chi-tra?thang={month}", status_code=303)

    @app.post("/chi-tra/phat-hanh", response_class=HTMLResponse)
    async def release(request: Request):
        user, form = await web.posted(request, "release")
        month = web.month_arg(str(form.get("month", "")))
        number = str(form.get("preparation", ""))
        if month is None or not number.isdigit():
            raise BadRequest("Thiếu tháng hoặc lần lập danh sách.")
        try:
            summary = await run_in_threadpool(ledger, lambda: commands.release_payroll(
                month, payroll_folder(month), user.name, four_eyes=True, preparation=int(number)))
        except NotPermitted:
            raise Forbidden(f"Không được phát hành: {user.name} đã lập danh sách chi trả tháng {month}, "
                            "nên phải do một người khác phát hành (nguyên tắc bốn mắt).") from None
        except CommandRefused as exc:
            cause = exc.__cause__
            if isinstance(cause, PreparationStale):
                message = (f"Dữ liệu đã thay đổi sau khi lập danh sách tháng {month} (có quyết định hoặc kết quả "
                           "mới): cần lập lại danh sách rồi mới phát hành. Không có gì được ghi.")
            elif isinstance(cause, NotPrepared):
                message = (f"Danh sách tháng {month} đã được lập lại hoặc chưa được lập: hãy xem lại bản mới "
                           "nhất trước khi phát hành. Không có gì được ghi.")
            else:
                message = f"Không phát hành được danh sách tháng {month}: {exc}"
            raise BadRequest(message, 409) from None
        if summary.issued_now:
            flash(request, f"Đã phát hành danh sách chi trả tháng {month}: {summary.lines} dòng, "
                           f"{web.vnd(summary.amount)} tạm ứng; người lập {summary.prepared_by}, người phát hành "
                           f"{summary.released_by}. Các tệp đã sẵn sàng để tải.")
        else:
            flash(request, f"Tháng {month} đã phát hành trước đây: không có gì mới, các tệp được ghi lại.", "info")
        return RedirectResponse(f"/chi-tra?thang={month}", status_code=303)

    @app.get("/chi-tra/{month}/tep/{name}")
    def payroll_file(request: Request, month: str, name: str):
        from fastapi.responses import FileResponse

        web.viewer(request)
        m = web.month_arg(month)
        calendar = ledger(queries.payroll_calendar)
        if not any(c.month == m for c in calendar):
            raise BadRequest("Danh sách tháng này chưa được phát hành: chưa có tệp để tải.", 404)
        files = {p.name: p for p in payroll_files(m)}
        if name not in files:
            raise BadRequest("Không có tệp này.", 404)
        return FileResponse(files[name], filename=name)

    # --- overpayments and write-offs ---------------------------------------------------

    # The overpayments page's statuses (its ``trang_thai``): the query's, and "all".
    RECOVERY_FILTERS = {"con-no": "open", "da-thu-xong": "recovered", "da-mien": "written_off", "tat-ca": None}

    @app.get("/truy-thu", response_class=HTMLResponse)
    def recoveries(request: Request, trang_thai: str = "", xa: str = "", trang: str = "1", tat_ca: str = ""):
        user = web.viewer(request)
        key = trang_thai or ("tat-ca" if tat_ca else "con-no")  # tat_ca=1: the old link to every status
        if key not in RECOVERY_FILTERS:
            raise BadRequest("Trạng thái không hợp lệ.")
        commune = xa.strip()
        if commune and not re.fullmatch(r"[0-9A-Za-z]{1,16}", commune):
            raise BadRequest("Mã xã không hợp lệ.")
        number = int(trang) if trang.isdigit() else 1

        listing, write_offs = ledger(lambda: (queries.overpayments_page(RECOVERY_FILTERS[key], commune, number),
                                              queries.write_offs()))

        def link(**change) -> str:
            from urllib.parse import urlencode

            args = dict({"trang_thai": key, "xa": commune, "trang": listing.page}, **change)
            shown = {k: v for k, v in args.items() if v not in ("", None, 1, "con-no")}  # the defaults left out
            return "/truy-thu" + (f"?{urlencode(shown)}" if shown else "")

        return render(request, "recoveries.html", user=user, listing=listing, filter_key=key, commune=commune,
                      filters=RECOVERY_FILTERS, link=link,
                      pending=[w for w in write_offs if w.status == "pending"],
                      decided=[w for w in write_offs if w.status != "pending"])

    @app.post("/truy-thu/de-nghi-mien", response_class=HTMLResponse)
    async def propose_write_off(request: Request):
        user, form = await web.posted(request, "write_off_propose")
        citizen = str(form.get("citizen_id", "")).strip()
        decision, reason = str(form.get("decision_no", "")).strip(), str(form.get("reason", "")).strip()
        amount_text = re.sub(r"[.\s₫]", "", str(form.get("amount", "")))
        if not re.fullmatch(r"\d{12}", citizen) or not amount_text.isdigit() or not decision or not reason:
            raise BadRequest("Cần số CCCD (12 chữ số), số tiền, số quyết định và lý do miễn thu.")
        try:
            summary = await run_in_threadpool(ledger, lambda: commands.propose_write_off(
                citizen, int(amount_text), decision, reason, user.name))
        except CommandRefused as exc:
            raise BadRequest(f"Không đề nghị miễn thu được: {exc}", 409) from None
        flash(request, f"Đã đề nghị miễn thu {web.vnd(summary.amount)} của {citizen} (quyết định {decision}); "
                       "chờ lãnh đạo phê duyệt, chưa ghi sổ." if summary.recorded_now else
                       "Đề nghị này đã có từ trước: không ghi gì thêm.", "ok" if summary.recorded_now else "info")
        return RedirectResponse("/truy-thu", status_code=303)

    @app.post("/truy-thu/quyet-dinh-mien", response_class=HTMLResponse)
    async def decide_write_off(request: Request):
        user, form = await web.posted(request, "write_off_approve")
        citizen, receipt = str(form.get("citizen_id", "")), str(form.get("receipt_no", ""))
        approve = form.get("action") == "approve"
        reason = str(form.get("reason", "")).strip()
        if not approve and not reason:
            raise BadRequest("Từ chối đề nghị miễn thu cần ghi lý do.")
        try:
            summary = await run_in_threadpool(ledger, lambda: commands.decide_write_off(
                citizen, receipt, user.name, approve=approve, reason=reason, four_eyes=True))
        except NotPermitted:
            raise Forbidden(f"Không được phê duyệt: {user.name} là người đề nghị miễn thu này, nên phải do "
                            "một người khác quyết định (nguyên tắc bốn mắt).") from None
        except CommandRefused as exc:
            raise BadRequest(f"Không quyết định được đề nghị miễn thu {receipt}: {exc}", 409) from None
        if approve:
            flash(request, f"Đã phê duyệt miễn thu {web.vnd(summary.amount)} của {citizen}: người đề nghị "
                           f"{summary.proposed_by}, người duyệt {summary.decided_by}.")
        else:
            flash(request, f"Đã từ chối đề nghị miễn thu {receipt} của {citizen}.", "info")
        return RedirectResponse("/truy-thu", status_code=303)

    # --- imports: dry run, confirm, history ------------------------------------------------

    def importer(kind: str, path: Path, user, report: Path | None, **options):
        if kind == "decisions":
            return lambda: commands.import_decisions(path, user.name, **options)
        if kind == "deaths":
            return lambda: commands.import_deaths(path, user.name, **options)
        if kind == "recoveries":
            return lambda: commands.import_recoveries(path, user.name, four_eyes=True, **options)
        if kind == "confirmations":
            return lambda: commands.import_confirmations(path, user.name, **options)
        if kind == "population":
            # The check names the file it came from as the officer uploaded it.
            return lambda: PopulationCommands(commands).import_population(
                path, user.name, document=options.get("file_name") or "", **options)
        if kind == "postoffice":
            return lambda: commands.import_postoffice(path, user.name, report, **options)
        return lambda: commands.import_bank(path, user.name, report, **options)

    def imports_page(request: Request, user, status: int = 200, **context):
        history = ledger(queries.import_history)
        context = dict(dict(preview=None, result=None, problems=None, error=None, rows=None), **context)
        return render(request, "imports.html", status, user=user, history=history, **context)

    app.state.imports_page = imports_page

    @app.get("/nhap-tep", response_class=HTMLResponse)
    def imports(request: Request):
        return imports_page(request, web.viewer(request))

    def rejected(request, user, kind, shown_name, path: Path, report_name, exc: InputRejected):
        problems = [dict(file=shown_name if p.path == str(path) else report_name or Path(p.path).name,
                         line=p.line, column=p.column, message=p.message) for p in exc.problems]
        rows = grid(path, [p for p, q in zip(problems, exc.problems) if q.path == str(path)])
        return imports_page(request, user, 422, problems=problems, rows=rows, kind=kind, filename=shown_name)

    @app.post("/nhap-tep", response_class=HTMLResponse)
    async def dry_run(request: Request):
        """Step one: the upload kept, then imported in rehearsal: what it would record, or its errors."""
        user, form = await web.posted(request, "import")
        kind = str(form.get("kind", ""))
        if kind not in web.import_kinds:
            raise BadRequest("Hãy chọn loại tệp.")
        upload, report = form.get("file"), form.get("report")
        path = await web.saved(upload, kind)
        report_path = await web.saved(report, "report") if isinstance(report, UploadFile) and report.filename else None
        shown_name = Path(upload.filename).name
        try:
            preview = await run_in_threadpool(ledger, importer(kind, path, user, report_path, dry_run=True,
                                                               file_name=shown_name))
        except InputRejected as exc:
            return rejected(request, user, kind, shown_name, path, report.filename if report_path else None, exc)
        except CommandRefused as exc:
            return imports_page(request, user, 422, error=str(exc), kind=kind, filename=shown_name)
        return imports_page(request, user, preview=preview, kind=kind, filename=shown_name, upload=path.name,
                            report_upload=report_path.name if report_path else "")

    def kept(name: str) -> Path:
        if not UPLOAD_NAME.fullmatch(name):
            raise BadRequest("Tệp tải lên không hợp lệ: hãy chạy thử lại.", 404)
        path = web.files_dir / "uploads" / name
        if not path.is_file():
            raise BadRequest("Không còn tệp đã tải lên: hãy chạy thử lại.", 404)
        return path

    @app.post("/nhap-tep/xac-nhan", response_class=HTMLResponse)
    async def confirm(request: Request):
        """Step two: the very file previewed (same SHA-256, same outcome), recorded."""
        user, form = await web.posted(request, "import")
        kind = str(form.get("kind", ""))
        if kind not in web.import_kinds:
            raise BadRequest("Hãy chọn loại tệp.")
        path = kept(str(form.get("upload", "")))
        report_name = str(form.get("report_upload", ""))
        report_path = kept(report_name) if report_name else None
        shown_name = Path(str(form.get("filename", "")) or path.name).name
        try:
            summary = await run_in_threadpool(ledger, importer(
                kind, path, user, report_path, file_name=shown_name, expect_sha256=str(form.get("sha256", "")),
                expect_outcome=str(form.get("outcome", ""))))
        except InputRejected as exc:
            return rejected(request, user, kind, shown_name, path, None, exc)
        except PreviewDiffers:
            return imports_page(request, user, 409, kind=kind, filename=shown_name,
                                error="tệp đã tải lên hoặc sổ đã thay đổi sau khi chạy thử, nên kết quả không còn "
                                      "đúng như bản xem trước. Không có gì được ghi: hãy chạy thử lại.")
        except CommandRefused as exc:
            return imports_page(request, user, 409, error=f"{exc}", kind=kind, filename=shown_name)
        return imports_page(request, user, result=summary.as_dict(), kind=kind, filename=shown_name)
