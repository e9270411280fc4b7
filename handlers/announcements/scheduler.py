"""The campaign scheduler: the calendar in ``content/campaigns/``, on APScheduler.

Each campaign has one APScheduler job (an ``AsyncIOScheduler`` in Vietnam's time zone) for its
next fire time; when it runs it fires the campaign and schedules the following one. A fire
writes a ``Broadcast`` for (campaign, fire time), which is unique in the database: a restart,
a second process, or a fire replayed after a crash can never make a second one. The sender
sends it like any other broadcast (quiet hours included).

Only the holder of the ``scheduler`` lease has jobs. When a process takes the lease (at
start-up, or over from one that died) it first catches up: fires due since the previous
holder was last alive are sent if they are at most ``missed_grace_minutes`` late, and recorded
as ``missed`` otherwise. Content edits are picked up without a restart: whenever the content
pack's fingerprint changes, the jobs are brought in line with the campaigns as they are now.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.clock import as_utc, local
from bot.config import Settings
from bot.content import template
from bot.content.loader import TIMEZONE
from bot.content.model import Campaign
from bot.content.store import ContentStore
from bot.outbox.lease import DatabaseLease
from bot.storage.db import Database, dialect_insert
from bot.storage.models import Broadcast, utcnow
from handlers.announcements.campaigns import next_fire_times
from handlers.announcements.service import check_text

log = logging.getLogger(__name__)
LEASE_NAME = "scheduler"
JOB_PREFIX = "campaign:"
MAX_CATCH_UP = 500  # fires per campaign looked at after a long downtime


@dataclass(frozen=True)
class Fire:
    campaign_id: str
    fire_time: dt.datetime
    # scheduled (a new broadcast) | missed | exists (fired before) | gone (no longer due)
    outcome: str
    broadcast_id: int | None = None


class CampaignScheduler:
    def __init__(
        self,
        database: Database,
        content: ContentStore,
        settings: Settings,
        *,
        clock: Callable[[], dt.datetime] = utcnow,
        holder: str | None = None,
        scheduler: AsyncIOScheduler | None = None,
    ) -> None:
        self.database = database
        self.content = content
        self.settings = settings
        self.config = settings.broadcast
        self.holidays = settings.holidays.dates()
        self.clock = lambda: as_utc(clock())  # type: ignore[return-value]
        self.lease = DatabaseLease(
            database.engine, LEASE_NAME, ttl=self.config.lease_seconds, holder=holder, clock=clock
        )
        self.grace = dt.timedelta(minutes=self.config.missed_grace_minutes)
        # The process's one scheduler when given (it starts and stops it), else one of its own.
        self.own_scheduler = scheduler is None
        self.scheduler = scheduler or AsyncIOScheduler(timezone=TIMEZONE)
        self.planned: dict[str, dt.datetime] = {}  # campaign id -> the fire time its job waits for
        self._fingerprint: str | None = None

    # --- life cycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Start APScheduler; the first tick (at once) takes the lease and catches up."""
        if self.own_scheduler:
            self.scheduler.start()
        self.scheduler.add_job(
            self.tick,
            IntervalTrigger(seconds=max(1.0, self.config.lease_seconds / 3)),
            id="scheduler:tick",
            next_run_time=dt.datetime.now(TIMEZONE),
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,
        )

    async def stop(self) -> None:
        if self.own_scheduler and self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        elif self.scheduler.get_job("scheduler:tick") is not None:
            self.scheduler.remove_job("scheduler:tick")
        self._clear_jobs()
        try:
            await self.lease.release()
        except Exception:
            log.exception("campaign scheduler: could not release the lease")

    async def tick(self) -> None:
        """Hold the lease; on taking it, catch up; on a content change, re-sync the jobs."""
        try:
            was_held = self.lease.held
            if not await self.lease.acquire():
                if was_held:
                    self._clear_jobs()
                return
            now = self.clock()
            if not was_held:
                since = self.lease.watermark
                log.info(
                    "campaign scheduler %s: running%s",
                    self.lease.holder,
                    f"; catching up since {local(since):%d/%m/%Y %H:%M}" if since else "",
                )
                if since is not None:
                    await self.catch_up(since, now)
                self._fingerprint = None
            pack = self.content.current.pack
            if pack.fingerprint != self._fingerprint:
                self.sync(now)
                self._fingerprint = pack.fingerprint
        except Exception:
            log.exception("campaign scheduler: tick failed; trying again at the next one")

    # --- the calendar -----------------------------------------------------------------------

    def _campaigns(self) -> dict[str, Campaign]:
        return self.content.current.pack.campaigns

    def _next(self, campaign: Campaign, after: dt.datetime, count: int) -> list[dt.datetime]:
        """The campaign's next fires, none on a public holiday (``[holidays]``)."""
        return next_fire_times(campaign, after, count, self.holidays)

    def sync(self, now: dt.datetime | None = None) -> dict[str, dt.datetime]:
        """One job per campaign, for its next fire after ``now``; removed campaigns lose theirs."""
        now = as_utc(now) if now is not None else self.clock()
        wanted: dict[str, dt.datetime] = {}
        for campaign in self._campaigns().values():
            upcoming = self._next(campaign, now, 1)
            if upcoming:
                wanted[campaign.id] = upcoming[0]
        for campaign_id in list(self.planned):
            if campaign_id not in wanted:
                self._remove(campaign_id)
                log.info("campaign %s: no longer scheduled", campaign_id)
        for campaign_id, fire_time in wanted.items():
            planned = self.planned.get(campaign_id)
            if planned is not None and planned <= now:
                continue  # due and about to run: it plans the next one itself
            if planned != fire_time:
                self._plan(campaign_id, fire_time)
        return dict(self.planned)

    def _plan(self, campaign_id: str, fire_time: dt.datetime) -> None:
        self._remove(campaign_id)  # (replace_existing does not replace a job added before start)
        self.planned[campaign_id] = fire_time
        self.scheduler.add_job(
            self.run_job,
            DateTrigger(run_date=fire_time, timezone=TIMEZONE),
            args=(campaign_id, fire_time),
            id=JOB_PREFIX + campaign_id,
            replace_existing=True,
            misfire_grace_time=None,
        )
        log.info(
            "campaign %s: next fire %s", campaign_id, local(fire_time).strftime("%d/%m/%Y %H:%M")
        )

    def _remove(self, campaign_id: str) -> None:
        self.planned.pop(campaign_id, None)
        job = self.scheduler.get_job(JOB_PREFIX + campaign_id)
        if job is not None:
            job.remove()

    def _clear_jobs(self) -> None:
        for campaign_id in list(self.planned):
            self._remove(campaign_id)

    async def run_job(self, campaign_id: str, fire_time: dt.datetime) -> None:
        """What a campaign's APScheduler job does: fire, then plan the campaign's next fire."""
        if self.planned.get(campaign_id) == fire_time:
            del self.planned[campaign_id]
        if self.lease.held:
            try:
                await self.fire(campaign_id, fire_time)
            except Exception:
                log.exception("campaign %s: fire at %s failed", campaign_id, fire_time)
        campaign = self._campaigns().get(campaign_id)
        if campaign is not None and campaign_id not in self.planned and self.lease.held:
            upcoming = self._next(campaign, max(fire_time, self.clock()), 1)
            if upcoming:
                self._plan(campaign_id, upcoming[0])

    async def catch_up(self, since: dt.datetime, now: dt.datetime | None = None) -> list[Fire]:
        """Fires due in (since, now]: sent within the grace period, recorded as missed beyond."""
        now = as_utc(now) if now is not None else self.clock()
        fires = []
        for campaign in self._campaigns().values():
            for fire_time in self._next(campaign, as_utc(since), MAX_CATCH_UP):  # type: ignore[arg-type]
                if fire_time > now:
                    break
                fires.append(await self.fire(campaign.id, fire_time, now=now))
        for fire in fires:
            if fire.outcome == "missed":
                log.warning(
                    "campaign %s: the fire of %s was missed while the bot was down "
                    "(beyond the %s grace period); recorded, not sent",
                    fire.campaign_id,
                    local(fire.fire_time).strftime("%d/%m/%Y %H:%M"),
                    self.grace,
                )
        return fires

    async def fire(
        self, campaign_id: str, fire_time: dt.datetime, now: dt.datetime | None = None
    ) -> Fire:
        """Make the broadcast of one fire (once, whoever asks and however often)."""
        now = as_utc(now) if now is not None else self.clock()
        fire_time = as_utc(fire_time)  # type: ignore[assignment]
        campaign = self._campaigns().get(campaign_id)
        # the campaign may have been edited since this fire was planned
        if campaign is None or self._next(campaign, fire_time - dt.timedelta(microseconds=1), 1) != [fire_time]:
            log.info(
                "campaign %s: fire at %s dropped (campaign changed or removed)",
                campaign_id,
                fire_time,
            )
            return Fire(campaign_id, fire_time, "gone")
        late = now - fire_time
        status = "missed" if late > self.grace else "scheduled"
        office = self.settings.office.template_values()
        body = template.render(campaign.body, office)
        check_text(body, campaign.channels)
        table = Broadcast.__table__  # type: ignore[attr-defined]
        async with self.database.engine.begin() as conn:
            insert = dialect_insert(conn.dialect.name)(table)
            result = await conn.execute(
                insert.values(
                    created_at=now,
                    author=f"campaign:{campaign.id}"[:128],
                    topic=campaign.topic,
                    body=body,
                    channels=list(campaign.channels),
                    send_at=fire_time,
                    status=status,
                    urgent=False,
                    campaign_id=campaign.id,
                    fire_time=fire_time,
                    contest_id=campaign.contest,
                )
                .on_conflict_do_nothing(index_elements=["campaign_id", "fire_time"])
                .returning(table.c.id)
            )
            created = result.first()
        if created is None:
            return Fire(campaign_id, fire_time, "exists")
        if status == "scheduled":
            log.info(
                "campaign %s: broadcast %d for %s",
                campaign_id,
                created.id,
                local(fire_time).strftime("%d/%m/%Y %H:%M"),
            )
        return Fire(campaign_id, fire_time, status, created.id)
