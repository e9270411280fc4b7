"""The web chat: the page at ``/``, the embeddable ``/widget.js`` and their API, ``/api/chat``.

One script (``bot/web/widget.js``) draws the chat both on the bot's own page and on a commune
portal that embeds it with ``<script src="https://bot.../widget.js" defer></script>``.

A browser's conversation is keyed by a random session id (kept server-side as the web
channel's user id, so its state lives in the database like any channel's). The script keeps
the id in ``localStorage`` and sends it in the ``X-CCHC-Session`` header: that works from a
portal on another origin, where a third-party cookie would be blocked. A cookie is still set
for the bot's own page (same origin), for browsers without storage.

A phone request button (``Button.request == "phone"``) has no platform behind it here: the
widget draws it as a button that invites the citizen to type the number (the core reads what
they type), so nothing is ever vouched for on the web.

Cross-origin calls are allowed only from ``server.widget_origins`` (CORS, without
credentials); a request from any other origin is refused, so another site cannot post into a
citizen's conversation.
"""

from __future__ import annotations

import base64
import json
import logging
import secrets
from pathlib import Path
from urllib.parse import urlsplit

from aiohttp import web

from bot.channels.html import to_html
from bot.http import read_body
from bot.messages import MAX_TEXT, Button, Incoming, Reply
from bot.pressure import BUSY_TEXT, WEB_CHAT_MAX_BYTES, Backlog
from bot.render import to_plain

log = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "web"
SESSION_COOKIE = "cchc_sid"
SESSION_HEADER = "X-CCHC-Session"
SESSION_MAX_AGE = 180 * 86400
WEB_BACKLOG_KEY = web.AppKey("web_backlog", Backlog)  # questions being answered


def _valid_sid(sid: str | None) -> bool:
    return sid is not None and len(sid) == 32 and all(c in "0123456789abcdef" for c in sid)


def _button_json(button: Button) -> dict:
    out = {"label": button.label, "payload": button.payload, "url": button.url}
    if button.request is not None:
        out["request"] = button.request
    return out


def reply_json(reply: Reply) -> dict:
    """A reply for the widget: plain text, safe HTML (everything escaped but our own tags),
    buttons (a choice's payload, a link's url, or a request: "phone") and an image, if any."""
    out: dict = {
        "text": to_plain(reply.text),
        "markdown": reply.text,
        "html": to_html(reply.text),
        "buttons": [
            [_button_json(b) for b in row] for row in reply.buttons
        ],
    }
    if reply.image is not None:
        out["image"] = "data:image/png;base64," + base64.b64encode(reply.image).decode()
    return out


def request_host(request: web.Request, behind_proxy: bool) -> str:
    if behind_proxy and request.headers.get("X-Forwarded-Host"):
        return request.headers["X-Forwarded-Host"].split(",")[0].strip()
    return request.host


def cross_origin(request: web.Request, behind_proxy: bool = False) -> str | None:
    """The request's Origin when it is another site than the bot itself, else None."""
    origin = request.headers.get("Origin")
    if origin is None:
        return None
    if origin == "null" or urlsplit(origin).netloc.lower() != request_host(request, behind_proxy).lower():
        return origin
    return None


def origin_allowed(origin: str, allowed: list[str]) -> bool:
    return "*" in allowed or origin.rstrip("/") in {a.rstrip("/") for a in allowed}


def _cors_headers(origin: str) -> dict[str, str]:
    return {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Allow-Methods": "POST, OPTIONS",
        "Access-Control-Allow-Headers": f"Content-Type, {SESSION_HEADER}",
        "Access-Control-Max-Age": "600",
        "Vary": "Origin",
    }


def _refuse_origin(origin: str) -> web.Response:
    log.info("web chat: refused a request from origin %s (not in server.widget_origins)", origin)
    return web.json_response(
        {"error": "Trang này chưa được phép nhúng trợ lý ảo (server.widget_origins)."},
        status=403, headers={"Vary": "Origin"})


async def chat_page(request: web.Request) -> web.StreamResponse:
    return web.FileResponse(STATIC / "chat.html", headers={"Cache-Control": "no-cache"})


async def widget_js(request: web.Request) -> web.StreamResponse:
    return web.FileResponse(STATIC / "widget.js", headers={
        "Content-Type": "text/javascript; charset=utf-8",
        "Cache-Control": "public, max-age=300",
    })


def make_handlers(bot_key: web.AppKey):  # noqa: ANN201 - (preflight, chat_api)
    """The API handlers, reading the bot from ``request.app[bot_key]``."""

    async def preflight(request: web.Request) -> web.Response:
        settings = request.app[bot_key].settings.server
        origin = cross_origin(request, settings.behind_proxy)
        if origin is None:
            return web.Response(status=204)
        if not origin_allowed(origin, settings.widget_origins):
            return _refuse_origin(origin)
        return web.Response(status=204, headers=_cors_headers(origin))

    async def chat_api(request: web.Request) -> web.Response:
        """POST {"text": ...} or {"payload": ...}; the session id comes in the X-CCHC-Session
        header (the widget) or the cchc_sid cookie (the bot's own page)."""
        bot = request.app[bot_key]
        settings = bot.settings.server
        origin = cross_origin(request, settings.behind_proxy)
        if origin is not None and not origin_allowed(origin, settings.widget_origins):
            return _refuse_origin(origin)
        headers = _cors_headers(origin) if origin is not None else {}
        try:
            body = json.loads(await read_body(request, WEB_CHAT_MAX_BYTES))
        except ValueError:  # not JSON, or not UTF-8
            raise web.HTTPBadRequest(text="JSON không hợp lệ", headers=headers) from None
        if not isinstance(body, dict):
            raise web.HTTPBadRequest(text="cần một đối tượng JSON", headers=headers)
        message_text, payload = body.get("text", ""), body.get("payload")
        if not isinstance(message_text, str) or (payload is not None and not isinstance(payload, str)):
            raise web.HTTPBadRequest(text="'text' và 'payload' phải là chuỗi", headers=headers)
        sid = request.headers.get(SESSION_HEADER)
        if not _valid_sid(sid) and origin is None:
            sid = request.cookies.get(SESSION_COOKIE)
        fresh = not _valid_sid(sid)
        if fresh:
            sid = secrets.token_hex(16)
        assert sid is not None
        backlog = request.app[WEB_BACKLOG_KEY]
        if not backlog.enter():  # too many questions waiting: ask to retry rather than pile up
            return web.json_response({"error": BUSY_TEXT, "session": sid}, status=503,
                                     headers={**headers, "Retry-After": "5"})
        try:
            response = await bot.handle(Incoming("web", sid, text=message_text[:MAX_TEXT], payload=payload))
        finally:
            backlog.leave()
        out = web.json_response(
            {"outcome": response.outcome, "session": sid,
             "replies": [reply_json(r) for r in response.replies]},
            headers=headers)
        if origin is None and request.cookies.get(SESSION_COOKIE) != sid:
            out.set_cookie(SESSION_COOKIE, sid, httponly=True, samesite="Lax", max_age=SESSION_MAX_AGE,
                           secure=request.secure or request.headers.get("X-Forwarded-Proto") == "https")
        return out

    return preflight, chat_api


def setup_webchat(app: web.Application, bot_key: web.AppKey) -> None:
    server = app[bot_key].settings.server
    app[WEB_BACKLOG_KEY] = Backlog(server.max_backlog, server.backlog_degraded)
    preflight, chat_api = make_handlers(bot_key)
    app.router.add_get("/", chat_page)
    app.router.add_get("/widget.js", widget_js)
    app.router.add_post("/api/chat", chat_api)
    app.router.add_route("OPTIONS", "/api/chat", preflight)
