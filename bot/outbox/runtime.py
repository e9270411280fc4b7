"""The sender and the campaign scheduler as background work of one ``cchc-bot run`` process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.outbox.sender import Sender
from bot.ports import Channel
from handlers.announcements.scheduler import CampaignScheduler

if TYPE_CHECKING:
    from bot.app import BotApp

log = logging.getLogger(__name__)


class BroadcastWorkers:
    """Starts what ``[broadcast]`` enables for this process; stops it gracefully (the sender
    finishes the sends in flight and records them; the leases are released for the next)."""

    def __init__(self, bot: BotApp, channels: Iterable[Channel],
                 scheduler: AsyncIOScheduler | None = None) -> None:
        self.bot = bot
        self.shared_scheduler = scheduler  # the process's one job scheduler
        self.channels = list(channels)
        self.config = bot.settings.broadcast
        self.sender: Sender | None = None
        self.scheduler: CampaignScheduler | None = None
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        if self.config.sender:
            self.sender = Sender(self.bot.database, self.bot.settings, self.channels,
                                 after_sent=self.bot.outbox_effects)
            self.bot.wake_outbox = self.sender.wake
            self._task = asyncio.create_task(self.sender.run(), name="broadcast-sender")
        if self.config.scheduler:
            self.scheduler = CampaignScheduler(
                self.bot.database, self.bot.content, self.bot.settings,
                scheduler=self.shared_scheduler,
            )
            await self.scheduler.start()
        log.info(
            "broadcasts: sender %s, campaign scheduler %s",
            "on" if self.sender else "off",
            "on" if self.scheduler else "off",
        )

    async def stop(self) -> None:
        if self.scheduler is not None:
            await self.scheduler.stop()
        if self.sender is not None and self._task is not None:
            self.sender.stop()
            try:
                await asyncio.wait_for(
                    asyncio.shield(self._task), self.config.stop_timeout_seconds + 5
                )
            except TimeoutError:
                log.error("broadcast sender did not stop in time")
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
