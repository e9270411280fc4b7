"""The one aiohttp server: the web chat and its widget, the officials' dashboard (/admin),
health checks (/healthz, /livez), Prometheus metrics (/metrics), and the background jobs.

Channels with webhooks (Telegram, Zalo) add their routes to this same application.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from pathlib import Path

from aiohttp import web
from sqlalchemy import text

from bot import metrics
from bot.app import BotApp
from bot.broadcasts.runtime import BroadcastWorkers
from bot.channels import Channel, build_channels
from bot.lookups.notices import notice_loop
from bot.webchat import (  # noqa: F401 - SESSION_COOKIE: re-exported
    SESSION_COOKIE,
    WEB_BACKLOG_KEY,
    setup_webchat,
)

log = logging.getLogger(__name__)
APP_KEY = web.AppKey("bot", BotApp)
CHANNELS_KEY = web.AppKey("channels", list)
JOBS_KEY = web.AppKey("jobs", dict)  # background work of this process, by name (set by serve)
STATIC = Path(__file__).parent / "web"
MAX_BODY = 64 * 1024  # a dashboard form with a 4,000-character announcement fits
HEALTH_DB_TIMEOUT = 3.0  # seconds: a database that does not answer is reported, not waited for


async def livez(request: web.Request) -> web.Response:
    """Liveness: the process answers (its event loop is not stuck)."""
    return web.json_response({"live": True})


async def healthz(request: web.Request) -> web.Response:
    """Liveness and readiness: 200 while this process can serve citizens (content loaded), 503
    when it cannot. ``status`` is "degraded" when something needs a look without stopping the
    service: the database unreachable (answers come from the in-memory content meanwhile),
    content errors in the latest edit, a channel (or its backlog past server.backlog_degraded),
    a background job, or no process holding the broadcast sender or campaign scheduler lease
    this process is meant to run."""
    bot = request.app[APP_KEY]
    snapshot = bot.content.current
    database = "ok"
    holders: dict[str, str | None] = {}
    try:
        async with asyncio.timeout(HEALTH_DB_TIMEOUT), bot.database.session() as session:
            await session.exec(text("SELECT 1"))  # type: ignore[call-overload]
            jobs = request.app.get(JOBS_KEY, {})
            if jobs.get("broadcasts") is not None:
                from bot.broadcasts.service import lease_holder

                holders = {name: await lease_holder(session, name) for name in ("sender", "scheduler")}
    except Exception as exc:  # any failure means "not ready", reported, never raised
        database = f"lỗi: {type(exc).__name__}"
    content_errors = sum(1 for p in bot.content.last_problems if not p.warning)
    # Without the database the bot still answers from the in-memory content (issue 10):
    # degraded, not unavailable; it reconnects by itself.
    ready = bool(snapshot.pack.entries)
    degraded = bool(content_errors) or database != "ok"
    channels = {c.name: c.health() for c in request.app.get(CHANNELS_KEY, []) if hasattr(c, "health")}
    if WEB_BACKLOG_KEY in request.app:
        web_backlog = request.app[WEB_BACKLOG_KEY].health()
        channels["web"] = {"status": "degraded" if web_backlog["backlogged"] else "ok", **web_backlog}
    degraded |= any(c.get("status") != "ok" for c in channels.values())
    background, broadcast = _background_health(request.app.get(JOBS_KEY, {}), holders)
    degraded |= any(state != "running" for state in background.values())
    degraded |= any(part["here"] and part["holder"] is None for part in broadcast.values())
    return web.json_response(
        {
            "status": "unavailable" if not ready else "degraded" if degraded else "ok",
            "live": True,
            "ready": ready,
            "database": database,
            "content": {
                "entries": len(snapshot.pack.entries),
                "loaded_at": snapshot.pack.loaded_at.isoformat(),
                "errors_in_latest_edit": content_errors,
            },
            "channels": channels,
            "background": background,
            "broadcast": broadcast,
        },
        status=200 if ready else 503,
        headers={"Cache-Control": "no-store"},
    )


def _background_health(jobs: dict, holders: dict[str, str | None]) -> tuple[dict, dict]:
    """Each background task of this process (running, or how it ended), and for the broadcast
    sender and campaign scheduler: whether this process runs them and who holds their lease."""
    background = {}
    for name, task in jobs.items():
        if not isinstance(task, asyncio.Task):
            continue
        if not task.done():
            background[name] = "running"
        elif task.cancelled():
            background[name] = "cancelled"
        else:
            error = task.exception()
            background[name] = f"stopped: {type(error).__name__}" if error else "stopped"
    workers = jobs.get("broadcasts")
    broadcast = {}
    if workers is not None:
        for name in ("sender", "scheduler"):
            part = getattr(workers, name, None)
            broadcast[name] = {"here": part is not None, "holder": holders.get(name),
                               "held_here": bool(part is not None and part.lease.held)}
    return background, broadcast


async def metrics_page(request: web.Request) -> web.Response:
    """Prometheus text format: this process's counters and the database-wide gauges."""
    await metrics.refresh_from_database(request.app[APP_KEY].database)
    return web.Response(body=metrics.render(), headers={"Content-Type": metrics.CONTENT_TYPE})


def _webhook_errors(webhooks: dict[str, str]):  # noqa: ANN202 - an aiohttp middleware
    """Count webhook requests answered with an error (``cchc_webhook_errors``)."""

    @web.middleware
    async def count(request: web.Request, handler):  # noqa: ANN001, ANN202
        channel = webhooks.get(request.path)
        if channel is None:
            return await handler(request)
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            if exc.status >= 400:
                metrics.webhook_error(channel, str(exc.status))
            raise
        except Exception:
            metrics.webhook_error(channel, "exception")
            raise
        if response.status >= 400:
            metrics.webhook_error(channel, str(response.status))
        return response

    return count


def make_web_app(bot: BotApp, channels: list[Channel] = ()) -> web.Application:
    settings = bot.settings
    paths = {"telegram": settings.telegram.webhook_path, "zalo": settings.zalo.webhook_path}
    webhooks = {paths[c.name]: c.name for c in channels if c.name in paths}
    app = web.Application(client_max_size=MAX_BODY, middlewares=[_webhook_errors(webhooks)])
    app[APP_KEY] = bot
    app[CHANNELS_KEY] = list(channels)
    app[JOBS_KEY] = {}
    for channel in channels:
        channel.setup_routes(app)
    setup_webchat(app, APP_KEY)  # /, /widget.js, /api/chat
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/livez", livez)
    app.router.add_get("/metrics", metrics_page)
    app.router.add_static("/static", STATIC)
    if settings.dashboard.enabled:
        from bot.dashboard.web import setup_dashboard

        setup_dashboard(app, bot)  # /admin
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


async def _ticket_checks(bot: BotApp) -> None:
    """Feedback tickets: forward missed ones, flag overdue ones to officials (issue 8)."""
    from bot.feedback import check_tickets

    interval = bot.settings.feedback.check_interval_minutes * 60
    await asyncio.sleep(min(60.0, interval))  # not during start-up: the channels come up first
    while True:
        try:
            done = await check_tickets(bot)
            if any(done.values()):
                log.info("tickets: %s", done)
        except Exception:
            log.exception("ticket check failed")
        await asyncio.sleep(interval)


async def _start_channel(channel: Channel, bot: BotApp) -> None:
    """Start a channel; with ``server.telegram_polling = false`` Telegram in polling mode only
    gets ready to send (another process polls: Telegram allows one poller per bot)."""
    if channel.name == "telegram" and not bot.settings.server.telegram_polling and \
            not getattr(channel, "webhook", False):
        await channel.application.initialize()  # type: ignore[attr-defined]
        log.info("telegram: polling is off in this process (server.telegram_polling); sending only")
        return
    await channel.start()


async def serve(bot: BotApp, host: str, port: int) -> None:
    """Run until interrupted; background jobs stop with the server."""
    channels = build_channels(bot)
    bot.channels = {c.name: c for c in channels}  # how the bot reaches users outside a turn
    app = make_web_app(bot, channels)
    # On shutdown, in-flight requests get this long to finish before they are cancelled.
    runner = web.AppRunner(app, shutdown_timeout=bot.settings.server.shutdown_timeout)
    await runner.setup()
    site = web.TCPSite(runner, host, port, shutdown_timeout=bot.settings.server.shutdown_timeout)
    await site.start()
    for channel in channels:
        await _start_channel(channel, bot)
    broadcasts = BroadcastWorkers(bot, channels)  # the sender and the campaign scheduler (issue 6)
    await broadcasts.start()
    tasks = [asyncio.create_task(_daily_purge(bot)), asyncio.create_task(_ticket_checks(bot))]
    tasks.append(asyncio.create_task(  # dossier status-change messages (issue 7)
        notice_loop(bot.database, {c.name: c for c in channels}, bot.settings)))
    if bot.settings.content.reload:
        tasks.append(asyncio.create_task(bot.content.watch(bot.settings.content.reload_interval)))
    app[JOBS_KEY].update({task.get_coro().__qualname__: task for task in tasks}, broadcasts=broadcasts)
    names = ", ".join(["web", *(c.name for c in channels)])
    print(f"CCHC Bot đang chạy: http://{host}:{port}/  kênh: {names}  (Ctrl+C để dừng)", flush=True)
    if bot.settings.dashboard.enabled:
        print(f"Trang quản trị: http://{host}:{port}/admin  (tạo tài khoản: cchc-bot admin create-user)",
              flush=True)
    try:
        stopping = asyncio.Event()  # SIGTERM (systemd, docker stop) stops as gracefully as Ctrl+C
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):  # not the main thread
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stopping.set)
        await stopping.wait()
    finally:
        # First stop taking requests and let those in flight finish (they may still send through
        # the channels); then the sender finishes its batch, then the channels drain.
        await runner.cleanup()
        await broadcasts.stop()  # before the channels: the sender finishes its sends in flight
        for channel in channels:
            await channel.stop()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await bot.close()
