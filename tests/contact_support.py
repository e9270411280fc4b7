"""A bot that asks for the citizen's phone number when told "sdt", for the channels' tests of
the phone request: each adapter renders ``Button(..., request="phone")`` its own way and
turns what the platform sends back into ``Incoming.contact``. Every other message gets the
real core's answer; every message the core sees is kept."""

from __future__ import annotations

from bot.app import BotApp
from bot.messages import Button, Incoming, Reply, Response

TRIGGER = "sdt"
SHARE = "📱 Chia sẻ số điện thoại"
ASK = Reply("Dạ, Anh/Chị vui lòng chia sẻ số điện thoại để ban tổ chức liên hệ trao giải ạ.",
            buttons=((Button(SHARE, request="phone"),), (Button("Để sau", payload="menu"),)))
ASK_ALONE = Reply(ASK.text, buttons=((Button(SHARE, request="phone"),),))


def asking_phone(bot: BotApp, reply: Reply = ASK) -> list[Incoming]:
    """Make ``bot`` answer TRIGGER with ``reply``; returns the list of messages it receives."""
    seen: list[Incoming] = []
    handle = bot.handle

    async def spy(message: Incoming, record: bool = True, event_id: str | None = None) -> Response:
        seen.append(message)
        response = await handle(message, record, event_id)  # the turn is recorded as usual
        if message.text == TRIGGER and response.outcome != "duplicate":
            return Response([reply], "ask_phone")
        return response

    bot.handle = spy  # type: ignore[method-assign]
    return seen
