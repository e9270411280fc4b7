"""The phone request on Zalo: the "request user info" card (checked by the fake against the
published template), and the ``user_submit_info`` event that brings the citizen's number back."""

from __future__ import annotations

import aiohttp
import pytest

from bot.channels.zalo_render import INFO_SUBTITLE, TYPE_PHONE
from bot.config import Server
from bot.messages import Contact
from fakes.zalo import FakeZalo
from tests.contact_support import SHARE, TRIGGER, asking_phone
from tests.zalo.conftest import APP_ID, Rig

PICTURE = "https://xa.gov.vn/anh/chia-se.png"


def card(image_url: str) -> dict:
    return {"attachment": {"type": "template", "payload": {
        "template_type": "request_user_info",
        "elements": [{"title": SHARE, "subtitle": INFO_SUBTITLE, "image_url": image_url}]}}}


async def test_the_citizen_shares_their_zalo_number(rig_factory) -> None:
    rig: Rig = await rig_factory(share_info_image_url=PICTURE)
    seen = asking_phone(rig.bot)
    await rig.zalo.text("u-lan", TRIGGER)
    await rig.settle()
    ask, request = rig.fake.messages_to("u-lan")
    assert ask.text.startswith("Dạ, Anh/Chị vui lòng chia sẻ số điện thoại")
    assert [b["title"] for b in ask.buttons] == ["Để sau"]  # the reply's other buttons stay on it
    assert request.message == card(PICTURE)
    await rig.zalo.submit_info("u-lan", "84912345678", "Nguyễn Thị Lan", ward="Thôn Đông")
    await rig.settle()
    assert seen[-1].contact == Contact(phone="0912345678", verified=True, name="Nguyễn Thị Lan")
    assert seen[-1].channel == "zalo" and seen[-1].user_id == "u-lan" and seen[-1].text == ""
    assert len(rig.fake.messages_to("u-lan")) == 3  # and the core's answer reached the citizen


async def test_the_card_shows_the_bots_own_picture_at_its_public_address(rig_factory) -> None:
    rig: Rig = await rig_factory()
    rig.channel.settings = rig.channel.settings.model_copy(
        update={"server": Server(public_url="https://bot.xa.gov.vn/")})
    asking_phone(rig.bot)
    await rig.zalo.text("u-minh", TRIGGER)
    await rig.settle()
    request = rig.fake.messages_to("u-minh")[-1]
    assert request.message == card("https://bot.xa.gov.vn/zalo/chia-se-thong-tin.png")
    served = await rig.client.get("/zalo/chia-se-thong-tin.png")
    assert served.status == 200 and served.content_type == "image/png"
    assert (await served.read()).startswith(b"\x89PNG\r\n\x1a\n")


async def test_without_a_picture_the_citizen_is_asked_to_type_the_number(rig: Rig) -> None:
    seen = asking_phone(rig.bot)
    await rig.zalo.text("u-hoa", TRIGGER)
    await rig.settle()
    [ask] = rig.fake.messages_to("u-hoa")
    assert ask.text.endswith(TYPE_PHONE) and not ask.asks_info
    await rig.zalo.text("u-hoa", "0912 345 678")  # the core reads the typed number
    await rig.settle()
    assert seen[-1].text == "0912 345 678" and seen[-1].contact is None


async def test_a_submission_without_a_phone_is_logged_not_answered(rig_factory, caplog) -> None:
    caplog.set_level("WARNING", logger="bot.channels.zalo")
    rig: Rig = await rig_factory(share_info_image_url=PICTURE)
    seen = asking_phone(rig.bot)
    await rig.zalo.post({"app_id": APP_ID, "event_name": "user_submit_info", "timestamp": rig.zalo.now_ms(),
                         "sender": {"id": "u-x"}, "info": {"name": "Ai đó", "phone": ""}})
    await rig.settle()
    assert seen == [] and rig.fake.sent == []
    assert "user_submit_info event without sender.id or info.phone ignored" in caplog.text
    assert "Ai đó" not in caplog.text


@pytest.mark.parametrize(("message", "problem"), [
    ({**card(PICTURE), "text": "Chia sẻ"}, "takes no text"),
    ({"attachment": {"type": "template", "payload": {"template_type": "request_user_info", "elements": [
        card(PICTURE)["attachment"]["payload"]["elements"][0]] * 2}}}, "exactly one element"),
    ({"attachment": {"type": "template", "payload": {"template_type": "request_user_info", "elements": [
        {"title": "x" * 101, "subtitle": "s", "image_url": PICTURE}]}}}, "title must be 1 to 100"),
    ({"attachment": {"type": "template", "payload": {"template_type": "request_user_info", "elements": [
        {"title": "t", "subtitle": "s" * 501, "image_url": PICTURE}]}}}, "subtitle must be 1 to 500"),
    ({"attachment": {"type": "template", "payload": {"template_type": "request_user_info", "elements": [
        {"title": "t", "subtitle": "s"}]}}}, "PNG or JPG"),
    ({"attachment": {"type": "template", "payload": {"template_type": "request_user_info", "elements": [
        {"title": "t", "subtitle": "s", "image_url": "https://xa.gov.vn/anh.gif"}]}}}, "PNG or JPG"),
])
async def test_the_fake_checks_the_card_as_zalo_documents_it(fake: FakeZalo, message: dict, problem: str) -> None:
    access, _ = fake.issue_pair()
    fake.interact("u-1")
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{fake.url}/v3.0/oa/message/cs", headers={"access_token": access},
                             json={"recipient": {"user_id": "u-1"}, "message": message}) as response:
            answer = await response.json()
        assert answer["error"] == -201 and problem in answer["message"]
        async with http.post(f"{fake.url}/v3.0/oa/message/cs", headers={"access_token": access},
                             json={"recipient": {"user_id": "u-1"}, "message": card(PICTURE)}) as response:
            assert (await response.json())["error"] == 0
    assert [s.asks_info for s in fake.sent] == [True]
