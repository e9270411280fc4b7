"""Reply pieces several features share: the menu button, answers, the office's contacts."""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable

from sqlalchemy import Insert
from sqlalchemy.exc import SQLAlchemyError

from bot.content.answer import answer_text
from bot.content.model import FaqEntry
from bot.messages import Button, Incoming, Reply, Response
from bot.routing import Context, Handler, Route
from bot.storage.models import AuditEvent

log = logging.getLogger(__name__)

MENU = Button("☰ Menu", payload="menu")
# Entries whose answer leads straight into a conversation the bot offers itself.
ENTRY_ACTIONS = {
    "phan-anh-kien-nghi": Button("✍️ Gửi phản ánh cho xã ngay", payload="fb:start"),
    "danh-gia-hai-long": Button("⭐ Đánh giá mức độ hài lòng", payload="hl:start"),
}
MAX_LABEL = 60


def label(text: str) -> str:
    """Button labels stay short enough for every platform."""
    return text if len(text) <= MAX_LABEL else text[: MAX_LABEL - 1].rstrip() + "…"


def contact_line(ctx: Context) -> str:
    office = ctx.settings.office
    return f"Anh/Chị có thể gọi {office.hotline} ({office.name}) trong giờ hành chính để được hỗ trợ trực tiếp."


def answer_reply(ctx: Context, entry: FaqEntry, question_id: int | None) -> Reply:
    """The answer, its links and related entries, and the helpful / not helpful question."""
    pack = ctx.content.pack
    rows: list[tuple[Button, ...]] = [(Button(label(link.label), url=link.url),) for link in entry.links[:2]]
    if entry.id in ENTRY_ACTIONS:
        rows.insert(0, (ENTRY_ACTIONS[entry.id],))
    for related_id in entry.related[:3]:
        related = pack.entries.get(related_id)
        if related is not None:
            rows.append((Button(label(related.title), payload=f"faq:{related.id}"),))
    ref = f"{entry.id}:{question_id}" if question_id is not None else entry.id
    rows.append((Button("👍 Hữu ích", payload=f"v:1:{ref}"), Button("👎 Chưa hữu ích", payload=f"v:0:{ref}")))
    rows.append((MENU,))
    text = answer_text(entry, ctx.office) + "\n\nCâu trả lời có hữu ích không ạ?"
    return Reply(text, tuple(rows))


async def record(ctx: Context, row: object) -> bool:
    """Add and flush one record; a database failure costs the record, never the reply."""
    if ctx.session is None:
        return False
    try:
        ctx.session.add(row)
        await ctx.session.flush()
    except SQLAlchemyError:
        await lose_session(ctx, "could not record %s", type(row).__name__)
        return False
    return True


async def insert_row(ctx: Context, statement: Insert, values: dict[str, object]) -> int | None:
    """Run ``statement`` (an INSERT .. RETURNING id, built once) for one row: the hot path's
    records skip the ORM unit of work. None when the database failed: a failure costs the
    record (and the rest of the turn's writes), never the reply."""
    if ctx.session is None:
        return None
    try:
        return (await ctx.session.exec(statement, params=values)).scalar_one()
    except SQLAlchemyError:
        await lose_session(ctx, "could not record %s", statement.table)
        return None


async def lose_session(ctx: Context, what: str, *args: object) -> None:
    """The one policy for a database failure inside a turn: logged (``what`` % ``args``), the
    turn's transaction rolled back, and the rest of the turn goes on without the database
    (``ctx.session = None``): a failure costs the record, never the reply."""
    log.exception(what, *args)
    if ctx.session is not None:
        with contextlib.suppress(SQLAlchemyError):
            await ctx.session.rollback()
    ctx.session = None


Refusal = Callable[[Context, str], Awaitable[Response]]


async def refuse_officials(ctx: Context, action: str) -> Response:
    """The refusal of an officials' command to anyone else (audited)."""
    await audit(ctx, action, False)
    text = (
        "Dạ, chức năng này chỉ dành cho cán bộ quản trị của "
        f"{ctx.settings.office.name}. Anh/Chị cần hỏi về thủ tục nào cứ gõ câu hỏi cho em ạ."
    )
    return Response([Reply(text, ((MENU,),))], "refused")


def officials_only(action: str, refuse: Refusal) -> Callable[[Handler], Handler]:
    """The guard of an officials' command: anyone else gets the feature's polite ``refuse``,
    and the attempt is audited under ``action`` (by ``refuse``)."""

    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def guarded(ctx: Context, message: Incoming, route: Route) -> Response | None:
            if not ctx.is_admin:
                return await refuse(ctx, action)
            return await handler(ctx, message, route)

        return guarded

    return decorate


async def audit(ctx: Context, action: str, allowed: bool, **detail: object) -> None:
    """Officials' actions, and refused attempts at them, go to the audit log."""
    if not allowed:
        log.warning("refused %s for %s on %s", action, ctx.user_key, ctx.channel)
    row = AuditEvent(channel=ctx.channel, user_key=ctx.user_key, action=action, allowed=allowed,
                     detail=dict(detail))
    if not await record(ctx, row):
        log.warning("audit not recorded (no database): %s %s allowed=%s", ctx.user_key, action, allowed)
