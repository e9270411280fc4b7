"""The content editor in a real Chromium against the bot's real server and database: an editor
publishes an edit and a citizen gets the new answer in the web chat; an invalid edit is refused
with the error at its field; an old revision restored; an unanswered question added as an alias
and then answered; a concurrent edit refused. Keyboard and labels as a screen reader sees them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.app import BotApp
from bot.root import build_app
from bot.content import revisions
from bot.storage.models import QuestionLog
from tests.test_web_browser import browser, database_url, expect, shot  # noqa: F401 - fixtures
from tests.web_support import PASSWORD, LiveServer, add_user, web_settings

DESKTOP = {"width": 1200, "height": 900}


@pytest.fixture
async def bot(database_url: str, tmp_path: Path) -> AsyncIterator[BotApp]:  # noqa: F811
    app = build_app(web_settings(database_url))
    revisions.follower(app, tmp_path / "revisions" / "w")
    await add_user(app, "bientap", "editor")
    await add_user(app, "bientap2", "editor")
    yield app
    await app.close()


@pytest.fixture
async def server(bot: BotApp) -> AsyncIterator[LiveServer]:
    live = await LiveServer.start(bot)
    yield live
    await live.stop()


async def editor_page(browser, server: LiveServer, username: str = "bientap"):  # noqa: ANN001, ANN201, F811
    context = await browser.new_context(viewport=DESKTOP, locale="vi-VN")
    page = await context.new_page()
    page.on("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))  # "are you sure?" confirmations
    await page.goto(server.url + "/admin/login")
    await page.get_by_label("Tên đăng nhập").fill(username)
    await page.get_by_label("Mật khẩu").fill(PASSWORD)
    await page.get_by_role("button", name="Đăng nhập").click()
    await expect(page.get_by_role("heading", name="Tổng quan")).to_be_visible()
    return context, page


async def ask_in_the_chat(browser, server: LiveServer, question: str):  # noqa: ANN001, ANN201, F811
    context = await browser.new_context(viewport={"width": 390, "height": 844}, locale="vi-VN")
    page = await context.new_page()
    await page.goto(server.url + "/")
    await page.get_by_label("Câu hỏi của Anh/Chị").fill(question)
    await page.keyboard.press("Enter")
    return context, page.get_by_role("log")


async def test_edit_publish_and_the_web_chat_answers_with_it(browser, server: LiveServer) -> None:  # noqa: ANN001, F811
    context, page = await editor_page(browser, server)
    await page.get_by_role("navigation").get_by_role("link", name="Sửa nội dung").click()
    await page.get_by_label("Tìm theo mã, tiêu đề, danh mục").fill("ket hon")
    await page.keyboard.press("Enter")
    await page.get_by_role("link", name="Đăng ký kết hôn cần những gì?").click()
    body = page.get_by_label("Câu trả lời", exact=False)
    await body.fill("Dạ, hai bên nam, nữ cùng có mặt tại {{ office.name }}, mang **căn cước** và tờ khai.")
    await expect(page.locator("#body-count")).to_contain_text("ký tự")
    await page.get_by_role("button", name="Kiểm tra và xem trước").click()
    preview = page.get_by_role("heading", name="Kết quả kiểm tra")
    await expect(preview).to_be_focused()  # keyboard and screen-reader users are taken to the result
    await expect(page.locator(".phone.telegram")).to_contain_text("mang căn cước và tờ khai")
    await expect(page.locator(".phone.telegram b").first).to_have_text("Đăng ký kết hôn cần những gì?")
    await expect(page.locator(".phone.zalo")).to_contain_text("UBND xã/phường")  # the placeholder filled
    await expect(page.get_by_text("Zalo:", exact=False)).to_contain_text("giới hạn 2.000")
    await shot(page, "editor-preview")
    await page.get_by_label("Lý do sửa", exact=False).fill("Thêm căn cước")
    await page.get_by_role("button", name="Đưa lên").click()
    await expect(page.get_by_role("status")).to_contain_text("Đã đưa lên")
    chat, log = await ask_in_the_chat(browser, server, "thủ tục kết hôn")
    await expect(log.get_by_text("mang căn cước và tờ khai")).to_be_visible()
    await chat.close()
    await page.goto(server.url + "/admin/revisions")
    await page.get_by_role("link", name="#2").click()
    await expect(page.locator("pre.diff .add").last).to_contain_text("mang **căn cước** và tờ khai")
    await context.close()


async def test_an_invalid_edit_is_refused_with_the_error_at_the_field(browser, server: LiveServer,  # noqa: ANN001, F811
                                                                     bot: BotApp) -> None:
    context, page = await editor_page(browser, server)
    await page.goto(server.url + "/admin/entries/khai-sinh")
    await page.get_by_label("Mục liên quan", exact=False).fill("khai-sinh-le-phi\nmuc-khong-co")
    await page.get_by_label("Lý do sửa", exact=False).fill("thử")
    await page.get_by_role("button", name="Đưa lên").click()
    related = page.get_by_label("Mục liên quan", exact=False)
    await expect(related).to_have_attribute("aria-invalid", "true")
    await expect(page.locator("#err-related")).to_contain_text("muc-khong-co")
    await expect(page.get_by_role("alert").first).to_contain_text("chưa đưa lên được")
    assert await related.evaluate("el => el.getAttribute('aria-describedby')") == "err-related"
    await shot(page, "editor-error-at-field")
    assert bot.content.current.pack.entries["khai-sinh"].related == ("khai-sinh-le-phi",)
    await context.close()


async def test_restore_an_old_revision(browser, server: LiveServer, bot: BotApp) -> None:  # noqa: ANN001, F811
    context, page = await editor_page(browser, server)
    await page.goto(server.url + "/admin/entries/ket-hon")
    await page.get_by_label("Câu hỏi chính (tiêu đề)").fill("Kết hôn: hồ sơ gồm gì?")
    await page.get_by_label("Lý do sửa", exact=False).fill("tiêu đề ngắn")
    await page.get_by_role("button", name="Đưa lên").click()
    await expect(page.get_by_role("status")).to_contain_text("Đã đưa lên")
    assert bot.content.current.pack.entries["ket-hon"].title == "Kết hôn: hồ sơ gồm gì?"
    await page.get_by_role("link", name="Lịch sử của mục này").click()
    await page.get_by_role("link", name="#1", exact=True).click()
    await page.get_by_role("button", name="Khôi phục nội dung như sau bản #1").click()
    await expect(page.get_by_role("status")).to_contain_text("Đã khôi phục")
    assert bot.content.current.pack.entries["ket-hon"].title == "Đăng ký kết hôn cần những gì?"
    await context.close()


async def test_an_unanswered_question_becomes_an_alias_and_is_answered(browser, server: LiveServer,  # noqa: ANN001, F811
                                                                      bot: BotApp) -> None:
    question = "làm giấy cưới hỏi ở xã"
    async with bot.database.session() as session:
        for _ in range(2):
            session.add(QuestionLog(channel="web", user_key="u", text=question, outcome="not_sure", latency_ms=1))
        await session.commit()
    context, page = await editor_page(browser, server)
    await page.get_by_role("navigation").get_by_role("link", name="Câu hỏi chưa trả lời").click()
    group = page.get_by_role("region", name=question, exact=False)
    await expect(group.get_by_role("checkbox", name=question)).to_be_checked()
    await group.get_by_label("Thêm vào mục").fill("ket-hon")
    await group.get_by_role("button", name="Thêm làm cách hỏi").click()
    await expect(page.get_by_role("heading", name="Bây giờ bot trả lời")).to_be_visible()
    await expect(page.get_by_role("row", name=question, exact=False)).to_contain_text("ket-hon")
    chat, log = await ask_in_the_chat(browser, server, question)
    await expect(log.get_by_text("hai bên nam, nữ cùng có mặt")).to_be_visible()
    await chat.close()
    await context.close()


async def test_a_concurrent_edit_is_refused(browser, server: LiveServer, bot: BotApp) -> None:  # noqa: ANN001, F811
    first, lan = await editor_page(browser, server, "bientap")
    second, minh = await editor_page(browser, server, "bientap2")
    for page in (lan, minh):
        await page.goto(server.url + "/admin/entries/ket-hon")
    await minh.get_by_label("Câu trả lời", exact=False).fill("Dạ, hai bên cùng đến {{ office.name }} (bản của Minh).")
    await minh.get_by_label("Lý do sửa", exact=False).fill("Minh sửa")
    await minh.get_by_role("button", name="Đưa lên").click()
    await expect(minh.get_by_role("status")).to_contain_text("Đã đưa lên")
    await lan.get_by_label("Câu hỏi chính (tiêu đề)").fill("Kết hôn (bản của Lan)")
    await lan.get_by_label("Lý do sửa", exact=False).fill("Lan sửa")
    await lan.get_by_role("button", name="Đưa lên").click()
    refused = lan.get_by_role("alert").filter(has_text="vừa được dashboard:bientap2 sửa")
    await expect(refused).to_be_visible()
    await expect(refused.locator("pre.diff .add")).to_contain_text("(bản của Minh)")
    await expect(lan.get_by_label("Câu hỏi chính (tiêu đề)")).to_have_value("Kết hôn (bản của Lan)")
    await shot(lan, "editor-conflict")
    entry = bot.content.current.pack.entries["ket-hon"]
    assert "(bản của Minh)" in entry.body and entry.title == "Đăng ký kết hôn cần những gì?"
    await first.close()
    await second.close()
