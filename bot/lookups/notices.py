"""Status-change messages for citizens who asked "Báo cho tôi khi có kết quả".

After an import changes a dossier's status, each open watch on it is due exactly one message.
``send_status_notices`` (called by the server's background loop) sends them through the
channel layer. Per watch, one transaction: lock the watch (``FOR UPDATE SKIP LOCKED`` on
PostgreSQL, so several workers never pick the same one), send, then record the channel's answer
(``DossierNotice``) and move ``last_notified_status`` on in the same commit. A "retry" answer
rolls back and the next pass tries again; a crash after sending and before the commit can repeat
a message once, never lose one. (On SQLite, the conditional update still stops a second commit,
but run one worker there.)
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import delete, update
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import select

from bot.config import Settings
from bot.lookups import dossiers
from bot.messages import Button, Reply
from bot.storage.models import (
    ChannelUser,
    Dossier,
    DossierNotice,
    DossierWatch,
    LookupAttempt,
    utcnow,
)

if TYPE_CHECKING:
    from bot.channels import Channel, Delivery
    from bot.storage.db import Database

log = logging.getLogger(__name__)


@dataclass
class NoticeStats:
    sent: int = 0
    undelivered: int = 0  # failed, blocked, ineligible: recorded, not retried
    retry: int = 0
    skipped: int = 0  # no channel for the user's platform in this process


def notice_reply(dossier: Dossier, settings: Settings) -> Reply:
    """The message: the code, the procedure and the new status; nothing personal."""
    aliases = settings.lookup.status_aliases
    kind = dossiers.status_kind(dossier.status, aliases)
    lines = [
        (f"🔔 Dạ, hồ sơ **{dossiers.literal(dossier.display_code)}** "
         f"({dossiers.literal(dossier.procedure)}) vừa được cập nhật:"),
        f"Tình trạng: **{dossiers.plain_status(dossier.status, aliases)}**",
    ]
    if kind in dossiers.NEXT_STEP:
        lines.append(dossiers.NEXT_STEP[kind])
    if kind == "ready":
        lines.append(f"Nơi nhận kết quả: {dossier.result_place or settings.office.address}")
    return Reply("\n".join(lines), ((Button("Xem chi tiết hồ sơ", payload=f"ds:{dossier.code}"),),))


async def _due_watch_ids(database: Database) -> list[int]:
    async with database.session() as session:
        rows = await session.exec(
            select(DossierWatch.id)
            .join(Dossier, Dossier.code == DossierWatch.dossier_code)  # type: ignore[arg-type]
            .where(DossierWatch.closed_at.is_(None),  # type: ignore[union-attr]
                   Dossier.status != DossierWatch.last_notified_status)
            .order_by(DossierWatch.id)  # type: ignore[arg-type]
        )
        return [watch_id for watch_id in rows if watch_id is not None]


async def send_status_notices(
    database: Database, channels: Mapping[str, Channel], settings: Settings,
    now: dt.datetime | None = None,
) -> NoticeStats:
    """Send every due status-change message once; safe to call from several workers."""
    stats = NoticeStats()
    for watch_id in await _due_watch_ids(database):
        try:
            await _notify_one(database, watch_id, channels, settings, now or utcnow(), stats)
        except SQLAlchemyError:
            log.exception("dossier notice for watch %s failed; retried next pass", watch_id)
    return stats


async def _notify_one(
    database: Database, watch_id: int, channels: Mapping[str, Channel], settings: Settings,
    now: dt.datetime, stats: NoticeStats,
) -> None:
    from bot.channels import Delivery

    async with database.session() as session:
        watch = (await session.exec(
            select(DossierWatch).where(DossierWatch.id == watch_id,
                                       DossierWatch.closed_at.is_(None))  # type: ignore[union-attr]
            .with_for_update(skip_locked=True)
        )).first()
        if watch is None:
            return
        dossier = await dossiers.get_dossier(session, watch.dossier_code)
        if dossier is None or dossier.status == watch.last_notified_status:
            return
        user = await session.get(ChannelUser, watch.channel_user_id)
        channel = channels.get(user.channel) if user is not None else None
        if user is None or channel is None:
            stats.skipped += 1
            return
        seen = watch.last_notified_status
        if not user.reachable:
            delivery: Delivery = Delivery("blocked", error=user.unreachable_reason)
        else:
            try:
                delivery = await channel.send(user.platform_id, [notice_reply(dossier, settings)],
                                              purpose="dossier_notice")
            except Exception as exc:  # a channel bug must not stop the other notices
                log.exception("sending a dossier notice on %s failed", user.channel)
                delivery = Delivery("retry", error=type(exc).__name__)
        if delivery.status == "retry":
            await session.rollback()
            stats.retry += 1
            return
        final = dossiers.status_kind(dossier.status, settings.lookup.status_aliases) in dossiers.DONE
        result = await session.exec(
            update(DossierWatch)
            .where(DossierWatch.id == watch_id, DossierWatch.last_notified_status == seen)  # type: ignore[arg-type]
            .values(last_notified_status=dossier.status, notified_at=now,
                    closed_at=now if final else None)
        )
        if result.rowcount != 1:  # another worker got there first (SQLite only)
            await session.rollback()
            return
        session.add(DossierNotice(watch_id=watch_id, status=dossier.status, delivery=delivery.status,
                                  message_id=delivery.message_id,
                                  error=(delivery.error or None) and delivery.error[:512],
                                  created_at=now))
        await session.commit()
        if delivery.status == "sent":
            stats.sent += 1
        else:
            stats.undelivered += 1


async def purge_attempts(database: Database, settings: Settings, now: dt.datetime | None = None) -> int:
    """Forget lookup attempts older than the rate-limit window (and at least a day)."""
    keep = dt.timedelta(minutes=max(settings.lookup.rate_limit_window_minutes, 24 * 60))
    async with database.session() as session:
        result = await session.exec(delete(LookupAttempt).where(
            LookupAttempt.created_at < (now or utcnow()) - keep))  # type: ignore[call-overload,arg-type]
        await session.commit()
    return result.rowcount or 0


async def notice_loop(database: Database, channels: Mapping[str, Channel], settings: Settings) -> None:
    """The server's background job: status-change messages, then old rate-limit rows; until cancelled."""
    import asyncio

    while True:
        try:
            stats = await send_status_notices(database, channels, settings)
            if stats.sent or stats.undelivered or stats.retry:
                log.info("dossier notices: %s", stats)
            await purge_attempts(database, settings)
        except Exception:  # a bad pass must never stop the loop
            log.exception("dossier notice pass failed")
        await asyncio.sleep(settings.lookup.notify_interval)
