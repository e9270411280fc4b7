"""The sender: works the outbox so every recipient gets a broadcast once, as fast as allowed.

1. Activation: a ``scheduled`` broadcast that is due (and outside quiet hours, unless urgent)
   becomes ``sending`` in the same transaction that writes its delivery rows, one per active,
   reachable subscriber on each requested channel: ``pending``, or ``ineligible`` at once for a
   channel that cannot push (the web chat) and Zalo users outside the 7-day window.
2. Claims: per channel, up to ``batch_size`` rows go ``pending`` -> ``sending`` in one
   statement (``FOR UPDATE SKIP LOCKED`` on PostgreSQL; on SQLite the UPDATE itself is atomic),
   which also checks that this process still holds the sender lease.
3. Sends: the claimed rows go to their channel concurrently; each channel's own limiter keeps
   to the platform's rate (Telegram about 30/s, Zalo 4,000/min), so the sender only has to keep
   enough in flight to saturate it.
4. Outcomes are recorded within moments: ``retry`` (429, 5xx) goes back to ``pending`` with a
   growing delay up to ``max_attempts``; ``blocked`` also ends the user's subscriptions.
5. Rows still ``sending`` when a sender dies are, for whoever takes the lease next, ``unknown``:
   reported, never sent again by themselves. At most ``batch_size`` per channel can be in it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from sqlalchemy import (
    DateTime,
    Integer,
    String,
    and_,
    bindparam,
    case,
    exists,
    func,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.clock import as_utc
from bot.config import Settings
from bot.messages import Reply
from bot.outbox.lease import DatabaseLease
from bot.outbox.messages import AfterSent, Outbox
from bot.ports import Channel, push_windows
from bot.storage.db import Database, dialect_insert
from bot.storage.models import (
    Broadcast,
    BroadcastDelivery,
    ChannelUser,
    Lease,
    Subscription,
    utcnow,
)
from handlers.announcements.service import (
    OPEN_DELIVERY,
    announcement_reply,
    quiet_until,
)

log = logging.getLogger(__name__)

D = BroadcastDelivery.__table__  # type: ignore[attr-defined]
B = Broadcast.__table__  # type: ignore[attr-defined]
CU = ChannelUser.__table__  # type: ignore[attr-defined]
S = Subscription.__table__  # type: ignore[attr-defined]
L = Lease.__table__  # type: ignore[attr-defined]
TS = DateTime(timezone=True)
LEASE_NAME = "sender"
FLUSH_EVERY = 0.05  # seconds: outcomes wait at most this long before they are recorded
FLUSH_SIZE = 64
HOUSEKEEPING_EVERY = 1.0  # seconds, while busy: look for due broadcasts and finished ones
DRAINED_PAUSE = 0.5  # seconds before asking again for a channel's rows when none were left


@dataclass(frozen=True)
class Job:
    id: int
    broadcast_id: int
    channel: str
    channel_user_id: int
    platform_id: str
    attempts: int  # including this one


@dataclass(frozen=True)
class Outcome:
    job: Job
    status: str  # sent failed blocked ineligible retry unknown cancelled
    message_id: str | None = None
    error: str | None = None
    retry_after: float | None = None


class Sender:
    def __init__(
        self,
        database: Database,
        settings: Settings,
        channels: Iterable[Channel],
        *,
        clock: Callable[[], dt.datetime] = utcnow,
        holder: str | None = None,
        after_sent: Mapping[str, AfterSent] | None = None,
    ) -> None:
        self.database = database
        self.engine = database.engine
        self.config = settings.broadcast
        self.office = settings.office.template_values()
        self.zalo_promotion = settings.zalo.promotion_enabled
        self.channels = {channel.name: channel for channel in channels}
        self.clock = lambda: as_utc(clock())  # type: ignore[return-value]
        self.lease = DatabaseLease(
            self.engine, LEASE_NAME, ttl=self.config.lease_seconds, holder=holder, clock=clock
        )
        self.stats: Counter[str] = Counter()  # outcomes this sender recorded, by status
        # The other messages the bot starts itself (tickets' cards, overdue flags), same lease.
        self.messages = Outbox(database, self.channels, after_sent or {}, self.config)
        self.recovered: dict[int, int] = {}  # broadcast id -> rows found 'sending' at takeover
        self._inflight: dict[str, set[asyncio.Task]] = {name: set() for name in self.channels}
        self._outcomes: list[Outcome] = []
        self._paused_until: dict[str, dt.datetime] = {}
        self._drained_until: dict[str, float] = {}
        self._texts: dict[int, Reply] = {}
        self._stopping = False
        self._wake = asyncio.Event()
        self._last_flush = time.monotonic()
        self._next_housekeeping = 0.0

    # --- life cycle -------------------------------------------------------------------------

    async def run(self) -> None:
        """Work the outbox until ``stop()``; then finish the sends in flight and let go."""
        log.info(
            "broadcast sender %s started (channels: %s)",
            self.lease.holder,
            ", ".join(self.channels) or "none",
        )
        try:
            while not self._stopping:
                try:
                    busy = await self._cycle(idle=False)
                except Exception:  # a database hiccup must not end the sender
                    log.exception("broadcast sender: cycle failed; retrying shortly")
                    busy = False
                if not busy and not self._stopping:
                    await self._sleep(self.config.poll_interval_seconds)
        finally:
            await self._shutdown()

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    def wake(self) -> None:
        """Something changed (a broadcast was scheduled in this process): look now."""
        self._wake.set()

    async def run_until_idle(self) -> None:
        """Do everything that is due now, then return (tests and one-off runs)."""
        while await self._cycle(idle=True):
            pass

    async def _sleep(self, seconds: float) -> None:
        self._wake.clear()
        try:
            await asyncio.wait_for(self._wake.wait(), seconds)
        except TimeoutError:
            pass

    async def _shutdown(self) -> None:
        tasks = [task for group in self._inflight.values() for task in group]
        if tasks:
            log.info("broadcast sender: finishing %d sends in flight", len(tasks))
            _, pending = await asyncio.wait(tasks, timeout=self.config.stop_timeout_seconds)
            for task in pending:  # left 'sending': the next sender reports them as unknown
                task.cancel()
            if pending:
                log.warning(
                    "broadcast sender: %d sends did not finish in time; they will be "
                    "reported as unknown",
                    len(pending),
                )
                await asyncio.wait(pending)
        try:
            await self.flush(force=True)
            await self.lease.release()
        except Exception:
            log.exception("broadcast sender: could not record the last outcomes")

    # --- one pass ---------------------------------------------------------------------------

    async def _cycle(self, idle: bool) -> bool:
        """One pass over the outbox; True when anything happened or is still in flight."""
        busy = False
        if not self._stopping and await self.hold_lease():
            now = self.clock()
            if idle or time.monotonic() >= self._next_housekeeping or not self._any_inflight():
                self._next_housekeeping = time.monotonic() + HOUSEKEEPING_EVERY
                busy |= bool(await self.finish_done())
                busy |= bool(await self.activate_due(now))
            busy |= await self._fill(now, idle) > 0
            busy |= await self.messages.deliver_due(now, self._lease_ok(now)) > 0
        inflight = [task for group in self._inflight.values() for task in group]
        if inflight:
            busy = True
            if idle:
                await asyncio.wait(inflight)
            else:
                await asyncio.wait(
                    inflight, timeout=FLUSH_EVERY, return_when=asyncio.FIRST_COMPLETED
                )
        busy |= await self.flush(force=idle or not self._any_inflight())
        return busy

    def _any_inflight(self) -> bool:
        return any(self._inflight.values())

    async def hold_lease(self) -> bool:
        """Take or renew the sender lease when due; on taking it, recover a dead sender's rows."""
        if not self.lease.check_due(self.clock()):
            return self.lease.held
        was_held = self.lease.held
        held = await self.lease.acquire()
        if held and not was_held:
            await self.recover()
            await self.messages.recover(self.clock())
        return held

    async def recover(self) -> dict[int, int]:
        """Rows a previous sender left 'sending' become 'unknown' (reported, never resent)."""
        now = self.clock()
        async with self.engine.begin() as conn:
            result = await conn.execute(
                update(D)
                .where(D.c.status == "sending")
                .values(
                    status="unknown",
                    updated_at=now,
                    last_error="the sender stopped while sending: maybe delivered, not resent",
                )
                .returning(D.c.broadcast_id)
            )
            found = Counter(row.broadcast_id for row in result)
        for broadcast_id, count in sorted(found.items()):
            log.warning(
                "broadcast %d: %d deliveries were in flight when the previous sender stopped; "
                "marked unknown (they may or may not have arrived; not resent)",
                broadcast_id,
                count,
            )
            self.recovered[broadcast_id] = self.recovered.get(broadcast_id, 0) + count
        return dict(found)

    def _lease_ok(self, now: dt.datetime):  # noqa: ANN202 - the fencing condition
        return exists().where(
            L.c.name == LEASE_NAME, L.c.holder == self.lease.holder, L.c.expires_at > now
        )

    # --- activation -------------------------------------------------------------------------

    async def activate_due(self, now: dt.datetime) -> list[int]:
        """Start the broadcasts that are due: write their delivery rows, status 'sending'."""
        now = as_utc(now)  # type: ignore[assignment]
        quiet = quiet_until(now, self.config.quiet_start, self.config.quiet_end) is not None
        query = (
            select(B.c.id, B.c.topic, B.c.channels)
            .where(B.c.status == "scheduled", or_(B.c.send_at.is_(None), B.c.send_at <= now))
            .order_by(B.c.urgent.desc(), B.c.id)
        )
        if quiet:
            query = query.where(B.c.urgent.is_(True))
        async with self.engine.connect() as conn:
            due = (await conn.execute(query)).all()
        started = []
        for row in due:
            async with self.engine.begin() as conn:
                result = await conn.execute(
                    update(B)
                    .where(B.c.id == row.id, B.c.status == "scheduled", self._lease_ok(now))
                    .values(status="sending")
                )
                if result.rowcount != 1:
                    continue
                counts = await self._materialize(
                    conn, row.id, row.topic, list(row.channels or []), now
                )
            started.append(row.id)
            log.info(
                "broadcast %d (%s): sending to %s",
                row.id,
                row.topic,
                ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "nobody",
            )
        return started

    async def _materialize(
        self,
        conn: AsyncConnection,
        broadcast_id: int,
        topic: str,
        channels: list[str],
        now: dt.datetime,
    ) -> dict[str, int]:
        sendable = list(self.channels)
        cannot_push = CU.c.channel.not_in(sendable)
        reasons: list[tuple] = [(cannot_push, "no_push_channel")]
        for name, window in push_windows(["zalo"] if self.zalo_promotion else []).items():
            reasons.append(
                (and_(CU.c.channel == name, CU.c.last_seen_at < now - window), "outside_window")
            )
        status = case(*((cond, "ineligible") for cond, _ in reasons), else_="pending")
        error = case(*reasons, else_=None)
        recipients = (
            select(
                literal(broadcast_id, Integer),
                CU.c.id,
                CU.c.channel,
                status,
                literal(0, Integer),
                error,
                literal(now, TS),
                literal(now, TS),
            )
            .select_from(S.join(CU, CU.c.id == S.c.channel_user_id))
            .where(
                S.c.topic == topic,
                S.c.unsubscribed_at.is_(None),
                CU.c.reachable.is_(True),
                CU.c.channel.in_(channels),
            )
        )
        columns = [
            "broadcast_id",
            "channel_user_id",
            "channel",
            "status",
            "attempts",
            "last_error",
            "created_at",
            "updated_at",
        ]
        await conn.execute(
            dialect_insert(conn.dialect.name)(D).from_select(columns, recipients).on_conflict_do_nothing()
        )
        counted = await conn.execute(  # counted by the database: no row per recipient in memory
            select(D.c.status, func.count()).where(D.c.broadcast_id == broadcast_id)
            .group_by(D.c.status)
        )
        return {status: count for status, count in counted}

    async def finish_done(self) -> list[int]:
        """'sending' broadcasts with nothing left to send are 'done'."""
        still_open = exists().where(D.c.broadcast_id == B.c.id, D.c.status.in_(OPEN_DELIVERY))
        async with self.engine.begin() as conn:
            result = await conn.execute(
                update(B)
                .where(B.c.status == "sending", ~still_open)
                .values(status="done")
                .returning(B.c.id)
            )
            finished = [row.id for row in result]
        for broadcast_id in finished:
            self._texts.pop(broadcast_id, None)
            log.info("broadcast %d: done", broadcast_id)
        return finished

    # --- claims and sends -------------------------------------------------------------------

    async def _active(self, now: dt.datetime) -> tuple[list[int], list[int]]:
        """Broadcasts being sent now: (urgent ids, other ids); the others wait in quiet hours."""
        quiet = quiet_until(now, self.config.quiet_start, self.config.quiet_end) is not None
        query = select(B.c.id, B.c.urgent, B.c.body, B.c.contest_id).where(B.c.status == "sending").order_by(B.c.id)
        if quiet:
            query = query.where(B.c.urgent.is_(True))
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        for row in rows:
            if row.id not in self._texts:
                self._texts[row.id] = announcement_reply(row.body, self.office, row.contest_id)
        return [r.id for r in rows if r.urgent], [r.id for r in rows if not r.urgent]

    async def _fill(self, now: dt.datetime, idle: bool = False) -> int:
        """Claim rows for every channel that has room, and start sending them."""
        # Rows 'sending' in the database: in flight, or done with the outcome not yet recorded.
        # Keeping them within batch_size bounds what a crash can leave unknown.
        outstanding = Counter(o.job.channel for o in self._outcomes)
        for name, tasks in self._inflight.items():
            outstanding[name] += len(tasks)
        half = max(1, self.config.batch_size // 2)
        hungry = [
            name
            for name in self.channels
            if outstanding[name] < half
            and self._paused_until.get(name, now) <= now
            and (idle or self._drained_until.get(name, 0.0) <= time.monotonic())
        ]
        if not hungry:
            return 0
        groups = [ids for ids in await self._active(now) if ids]
        if not groups:
            return 0
        started = 0
        for name in hungry:
            room = self.config.batch_size - outstanding[name]
            for ids in groups:  # urgent broadcasts first
                if room <= 0:
                    break
                settled = len(self._outcomes)
                jobs = await self._claim(name, ids, room, now)
                room -= len(jobs) + len(self._outcomes) - settled  # some need no send (they left)
                started += len(jobs)
                for job in jobs:
                    task = asyncio.create_task(self._deliver(job))
                    self._inflight[name].add(task)
                    task.add_done_callback(self._inflight[name].discard)
            if room > 0:  # nothing more to claim for now: do not ask again at once
                self._drained_until[name] = time.monotonic() + DRAINED_PAUSE
        return started

    async def _claim(
        self, channel: str, broadcast_ids: list[int], limit: int, now: dt.datetime
    ) -> list[Job]:
        now = as_utc(now)  # type: ignore[assignment]
        picked = (
            select(D.c.id)
            .where(
                D.c.broadcast_id.in_(broadcast_ids),
                D.c.status == "pending",
                D.c.channel == channel,
                or_(D.c.next_attempt_at.is_(None), D.c.next_attempt_at <= now),
            )
            .order_by(D.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        async with self.engine.begin() as conn:
            claimed = [
                row.id
                for row in await conn.execute(
                    update(D)
                    .where(D.c.id.in_(picked.scalar_subquery()), self._lease_ok(now))
                    .values(status="sending", attempts=D.c.attempts + 1, updated_at=now)
                    .returning(D.c.id)
                )
            ]
        if not claimed:
            return []
        details = (
            select(
                D.c.id,
                D.c.broadcast_id,
                D.c.channel,
                D.c.channel_user_id,
                D.c.attempts,
                CU.c.platform_id,
                CU.c.reachable,
                CU.c.unreachable_reason,
                S.c.id.label("subscription"),
                S.c.unsubscribed_at,
            )
            .select_from(
                D.join(CU, CU.c.id == D.c.channel_user_id)
                .join(B, B.c.id == D.c.broadcast_id)
                .outerjoin(
                    S, and_(S.c.channel_user_id == D.c.channel_user_id, S.c.topic == B.c.topic)
                )
            )
            .where(D.c.id.in_(claimed))
            .order_by(D.c.id)
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(details)).all()
        jobs = []
        for row in rows:
            job = Job(
                row.id,
                row.broadcast_id,
                row.channel,
                row.channel_user_id,
                row.platform_id,
                row.attempts,
            )
            if not row.reachable:  # blocked or left since the broadcast started
                status = "blocked" if row.unreachable_reason == "blocked" else "ineligible"
                self._outcomes.append(
                    Outcome(job, status, error=row.unreachable_reason or "unreachable")
                )
            elif row.subscription is None or row.unsubscribed_at is not None:
                self._outcomes.append(Outcome(job, "cancelled", error="unsubscribed"))
            else:
                jobs.append(job)
        return jobs

    async def _deliver(self, job: Job) -> None:
        channel = self.channels[job.channel]
        try:
            delivery = await channel.send(job.platform_id, [self._texts[job.broadcast_id]])
        except Exception as exc:  # the adapter broke its contract: we cannot know if it arrived
            log.exception("broadcast %d: %s send raised", job.broadcast_id, job.channel)
            self._outcomes.append(
                Outcome(job, "unknown", error=f"{type(exc).__name__}: {exc}"[:512])
            )
            return
        self._outcomes.append(
            Outcome(job, delivery.status, delivery.message_id, delivery.error, delivery.retry_after)
        )

    # --- outcomes ---------------------------------------------------------------------------

    def _backoff(self, attempts: int, retry_after: float | None) -> dt.timedelta:
        base = self.config.retry_backoff_seconds * 2 ** max(0, attempts - 1)
        seconds = min(self.config.retry_backoff_max_seconds, max(base, retry_after or 0.0))
        return dt.timedelta(seconds=seconds)

    async def flush(self, force: bool = False) -> bool:
        """Record the outcomes gathered so far; True when there were any."""
        if not self._outcomes:
            return False
        if (
            not force
            and len(self._outcomes) < FLUSH_SIZE
            and time.monotonic() - self._last_flush < FLUSH_EVERY
        ):
            return True
        batch, self._outcomes = self._outcomes, []
        now = self.clock()
        params = []
        blocked: set[int] = set()
        for outcome in batch:
            status, error, next_at, sent_at = outcome.status, outcome.error, None, None
            if status == "retry":
                if outcome.retry_after:
                    pause = now + dt.timedelta(seconds=outcome.retry_after)
                    self._paused_until[outcome.job.channel] = max(
                        pause, self._paused_until.get(outcome.job.channel, pause)
                    )
                if outcome.job.attempts >= self.config.max_attempts:
                    status, error = (
                        "failed",
                        f"gave up after {outcome.job.attempts} attempts: {error}",
                    )
                else:
                    status, next_at = (
                        "pending",
                        now + self._backoff(outcome.job.attempts, outcome.retry_after),
                    )
            elif status == "sent":
                sent_at = now
            elif status == "blocked":
                blocked.add(outcome.job.channel_user_id)
            elif status not in ("failed", "ineligible", "unknown", "cancelled"):
                status, error = "unknown", f"unexpected outcome {status!r}: {error}"
            params.append(
                {
                    "b_id": outcome.job.id,
                    "b_status": status,
                    "b_message": outcome.message_id,
                    "b_error": error[:512] if error else None,
                    "b_next": next_at,
                    "b_sent": sent_at,
                    "b_now": now,
                }
            )
        record = (
            update(D)
            .where(
                D.c.id == bindparam("b_id", type_=Integer),
                or_(D.c.status == "sending", D.c.status == "unknown"),
            )
            .values(
                status=bindparam("b_status", type_=String),
                platform_message_id=bindparam("b_message", type_=String),
                last_error=bindparam("b_error", type_=String),
                next_attempt_at=bindparam("b_next", type_=TS),
                sent_at=bindparam("b_sent", type_=TS),
                updated_at=bindparam("b_now", type_=TS),
            )
        )
        try:
            async with self.engine.begin() as conn:
                await conn.execute(record, params)
                if blocked:
                    await conn.execute(
                        update(CU)
                        .where(CU.c.id.in_(blocked), CU.c.reachable.is_(True))
                        .values(reachable=False, unreachable_reason="blocked", unreachable_at=now)
                    )
                    await conn.execute(
                        update(S)
                        .where(S.c.channel_user_id.in_(blocked), S.c.unsubscribed_at.is_(None))
                        .values(unsubscribed_at=now)
                    )
        except Exception:
            self._outcomes[:0] = batch  # try again next time; nothing is lost in memory
            raise
        self.stats.update(p["b_status"] for p in params)
        self._last_flush = time.monotonic()
        return True
