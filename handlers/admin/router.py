"""Officials' commands: /broadcast (compose an announcement), /stats, /reload.

Channel-neutral like every feature: who is an official is decided by the configuration
(``Context.is_admin``). Every attempt is audited: officials' actions with ``allowed=True``,
anyone else's with ``allowed=False`` and a polite refusal.

/broadcast is a guided flow kept in ``ctx.state`` (so any worker can continue it): choose a
topic, write the text, see the preview exactly as citizens will receive it, then confirm or
cancel. Confirming schedules the ``Broadcast`` through ``handlers.announcements.service`` (the same
text, checks and rendering the sender uses); sending it is the broadcast service's job.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping

from sqlalchemy import func
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import col, select

from bot import text as vtext
from bot.content import revisions
from bot.content.loader import TIMEZONE
from bot.content.model import Topic
from bot.messages import Button, Incoming, Reply, Response
from bot.routing import Context, Route, Router
from bot.storage.models import Broadcast, QuestionLog, Subscription, waiting_broadcast
from handlers.announcements import service
from handlers.common import MENU, audit, label, lose_session, officials_only

log = logging.getLogger(__name__)
router = Router("admin")

FLOW = "broadcast"
CANCEL_WORDS = {"huy", "huy bo", "cancel", "thoat", "dung"}
MAX_PROBLEM_LINES = 15
OUTCOME_LABELS = {
    "answer": "Trả lời được ngay",
    "clarify": "Hỏi lại “Có phải…?”",
    "not_sure": "Chưa trả lời được",
}
CANCEL = Button("✖️ Hủy", payload="bc:cancel")


def announcement(topic: Topic, body: str, office: Mapping[str, str]) -> Reply:
    """The announcement exactly as the sender hands it to a channel for each citizen."""
    return service.announcement_reply(service.announcement_text(topic.title, body, office), office)


async def _refuse(ctx: Context, action: str) -> Response:
    await audit(ctx, action, False)
    text = (
        "Dạ, chức năng này chỉ dành cho cán bộ quản trị của "
        f"{ctx.settings.office.name}. Anh/Chị cần hỏi về thủ tục nào cứ gõ câu hỏi cho em ạ."
    )
    return Response([Reply(text, ((MENU,),))], "refused")


def _topic(ctx: Context, topic_id: str | None) -> Topic | None:
    return next((t for t in ctx.content.pack.topics if t.id == topic_id), None)


def _choose_topic(ctx: Context, hint: str = "") -> Reply:
    rows = [(Button(label(t.title), payload=f"bc:topic:{t.id}"),) for t in ctx.content.pack.topics]
    rows.append((CANCEL,))
    return Reply(f"{hint}Dạ, Anh/Chị chọn chủ đề của thông báo (người đăng ký chủ đề đó sẽ nhận được):",
                 tuple(rows))


def _ask_text(topic: Topic) -> Reply:
    text = (
        f"Dạ, chủ đề: **{topic.title}**.\n\n"
        "Anh/Chị gõ nội dung thông báo trong một tin nhắn. Có thể dùng **chữ đậm**, _chữ nghiêng_, "
        "liên kết dạng [tên](https://...) và {{ office.hotline }} để điền thông tin của cơ quan. "
        "Em sẽ cho xem trước trước khi ghi nhận."
    )
    return Reply(text, ((CANCEL,),))


def _leave_flow(ctx: Context) -> None:
    ctx.state.pop("flow", None)
    ctx.state.pop(FLOW, None)


async def _cancel(ctx: Context) -> Response:
    had_draft = ctx.state.get("flow") == FLOW
    _leave_flow(ctx)
    await audit(ctx, "broadcast.cancel", True)
    text = ("Dạ, em đã hủy thông báo đang soạn, chưa có gì được gửi đi ạ." if had_draft
            else "Dạ, hiện Anh/Chị không soạn thông báo nào ạ.")
    return Response([Reply(text, ((MENU,),))], "admin")


@router.command("broadcast", menu="Soạn thông báo gửi người dân", officials=True)
@officials_only("broadcast", _refuse)
async def broadcast(ctx: Context, message: Incoming, route: Route) -> Response:
    if not ctx.content.pack.topics:
        text = ("Dạ, bộ nội dung chưa có chủ đề thông báo nào (content/topics.yaml), nên chưa soạn "
                "được thông báo. Anh/Chị nhờ người biên tập nội dung bổ sung chủ đề ạ.")
        return Response([Reply(text, ((MENU,),))], "admin")
    ctx.state["flow"] = FLOW
    ctx.state[FLOW] = {"step": "topic"}
    await audit(ctx, "broadcast.start", True)
    return Response([_choose_topic(ctx)], "admin")


@router.payload("bc")
async def broadcast_button(ctx: Context, message: Incoming, route: Route) -> Response:
    """``bc:topic:<id>``, ``bc:confirm``, ``bc:cancel``: the buttons of the /broadcast flow."""
    action = route.args[0] if route.args else ""
    if not ctx.is_admin:
        return await _refuse(ctx, f"broadcast.{action or 'button'}")
    if action == "cancel":
        return await _cancel(ctx)
    draft = ctx.state.get(FLOW) if ctx.state.get("flow") == FLOW else None
    if not isinstance(draft, dict):
        text = ("Dạ, thông báo này không còn đang soạn (đã ghi nhận hoặc đã hủy). "
                "Anh/Chị gõ /broadcast để soạn thông báo mới ạ.")
        return Response([Reply(text, ((MENU,),))], "stale")
    if action == "topic":
        topic = _topic(ctx, route.args[1] if len(route.args) > 1 else None)
        if topic is None:
            return Response([_choose_topic(ctx, "Dạ, chủ đề này không còn trong nội dung. ")], "admin")
        ctx.state[FLOW] = {"step": "text", "topic": topic.id}
        return Response([_ask_text(topic)], "admin")
    if action == "confirm" and draft.get("step") == "confirm":
        return await _record_broadcast(ctx, draft)
    topic = _topic(ctx, draft.get("topic"))
    if draft.get("step") == "text" and topic is not None:  # an old button: continue where they are
        return Response([_ask_text(topic)], "admin")
    return Response([_choose_topic(ctx)], "admin")


@router.flow(FLOW)
async def broadcast_text(ctx: Context, message: Incoming, route: Route) -> Response:
    """What an official types while composing: the announcement's text."""
    if not ctx.is_admin:  # no longer an official (configuration changed mid-flow)
        _leave_flow(ctx)
        return await _refuse(ctx, "broadcast.text")
    text = message.text.strip()
    if vtext.normalize(text) in CANCEL_WORDS or " ".join(vtext.tokens(text)) in CANCEL_WORDS:
        return await _cancel(ctx)
    draft = ctx.state.get(FLOW) if isinstance(ctx.state.get(FLOW), dict) else {"step": "topic"}
    topic = _topic(ctx, draft.get("topic"))
    if draft.get("step") == "topic" or topic is None:
        ctx.state[FLOW] = {"step": "topic"}
        return Response([_choose_topic(ctx, "Dạ, Anh/Chị chọn chủ đề trước rồi mới gõ nội dung ạ.\n\n")],
                        "admin")
    if not text:
        return Response([_ask_text(topic)], "admin")
    try:  # the platforms' length limits, checked now rather than at confirmation
        service.check_text(service.announcement_text(topic.title, text, ctx.office), service.PUSH_CHANNELS)
    except service.BroadcastError as exc:
        return Response([Reply(f"Dạ, {exc}. Anh/Chị gõ lại nội dung ngắn hơn ạ.", ((CANCEL,),))], "admin")
    ctx.state[FLOW] = {"step": "confirm", "topic": topic.id, "body": text}
    preview = announcement(topic, text, ctx.office)
    intro = Reply("Dạ, đây là bản xem trước, đúng như người dân sẽ nhận được:")
    confirm = Reply(
        "Anh/Chị kiểm tra lại rồi bấm **Xác nhận** để ghi nhận thông báo, hoặc gõ nội dung khác "
        "để sửa, hoặc bấm **Hủy**.",
        ((Button("✅ Xác nhận", payload="bc:confirm"), CANCEL),),
    )
    return Response([intro, preview, confirm], "admin")


async def _record_broadcast(ctx: Context, draft: dict) -> Response:
    topic = _topic(ctx, draft.get("topic"))
    body = draft.get("body")
    if topic is None or not isinstance(body, str):
        ctx.state[FLOW] = {"step": "topic"}
        return Response([_choose_topic(ctx, "Dạ, chủ đề này không còn trong nội dung. ")], "admin")
    if ctx.session is None:
        text = ("Dạ, hệ thống đang không ghi được dữ liệu nên chưa ghi nhận được thông báo. "
                "Anh/Chị vui lòng bấm **Xác nhận** lại sau ít phút ạ.")
        return Response([Reply(text, ((Button("✅ Xác nhận", payload="bc:confirm"), CANCEL),))], "admin")
    try:
        row = await service.create_broadcast(
            ctx.session, author=f"{ctx.channel}:{ctx.user_key}", topic=topic.id, body=body,
            channels=service.PUSH_CHANNELS, title=topic.title, office=ctx.office, status="scheduled",
        )
    except service.BroadcastError as exc:
        ctx.state[FLOW] = {"step": "text", "topic": topic.id}
        return Response([Reply(f"Dạ, {exc}. Anh/Chị gõ lại nội dung ạ.", ((CANCEL,),))], "admin")
    except SQLAlchemyError:
        await lose_session(ctx, "could not record a broadcast")
        text = ("Dạ, em chưa ghi nhận được thông báo do lỗi hệ thống. "
                "Anh/Chị vui lòng bấm **Xác nhận** lại sau ít phút ạ.")
        return Response([Reply(text, ((Button("✅ Xác nhận", payload="bc:confirm"), CANCEL),))], "admin")
    _leave_flow(ctx)
    await audit(ctx, "broadcast.confirm", True, broadcast_id=row.id, topic=topic.id)
    quiet = ctx.settings.broadcast
    morning = service.quiet_until(dt.datetime.now(dt.UTC), quiet.quiet_start, quiet.quiet_end)
    when = ("em bắt đầu gửi ngay" if morning is None else
            f"đang giờ yên lặng ({quiet.quiet_start:%H:%M}–{quiet.quiet_end:%H:%M}) nên em sẽ gửi lúc "
            f"{service.local(morning):%H:%M %d/%m}")
    text = (f"Dạ, em đã ghi nhận thông báo số {row.id} cho chủ đề **{topic.title}**; {when} tới những "
            "người đã đăng ký. Anh/Chị xem tiến độ bằng /stats ạ.")
    return Response([Reply(text, ((MENU,),))], "admin")


@router.command("stats", menu="Thống kê câu hỏi hôm nay", officials=True)
@officials_only("stats", _refuse)
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
    lines.append(f"**Thông báo chờ gửi (nháp, đã hẹn giờ): {waiting}**")
    for item in recent:
        status = service.STATUS_LABELS.get(item.broadcast.status, item.broadcast.status)
        lines.append(f"- Số {item.broadcast.id} ({titles.get(item.broadcast.topic, item.broadcast.topic)}): "
                     f"{status}, đã gửi {item.counts.get('sent', 0)}/{item.total}")
    return Response([Reply("\n".join(lines), ((MENU,),))], "admin")


@router.command("reload", menu="Nạp lại nội dung, báo lỗi nếu có", officials=True)
@officials_only("reload", _refuse)
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
        text = ("Dạ, em chưa nạp lại được nội dung vì chưa kết nối được cơ sở dữ liệu; em vẫn dùng "
                "nội dung hiện có ạ. Anh/Chị thử lại sau ít phút.")
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
