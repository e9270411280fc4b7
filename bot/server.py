"""The one aiohttp server: the web chat, health checks, and the background jobs of a bot.

Channels with webhooks (Telegram, Zalo) add their routes to this same application.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from pathlib import Path

from aiohttp import web
from sqlalchemy import text

from bot.app import BotApp
from bot.channels import Channel, build_channels
from bot.messages import MAX_TEXT, Incoming, Reply
from bot.render import to_plain

log = logging.getLogger(__name__)
APP_KEY = web.AppKey("bot", BotApp)
STATIC = Path(__file__).parent / "web"
SESSION_COOKIE = "cchc_sid"
MAX_BODY = 16 * 1024


def _reply_json(reply: Reply) -> dict:
    return {
        "text": to_plain(reply.text),
        "markdown": reply.text,
        "buttons": [
            [{"label": b.label, "payload": b.payload, "url": b.url} for b in row] for row in reply.buttons
        ],
    }


async def chat_page(request: web.Request) -> web.StreamResponse:
    return web.FileResponse(STATIC / "chat.html")


async def chat_api(request: web.Request) -> web.Response:
    """POST {"text": ...} or {"payload": ...}; the browser's session id lives in a cookie."""
    bot = request.app[APP_KEY]
    try:
        body = await request.json()
    except ValueError:
        raise web.HTTPBadRequest(text="JSON không hợp lệ") from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text="cần một đối tượng JSON")
    message_text, payload = body.get("text", ""), body.get("payload")
    if not isinstance(message_text, str) or (payload is not None and not isinstance(payload, str)):
        raise web.HTTPBadRequest(text="'text' và 'payload' phải là chuỗi")
    sid = request.cookies.get(SESSION_COOKIE)
    fresh = not sid or len(sid) != 32 or not sid.isalnum()
    if fresh:
        sid = secrets.token_hex(16)
    response = await bot.handle(Incoming("web", sid, text=message_text[:MAX_TEXT], payload=payload))
    out = web.json_response({"outcome": response.outcome, "replies": [_reply_json(r) for r in response.replies]})
    if fresh:
        out.set_cookie(SESSION_COOKIE, sid, httponly=True, samesite="Lax", max_age=180 * 86400)
    return out


async def healthz(request: web.Request) -> web.Response:
    bot = request.app[APP_KEY]
    snapshot = bot.content.current
    database = "ok"
    try:
        async with bot.database.session() as session:
            await session.exec(text("SELECT 1"))  # type: ignore[call-overload]
    except Exception as exc:  # any failure means "not ready", reported, never raised
        database = f"lỗi: {type(exc).__name__}"
    content_errors = sum(1 for p in bot.content.last_problems if not p.warning)
    status = "ok" if database == "ok" and not content_errors else "degraded"
    return web.json_response(
        {
            "status": status,
            "database": database,
            "content": {
                "entries": len(snapshot.pack.entries),
                "loaded_at": snapshot.pack.loaded_at.isoformat(),
                "errors_in_latest_edit": content_errors,
            },
        },
        status=200,
    )


def make_web_app(bot: BotApp, channels: list[Channel] = ()) -> web.Application:
    app = web.Application(client_max_size=MAX_BODY)
    app[APP_KEY] = bot
    for channel in channels:
        channel.setup_routes(app)
    app.router.add_get("/", chat_page)
    app.router.add_post("/api/chat", chat_api)
    app.router.add_get("/healthz", healthz)
    app.router.add_static("/static", STATIC)
    return app


async def _daily_purge(bot: BotApp) -> None:
    while True:
        try:
            removed = await bot.purge_old_questions()
            if removed:
                log.info("retention: removed %d old question logs", removed)
        except Exception:
            log.exception("retention purge failed")
        await asyncio.sleep(24 * 3600)


async def serve(bot: BotApp, host: str, port: int) -> None:
    """Run until interrupted; background jobs stop with the server."""
    channels = build_channels(bot)
    runner = web.AppRunner(make_web_app(bot, channels))
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    for channel in channels:
        await channel.start()
    tasks = [asyncio.create_task(_daily_purge(bot))]
    if bot.settings.content.reload:
        tasks.append(asyncio.create_task(bot.content.watch(bot.settings.content.reload_interval)))
    names = ", ".join(["web", *(c.name for c in channels)])
    print(f"CCHC Bot đang chạy: http://{host}:{port}/  kênh: {names}  (Ctrl+C để dừng)", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        for channel in channels:
            await channel.stop()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await runner.cleanup()
        await bot.close()
