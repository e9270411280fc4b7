"""The one aiohttp server: the web chat and its widget, the officials' dashboard (/admin),
health checks (/healthz, /livez), Prometheus metrics (/metrics), and the background jobs.

Channels with webhooks (Telegram, Zalo) add their routes to this same application.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web
from sqlalchemy import text

from bot import metrics
from bot.app import BotApp
from bot.broadcasts.lease import DatabaseLease
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
            "worker": {"index": request.app.get(WORKER_KEY, 0), "pid": os.getpid()},
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


async def _keep_lease(lease: DatabaseLease) -> None:
    """Take and renew ``lease`` for as long as this process runs."""
    while True:
        try:
            await lease.acquire()
        except Exception as exc:  # the database is away: not held (jobs wait) until it is back
            log.warning("lease %s: could not renew: %s", lease.name, exc)
            lease.held = False
        await asyncio.sleep(lease.ttl.total_seconds() / 3)


async def _while_held(lease: DatabaseLease, every: float, job: Callable[[], Awaitable[object]]) -> None:
    """Run ``job`` every ``every`` seconds in the one process of the deployment that holds
    ``lease``; a process that takes the lease over runs it at once."""
    loop = asyncio.get_running_loop()
    last: float | None = None
    while True:
        if lease.held and (last is None or loop.time() - last >= every):
            last = loop.time()
            await job()
        await asyncio.sleep(min(every, lease.ttl.total_seconds() / 3))


async def _daily_purge(bot: BotApp, lease: DatabaseLease) -> None:
    async def purge() -> None:
        try:
            removed = await bot.purge_old_questions()
            if removed:
                log.info("retention: removed %d old question logs", removed)
        except Exception:
            log.exception("retention purge failed")

    await _while_held(lease, 24 * 3600, purge)


async def _ticket_checks(bot: BotApp, lease: DatabaseLease) -> None:
    """Feedback tickets: forward missed ones, flag overdue ones to officials (issue 8); in one
    process only, or officials would get each ticket and each reminder once per process."""
    from bot.feedback import check_tickets

    async def check() -> None:
        try:
            done = await check_tickets(bot)
            if any(done.values()):
                log.info("tickets: %s", done)
        except Exception:
            log.exception("ticket check failed")

    interval = bot.settings.feedback.check_interval_minutes * 60
    await asyncio.sleep(min(60.0, interval))  # not during start-up: the channels come up first
    await _while_held(lease, interval, check)


async def serve(bot: BotApp, host: str, port: int, sock: socket.socket | None = None,
                worker: int = 0) -> None:
    """Run until SIGTERM or Ctrl+C; background jobs stop with the server. ``sock``: a listening
    socket shared by several worker processes (``serve_workers``); ``worker``: this one's index,
    shown by /healthz and /metrics. Only worker 0 polls Telegram (one poller per bot)."""
    if worker and bot.settings.server.telegram_polling:
        server = bot.settings.server.model_copy(update={"telegram_polling": False})
        bot.settings = bot.settings.model_copy(update={"server": server})
    channels = build_channels(bot)
    bot.channels = {c.name: c for c in channels}  # how the bot reaches users outside a turn
    app = make_web_app(bot, channels)
    app[WORKER_KEY] = worker
    app.on_response_prepare.append(_name_worker)
    # On shutdown, in-flight requests get this long to finish before they are cancelled.
    timeout = bot.settings.server.shutdown_timeout
    runner = web.AppRunner(app, shutdown_timeout=timeout,
                           **({} if bot.settings.server.access_log else {"access_log": None}))
    await runner.setup()
    site = web.SockSite(runner, sock, shutdown_timeout=timeout) if sock is not None else \
        web.TCPSite(runner, host, port, shutdown_timeout=timeout)
    await site.start()
    for channel in channels:
        await channel.start()
    broadcasts = BroadcastWorkers(bot, channels)  # the sender and the campaign scheduler (issue 6)
    await broadcasts.start()
    # Ticket checks and the retention purge run in one process of the deployment at a time.
    maintenance = DatabaseLease(bot.database.engine, "maintenance", ttl=bot.settings.broadcast.lease_seconds)
    tasks = [asyncio.create_task(_keep_lease(maintenance)),
             asyncio.create_task(_daily_purge(bot, maintenance)),
             asyncio.create_task(_ticket_checks(bot, maintenance))]
    tasks.append(asyncio.create_task(  # dossier status-change messages (issue 7); safe in every process
        notice_loop(bot.database, {c.name: c for c in channels}, bot.settings)))
    if bot.settings.content.reload:  # every process has its own copy of the content
        tasks.append(asyncio.create_task(bot.content.watch(bot.settings.content.reload_interval)))
    app[JOBS_KEY].update({task.get_coro().__qualname__: task for task in tasks}, broadcasts=broadcasts)
    # What start-up built (libraries, the content and its index) lives as long as the process:
    # frozen out of the collector, full collections stop walking it (each took ~70 ms at 10k
    # entries: a p99 spike under load). Content replaced by a reload is still freed: it is
    # released by reference counting, it holds no cycles.
    gc.collect()
    gc.freeze()
    names = ", ".join(["web", *(c.name for c in channels)])
    if worker == 0:
        print(f"CCHC Bot đang chạy: http://{host}:{port}/  kênh: {names}  (Ctrl+C để dừng)", flush=True)
        if bot.settings.dashboard.enabled:
            print(f"Trang quản trị: http://{host}:{port}/admin  (tạo tài khoản: cchc-bot admin create-user)",
                  flush=True)
    log.info("worker %d (pid %d) serving", worker, os.getpid())
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
        with contextlib.suppress(Exception):  # another process takes over at once, or on expiry
            await maintenance.release()
        await bot.close()


def serve_workers(bot: BotApp, host: str, port: int, count: int) -> int:
    """Serve with ``count`` worker processes on one port; returns the exit code.

    The parent binds the port once and forks the workers, which inherit the socket and accept
    from its one queue (rather than each binding with SO_REUSEPORT): a busy worker leaves new
    connections to an idle one instead of a hash assigning them, connections waiting for a
    worker that dies are accepted by another instead of reset, the port stays open while a
    worker restarts, and a port already taken is reported once, before any worker starts.
    The parent built ``bot`` (content, migrations, salt) and never connected its async engine,
    so each worker opens its own database connections.
    """
    from bot.supervisor import supervise

    family = socket.AF_INET6 if ":" in host else socket.AF_INET  # an IPv6 address, e.g. "::"
    listening = socket.create_server((host, port), family=family, backlog=LISTEN_BACKLOG)
    print(f"CCHC Bot: {count} tiến trình trên http://{host}:{port}/", flush=True)
    return supervise(count, lambda index: asyncio.run(serve(bot, host, port, listening, index)),
                     on_stop=listening.close)
