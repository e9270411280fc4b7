"""/broadcast: an official composes an announcement in conversation.

Channel-neutral like every feature: who is an official is decided by the configuration
(``Context.is_admin``). Every attempt is audited: officials' actions with ``allowed=True``,
anyone else's with ``allowed=False`` and a polite refusal.

It is a guided flow kept in ``ctx.state`` (so any worker can continue it): choose a
topic, write the text, see the preview exactly as citizens will receive it, then confirm or
cancel. Confirming schedules the ``Broadcast`` through ``handlers.announcements.service`` (the same
text, checks and rendering the sender uses); sending it is the broadcast service's job.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping

from sqlalchemy.exc import SQLAlchemyError

from bot import text as vtext
from bot.content.model import Topic
from bot.messages import Button, Incoming, Reply, Response
from bot.routing import Context, Route, Router
from handlers.announcements import service
from handlers.common import MENU, audit, label, lose_session, officials_only, refuse_officials

log = logging.getLogger(__name__)
router = Router("broadcast")

FLOW = "broadcast"
CANCEL_WORDS = {"huy", "huy bo", "cancel", "thoat", "dung"}
CANCEL = Button("✖️ Hủy", payload="bc:cancel")


def announcement(topic: Topic, body: str, office: Mapping[str, str]) -> Reply:
    """The announcement exactly as the sender hands it to a channel for each citizen."""
    return service.announcement_reply(service.announcement_text(topic.title, body, office), office)


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
@officials_only("broadcast", refuse_officials)
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
        return await refuse_officials(ctx, f"broadcast.{action or 'button'}")
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
        return await refuse_officials(ctx, "broadcast.text")
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
