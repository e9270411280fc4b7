"""Messages the bot starts itself, one ``OutboxMessage`` row each, beside the broadcasts.

A turn or a job that decides to message someone (the officials a new ticket's card, an overdue
flag) calls ``enqueue`` in its own transaction and sends nothing: if the transaction commits, the
sender delivers the row afterwards; if it does not, nothing was decided. A process killed between
the two loses nothing: the row waits for whichever process holds the sender's lease next.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from sqlalchemy import ColumnElement, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.config import Broadcasting
from bot.messages import Button, Reply
from bot.ports import Channel, Delivery
from bot.reach import unreachable
from bot.storage.db import Database
from bot.storage.models import OutboxMessage

log = logging.getLogger(__name__)

# What a feature records once the delivery of one of its messages is known (sent, or given up:
# failed, blocked, ineligible), in the transaction that records it.
AfterSent = Callable[[AsyncSession, OutboxMessage], Awaitable[None]]
M = OutboxMessage.__table__  # type: ignore[attr-defined]


def encode(reply: Reply) -> dict[str, Any]:
    return {"text": reply.text,
            "buttons": [[{"label": b.label, "payload": b.payload, "url": b.url} for b in row]
                        for row in reply.buttons]}


def decode(data: dict[str, Any]) -> Reply:
    return Reply(data["text"], tuple(tuple(Button(b["label"], payload=b.get("payload"), url=b.get("url"))
                                           for b in row) for row in data.get("buttons", ())))


def enqueue(session: AsyncSession, kind: str, channel: str, platform_id: str, replies: list[Reply],
            ref: str | None = None) -> OutboxMessage:
    """Decide to send ``replies``: a row of the caller's transaction, delivered after its commit."""
    row = OutboxMessage(kind=kind, channel=channel, platform_id=platform_id,
                        replies=[encode(r) for r in replies], ref=ref)
    session.add(row)
    return row


class Outbox:
    """Delivers the due rows through the running channels; the broadcast sender calls it while it
    holds its lease (``fence``: the SQL condition that it still does)."""

    def __init__(self, database: Database, channels: Mapping[str, Channel],
                 after_sent: Mapping[str, AfterSent], config: Broadcasting, batch: int = 50) -> None:
        self.database = database
        self.channels = channels
        self.after_sent = after_sent
        self.config = config  # the same tries and back-off as a broadcast's deliveries
        self.batch = batch

    async def recover(self, now: dt.datetime) -> int:
        """Rows a dead sender left 'sending' become 'unknown': maybe delivered, never resent."""
        async with self.database.session() as session:
            result = await session.exec(update(M).where(M.c.status == "sending").values(  # type: ignore[call-overload]
                status="unknown", error="the sender stopped while sending: maybe delivered, not resent"))
            await session.commit()
        if result.rowcount:
            log.warning("outbox: %d messages were in flight when the previous sender stopped; "
                        "marked unknown (not resent)", result.rowcount)
        return result.rowcount or 0

    async def deliver_due(self, now: dt.datetime, fence: ColumnElement[bool]) -> int:
        """Claim the due rows of the running channels, send them, record what became of them."""
        if not self.channels:
            return 0
        async with self.database.session() as session:
            due = (await session.exec(select(OutboxMessage.id).where(
                OutboxMessage.status == "pending", OutboxMessage.not_before <= now,
                col(OutboxMessage.channel).in_(list(self.channels)),
            ).order_by(col(OutboxMessage.id)).limit(self.batch))).all()
            if not due:
                return 0
            claimed = (await session.exec(update(M).where(  # type: ignore[call-overload]
                M.c.id.in_(due), M.c.status == "pending", fence).values(status="sending")
                .returning(M.c.id))).scalars().all()
            await session.commit()
            rows = (await session.exec(select(OutboxMessage).where(
                col(OutboxMessage.id).in_(claimed)).order_by(col(OutboxMessage.id)))).all()
        deliveries = await asyncio.gather(*(self._send(row) for row in rows))
        async with self.database.session() as session:
            for row, delivery in zip(rows, deliveries, strict=True):
                await self._record(session, row, delivery, now)
            await session.commit()
        return len(rows)

    async def _send(self, row: OutboxMessage) -> Delivery:
        try:
            return await self.channels[row.channel].send(row.platform_id, [decode(r) for r in row.replies],
                                                         row.kind)
        except Exception as exc:  # recorded and retried, never lost
            log.exception("outbox: sending message %s failed", row.id)
            return Delivery("retry", error=type(exc).__name__)

    async def _record(self, session: AsyncSession, row: OutboxMessage, delivery: Delivery,
                      now: dt.datetime) -> None:
        row.attempts += 1
        row.error = delivery.error[:512] if delivery.error else None
        if delivery.status == "retry" and row.attempts < self.config.max_attempts:
            wait = delivery.retry_after or min(self.config.retry_backoff_max_seconds,
                                               self.config.retry_backoff_seconds * 2 ** (row.attempts - 1))
            row.status, row.not_before = "pending", now + dt.timedelta(seconds=wait)
        else:
            row.status = "failed" if delivery.status == "retry" else delivery.status
        if row.status == "sent":
            row.sent_at, row.message_id = now, delivery.message_id
        else:
            log.warning("outbox: %s message %s to %s: %s %s", row.kind, row.id, row.channel,
                        row.status, row.error or "")
        session.add(row)
        if row.status == "blocked":  # decided once, here as for broadcasts: unreachable now
            await unreachable(session, row.channel, row.platform_id, "blocked")
        if row.status != "pending" and row.kind in self.after_sent:
            await self.after_sent[row.kind](session, row)
