"""What goes wrong on Telegram: blocked users, flood limits, flaky networks, redelivered
updates, long replies, long button payloads."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from sqlalchemy import create_engine, delete
from sqlalchemy.orm import Session

from bot.channels.telegram import APOLOGY, TelegramChannel
from bot.messages import Button, Reply
from bot.storage.db import sync_url
from bot.storage.models import CallbackPayload, ChannelUser, InboundEvent, Subscription
from tests.telegram.conftest import Harness, eventually, rows, running
from fakes.telegram import MAX_TEXT, FakeBotApi, utf16_len


def channel_user(url: str, platform_id: int) -> dict | None:
    return next((u for u in rows(url, ChannelUser) if u["platform_id"] == str(platform_id)), None)


def subscribe(url: str, platform_id: int, *topics: str, ended: dt.datetime | None = None) -> None:
    engine = create_engine(sync_url(url))
    with Session(engine) as session:
        user = channel_user(url, platform_id)
        assert user is not None
        for topic in topics:
            session.add(Subscription(channel_user_id=user["id"], topic=topic, unsubscribed_at=ended))
        session.commit()
    engine.dispose()


async def test_blocked_user_is_marked_unreachable_and_unsubscribed(tg: Harness, citizen: dict) -> None:
    await tg.say(citizen, "/start")
    subscribe(tg.database_url, citizen["id"], "thong-bao-chung", "dich-vu-cong")
    long_ago = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    subscribe(tg.database_url, citizen["id"], "cuoc-thi", ended=long_ago)
    tg.fake.block(citizen["id"])
    tg.fake.text(citizen, "thủ tục kết hôn")  # written just before blocking: the answer is refused
    user = await eventually(lambda: (u := channel_user(tg.database_url, citizen["id"])) and not u["reachable"] and u,
                            what="the user to be marked unreachable")
    assert user["unreachable_reason"] == "blocked" and user["unreachable_at"] is not None
    ended = {s["topic"]: s["unsubscribed_at"] for s in rows(tg.database_url, Subscription)}
    assert ended["thong-bao-chung"] is not None and ended["dich-vu-cong"] is not None
    assert ended["cuoc-thi"].replace(tzinfo=dt.UTC) == long_ago  # an older unsubscription is kept
    assert [r.code for r in tg.fake.refused if r.method == "sendmessage"] == [403]  # no apology into the void
    # they unblock and write again: reachable again (subscriptions need a new consent)
    tg.fake.blocked.discard(citizen["id"])
    await tg.say(citizen, "/start")
    assert channel_user(tg.database_url, citizen["id"])["reachable"] is True


async def test_blocking_notice_marks_the_user_unreachable(polling: Harness, citizen: dict) -> None:
    await polling.say(citizen, "/start")
    subscribe(polling.database_url, citizen["id"], "thong-bao-chung")
    polling.fake.block(citizen["id"], notify=True)  # Telegram's my_chat_member "kicked" update
    await eventually(lambda: not channel_user(polling.database_url, citizen["id"])["reachable"],
                     what="the my_chat_member update to be handled")
    [sub] = rows(polling.database_url, Subscription)
    assert sub["unsubscribed_at"] is not None


async def test_send_reports_each_outcome(polling: Harness, citizen: dict, fake: FakeBotApi) -> None:
    other = fake.add_user(2002, "Minh")
    gone = fake.add_user(2003, "Tú")
    for user in (citizen, other, gone):
        await polling.say(user, "/start")
    sent = await polling.channel.send(str(citizen["id"]), [Reply("📢 **Lịch nghỉ lễ** 30/4")])
    assert sent.status == "sent" and sent.message_id == str(fake.to(citizen["id"])[-1].message_id)
    assert fake.to(citizen["id"])[-1].styled("bold") == ["Lịch nghỉ lễ"]
    fake.block(other["id"])
    blocked = await polling.channel.send(str(other["id"]), [Reply("Thông báo")])
    assert blocked.status == "blocked" and "blocked" in (blocked.error or "")
    assert channel_user(polling.database_url, other["id"])["unreachable_reason"] == "blocked"
    del fake.chats[gone["id"]]  # the account was deleted
    missing = await polling.channel.send(str(gone["id"]), [Reply("Thông báo")])
    assert missing.status == "failed" and "not found" in (missing.error or "").lower()
    assert channel_user(polling.database_url, gone["id"])["unreachable_reason"] == "chat_not_found"
    assert channel_user(polling.database_url, citizen["id"])["reachable"] is True


async def test_flood_limit_storm_every_message_delivered_once(database_url: str, fake: FakeBotApi) -> None:
    fake.rate_limit = 3  # messages per second, far below what the bot is allowed to try here
    users = [fake.add_user(4000 + i, f"Dân {i}") for i in range(8)]
    async with running(database_url, fake) as tg:
        for user in users:
            fake.text(user, "thủ tục kết hôn")
        await fake.wait_for(lambda: all(fake.to(u["id"]) for u in users), timeout=20,
                            what="every citizen's answer")
        await asyncio.sleep(0)  # anything still in flight would show up as a duplicate below
        assert [len(fake.to(u["id"])) for u in users] == [1] * 8
        assert all("mang giấy tờ tùy thân" in fake.to(u["id"])[0].text for u in users)
        floods = [r for r in fake.refused if r.code == 429]
        assert floods and tg.channel.limiter.flood_waits >= len(floods) > 0


async def test_private_chat_rate_spaces_messages(database_url: str, fake: FakeBotApi, citizen: dict) -> None:
    async with running(database_url, fake, private_chat_rate=5.0) as tg:
        start = asyncio.get_running_loop().time()
        replies = [Reply(f"Tin {i}") for i in range(6)]
        assert (await tg.channel.send(str(citizen["id"]), replies)).status == "sent"
        elapsed = asyncio.get_running_loop().time() - start
        assert [s.text for s in fake.to(citizen["id"])] == [f"Tin {i}" for i in range(6)]
        assert elapsed >= 0.5  # a burst of 3, then one every 0.2 s


async def test_network_errors_are_retried(polling: Harness, citizen: dict) -> None:
    polling.fake.fail_next("sendMessage", 2)
    [answer] = await polling.say(citizen, "thủ tục kết hôn")
    assert "mang giấy tờ tùy thân" in answer.text
    assert polling.channel.limiter.network_retries == 2
    assert len(polling.fake.to(citizen["id"])) == 1


async def test_a_failure_ends_in_an_apology_never_silence(polling: Harness, citizen: dict,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    # Telegram refuses the answer for a reason retrying cannot fix
    polling.fake.fail_next("sendMessage", 1, 400, "Bad Request: can't parse entities: boom")
    polling.fake.text(citizen, "thủ tục kết hôn")
    [apology] = await polling.fake.replies(citizen["id"], 1)
    assert apology.text == APOLOGY == "Dạ, hệ thống đang gặp sự cố, Anh/Chị vui lòng thử lại sau ít phút ạ."
    assert apology.html is None and not apology.keyboard  # plain text: nothing left to go wrong
    # the network failing for good (after the limiter's retries, and past the reply's patient
    # retries: the next pause would end beyond server.reply_retry_seconds) ends the same way
    monkeypatch.setattr("bot.pressure.REPLY_RETRY_FIRST", 10_000.0)
    monkeypatch.setattr("bot.pressure.REPLY_RETRY_MAX", 10_000.0)
    polling.fake.fail_next("sendMessage", 4)
    polling.fake.text(citizen, "thủ tục kết hôn")
    [apology] = await polling.fake.replies(citizen["id"], 1, after=1, timeout=10)
    assert apology.text == APOLOGY


async def test_redelivered_update_is_handled_once(polling: Harness, citizen: dict) -> None:
    update = polling.fake.text(citizen, "thủ tục kết hôn")
    await polling.fake.replies(citizen["id"], 1)
    polling.fake.redeliver(update)
    # a later message is answered after the redelivered one would have been (one chat, in order)
    await polling.say(citizen, "/menu")
    texts = [s.text for s in polling.fake.to(citizen["id"])]
    assert len(texts) == 2 and "mang giấy tờ tùy thân" in texts[0] and "chọn một chủ đề" in texts[1]
    assert [e["event_id"] for e in rows(polling.database_url, InboundEvent)].count(str(update["update_id"])) == 1


async def test_redelivered_update_is_handled_once_after_a_restart(polling: Harness, citizen: dict) -> None:
    """Memory lost (a restart, another worker): the turn's InboundEvent row still catches it."""
    update = polling.fake.text(citizen, "thủ tục kết hôn")
    await polling.fake.replies(citizen["id"], 1)
    polling.channel._recent.forget(str(update["update_id"]))
    polling.fake.redeliver(update)
    await polling.say(citizen, "/menu")
    texts = [s.text for s in polling.fake.to(citizen["id"])]
    assert len(texts) == 2 and "mang giấy tờ tùy thân" in texts[0] and "chọn một chủ đề" in texts[1]
    assert [e["event_id"] for e in rows(polling.database_url, InboundEvent)].count(str(update["update_id"])) == 1


async def test_long_message_is_split_at_paragraphs(polling: Harness, citizen: dict) -> None:
    # content answers are capped by the content check; announcements (e.g. from a file) are not
    paragraphs = [f"**Bước {i}**: " + " ".join(["Anh/Chị chuẩn bị hồ sơ <đầy đủ> & nộp _đúng hạn_."] * 24)
                  for i in range(1, 10)]
    text = "\n\n".join(paragraphs)
    assert len(text) > 2 * MAX_TEXT
    await polling.say(citizen, "/start")
    delivery = await polling.channel.send(str(citizen["id"]), [Reply(text, ((Button("☰ Menu", payload="menu"),),))])
    assert delivery.status == "sent"
    parts = polling.fake.to(citizen["id"])[1:]
    assert len(parts) == 3 and delivery.message_id == str(parts[-1].message_id)
    assert all(utf16_len(p.text) <= MAX_TEXT for p in parts)
    shown = [p.replace("**", "").replace("_", "") for p in paragraphs]
    for paragraph in shown:  # every paragraph whole, in exactly one message
        assert sum(paragraph in p.text for p in parts) == 1
    assert "\n\n".join(p.text for p in parts) == "\n\n".join(shown)  # in order, nothing lost
    assert sum(len(p.styled("bold")) for p in parts) == 9  # no tag cut in two
    assert not parts[0].keyboard and not parts[1].keyboard and parts[2].callbacks == ["menu"]


async def test_long_button_payloads_are_stored_and_old_keys_answered(
    database_url: str, fake: FakeBotApi, citizen: dict
) -> None:
    payload = "faq:khai-sinh:" + "0" * 80  # more than Telegram's 64 bytes of callback_data
    async with running(database_url, fake) as tg:
        await tg.say(citizen, "/start")
        delivery = await tg.channel.send(str(citizen["id"]), [Reply("Mời Anh/Chị xem:", (
            (Button("Khai sinh", payload=payload), Button("Hướng dẫn", url="https://dichvucong.gov.vn")),))])
        assert delivery.status == "sent"
        message = fake.to(citizen["id"])[-1]
        [data] = message.callbacks
        assert data.startswith("k:") and len(data.encode()) <= 64
        [stored] = rows(database_url, CallbackPayload)
        assert stored["payload"] == payload and data == f"k:{stored['key']}"
        [answer] = await tg.press(citizen, message, data)
        assert "Giấy chứng sinh" in answer.text  # the stored payload was acted on
        # the same payload gets the same key: no new row
        await tg.channel.send(str(citizen["id"]), [Reply("Lại:", ((Button("Khai sinh", payload=payload),),))])
        assert fake.to(citizen["id"])[-1].callbacks == [data] and len(rows(database_url, CallbackPayload)) == 1
    engine = create_engine(sync_url(database_url))
    with Session(engine) as session:  # stored payloads purged while the bot was down
        session.execute(delete(CallbackPayload))
        session.commit()
    engine.dispose()
    async with running(database_url, fake) as tg:
        [stale] = await tg.press(citizen, message, data)
        assert stale.text.startswith("Dạ, nút bấm này đã cũ nên không còn dùng được")
        assert stale.callbacks == ["menu"]


async def test_unknown_chat_at_start_up_does_not_stop_the_bot(database_url: str, fake: FakeBotApi,
                                                              citizen: dict) -> None:
    # the configured official (ADMIN_ID) never wrote to the bot: setMyCommands for them fails
    async with running(database_url, fake) as tg:
        assert any(r.method == "setmycommands" and "chat not found" in r.description for r in fake.refused)
        [menu] = await tg.say(citizen, "/start")
        assert menu.callbacks


def test_channel_refuses_webhook_mode_without_a_secret(database_url: str) -> None:
    import pytest

    from bot.root import build_app
    from bot.config import ConfigError
    from tests.telegram.conftest import telegram_settings

    fake = FakeBotApi()
    app = build_app(telegram_settings(database_url, fake, webhook_url="https://bot.example/tg", secret=None))
    with pytest.raises(ConfigError, match="CCHC_TELEGRAM_WEBHOOK_SECRET"):
        TelegramChannel(app)


async def test_a_process_with_polling_off_only_sends(database_url: str, fake: FakeBotApi, citizen: dict) -> None:
    from bot.config import Server

    async with running(database_url, fake, server=Server(telegram_polling=False)) as tg:
        assert tg.channel.health()["mode"] == "send-only" and tg.channel.health()["status"] == "ok"
        assert (await tg.channel.send(str(citizen["id"]), [Reply("Thông báo")])).status == "sent"
        fake.text(citizen, "/start")  # another process would fetch this one
        await asyncio.sleep(0.2)
        assert not any(method == "getupdates" for method, _ in fake.calls)
        assert [s.text for s in fake.to(citizen["id"])] == ["Thông báo"]


async def test_handled_update_ids_are_forgotten_after_a_week(polling: Harness, citizen: dict) -> None:
    await polling.say(citizen, "/start")
    engine = create_engine(sync_url(polling.database_url))
    with Session(engine) as session:
        session.add(InboundEvent(channel="telegram", event_id="1",
                                 received_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=8)))
        session.add(InboundEvent(channel="zalo", event_id="z1",
                                 received_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=8)))
        session.commit()
    engine.dispose()
    assert await polling.channel.purge_old_events() == 1
    kept = {(e["channel"], e["event_id"]) for e in rows(polling.database_url, InboundEvent)}
    assert ("telegram", "1") not in kept and ("zalo", "z1") in kept and len(kept) == 2
