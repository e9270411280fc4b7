"""A broadcast end to end on Telegram: citizens subscribe through the real channel, the sender
delivers through the real TelegramChannel to the fake Bot API, blocked users and unknown chats
are recorded, and Telegram's flood limit costs nothing but time."""

from __future__ import annotations

import datetime as dt
from collections import Counter

from handlers.announcements import create_broadcast
from bot.outbox.sender import Sender
from bot.storage.models import Broadcast, BroadcastDelivery, ChannelUser, Subscription
from tests.broadcasting import add_subscribers, vn
from tests.telegram.conftest import Harness, rows, running
from fakes.telegram import FakeBotApi


def daytime() -> dt.datetime:  # outside quiet hours, whatever the hour the tests run at
    return vn(2026, 1, 5, 9, 0)


async def subscribe(tg: Harness, user: dict) -> None:
    [choice] = await tg.say(user, "/dangky")
    assert choice.callbacks == ["sub:on:thong-bao-chung", "menu"]
    [done] = await tg.press(user, choice, "sub:on:thong-bao-chung")
    assert "em đã đăng ký cho Anh/Chị nhận thông báo Thông báo chung" in done.text


async def test_subscribers_get_the_announcement_once_and_blockers_are_unsubscribed(
    polling: Harness,
    citizen: dict,
) -> None:
    tg = polling
    neighbour = tg.fake.add_user(2002, "Minh")
    leaver = tg.fake.add_user(2003, "Tú")
    for user in (citizen, neighbour, leaver):
        await subscribe(tg, user)
    tg.fake.block(leaver["id"])
    await add_subscribers(tg.app.database, "telegram", ["9999"])  # a chat Telegram does not know
    async with tg.app.database.session() as session:
        row = await create_broadcast(
            session,
            author="test",
            topic="thong-bao-chung",
            body="Bộ phận Một cửa **nghỉ** ngày 2/9. Gọi {{ office.hotline }}.",
            title="Thông báo chung",
            office=tg.app.settings.office.template_values(),
        )
        await session.commit()
    before = len(tg.fake.sent)

    await Sender(tg.app.database, tg.app.settings, [tg.channel], clock=daytime).run_until_idle()

    sent = tg.fake.sent[before:]
    assert Counter(s.chat_id for s in sent) == {citizen["id"]: 1, neighbour["id"]: 1}
    hotline = tg.app.settings.office.hotline
    assert sent[0].text == f"📢 Thông báo chung\n\nBộ phận Một cửa nghỉ ngày 2/9. Gọi {hotline}."
    assert sent[0].styled("bold") == ["Thông báo chung", "nghỉ"]
    assert sent[0].callbacks == ["menu"]
    outcomes = {r["channel_user_id"]: r for r in rows(tg.database_url, BroadcastDelivery)}
    users = {u["platform_id"]: u for u in rows(tg.database_url, ChannelUser)}
    assert outcomes[users[str(leaver["id"])]["id"]]["status"] == "blocked"
    assert outcomes[users["9999"]["id"]]["status"] == "failed"
    assert "chat not found" in outcomes[users["9999"]["id"]]["last_error"].lower()
    assert outcomes[users[str(citizen["id"])]["id"]]["platform_message_id"] == str(
        sent[0].message_id
    )
    assert users[str(leaver["id"])]["reachable"] is False
    ended = [
        s
        for s in rows(tg.database_url, Subscription)
        if s["channel_user_id"] == users[str(leaver["id"])]["id"]
    ]
    assert ended and all(s["unsubscribed_at"] is not None for s in ended)
    [broadcast] = rows(tg.database_url, Broadcast)
    assert broadcast["id"] == row.id and broadcast["status"] == "done"


async def test_the_flood_limit_slows_the_broadcast_but_loses_and_repeats_nothing(
    database_url: str,
) -> None:
    fake = await FakeBotApi(rate_limit=20, retry_after=1).start()
    try:
        for user_id in range(3001, 3051):
            fake.add_user(user_id)
        # the bot's own limit above Telegram's, so Telegram's 429s must be honoured
        async with running(database_url, fake, global_rate=40.0, private_chat_rate=40.0) as tg:
            await add_subscribers(tg.app.database, "telegram", [str(i) for i in range(3001, 3051)])
            async with tg.app.database.session() as session:
                await create_broadcast(
                    session, author="test", topic="thong-bao-chung", body="Dạ, thông báo."
                )
                await session.commit()
            await Sender(
                tg.app.database, tg.app.settings, [tg.channel], clock=daytime
            ).run_until_idle()
            assert [r.code for r in fake.refused].count(429) >= 1
            received = Counter(s.chat_id for s in fake.sent)
            assert received == {i: 1 for i in range(3001, 3051)}
            statuses = Counter(r["status"] for r in rows(database_url, BroadcastDelivery))
            assert statuses == {"sent": 50}
    finally:
        await fake.stop()


async def test_an_official_composes_on_telegram_and_subscribers_receive_it(
    polling: Harness,
    admin: dict,
    citizen: dict,
) -> None:
    tg = polling
    await subscribe(tg, citizen)
    [topics] = await tg.say(admin, "/broadcast")
    await tg.press(admin, topics, "bc:topic:thong-bao-chung")
    _, preview, confirm = await tg.say(admin, "Dạ, Bộ phận Một cửa **nghỉ** thứ Bảy.", count=3)
    [done] = await tg.press(admin, confirm, "bc:confirm")
    assert "đã ghi nhận thông báo số 1" in done.text
    before = len(tg.fake.to(citizen["id"]))

    await Sender(tg.app.database, tg.app.settings, [tg.channel], clock=daytime).run_until_idle()

    [received] = tg.fake.to(citizen["id"])[before:]
    assert received.html == preview.html  # what the official confirmed is what the citizen got
    assert tg.fake.to(admin["id"])[-1] is done  # the official is not a subscriber
    [stats] = await tg.say(admin, "/stats")
    assert "Số 1 (Thông báo chung): đã gửi xong, đã gửi 1/1" in stats.text
