"""The dashboard's plumbing: templates, the login, and the guard every page goes through.

Every dashboard route is declared with ``@page(method, path, roles)``, into the route table of
its module (``pages_of``); the server registers each module's table. The guard:

1. finds the official's session (cookie ``cchc_admin``); none: a GET is sent to the login page,
   anything else gets 401;
2. on POST, refuses (403) a request from another site (``Origin``) or without the session's
   CSRF token (form field ``csrf`` or header ``X-CSRF-Token``);
3. refuses (403) an official whose role does not open the page.

Pages are server-rendered with Jinja2 (autoescaped); CSS and the little JavaScript there is are
served from /admin/static. No external resource is ever loaded.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import jinja2
from aiohttp import web

from bot.clock import TIMEZONE, local
from bot.dashboard import auth
from bot.storage.models import AuditEvent, utcnow

log = logging.getLogger(__name__)
HERE = Path(__file__).parent
SESSION_COOKIE = "cchc_admin"
LOGIN_COOKIE = "cchc_login"  # the login form's CSRF token (double submit)
CSRF_HEADER = "X-CSRF-Token"
ALL = ("admin", "official", "editor")
OFFICIALS = ("admin", "official")
EDITORS = ("admin", "editor")
ADMINS = ("admin",)

ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(HERE / "templates"),
    autoescape=jinja2.select_autoescape(["html"], default=True),
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def local_time(moment: dt.datetime | None, fmt: str = "%d/%m/%Y %H:%M") -> str:
    if moment is None:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(TIMEZONE).strftime(fmt)


def number(value: float | None, digits: int = 0) -> str:
    """Vietnamese style: 12.345 and 12,5."""
    if value is None:
        return "–"
    text = f"{value:,.{digits}f}"
    return text.replace(",", " ").replace(".", ",").replace(" ", ".")


def percent(part: float, whole: float) -> str:
    return "–" if not whole else number(100 * part / whole, 0) + "%"


ENV.filters["vn"] = local_time
ENV.filters["number"] = number
ENV.globals["percent"] = percent
ENV.globals["ROLE_LABELS"] = auth.ROLE_LABELS


@dataclass(frozen=True)
class NavItem:
    path: str
    label: str
    roles: tuple[str, ...]


NAV = (
    NavItem("/admin", "Tổng quan", ALL),
    NavItem("/admin/broadcasts", "Thông báo", OFFICIALS),
    NavItem("/admin/calendar", "Lịch chiến dịch", ALL),
    NavItem("/admin/inbox", "Phản ánh", OFFICIALS),
    NavItem("/admin/reports", "Báo cáo", OFFICIALS),
    NavItem("/admin/contests", "Cuộc thi", ALL),
    NavItem("/admin/unanswered", "Câu hỏi chưa trả lời", EDITORS),
    NavItem("/admin/ask", "Hỏi thử", EDITORS),
    NavItem("/admin/entries", "Sửa nội dung", EDITORS),
    NavItem("/admin/content", "Lỗi nội dung", EDITORS),
    NavItem("/admin/users", "Tài khoản", ADMINS),
)

SECURITY_HEADERS = {
    "Content-Security-Policy": ("default-src 'self'; img-src 'self' data:; style-src 'self'; "
                                "script-src 'self'; frame-ancestors 'none'; form-action 'self'; "
                                "base-uri 'none'"),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: Handler
    roles: tuple[str, ...]


BOT_KEY = web.AppKey("dashboard_bot", object)
ME_KEY = web.RequestKey("dashboard_me", auth.Identity)  # the logged-in official of a request


def bot_of(request: web.Request) -> Any:
    return request.app[BOT_KEY]


def me(request: web.Request) -> auth.Identity:
    return request[ME_KEY]


def is_https(request: web.Request) -> bool:
    behind = bot_of(request).settings.server.behind_proxy
    return request.secure or (behind and request.headers.get("X-Forwarded-Proto", "").startswith("https"))


def client_address(request: web.Request) -> str:
    if bot_of(request).settings.server.behind_proxy:
        forwarded = [a.strip() for a in request.headers.get("X-Forwarded-For", "").split(",") if a.strip()]
        if forwarded:
            return forwarded[-1]  # the address our own proxy saw
    return request.remote or "unknown"


def cross_site(request: web.Request) -> bool:
    """A POST from a page of another site (browsers send Origin on every POST)."""
    from bot.webchat import request_host

    origin = request.headers.get("Origin")
    if origin is None:
        fetch_site = request.headers.get("Sec-Fetch-Site")
        return fetch_site is not None and fetch_site not in ("same-origin", "none")
    host = request_host(request, bot_of(request).settings.server.behind_proxy)
    return origin == "null" or urlsplit(origin).netloc.lower() != host.lower()


def render(request: web.Request, template: str, status: int = 200, **values: Any) -> web.Response:
    who: auth.Identity | None = request.get(ME_KEY)
    bot = bot_of(request)
    nav = [n for n in NAV if who is not None and who.role in n.roles]
    html = ENV.get_template(template).render(
        me=who, nav=nav, path=request.path, office=bot.settings.office,
        csrf=who.csrf if who is not None else values.pop("csrf", ""), **values)
    return web.Response(text=html, content_type="text/html", status=status, headers=SECURITY_HEADERS)


def refuse(request: web.Request, status: int, message: str) -> web.Response:
    return render(request, "refused.html", status=status, message=message)


async def audit(request: web.Request, action: str, allowed: bool = True, **detail: object) -> None:
    """Officials' actions on the dashboard, in the same audit table as their chat commands."""
    who: auth.Identity | None = request.get(ME_KEY)
    try:
        async with bot_of(request).database.session() as session:
            session.add(AuditEvent(channel="dashboard", user_key=(who.username if who else "anonymous")[:64],
                                   action=action[:64], allowed=allowed, detail=dict(detail)))
            await session.commit()
    except Exception:
        log.exception("dashboard: could not audit %s", action)


def pages_of(routes: list[Route]) -> Callable[..., Callable[[Handler], Handler]]:
    """The ``@page(method, path, roles)`` of a module whose pages go into ``routes``."""

    def page(method: str, path: str, roles: tuple[str, ...] = ALL) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            routes.append(Route(method, path, handler, roles))
            return handler
        return register
    return page


OWN: list[Route] = []  # the login's own pages (logout), registered with every dashboard
page = pages_of(OWN)


def guarded(route: Route) -> Handler:
    async def handle(request: web.Request) -> web.StreamResponse:
        bot = bot_of(request)
        async with bot.database.session() as session:
            who = await auth.identity(session, request.cookies.get(SESSION_COOKIE))
        if who is None:
            if request.method == "GET":
                raise web.HTTPSeeOther(f"/admin/login?next={quote(request.path_qs, safe='')}")
            return web.Response(status=401, text="Dạ, Anh/Chị cần đăng nhập.", headers=SECURITY_HEADERS)
        request[ME_KEY] = who
        if request.method == "POST":
            if cross_site(request):
                await audit(request, "dashboard.cross_site_post", False, path=request.path)
                return refuse(request, 403, "Dạ, yêu cầu này không đến từ trang quản trị nên đã bị từ chối.")
            form = await request.post()
            token = request.headers.get(CSRF_HEADER) or form.get("csrf")
            if not isinstance(token, str) or not auth.same_token(token, who.csrf):
                await audit(request, "dashboard.bad_csrf", False, path=request.path)
                return refuse(request, 403, "Dạ, phiên làm việc của biểu mẫu đã hết hạn. Anh/Chị tải lại "
                                            "trang rồi thử lại ạ.")
        if who.role not in route.roles:
            await audit(request, "dashboard.forbidden", False, path=request.path)
            return refuse(request, 403, "Dạ, tài khoản của Anh/Chị không có quyền mở trang này.")
        return await route.handler(request)
    return handle


# --- login and logout ---------------------------------------------------------------------


def _safe_next(raw: str | None) -> str:
    if raw and raw.startswith("/admin") and not raw.startswith("//") and "\\" not in raw:
        return raw
    return "/admin"


async def login_page(request: web.Request) -> web.StreamResponse:
    bot = bot_of(request)
    async with bot.database.session() as session:
        if await auth.identity(session, request.cookies.get(SESSION_COOKIE)) is not None:
            raise web.HTTPSeeOther(_safe_next(request.query.get("next")))
    return _login_form(request, 200, "")


def _login_form(request: web.Request, status: int, error: str, username: str = "") -> web.Response:
    token = request.cookies.get(LOGIN_COOKIE)
    if not token or len(token) > 64:
        token = secrets.token_urlsafe(24)
    response = render(request, "login.html", status=status, csrf=token, error=error, username=username,
                      next=_safe_next(request.query.get("next")))
    response.set_cookie(LOGIN_COOKIE, token, httponly=True, samesite="Strict", secure=is_https(request),
                        path="/admin", max_age=3600)
    return response


async def login_submit(request: web.Request) -> web.StreamResponse:
    bot = bot_of(request)
    if cross_site(request):
        return refuse(request, 403, "Dạ, yêu cầu đăng nhập này không đến từ trang quản trị nên đã bị từ chối.")
    form = await request.post()
    token = form.get("csrf")
    expected = request.cookies.get(LOGIN_COOKIE)
    if not isinstance(token, str) or not expected or not auth.same_token(token, expected):
        return _login_form(request, 403, "Dạ, biểu mẫu đăng nhập đã hết hạn. Anh/Chị vui lòng thử lại ạ.")
    username, password = str(form.get("username", "")), str(form.get("password", ""))
    async with bot.database.session() as session:
        result = await auth.login(session, bot.settings.dashboard, username, password, client_address(request))
        await session.commit()
    if result.user is None or result.token is None:
        log.warning("dashboard: login refused for %r from %s%s", username[:64], client_address(request),
                    " (rate limited)" if result.limited else "")
        return _login_form(request, 429 if result.limited else 401, result.refused or "", username[:64])
    log.info("dashboard: %s logged in", result.user.username)
    response = web.HTTPSeeOther(_safe_next(str(form.get("next", "")) or None))
    response.set_cookie(SESSION_COOKIE, result.token, httponly=True, samesite="Strict", secure=is_https(request),
                        path="/admin", max_age=int(bot.settings.dashboard.session_hours * 3600))
    response.del_cookie(LOGIN_COOKIE, path="/admin")
    raise response


@page("POST", "/admin/logout")
async def logout(request: web.Request) -> web.StreamResponse:
    async with bot_of(request).database.session() as session:
        await auth.logout(session, me(request).session_id)
        await session.commit()
    response = web.HTTPSeeOther("/admin/login")
    response.del_cookie(SESSION_COOKIE, path="/admin")
    raise response


async def not_found(request: web.Request) -> web.StreamResponse:
    raise web.HTTPNotFound(text="Không có trang này.")


def setup_dashboard(app: web.Application, bot: Any, routes: Iterable[Route]) -> None:
    """Add /admin and ``routes`` (the pages declared with ``@page``) to the one web application."""
    app[BOT_KEY] = bot
    app.router.add_get("/admin/login", login_page)
    app.router.add_post("/admin/login", login_submit)
    app.router.add_static("/admin/static", HERE / "static")
    seen: set[tuple[str, str]] = set()
    for route in [*OWN, *routes]:
        if (route.method, route.path) in seen:
            continue
        seen.add((route.method, route.path))
        app.router.add_route(route.method, route.path, guarded(route))


def now_local() -> dt.datetime:
    return local(utcnow())
