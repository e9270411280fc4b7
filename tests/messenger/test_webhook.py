"""Messenger webhooks in, replies out at the fake Graph API: the conversation end to end."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import func
from sqlmodel import select

from bot.config import BUNDLED_CONTENT
from handlers.lookups import posters
from bot.storage.models import ChannelUser, InboundEvent, Subscription, utcnow
from tests.lookups_support import CODE, dossier_line, export, import_text
from tests.messenger.conftest import VERIFY_TOKEN, Rig
from tests.test_lookups_qr import RECEIPT_URL, receipt_photo


async def channel_user(rig: Rig, psid: str) -> ChannelUser | None:
    async with rig.bot.database.session() as session:
        return (await session.exec(select(ChannelUser).where(
            ChannelUser.channel == "messenger", ChannelUser.platform_id == psid))).first()


async def test_the_verification_handshake_answers_only_our_token(rig: Rig) -> None:
    path = rig.bot.settings.messenger.webhook_path
    ok = await rig.client.get(path, params={"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN,
                                            "hub.challenge": "1158201444"})
    assert ok.status == 200 and await ok.text() == "1158201444"
    for query in ({"hub.mode": "subscribe", "hub.verify_token": "guess", "hub.challenge": "1"},
                  {"hub.mode": "unsubscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1"},
                  {"hub.mode": "subscribe", "hub.challenge": "1"},
                  {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN}):
        refused = await rig.client.get(path, params=query)
        assert refused.status == 403, query
        assert "1" not in await refused.text()


async def test_a_signed_question_is_answered_through_the_send_api(rig: Rig) -> None:
    response = await rig.meta.text("2800000000000001", "lam giay dang ky ket hon o dau")
    assert response.status == 200
    await rig.settle()
    [answer] = rig.fake.messages_to("2800000000000001")
    assert answer.messaging_type == "RESPONSE" and answer.tag is None
    assert "Đăng ký kết hôn cần những gì?" in answer.text and "mang giấy tờ tùy thân" in answer.text
    assert "**" not in answer.text  # Messenger shows plain text
    assert [b["title"] for b in answer.buttons] == ["👍 Hữu ích", "👎 Chưa hữu ích", "☰ Menu"]
    row = await channel_user(rig, "2800000000000001")
    assert row is not None and row.reachable
    seen = row.last_seen_at if row.last_seen_at.tzinfo else row.last_seen_at.replace(tzinfo=dt.UTC)
    assert (utcnow() - seen).total_seconds() < 60  # the 24-hour window starts now


async def test_forged_and_unsigned_webhooks_are_refused_and_nothing_is_processed(rig: Rig) -> None:
    raw = rig.meta.body(rig.meta.event("p-forged", message={"mid": rig.meta.mid(), "text": "/start"}))
    unsigned = await rig.meta.post(raw, signature=None)
    assert unsigned.status == 401
    wrong_key = await rig.meta.post(raw, signature="sha256=" + "0" * 64)
    assert wrong_key.status == 403
    tampered = raw.replace(b"/start", b"/menu ")
    assert (await rig.meta.post(tampered, signature=rig.meta.sign(raw))).status == 403
    sha1 = await rig.meta.post(raw, signature="sha1=" + rig.meta.sign(raw)[7:47])
    assert sha1.status == 401
    await rig.settle()
    assert rig.fake.sent == [] and rig.channel.queues.processed == 0
    assert await channel_user(rig, "p-forged") is None


async def test_a_replayed_mid_is_answered_once_even_by_another_process(rig_factory) -> None:
    first = await rig_factory()
    mid = first.meta.mid()
    await first.meta.text("p-replay", "/start", mid=mid)
    await first.meta.text("p-replay", "/start", mid=mid)  # Meta delivers again
    await first.settle()
    assert len(first.fake.messages_to("p-replay")) == 1
    other = await rig_factory()  # another worker: no memory of it, only the database
    await other.meta.text("p-replay", "/start", mid=mid)
    await other.settle()
    assert len(other.fake.messages_to("p-replay")) == 1
    async with other.bot.database.session() as session:
        events = (await session.exec(select(func.count()).select_from(InboundEvent).where(
            InboundEvent.channel == "messenger"))).one()
    assert events == 1


async def test_echoes_reads_and_stickers_get_no_answer(rig: Rig) -> None:
    meta = rig.meta
    echo = meta.event("p-echo", message={"mid": meta.mid(), "text": "Dạ, em chào Anh/Chị", "is_echo": True})
    read = meta.event("p-echo", read={"watermark": 1458668856253})
    sticker = meta.event("p-echo", message={"mid": meta.mid(), "sticker_id": 369239263222822,
                                            "attachments": [{"type": "image", "payload": {"sticker_id": 1}}]})
    other_object = json.dumps({"object": "instagram", "entry": []}).encode()
    assert (await meta.deliver(echo, read, sticker)).status == 200
    assert (await meta.post(other_object)).status == 200
    await rig.settle()
    assert rig.fake.sent == [] and await channel_user(rig, "p-echo") is None


async def test_a_button_press_arrives_as_its_postback_payload(rig: Rig) -> None:
    await rig.meta.text("p-menu", "/start")
    await rig.settle()
    [menu] = rig.fake.messages_to("p-menu")
    titles = [q["title"] for q in menu.quick_replies]
    # one label does not fit 20 characters: the full labels are listed, the titles numbered
    assert titles == ["1. Hộ tịch", "2. Liên hệ", "3. ✍️ Gửi phản ánh,…"]
    assert "3. ✍️ Gửi phản ánh, kiến nghị" in menu.text
    hotich = menu.quick_replies[0]
    await rig.meta.quick_reply("p-menu", hotich)
    await rig.settle()
    browse = rig.fake.messages_to("p-menu")[-1]
    assert "Hộ tịch" in browse.text and "Khai sinh, kết hôn" in browse.text
    offered = browse.buttons or browse.quick_replies
    [question] = [b for b in offered if "Đăng ký kết hôn" in b["title"]]
    await rig.meta.postback("p-menu", question) if browse.buttons else await rig.meta.quick_reply("p-menu", question)
    await rig.settle()
    assert "mang giấy tờ tùy thân" in rig.fake.messages_to("p-menu")[-1].text


async def test_numbered_choices_can_be_typed(rig_factory) -> None:
    rig = await rig_factory(content=BUNDLED_CONTENT)  # eleven topics with long titles
    categories = [c.title for c in rig.bot.content.current.pack.categories
                  if rig.bot.content.current.pack.in_category(c.id)]
    await rig.meta.text("p-num", "/start")
    await rig.settle()
    [menu] = rig.fake.messages_to("p-num")
    assert "Anh/Chị gõ số để chọn:" in menu.text
    numbered = dict(line.split(". ", 1)[::-1] for line in menu.text.splitlines()
                    if line[:1].isdigit() and ". " in line)
    assert list(numbered)[:len(categories)] == categories
    assert all(len(q["title"]) <= 20 for q in menu.quick_replies)
    last = categories[-1]
    await rig.meta.text("p-num", numbered[last])
    await rig.settle()
    assert rig.fake.messages_to("p-num")[-1].text.startswith(last)
    await rig.meta.text("p-num", "99")  # no choice behind it: just text
    await rig.settle()
    assert not rig.fake.messages_to("p-num")[-1].text.startswith(last)


async def test_get_started_welcomes_and_offers_announcements(rig: Rig) -> None:
    await rig.meta.postback("p-new", {"title": "Bắt đầu", "payload": "welcome"})
    await rig.settle()
    welcome, offer = rig.fake.messages_to("p-new")
    assert "em là trợ lý ảo" in welcome.text
    [subscribe] = [b for b in offer.buttons if b["title"] == "🔔 Nhận thông báo"]
    await rig.meta.postback("p-new", subscribe)
    await rig.settle()
    chooser = rig.fake.messages_to("p-new")[-1]
    topic = rig.bot.content.current.pack.topics[0]
    offered = chooser.buttons or chooser.quick_replies
    [first] = [b for b in offered if topic.title[:10] in b["title"]]
    await (rig.meta.postback if chooser.buttons else rig.meta.quick_reply)("p-new", first)
    await rig.settle()
    confirmed = rig.fake.messages_to("p-new")[-1]
    assert "em đã đăng ký" in confirmed.text and "24 giờ" in confirmed.text  # Meta's window explained
    async with rig.bot.database.session() as session:
        [sub] = (await session.exec(select(Subscription))).all()
    assert sub.topic == topic.id and sub.unsubscribed_at is None


async def test_an_m_me_link_opens_its_answer(rig: Rig) -> None:
    await rig.meta.referral("p-link", "ket-hon")  # an existing thread: a referral event
    await rig.settle()
    [answer] = rig.fake.messages_to("p-link")
    assert "Đăng ký kết hôn cần những gì?" in answer.text
    # a new thread: Get Started, with the link's ref
    await rig.meta.postback("p-link-new", {"title": "Bắt đầu", "payload": "welcome"},
                            referral={"ref": "ket-hon", "source": "SHORTLINK", "type": "OPEN_THREAD"})
    await rig.settle()
    [answer] = rig.fake.messages_to("p-link-new")
    assert "Đăng ký kết hôn cần những gì?" in answer.text
    await rig.meta.referral("p-link-bad", "../../etc/passwd")  # not an entry id: the menu
    await rig.settle()
    [menu] = rig.fake.messages_to("p-link-bad")
    assert "em là trợ lý ảo" in menu.text


async def test_a_receipt_photo_is_read_and_typing_is_shown_meanwhile(rig_factory, tmp_path: Path) -> None:
    rig = await rig_factory(content=BUNDLED_CONTENT)
    await import_text(rig.bot, tmp_path, export(dossier_line()))
    url = rig.fake.host("receipt.jpg", receipt_photo(RECEIPT_URL))
    rig.fake.file_delay = 0.8  # Meta's CDN is slow today: longer than slow_answer
    await rig.meta.image("p-photo", url)
    await rig.settle()
    [answer] = rig.fake.messages_to("p-photo")
    assert CODE in answer.text and "Đăng ký khai sinh" in answer.text
    assert ("p-photo", "typing_on") in rig.fake.actions
    rig.fake.file_delay = 0.0
    await rig.meta.text("p-quick", "/start")
    await rig.settle()
    assert ("p-quick", "typing_on") not in rig.fake.actions  # a quick answer needs no "typing…"


async def test_a_full_queue_refuses_with_503_and_loses_nothing(rig_factory) -> None:
    rig = await rig_factory(start=False, channel_options={"workers": 1, "queue_size": 1})
    assert (await rig.meta.text("p-busy", "/start")).status == 200  # queued
    mid = rig.meta.mid()
    refused = await rig.meta.text("p-busy", "ket hon", mid=mid)
    assert refused.status == 503 and rig.channel.backlog.refused == 1
    await rig.channel.start()
    await rig.settle()
    again = await rig.meta.text("p-busy", "ket hon", mid=mid)  # Meta delivers it again
    assert again.status == 200
    await rig.settle()
    assert len(rig.fake.messages_to("p-busy")) == 2


async def test_one_users_messages_are_answered_in_order(rig: Rig) -> None:
    meta = rig.meta
    batch = [meta.event("p-order", message={"mid": meta.mid(), "text": text})
             for text in ("/start", "ket hon", "/lienhe")]
    await meta.deliver(*batch)
    await asyncio.wait_for(rig.settle(), 10)
    texts = [s.text for s in rig.fake.messages_to("p-order")]
    assert "em là trợ lý ảo" in texts[0] and "Đăng ký kết hôn" in texts[1] and len(texts) >= 3


async def test_a_qr_poster_link_opens_the_same_answer(rig: Rig) -> None:
    entry = rig.bot.content.current.pack.entries["ket-hon"]
    [target] = posters.targets(rig.bot.settings, entry, "messenger")
    assert target.url == "https://m.me/ubndxangoclien?ref=ket-hon"
    ref = parse_qs(urlsplit(target.url).query)["ref"][0]  # what Meta hands back as referral.ref
    await rig.meta.referral("p-poster", ref)
    await rig.settle()
    [answer] = rig.fake.messages_to("p-poster")
    assert answer.text.startswith(entry.title)
