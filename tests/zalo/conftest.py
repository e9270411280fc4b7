"""The Zalo channel on the bot's real aiohttp app and database, against the fake Zalo API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr

from bot.app import BotApp
from bot.root import build_app
from bot.channels.zalo import ZaloChannel
from bot.channels.zalo_api import RateLimiter
from bot.config import Secrets, Settings, Zalo
from bot.server import make_web_app
from tests.conftest import make_settings
from fakes.zalo import FakeZalo, WebhookSender

FIXTURE = Path(__file__).parent.parent / "fixtures" / "content"
APP_ID = "1234567890123456789"
OA_ID = "4318793126450786043"
APP_SECRET = "app-secret-for-tests"
OA_SECRET_KEY = "oa-secret-key-for-tests"


def zalo_settings(database_url: str, fake: FakeZalo, *, refresh_token: str | None,
                  access_token: str | None = None, content: Path = FIXTURE, **zalo: object) -> Settings:
    base = make_settings(database_url, content=content)
    return base.model_copy(update={
        "zalo": Zalo(app_id=APP_ID, oa_id=OA_ID, api_base_url=fake.url, oauth_base_url=fake.url,
                     max_event_age_seconds=600, **zalo),
        "secrets": Secrets(
            pseudonym_salt=SecretStr("test-salt"),
            zalo_app_secret=SecretStr(APP_SECRET),
            zalo_oa_secret_key=SecretStr(OA_SECRET_KEY),
            zalo_refresh_token=SecretStr(refresh_token) if refresh_token else None,
            zalo_access_token=SecretStr(access_token) if access_token else None,
        ),
    })


@dataclass
class Rig:
    fake: FakeZalo
    bot: BotApp
    channel: ZaloChannel
    client: TestClient
    zalo: WebhookSender

    async def settle(self) -> None:
        """Every accepted webhook event has been handled (bounded wait)."""
        await self.channel.idle(timeout=10)


@pytest.fixture
async def fake() -> AsyncIterator[FakeZalo]:
    server = await FakeZalo(APP_ID, APP_SECRET).start()
    yield server
    await server.close()


def make_channel(bot: BotApp, **kwargs: object) -> ZaloChannel:
    kwargs.setdefault("limiter", RateLimiter(4000, 60))
    kwargs.setdefault("rate_limit_backoff", 0.05)
    return ZaloChannel(bot, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
async def rig_factory(database_url: str, fake: FakeZalo):
    """Builds rigs on one database; everything built is stopped and closed at the end."""
    made: list[Rig] = []

    async def build(*, start: bool = True, seed: bool = True, channel_options: dict | None = None,
                    content: Path = FIXTURE, **zalo: object) -> Rig:
        access, refresh = fake.issue_pair() if seed else (None, None)
        bot = build_app(zalo_settings(database_url, fake, refresh_token=refresh,
                                      access_token=access, content=content, **zalo))
        channel = make_channel(bot, **(channel_options or {}))
        client = TestClient(TestServer(make_web_app(bot, [channel]), host="127.0.0.1"))
        await client.start_server()
        if start:
            await channel.start()
        sender = WebhookSender(client, app_id=APP_ID, oa_id=OA_ID, oa_secret_key=OA_SECRET_KEY,
                               path=bot.settings.zalo.webhook_path, fake=fake)
        rig = Rig(fake, bot, channel, client, sender)
        made.append(rig)
        return rig

    yield build
    for rig in made:
        await rig.channel.stop(timeout=5)
        await rig.client.close()
        await rig.bot.close()


@pytest.fixture
async def rig(rig_factory) -> Rig:
    return await rig_factory()
