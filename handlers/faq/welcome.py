"""Welcoming a new follower, with the offer to receive the office's announcements.

Channels with a "follow" event (Zalo OA) send the payload ``welcome``; the offer's button opens
the subscription chooser (``sub``, handlers/announcements/router.py).
"""

from __future__ import annotations

from bot.messages import Button, Incoming, Reply, Response
from bot.routing import Context, Route, Router
from handlers.common import MENU
from handlers.faq.start import menu_reply

router = Router("welcome")
SUBSCRIBE = Button("🔔 Nhận thông báo", payload="sub")


@router.payload("welcome")
async def welcome(ctx: Context, message: Incoming, route: Route) -> Response:
    office = ctx.settings.office
    offer = (
        f"Anh/Chị có muốn nhận thông báo của {office.name} (thủ tục mới, lịch làm việc, "
        "các đợt tiếp nhận hồ sơ) qua tin nhắn không ạ?"
    )
    return Response([menu_reply(ctx, greeting=True), Reply(offer, ((SUBSCRIBE,), (MENU,)))], "welcome")
