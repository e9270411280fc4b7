"""The composition root: everything the bot is made of, built once, in one place, from Settings.

Profiles: ``build_app(persistent=False)`` is the read-only bot of one-off commands (``ask``);
``build_app()`` migrates and records; ``serve`` runs it: channels, web routes, the outbox's
sender, and every periodic job, started and stopped in one declared order. The conversation
features (``handlers``) meet the core (``bot.app``) and the platform (``bot.server``) here.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
import socket
from collections.abc import Callable
from typing import Any

from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError

from bot import http
from bot.app import DATA_DIR, BotApp, match_params
from bot.channels import build_channels
from bot.config import Settings, pseudonym_salt
from bot.content import revisions
from bot.content.loader import TIMEZONE
from bot.content.store import ContentStore
from bot.jobs import Jobs
from bot.logging_setup import announce
from bot.outbox.lease import DatabaseLease
from bot.outbox.runtime import BroadcastWorkers
from bot.ports import Channel
from bot.pressure import UserRateLimiter
from bot.server import JOBS_KEY, LISTEN_BACKLOG, WORKER_KEY, make_web_app
from bot.storage import db as storage
from handlers import build_dispatcher
from handlers.contest import service as contest
from handlers.feedback import service as feedback
from handlers.lookups import notices

log = logging.getLogger(__name__)


def build_app(settings: Settings, *, persistent: bool = True,
              migrate: Callable[[str], None] = storage.upgrade) -> BotApp:
    """Everything the bot needs, built in one place.

    ``persistent=False`` builds a read-only bot for one-off questions: no migrations and no
    salt file, since nothing will be recorded. ``migrate``: how the schema is brought up to
    date (``cchc-bot run`` does it in a child process, see ``storage.upgrade_apart``).
    """
    content = ContentStore(
        settings.content.path, settings.office.template_values(), match_params(settings),
        apart_from_files=settings.content.separate_process_from or None,
    )
    for problem in content.load():
        log.warning("content: %s", problem)
    if persistent:
        migrate(settings.database.url)
    database = storage.Database(settings.database.url, echo=settings.database.echo)
    return BotApp(
        settings=settings,
        content=content,
        database=database,
        dispatcher=build_dispatcher(),
        salt=pseudonym_salt(settings, DATA_DIR) if persistent else os.urandom(32),
        fetch=http.fetch,
        outbox_effects={**feedback.outbox_effects(settings), **notices.OUTBOX_EFFECTS},
        limiter=UserRateLimiter(settings.server.user_messages_per_minute, settings.server.user_burst),
    )


def schedule(jobs: Jobs, bot: BotApp, channels: list[Channel]) -> DatabaseLease:
    """Every periodic job of a serving process, listed here. Ticket checks and the retention
    purges (questions, contest details) run in one process of the deployment at a time (the "maintenance" lease), or officials
    would get each reminder once per process; the others are safe in every process."""
    settings = bot.settings
    maintenance = DatabaseLease(bot.database.engine, "maintenance", ttl=settings.broadcast.lease_seconds)
    jobs.keep(maintenance)
    jobs.every("retention:purge", 24 * 3600, bot.purge_old_questions, lease=maintenance,
               first=5.0)  # once the lease is taken
    jobs.every("feedback:check-tickets", settings.feedback.check_interval_minutes * 60,
               lambda: feedback.check_tickets(bot), lease=maintenance,
               first=min(60.0, settings.feedback.check_interval_minutes * 60))  # channels first
    jobs.every("contest:erase-details", 6 * 3600,
               lambda: contest.erase_due(bot.database, bot.content.root, settings.contest.retention_days),
               lease=maintenance, first=30.0)
    running = {c.name: c for c in channels}
    jobs.every("lookups:dossier-notices", settings.lookup.notify_interval,
               lambda: notices.notice_pass(bot.database, running, settings))
    # Every process has its own copy of the content and follows the newest published revision
    # in the database; with content.reload, files edited on disk are taken in as revisions.
    jobs.every("content:follow", settings.content.reload_interval, revisions.follower(bot).sync,
               first=settings.content.reload_interval)  # serve synced once before it starts
    for channel in channels:
        for name, seconds, job in channel.periodic():
            jobs.every(name, seconds, job, first=60.0)  # not during start-up
    return maintenance


async def serve(bot: BotApp, host: str, port: int, sock: socket.socket | None = None,
                worker: int = 0) -> None:
    """Run until SIGTERM or Ctrl+C. ``sock``: a listening socket shared by several worker
    processes (``serve_workers``); ``worker``: this one's index, shown by /healthz and /metrics.
    Only worker 0 polls Telegram (one poller per bot).

    Everything starts in the order below and stops in the reverse order (an AsyncExitStack):
    the content is brought to the newest published revision before anything serves it (its
    poll is then a job of the one scheduler); the database closes last; the channels stop after the sender has finished its sends in
    flight; the sender stops after the web server has finished the requests in flight."""
    if worker and bot.settings.server.telegram_polling:
        server = bot.settings.server.model_copy(update={"telegram_polling": False})
        bot.settings = bot.settings.model_copy(update={"server": server})
    settings = bot.settings
    channels = build_channels(bot)
    bot.channels = {c.name: c for c in channels}  # how the bot reaches users outside a turn
    app = make_web_app(bot, channels)
    app[WORKER_KEY] = worker
    async with contextlib.AsyncExitStack() as stack:
        stack.push_async_callback(bot.close)
        await _follow_content(bot)  # the newest published content, from the first request on
        for channel in channels:  # stopped after the sender: it may still be sending through them
            await channel.start()
            stack.push_async_callback(channel.stop)
        jobs = Jobs(TIMEZONE)  # the one scheduler: periodic jobs and the campaign calendar
        maintenance = schedule(jobs, bot, channels)
        stack.push_async_callback(_release, maintenance)  # another process takes over at once
        jobs.start()
        stack.push_async_callback(jobs.stop)  # before the database closes: runs in progress end
        broadcasts = BroadcastWorkers(bot, channels, jobs.scheduler)  # the outbox's sender, campaigns
        await broadcasts.start()
        stack.push_async_callback(broadcasts.stop)
        app[JOBS_KEY].update(jobs=jobs, broadcasts=broadcasts)
        # On shutdown, in-flight requests get this long to finish before they are cancelled.
        timeout = settings.server.shutdown_timeout
        quiet: dict[str, Any] = {} if settings.server.access_log else {"access_log": None}
        runner = web.AppRunner(app, shutdown_timeout=timeout, **quiet)
        await runner.setup()
        stack.push_async_callback(runner.cleanup)  # first to stop: no new requests
        site = web.SockSite(runner, sock, shutdown_timeout=timeout) if sock is not None else \
            web.TCPSite(runner, host, port, shutdown_timeout=timeout)
        await site.start()
        # What start-up built (libraries, the content and its index) lives as long as the
        # process: frozen out of the collector, full collections stop walking it (each took
        # ~70 ms at 10k entries: a p99 spike under load). Content replaced by a reload is still
        # freed: it is released by reference counting, it holds no cycles.
        gc.collect()
        gc.freeze()
        _announce(bot, host, port, worker, channels)
        stopping = asyncio.Event()  # SIGTERM (systemd, docker stop) stops as gracefully as Ctrl+C
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):  # not the main thread
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stopping.set)
        await stopping.wait()
    log.info("worker %d (pid %d) stopped", worker, os.getpid())


async def _follow_content(bot: BotApp) -> None:
    """This process's follower of the content revisions (made here, in the worker: each has a
    folder of its own), synced once; without the database the files on disk are served."""
    try:
        await revisions.follower(bot).sync()
    except (SQLAlchemyError, OSError, revisions.RevisionError):
        log.exception("content: could not load the newest revision; serving the files on disk")


async def _release(lease: DatabaseLease) -> None:
    with contextlib.suppress(Exception):  # not released: another process takes over on expiry
        await lease.release()


def _announce(bot: BotApp, host: str, port: int, worker: int, channels: list[Channel]) -> None:
    names = ", ".join(["web", *(c.name for c in channels)])
    if worker == 0:
        announce(f"CCHC Bot đang chạy: http://{host}:{port}/  kênh: {names}  (Ctrl+C để dừng)")
        if bot.settings.dashboard.enabled:
            announce(f"Trang quản trị: http://{host}:{port}/admin  (tạo tài khoản: cchc-bot admin create-user)")
    log.info("worker %d (pid %d) serving", worker, os.getpid())


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
    announce(f"CCHC Bot: {count} tiến trình trên http://{host}:{port}/")
    return supervise(count, lambda index: asyncio.run(serve(bot, host, port, listening, index)),
                     on_stop=listening.close)
