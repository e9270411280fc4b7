"""Zalo webhook events in, replies out at the fake Zalo API: the conversation end to end."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import time

from sqlalchemy import func
from sqlmodel import select

from bot.channels.zalo import signature
from bot.config import BUNDLED_CONTENT
from bot.messages import Reply
from bot.storage.models import CallbackPayload, ChannelUser, InboundEvent, Subscription, utcnow
from tests.zalo.conftest import APP_ID, Rig
from fakes.zalo import WebhookSender


async def count(rig: Rig, model) -> int:
    async with rig.bot.database.session() as session:
        return (await session.exec(select(func.count()).select_from(model))).one()


async def channel_user(rig: Rig, user: str) -> ChannelUser | None:
    async with rig.bot.database.session() as session:
        return (await session.exec(select(ChannelUser).where(
            ChannelUser.channel == "zalo", ChannelUser.platform_id == user))).first()


async def test_a_question_is_answered_on_zalo(rig: Rig) -> None:
    response = await rig.zalo.text("2468458835296117922", "lam giay dang ky ket hon o dau")
    assert response.status == 200
    await rig.settle()
    [answer] = rig.fake.messages_to("2468458835296117922")
    assert answer.path == "cs"
    assert "Đăng ký kết hôn cần những gì?" in answer.text
    assert "mang giấy tờ tùy thân" in answer.text
    assert "**" not in answer.text  # Zalo shows plain text
    titles = [b["title"] for b in answer.buttons]
    assert "👍 Hữu ích" in titles and "☰ Menu" in titles
    row = await channel_user(rig, "2468458835296117922")
    assert row is not None and row.reachable
    seen = row.last_seen_at if row.last_seen_at.tzinfo else row.last_seen_at.replace(tzinfo=dt.UTC)
    assert (utcnow() - seen).total_seconds() < 60


async def test_a_pressed_button_arrives_as_its_payload(rig: Rig) -> None:
    await rig.zalo.text("u-menu", "/start")
    await rig.settle()
    [menu] = rig.fake.messages_to("u-menu")
    [hotich] = [b for b in menu.buttons if b["title"] == "Hộ tịch"]
    assert hotich["type"] == "oa.query.show"
    await rig.zalo.press("u-menu", hotich)
    await rig.settle()
    browse = rig.fake.messages_to("u-menu")[-1]
    assert "Hộ tịch" in browse.text and "Khai sinh, kết hôn" in browse.text
    assert {"Đăng ký kết hôn cần những gì?"} <= {b["title"] for b in browse.buttons}


async def test_typed_or_forged_marker_text_is_not_a_button_press(rig: Rig) -> None:
    await rig.zalo.text("u-forge", "/start")
    await rig.settle()
    [hotich] = [b for b in rig.fake.messages_to("u-forge")[0].buttons if b["title"] == "Hộ tịch"]
    forged = hotich["payload"][:-1] + ("0" if hotich["payload"][-1] != "0" else "1")
    await rig.zalo.text("u-forge", forged)
    await rig.settle()
    reply = rig.fake.messages_to("u-forge")[-1]
    assert "Khai sinh, kết hôn" not in reply.text  # not the category page: treated as typed text


async def test_more_choices_than_buttons_become_numbers_the_citizen_can_type(rig_factory) -> None:
    rig = await rig_factory(content=BUNDLED_CONTENT)  # the main menu has eleven topics
    categories = [c.title for c in rig.bot.content.current.pack.categories]
    await rig.zalo.text("u-num", "/start")
    await rig.settle()
    [menu] = rig.fake.messages_to("u-num")
    assert len(menu.buttons) == 5
    assert "Anh/Chị gõ số để chọn:" in menu.text
    numbered = dict(line.split(". ", 1)[::-1] for line in menu.text.splitlines()
                    if line[:1].isdigit() and ". " in line)
    shown = [b["title"] for b in menu.buttons]
    offered = shown + list(numbered)
    assert offered[:len(categories)] == categories  # every topic offered, in order
    last = categories[-1]
    await rig.zalo.text("u-num", numbered[last])
    await rig.settle()
    page = rig.fake.messages_to("u-num")[-1]
    assert page.text.startswith(last)
    # a number with no choices behind it is just text
    await rig.zalo.text("u-num", "99")
    await rig.settle()
    assert not rig.fake.messages_to("u-num")[-1].text.startswith(last)


async def test_follow_gets_a_welcome_and_the_offer_to_subscribe(rig: Rig) -> None:
    await rig.zalo.follow("u-follow")
    await rig.settle()
    welcome, offer = rig.fake.messages_to("u-follow")
    assert "em là trợ lý ảo" in welcome.text
    [subscribe] = [b for b in offer.buttons if b["title"] == "🔔 Nhận thông báo"]
    assert "nhận thông báo" in offer.text
    row = await channel_user(rig, "u-follow")
    assert row is not None and row.reachable
    await rig.zalo.press("u-follow", subscribe)  # the button opens the real chooser
    await rig.settle()
    chooser = rig.fake.messages_to("u-follow")[-1]
    topics = rig.bot.content.current.pack.topics
    assert topics and all(t.title in chooser.text for t in topics)
    [first] = [b for b in chooser.buttons if b["title"] == f"🔔 {topics[0].title}"]
    await rig.zalo.press("u-follow", first)
    await rig.settle()
    confirmed = rig.fake.messages_to("u-follow")[-1]
    assert "em đã đăng ký" in confirmed.text and "7 ngày" in confirmed.text  # Zalo's window explained
    async with rig.bot.database.session() as session:
        [sub] = (await session.exec(select(Subscription))).all()
    assert sub.topic == topics[0].id and sub.channel_user_id == row.id and sub.unsubscribed_at is None


async def test_unfollow_marks_the_user_unreachable_and_ends_subscriptions(rig: Rig) -> None:
    await rig.zalo.follow("u-leave")
    await rig.settle()
    row = await channel_user(rig, "u-leave")
    async with rig.bot.database.session() as session:
        session.add(Subscription(channel_user_id=row.id, topic="thong-bao"))
        session.add(Subscription(channel_user_id=row.id, topic="lich-tiep-dan"))
        await session.commit()
    sent_before = len(rig.fake.sent)
    assert (await rig.zalo.unfollow("u-leave")).status == 200
    await rig.settle()
    assert len(rig.fake.sent) == sent_before  # nothing is sent to someone who left
    row = await channel_user(rig, "u-leave")
    assert row.reachable is False and row.unreachable_reason == "unfollowed"
    async with rig.bot.database.session() as session:
        subs = (await session.exec(select(Subscription))).all()
    assert len(subs) == 2 and all(s.unsubscribed_at is not None for s in subs)
    calls = len(rig.fake.calls)
    delivery = await rig.channel.send("u-leave", [Reply("Thông báo")])
    assert delivery.status == "ineligible" and delivery.error == "unfollowed"
    assert len(rig.fake.calls) == calls
    # following again makes them reachable again
    await rig.zalo.follow("u-leave")
    await rig.settle()
    assert (await channel_user(rig, "u-leave")).reachable is True


async def test_a_bad_or_missing_signature_is_refused_and_nothing_is_processed(rig: Rig) -> None:
    event = rig.zalo.text_event("u-bad", "thủ tục kết hôn")
    wrong = WebhookSender(rig.client, app_id=APP_ID, oa_id="x", oa_secret_key="not-the-key")
    raw_sig = wrong.sign(b"{}", APP_ID, event["timestamp"])
    responses = [
        await rig.zalo.post(event, header=raw_sig),
        await rig.zalo.post(event, sign=False),
        await rig.zalo.post(event, header="mac="),
        await rig.zalo.post(event, header=rig.zalo.sign(b"tampered", APP_ID, event["timestamp"])),
        await rig.client.post("/zalo/webhook", data=b"not json",
                              headers={"X-ZEvent-Signature": "mac=00"}),
    ]
    assert [r.status for r in responses] == [401] * 5
    # signed by the right key but for another app
    other = dict(event, app_id="999")
    assert (await rig.zalo.post(other)).status == 401
    await rig.settle()
    assert rig.fake.sent == [] and rig.channel.processed == 0
    assert await count(rig, InboundEvent) == 0
    assert await channel_user(rig, "u-bad") is None


def test_the_signature_formula() -> None:
    body = b'{"app_id":"1","timestamp":"1700000000000"}'
    expected = hashlib.sha256(b"1" + body + b"1700000000000" + b"secret").hexdigest()
    assert signature("1", body, "1700000000000", "secret") == expected
    assert signature("1", body, "1700000000000", "other") != expected


async def test_the_signature_covers_the_exact_raw_body(rig: Rig) -> None:
    """The body is signed byte for byte, so re-encoding the same JSON differently fails."""
    event = rig.zalo.text_event("u-raw", "xin chào")
    rig.fake.interact("u-raw")
    compact = json.dumps(event, separators=(",", ":"), ensure_ascii=True).encode()
    header = rig.zalo.sign(compact, APP_ID, event["timestamp"])
    ok = await rig.client.post("/zalo/webhook", data=compact, headers={"X-ZEvent-Signature": header})
    assert ok.status == 200
    spaced = json.dumps(event, indent=1).encode()
    refused = await rig.client.post("/zalo/webhook", data=spaced, headers={"X-ZEvent-Signature": header})
    assert refused.status == 401
    await rig.settle()
    assert len(rig.fake.messages_to("u-raw")) == 1


async def test_a_replayed_old_event_is_refused(rig: Rig) -> None:
    old = str(int((time.time() - 3600) * 1000))  # an hour ago; the limit is 600 s
    response = await rig.zalo.text("u-replay", "thủ tục kết hôn", timestamp=old)
    assert response.status == 401
    future = str(int((time.time() + 3600) * 1000))
    assert (await rig.zalo.text("u-replay", "thủ tục kết hôn", timestamp=future)).status == 401
    await rig.settle()
    assert rig.fake.sent == [] and await count(rig, InboundEvent) == 0


async def test_a_duplicate_msg_id_gets_one_reply(rig: Rig) -> None:
    event = rig.zalo.text_event("u-dup", "thủ tục kết hôn", msg_id="f5b1ef5a2e5a4e0b9a12")
    rig.fake.interact("u-dup")
    first = await rig.zalo.post(event)
    second = await rig.zalo.post(event)
    assert first.status == second.status == 200
    assert (await second.json()).get("duplicate") is True
    await rig.settle()
    assert len(rig.fake.messages_to("u-dup")) == 1
    assert await count(rig, InboundEvent) == 1


async def test_duplicates_are_caught_across_workers(rig_factory) -> None:
    one = await rig_factory()
    two = await rig_factory(seed=False)
    event = one.zalo.text_event("u-two", "thủ tục kết hôn", msg_id="shared-msg-id-1")
    one.fake.interact("u-two")
    # the other worker has not seen it: it acknowledges it, and its turn finds the event recorded
    assert (await one.zalo.post(event)).status == (await two.zalo.post(event)).status == 200
    await one.settle()
    await two.settle()
    assert len(one.fake.messages_to("u-two")) == 1
    assert await count(one, InboundEvent) == 1


async def test_a_user_image_reaches_the_core_as_an_attachment(rig: Rig) -> None:
    seen = []
    handle = rig.bot.handle

    async def spy(message, record=True, event_id=None):
        seen.append(message)
        return await handle(message, record, event_id)

    rig.bot.handle = spy  # type: ignore[method-assign]
    await rig.zalo.image("u-img", "https://photo-stal.zadn.vn/qr.jpg")
    await rig.settle()
    [incoming] = seen
    assert incoming.channel == "zalo" and incoming.user_id == "u-img"
    assert [(a.kind, a.url) for a in incoming.attachments] == [("image", "https://photo-stal.zadn.vn/qr.jpg")]
    assert len(rig.fake.messages_to("u-img")) == 1  # and the citizen got an answer


async def test_unknown_and_ignored_events_are_logged_not_answered(rig: Rig, caplog) -> None:
    caplog.set_level("INFO", logger="bot.channels.zalo")
    now = rig.zalo.now_ms()
    await rig.zalo.post({"app_id": APP_ID, "event_name": "user_send_sticker", "timestamp": now,
                         "sender": {"id": "u-st"}, "message": {"msg_id": "st-1", "attachments": []}})
    await rig.zalo.post({"app_id": APP_ID, "event_name": "user_click_chatnow", "timestamp": now,
                         "user_id_by_app": "1", "sender": {"id": "secret-user-id"},
                         "message": {"text": "private words", "msg_id": "cn-1"}})
    await rig.settle()
    assert rig.fake.sent == []
    assert "user_send_sticker event ignored" in caplog.text
    assert "unknown event 'user_click_chatnow'" in caplog.text
    assert '"sender": {"id": "str"}' in caplog.text  # the shape, for the maintainers
    assert "private words" not in caplog.text and "secret-user-id" not in caplog.text


async def test_the_domain_verification_file_is_served(rig_factory) -> None:
    rig = await rig_factory(verifier_file="zalo_verifierABC123.html",
                            verifier_content="<html>zalo-platform-site-verification</html>")
    response = await rig.client.get("/zalo_verifierABC123.html")
    assert response.status == 200
    assert await response.text() == "<html>zalo-platform-site-verification</html>"


async def test_a_full_queue_refuses_instead_of_dropping(rig_factory, monkeypatch) -> None:
    monkeypatch.setattr("bot.channels.zalo.ENQUEUE_WAIT", 0.05)
    rig = await rig_factory(start=False, channel_options={"workers": 1, "queue_size": 1})
    assert (await rig.zalo.text("u-q1", "thủ tục kết hôn")).status == 200  # queued, no worker yet
    refused_event = rig.zalo.text_event("u-q2", "thủ tục kết hôn", msg_id="refused-1")
    rig.fake.interact("u-q2")
    assert (await rig.zalo.post(refused_event)).status == 503
    health = rig.channel.health()
    assert health["queue_full"] is True and health["refused_full"] == 1
    server_health = await (await rig.client.get("/healthz")).json()
    assert server_health["channels"]["zalo"]["queue_full"] is True
    await rig.channel.start()
    await rig.settle()
    assert len(rig.fake.messages_to("u-q1")) == 1
    # the refused event was not recorded as seen, so Zalo's redelivery is answered
    assert (await rig.zalo.post(refused_event)).status == 200
    await rig.settle()
    assert len(rig.fake.messages_to("u-q2")) == 1


async def test_housekeeping_forgets_only_what_can_no_longer_matter(rig: Rig) -> None:
    old = utcnow() - dt.timedelta(days=3)
    async with rig.bot.database.session() as session:
        session.add(InboundEvent(channel="zalo", event_id="old", received_at=old))
        session.add(InboundEvent(channel="zalo", event_id="new"))
        session.add(InboundEvent(channel="telegram", event_id="old-tg", received_at=old))
        session.add(CallbackPayload(key="zc:old", payload="[]", created_at=old))
        session.add(CallbackPayload(key="zc:new", payload="[]"))
        session.add(CallbackPayload(key="tg-key", payload="faq:x", created_at=old))
        await session.commit()
    assert await rig.channel.housekeeping() == (1, 1)
    async with rig.bot.database.session() as session:
        events = {(e.channel, e.event_id) for e in (await session.exec(select(InboundEvent))).all()}
        keys = {c.key for c in (await session.exec(select(CallbackPayload))).all()}
    assert events == {("zalo", "new"), ("telegram", "old-tg")}
    assert keys == {"zc:new", "tg-key"}

