"""Citizens' feedback and complaints ("phản ánh, kiến nghị"): tickets, officials, deadlines.

The conversation lives in ``handlers/feedback/router.py``; this module holds what the conversation,
the officials' replies and the server's periodic check share: numbering, working-day
deadlines, phone numbers, the card officials receive, sending to officials and to citizens.

Officials receive new tickets in the Telegram officials' chat (``telegram.admin_chat_id``)
when the Telegram channel is running; without it tickets are still stored (and the periodic
check forwards them once Telegram runs). The card shows the ticket with a short pseudonymous
reference of the sender, never their platform id.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import zlib
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from sqlalchemy import String, cast, func, literal, text
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.clock import TIMEZONE, aware, local
from bot.messages import Button, Reply
from bot.outbox.messages import AfterSent, enqueue
from bot.phones import format_phone
from bot.storage.models import (
    OPEN_TICKET,
    ChannelUser,
    OutboxMessage,
    SatisfactionResponse,
    Ticket,
    TicketMessage,
    open_ticket,
    utcnow,
)

if TYPE_CHECKING:
    from bot.app import BotApp
    from bot.config import Feedback, Settings
    from bot.ports import Channel

log = logging.getLogger(__name__)

SUBJECTS: dict[str, str] = {
    "thu_tuc": "Thủ tục hành chính",
    "can_bo": "Thái độ, tác phong cán bộ",
    "gop_y": "Góp ý, kiến nghị",
    "khac": "Nội dung khác",
}
STATUSES: dict[str, str] = {
    "new": "Mới tiếp nhận",
    "in_progress": "Đang xử lý",
    "answered": "Đã trả lời",
    "closed": "Đã đóng",
}
OPEN = OPEN_TICKET
# The standard five-level question, best first.
LEVELS: dict[int, str] = {
    5: "Rất hài lòng",
    4: "Hài lòng",
    3: "Bình thường",
    2: "Không hài lòng",
    1: "Rất không hài lòng",
}
SATISFIED = (5, 4)
CHANNEL_NAMES = {"telegram": "Telegram", "zalo": "Zalo", "messenger": "Messenger", "web": "Trang web", "console": "Dòng lệnh"}
# A ticket's number however typed: PA-2026-000123, pa 2026 123, PA.2026.000123.
_TICKET_NUMBER = re.compile(r"(?<![\w-])PA[-\s.]?(20\d{2})[-\s.]?(\d{1,6})(?![\w-])", re.IGNORECASE)


def parse_ticket_number(text: str) -> str | None:
    """The one reading of a ticket number in a message: as the ticket carries it, or None."""
    match = _TICKET_NUMBER.search(text)
    return f"PA-{match.group(1)}-{int(match.group(2)):06d}" if match else None
FORWARD_GRACE = dt.timedelta(minutes=5)  # a fresh ticket's card is queued by its own turn
CARD = "ticket_card"  # the outbox's kinds of feedback messages
ANSWER = "ticket_answer"
NOTE = "officials_note"
OVERDUE = "overdue_flag"
QUEUED = "queued"  # an answer's delivery until the outbox knows it
_STILL_QUEUED = ("pending", "sending", "sent", "unknown")


def add_working_days(start: dt.date, days: int, holidays: Iterable[dt.date] = ()) -> dt.date:
    """The ``days``-th working day after ``start`` (weekends and ``holidays`` not counted)."""
    off = set(holidays)
    day = start
    left = days
    while left > 0:
        day += dt.timedelta(days=1)
        if day.weekday() < 5 and day not in off:
            left -= 1
    return day


def deadline_for(created_at: dt.datetime, config: Feedback) -> dt.datetime:
    """The end (23:59:59, Vietnam time) of the last working day allowed for the answer, in UTC."""
    last_day = add_working_days(local(created_at).date(), config.answer_days, config.holidays)
    end = dt.datetime.combine(last_day, dt.time(23, 59, 59), TIMEZONE)
    return end.astimezone(dt.UTC)


def deadline_text(ticket: Ticket) -> str:
    return local(ticket.deadline).strftime("%d/%m/%Y")


def is_overdue(ticket: Ticket, now: dt.datetime) -> bool:
    return ticket.status in OPEN and aware(ticket.deadline) < now


def sender_ref(user_key: str) -> str:
    """What officials see instead of the citizen's platform id: a short pseudonym."""
    return "#" + user_key[:6].upper()


async def create_ticket(
    session: AsyncSession,
    settings: Settings,
    *,
    channel: str,
    channel_user_id: int | None,
    user_key: str,
    subject: str,
    content: str,
    photo_ref: str | None = None,
    phone: str | None = None,
    question_id: int | None = None,
    now: dt.datetime | None = None,
) -> Ticket:
    """Number and store a ticket in the turn's transaction (the turn's commit makes the number
    the citizen's for good, or nothing was filed).

    Numbers run per year (Vietnam time). PostgreSQL serializes numbering with a transaction
    lock; SQLite already holds its single writer lock once the turn has written anything,
    and the unique constraints are the last guard in both.
    """
    now = now or utcnow()
    year = local(now).year
    if session.bind.dialect.name == "postgresql":
        await session.exec(text("SELECT pg_advisory_xact_lock(:key)").bindparams(  # type: ignore[call-overload]
            key=zlib.crc32(f"ticket-number-{year}".encode())))
    last = (await session.exec(select(func.max(Ticket.seq)).where(Ticket.year == year))).one()
    seq = (last or 0) + 1
    ticket = Ticket(
        number=f"PA-{year}-{seq:06d}", year=year, seq=seq, created_at=now, updated_at=now,
        channel=channel, channel_user_id=channel_user_id, user_key=user_key, subject=subject,
        content=content, photo_ref=photo_ref, phone=phone,
        phone_consent_at=now if phone else None, question_id=question_id, status="new",
        deadline=deadline_for(now, settings.feedback),
    )
    session.add(ticket)
    await session.flush()
    return ticket


def officials_card(ticket: Ticket, office_name: str = "") -> Reply:
    """The ticket as officials see it in their chat: replying to it answers the citizen."""
    lines = [
        f"📨 **Phản ánh {ticket.number}** ({STATUSES.get(ticket.status, ticket.status)})",
        f"Lĩnh vực: {SUBJECTS.get(ticket.subject, ticket.subject)}",
        f"Kênh: {CHANNEL_NAMES.get(ticket.channel, ticket.channel)} · Người gửi: {sender_ref(ticket.user_key)}",
        f"Hạn trả lời: {deadline_text(ticket)}",
        "",
        ticket.content,
    ]
    if ticket.photo_ref:
        shown = ticket.photo_ref if ticket.photo_ref.startswith(("http://", "https://")) else (
            "có, nhưng kênh này chưa chuyển kèm được ảnh")
        lines += ["", f"Ảnh: {shown}"]
    if ticket.phone:
        lines += ["", f"Điện thoại gọi lại (người dân đồng ý): {format_phone(ticket.phone)}"]
    lines += ["", "↩️ Trả lời (Reply) đúng tin này để gửi câu trả lời tới người dân."]
    buttons = (
        Button("🛠 Nhận xử lý", payload=f"tk:prog:{ticket.id}"),
        Button("✔️ Đóng", payload=f"tk:close:{ticket.id}"),
    )
    return Reply("\n".join(lines), (buttons,))


def officials_chat(settings: Settings) -> str | None:
    chat = settings.telegram.admin_chat_id
    return str(chat) if chat is not None else None


def queue_card(session: AsyncSession, settings: Settings, ticket: Ticket) -> bool:
    """Decide to send the ticket's card to the officials' chat (the outbox delivers it after the
    commit); False when no officials' chat is configured."""
    chat = officials_chat(settings)
    if chat is None:
        return False
    enqueue(session, CARD, "telegram", chat, [officials_card(ticket)], ref=f"ticket:{ticket.id}")
    return True


def _ref_id(row: OutboxMessage) -> int:
    return int((row.ref or ":").partition(":")[2] or 0)


async def card_delivered(session: AsyncSession, row: OutboxMessage) -> None:
    """A card reached the officials: replying to that message answers the ticket. (An
    undelivered card is queued again by the periodic check.)"""
    ticket = await session.get(Ticket, _ref_id(row)) if row.status == "sent" else None
    if ticket is not None:
        ticket.forwarded_chat_id, ticket.forwarded_message_id = row.platform_id, row.message_id
        session.add(ticket)


def satisfaction_buttons(suffix: str) -> tuple[tuple[Button, ...], ...]:
    """The five levels, one per row (long labels, small screens): ``hl:<level>:<suffix>``."""
    return tuple((Button(label, payload=f"hl:{level}:{suffix}"),) for level, label in LEVELS.items())


async def has_rating(session: AsyncSession, ticket_id: int) -> bool:
    found = (await session.exec(select(SatisfactionResponse.id).where(
        SatisfactionResponse.ticket_id == ticket_id))).first()
    return found is not None


async def _citizen_address(session: AsyncSession, channels: Mapping[str, Channel],
                           ticket: Ticket) -> tuple[str | None, str, str | None]:
    """Where the citizen can be messaged first: (platform id, or None with the status and why)."""
    if ticket.channel not in channels:
        return None, "not_pushed", f"kênh {ticket.channel} không gửi tin chủ động được"
    user = await session.get(ChannelUser, ticket.channel_user_id) if ticket.channel_user_id else None
    if user is None:
        return None, "failed", "không còn địa chỉ người gửi"
    return user.platform_id, QUEUED, None


async def answer_ticket(
    session: AsyncSession,
    channels: Mapping[str, Channel],
    office_name: str,
    ticket: Ticket,
    body: str,
    author_key: str,
) -> tuple[str, str | None]:
    """An official's answer: recorded, the ticket answered, and the answer (with the
    satisfaction question) queued for the citizen on the channel they used, delivered after the
    caller's commit. Officials answer from the Telegram chat and from the dashboard; both come
    here. Returns the delivery so far (``queued``, or why it cannot be pushed) and its error."""
    assert ticket.id is not None
    now = utcnow()
    replies = [Reply(f"📬 **Trả lời phản ánh {ticket.number}**\n\n{body}\n\n— {office_name}")]
    if not await has_rating(session, ticket.id):
        replies.append(Reply("Dạ, Anh/Chị có hài lòng với việc giải quyết phản ánh này không ạ?",
                             satisfaction_buttons(f"t:{ticket.id}")))
    platform_id, status, error = await _citizen_address(session, channels, ticket)
    message = TicketMessage(ticket_id=ticket.id, created_at=now, author="official",
                            author_key=author_key[:64], body=body[:4000], delivery=status,
                            delivery_error=error[:512] if error else None)
    session.add(message)
    await session.flush()
    if platform_id is not None:
        enqueue(session, ANSWER, ticket.channel, platform_id, replies, ref=f"answer:{message.id}")
    if ticket.status in OPEN:
        ticket.status = "answered"
    ticket.answered_at = ticket.answered_at or now
    ticket.updated_at = now
    session.add(ticket)
    return status, error


def undelivered_text(ticket: Ticket, status: str, error: str | None) -> str:
    """What officials are told when an answer cannot reach the citizen."""
    where = CHANNEL_NAMES.get(ticket.channel, ticket.channel)
    return (f"⚠️ Đã lưu câu trả lời phản ánh {ticket.number} nhưng chưa gửi được tới người dân "
            f"({where}: {status}{', ' + error if error else ''}). Người dân vẫn xem được khi hỏi "
            "tình trạng phản ánh" + ("; có số điện thoại để gọi lại trên phiếu." if ticket.phone else "."))


def outbox_effects(settings: Settings) -> dict[str, AfterSent]:
    """What the outbox's sender records once the delivery of a feedback message is known."""

    async def answer_delivered(session: AsyncSession, row: OutboxMessage) -> None:
        """On the ticket's message (the dashboard shows it); officials hear of a failure."""
        message = await session.get(TicketMessage, _ref_id(row))
        if message is None:
            return
        message.delivery, message.delivery_error = row.status, row.error
        session.add(message)
        ticket = await session.get(Ticket, message.ticket_id)
        chat = officials_chat(settings)
        if row.status != "sent" and ticket is not None and chat is not None:
            enqueue(session, NOTE, "telegram", chat, [Reply(undelivered_text(ticket, row.status, row.error))])

    return {CARD: card_delivered, ANSWER: answer_delivered}


# --- the periodic check (bot/server.py runs it) ---------------------------------------------


def overdue_reply(tickets: list[Ticket], now: dt.datetime) -> Reply:
    lines = [f"⏰ **Phản ánh quá hạn trả lời: {len(tickets)}**"]
    for ticket in tickets:
        late = (local(now).date() - local(ticket.deadline).date()).days
        lines.append(f"- {ticket.number} · {SUBJECTS.get(ticket.subject, ticket.subject)} · "
                     f"{STATUSES.get(ticket.status, ticket.status)} · hạn {deadline_text(ticket)} "
                     f"(trễ {late} ngày)")
    lines.append("\nTrả lời (Reply) tin phản ánh gốc, hoặc gõ /traloi <số phản ánh> <nội dung>.")
    return Reply("\n".join(lines))


async def check_tickets(bot: BotApp, now: dt.datetime | None = None) -> dict[str, int]:
    """Forward tickets the officials have not received, flag overdue ones to them (again after
    ``feedback.overdue_repeat_hours``), and erase call-back phone numbers kept long enough."""
    now = now or utcnow()
    config = bot.settings.feedback
    done = {"forwarded": 0, "overdue": 0, "phones_erased": 0}
    async with bot.database.session() as session:
        try:
            chat = officials_chat(bot.settings)
            reachable = chat is not None and "telegram" in bot.channels
            if reachable:
                queued = select(OutboxMessage.id).where(
                    OutboxMessage.kind == CARD, col(OutboxMessage.status).in_(_STILL_QUEUED),
                    OutboxMessage.ref == literal("ticket:") + cast(col(Ticket.id), String))
                pending = (await session.exec(select(Ticket).where(
                    col(Ticket.forwarded_message_id).is_(None), open_ticket(),
                    Ticket.created_at < now - FORWARD_GRACE, ~queued.exists()).order_by(Ticket.id))).all()
                for ticket in pending:  # filed while no officials' chat was set up, or undelivered
                    queue_card(session, bot.settings, ticket)
                    done["forwarded"] += 1
            again = now - dt.timedelta(hours=config.overdue_repeat_hours)
            overdue = (await session.exec(select(Ticket).where(
                open_ticket(), Ticket.deadline < now).order_by(Ticket.id))).all()
            due = [t for t in overdue
                   if t.overdue_notified_at is None or aware(t.overdue_notified_at) <= again]
            if due and reachable:
                assert chat is not None
                enqueue(session, OVERDUE, "telegram", chat, [overdue_reply(due, now)])
                for ticket in due:
                    ticket.overdue_notified_at = now
                    session.add(ticket)
                done["overdue"] = len(due)
            elif due:
                log.warning("%d overdue tickets (%s) not flagged: no officials' chat is running",
                            len(due), ", ".join(t.number for t in due))
            cutoff = now - dt.timedelta(days=config.phone_retention_days)
            old_phones = (await session.exec(select(Ticket).where(
                col(Ticket.phone).is_not(None), col(Ticket.answered_at).is_not(None),
                Ticket.answered_at < cutoff))).all()
            for ticket in old_phones:
                ticket.phone = None
                session.add(ticket)
            done["phones_erased"] = len(old_phones)
            await session.commit()
        except SQLAlchemyError:
            log.exception("ticket check failed")
            await session.rollback()
    return done
