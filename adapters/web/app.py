"""The web application: FastAPI with pages rendered on the server (Jinja2)
and htmx for the people search. Every page's main action is a plain form
that works without JavaScript. It decides nothing itself: it calls the same
``Commands`` and ``Queries`` as the ``ledger`` command, as the logged-in user.

Security: signed, HttpOnly, SameSite=Strict session cookies; a CSRF token
on every form; a name is locked for 15 minutes after 5 failed logins; a
content security policy without inline scripts or styles; roles checked on
every request (an auditor's state-changing request is refused with 403)."""
from __future__ import annotations

import re
import secrets
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, TypeVar
from urllib.parse import quote

from babel.numbers import format_decimal
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.middleware.sessions import SessionMiddleware

from ledger.months import Month

from ..bootstrap import Runtime
from ..closing import AfterClose, after_close
from ..commands import Commands
from ..errors import CommandRefused, NotPermitted
from ..queries import Queries
from ..settings import LedgerSettings
from . import report_routes, routes_money
from .users import LOCK_MINUTES, MAX_FAILURES, UserRefused, UserStore, WebUser

HERE = Path(__file__).parent
T = TypeVar("T")

SESSION_HOURS = 8
UPLOAD_MAX_BYTES = 50 * 1024 * 1024
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'")

READERS = {"officer", "approver", "auditor"}
# Who may do what (the ledger's commands); everything else is read-only.
MAY = {
    "import": {"officer"},
    # Four eyes on money: prepared (proposed) by one user, released (approved)
    # by another; the domain refuses the same person whatever the roles.
    "prepare": {"officer", "approver"},
    "release": {"approver"},
    "write_off_propose": {"officer"},
    "write_off_approve": {"approver"},
    "close": {"approver"},
    "verify": {"officer"},  # what the commune found about an unclaimed payment
    "users": {"admin"},
    "review": {"officer"},  # the population database check's reviews
}

# Forms that send a file to be read, never recorded (a checkpoint to verify
# against, a candidate rule file): open to auditors, still under CSRF.
READ_ONLY_POSTS = ("/kiem-toan/doi-chieu", "/gia-dinh")

MENU = (  # path, label, roles that see it
    ("/thang-nay", "Tháng này", READERS),
    ("/nhap-tep", "Nhập tệp", READERS),
    ("/doi-tuong", "Đối tượng", READERS),
    ("/chi-tra", "Chi trả", READERS),
    ("/quyet-toan", "Quyết toán", READERS),
    ("/chua-nhan", "Chưa nhận", READERS),
    ("/truy-thu", "Truy thu", READERS),
    ("/bao-cao", "Báo cáo", READERS),
    ("/doi-chieu-dan-cu", "Đối chiếu dân cư", READERS),
    ("/kiem-toan", "Kiểm toán", READERS),
    ("/gia-dinh", "Giả định chính sách", READERS),
    ("/nguoi-dung", "Người dùng", {"admin"}),
)

ROLE_NAMES = {"officer": "Cán bộ chi trả", "approver": "Lãnh đạo phê duyệt", "auditor": "Kiểm toán viên",
              "admin": "Quản trị"}
STATUS_NAMES = {"active": "Đang hưởng", "suspended": "Tạm dừng", "terminated": "Thôi hưởng",
                "deceased": "Đã chết", "relocated_out": "Chuyển đi", "not_yet": "Chưa hưởng",
                "none": "Không hưởng", "open": "Còn nợ", "closed": "Đã thu hồi xong",
                "recovered": "Đã thu hồi xong",
                "written_off": "Đã miễn", "verify": "Cần xác minh", "issued": "Đã cấp",
                "paid": "Đã chi", "unpaid": "Chưa nhận", "cancelled": "Đã huỷ", "returned": "Đã hoàn trả",
                "rejected": "Bị từ chối", "carried": "Chuyển kỳ sau", "credited": "Đã ghi có"}
CHANNEL_NAMES = {"cash": "Tiền mặt (bưu điện)", "bank": "Chuyển khoản"}
IMPORT_KINDS = {
    "decisions": "Quyết định hưởng / thay đổi / thôi hưởng",
    "deaths": "Giấy báo tử",
    "postoffice": "Kết quả chi trả của bưu điện",
    "bank": "Kết quả chuyển khoản của ngân hàng",
    "recoveries": "Thu hồi, bù trừ, miễn truy thu",
    "confirmations": "Xã xác nhận đã nhận tiền (chuyển vào tài khoản người được ủy quyền)",
    "population": "Kết quả đối chiếu CSDL quốc gia về dân cư",
}


class LoginRequired(Exception):
    pass


class Forbidden(Exception):
    def __init__(self, message: str = "Bạn không có quyền thực hiện việc này."):
        super().__init__(message)
        self.message = message


class BadRequest(Exception):
    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.message, self.status = message, status


def vnd(amount: int | None) -> str:
    if amount is None:
        return ""
    return f"{format_decimal(amount, locale='vi_VN')} ₫"


# Who received an overpaid line's money, as ledger/clawback.py names them
# (stored in English in the views and the command's output), in the words
# of the office.
_RECEIVERS = (
    (re.compile(r"beneficiary"), "người hưởng"),
    (re.compile(r"proxy \(none authorised\)"), "người nhận thay (không có giấy ủy quyền)"),
    (re.compile(r"proxy (?P<who>.+)"), "người được ủy quyền {who}"),
    (re.compile(r"bank account (?P<account>\S+) at (?P<agent>\S+)"), "tài khoản {account} tại {agent}"),
    (re.compile(r"bank account at (?P<agent>\S+)"), "tài khoản tại {agent}"),
)


def receiver_words(text: str) -> str:
    for pattern, words in _RECEIVERS:
        found = pattern.fullmatch(text)
        if found:
            return words.format(**found.groupdict())
    return text


def _month_arg(text: str | None) -> Month | None:
    if not text:
        return None
    try:
        return Month.parse(text)
    except ValueError:
        raise BadRequest(f"Tháng không hợp lệ: {text!r} (dạng YYYY-MM)") from None


def create_app(runtime: Runtime, settings: LedgerSettings | None = None) -> FastAPI:
    settings = settings or LedgerSettings.load()
    users = UserStore(runtime.engine)
    secret = settings.web_secret_key.get_secret_value() if settings.web_secret_key else users.secret_key()
    queries = Queries(runtime)
    commands = Commands(runtime, queries)
    files_dir = Path(settings.web_files_dir)
    lock = threading.RLock()  # one ledger call at a time: commands and their catch-up take turns

    def ledger(call: Callable[[], T]) -> T:
        with lock:
            return call()

    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None, title="Sổ chi trả trợ cấp")
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    env = templates.env
    env.filters["vnd"] = vnd
    env.filters["receiver"] = receiver_words
    env.globals.update(ROLE_NAMES=ROLE_NAMES, STATUS_NAMES=STATUS_NAMES, CHANNEL_NAMES=CHANNEL_NAMES,
                       IMPORT_KINDS=IMPORT_KINDS, MAY=MAY)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    # --- sessions, CSRF, roles ------------------------------------------------------

    def user_of(request: Request) -> WebUser | None:
        name = request.session.get("user")
        if not name:
            return None
        user = users.get(name)
        if user is None or user.disabled:
            request.session.clear()
            return None
        return user

    def csrf_token(request: Request) -> str:
        token = request.session.get("csrf")
        if not token:
            token = request.session["csrf"] = secrets.token_urlsafe(32)
        return token

    def viewer(request: Request, roles: set[str] = READERS) -> WebUser:
        user = user_of(request)
        if user is None:
            raise LoginRequired()
        if user.role not in roles:
            raise Forbidden("Trang này không dành cho vai trò của bạn.")
        return user

    async def posted(request: Request, action: str | None) -> tuple[WebUser | None, dict]:
        """The form of a state-changing request, once the session, the CSRF
        token and the role allow it."""
        user = user_of(request)
        if user is None and action is not None:
            raise LoginRequired()
        form = await request.form()
        sent = form.get("csrf_token") or request.headers.get("x-csrf-token") or ""
        expected = request.session.get("csrf") or ""
        if not expected or not isinstance(sent, str) or not secrets.compare_digest(sent, expected):
            raise Forbidden("Phiên làm việc hết hạn hoặc biểu mẫu không hợp lệ (thiếu mã CSRF). Hãy tải lại trang.")
        if action is not None and user.role not in MAY[action]:
            raise Forbidden()
        return user, form

    def flash(request: Request, message: str, kind: str = "ok") -> None:
        request.session["flash"] = [kind, message]

    def render(request: Request, name: str, status: int = 200, **context) -> HTMLResponse:
        user = context.pop("user", None) or user_of(request)
        context.update(request=request, user=user, csrf=csrf_token(request),
                       flash=request.session.pop("flash", None), path=request.url.path,
                       menu=[(p, label) for p, label, roles in MENU if user and user.role in roles])
        return templates.TemplateResponse(request, name, context, status_code=status)

    @app.exception_handler(LoginRequired)
    async def _login(request: Request, exc: LoginRequired):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/dang-nhap?next={quote(target, safe='')}", status_code=303)

    @app.exception_handler(Forbidden)
    async def _forbidden(request: Request, exc: Forbidden):
        return render(request, "error.html", 403, title="Không được phép", message=exc.message)

    @app.exception_handler(BadRequest)
    async def _bad(request: Request, exc: BadRequest):
        return render(request, "error.html", exc.status, title="Không thực hiện được", message=exc.message)

    @app.middleware("http")
    async def security(request: Request, call_next):
        if request.method not in ("GET", "HEAD") and request.url.path not in ("/dang-nhap", "/dang-xuat", *READ_ONLY_POSTS):
            user = user_of(request)
            if user is not None and user.role == "auditor":  # auditors change nothing, whatever the route
                response = render(request, "error.html", 403, title="Không được phép",
                                  message="Kiểm toán viên chỉ được xem, không được thay đổi dữ liệu.")
                return _secured(response)
        return _secured(await call_next(request))

    app.add_middleware(SessionMiddleware, secret_key=secret, session_cookie="ledger_session",
                       max_age=SESSION_HOURS * 3600, same_site="strict", https_only=settings.web_secure_cookies)

    # --- login ------------------------------------------------------------------------

    @app.get("/dang-nhap", response_class=HTMLResponse)
    def login_page(request: Request, next: str = "/"):
        return render(request, "login.html", next=_safe_next(next), error=None)

    @app.post("/dang-nhap", response_class=HTMLResponse)
    async def login(request: Request):
        _, form = await posted(request, None)
        name, password = str(form.get("username", "")).strip(), str(form.get("password", ""))
        target = _safe_next(str(form.get("next", "/")))
        result = await run_in_threadpool(users.authenticate, name, password)
        if result.user is None:
            error = (f"Tài khoản tạm khoá {LOCK_MINUTES} phút sau {MAX_FAILURES} lần đăng nhập sai."
                     if result.locked else "Tên đăng nhập hoặc mật khẩu không đúng.")
            return render(request, "login.html", 401, next=target, error=error, username=name)
        request.session.clear()  # a new session on login
        request.session.update(user=result.user.name, csrf=secrets.token_urlsafe(32))
        if result.user.role == "admin" and target == "/":
            target = "/nguoi-dung"
        return RedirectResponse(target, status_code=303)

    @app.post("/dang-xuat")
    async def logout(request: Request):
        await posted(request, None)
        request.session.clear()
        return RedirectResponse("/dang-nhap", status_code=303)

    @app.get("/")
    def home(request: Request):
        user = viewer(request, READERS | {"admin"})
        return RedirectResponse("/nguoi-dung" if user.role == "admin" else "/thang-nay", status_code=303)

    # --- (a) this month -------------------------------------------------------------------

    def working_month(calendar) -> Month:
        """The month to look at: the earliest issued month not closed, else
        the next to run, else this month."""
        open_months = [c.month for c in calendar if not c.closed]
        if open_months:
            return min(open_months)
        if calendar:
            return calendar[0].month + 1
        return runtime.this_month()

    @app.get("/thang-nay", response_class=HTMLResponse)
    def this_month(request: Request, thang: str | None = None):
        user = viewer(request)

        def read():
            calendar = queries.payroll_calendar()
            month = _month_arg(thang) or working_month(calendar)
            entry = next((c for c in calendar if c.month == month), None)
            due = queries.due_totals(month)
            unclaimed = queries.unclaimed(month) if entry else []
            open_variances = []
            for c in calendar:
                if not c.closed:
                    for s in queries.settlements(c.month):
                        open_variances += [(c.month, s.agent_code, v) for v in s.variances if not v.accepted]
            return calendar, month, entry, due, unclaimed, open_variances

        calendar, month, entry, due, unclaimed, open_variances = ledger(read)
        return render(request, "this_month.html", user=user, month=month, calendar=calendar, entry=entry,
                      people_due=due["people"], amount_due=due["amount"], cash=due["cash"],
                      unclaimed_verify=[u for u in unclaimed if u.flag == "verify"],
                      unclaimed_suspended=[u for u in unclaimed if u.flag == "suspended"],
                      open_variances=open_variances)

    # --- (b) imports, (d) payroll, (g) overpayments: routes_money.py --------------------------

    async def _saved(upload, kind: str) -> Path:
        if not isinstance(upload, UploadFile) or not upload.filename:
            raise BadRequest("Hãy chọn một tệp.")
        # Any name is taken: the reader goes by the file's content
        # (adapters/formats/registry.py), and mail systems rename attachments.
        suffix = Path(upload.filename).suffix.lower()
        suffix = suffix if re.fullmatch(r"\.[a-z0-9]{1,5}", suffix) else ""
        stem = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(upload.filename).stem)[:60] or "tep"
        folder = files_dir / "uploads"
        folder.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%f")
        path = folder / f"{stamp}-{kind}-{stem}{suffix}"
        size = 0
        with path.open("wb") as out:
            while chunk := await upload.read(1 << 20):
                size += len(chunk)
                if size > UPLOAD_MAX_BYTES:
                    out.close()
                    path.unlink(missing_ok=True)
                    raise BadRequest("Tệp quá lớn (tối đa 50 MiB).", 413)
                out.write(chunk)
        return path

    # --- (c) people -----------------------------------------------------------------------

    @app.get("/doi-tuong", response_class=HTMLResponse)
    def people(request: Request, q: str = "", xa: str = ""):
        user = viewer(request)
        q, xa = q.strip()[:100], xa.strip()[:16]
        found = ledger(lambda: queries.search_people(q, commune=xa)) if q or xa else []
        name = "people_results.html" if request.headers.get("hx-request") else "people.html"
        return render(request, name, user=user, q=q, xa=xa, found=found, limit=Queries.SEARCH_LIMIT)

    # --- (e) settlement -------------------------------------------------------------------

    @app.get("/quyet-toan", response_class=HTMLResponse)
    def settlement_page(request: Request, thang: str | None = None):
        user = viewer(request)

        def read():
            calendar = queries.payroll_calendar()
            month = _month_arg(thang) or (working_month(calendar) if calendar else None)
            entry = next((c for c in calendar if c.month == month), None)
            return calendar, month, entry, (queries.settlements(month) if entry else [])

        calendar, month, entry, settlements = ledger(read)
        return render(request, "settlement.html", user=user, calendar=calendar, month=month, entry=entry,
                      settlements=settlements, missing=None)

    @app.post("/quyet-toan", response_class=HTMLResponse)
    async def close_month(request: Request):
        user, form = await posted(request, "close")
        month = _month_arg(str(form.get("month", "")))
        if month is None:
            raise BadRequest("Hãy chọn tháng.")
        acceptances = {}
        for index in range(int(form.get("variances", 0) or 0)):
            key, reason = str(form.get(f"key-{index}", "")), str(form.get(f"reason-{index}", "")).strip()
            if key and reason:
                acceptances[key] = reason
        differs: list = []  # the views' settlement against the books, if a view was altered
        try:
            missing = await run_in_threadpool(
                ledger, lambda: commands.close_month(month, acceptances, user.name, four_eyes=True,
                                                     on_view_differs=differs.extend))
        except NotPermitted as exc:
            raise Forbidden(f"Không được khoá sổ: {exc}") from None
        except CommandRefused as exc:
            raise BadRequest(f"Không khoá sổ được tháng {month}: {exc}", 409) from None
        if missing:
            calendar = ledger(queries.payroll_calendar)
            entry = next((c for c in calendar if c.month == month), None)
            settlements = ledger(lambda: queries.reconcile(month))
            return render(request, "settlement.html", 409, user=user, calendar=calendar, month=month,
                          entry=entry, settlements=settlements, missing=missing)
        done = await run_in_threadpool(ledger, lambda: after_close(queries, settings, month, settings.checkpoint_dir))
        warned = bool(differs) or done.checkpoint is None or (
            done.published is not None and not done.published["published"])
        flash(request, f"Đã khoá sổ tháng {month}. " + closed_words(month, done) + view_differs_words(differs),
              "info" if warned else "ok")
        return RedirectResponse(f"/quyet-toan?thang={month}", status_code=303)


    # --- the person page, unclaimed follow-up, audit, rules what-if: their own modules ---

    from . import audit_routes, people_routes, unclaimed_routes, whatif_routes
    from .kit import Web

    web = Web(runtime=runtime, settings=settings, queries=queries, commands=commands, files_dir=files_dir,
              viewer=viewer, posted=posted, render=render, flash=flash, ledger=ledger,
              run=lambda call: run_in_threadpool(ledger, call))
    for module in (people_routes, unclaimed_routes, audit_routes, whatif_routes):
        module.add_routes(app, web)

    # --- (i) users -------------------------------------------------------------------------

    @app.get("/nguoi-dung", response_class=HTMLResponse)
    def users_page(request: Request):
        user = viewer(request, {"admin"})
        return render(request, "users.html", user=user, users=users.list(), error=None)

    @app.post("/nguoi-dung", response_class=HTMLResponse)
    async def add_user(request: Request):
        user, form = await posted(request, "users")
        name, role = str(form.get("username", "")).strip(), str(form.get("role", ""))
        try:
            await run_in_threadpool(users.add, name, role, str(form.get("password", "")))
        except UserRefused as exc:
            return render(request, "users.html", 422, user=user, users=users.list(), error=str(exc))
        flash(request, f"Đã thêm người dùng {name} ({ROLE_NAMES[role]}).")
        return RedirectResponse("/nguoi-dung", status_code=303)

    @app.post("/nguoi-dung/khoa", response_class=HTMLResponse)
    async def disable_user(request: Request):
        user, form = await posted(request, "users")
        name = str(form.get("username", ""))
        if name == user.name:
            raise BadRequest("Không thể tự khoá tài khoản của mình.")
        try:
            users.disable(name)
        except UserRefused as exc:
            raise BadRequest(str(exc), 404) from None
        flash(request, f"Đã khoá tài khoản {name}.")
        return RedirectResponse("/nguoi-dung", status_code=303)

    routes_money.add_routes(app, routes_money.Web(
        runtime=runtime, commands=commands, queries=queries, files_dir=files_dir, viewer=viewer, posted=posted,
        render=render, ledger=ledger, flash=flash, saved=_saved, month_arg=_month_arg, bad_request=BadRequest,
        forbidden=Forbidden, vnd=vnd, import_kinds=IMPORT_KINDS))
    report_routes.add_routes(app, report_routes.Screen(
        queries=queries, viewer=viewer, render=render, ledger=ledger, working_month=working_month,
        month_arg=_month_arg, bad_request=BadRequest))
    from types import SimpleNamespace

    from . import population as population_web

    population_web.add_routes(app, SimpleNamespace(
        viewer=viewer, posted=posted, render=render, flash=flash, ledger=ledger, saved=_saved, queries=queries,
        commands=commands, runtime=runtime, templates=templates, BadRequest=BadRequest))

    app.state.users = users
    app.state.files_dir = files_dir
    app.state.commands = commands
    app.state.queries = queries
    return app


def _secured(response: Response) -> Response:
    headers = response.headers
    headers["Content-Security-Policy"] = CSP
    headers["X-Frame-Options"] = "DENY"
    headers["Referrer-Policy"] = "same-origin"
    headers["X-Content-Type-Options"] = "nosniff"
    headers.setdefault("Cache-Control", "no-store")
    return response


def _safe_next(target: str) -> str:
    """Only a path on this site (never //host or a scheme) after login."""
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


# The settlement's figures as the page's table heads name them.
FIGURE_WORDS = {"opening_balance": "số dư đầu kỳ", "advance": "tạm ứng", "disbursed": "đã chi", "fee": "phí",
                "returned": "hoàn trả", "closing_balance": "số dư cuối kỳ"}


def view_differs_words(differs: list) -> str:
    """A close whose books (the events, what it recorded) differ from the
    settlement the page showed: a view was altered. Each difference as
    ``adapters.settlement_books.ViewDiffers`` gives it."""
    if not differs:
        return ""

    def said(d) -> str:
        side = "trong sổ sách gốc" if d.side == "books" else "trên trang"
        if d.figure:
            return f"{d.agent_code}: {FIGURE_WORDS.get(d.figure, d.figure)} trên trang {vnd(d.in_view)}, " \
                   f"sổ sách gốc {vnd(d.in_books)}"
        if d.variance:
            return f"{d.agent_code}: chênh lệch {d.variance} chỉ có {side}"
        return f"{d.agent_code}: đại lý chỉ có {side}"

    return (" CẢNH BÁO: số liệu quyết toán trên trang (bảng dữ liệu đọc) khác sổ sách gốc (các sự kiện); "
            "tháng được khoá theo sổ sách gốc. Bảng dữ liệu đọc đã bị sửa: chạy `ledger replay` để xem bảng nào. "
            + "; ".join(said(d) for d in differs) + ".")


def closed_words(month: Month, done: AfterClose) -> str:
    """What followed a close, for the officer: the checkpoint that anchors
    the history, and whether the month reached the national database."""
    words = (f"Điểm kiểm đã ký: {Path(done.checkpoint).name} (lưu cùng hồ sơ tháng)." if done.checkpoint else
             "Chưa ghi điểm kiểm: đơn vị chưa có khoá ký (signing_key_file, `ledger keygen --signing`).")
    if done.published is not None:
        words += (f" Đã công bố số liệu lên cơ sở dữ liệu quốc gia (tỉnh {done.published['province']})."
                  if done.published["published"] else
                  f" CHƯA công bố lên cơ sở dữ liệu quốc gia ({done.published['reason']}): "
                  f"chạy `ledger national publish --month {month}`.")
    return words
