"""Under pressure: bounded backlogs that refuse before acknowledging, oversized
bodies refused before they are read whole, and per-user rate limits with a polite answer."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.root import build_app
from bot.config import Server
from bot.pressure import BUSY_TEXT, UserRateLimiter
from bot.server import make_web_app
from bot.storage.models import QuestionLog
from bot.webchat import WEB_BACKLOG_KEY
from tests.conftest import make_settings
from tests.telegram.conftest import eventually, rows, running
from fakes.telegram import FakeBotApi
from tests.zalo.conftest import fake, rig_factory  # noqa: F401 - fixtures for the Zalo tests

FIXTURE = Path(__file__).parent / "fixtures" / "content"
SID = "0123456789abcdef0123456789abcdef"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# --- the per-user limiter ------------------------------------------------------------------


def test_a_user_gets_a_burst_then_the_rate_and_one_warning_per_run() -> None:
    clock = Clock()
    limiter = UserRateLimiter(per_minute=6, burst=3, clock=clock)  # one message every 10 s
    assert [limiter.check("a").allowed for _ in range(3)] == [True, True, True]
    refused = [limiter.check("a") for _ in range(4)]
    assert [v.allowed for v in refused] == [False] * 4
    assert [v.warn for v in refused] == [True, False, False, False]  # polite once, then quiet
    assert 9.9 < refused[0].retry_after <= 10.0
    assert limiter.check("b").allowed  # others are not affected
    clock.now += 10.0
    assert limiter.check("a").allowed and not limiter.check("a").allowed
    clock.now += 10.0
    assert limiter.check("a").allowed
    clock.now += 1.0
    assert limiter.check("a").warn  # a new run of flooding is warned about again


def test_the_limiter_forgets_the_idlest_users_first() -> None:
    limiter = UserRateLimiter(per_minute=60, burst=1, max_users=100, clock=Clock())
    for i in range(1000):
        limiter.check(f"user-{i}")
    assert len(limiter) == 100
    assert not limiter.check("user-999").allowed  # remembered: still limited
    assert limiter.check("user-0").allowed  # forgotten long ago: a fresh bucket


# --- the web chat ----------------------------------------------------------------------------


@pytest.fixture
async def client(database_url: str) -> AsyncIterator[TestClient]:
    settings = make_settings(database_url, content=FIXTURE,
                             server=Server(user_burst=3, user_messages_per_minute=6,
                                           max_backlog=5, backlog_degraded=2))
    bot = build_app(settings)
    async with TestClient(TestServer(make_web_app(bot))) as client:
        yield client
    await bot.close()


async def _ask(client: TestClient, text: str, sid: str = SID) -> dict:
    response = await client.post("/api/chat", json={"text": text}, headers={"X-CCHC-Session": sid})
    assert response.status == 200
    return await response.json()


async def test_web_chat_bodies_over_16_kb_are_refused_before_being_read(client: TestClient) -> None:
    fits = json.dumps({"text": "thủ tục kết hôn " + "x" * 15_000}).encode()
    assert len(fits) < 16 * 1024
    assert (await client.post("/api/chat", data=fits, headers={"X-CCHC-Session": SID})).status == 200
    too_big = json.dumps({"text": "x" * 17_000}).encode()
    assert (await client.post("/api/chat", data=too_big)).status == 413  # by Content-Length

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted while read
        yield b'{"text": "'
        for _ in range(100):
            yield b"x" * 1024
        yield b'"}'

    response = await client.post("/api/chat", data=chunks())
    assert response.status == 413
    assert "chunked" in response.request_info.headers.get("Transfer-Encoding", "")


async def test_a_flooding_web_user_is_asked_politely_to_wait(client: TestClient, database_url: str) -> None:
    answers = [await _ask(client, "thủ tục kết hôn") for _ in range(5)]
    assert [a["outcome"] for a in answers] == ["answer"] * 3 + ["flood_limited"] * 2
    polite = answers[3]["replies"][0]["text"]
    assert "gửi tin nhắn hơi nhanh" in polite and "giây" in polite
    assert (await _ask(client, "thủ tục kết hôn", sid="f" * 32))["outcome"] == "answer"
    logged = [r for r in rows(database_url, QuestionLog)]
    assert len(logged) == 4  # the refused messages cost no database work


async def test_a_full_web_backlog_asks_to_retry_and_shows_in_health(client: TestClient) -> None:
    backlog = client.server.app[WEB_BACKLOG_KEY]
    for _ in range(5):  # five questions being answered: the configured max_backlog
        assert backlog.enter()
    response = await client.post("/api/chat", json={"text": "kết hôn"}, headers={"X-CCHC-Session": SID})
    assert response.status == 503 and response.headers["Retry-After"]
    assert (await response.json())["error"] == BUSY_TEXT
    health = await (await client.get("/healthz")).json()
    assert health["status"] == "degraded" and health["channels"]["web"]["backlog"] == 5
    assert health["channels"]["web"]["refused_busy"] == 1
    for _ in range(5):
        backlog.leave()
    assert (await _ask(client, "kết hôn"))["outcome"]
    assert (await (await client.get("/healthz")).json())["status"] == "ok"


# --- Telegram webhook: a bounded backlog, refused before it is acknowledged ----------------


class GatedBotApi(FakeBotApi):
    """The fake Bot API, holding every sendMessage until the test opens the gate."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.gate = asyncio.Event()

    async def _m_sendmessage(self, params: dict) -> dict:
        await self.gate.wait()
        return await super()._m_sendmessage(params)


async def test_telegram_backlog_is_bounded_and_refused_updates_come_again(database_url: str) -> None:
    fake = await GatedBotApi().start()
    users = [fake.add_user(3000 + i) for i in range(4)]
    try:
        async with running(database_url, fake, "webhook",
                           server=Server(max_backlog=2, backlog_degraded=2)) as tg:
            for user in users:
                fake.text(user, "thủ tục kết hôn")
            # two are accepted and wait for Telegram; the third is refused with 503 (and the
            # fake, like Telegram, delivers it again a little later)
            await eventually(lambda: any(status == 503 for _, status in fake.webhook_posts), 4,
                             "a refusal")
            health = tg.channel.health()
            assert health["backlog"] == 2 and health["status"] == "degraded"
            assert not fake.sent
            fake.gate.set()
            for user in users:
                await fake.replies(user["id"], 1, timeout=15)
            await eventually(lambda: tg.channel.backlog.pending == 0, 5, "an empty backlog")
            assert tg.channel.backlog.peak == 2 and tg.channel.backlog.refused >= 1
            assert all(len(fake.to(u["id"])) == 1 for u in users)  # each answered once
            assert tg.channel.health()["status"] == "ok"
    finally:
        await fake.stop()


async def test_a_flooding_telegram_user_gets_one_polite_warning(database_url: str) -> None:
    fake = await FakeBotApi().start()
    user = fake.add_user(4001)
    try:
        async with running(database_url, fake, "webhook",
                           server=Server(user_burst=2, user_messages_per_minute=1)):
            for _ in range(6):
                fake.text(user, "thủ tục kết hôn")
            await fake.wait_for(lambda: not fake.pending, 10, "all updates delivered")
            replies = await fake.replies(user["id"], 3, timeout=10)
            await asyncio.sleep(0.3)  # nothing more is coming
            texts = [s.text for s in fake.to(user["id"])]
            assert len(texts) == 3, texts
            assert "gửi tin nhắn hơi nhanh" in replies[2].text
    finally:
        await fake.stop()


# --- Zalo: oversized events ------------------------------------------------------------------


async def test_zalo_oversized_events_are_refused_unread(rig_factory) -> None:
    rig = await rig_factory()
    event = rig.zalo.text_event("u-big", "x" * 70_000)
    response = await rig.zalo.post(event)
    assert response.status == 413
    await rig.settle()
    assert not rig.fake.messages_to("u-big")
