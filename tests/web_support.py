"""Helpers for the web tests: the bot's real server on a real port, dashboard accounts, logins."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.app import BotApp
from bot.config import Dashboard, Server, Settings
from bot.dashboard import auth
from bot.server import make_web_app
from bot.storage.models import AdminUser
from tests.conftest import make_settings

FIXTURE = Path(__file__).parent / "fixtures" / "content"
PASSWORD = "mật-khẩu-thử-12345"
CSRF_FIELD = re.compile(r'name="csrf" value="([^"]+)"')


def web_settings(database_url: str, *, origins: list[str] | None = None, **dashboard: object) -> Settings:
    return make_settings(database_url, content=FIXTURE,
                         server=Server(widget_origins=origins or []),
                         dashboard=Dashboard(**dashboard))  # type: ignore[arg-type]


@pytest.fixture
async def client(bot: BotApp) -> AsyncIterator[TestClient]:
    """The web app of the test module's own ``bot`` fixture, through aiohttp's test client."""
    async with TestClient(TestServer(make_web_app(bot))) as test_client:
        yield test_client


_HASHES: dict[str, str] = {}  # argon2 takes a good part of a second: hash each password once


async def add_user(bot: BotApp, username: str, role: str, password: str = PASSWORD) -> None:
    """An account as ``cchc-bot admin create-user`` makes it (a real argon2 hash, reused)."""
    if password not in _HASHES:
        _HASHES[password] = auth.hash_password(password)
    async with bot.database.session() as session:
        session.add(AdminUser(username=auth.check_username(username), password_hash=_HASHES[password],
                              role=auth.check_role(role)))
        await session.commit()


def csrf_of(html: str) -> str:
    match = CSRF_FIELD.search(html)
    assert match is not None, "no CSRF field on the page"
    return match.group(1)


async def login(client: TestClient, username: str, password: str = PASSWORD) -> str:
    """Log in through the form; returns the session's CSRF token."""
    page = await client.get("/admin/login")
    response = await client.post("/admin/login", data={
        "csrf": csrf_of(await page.text()), "username": username, "password": password, "next": "/admin"},
        allow_redirects=False)
    assert response.status == 303, await response.text()
    home = await client.get("/admin")
    assert home.status == 200
    return csrf_of(await home.text())


@dataclass
class LiveServer:
    """The bot's one web application on 127.0.0.1 and a free port, as a browser sees it."""

    runner: web.AppRunner
    url: str

    @classmethod
    async def start(cls, bot: BotApp, channels: list | None = None) -> LiveServer:
        runner = web.AppRunner(make_web_app(bot, channels or []), shutdown_timeout=2)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return cls(runner, f"http://127.0.0.1:{port}")

    async def stop(self) -> None:
        await self.runner.cleanup()
