"""Officials' commands in conversation: /stats (today's figures), /reload (the content).

Who is an official is decided by the configuration (``Context.is_admin``); every attempt is
audited, and anyone else gets a polite refusal.
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import func
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import col, select

from bot.content import revisions
from bot.content.loader import TIMEZONE
from bot.messages import Incoming, Reply, Response
from bot.routing import Context, Route, Router
from bot.storage.models import Broadcast, QuestionLog, Subscription, waiting_broadcast
from handlers.announcements import service
from handlers.common import MENU, audit, lose_session, officials_only, refuse_officials

log = logging.getLogger(__name__)
router = Router("admin")

MAX_PROBLEM_LINES = 15
OUTCOME_LABELS = {
    "answer": "Trả lời được ngay",
    "clarify": "Hỏi lại “Có phải…?”",
    "not_sure": "Chưa trả lời được",
}


@router.command("stats", menu="Thống kê câu hỏi hôm nay", officials=True)
@officials_only("stats", refuse_officials)
async def stats(ctx: Context, message: Incoming, route: Route) -> Response:
    if ctx.session is None:
        text = "Dạ, hiện không đọc được cơ sở dữ liệu nên chưa có thống kê. Anh/Chị thử lại sau ít phút ạ."
        return Response([Reply(text, ((MENU,),))], "admin")
    local_today = dt.datetime.now(TIMEZONE).replace(hour=0, minute=0, second=0, microsecond=0)
    since = local_today.astimezone(dt.UTC)
    try:
        by_outcome = dict((await ctx.session.exec(
            select(QuestionLog.outcome, func.count())
            .where(QuestionLog.created_at >= since)
            .group_by(QuestionLog.outcome)
        )).all())
        active = col(Subscription.unsubscribed_at).is_(None)
        subscribers = (await ctx.session.exec(
            select(func.count(func.distinct(Subscription.channel_user_id))).where(active)
        )).one()
        by_topic = dict((await ctx.session.exec(
            select(Subscription.topic, func.count()).where(active).group_by(Subscription.topic)
        )).all())
        waiting = (await ctx.session.exec(
            select(func.count()).select_from(Broadcast).where(waiting_broadcast())
        )).one()
        recent = await service.recent(ctx.session, 3)
    except SQLAlchemyError:
        await lose_session(ctx, "could not compute statistics")
        text = "Dạ, hiện không đọc được cơ sở dữ liệu nên chưa có thống kê. Anh/Chị thử lại sau ít phút ạ."
        return Response([Reply(text, ((MENU,),))], "admin")
    await audit(ctx, "stats", True)
    lines = [f"**Thống kê hôm nay ({local_today:%d/%m/%Y})**",
             f"- Câu hỏi của người dân: {sum(by_outcome.values())}"]
    for outcome, name in OUTCOME_LABELS.items():
        lines.append(f"- {name}: {by_outcome.get(outcome, 0)}")
    lines.extend(f"- {outcome}: {n}" for outcome, n in sorted(by_outcome.items()) if outcome not in OUTCOME_LABELS)
    lines.append("")
    lines.append(f"**Người đăng ký nhận thông báo: {subscribers}**")
    titles = {t.id: t.title for t in ctx.content.pack.topics}
    lines.extend(f"- {titles.get(topic, topic)}: {n}" for topic, n in sorted(by_topic.items()))
    lines.append("")
    lines.append(f"**Thông báo chưa gửi xong (nháp, hẹn giờ, đang gửi): {waiting}**")
    for item in recent:
        status = service.STATUS_LABELS.get(item.broadcast.status, item.broadcast.status)
        lines.append(f"- Số {item.broadcast.id} ({titles.get(item.broadcast.topic, item.broadcast.topic)}): "
                     f"{status}, đã gửi {item.counts.get('sent', 0)}/{item.total}")
    return Response([Reply("\n".join(lines), ((MENU,),))], "admin")


@router.command("reload", menu="Nạp lại nội dung, báo lỗi nếu có", officials=True)
@officials_only("reload", refuse_officials)
async def reload_content(ctx: Context, message: Incoming, route: Route) -> Response:
    if ctx.services is None or ctx.database is None:
        text = "Dạ, ở chế độ này em không nạp lại được nội dung ạ."
        return Response([Reply(text, ((MENU,),))], "admin")
    store = ctx.services.content
    try:
        if ctx.session is not None:
            # The follower writes the revision in a transaction of its own; on SQLite (one writer
            # at a time) this turn's open write would hold it off, so the turn is committed first.
            await ctx.session.commit()
        # As the dashboard's button: the files edited on disk become a revision, served at once.
        problems = await revisions.follower_of(store, ctx.database, ctx.settings).take_in_disk()
    except (SQLAlchemyError, OSError, revisions.RevisionError):
        await lose_session(ctx, "reload: could not take the content files in")
        text = ("Dạ, lúc này em chưa nạp lại được nội dung (chưa kết nối được cơ sở dữ liệu hoặc chưa "
                "đọc được thư mục nội dung); em vẫn dùng nội dung hiện có ạ. Anh/Chị thử lại sau ít phút.")
        return Response([Reply(text, ((MENU,),))], "admin")
    errors = [str(p) for p in problems if not p.warning]
    warnings = [str(p) for p in problems if p.warning]
    pack = store.current.pack
    await audit(ctx, "reload", True, ok=not errors, errors=len(errors), warnings=len(warnings))
    if errors:
        head = (f"Dạ, nội dung mới có {len(errors)} lỗi nên em **vẫn dùng nội dung cũ** "
                f"({len(pack.entries)} câu hỏi). Anh/Chị sửa các lỗi sau rồi gõ /reload lại ạ:")
    else:
        head = (f"Dạ, em đã nạp lại nội dung: {len(pack.entries)} câu hỏi, "
                f"{len(pack.categories)} nhóm, {len(pack.campaigns)} chiến dịch.")
        if warnings:
            head += f" Có {len(warnings)} cảnh báo:"
    shown = (errors + warnings)[:MAX_PROBLEM_LINES]
    lines = [head, *(f"- {line}" for line in shown)]
    if len(errors) + len(warnings) > len(shown):
        lines.append(f"… và {len(errors) + len(warnings) - len(shown)} dòng nữa "
                     "(xem đầy đủ bằng lệnh cchc-bot content check).")
    return Response([Reply("\n".join(lines), ((MENU,),))], "admin")
