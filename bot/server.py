"""The one aiohttp server: the web chat and its widget, the officials' dashboard (/admin),
health checks (/healthz, /livez) and Prometheus metrics (/metrics); every route listed here.

Channels with webhooks (Telegram, Zalo, Messenger) add their routes to this same application.
"""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path

from aiohttp import web
from sqlalchemy import text

from bot import metrics
from bot.app import BotApp
from bot.content import revisions
from bot.ports import Channel
from bot.webchat import (  # noqa: F401 - SESSION_COOKIE: re-exported
    SESSION_COOKIE,
    WEB_BACKLOG_KEY,
    setup_webchat,
)

log = logging.getLogger(__name__)
APP_KEY = web.AppKey("bot", BotApp)
CHANNELS_KEY = web.AppKey("channels", list)
JOBS_KEY = web.AppKey("jobs", dict)  # "jobs": the periodic Jobs, "broadcasts": the sender (serve)
WORKER_KEY = web.AppKey("worker", int)  # this process's index among the workers (set by serve)
LISTEN_BACKLOG = 128  # connections waiting to be accepted, as aiohttp's own default
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
                from handlers.announcements.service import lease_holder

                holders = {name: await lease_holder(session, name) for name in ("sender", "scheduler")}
    except Exception as exc:  # any failure means "not ready", reported, never raised
        database = f"lỗi: {type(exc).__name__}"
    content_errors = sum(1 for p in bot.content.last_problems if not p.warning)
    # Without the database the bot still answers from the in-memory content:
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
                "revision": revisions.follower(bot).loaded,  # the content revision served (0: files)
            },
            "channels": channels,
            "background": background,
            "broadcast": broadcast,
            "worker": {"index": request.app.get(WORKER_KEY, 0), "pid": os.getpid()},
        },
        status=200 if ready else 503,
        headers={"Cache-Control": "no-store"},
    )


def _background_health(jobs: dict, holders: dict[str, str | None]) -> tuple[dict, dict]:
    """Each periodic job of this process (running, or how its last run failed), and for the
    broadcast sender and campaign scheduler: whether this process runs them and who holds
    their lease."""
    periodic = jobs.get("jobs")
    background = periodic.health() if periodic is not None else {}
    workers = jobs.get("broadcasts")
    broadcast = {}
    if workers is not None:
        for name in ("sender", "scheduler"):
            part = getattr(workers, name, None)
            broadcast[name] = {"here": part is not None, "holder": holders.get(name),
                               "held_here": bool(part is not None and part.lease.held)}
    return background, broadcast


async def metrics_page(request: web.Request) -> web.Response:
    """Prometheus text format: this process's counters and the database-wide gauges. With
    several workers each scrape reaches one of them: ``cchc_worker`` says which."""
    await metrics.refresh_from_database(request.app[APP_KEY].database)
    worker = (f"# HELP cchc_worker The worker process that answered this scrape.\n"
              f"# TYPE cchc_worker gauge\n"
              f'cchc_worker{{index="{request.app.get(WORKER_KEY, 0)}",pid="{os.getpid()}"}} 1.0\n')
    return web.Response(body=metrics.render() + worker.encode(), headers={"Content-Type": metrics.CONTENT_TYPE})


async def _name_worker(request: web.Request, response: web.StreamResponse) -> None:
    """``X-CCHC-Worker: index/pid`` on every response: which worker process answered."""
    response.headers["X-CCHC-Worker"] = f"{request.app[WORKER_KEY]}/{os.getpid()}"


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
    paths = {"telegram": settings.telegram.webhook_path, "zalo": settings.zalo.webhook_path,
             "messenger": settings.messenger.webhook_path}
    webhooks = {paths[c.name]: c.name for c in channels if c.name in paths}
    app = web.Application(client_max_size=MAX_BODY, middlewares=[_webhook_errors(webhooks)])
    app[APP_KEY] = bot
    app[CHANNELS_KEY] = list(channels)
    app[JOBS_KEY] = {}
    app[WORKER_KEY] = 0  # this process's index among the workers (serve sets it)
    app.on_response_prepare.append(_name_worker)
    for channel in channels:
        channel.setup_routes(app)
    setup_webchat(app, APP_KEY)  # /, /widget.js, /api/chat
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/livez", livez)
    app.router.add_get("/metrics", metrics_page)
    app.router.add_static("/static", STATIC)
    if settings.dashboard.enabled:
        from bot.dashboard import contests, editor, pages
        from bot.dashboard.web import setup_dashboard

        # /admin: the officials' pages, the contests' and the editors' content pages, each declared with @page
        setup_dashboard(app, bot, [*pages.ROUTES, *contests.ROUTES, *editor.ROUTES])
    return app
