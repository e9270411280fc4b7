"""A real Chromium (Debian's ``chromium``, driven by Playwright) against the bot's real server on
127.0.0.1 and a free port, with a real database.

- A citizen chats in the widget embedded in a portal on another site (another origin): the
  did-you-mean choice and the helpful vote, keyboard only, the larger-text switch.
- The chat page at / on a phone-sized screen.
- The dashboard: a failed and a good login; composing, previewing and confirming a broadcast,
  then its live progress while the real broadcast sender works; replying to a ticket; downloading
  a report.

Set CCHC_TEST_SCREENSHOTS=/some/folder to keep screenshots of the pages. ./test installs
Chromium; without it these tests fail (CCHC_TEST_NO_BROWSER=1 skips them on purpose).
"""

from __future__ import annotations

import asyncio
import io
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from openpyxl import load_workbook
from sqlmodel import select

from bot.app import BotApp
from bot.root import build_app
from bot.outbox.sender import Sender
from bot.messages import Incoming
from bot.storage.models import AnswerVote, Broadcast, ChannelUser, TicketMessage
from tests.broadcasting import RecordingChannel, add_subscribers
from tests.contact_support import TRIGGER, asking_phone
from tests.telegram.conftest import eventually
from tests.web_support import PASSWORD, LiveServer, add_user, web_settings

playwright_api = pytest.importorskip("playwright.async_api")
async_playwright, expect = playwright_api.async_playwright, playwright_api.expect

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]
PHONE = {"width": 390, "height": 844}
SHOTS = os.environ.get("CCHC_TEST_SCREENSHOTS")

pytestmark = pytest.mark.skipif(os.environ.get("CCHC_TEST_NO_BROWSER") == "1", reason="CCHC_TEST_NO_BROWSER=1")


async def shot(page, name: str) -> None:  # noqa: ANN001
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """SQLite, the embedded default, only: the HTTP-level tests cover PostgreSQL too, and the
    browser tests stay under a minute."""
    return f"sqlite:///{tmp_path}/cchc-browser.db"


@pytest.fixture
async def browser() -> AsyncIterator:
    assert Path(CHROMIUM).exists(), "Chromium is needed: apt-get install -y chromium (./test does it)"
    async with async_playwright() as p:
        # Playwright gives every launch a fresh, empty profile (--user-data-dir) of its own.
        launched = await p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield launched
        await launched.close()


class Portal:
    """A commune portal on another site (localhost vs the bot's 127.0.0.1) embedding the widget."""

    def __init__(self) -> None:
        self.bot_url = ""
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def page(self, request: web.Request) -> web.Response:
        return web.Response(content_type="text/html", text=f"""<!doctype html>
<html lang="vi"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Cổng thông tin điện tử xã Ngọc Liên</title></head>
<body style="font-family: serif; background: #fffbe6"><h1>Cổng thông tin điện tử xã Ngọc Liên</h1>
<p><a href="#tin-tuc">Tin tức</a> · <a href="#thu-tuc">Thủ tục hành chính</a></p>
<p>Trang của xã, có CSS riêng: <style>button {{ font-size: 9px; color: green; }}</style></p>
<script src="{self.bot_url}/widget.js" defer></script></body></html>""")

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/", self.page)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://localhost:{port}"


@pytest.fixture
async def portal() -> AsyncIterator[Portal]:
    portal = Portal()
    await portal.start()
    yield portal
    assert portal.runner is not None
    await portal.runner.cleanup()


@pytest.fixture
async def bot(database_url: str, portal: Portal) -> AsyncIterator[BotApp]:
    app = build_app(web_settings(database_url, origins=[portal.url]))
    await add_user(app, "canbo", "official")
    yield app
    await app.close()


@pytest.fixture
async def server(bot: BotApp, portal: Portal) -> AsyncIterator[LiveServer]:
    live = await LiveServer.start(bot)
    portal.bot_url = live.url
    yield live
    await live.stop()


async def test_a_citizen_chats_in_the_widget_on_a_portal(browser, portal: Portal, server: LiveServer,  # noqa: ANN001
                                                         bot: BotApp) -> None:
    context = await browser.new_context(viewport=PHONE, locale="vi-VN", has_touch=True)
    page = await context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    await page.goto(portal.url)
    launcher = page.get_by_role("button", name="Hỏi đáp thủ tục")
    await expect(launcher).to_have_attribute("aria-expanded", "false")
    await launcher.focus()
    await page.keyboard.press("Enter")  # keyboard only
    question = page.get_by_label("Câu hỏi của Anh/Chị")
    await expect(question).to_be_focused()
    conversation = page.get_by_role("log", name="Cuộc trò chuyện")
    await expect(conversation).to_contain_text("Hộ tịch")  # the menu, greeting the citizen
    await page.keyboard.type("đăng ký")  # khai sinh or kết hôn?
    await page.keyboard.press("Enter")
    choice = page.get_by_role("button", name="Lệ phí đăng ký khai sinh là bao nhiêu?").last
    await expect(choice).to_be_visible()  # did you mean…?
    await shot(page, "widget-phone-did-you-mean")
    await choice.focus()
    await page.keyboard.press("Enter")
    await expect(conversation).to_contain_text("Câu trả lời có hữu ích không")
    await page.get_by_role("button", name="Hữu ích", exact=True).last.click()
    await expect(conversation).to_contain_text("em cảm ơn Anh/Chị đã đánh giá")
    async with bot.database.session() as session:
        [vote] = (await session.exec(select(AnswerVote))).all()
    assert vote.faq_id == "khai-sinh-le-phi" and vote.helpful and vote.channel == "web"

    # The session lives in the portal's storage and goes in a header: no third-party cookie.
    stored = await page.evaluate("localStorage.getItem('cchc-session')")
    assert stored and len(stored) == 32
    assert await context.cookies(server.url) == []

    larger = page.get_by_role("button", name="Chữ to")
    await larger.click()
    await expect(larger).to_have_attribute("aria-pressed", "true")
    size = await question.evaluate("el => getComputedStyle(el).fontSize")
    assert size == "21px"  # the portal's own CSS (9px buttons) does not reach the widget
    await shot(page, "widget-phone-larger-text")
    await page.keyboard.press("Escape")
    await expect(launcher).to_be_focused()
    await expect(launcher).to_have_attribute("aria-expanded", "false")
    # Reopening (or another page of the portal) shows the conversation so far, not a new greeting.
    await page.reload()
    await page.get_by_role("button", name="Hỏi đáp thủ tục").click()
    await expect(page.get_by_role("log")).to_contain_text("em cảm ơn Anh/Chị đã đánh giá")
    await expect(page.get_by_role("button", name="Chữ to")).to_have_attribute("aria-pressed", "true")
    assert problems == []
    await context.close()


async def test_the_chat_page_on_a_phone(browser, server: LiveServer) -> None:  # noqa: ANN001
    context = await browser.new_context(viewport=PHONE, locale="vi-VN")
    page = await context.new_page()
    await page.goto(server.url + "/")
    # Typed at once, while the greeting is still on its way: queued, not lost.
    await page.get_by_label("Câu hỏi của Anh/Chị").fill("giấy kết hôn")
    await page.keyboard.press("Enter")
    log = page.get_by_role("log")
    await expect(log.get_by_text("hai bên nam, nữ cùng có mặt")).to_be_visible()
    await expect(page.get_by_role("heading", name="Trợ lý ảo hướng dẫn thủ tục hành chính")).to_be_visible()
    await expect(log).to_contain_text("Hộ tịch")
    await page.get_by_role("button", name="Hộ tịch").click()
    await expect(page.get_by_role("button", name="Đăng ký kết hôn").last).to_be_visible()
    await page.get_by_role("button", name="Menu").first.click()
    await page.get_by_label("Câu hỏi của Anh/Chị").fill("thủ tục kết hôn cần gì")
    await page.get_by_role("button", name="Gửi", exact=True).click()
    answer = log.get_by_text("hai bên nam, nữ cùng có mặt").last
    await expect(answer).to_be_visible()
    await expect(answer).to_be_in_viewport()  # the conversation scrolled to the new answer
    # Nothing overflows sideways on a small screen.
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"]
    await shot(page, "chat-page-phone")
    await context.close()


async def test_a_phone_request_asks_for_the_number_in_the_input(browser, server: LiveServer,  # noqa: ANN001
                                                                 bot: BotApp) -> None:
    seen = asking_phone(bot)
    context = await browser.new_context(viewport=PHONE, locale="vi-VN")
    page = await context.new_page()
    await page.goto(server.url + "/")
    question = page.get_by_label("Câu hỏi của Anh/Chị")
    await expect(page.get_by_role("log")).to_contain_text("Hộ tịch")
    await question.fill(TRIGGER)
    await page.keyboard.press("Enter")
    await page.get_by_role("button", name="Chia sẻ số điện thoại").click()
    await expect(question).to_be_focused()
    await expect(question).to_have_attribute("inputmode", "tel")
    await expect(question).to_have_attribute("placeholder", "Gõ số điện thoại của Anh/Chị, ví dụ 0912 345 678")
    await page.keyboard.type("0912 345 678")
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("log")).to_contain_text("0912 345 678")
    await expect(question).not_to_have_attribute("inputmode", "tel")  # back to questions
    await eventually(lambda: seen[-1].text == "0912 345 678", what="the typed number at the core")
    assert seen[-1].contact is None
    await context.close()


async def _login(page, url: str, password: str = PASSWORD) -> None:  # noqa: ANN001
    await page.goto(url + "/admin/login")
    await page.get_by_label("Tên đăng nhập").fill("canbo")
    await page.get_by_label("Mật khẩu").fill(password)
    await page.get_by_role("button", name="Đăng nhập").click()


async def test_login_and_a_failed_login(browser, server: LiveServer) -> None:  # noqa: ANN001
    context = await browser.new_context(viewport={"width": 1200, "height": 800}, locale="vi-VN")
    page = await context.new_page()
    await page.goto(server.url + "/admin/reports")
    await expect(page).to_have_url(server.url + "/admin/login?next=/admin/reports")
    await _login(page, server.url, "mat-khau-sai-roi")
    await expect(page.get_by_role("alert")).to_contain_text("tên đăng nhập hoặc mật khẩu chưa đúng")
    await expect(page.get_by_label("Tên đăng nhập")).to_have_value("canbo")
    await _login(page, server.url)
    await expect(page.get_by_role("heading", name="Tổng quan")).to_be_visible()
    await expect(page.get_by_role("navigation")).to_contain_text("Thông báo")
    await shot(page, "dashboard-home")
    cookies = {c["name"]: c for c in await context.cookies(server.url + "/admin")}
    assert cookies["cchc_admin"]["httpOnly"] and cookies["cchc_admin"]["sameSite"] == "Strict"
    await page.get_by_role("button", name="Đăng xuất").click()
    await expect(page.get_by_role("heading", name="Đăng nhập trang quản trị")).to_be_visible()
    await page.goto(server.url + "/admin")
    await expect(page.get_by_role("heading", name="Đăng nhập trang quản trị")).to_be_visible()
    await context.close()


async def test_compose_preview_confirm_and_follow_a_broadcast(browser, server: LiveServer,  # noqa: ANN001
                                                              bot: BotApp) -> None:
    await add_subscribers(bot.database, "telegram", ["101", "102", "103"])
    context = await browser.new_context(viewport={"width": 1200, "height": 900}, locale="vi-VN")
    page = await context.new_page()
    await _login(page, server.url)
    await page.get_by_role("navigation").get_by_role("link", name="Thông báo").click()
    await page.get_by_role("link", name="Soạn thông báo mới").click()
    await page.get_by_label("Nội dung").fill("Dạ, UBND xã **tạm dừng tiếp dân** chiều thứ Sáu.\n"
                                             "Anh/Chị cần gấp xin gọi {{ office.hotline }}.")
    await page.get_by_label("Zalo").uncheck()
    await page.get_by_label("Messenger").uncheck()
    await page.get_by_label("Khẩn").check()  # outside quiet hours whatever the time of the test
    await page.get_by_role("button", name="Xem trước").click()
    preview = page.get_by_role("region", name="Xem trước: người dân sẽ nhận được")
    await expect(preview.get_by_role("heading", name="Xem trước")).to_be_focused()  # taken to it
    telegram = preview.locator("figure.telegram")
    await expect(telegram.locator("b", has_text="tạm dừng tiếp dân")).to_be_visible()
    await expect(telegram).to_contain_text(bot.settings.office.hotline)
    await expect(preview).to_contain_text("Telegram 3")  # the recipients now
    await shot(page, "dashboard-broadcast-preview")
    await page.get_by_role("button", name="Xác nhận gửi thông báo").click()
    await expect(page.get_by_role("status").first).to_contain_text("đã ghi nhận thông báo")
    status = page.locator('[data-field="status_label"]')
    await expect(status).to_have_text("chờ gửi")
    async with bot.database.session() as session:
        [row] = (await session.exec(select(Broadcast))).all()
    assert row.channels == ["telegram"] and row.urgent and row.author == "dashboard:canbo"

    # The real sender works the outbox; the page follows it without being reloaded.
    channel = RecordingChannel("telegram")
    channel.gate = asyncio.Event()
    sender = Sender(bot.database, bot.settings, [channel])
    running = asyncio.create_task(sender.run())
    try:
        await expect(status).to_have_text("đang gửi", timeout=15_000)
        await expect(page.locator('[data-field="summary"]')).to_contain_text("0/3")
        channel.gate.set()
        await expect(status).to_have_text("đã gửi xong", timeout=15_000)
        await expect(page.locator('[data-field="summary"]')).to_contain_text("3/3 lượt gửi đã xong (100%)")
    finally:
        sender.stop()
        await running
    assert sorted(channel.received()) == ["101", "102", "103"]
    assert "tạm dừng tiếp dân" in channel.delivered[0][1]
    await shot(page, "dashboard-broadcast-done")
    await context.close()


async def test_reply_to_a_ticket(browser, server: LiveServer, bot: BotApp) -> None:  # noqa: ANN001
    from handlers.feedback.service import create_ticket

    [user_id] = await add_subscribers(bot.database, "telegram", ["555"])
    channel = RecordingChannel("telegram")
    bot.channels = {"telegram": channel}  # the running channels, as serve() sets them
    async with bot.database.session() as session:
        user = await session.get(ChannelUser, user_id)
        ticket = await create_ticket(session, bot.settings, channel="telegram", channel_user_id=user_id,
                                     user_key=user.user_key, subject="can_bo",
                                     content="Dạ, cán bộ một cửa hẹn tôi 3 lần chưa trả hồ sơ.")
        await session.commit()  # a turn commits what it filed
    context = await browser.new_context(viewport=PHONE, locale="vi-VN")
    page = await context.new_page()
    await _login(page, server.url)
    await page.get_by_role("link", name="Phản ánh").first.click()
    await page.get_by_role("link", name=ticket.number).click()
    await expect(page.get_by_role("heading", name=f"Phản ánh {ticket.number}")).to_be_visible()
    reply = page.get_by_label("Câu trả lời")
    await reply.fill("Dạ, UBND xã đã kiểm tra; hồ sơ của Anh/Chị sẽ được trả vào sáng thứ Hai ạ.")
    await shot(page, "dashboard-ticket-phone")
    await page.get_by_role("button", name="Gửi câu trả lời").click()
    await expect(page.get_by_role("status")).to_contain_text("đang gửi tới người dân")
    await expect(page.locator("article.reply")).to_contain_text("sáng thứ Hai")
    # the sender delivers what the reply queued, after its commit, as ``cchc-bot run`` does
    sender = Sender(bot.database, bot.settings, [channel], after_sent=bot.outbox_effects)
    await sender.run_until_idle()
    await sender.lease.release()
    assert [pid for pid, _ in channel.delivered] == ["555"]
    assert "Trả lời phản ánh " + ticket.number in channel.delivered[0][1]
    async with bot.database.session() as session:
        [message] = (await session.exec(select(TicketMessage))).all()
    assert message.delivery == "sent"
    await context.close()


async def test_download_a_report(browser, server: LiveServer, bot: BotApp, tmp_path: Path) -> None:  # noqa: ANN001
    for text in ("khai sinh", "thủ tục kết hôn", "lệ phí khai sinh", "bán xe máy cũ"):
        await bot.handle(Incoming("web", "citizen-7", text=text))
    context = await browser.new_context(viewport={"width": 1200, "height": 900}, locale="vi-VN",
                                        accept_downloads=True)
    page = await context.new_page()
    await _login(page, server.url)
    await page.get_by_role("navigation").get_by_role("link", name="Báo cáo").click()
    await expect(page.get_by_role("img", name="Số câu hỏi theo ngày")).to_be_visible()
    await expect(page.get_by_role("heading", name="I. HƯỚNG DẪN, GIẢI ĐÁP THỦ TỤC HÀNH CHÍNH")).to_be_visible()
    await shot(page, "dashboard-reports")
    async with page.expect_download() as info:
        await page.get_by_role("link", name="Excel (.xlsx)").click()
    download = await info.value
    assert download.suggested_filename.startswith("bao-cao-") and download.suggested_filename.endswith(".xlsx")
    path = tmp_path / download.suggested_filename
    await download.save_as(path)
    book = load_workbook(io.BytesIO(path.read_bytes()))
    cells = [str(c.value) for row in book["Báo cáo"].iter_rows() for c in row if c.value is not None]
    assert any("Trả lời được ngay" in c for c in cells)
    async with page.expect_download() as info:
        await page.get_by_role("link", name="CSV").click()
    csv_path = tmp_path / "report.csv"
    await (await info.value).save_as(csv_path)
    assert csv_path.read_text(encoding="utf-8-sig").startswith("BÁO CÁO KẾT QUẢ")
    await context.close()


async def test_icons_are_drawn_not_left_to_an_emoji_font(browser, server: LiveServer) -> None:  # noqa: ANN001
    """Kiosks and older office PCs have no emoji font: every pictograph the chat shows (buttons,
    answers, the citizen's own button presses) is an inline SVG icon, hidden from screen readers."""
    context = await browser.new_context(locale="vi-VN")
    page = await context.new_page()
    await page.goto(server.url + "/")
    log = page.get_by_role("log")
    await page.get_by_label("Câu hỏi của Anh/Chị").fill("thủ tục kết hôn cần gì")
    await page.keyboard.press("Enter")
    helpful = page.get_by_role("button", name="Hữu ích", exact=True).last
    await expect(helpful).to_be_visible()
    await expect(helpful.locator("svg[data-icon=up]")).to_have_attribute("aria-hidden", "true")
    await page.get_by_role("button", name="Menu", exact=True).first.click()  # shown as "☰ Menu" sent
    await expect(log.locator(".me svg[data-icon=menu]").last).to_be_visible()
    left = await page.evaluate("""() => {
        const root = document.getElementById('cchc-chat-widget').shadowRoot;
        const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
        const found = [];
        while (walker.nextNode()) {
            const node = walker.currentNode;
            if (node.parentNode.nodeName !== 'STYLE' && /\\p{Extended_Pictographic}|[\\u2630\\u2715]/u.test(node.nodeValue))
                found.push(node.nodeValue);
        }
        return found;
    }""")
    assert left == []
    icons = await page.evaluate(
        "[...document.getElementById('cchc-chat-widget').shadowRoot.querySelectorAll('svg.icon')]"
        ".map(s => s.dataset.icon)")
    assert {"menu", "up", "down"} <= set(icons) and "dot" not in icons
    await shot(page, "chat-icons")
    await context.close()
