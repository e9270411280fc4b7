"""The Messenger channel on the bot's real aiohttp app and database, against the fake Graph API."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr
from sqlalchemy import update

from bot.app import BotApp
from bot.root import build_app
from bot.channels.messenger import MessengerChannel
from bot.config import Messenger, Secrets, Settings
from bot.server import make_web_app
from bot.storage.models import ChannelUser, utcnow
from tests.conftest import make_settings
from fakes.messenger import FakeGraph, WebhookSender

FIXTURE = Path(__file__).parent.parent / "fixtures" / "content"
PAGE_ID = "104857600000001"
PAGE_TOKEN = "EAAB-page-token-for-tests"
APP_SECRET = "meta-app-secret-for-tests"
VERIFY_TOKEN = "verify-token-for-tests"


def messenger_settings(database_url: str, fake: FakeGraph, *, content: Path = FIXTURE,
                       **sections: object) -> Settings:
    base = make_settings(database_url, content=content, **sections)
    return base.model_copy(update={
        "messenger": Messenger(page_id=PAGE_ID, page_username="ubndxangoclien", api_base_url=fake.url),
        "secrets": Secrets(
            pseudonym_salt=SecretStr("test-salt"),
            messenger_page_token=SecretStr(PAGE_TOKEN),
            messenger_app_secret=SecretStr(APP_SECRET),
            messenger_verify_token=SecretStr(VERIFY_TOKEN),
        ),
    })


@dataclass
class Rig:
    fake: FakeGraph
    bot: BotApp
    channel: MessengerChannel
    client: TestClient
    meta: WebhookSender

    async def settle(self) -> None:
        """Every accepted webhook event has been handled (bounded wait)."""
        await self.channel.idle(timeout=10)

    async def last_seen(self, psid: str, ago: dt.timedelta) -> None:
        """The person last wrote ``ago`` (in our records and at Meta's)."""
        async with self.bot.database.session() as session:
            await session.exec(update(ChannelUser).where(  # type: ignore[call-overload]
                ChannelUser.channel == "messenger", ChannelUser.platform_id == psid)
                .values(last_seen_at=utcnow() - ago))
            await session.commit()
        self.fake.wrote(psid, at=(utcnow() - ago).timestamp())


@pytest.fixture
async def fake() -> AsyncIterator[FakeGraph]:
    server = await FakeGraph(PAGE_TOKEN, APP_SECRET).start()
    yield server
    await server.close()


@pytest.fixture
async def rig_factory(database_url: str, fake: FakeGraph):
    """Builds rigs on one database; everything built is stopped and closed at the end."""
    made: list[Rig] = []

    async def build(*, start: bool = True, content: Path = FIXTURE, channel_options: dict | None = None,
                    **sections: object) -> Rig:
        bot = build_app(messenger_settings(database_url, fake, content=content, **sections))
        options = {"rate_limit_backoff": 0.2, "slow_answer": 0.3, **(channel_options or {})}
        channel = MessengerChannel(bot, **options)  # type: ignore[arg-type]
        bot.channels = {channel.name: channel}
        client = TestClient(TestServer(make_web_app(bot, [channel]), host="127.0.0.1"))
        await client.start_server()
        if start:
            await channel.start()
        sender = WebhookSender(client, page_id=PAGE_ID, app_secret=APP_SECRET,
                               path=bot.settings.messenger.webhook_path, fake=fake)
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
