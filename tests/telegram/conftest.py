"""The Telegram channel under test: the real bot (BotApp, database, content) and the real
python-telegram-bot client, talking HTTP to the fake Bot API; in webhook mode the fake POSTs
updates to the project's own aiohttp application."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from pydantic import SecretStr
from sqlalchemy import create_engine, select

from bot.app import BotApp
from bot.root import build_app
from bot.channels.telegram import TelegramChannel
from bot.config import Office, Server, Settings, Telegram
from bot.server import make_web_app
from bot.storage.db import sync_url
from tests.conftest import make_settings
from fakes.telegram import FakeBotApi, Sent

FIXTURE = Path(__file__).parent.parent / "fixtures" / "content"
SECRET = "webhook-secret_0123456789"
ADMIN_ID = 1001
# Fast limits, so conversations are not slowed down; the limiter has its own tests.
FAST = {"global_rate": 1000.0, "private_chat_rate": 1000.0, "group_rate_per_minute": 60000.0}


def telegram_settings(
    database_url: str,
    fake: FakeBotApi,
    *,
    content: Path = FIXTURE,
    webhook_url: str | None = None,
    secret: str | None = SECRET,
    office: Office | None = None,
    server: Server | None = None,
    **telegram: Any,
) -> Settings:
    sections = {"office": office, "server": server}
    base = make_settings(database_url, content=content, **{k: v for k, v in sections.items() if v})
    config = Telegram(base_url=fake.base_url, base_file_url=fake.base_file_url, webhook_url=webhook_url,
                      **{"admin_ids": [ADMIN_ID], **FAST, **telegram})
    secrets = base.secrets.model_copy(update={
        "telegram_token": SecretStr(fake.token),
        "telegram_webhook_secret": SecretStr(secret) if secret else None,
    })
    return base.model_copy(update={"telegram": config, "secrets": secrets})


def rows(url: str, model: Any) -> list[dict]:
    engine = create_engine(sync_url(url))
    with engine.connect() as conn:
        result = [dict(r) for r in conn.execute(select(model)).mappings().all()]
    engine.dispose()
    return result


async def eventually(check: Callable[[], Any], timeout: float = 5.0, what: str = "") -> Any:
    """Poll ``check`` (e.g. a database read) until it is truthy, for at most ``timeout`` seconds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not (result := check()):
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what or 'a condition'}")
        await asyncio.sleep(0.02)
    return result


@dataclass
class Harness:
    fake: FakeBotApi
    app: BotApp
    channel: TelegramChannel
    database_url: str
    webhook_url: str | None = None

    async def say(self, user: dict, text: str, count: int = 1, chat: dict | None = None) -> list[Sent]:
        """A citizen writes; returns the ``count`` messages the bot sends back."""
        chat_id = (chat or user)["id"]
        before = len(self.fake.to(chat_id))
        self.fake.text(user, text, chat=chat)
        return await self.fake.replies(chat_id, count, after=before)

    async def press(self, user: dict, sent: Sent, data: str, count: int = 1) -> list[Sent]:
        """A citizen presses a button; returns the ``count`` messages sent or edited in reply."""
        before = len(self.fake.to(sent.chat_id))
        self.fake.press(user, sent, data)
        return await self.fake.replies(sent.chat_id, count, after=before)


@contextlib.asynccontextmanager
async def running(
    database_url: str, fake: FakeBotApi, mode: str = "polling", **kwargs: Any
) -> AsyncIterator[Harness]:
    """The bot with its Telegram channel, started in ``mode`` ("polling" or "webhook")."""
    sock = runner = None
    webhook_url = None
    if mode == "webhook":
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        webhook_url = f"http://127.0.0.1:{sock.getsockname()[1]}/telegram/webhook"
    app = build_app(telegram_settings(database_url, fake, webhook_url=webhook_url, **kwargs))
    channel = TelegramChannel(app, poll_timeout=2)
    if sock is not None:
        runner = web.AppRunner(make_web_app(app, [channel]))
        await runner.setup()
        await web.SockSite(runner, sock).start()
    await channel.start()
    try:
        yield Harness(fake, app, channel, database_url, webhook_url)
    finally:
        await channel.stop()
        if runner is not None:
            await runner.cleanup()
        await app.close()


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotApi]:
    api = await FakeBotApi().start()
    yield api
    await api.stop()


@pytest.fixture
def citizen(fake: FakeBotApi) -> dict:
    return fake.add_user(2001, "Lan")


@pytest.fixture
def admin(fake: FakeBotApi) -> dict:
    return fake.add_user(ADMIN_ID, "Cán bộ Hùng")


@pytest.fixture(params=["polling", "webhook"])
async def tg(request: pytest.FixtureRequest, database_url: str, fake: FakeBotApi,
             citizen: dict, admin: dict) -> AsyncIterator[Harness]:
    """The bot on Telegram, once by long polling and once by webhook."""
    async with running(database_url, fake, request.param) as harness:
        yield harness


@pytest.fixture
async def polling(database_url: str, fake: FakeBotApi, citizen: dict, admin: dict) -> AsyncIterator[Harness]:
    async with running(database_url, fake, "polling") as harness:
        yield harness
