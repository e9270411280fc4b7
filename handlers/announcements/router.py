"""/dangky and /huydangky: choosing which announcements to receive, on every channel.

Topics come from the content pack (content/topics.yaml). Each topic is one button that
subscribes or unsubscribes; unsubscribing from everything is always one step (/huydangky or
the "Hủy tất cả" button). Consent is recorded with its time; saying yes again after saying no
records a new consent.
"""

from __future__ import annotations

import logging

from sqlalchemy.exc import SQLAlchemyError

from bot.content.model import Topic
from bot.messages import Button, Incoming, Reply, Response
from bot.routing import Context, Route, Router
from handlers.announcements import subscriptions as subs
from handlers.announcements.service import PUSH_CHANNELS
from handlers.common import MENU, label, lose_session

log = logging.getLogger(__name__)
router = Router("subscriptions")

UNAVAILABLE = (
    "Dạ, hiện em chưa ghi nhận được đăng ký do hệ thống đang bận. "
    "Anh/Chị vui lòng thử lại sau ít phút ạ."
)


def _topic(ctx: Context, topic_id: str | None) -> Topic | None:
    return next((t for t in ctx.content.pack.topics if t.id == topic_id), None)


def _channel_note(ctx: Context) -> str:
    """What the citizen should know about receiving announcements on this channel."""
    if ctx.channel not in PUSH_CHANNELS:
        return (
            "\n\nLưu ý: trên kênh này em chưa tự gửi tin được; Anh/Chị nhắn cho em qua Zalo "
            "hoặc Telegram để nhận thông báo."
        )
    if ctx.channel == "zalo" and not ctx.settings.zalo.promotion_enabled:
        return (
            "\n\nLưu ý: theo quy định của Zalo, em chỉ gửi được thông báo trong 7 ngày kể từ "
            "lần cuối Anh/Chị nhắn tin cho em."
        )
    if ctx.channel == "messenger":
        return (
            "\n\nLưu ý: theo quy định của Messenger, em chỉ gửi được thông báo trong 24 giờ kể "
            "từ lần cuối Anh/Chị nhắn tin cho em."
        )
    return ""


def _chooser(ctx: Context, subscribed: set[str], head: str) -> Reply:
    topics = ctx.content.pack.topics
    lines = [head, ""]
    rows: list[tuple[Button, ...]] = []
    for topic in topics:
        on = topic.id in subscribed
        lines.append(f"{'✅' if on else '▫️'} {topic.title}")
        if on:
            rows.append((Button(label(f"✅ {topic.title}"), payload=f"sub:off:{topic.id}"),))
        else:
            rows.append((Button(label(f"🔔 {topic.title}"), payload=f"sub:on:{topic.id}"),))
    lines.append("")
    lines.append("Bấm vào chủ đề để đăng ký hoặc hủy.")
    if subscribed:
        rows.append((Button("🔕 Hủy tất cả", payload="sub:none"),))
    rows.append((MENU,))
    return Reply("\n".join(lines), tuple(rows))


async def _subscribed(ctx: Context) -> set[str] | None:
    if ctx.session is None or ctx.channel_user_id is None:
        return None
    try:
        return await subs.active_topics(ctx.session, ctx.channel_user_id)
    except SQLAlchemyError:
        await lose_session(ctx, "could not read subscriptions")
        return None


def _unavailable() -> Response:
    return Response([Reply(UNAVAILABLE, ((MENU,),))], "subscribe_unavailable")


async def _show(ctx: Context) -> Response:
    subscribed = await _subscribed(ctx)
    if subscribed is None:
        return _unavailable()
    if not ctx.content.pack.topics:
        text = "Dạ, hiện chưa có chủ đề thông báo nào để đăng ký ạ."
        return Response([Reply(text, ((MENU,),))], "subscriptions")
    head = f"Dạ, Anh/Chị chọn chủ đề muốn nhận thông báo của {ctx.settings.office.name}:"
    return Response([_chooser(ctx, subscribed, head)], "subscriptions")


async def _change(ctx: Context, topic: Topic, on: bool) -> Response:
    if ctx.session is None or ctx.channel_user_id is None:
        return _unavailable()
    try:
        if on:
            await subs.subscribe(ctx.session, ctx.channel_user_id, topic.id)
        else:
            await subs.unsubscribe(ctx.session, ctx.channel_user_id, topic.id)
        subscribed = await subs.active_topics(ctx.session, ctx.channel_user_id)
    except SQLAlchemyError:
        await lose_session(ctx, "could not change a subscription")
        return _unavailable()
    if on:
        head = (
            f"Dạ, em đã đăng ký cho Anh/Chị nhận thông báo **{topic.title}**. "
            "Muốn dừng, Anh/Chị gõ /huydangky." + _channel_note(ctx)
        )
        outcome = "subscribed"
    else:
        head = f"Dạ, em đã hủy đăng ký **{topic.title}** cho Anh/Chị."
        outcome = "unsubscribed"
    return Response([_chooser(ctx, subscribed, head)], outcome)


async def _unsubscribe_all(ctx: Context) -> Response:
    if ctx.session is None or ctx.channel_user_id is None:
        return _unavailable()
    try:
        ended = await subs.unsubscribe_all(ctx.session, ctx.channel_user_id)
    except SQLAlchemyError:
        await lose_session(ctx, "could not end subscriptions")
        return _unavailable()
    again = ((Button("🔔 Đăng ký lại", payload="sub"),), (MENU,))
    if not ended:
        text = "Dạ, hiện Anh/Chị chưa đăng ký nhận thông báo nào ạ."
        return Response([Reply(text, again)], "unsubscribed")
    text = (
        "Dạ, em đã hủy toàn bộ đăng ký. Em sẽ không gửi thông báo cho Anh/Chị nữa. "
        "Khi cần, Anh/Chị gõ /dangky để đăng ký lại ạ."
    )
    return Response([Reply(text, again)], "unsubscribed")


@router.command("dangky", menu="Đăng ký nhận thông báo")
async def dangky(ctx: Context, message: Incoming, route: Route) -> Response:
    """/dangky shows the topics; /dangky <topic id> subscribes at once."""
    if route.args:
        topic = _topic(ctx, route.args[0].strip().lower())
        if topic is not None:
            return await _change(ctx, topic, True)
    return await _show(ctx)


@router.command("huydangky", menu="Hủy đăng ký nhận thông báo")
async def huydangky(ctx: Context, message: Incoming, route: Route) -> Response:
    return await _unsubscribe_all(ctx)


@router.payload("sub")
async def sub_button(ctx: Context, message: Incoming, route: Route) -> Response:
    """``sub`` (show), ``sub:on:<topic>``, ``sub:off:<topic>``, ``sub:none`` (end all)."""
    action = route.args[0] if route.args else ""
    if action == "none":
        return await _unsubscribe_all(ctx)
    if action in ("on", "off"):
        topic = _topic(ctx, route.args[1] if len(route.args) > 1 else None)
        if topic is not None:
            return await _change(ctx, topic, action == "on")
        subscribed = await _subscribed(ctx)
        if subscribed is None:
            return _unavailable()
        head = "Dạ, chủ đề này không còn nữa. Anh/Chị chọn lại giúp em:"
        return Response([_chooser(ctx, subscribed, head)], "subscriptions")
    return await _show(ctx)
