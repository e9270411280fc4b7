"""What the adapters whose platform limits bot-initiated messages (a push window: Zalo's 7 days,
Messenger's 24 hours) share when they send one: who may be written to, and a reply of several
messages sent in order, never retried once part of it has arrived."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import select

from bot.ports import Delivery
from bot.storage.db import Database
from bot.storage.models import ChannelUser

Message = TypeVar("Message")
DATABASE_RETRY = 60.0  # seconds before the outbox tries again when the database was away


async def recipient(database: Database, channel: str, platform_id: str) -> ChannelUser | Delivery:
    """The user's row when they may be written to, else the Delivery that says why not."""
    try:
        async with database.session() as session:
            row = (await session.exec(select(ChannelUser).where(
                ChannelUser.channel == channel, ChannelUser.platform_id == platform_id))).first()
    except SQLAlchemyError as exc:
        return Delivery("retry", error=f"database: {type(exc).__name__}", retry_after=DATABASE_RETRY)
    if row is None:
        return Delivery("ineligible", error="never_interacted")
    if not row.reachable:
        return Delivery("ineligible", error=row.unreachable_reason or "unreachable")
    return row


async def in_order(messages: Sequence[Message],
                   send_one: Callable[[Message], Awaitable[Delivery]]) -> Delivery:
    """Send ``messages`` one after the other; a failure after the first is "failed", never
    "retry": the first parts would arrive twice."""
    last_id: str | None = None
    for index, message in enumerate(messages):
        delivery = await send_one(message)
        if delivery.status != "sent":
            if index == 0:
                return delivery
            return Delivery("failed", last_id, f"{delivery.error} (đã gửi {index}/{len(messages)} tin)")
        last_id = delivery.message_id
    return Delivery("sent", last_id)
