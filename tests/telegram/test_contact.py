"""The phone request on Telegram: the "share contact" reply keyboard (checked by the fake as the
Bot API checks it), the contact that comes back, and the keyboard taken away afterwards."""

from __future__ import annotations

import aiohttp
import pytest

from bot.messages import Contact, Reply
from bot.storage.models import CallbackPayload
from fakes.telegram import FakeBotApi
from tests.contact_support import ASK_ALONE, SHARE, TRIGGER, asking_phone
from tests.telegram.conftest import Harness, eventually, rows, running

CONTACT_KEYBOARD = {"keyboard": [[{"text": SHARE, "request_contact": True}]],
                    "resize_keyboard": True, "one_time_keyboard": True}


async def test_the_citizen_shares_their_own_number(tg: Harness) -> None:
    citizen = tg.fake.add_user(2005, "Lan", phone="84912345678")
    seen = asking_phone(tg.app)
    ask, prompt = await tg.say(citizen, TRIGGER, count=2)
    # the reply keeps its other button inline; the contact button comes on a message of its own
    assert ask.text.startswith("Dạ, Anh/Chị vui lòng chia sẻ số điện thoại")
    assert ask.callbacks == ["menu"] and ask.reply_markup is None
    assert prompt.text == f"Dạ, Anh/Chị bấm nút «{SHARE}» ở phía dưới khung chat ạ."
    assert prompt.reply_markup == CONTACT_KEYBOARD and prompt.keyboard == []
    assert tg.fake.reply_keyboards[citizen["id"]] == CONTACT_KEYBOARD
    before = len(tg.fake.to(citizen["id"]))
    tg.fake.share_contact(citizen)
    [answer] = await tg.fake.replies(citizen["id"], 1, after=before)
    assert seen[-1].contact == Contact(phone="0912345678", verified=True, name="Lan")
    assert seen[-1].text == "" and seen[-1].payload is None
    # the next reply takes the keyboard away
    assert answer.reply_markup == {"remove_keyboard": True}
    assert citizen["id"] not in tg.fake.reply_keyboards
    assert [r for r in rows(tg.database_url, CallbackPayload) if r["key"].startswith("rk:")] == []
    assert tg.fake.refused == []


async def test_a_contact_from_the_address_book_is_not_verified(polling: Harness) -> None:
    citizen = polling.fake.add_user(2006, "Minh", phone="84987654321")
    seen = asking_phone(polling.app)
    await polling.say(citizen, TRIGGER, count=2)
    polling.fake.contact(citizen, "+84 90 111 2233", "Hùng", user_id=4242, last_name="Trần")
    polling.fake.contact(citizen, "0903334455", "Mẹ")  # no Telegram account
    polling.fake.contact(citizen, "+33612345678", "Pierre", user_id=citizen["id"])  # their own, abroad
    await eventually(lambda: len([m for m in seen if m.contact]) == 3, what="three contacts")
    assert [m.contact for m in seen if m.contact] == [
        Contact(phone="0901112233", verified=False, name="Hùng Trần"),
        Contact(phone="0903334455", verified=False, name="Mẹ"),
        Contact(phone="+33612345678", verified=True, name="Pierre"),  # the core decides about it
    ]


async def test_a_request_alone_rides_on_the_reply(polling: Harness) -> None:
    citizen = polling.fake.add_user(2007, "Hoa", phone="84355551234")
    asking_phone(polling.app, ASK_ALONE)
    [ask] = await polling.say(citizen, TRIGGER)
    assert ask.text.startswith("Dạ, Anh/Chị vui lòng chia sẻ") and ask.reply_markup == CONTACT_KEYBOARD


async def test_the_keyboard_goes_even_when_every_next_message_has_buttons(polling: Harness) -> None:
    """The citizen answers with an inline button instead: the menu that follows is one message
    with an inline keyboard, so its text carries the removal and its buttons follow."""
    citizen = polling.fake.add_user(2008, "Tuấn", phone="84912000111")
    asking_phone(polling.app)
    ask, _ = await polling.say(citizen, TRIGGER, count=2)
    text, buttons = await polling.press(citizen, ask, "menu", count=2)
    assert text.kind == "message" and text.text.startswith("Anh/Chị cứ gõ câu hỏi")
    assert text.reply_markup == {"remove_keyboard": True} and text.keyboard == []
    assert buttons.text == "Dạ, Anh/Chị chọn một mục dưới đây ạ."
    assert buttons.callbacks[:2] == ["cat:ho-tich", "cat:lien-he"]
    assert citizen["id"] not in polling.fake.reply_keyboards
    [menu] = await polling.say(citizen, "/menu")  # and only once
    assert menu.reply_markup is None and menu.callbacks[:2] == ["cat:ho-tich", "cat:lien-he"]


async def test_a_broadcast_leaves_the_keyboard_to_the_conversation(polling: Harness) -> None:
    citizen = polling.fake.add_user(2009, "Mai", phone="84912000222")
    asking_phone(polling.app)
    await polling.say(citizen, TRIGGER, count=2)
    delivery = await polling.channel.send(str(citizen["id"]), [Reply("Thông báo: lịch tiếp dân tuần sau.")])
    assert delivery.status == "sent"
    assert polling.fake.to(citizen["id"])[-1].reply_markup is None
    assert citizen["id"] in polling.fake.reply_keyboards  # still there to press


async def test_no_contact_button_in_a_group(database_url: str, fake: FakeBotApi) -> None:
    """Telegram offers contact buttons in private chats only: in a group the reply goes without."""
    member = fake.add_user(2010, "Bình", phone="84912000333")
    group = fake.add_group(-100777)
    async with running(database_url, fake) as tg:
        asking_phone(tg.app)
        [ask] = await tg.say(member, f"{TRIGGER} @{fake.username}", chat=group)
        assert ask.callbacks == ["menu"] and ask.reply_markup is None
        assert [r for r in fake.refused if r.method == "sendmessage"] == []


async def call(fake: FakeBotApi, method: str, **params: object) -> dict:
    """A Bot API call over HTTP, as any client makes it; the JSON answer."""
    async with aiohttp.ClientSession() as http, \
            http.post(f"{fake.base_url}{fake.token}/{method}", json=params) as response:
        return await response.json()


@pytest.mark.parametrize(("private", "markup", "refusal"), [
    (True, {"keyboard": [[{"text": ""}]]}, "text must be non-empty"),
    (True, {"keyboard": [[{"text": "x", "request_contact": True, "request_location": True}]]},
     "at most one of the optional fields"),
    (True, {"keyboard": "not rows"}, "can't parse reply keyboard markup"),
    (True, {"keyboard": [["ok"]], "input_field_placeholder": "x" * 65}, "placeholder"),
    (True, {"keyboard": [["ok"]], "one_time_keyboard": "yes"}, "must be of type Boolean"),
    (True, {"remove_keyboard": False}, "must be true"),
    (False, {"keyboard": [[{"text": "x", "request_contact": True}]]}, "private chats only"),
])
async def test_the_fake_checks_reply_keyboards_as_telegram_does(
        fake: FakeBotApi, private: bool, markup: dict, refusal: str) -> None:
    chat = fake.add_user(2011, "An") if private else fake.add_group(-100778)
    refused = await call(fake, "sendMessage", chat_id=chat["id"], text="t", reply_markup=markup)
    assert refused["ok"] is False and refused["error_code"] == 400 and refusal in refused["description"]
    assert fake.sent == []
    # plain strings are buttons too
    sent = await call(fake, "sendMessage", chat_id=chat["id"], text="t", reply_markup={"keyboard": [["Có", "Không"]]})
    assert sent["ok"] and "reply_markup" not in sent["result"]  # a Message shows inline keyboards only
    assert fake.reply_keyboards[chat["id"]] == {"keyboard": [["Có", "Không"]]}
    edit = await call(fake, "editMessageText", chat_id=chat["id"], message_id=sent["result"]["message_id"],
                      text="t2", reply_markup={"keyboard": [["Có"]]})
    assert edit["ok"] is False and "inline keyboard expected" in edit["description"]


async def test_with_several_processes_the_keyboard_is_remembered_in_the_database(
        database_url: str, fake: FakeBotApi) -> None:
    """``server.workers`` > 1: the next message may reach another process, which must still
    take the keyboard away; with one process the reply costs no database statement."""
    from bot.channels.telegram import TelegramChannel
    from bot.config import Server
    from bot.root import build_app
    from tests.telegram.conftest import telegram_settings

    shared = telegram_settings(database_url, fake, server=Server(workers=2))
    first, second = build_app(shared), build_app(shared)
    try:
        showing, answering = TelegramChannel(first), TelegramChannel(second)
        await showing._phone_keyboard_shown(2010)
        assert len([r for r in rows(database_url, CallbackPayload) if r["key"].startswith("rk:")]) == 1
        assert await answering._phone_keyboard_taken(2010)
        assert not await showing._phone_keyboard_taken(2010)  # once, whichever process answers
        single = build_app(telegram_settings(database_url, fake))
        try:
            only = TelegramChannel(single)
            await only._phone_keyboard_shown(2011)
            assert [r for r in rows(database_url, CallbackPayload) if r["key"].startswith("rk:")] == []
            assert await only._phone_keyboard_taken(2011) and not await only._phone_keyboard_taken(2011)
        finally:
            await single.close()
    finally:
        await first.close()
        await second.close()
