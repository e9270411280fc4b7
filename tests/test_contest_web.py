"""The contest end to end in the web chat, over the widget's API (/api/chat, real HTTP): the
number is typed (no platform vouches for it on the web), a break and the return with
/cuocthi, the score and the explanations; and nothing the browser receives before an answer
tells the right one. Then once in a real Chromium, from the main menu's contest button."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

from bot.app import BotApp
from bot.config import Server
from bot.root import build_app
from bot.storage.models import ContestEntry, ContestParticipant
from bot.webchat import SESSION_HEADER
from tests.conftest import make_settings
from tests.contest_channels import CONTEST_ID, contest_content, leaks
from tests.test_contest import Clock, clock  # noqa: F401 - clock: a fixture (the contest's time)
from tests.test_conversation import rows
from tests.test_web_browser import PHONE, browser, expect  # noqa: F401 - browser: a fixture
from tests.web_support import LiveServer, client  # noqa: F401 - client: a fixture


@pytest.fixture
async def bot(database_url: str, tmp_path: Path, clock: Clock) -> AsyncIterator[BotApp]:  # noqa: F811 - clock: the fixture
    app = build_app(make_settings(database_url, content=contest_content(tmp_path), server=Server()))
    yield app
    await app.close()


class Browser:
    """One browser's conversation: its session id, and every answer the API gave it."""

    def __init__(self, http: TestClient) -> None:
        self.client = http
        self.session: str | None = None
        self.received: list[dict] = []

    async def send(self, text: str = "", payload: str | None = None) -> list[dict]:
        headers = {SESSION_HEADER: self.session} if self.session else {}
        response = await self.client.post("/api/chat", json={"text": text, "payload": payload}, headers=headers)
        assert response.status == 200
        body = await response.json()
        self.session = body["session"]
        self.received.append(body)
        return body["replies"]


def buttons(reply: dict) -> list[dict]:
    return [b for row in reply["buttons"] for b in row]


async def test_a_contest_in_the_web_chat(client: TestClient, database_url: str, clock: Clock) -> None:  # noqa: F811
    web = Browser(client)
    [rules] = await web.send("/cuocthi")
    assert "Cuộc thi tìm hiểu CCHC qua các kênh" in rules["text"]
    [consent] = await web.send(payload=f"ct:go:{CONTEST_ID}")
    assert "Anh/Chị có đồng ý cung cấp không" in consent["text"]
    await web.send(payload=f"ct:ok:{CONTEST_ID}")
    await web.send("Trần Văn Minh")
    [ask] = await web.send("Tổ 3")
    assert buttons(ask) == [{"label": "📱 Chia sẻ số điện thoại", "payload": None, "url": None, "request": "phone"}]
    [confirm] = await web.send("+84 912 345 678")  # typed, as the widget invites
    assert "Số điện thoại: 0912 345 678" in confirm["text"]
    [first] = await web.send(payload=f"ct:start:{CONTEST_ID}")
    assert first["text"].startswith("Câu 1/3.")
    choices = [b["payload"] for b in buttons(first)]
    entry = choices[0].split(":")[2]
    assert choices == [f"ct:a:{entry}:0:1", f"ct:a:{entry}:0:2"]
    [second] = await web.send(payload=choices[1])  # right
    assert len(buttons(second)) == 6
    clock.advance(minutes=10)  # a break; the same browser comes back
    [resumed] = await web.send("/cuocthi")
    assert resumed["text"].startswith("Dạ, mời Anh/Chị làm tiếp bài thi.") and "Câu 2/3." in resumed["text"]
    [third] = await web.send(payload=buttons(resumed)[0]["payload"])  # wrong
    [predict] = await web.send(payload=buttons(third)[0]["payload"])  # right
    assert "Câu dự đoán" in predict["text"]
    assert leaks(web.received) == []  # nothing so far shows a right answer
    result, explained = await web.send("150")
    assert "đúng 2/3 câu" in result["text"]
    assert "2. ❌ Đáp án đúng: Cổng Dịch vụ công quốc gia. Hồ sơ toàn trình nộp" in explained["text"]
    [person] = rows(database_url, ContestParticipant)
    assert (person["full_name"], person["village"], person["phone"], person["phone_verified"]) == (
        "Trần Văn Minh", "Tổ 3", "0912345678", False)  # typed: not vouched for
    [entry_row] = rows(database_url, ContestEntry)
    assert (entry_row["channel"], entry_row["answers"], entry_row["prediction"]) == ("web", [2, 1, 1], 150)


async def test_a_contest_in_the_widget(browser, bot: BotApp, database_url: str) -> None:  # noqa: F811
    live = await LiveServer.start(bot)
    context = await browser.new_context(viewport=PHONE, locale="vi-VN")
    try:
        page = await context.new_page()
        problems: list[str] = []
        page.on("pageerror", lambda error: problems.append(str(error)))
        await page.goto(live.url + "/")
        log = page.get_by_role("log")
        question = page.get_by_label("Câu hỏi của Anh/Chị")
        await page.get_by_role("button", name="Cuộc thi tìm hiểu CCHC qua các kênh").click()  # the menu's
        await page.get_by_role("button", name="Bắt đầu làm bài").click()
        await page.get_by_role("button", name="Đồng ý", exact=True).click()
        await expect(log).to_contain_text("họ và tên")
        await question.fill("Lê Thị Hoa")
        await page.keyboard.press("Enter")
        await expect(log).to_contain_text("thôn, tổ dân phố")
        await question.fill("Thôn Bắc")
        await page.keyboard.press("Enter")
        await page.get_by_role("button", name="Chia sẻ số điện thoại").click()
        await expect(question).to_be_focused()
        await page.keyboard.type("0987 654 321")
        await page.keyboard.press("Enter")
        await expect(log).to_contain_text("Số điện thoại: 0987 654 321")
        await page.get_by_role("button", name="Đúng, bắt đầu làm bài").click()
        for number, choice in enumerate(("2. 60 ngày", "6. Cổng Dịch vụ công quốc gia", "1. 15 ngày"), start=1):
            await expect(log).to_contain_text(f"Câu {number}/3.")  # the question shown, then its button
            await page.get_by_role("button", name=choice).last.click()
        await expect(log).to_contain_text("Câu dự đoán")
        await question.fill("99")
        await page.keyboard.press("Enter")
        await expect(log).to_contain_text("đúng 3/3 câu")
        await expect(log).to_contain_text("Đáp án đúng: 15 ngày. Người thân đăng ký khai tử")  # ✅ is an icon
        assert problems == []
    finally:
        await context.close()
        await live.stop()
    [person] = rows(database_url, ContestParticipant)
    assert (person["full_name"], person["phone"], person["phone_verified"]) == ("Lê Thị Hoa", "0987654321", False)
