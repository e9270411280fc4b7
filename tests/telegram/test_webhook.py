"""Webhook mode: the update route on the project's one aiohttp server."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from bot.config import ConfigError, load_settings
from bot.storage.models import InboundEvent
from tests.telegram.conftest import SECRET, Harness, rows, running
from fakes.telegram import FakeBotApi

HEADER = "X-Telegram-Bot-Api-Secret-Token"


def message_update(update_id: int, user: dict, chat: dict, text: str) -> dict:
    return {"update_id": update_id, "message": {
        "message_id": 7000 + update_id % 1000, "from": user, "chat": chat, "date": 1_800_000_000, "text": text,
    }}


@pytest.fixture
async def webhook(database_url: str, fake: FakeBotApi, citizen: dict, admin: dict):
    async with running(database_url, fake, "webhook") as harness:
        yield harness


async def post(url: str, body: object, headers: dict[str, str]) -> int:
    async with aiohttp.ClientSession() as session, session.post(url, json=body, headers=headers) as response:
        return response.status


async def test_webhook_is_registered_with_its_secret(webhook: Harness) -> None:
    calls = [(method, params) for method, params in webhook.fake.calls if method == "setwebhook"]
    [(_, params)] = calls
    assert params["url"] == webhook.webhook_url and params["secret_token"] == SECRET
    assert set(params["allowed_updates"]) == {"message", "callback_query", "my_chat_member"}
    assert not any(method == "getupdates" for method, _ in webhook.fake.calls)


async def test_wrong_or_missing_secret_is_refused_and_nothing_processed(
    webhook: Harness, citizen: dict
) -> None:
    assert webhook.webhook_url is not None
    chat = webhook.fake.chats[citizen["id"]]
    forged = message_update(4242, citizen, chat, "/start")
    assert await post(webhook.webhook_url, forged, {HEADER: "not-the-secret"}) == 403
    assert await post(webhook.webhook_url, forged, {HEADER: SECRET + "x"}) == 403
    assert await post(webhook.webhook_url, forged, {}) == 401
    # a real update, delivered by "Telegram" after the forged ones, is the only one answered
    [reply] = await webhook.say(citizen, "thủ tục kết hôn")
    assert "mang giấy tờ tùy thân" in reply.text
    assert len(webhook.fake.to(citizen["id"])) == 1
    assert "4242" not in {e["event_id"] for e in rows(webhook.database_url, InboundEvent)}


async def test_same_update_posted_twice_is_answered_once(webhook: Harness, citizen: dict) -> None:
    assert webhook.webhook_url is not None
    update = message_update(5151, citizen, webhook.fake.chats[citizen["id"]], "thủ tục kết hôn")
    assert await post(webhook.webhook_url, update, {HEADER: SECRET}) == 200
    assert await post(webhook.webhook_url, update, {HEADER: SECRET}) == 200
    webhook.fake.text(citizen, "/menu")  # answered after the duplicate would have been
    await webhook.fake.replies(citizen["id"], 2)
    texts = [s.text for s in webhook.fake.to(citizen["id"])]
    assert len(texts) == 2 and "mang giấy tờ tùy thân" in texts[0] and "chọn một chủ đề" in texts[1]
    assert [e["event_id"] for e in rows(webhook.database_url, InboundEvent)].count("5151") == 1


async def test_answers_at_once_and_works_in_the_background(webhook: Harness, citizen: dict) -> None:
    assert webhook.webhook_url is not None
    webhook.fake.fail_next("sendMessage", 2)  # the reply takes a while (retries with backoff)
    update = message_update(6161, citizen, webhook.fake.chats[citizen["id"]], "thủ tục kết hôn")
    assert await post(webhook.webhook_url, update, {HEADER: SECRET}) == 200
    assert webhook.fake.to(citizen["id"]) == []  # answered before the reply was even sent
    [reply] = await webhook.fake.replies(citizen["id"], 1)
    assert "mang giấy tờ tùy thân" in reply.text


async def test_garbage_is_refused(webhook: Harness) -> None:
    assert webhook.webhook_url is not None
    async with aiohttp.ClientSession() as session:
        async with session.post(webhook.webhook_url, data=b"{not json", headers={HEADER: SECRET}) as response:
            assert response.status == 400
        async with session.post(webhook.webhook_url, json=[1, 2], headers={HEADER: SECRET}) as response:
            assert response.status == 400
    await asyncio.sleep(0)
    assert rows(webhook.database_url, InboundEvent) == []


def test_webhook_mode_without_a_secret_stops_start_up() -> None:
    environ = {"CCHC_TELEGRAM_TOKEN": "1:abc", "CCHC_TELEGRAM_WEBHOOK_URL": "https://bot.example.vn/telegram/webhook"}
    with pytest.raises(ConfigError, match="CCHC_TELEGRAM_WEBHOOK_SECRET"):
        load_settings(environ=environ)
    with pytest.raises(ConfigError, match="1–256 ký tự"):
        load_settings(environ={**environ, "CCHC_TELEGRAM_WEBHOOK_SECRET": "có dấu cách"})
    settings = load_settings(environ={**environ, "CCHC_TELEGRAM_WEBHOOK_SECRET": "s3cret_-OK"})
    assert settings.telegram.webhook_url == environ["CCHC_TELEGRAM_WEBHOOK_URL"]
    assert load_settings(environ={"CCHC_TELEGRAM_TOKEN": "1:abc"}).telegram.webhook_url is None  # polling


async def test_health_reports_the_channel(webhook: Harness) -> None:
    assert webhook.webhook_url is not None
    health_url = webhook.webhook_url.replace("/telegram/webhook", "/healthz")
    async with aiohttp.ClientSession() as session, session.get(health_url) as response:
        body = await response.json()
    assert body["channels"]["telegram"]["status"] == "ok"
    assert body["channels"]["telegram"]["mode"] == "webhook"
