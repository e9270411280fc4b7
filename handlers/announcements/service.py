"""Broadcasts as officials see them: create, schedule, cancel, and follow their progress.

Every entry point (the Telegram admin flow, the CLI, later the web dashboard, the campaign
scheduler) goes through these functions, so the rules live in one place:

- the text is rendered once, at creation (``{{ office.* }}`` filled), and checked against the
  platforms' length limits; what the official previews is what citizens receive;
- times are stored in UTC and shown in Vietnam's time;
- a broadcast is ``draft`` -> ``scheduled`` -> ``sending`` -> ``done``; ``cancelled`` from any
  of the first three (a running one stops: its waiting rows are cancelled, never sent);
  campaign fires too late to send are recorded as ``missed``.

The functions take the caller's session and only flush; the caller commits.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from sqlalchemy import func, or_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.clock import TIMEZONE, as_utc, local
from bot.content import template
from bot.content.model import CHANNELS
from bot.messages import Button, Reply
from bot.ports import CAPABILITIES, push_channels
from bot.storage.models import (
    WAITING_BROADCAST,
    Broadcast,
    BroadcastDelivery,
    ChannelUser,
    Lease,
    Subscription,
    utcnow,
    waiting_broadcast,
)

# Channels that can message a citizen first. The web chat and the console only answer.
PUSH_CHANNELS = push_channels()
DEFAULT_CHANNELS = PUSH_CHANNELS
LIMITS = {name: CAPABILITIES[name].text_limit for name in PUSH_CHANNELS}  # characters per message
# The same "☰ Menu" button as the conversation's (handlers.common.MENU).
MENU_BUTTON = Button("☰ Menu", payload="menu")
JOIN_CONTEST = "🏆 Tham gia cuộc thi"  # on a campaign's message that points to a contest

BROADCAST_STATUSES = ("draft", "scheduled", "sending", "done", "cancelled", "missed")
DELIVERY_STATUSES = (
    "pending",
    "sending",
    "sent",
    "failed",
    "blocked",
    "ineligible",
    "unknown",
    "cancelled",
)
OPEN_DELIVERY = ("pending", "sending")
STATUS_LABELS = {
    "draft": "bản nháp",
    "scheduled": "chờ gửi",
    "sending": "đang gửi",
    "done": "đã gửi xong",
    "cancelled": "đã hủy",
    "missed": "bỏ lỡ (quá hạn gửi)",
}
DELIVERY_LABELS = {
    "sent": "đã gửi",
    "failed": "lỗi",
    "blocked": "đã chặn bot",
    "ineligible": "không gửi được",
    "unknown": "chưa rõ",
    "pending": "đang chờ",
    "sending": "đang gửi",
    "cancelled": "đã hủy",
}


class BroadcastError(Exception):
    """A request that cannot be done; the message is for the official, in Vietnamese."""


def parse_local_time(text: str) -> dt.datetime:
    """Read "2026-01-05 08:00" (or "05/01/2026 08:00") in Vietnam's time, as aware UTC."""
    for fmt in ("%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%d/%m/%Y %H:%M", "%Y-%m-%d %H:%M:%S"):
        try:
            naive = dt.datetime.strptime(text.strip(), fmt)
        except ValueError:
            continue
        return naive.replace(tzinfo=TIMEZONE).astimezone(dt.UTC)
    raise BroadcastError(
        f"không đọc được thời điểm '{text}': ghi theo dạng 2026-01-05 08:00 (giờ Việt Nam)"
    )


def quiet_until(moment: dt.datetime, start: dt.time, end: dt.time) -> dt.datetime | None:
    """When the quiet hours around ``moment`` end (UTC), or None outside them.

    ``start``/``end`` are Vietnam times; the period may span midnight (21:00-07:00).
    """
    if start == end:
        return None
    here = local(moment)
    now = here.time().replace(tzinfo=None)
    if start < end:
        inside, day = start <= now < end, here.date()
    else:
        inside = now >= start or now < end
        day = here.date() + dt.timedelta(days=1) if now >= start else here.date()
    if not inside:
        return None
    return dt.datetime.combine(day, end, TIMEZONE).astimezone(dt.UTC)


def announcement_text(title: str | None, body: str, office: Mapping[str, str]) -> str:
    """The message as citizens receive it: a heading with the topic, then the body."""
    text = template.render(body, office).strip()
    return f"📢 **{title}**\n\n{text}" if title else text


def announcement_reply(text: str, office: Mapping[str, str], contest_id: str | None = None) -> Reply:
    """What the sender hands to a channel for one recipient; a campaign's message that points
    to a contest opens it (its rules) from a button (``ct:open:<id>``, the contest's route)."""
    rows: tuple[tuple[Button, ...], ...] = ((MENU_BUTTON,),)
    if contest_id:
        rows = ((Button(JOIN_CONTEST, payload=f"ct:open:{contest_id}"),), *rows)
    return Reply(template.render(text, office), rows)


def check_text(text: str, channels: Iterable[str]) -> None:
    if not text.strip():
        raise BroadcastError("nội dung thông báo đang trống")
    for channel in channels:
        limit = LIMITS.get(channel)
        if limit is not None and len(text) > limit:
            raise BroadcastError(
                f"thông báo dài {len(text)} ký tự, vượt giới hạn {limit} ký tự của "
                f"{channel.capitalize()}; Anh/Chị rút gọn giúp em"
            )


def check_channels(channels: Iterable[str]) -> list[str]:
    chosen = list(dict.fromkeys(c.strip().lower() for c in channels if c.strip()))
    unknown = [c for c in chosen if c not in CHANNELS]
    if unknown:
        raise BroadcastError(f"kênh không hợp lệ: {', '.join(unknown)} (có: {', '.join(CHANNELS)})")
    if not chosen:
        raise BroadcastError("cần ít nhất một kênh gửi")
    return chosen


async def create_broadcast(
    session: AsyncSession,
    *,
    author: str,
    topic: str,
    body: str,
    channels: Iterable[str] = DEFAULT_CHANNELS,
    send_at: dt.datetime | None = None,
    urgent: bool = False,
    title: str | None = None,
    office: Mapping[str, str] | None = None,
    status: str = "scheduled",
) -> Broadcast:
    """A new broadcast, ``scheduled`` (the sender picks it up at ``send_at``, None = now) or a
    ``draft``. ``title`` puts "📢 **title**" on top (the topic's title for officials' notices)."""
    if status not in ("draft", "scheduled"):
        raise BroadcastError(f"trạng thái ban đầu không hợp lệ: {status}")
    chosen = check_channels(channels)
    text = announcement_text(title, body, office or {})
    check_text(text, chosen)
    row = Broadcast(
        author=author[:128],
        topic=topic,
        body=text,
        channels=chosen,
        send_at=as_utc(send_at),
        status=status,
        urgent=urgent,
        created_at=utcnow(),
    )
    session.add(row)
    await session.flush()
    return row


async def schedule_broadcast(
    session: AsyncSession,
    broadcast_id: int,
    send_at: dt.datetime | None = None,
    *,
    urgent: bool | None = None,
) -> Broadcast:
    """Queue a draft (or move a scheduled one): sent at ``send_at``, or as soon as possible."""
    row = await session.get(Broadcast, broadcast_id)
    if row is None:
        raise BroadcastError(f"không có thông báo số {broadcast_id}")
    if row.status not in ("draft", "scheduled"):
        raise BroadcastError(
            f"thông báo số {broadcast_id} đang ở trạng thái "
            f"'{STATUS_LABELS.get(row.status, row.status)}', không hẹn giờ lại được"
        )
    check_text(row.body, row.channels)
    row.status = "scheduled"
    row.send_at = as_utc(send_at)
    if urgent is not None:
        row.urgent = urgent
    session.add(row)
    await session.flush()
    return row


async def cancel_broadcast(session: AsyncSession, broadcast_id: int) -> tuple[Broadcast, int]:
    """Cancel a broadcast; a running one stops: recipients not yet sent to are never sent to.

    Returns the broadcast and how many deliveries were cancelled. Messages already handed to a
    platform (``sending``) finish and are recorded.
    """
    row = await session.get(Broadcast, broadcast_id)
    if row is None:
        raise BroadcastError(f"không có thông báo số {broadcast_id}")
    if row.status not in WAITING_BROADCAST:
        raise BroadcastError(
            f"thông báo số {broadcast_id} đã ở trạng thái "
            f"'{STATUS_LABELS.get(row.status, row.status)}', không hủy được"
        )
    now = utcnow()
    stopped = await session.exec(  # type: ignore[call-overload]
        update(Broadcast)
        .where(
            col(Broadcast.id) == broadcast_id,
            waiting_broadcast(),
        )
        .values(status="cancelled")
    )
    if not stopped.rowcount:  # finished or cancelled meanwhile
        await session.refresh(row)
        raise BroadcastError(
            f"thông báo số {broadcast_id} vừa chuyển sang trạng thái "
            f"'{STATUS_LABELS.get(row.status, row.status)}'"
        )
    result = await session.exec(  # type: ignore[call-overload]
        update(BroadcastDelivery)
        .where(
            col(BroadcastDelivery.broadcast_id) == broadcast_id,
            col(BroadcastDelivery.status) == "pending",
        )
        .values(status="cancelled", last_error="broadcast cancelled", updated_at=now)
    )
    await session.refresh(row)
    return row, result.rowcount or 0


@dataclass
class Progress:
    broadcast: Broadcast
    counts: dict[str, int] = field(default_factory=dict)  # delivery status -> rows
    by_channel: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def open(self) -> int:
        return sum(self.counts.get(s, 0) for s in OPEN_DELIVERY)

    @property
    def finished(self) -> int:
        return self.total - self.open

    @property
    def share(self) -> float:
        return (
            self.finished / self.total
            if self.total
            else (1.0 if self.broadcast.status == "done" else 0.0)
        )


async def progress(session: AsyncSession, broadcast_id: int) -> Progress | None:
    row = await session.get(Broadcast, broadcast_id)
    if row is None:
        return None
    return (await _progress_of(session, [row]))[0]


async def recent(session: AsyncSession, limit: int = 10) -> list[Progress]:
    rows = list(
        (
            await session.exec(select(Broadcast).order_by(col(Broadcast.id).desc()).limit(limit))
        ).all()
    )
    return await _progress_of(session, rows)


async def _progress_of(session: AsyncSession, rows: list[Broadcast]) -> list[Progress]:
    out = {row.id: Progress(row) for row in rows}
    if not out:
        return []
    counts = (
        await session.exec(
            select(
                BroadcastDelivery.broadcast_id,
                BroadcastDelivery.channel,
                BroadcastDelivery.status,
                func.count(),
            )
            .where(col(BroadcastDelivery.broadcast_id).in_(list(out)))
            .group_by(
                BroadcastDelivery.broadcast_id, BroadcastDelivery.channel, BroadcastDelivery.status
            )
        )
    ).all()
    for broadcast_id, channel, status, n in counts:
        item = out[broadcast_id]
        item.counts[status] = item.counts.get(status, 0) + n
        item.by_channel.setdefault(channel, {})[status] = n
    return [out[row.id] for row in rows]


async def audience(
    session: AsyncSession,
    topic: str,
    channels: Iterable[str],
    now: dt.datetime | None = None,
    windows: Mapping[str, dt.timedelta] | None = None,
) -> dict[str, int]:
    """Active, reachable subscribers of ``topic`` per channel (a preview of the recipients);
    with ``windows``, only those who wrote within their channel's window."""
    query = (
        select(ChannelUser.channel, func.count())
        .join(Subscription, col(Subscription.channel_user_id) == ChannelUser.id)
        .where(
            Subscription.topic == topic,
            col(Subscription.unsubscribed_at).is_(None),
            col(ChannelUser.reachable).is_(True),
            col(ChannelUser.channel).in_(list(channels)),
        )
        .group_by(ChannelUser.channel)
    )
    for name, window in (windows or {}).items():
        query = query.where(or_(col(ChannelUser.channel) != name,
                                col(ChannelUser.last_seen_at) >= (now or utcnow()) - window))
    return dict((await session.exec(query)).all())


async def lease_holder(
    session: AsyncSession, name: str, now: dt.datetime | None = None
) -> str | None:
    """Who holds a lease now ("sender", "scheduler"), or None when nobody does."""
    row = await session.get(Lease, name)
    if row is None or as_utc(row.expires_at) <= (now or utcnow()):  # type: ignore[operator]
        return None
    return row.holder


def progress_bar(item: Progress, width: int = 24) -> str:
    done = round(item.share * width)
    return "█" * done + "░" * (width - done)
