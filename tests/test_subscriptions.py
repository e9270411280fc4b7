"""/dangky and /huydangky through the conversation core, on every channel, on a real database."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.app import BotApp
from bot.root import build_app
from bot.messages import Incoming, Response
from bot.storage.models import ChannelUser, Subscription
from tests.broadcasting import rows
from tests.conftest import make_settings
from tests.packs import write_pack


@pytest.fixture
async def app(database_url: str, tmp_path: Path):
    bot = build_app(make_settings(database_url, content=write_pack(tmp_path / "content")))
    yield bot
    await bot.close()


def payloads(response: Response) -> list[str]:
    return [b.payload for r in response.replies for row in r.buttons for b in row if b.payload]


async def say(
    bot: BotApp, channel: str, user: str, text: str = "", payload: str | None = None
) -> Response:
    return await bot.handle(Incoming(channel, user, text=text, payload=payload))


def subscriptions_of(url: str, channel: str, platform_id: str) -> dict[str, dict]:
    [user] = rows(
        url, ChannelUser, ChannelUser.channel == channel, ChannelUser.platform_id == platform_id
    )
    return {
        s["topic"]: s for s in rows(url, Subscription, Subscription.channel_user_id == user["id"])
    }


@pytest.mark.parametrize("channel", ["telegram", "zalo", "web", "console"])
async def test_subscribe_and_unsubscribe_on_every_channel(
    app: BotApp, database_url: str, channel: str
) -> None:
    shown = await say(app, channel, "u1", "/dangky")
    assert shown.outcome == "subscriptions"
    assert "Dạ, Anh/Chị chọn chủ đề" in shown.replies[0].text
    assert payloads(shown) == ["sub:on:thong-bao-chung", "sub:on:cuoc-thi", "menu"]

    done = await say(app, channel, "u1", payload="sub:on:cuoc-thi")
    assert done.outcome == "subscribed"
    assert "em đã đăng ký cho Anh/Chị nhận thông báo **Cuộc thi**" in done.replies[0].text
    assert "sub:off:cuoc-thi" in payloads(done) and "sub:none" in payloads(done)
    subs = subscriptions_of(database_url, channel, "u1")
    assert set(subs) == {"cuoc-thi"}
    assert (
        subs["cuoc-thi"]["consent_at"] is not None and subs["cuoc-thi"]["unsubscribed_at"] is None
    )

    off = await say(app, channel, "u1", payload="sub:off:cuoc-thi")
    assert off.outcome == "unsubscribed"
    assert "em đã hủy đăng ký **Cuộc thi**" in off.replies[0].text
    assert subscriptions_of(database_url, channel, "u1")["cuoc-thi"]["unsubscribed_at"] is not None


async def test_channel_notes_are_honest(app: BotApp) -> None:
    web = await say(app, "web", "w", payload="sub:on:cuoc-thi")
    assert "trên kênh này em chưa tự gửi tin được" in web.replies[0].text
    zalo = await say(app, "zalo", "z", payload="sub:on:cuoc-thi")
    assert "trong 7 ngày" in zalo.replies[0].text
    telegram = await say(app, "telegram", "t", payload="sub:on:cuoc-thi")
    assert "Lưu ý" not in telegram.replies[0].text


async def test_resubscribing_records_a_new_consent(app: BotApp, database_url: str) -> None:
    await say(app, "telegram", "u2", "/dangky thong-bao-chung")
    first = subscriptions_of(database_url, "telegram", "u2")["thong-bao-chung"]
    again = await say(app, "telegram", "u2", "/dangky thong-bao-chung")  # already subscribed
    assert again.outcome == "subscribed"
    assert (
        subscriptions_of(database_url, "telegram", "u2")["thong-bao-chung"]["consent_at"]
        == first["consent_at"]
    )
    await say(app, "telegram", "u2", "/huydangky")
    ended = subscriptions_of(database_url, "telegram", "u2")["thong-bao-chung"]
    assert ended["unsubscribed_at"] is not None
    back = await say(app, "telegram", "u2", payload="sub:on:thong-bao-chung")
    assert back.outcome == "subscribed"
    renewed = subscriptions_of(database_url, "telegram", "u2")["thong-bao-chung"]
    assert renewed["unsubscribed_at"] is None
    assert renewed["consent_at"] > first["consent_at"]
    assert renewed["id"] == first["id"]  # the same row, reopened


async def test_unsubscribe_everything_in_one_step(app: BotApp, database_url: str) -> None:
    await say(app, "zalo", "u3", payload="sub:on:thong-bao-chung")
    await say(app, "zalo", "u3", payload="sub:on:cuoc-thi")
    response = await say(app, "zalo", "u3", "/huydangky")
    assert response.outcome == "unsubscribed"
    assert "em đã hủy toàn bộ đăng ký" in response.replies[0].text
    assert all(
        s["unsubscribed_at"] is not None
        for s in subscriptions_of(database_url, "zalo", "u3").values()
    )
    nothing = await say(app, "zalo", "u3", payload="sub:none")
    assert "chưa đăng ký nhận thông báo nào" in nothing.replies[0].text
    assert payloads(nothing) == ["sub", "menu"]


async def test_the_same_person_on_two_channels_has_two_subscriptions(
    app: BotApp, database_url: str
) -> None:
    await say(app, "telegram", "same", payload="sub:on:cuoc-thi")
    await say(app, "zalo", "same", payload="sub:on:cuoc-thi")
    await say(app, "telegram", "same", "/huydangky")
    assert (
        subscriptions_of(database_url, "telegram", "same")["cuoc-thi"]["unsubscribed_at"]
        is not None
    )
    assert subscriptions_of(database_url, "zalo", "same")["cuoc-thi"]["unsubscribed_at"] is None


async def test_an_unknown_topic_shows_the_choice_again(app: BotApp) -> None:
    response = await say(app, "telegram", "u4", payload="sub:on:da-bo")
    assert "chủ đề này không còn nữa" in response.replies[0].text
    assert "sub:on:thong-bao-chung" in payloads(response)
    listed = await say(app, "telegram", "u4", "/dangky khong-co")  # unknown argument: the list
    assert listed.outcome == "subscriptions"


async def test_without_a_database_nothing_is_pretended(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/gone/db.sqlite"
    bot = build_app(make_settings(url, content=write_pack(tmp_path / "content")))
    (tmp_path / "gone" / "db.sqlite").unlink()
    (tmp_path / "gone").rmdir()
    (tmp_path / "gone").write_text("not a directory")  # the database cannot be opened any more
    try:
        response = await say(bot, "telegram", "u5", payload="sub:on:cuoc-thi")
    finally:
        await bot.close()
    assert response.outcome == "subscribe_unavailable"
    assert "chưa ghi nhận được đăng ký" in response.replies[0].text
