"""Helpers for the broadcast tests: a clock to drive time, a channel that records what it is
asked to send (a test double of our own ``Channel`` protocol, with scripted outcomes), and
subscribers written straight into the real database."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import Counter
from collections.abc import Callable, Iterable

from sqlalchemy import create_engine, select

from bot.ports import Delivery
from bot.content.loader import TIMEZONE
from bot.messages import Reply
from bot.storage.db import Database, sync_url
from bot.storage.models import ChannelUser, Subscription, utcnow


def vn(*args: int) -> dt.datetime:
    """A moment in Vietnam's time."""
    return dt.datetime(*args, tzinfo=TIMEZONE)


class Clock:
    """Time that moves only when a test says so."""

    def __init__(self, start: dt.datetime) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now

    def set(self, moment: dt.datetime) -> None:
        self.now = moment

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


class RecordingChannel:
    """Implements ``bot.channels.Channel``: records every send; ``script`` gives the outcomes
    for a platform id in order (then "sent"); ``gate`` holds sends until it is set."""

    def __init__(
        self,
        name: str,
        script: dict[str, list[Delivery]] | None = None,
        on_send: Callable[[str], None] | None = None,
    ) -> None:
        self.name = name
        self.script = {k: list(v) for k, v in (script or {}).items()}
        self.on_send = on_send
        self.calls: list[str] = []  # every send attempt, by platform id
        self.delivered: list[tuple[str, str]] = []  # (platform id, text) of the "sent" ones
        self.replies: list[list[Reply]] = []  # the messages of the "sent" ones, buttons and all
        self.gate: asyncio.Event | None = None
        self.started = 0

    def setup_routes(self, app: object) -> None:
        pass

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def send(self, platform_id: str, replies: list[Reply], kind: str = "broadcast") -> Delivery:
        self.started += 1
        if self.gate is not None:
            await self.gate.wait()
        self.calls.append(platform_id)
        if self.on_send is not None:
            self.on_send(platform_id)
        queue = self.script.get(platform_id)
        outcome = (
            queue.pop(0) if queue else Delivery("sent", message_id=f"{self.name}-{len(self.calls)}")
        )
        if outcome.status == "sent":
            self.delivered.append((platform_id, replies[0].text))
            self.replies.append(replies)
        return outcome

    def received(self) -> Counter[str]:
        return Counter(pid for pid, _ in self.delivered)


async def add_subscribers(
    database: Database,
    channel: str,
    platform_ids: Iterable[str],
    topic: str = "thong-bao-chung",
    *,
    last_seen: dt.datetime | None = None,
    reachable: bool = True,
) -> list[int]:
    """Channel users subscribed to ``topic``; returns their ids."""
    now = utcnow()
    seen = (last_seen or now).astimezone(dt.UTC)  # the database keeps UTC (SQLite drops the zone)
    ids = []
    async with database.session() as session:
        for pid in platform_ids:
            user = ChannelUser(
                channel=channel,
                platform_id=pid,
                user_key=f"k-{channel}-{pid}",
                first_seen_at=now,
                last_seen_at=seen,
                reachable=reachable,
                unreachable_reason=None if reachable else "blocked",
            )
            session.add(user)
            await session.flush()
            session.add(Subscription(channel_user_id=user.id, topic=topic, consent_at=now))
            ids.append(user.id)
        await session.commit()
    return ids


def rows(url: str, model, *where) -> list:  # noqa: ANN001
    engine = create_engine(sync_url(url))
    with engine.connect() as conn:
        result = conn.execute(select(model.__table__).where(*where)).mappings().all()
    engine.dispose()
    return [dict(r) for r in result]
