"""An official follows a contest and draws its winners on a phone, in a real browser (Chromium)."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.app import BotApp
from bot.config import Dashboard, Server
from bot.root import build_app
from handlers.contest import service
from tests.conftest import make_settings
from tests.contest_support import BEST_ELIGIBLE, ENDED, contest_content, seed
from tests.test_web_browser import PHONE, _login, browser, expect, shot  # noqa: F401 - browser: a fixture
from tests.web_support import LiveServer, add_user


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/cchc-browser.db"  # SQLite only, as the other browser tests


@pytest.fixture
async def server(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[LiveServer]:
    monkeypatch.setattr(service, "utcnow", lambda: ENDED.astimezone(dt.UTC))
    app: BotApp = build_app(make_settings(database_url, content=contest_content(tmp_path), server=Server(),
                                          dashboard=Dashboard()))
    await add_user(app, "canbo", "official")
    async with app.database.session() as session:
        await seed(session)
    live = await LiveServer.start(app)
    yield live
    await live.stop()
    await app.close()


async def test_an_official_watches_a_contest_and_draws_on_a_phone(browser, server: LiveServer) -> None:  # noqa: F811
    context = await browser.new_context(viewport=PHONE, locale="vi-VN")
    page = await context.new_page()
    await _login(page, server.url)
    await page.get_by_role("navigation").get_by_role("link", name="Cuộc thi").click()
    await expect(page.get_by_role("row", name="Hội thi tìm hiểu CCHC của xã")).to_contain_text("đã kết thúc")
    await page.get_by_role("link", name="Hội thi tìm hiểu CCHC của xã").click()
    await expect(page.get_by_role("heading", name="Hội thi tìm hiểu CCHC của xã")).to_be_visible()
    await expect(page.locator(".tiles")).to_contain_text("6 người tham gia")
    await page.get_by_label("Hạt giống").fill("giam-khao")
    await page.get_by_role("button", name="Bốc thăm").click()
    await expect(page.get_by_role("heading", name="Lần bốc thăm số 1")).to_be_visible()
    history = page.locator("section.card")
    await expect(history).to_contain_text("bốc lại từ hạt giống: khớp")
    winners = await history.locator("tbody tr td:nth-child(2)").all_inner_texts()
    assert len(winners) == 2 and set(winners) <= set(BEST_ELIGIBLE)
    # the wide tables scroll in their own box: the page itself does not overflow sideways
    assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    await shot(page, "dashboard-contest-phone")
    await context.close()
