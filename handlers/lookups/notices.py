"""Status-change messages for citizens who asked "Báo cho tôi khi có kết quả".

After an import changes a dossier's status, each open watch on it is due exactly one message.
``send_status_notices`` (a periodic job of every process) decides them. Per watch, one
transaction: lock the watch (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so several workers never
pick the same one), record the notice (``DossierNotice``, delivery ``queued``), queue the message
in the outbox and move ``last_notified_status`` on, in one commit. The outbox's sender delivers
it afterwards and records the delivery on the notice: a crash anywhere loses no message and
sends none twice. (On SQLite, the conditional update still stops a second commit, but run one
worker there.)
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
from bot.messages import Button, Reply
from bot.outbox.messages import enqueue
from bot.storage.models import (
    ChannelUser,
    Dossier,
    DossierNotice,
    DossierWatch,
    LookupAttempt,
    OutboxMessage,
    utcnow,
)
from handlers.lookups import dossiers

if TYPE_CHECKING:
    from sqlmodel.ext.asyncio.session import AsyncSession

    from bot.ports import Channel
    from bot.storage.db import Database

log = logging.getLogger(__name__)


NOTICE = "dossier_notice"  # the outbox's kind


@dataclass
class NoticeStats:
    queued: int = 0  # for the outbox's sender
    undelivered: int = 0  # the user is unreachable: recorded, not sent
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
        notice = DossierNotice(watch_id=watch_id, status=dossier.status, created_at=now,
                               delivery="queued" if user.reachable else "blocked",
                               error=None if user.reachable else user.unreachable_reason)
        session.add(notice)
        await session.flush()
        if user.reachable:
            enqueue(session, NOTICE, user.channel, user.platform_id, [notice_reply(dossier, settings)],
                    ref=f"notice:{notice.id}")
            stats.queued += 1
        else:
            stats.undelivered += 1
        await session.commit()


async def notice_delivered(session: AsyncSession, row: OutboxMessage) -> None:
    """What became of a notice, on its DossierNotice row."""
    notice = await session.get(DossierNotice, int((row.ref or ":").partition(":")[2] or 0))
    if notice is not None:
        notice.delivery, notice.message_id, notice.error = row.status, row.message_id, row.error
        session.add(notice)


OUTBOX_EFFECTS = {NOTICE: notice_delivered}


async def purge_attempts(database: Database, settings: Settings, now: dt.datetime | None = None) -> int:
    """Forget lookup attempts older than the rate-limit window (and at least a day)."""
    keep = dt.timedelta(minutes=max(settings.lookup.rate_limit_window_minutes, 24 * 60))
    async with database.session() as session:
        result = await session.exec(delete(LookupAttempt).where(
            LookupAttempt.created_at < (now or utcnow()) - keep))  # type: ignore[call-overload,arg-type]
        await session.commit()
    return result.rowcount or 0


async def notice_pass(database: Database, channels: Mapping[str, Channel], settings: Settings) -> None:
    """One pass of the periodic job: status-change messages, then old rate-limit rows."""
    await send_status_notices(database, channels, settings)
    await purge_attempts(database, settings)
