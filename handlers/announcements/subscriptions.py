"""Citizens' consent to a topic's announcements, one channel at a time.

One row per (channel user, topic): ``consent_at`` is when they last said yes,
``unsubscribed_at`` when they said no (or blocked the bot / unfollowed the OA). Saying yes
again reopens the same row with a new consent time.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.storage.db import dialect_insert
from bot.storage.models import Subscription, utcnow


async def active_topics(session: AsyncSession, channel_user_id: int) -> set[str]:
    rows = await session.exec(
        select(Subscription.topic).where(
            Subscription.channel_user_id == channel_user_id,
            col(Subscription.unsubscribed_at).is_(None),
        )
    )
    return set(rows.all())


async def subscribe(
    session: AsyncSession, channel_user_id: int, topic: str, now: dt.datetime | None = None
) -> bool:
    """Record consent; False when they were already subscribed (consent time kept)."""
    now = now or utcnow()
    table = Subscription.__table__  # type: ignore[attr-defined]
    statement = dialect_insert(session.get_bind().dialect.name)(table).values(
        channel_user_id=channel_user_id, topic=topic, consent_at=now, unsubscribed_at=None
    )
    statement = statement.on_conflict_do_update(
        index_elements=["channel_user_id", "topic"],
        set_={"consent_at": now, "unsubscribed_at": None},
        where=table.c.unsubscribed_at.is_not(None),
    ).returning(table.c.id)
    result = await session.exec(statement)  # type: ignore[call-overload]
    return result.first() is not None


async def unsubscribe(
    session: AsyncSession, channel_user_id: int, topic: str, now: dt.datetime | None = None
) -> bool:
    result = await session.exec(  # type: ignore[call-overload]
        update(Subscription)
        .where(
            col(Subscription.channel_user_id) == channel_user_id,
            col(Subscription.topic) == topic,
            col(Subscription.unsubscribed_at).is_(None),
        )
        .values(unsubscribed_at=now or utcnow())
    )
    return bool(result.rowcount)


async def unsubscribe_all(
    session: AsyncSession, channel_user_id: int, now: dt.datetime | None = None
) -> int:
    result = await session.exec(  # type: ignore[call-overload]
        update(Subscription)
        .where(
            col(Subscription.channel_user_id) == channel_user_id,
            col(Subscription.unsubscribed_at).is_(None),
        )
        .values(unsubscribed_at=now or utcnow())
    )
    return result.rowcount or 0
