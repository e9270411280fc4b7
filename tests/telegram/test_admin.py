"""Officials on Telegram: /broadcast, /stats, /reload; and everyone else being refused."""

from __future__ import annotations

import shutil
from pathlib import Path

from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from handlers.announcements import service
from bot.channels.telegram_render import render
from bot.config import Office
from bot.content import revisions
from bot.storage.db import sync_url
from bot.storage.models import AuditEvent, Broadcast, ChannelUser, QuestionLog, Subscription
from handlers.announcements.compose import announcement
from tests.telegram.conftest import ADMIN_ID, FIXTURE, Harness, rows, running
from fakes.telegram import FakeBotApi, parse_html


async def compose(tg: Harness, admin: dict, body: str) -> list:
    """/broadcast, choose the only topic, write ``body``: returns intro, preview and confirm."""
    [topics] = await tg.say(admin, "/broadcast")
    assert topics.callbacks == ["bc:topic:thong-bao-chung", "bc:cancel"]
    [ask] = await tg.press(admin, topics, "bc:topic:thong-bao-chung")
    assert "Thông báo chung" in ask.text and ask.callbacks == ["bc:cancel"]
    return await tg.say(admin, body, count=3)


async def test_broadcast_preview_then_confirm_schedules_it(tg: Harness, admin: dict) -> None:
    body = "Bộ phận Một cửa **nghỉ làm việc** thứ Bảy 30/4. Liên hệ {{ office.hotline }} <khẩn> & gấp."
    intro, preview, confirm = await compose(tg, admin, body)
    assert intro.text == "Dạ, đây là bản xem trước, đúng như người dân sẽ nhận được:"
    # the preview is exactly the message citizens will get: same renderer, same HTML
    office = tg.app.settings.office
    values = office.template_values()
    topic = tg.app.content.current.pack.topics[0]
    [expected] = await render(announcement(topic, body, values), tg.channel._store_payload)
    assert preview.html == expected.html
    assert preview.text == (f"📢 Thông báo chung\n\nBộ phận Một cửa nghỉ làm việc thứ Bảy 30/4. "
                            f"Liên hệ {office.hotline} <khẩn> & gấp.")
    assert preview.styled() == ["Thông báo chung", "nghỉ làm việc"]
    assert confirm.callbacks == ["bc:confirm", "bc:cancel"]
    assert rows(tg.database_url, Broadcast) == []  # nothing recorded before confirming
    [done] = await tg.press(admin, confirm, "bc:confirm")
    assert "đã ghi nhận thông báo số" in done.text and "/stats" in done.text
    assert ("em bắt đầu gửi ngay" in done.text) != ("giờ yên lặng" in done.text)  # day or night
    [draft] = rows(tg.database_url, Broadcast)
    assert draft["status"] == "scheduled" and draft["topic"] == "thong-bao-chung"  # the sender's now
    # what the sender will send for this row is what the official saw
    [sent_later] = await render(service.announcement_reply(draft["body"], values), tg.channel._store_payload)
    assert sent_later.html == preview.html
    assert draft["author"] == f"telegram:{tg.app.user_key('telegram', str(ADMIN_ID))}"
    assert set(draft["channels"]) == {"telegram", "zalo", "messenger"}
    audit = [(a["action"], a["allowed"]) for a in rows(tg.database_url, AuditEvent)]
    assert audit == [("broadcast.start", True), ("broadcast.confirm", True)]
    # the old confirm button cannot record it twice
    [stale] = await tg.press(admin, confirm, "bc:confirm")
    assert "không còn đang soạn" in stale.text
    assert len(rows(tg.database_url, Broadcast)) == 1


async def test_broadcast_can_be_corrected_and_cancelled(polling: Harness, admin: dict) -> None:
    _, first, _ = await compose(polling, admin, "Lịch tiếp dân thay đổi")
    assert first.text.endswith("Lịch tiếp dân thay đổi")
    _, second, confirm = await polling.say(admin, "Lịch tiếp dân thứ Năm thay đổi", count=3)
    assert second.text.endswith("Lịch tiếp dân thứ Năm thay đổi")
    [cancelled] = await polling.press(admin, confirm, "bc:cancel")
    assert cancelled.text == "Dạ, em đã hủy thông báo đang soạn, chưa có gì được gửi đi ạ."
    assert rows(polling.database_url, Broadcast) == []
    # out of the flow, text is a question again
    [answer] = await polling.say(admin, "thủ tục kết hôn")
    assert "mang giấy tờ tùy thân" in answer.text


async def test_broadcast_text_can_be_cancelled_by_typing(polling: Harness, admin: dict) -> None:
    [topics] = await polling.say(admin, "/broadcast")
    await polling.press(admin, topics, "bc:topic:thong-bao-chung")
    [cancelled] = await polling.say(admin, "Hủy")
    assert "đã hủy thông báo" in cancelled.text


async def test_non_admin_is_refused_and_audited(polling: Harness, citizen: dict) -> None:
    for command in ("/stats", "/broadcast", "/reload"):
        [refusal] = await polling.say(citizen, command)
        assert refusal.text.startswith("Dạ, chức năng này chỉ dành cho cán bộ quản trị"), command
        assert refusal.callbacks == ["menu"]
    audit = rows(polling.database_url, AuditEvent)
    assert [(a["action"], a["allowed"]) for a in audit] == [
        ("stats", False), ("broadcast", False), ("reload", False)]
    assert {a["user_key"] for a in audit} == {polling.app.user_key("telegram", str(citizen["id"]))}
    assert rows(polling.database_url, Broadcast) == []


async def test_stats_for_today(polling: Harness, admin: dict, citizen: dict) -> None:
    await polling.say(citizen, "thủ tục kết hôn")  # answered
    await polling.say(citizen, "đăng ký")  # did you mean
    await polling.say(citizen, "bán cho tôi một chiếc xe máy cũ giá rẻ")  # not sure
    engine = create_engine(sync_url(polling.database_url))
    with Session(engine) as session:
        user_id = next(u["id"] for u in rows(polling.database_url, ChannelUser)
                       if u["platform_id"] == str(citizen["id"]))
        session.add(Subscription(channel_user_id=user_id, topic="thong-bao-chung"))
        session.commit()
    engine.dispose()
    [report] = await polling.say(admin, "/stats")
    lines = report.text.splitlines()
    assert lines[0].startswith("Thống kê hôm nay (")
    assert "• Câu hỏi của người dân: 3" in lines
    assert "• Trả lời được ngay: 1" in lines
    assert "• Hỏi lại “Có phải…?”: 1" in lines
    assert "• Chưa trả lời được: 1" in lines
    assert "Người đăng ký nhận thông báo: 1" in lines
    assert "• Thông báo chung: 1" in lines
    assert ("stats", True) in [(a["action"], a["allowed"]) for a in rows(polling.database_url, AuditEvent)]
    assert len(rows(polling.database_url, QuestionLog)) == 3  # /stats itself is not a question


async def test_anyone_in_the_officials_group_is_an_official(database_url: str, fake: FakeBotApi,
                                                            citizen: dict, admin: dict) -> None:
    group = fake.add_group(-1001234567890, "Cán bộ một cửa")
    clerk = fake.add_user(3003, "Văn thư")
    async with running(database_url, fake, admin_chat_id=group["id"]) as tg:
        assert "chat:-1001234567890" in fake.commands
        [report] = await tg.say(clerk, "/stats", chat=group)
        assert report.text.startswith("Thống kê hôm nay")
        # a command for another bot, and chatter not addressed to the bot, are left alone
        fake.text(clerk, "/stats@other_bot", chat=group)
        fake.text(clerk, "mọi người họp lúc 2 giờ nhé", chat=group)
        [again] = await tg.say(clerk, f"/stats@{fake.username}", chat=group)
        assert again.text.startswith("Thống kê hôm nay")
        assert len(fake.to(group["id"])) == 2
        # a reply to the bot's message is for the bot, even without a command
        before = len(fake.to(group["id"]))
        fake.text(clerk, "cảm ơn em", chat=group, reply_to=again)
        [thanks] = await fake.replies(group["id"], 1, after=before)
        assert thanks.text.startswith("Dạ, không có gì ạ")
        # privately, the same clerk is a citizen
        [refusal] = await tg.say(clerk, "/stats")
        assert "chỉ dành cho cán bộ" in refusal.text


async def test_reload_reports_errors_and_keeps_the_old_content(
    database_url: str, fake: FakeBotApi, admin: dict, tmp_path: Path
) -> None:
    """/reload takes the files edited on disk in as a content revision, as the dashboard's button
    does: refused (no revision) while they have errors, then served at once."""
    content = tmp_path / "content"
    shutil.copytree(FIXTURE, content)
    async with running(database_url, fake, content=content) as tg:
        follower = revisions.follower(tg.app, tmp_path / "revisions" / "w")
        await follower.sync()  # as serve does at start: the files on disk are revision 1
        assert follower.loaded == 1
        entry = content / "faq" / "ket-hon.md"
        good = entry.read_text(encoding="utf-8")
        entry.write_text(good.replace("category: ho-tich", "category: ho-tich\nbogus_key: 1"), encoding="utf-8")
        [report] = await tg.say(admin, "/reload")
        assert "vẫn dùng nội dung cũ" in report.text and "(4 câu hỏi)" in report.text
        assert "• content/faq/ket-hon.md:12: trường 'bogus_key' không được hỗ trợ" in report.text
        [answer] = await tg.say(admin, "thủ tục kết hôn")  # still answered from the last good content
        assert "mang giấy tờ tùy thân" in answer.text
        entry.write_text(good.replace("mang giấy tờ tùy thân", "mang căn cước"), encoding="utf-8")
        [ok] = await tg.say(admin, "/reload")
        assert ok.text.startswith("Dạ, em đã nạp lại nội dung: 4 câu hỏi")
        [answer] = await tg.say(admin, "thủ tục kết hôn")
        assert "mang căn cước" in answer.text
        audit = [(a["action"], a["detail"]["ok"]) for a in rows(database_url, AuditEvent)]
        assert audit == [("reload", False), ("reload", True)]
        history = await revisions.history(tg.app.database)
        assert [(r.kind, r.paths) for r in history] == [("files", ["faq/ket-hon.md"]), ("seed", history[1].paths)]
        assert follower.loaded == history[0].id  # served from the revision, not from the disk
        assert "mang căn cước" in (await revisions.current_texts(tg.app.database))["faq/ket-hon.md"]


async def test_html_in_office_facts_and_official_text_is_escaped(
    database_url: str, fake: FakeBotApi, admin: dict, citizen: dict
) -> None:
    office = Office(name='UBND xã <b>Hòa</b> & "Bình"', hotline="0237 <3> 456")
    async with running(database_url, fake, office=office) as tg:
        [menu] = await tg.say(citizen, "/start")
        assert 'trợ lý ảo của UBND xã <b>Hòa</b> & "Bình"' in menu.text
        assert not any(e["type"] == "bold" for e in menu.entities)
        assert "&lt;b&gt;Hòa&lt;/b&gt; &amp;" in (menu.html or "")
        _, preview, _ = await compose(tg, admin, "<script>alert(1)</script> **đậm** [x](javascript:alert(1))")
        assert preview.text == "📢 Thông báo chung\n\n<script>alert(1)</script> đậm [x](javascript:alert(1))"
        assert not any(e["type"] == "text_link" for e in preview.entities)
        parse_html(preview.html or "")  # well-formed: the fake accepted it, and so does its parser


async def test_broadcast_too_long_for_a_platform_is_caught_at_preview(polling: Harness, admin: dict) -> None:
    [topics] = await polling.say(admin, "/broadcast")
    await polling.press(admin, topics, "bc:topic:thong-bao-chung")
    [refused] = await polling.say(admin, "Thông báo dài. " * 150)  # 2,250 characters: over Zalo's 2,000
    assert "vượt giới hạn 2000 ký tự của Zalo" in refused.text and refused.callbacks == ["bc:cancel"]
    _, preview, _ = await polling.say(admin, "Thông báo ngắn gọn.", count=3)  # still composing
    assert preview.text.endswith("Thông báo ngắn gọn.")
