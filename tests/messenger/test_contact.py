"""The phone request on Messenger: the ``user_phone_number`` quick reply, and the number Meta
sends back as its payload."""

from __future__ import annotations

from bot.channels.messenger_render import MAX_QUICK_REPLIES, render
from bot.messages import Button, Contact, Reply
from fakes.messenger import PHONE_QUICK_REPLY
from tests.contact_support import ASK, ASK_ALONE, SHARE, TRIGGER, asking_phone
from tests.messenger.conftest import Rig


async def test_the_person_shares_their_facebook_number(rig: Rig) -> None:
    seen = asking_phone(rig.bot)
    await rig.meta.text("psid-lan", TRIGGER)
    await rig.settle()
    [ask] = rig.fake.messages_to("psid-lan")
    assert ask.text.startswith("Dạ, Anh/Chị vui lòng chia sẻ số điện thoại")
    assert [b["title"] for b in ask.buttons] == ["Để sau"]  # a template, and the phone chip under it
    assert ask.quick_replies == [PHONE_QUICK_REPLY]
    await rig.meta.share_phone("psid-lan", "+84912345678")
    await rig.settle()
    assert seen[-1].contact == Contact(phone="0912345678", verified=True)
    assert seen[-1].payload is None and seen[-1].text == ""
    assert len(rig.fake.messages_to("psid-lan")) == 2 and rig.fake.refused == []
    # the page's own buttons still come back as payloads
    await rig.meta.text("psid-lan", TRIGGER)
    await rig.settle()
    await rig.meta.postback("psid-lan", rig.fake.messages_to("psid-lan")[-1].buttons[0])
    await rig.settle()
    assert seen[-1].payload == "menu" and seen[-1].contact is None


async def test_a_request_alone_is_a_text_with_the_phone_chip(rig: Rig) -> None:
    asking_phone(rig.bot, ASK_ALONE)
    await rig.meta.text("psid-minh", TRIGGER)
    await rig.settle()
    [ask] = rig.fake.messages_to("psid-minh")
    assert ask.message == {"text": ASK.text, "quick_replies": [PHONE_QUICK_REPLY]}


def test_the_phone_chip_takes_one_of_the_thirteen_places() -> None:
    choices = tuple((Button(f"Mục {i}", payload=f"p{i}"),) for i in range(MAX_QUICK_REPLIES))
    many = render([Reply("Chọn", buttons=(*choices, (Button(SHARE, request="phone"),)))])
    [message] = many.messages
    assert len(message["quick_replies"]) <= MAX_QUICK_REPLIES  # thirteen choices: numbered instead
    assert message["quick_replies"] == [PHONE_QUICK_REPLY] and len(many.choices) == MAX_QUICK_REPLIES
    fewer = render([Reply("Chọn", buttons=(*choices[:12], (Button(SHARE, request="phone"),)))])
    assert [q["content_type"] for q in fewer.messages[0]["quick_replies"]] == ["text"] * 12 + ["user_phone_number"]
