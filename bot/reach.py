"""Whether a user can still be messaged: one rule for every channel and every sender.

A user who blocked the bot or unfollowed the account is unreachable and their subscriptions
end (they said no); a chat that no longer exists is only unreachable (nothing was refused).
Writing again makes a user reachable again (``BotApp``'s turn does that).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.storage.models import ChannelUser, Subscription, utcnow

ENDS_SUBSCRIPTIONS = frozenset({"blocked", "unfollowed"})


async def mark_unreachable(session: AsyncSession, channel_user_id: int, reason: str,
                           now: dt.datetime | None = None) -> int:
    """Never send to this user again until they write; the subscriptions ended (how many)."""
    now = now or utcnow()
    await session.exec(update(ChannelUser).where(col(ChannelUser.id) == channel_user_id).values(  # type: ignore[call-overload]
        reachable=False, unreachable_reason=reason[:32], unreachable_at=now))
    if reason not in ENDS_SUBSCRIPTIONS:
        return 0
    result = await session.exec(update(Subscription).where(  # type: ignore[call-overload]
        col(Subscription.channel_user_id) == channel_user_id,
        col(Subscription.unsubscribed_at).is_(None)).values(unsubscribed_at=now))
    return result.rowcount or 0


async def unreachable(session: AsyncSession, channel: str, platform_id: str, reason: str) -> int | None:
    """``mark_unreachable`` for a platform's user id; None when we never saw that user."""
    row_id = (await session.exec(select(ChannelUser.id).where(
        ChannelUser.channel == channel, ChannelUser.platform_id == platform_id))).first()
    return None if row_id is None else await mark_unreachable(session, row_id, reason)
