"""The dashboard's content v2 parts: the calendar's holidays, the entries due for review on the
content page, the procedure block in force on the "ask" page."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer

from bot.app import build_app
from bot.config import Holiday, Holidays, Settings
from bot.content.loader import today
from bot.server import make_web_app
from tests.conftest import make_settings
from tests.web_support import FIXTURE, add_user, login


def dashboard_settings(database_url: str, content: Path, holidays: list[Holiday]) -> Settings:
    return make_settings(database_url, content=content, holidays=Holidays(days=holidays))


async def test_the_dashboard_calendar_and_content_pages(database_url: str, tmp_path: Path) -> None:
    content = tmp_path / "content"
    shutil.copytree(FIXTURE, content)
    stale = content / "faq" / "ket-hon.md"
    stale.write_text(stale.read_text(encoding="utf-8").replace("updated: 2026-11-01", "updated: 2020-01-01"),
                     encoding="utf-8")
    coming = today() + dt.timedelta(days=10)
    app = build_app(dashboard_settings(database_url, content, [Holiday(name="Lễ hội xã", start=coming)]))
    await add_user(app, "bientap", "editor")
    try:
        async with TestClient(TestServer(make_web_app(app))) as client:
            await login(client, "bientap")
            calendar = await (await client.get("/admin/calendar?days=30")).text()
            assert f'<time datetime="{coming.isoformat()}">{coming:%d/%m/%Y}</time> Lễ hội xã' in calendar
            page = await (await client.get("/admin/content")).text()
            assert "Đến hạn rà soát (1)" in page
            assert "<code>content/faq/ket-hon.md</code>" in page and "quá hạn" in page
    finally:
        await app.close()


async def test_the_dashboard_shows_the_procedure_block_in_force(database_url: str, tmp_path: Path) -> None:
    content = tmp_path / "content"
    shutil.copytree(FIXTURE, content)
    fees_file = content / "faq" / "khai-sinh-le-phi.md"
    text = fees_file.read_text(encoding="utf-8")
    assert "procedure:" in text
    yesterday = today() - dt.timedelta(days=1)
    fees_file.write_text(text.replace("procedure:\n", "procedure:\n  code: \"1.001193\"\n  papers: [Giấy chứng sinh]\n"
                                      "  legal_basis:\n    - title: Luật Hộ tịch\n      number: 60/2014/QH13\n", 1)
                         .replace("  fees:\n", f"  fees:\n    - case: Mức cũ đã hết\n      amount: 9000\n"
                                               f"      valid_until: {yesterday.isoformat()}\n", 1), encoding="utf-8")
    app = build_app(dashboard_settings(database_url, content, []))
    await add_user(app, "bientap", "editor")
    try:
        async with TestClient(TestServer(make_web_app(app))) as client:
            await login(client, "bientap")
            page = await (await client.get("/admin/ask", params={"q": "lệ phí khai sinh"})).text()
            assert "Dữ liệu thủ tục (đang áp dụng hôm nay)" in page
            assert "<code>1.001193</code>" in page and "<li>Giấy chứng sinh</li>" in page
            assert "Luật Hộ tịch 60/2014/QH13" in page
            assert "Mức cũ đã hết" not in page
    finally:
        await app.close()
