"""The web server: chat API over real HTTP, health, bad requests refused."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.root import build_app
from bot.server import SESSION_COOKIE, make_web_app
from tests.conftest import make_settings

FIXTURE = Path(__file__).parent / "fixtures" / "content"


@pytest.fixture
async def client(database_url: str) -> AsyncIterator[TestClient]:
    bot = build_app(make_settings(database_url, content=FIXTURE))
    async with TestClient(TestServer(make_web_app(bot))) as client:
        yield client
    await bot.close()


async def test_chat_session_is_kept_in_a_cookie(client: TestClient) -> None:
    first = await client.post("/api/chat", json={"text": "/start"})
    assert first.status == 200
    body = await first.json()
    assert body["outcome"] == "menu"
    assert body["replies"][0]["buttons"][0][0] == {"label": "Hộ tịch", "payload": "cat:ho-tich", "url": None}
    sid = first.cookies[SESSION_COOKIE].value
    assert first.cookies[SESSION_COOKIE]["httponly"]
    second = await client.post("/api/chat", json={"text": "thủ tục kết hôn"})
    assert (await second.json())["outcome"] == "answer"
    assert SESSION_COOKIE not in second.cookies  # the same session goes on
    assert client.session.cookie_jar.filter_cookies(client.make_url("/"))[SESSION_COOKIE].value == sid


async def test_button_payload(client: TestClient) -> None:
    response = await client.post("/api/chat", json={"payload": "faq:ket-hon"})
    body = await response.json()
    assert body["outcome"] == "answer"
    assert "**" not in body["replies"][0]["text"]  # plain text for the widget
    assert body["replies"][0]["markdown"].startswith("**Đăng ký kết hôn")


@pytest.mark.parametrize(
    ("data", "status"),
    [("not json", 400), ("[1, 2]", 400), ('{"text": 5}', 400), ('{"payload": ["x"]}', 400)],
)
async def test_bad_requests_are_refused(client: TestClient, data: str, status: int) -> None:
    response = await client.post("/api/chat", data=data, headers={"Content-Type": "application/json"})
    assert response.status == status


async def test_oversized_body_is_refused_before_it_is_read(client: TestClient) -> None:
    response = await client.post("/api/chat", data=b"{" + b" " * 100_000 + b"}")
    assert response.status == 413


async def test_health_reports_database_and_content(client: TestClient) -> None:
    response = await client.get("/healthz")
    body = await response.json()
    assert body["status"] == "ok" and body["database"] == "ok"
    assert body["content"]["entries"] == 4


async def test_chat_page_is_served_without_external_resources(client: TestClient) -> None:
    response = await client.get("/")
    html = await response.text()
    assert response.status == 200
    assert 'lang="vi"' in html and "api/chat" in html
    assert "http://" not in html and "https://" not in html
