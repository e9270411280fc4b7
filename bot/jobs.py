"""Every periodic job of a process, on one APScheduler.

A job that only one process of the deployment may run (ticket checks, the retention purge) is
guarded by a database lease: the scheduler renews the lease as a job of its own, and the guarded
job runs only while this process holds it. A job that fails is logged and tried again at its
next time; ``health()`` says how each job last ended, for /healthz.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Awaitable, Callable

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from bot.outbox.lease import DatabaseLease

log = logging.getLogger(__name__)
# APScheduler says "Running job ... executed successfully" at INFO on every run: nothing an
# operator acts on. Its warnings (a missed run, a job still running) stay.
logging.getLogger("apscheduler").setLevel(logging.WARNING)

Job = Callable[[], Awaitable[object]]


class Jobs:
    def __init__(self, timezone: dt.tzinfo = dt.UTC) -> None:
        self.scheduler = AsyncIOScheduler(timezone=timezone)
        self.state: dict[str, str] = {}  # job name -> "running" or how its last run failed
        self._running: set[asyncio.Task[object]] = set()  # the runs in progress, for stop()

    def every(self, name: str, seconds: float, job: Job, *, lease: DatabaseLease | None = None,
              first: float | None = None) -> None:
        """Run ``job`` every ``seconds`` (the first time after ``first`` seconds, at once by
        default); with ``lease``, only while this process holds it."""

        async def run() -> None:
            if lease is not None and not lease.held:
                return
            task = asyncio.current_task()
            if task is not None:
                self._running.add(task)
            try:
                await job()
            except Exception as exc:  # logged and tried again at its next time
                log.exception("background job %s failed", name)
                self.state[name] = f"failed: {type(exc).__name__}"
            else:
                self.state[name] = "running"
            finally:
                if task is not None:
                    self._running.discard(task)

        self.state[name] = "running"
        start = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=first or 0.0)
        self.scheduler.add_job(run, IntervalTrigger(seconds=seconds), id=name, name=name,
                               next_run_time=start, max_instances=1, coalesce=True,
                               misfire_grace_time=None)

    def keep(self, lease: DatabaseLease) -> None:
        """Take and renew ``lease`` for as long as this process runs."""

        async def renew() -> None:
            try:
                await lease.acquire()
            except Exception as exc:  # the database is away: not held (its jobs wait) until back
                log.warning("lease %s: could not renew: %s", lease.name, exc)
                lease.held = False

        self.every(f"lease:{lease.name}", lease.ttl.total_seconds() / 3, renew)

    def start(self) -> None:
        self.scheduler.start()

    async def stop(self, timeout: float = 5.0) -> None:
        """No new runs; the runs in progress get ``timeout`` seconds to finish, then are cancelled
        and awaited, so none is left using the database after it closes (a run cancelled later,
        mid-statement, left SQLite's connection thread behind and the process never exited)."""
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        running = set(self._running)
        if not running:
            return
        _, late = await asyncio.wait(running, timeout=timeout)
        for task in late:
            task.cancel()
        for task in late:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    def health(self) -> dict[str, str]:
        stopped = not self.scheduler.running
        return {name: "stopped" if stopped else state for name, state in self.state.items()}
