"""What the bot sends on Messenger: rendering within Meta's limits, the 24-hour window and its
ACCOUNT_UPDATE exceptions, Graph's errors, broadcasts, and the page's profile."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlmodel import select

from bot.outbox.messages import enqueue
from bot.outbox.sender import Sender
from bot.ports import MESSENGER, push_windows
from handlers.announcements.service import audience, create_broadcast
from bot.channels.messenger_api import GraphResult, messaging_for, verdict
from bot.channels.messenger_render import MAX_TEMPLATE_TEXT, MAX_TEXT, render
from bot.channels.zalo_api import RateLimiter
from bot.cli import main
from bot.config import BUNDLED_CONTENT
from handlers.feedback.service import answer_ticket
from handlers.lookups.notices import send_status_notices
from bot.messages import Button, Reply
from bot.storage.models import BroadcastDelivery, ChannelUser, OutboxMessage, Subscription, Ticket, utcnow
from tests.broadcasting import add_subscribers
from fakes.local_server import RequestWindow
from tests.lookups_support import CODE, KEY, dossier_line, export, import_text
from tests.messenger.conftest import APP_SECRET, FIXTURE, PAGE_TOKEN, Rig
from fakes.messenger import GraphError

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
DAY = dt.timedelta(days=1)


async def known_user(rig: Rig, psid: str, *, ago: dt.timedelta | None = None) -> ChannelUser:
    """A citizen who wrote to the page (``ago``: that long ago, in our records and at Meta's)."""
    await rig.meta.text(psid, "xin chào")
    await rig.settle()
    rig.fake.sent.clear()
    if ago is not None:
        await rig.last_seen(psid, ago)
    async with rig.bot.database.session() as session:
        return (await session.exec(select(ChannelUser).where(ChannelUser.platform_id == psid))).one()


async def deliver(rig: Rig) -> None:
    """What was queued, delivered by the outbox's sender as ``cchc-bot run`` does."""
    sender = Sender(rig.bot.database, rig.bot.settings, [rig.channel], after_sent=rig.bot.outbox_effects)
    await sender.run_until_idle()
    await sender.lease.release()


# --- rendering ---------------------------------------------------------------------------


def paragraphs(count: int, size: int) -> str:
    return "\n\n".join(f"Đoạn {i}: " + "chữ " * (size // 4) for i in range(count))


def test_long_text_is_split_at_paragraphs_and_the_buttons_go_under_the_last_one() -> None:
    text = paragraphs(6, 700) + "\n\nCâu trả lời có hữu ích không ạ?"
    rendered = render([Reply(text, ((Button("👍 Hữu ích", payload="v:1"), Button("☰ Menu", payload="menu")),))])
    *parts, last = rendered.messages
    assert all(len(p["text"]) <= MAX_TEXT and p["text"].startswith("Đoạn") for p in parts)
    payload = last["attachment"]["payload"]
    assert payload["template_type"] == "button" and payload["text"] == "Câu trả lời có hữu ích không ạ?"
    assert len(payload["text"]) <= MAX_TEMPLATE_TEXT
    joined = "\n\n".join([*(p["text"] for p in parts), payload["text"]])
    assert joined == text  # nothing lost, nothing repeated


def test_long_lists_become_numbers_and_links_become_lines() -> None:
    buttons = tuple((Button(f"Mục {i}", payload=f"faq:m{i}"),) for i in range(15))
    links = ((Button("Hướng dẫn", url="https://example.gov.vn/hd"),),)
    [message] = render([Reply("Chọn mục", buttons + links)]).messages
    assert "quick_replies" not in message and "attachment" not in message
    assert "🔗 Hướng dẫn: https://example.gov.vn/hd" in message["text"]
    assert "1. Mục 0" in message["text"] and "15. Mục 14" in message["text"]
    assert render([Reply("Chọn mục", buttons)]).choices == [f"faq:m{i}" for i in range(15)]
    short = render([Reply("Chọn", buttons[:13])])
    assert len(short.messages[0]["quick_replies"]) == 13 and short.choices == []  # titles fit
    huge = render([Reply("Chọn", ((Button("A", payload="x" * 1001), Button("B", payload="b")),))])
    assert huge.choices == ["x" * 1001, "b"] and "quick_replies" not in huge.messages[0]


def test_the_24_hour_rule_and_its_two_exceptions() -> None:
    inside, outside = dt.timedelta(hours=23, minutes=59), dt.timedelta(hours=24, minutes=1)
    for kind in ("broadcast", "overdue_flag", "ticket_answer", "dossier_notice"):
        assert MESSENGER.may_push(kind, inside)
    assert not MESSENGER.may_push("broadcast", outside)
    assert not MESSENGER.may_push("overdue_flag", outside)
    for kind in ("ticket_answer", "dossier_notice"):  # the outbox's kinds, tagged ACCOUNT_UPDATE
        assert MESSENGER.may_push(kind, outside)
    assert messaging_for(inside_window=True) == {"messaging_type": "UPDATE"}
    assert messaging_for(inside_window=False) == {"messaging_type": "MESSAGE_TAG", "tag": "ACCOUNT_UPDATE"}


@pytest.mark.parametrize(("code", "subcode", "outcome"), [
    (551, 1545041, "blocked"), (10, 2018108, "blocked"), (100, 2018001, "blocked"),
    (10, 2018278, "ineligible"), (613, 0, "rate_limited"), (4, 0, "rate_limited"),
    (1200, 0, "retry"), (2, 0, "retry"), (190, 0, "token"), (100, 0, "failed"), (368, 0, "failed"),
    (200, 2018028, "failed"),
])
def test_graph_error_codes(code: int, subcode: int, outcome: str) -> None:
    assert verdict(GraphResult(400, {}, code, subcode, "x"))[0] == outcome


# --- against the fake Graph API ----------------------------------------------------------


async def test_inside_the_window_a_message_is_an_update(rig: Rig) -> None:
    await known_user(rig, "p-in", ago=dt.timedelta(hours=23))
    delivery = await rig.channel.send("p-in", [Reply("Dạ, lịch tiếp dân tuần này thay đổi.")])
    assert delivery.status == "sent" and delivery.message_id
    [sent] = rig.fake.messages_to("p-in")
    assert (sent.messaging_type, sent.tag) == ("UPDATE", None)


async def test_outside_the_window_a_broadcast_is_not_sent_and_meta_is_not_called(rig: Rig) -> None:
    await known_user(rig, "p-old", ago=dt.timedelta(hours=25))
    calls = len(rig.fake.calls)
    delivery = await rig.channel.send("p-old", [Reply("Thông báo lịch tiếp dân")])
    assert delivery.status == "ineligible" and delivery.error == "outside_window"
    never = await rig.channel.send("p-stranger", [Reply("Thông báo")], "ticket_answer")
    assert never.status == "ineligible" and never.error == "never_interacted"
    assert len(rig.fake.calls) == calls and rig.fake.sent == []


async def test_a_ticket_answer_outside_the_window_goes_as_account_update(rig: Rig) -> None:
    user = await known_user(rig, "p-ticket", ago=3 * DAY)
    ticket = Ticket(number="PA-2026-000001", year=2026, seq=1, channel="messenger",
                    channel_user_id=user.id, user_key=user.user_key, subject="khac", content="Hỏi",
                    deadline=utcnow() + 10 * DAY)
    async with rig.bot.database.session() as session:
        session.add(ticket)
        await session.flush()
        status, error = await answer_ticket(session, rig.bot.channels, "UBND xã", ticket,
                                            "Dạ, hồ sơ đã đủ.", "official")
        await session.commit()
    assert (status, error) == ("queued", None)
    await deliver(rig)  # through the outbox, as an answer of kind "ticket_answer"
    sent = rig.fake.messages_to("p-ticket")
    assert sent and "PA-2026-000001" in sent[0].text
    assert {(s.messaging_type, s.tag) for s in sent} == {("MESSAGE_TAG", "ACCOUNT_UPDATE")}
    async with rig.bot.database.session() as session:
        [row] = (await session.exec(select(OutboxMessage))).all()
    assert (row.kind, row.status) == ("ticket_answer", "sent")


async def test_a_dossier_notice_outside_the_window_goes_as_account_update(rig_factory, tmp_path: Path) -> None:
    rig = await rig_factory(content=BUNDLED_CONTENT)
    await import_text(rig.bot, tmp_path, export(dossier_line(status="Đang xử lý")))
    await rig.meta.text("p-dossier", CODE)
    await rig.settle()
    shown = rig.fake.messages_to("p-dossier")[-1]
    [watch] = [b for b in shown.buttons + shown.quick_replies if b["payload"] == f"dw:{KEY}"]
    await (rig.meta.postback if watch in shown.buttons else rig.meta.quick_reply)("p-dossier", watch)
    await rig.settle()
    assert "Messenger" in rig.fake.messages_to("p-dossier")[-1].text  # "we will tell you on Messenger"
    await rig.last_seen("p-dossier", 2 * DAY)
    await import_text(rig.bot, tmp_path, export(dossier_line(status="Đã có kết quả")))
    stats = await send_status_notices(rig.bot.database, rig.bot.channels, rig.bot.settings)
    assert stats.queued == 1
    await deliver(rig)
    notice = rig.fake.messages_to("p-dossier")[-1]
    assert CODE in notice.text and "Đã có kết quả" in notice.text
    assert (notice.messaging_type, notice.tag) == ("MESSAGE_TAG", "ACCOUNT_UPDATE")


async def test_meta_saying_outside_the_window_is_ineligible_and_not_retried(rig: Rig) -> None:
    await known_user(rig, "p-drift")
    rig.fake.wrote("p-drift", at=(utcnow() - 2 * DAY).timestamp())  # Meta knows better than we do
    calls = len(rig.fake.calls)
    delivery = await rig.channel.send("p-drift", [Reply("Thông báo")])
    assert delivery.status == "ineligible" and "2018278" in (delivery.error or "")
    assert len(rig.fake.calls) == calls + 1


async def test_a_blocked_user_is_marked_unreachable_and_unsubscribed_by_the_core(rig: Rig) -> None:
    user = await known_user(rig, "p-blocked")
    async with rig.bot.database.session() as session:
        session.add(Subscription(channel_user_id=user.id, topic="thong-bao-chung", consent_at=utcnow()))
        await session.commit()
    rig.fake.block("p-blocked")
    delivery = await rig.channel.send("p-blocked", [Reply("Thông báo")])
    assert delivery.status == "blocked" and "551" in (delivery.error or "")
    async with rig.bot.database.session() as session:
        row = await session.get(ChannelUser, user.id)
    assert row is not None and row.reachable  # the adapter only reports it; the core decides
    async with rig.bot.database.session() as session:
        enqueue(session, "ticket_answer", "messenger", "p-blocked", [Reply("📬 Trả lời phản ánh")])
        await session.commit()
    await deliver(rig)
    async with rig.bot.database.session() as session:
        row = await session.get(ChannelUser, user.id)
        [sub] = (await session.exec(select(Subscription))).all()
        [queued] = (await session.exec(select(OutboxMessage))).all()
    assert queued.status == "blocked"
    assert row is not None and not row.reachable and row.unreachable_reason == "blocked"
    assert sub.unsubscribed_at is not None
    calls = len(rig.fake.calls)
    again = await rig.channel.send("p-blocked", [Reply("Thông báo")])
    assert again.status == "ineligible" and len(rig.fake.calls) == calls  # never asked again


async def test_a_reply_that_meta_refuses_for_a_blocked_user_marks_them_too(rig: Rig) -> None:
    await known_user(rig, "p-gone")
    rig.fake.block("p-gone")  # blocked the page while their message was on its way
    await rig.meta.text("p-gone", "ket hon")
    await rig.settle()
    assert (551, 1545041) in rig.fake.refused and rig.fake.messages_to("p-gone") == []
    async with rig.bot.database.session() as session:
        row = (await session.exec(select(ChannelUser).where(ChannelUser.platform_id == "p-gone"))).one()
    assert not row.reachable


async def test_rate_limits_pause_sending_a_reply_waits_a_broadcast_is_handed_back(rig: Rig) -> None:
    await known_user(rig, "p-rate")
    rig.fake.fail_next = [GraphError(613, "Calls to this api have exceeded the rate limit.")]
    delivery = await rig.channel.send("p-rate", [Reply("Thông báo")])
    assert delivery.status == "retry" and delivery.retry_after and delivery.retry_after > 0
    assert rig.channel.health()["rate_limit_pause_s"] > 0
    rig.fake.fail_next = [GraphError(613, "Calls to this api have exceeded the rate limit.")]
    await rig.meta.text("p-rate", "ket hon")  # a citizen's question waits out the pause instead
    await rig.settle()
    [answer] = rig.fake.messages_to("p-rate")
    assert "Đăng ký kết hôn" in answer.text


async def test_temporary_failures_are_retried_within_one_send(rig: Rig) -> None:
    await known_user(rig, "p-temp")
    rig.fake.fail_next = [GraphError(1200, "Temporary send message failure. Please try again later."),
                          GraphError(2, "An unexpected error has occurred. Please retry your request later.")]
    delivery = await rig.channel.send("p-temp", [Reply("Thông báo")])
    assert delivery.status == "sent" and len(rig.fake.messages_to("p-temp")) == 1


async def test_a_bad_token_fails_with_its_reason(rig: Rig, caplog) -> None:
    await known_user(rig, "p-token")
    rig.fake.page_token = "EAAB-rotated"
    delivery = await rig.channel.send("p-token", [Reply("Thông báo")])
    assert delivery.status == "failed" and "190" in (delivery.error or "")
    assert "Meta refused" in caplog.text


async def test_an_image_is_sent_as_file_data(rig: Rig) -> None:
    await known_user(rig, "p-image")
    delivery = await rig.channel.send("p-image", [Reply("Mã QR của xã", image=PNG)])
    assert delivery.status == "sent"
    image, caption = rig.fake.messages_to("p-image")
    assert image.image == PNG and image.message["attachment"]["type"] == "image"
    assert caption.text == "Mã QR của xã"


async def test_a_half_sent_reply_is_failed_not_retried(rig: Rig) -> None:
    await known_user(rig, "p-half")
    parts = paragraphs(5, 700)
    original = rig.fake._check_recipient
    seen = []

    def second_fails(psid, messaging_type, tag):  # noqa: ANN001, ANN202
        seen.append(psid)
        if len(seen) == 2:
            raise GraphError(100, "(#100) Invalid parameter")
        return original(psid, messaging_type, tag)

    rig.fake._check_recipient = second_fails  # type: ignore[method-assign]
    delivery = await rig.channel.send("p-half", [Reply(parts)])
    assert delivery.status == "failed" and "1/" in (delivery.error or "")


async def test_a_broadcast_reaches_those_inside_the_window_only(rig: Rig) -> None:
    database = rig.bot.database
    now = utcnow()
    await add_subscribers(database, "messenger", ["in-1", "in-2"], last_seen=now - dt.timedelta(hours=2))
    await add_subscribers(database, "messenger", ["out-1"], last_seen=now - dt.timedelta(hours=30))
    await add_subscribers(database, "messenger", ["blocked-1"], last_seen=now - dt.timedelta(hours=1))
    for psid in ("in-1", "in-2", "blocked-1"):
        rig.fake.wrote(psid, at=(now - dt.timedelta(hours=2)).timestamp())
    rig.fake.block("blocked-1")
    async with database.session() as session:
        everyone = await audience(session, "thong-bao-chung", ["messenger"])
        reachable = await audience(session, "thong-bao-chung", ["messenger"], now, push_windows())
        row = await create_broadcast(session, author="test", topic="thong-bao-chung",
                                     body="Dạ, xã tạm dừng tiếp dân chiều thứ Sáu.", channels=["messenger"],
                                     urgent=True)  # whatever the hour the test runs at
        await session.commit()
    assert (everyone, reachable) == ({"messenger": 4}, {"messenger": 3})  # the preview's two figures
    sender = Sender(database, rig.bot.settings, [rig.channel], holder="A")
    await sender.run_until_idle()
    async with database.session() as session:
        rows = (await session.exec(select(BroadcastDelivery).where(
            BroadcastDelivery.broadcast_id == row.id))).all()
        blocked = (await session.exec(select(ChannelUser).where(ChannelUser.platform_id == "blocked-1"))).one()
    outcome = {r.channel_user_id: (r.status, r.last_error) for r in rows}
    assert sorted(s for s, _ in outcome.values()) == ["blocked", "ineligible", "sent", "sent"]
    assert ("ineligible", "outside_window") in outcome.values()
    assert {s.psid for s in rig.fake.sent} == {"in-1", "in-2"}
    assert all(s.messaging_type == "UPDATE" and "xã tạm dừng" in s.text for s in rig.fake.sent)
    assert not blocked.reachable


# --- the page's profile ------------------------------------------------------------------


async def test_messenger_setup_sets_get_started_greeting_and_the_menu(rig: Rig, database_url: str) -> None:
    env = {"CCHC_CONFIG": None, "CCHC_DATABASE_URL": database_url, "CCHC_PSEUDONYM_SALT": "cli-test",
           "CCHC_OFFICE_NAME": "UBND xã Ngọc Liên", "CCHC_MESSENGER_API_BASE_URL": rig.fake.url,
           "CCHC_CONTENT_PATH": str(FIXTURE),
           "CCHC_MESSENGER_PAGE_TOKEN": PAGE_TOKEN, "CCHC_MESSENGER_APP_SECRET": APP_SECRET}
    result = await asyncio.to_thread(CliRunner().invoke, main, ["messenger", "setup"], env=env)
    assert result.exit_code == 0, result.output
    profile = rig.fake.profile
    assert profile["get_started"] == {"payload": "welcome"}
    [greeting] = profile["greeting"]
    assert "UBND xã Ngọc Liên" in greeting["text"] and len(greeting["text"]) <= 160
    [menu] = profile["persistent_menu"]
    items = menu["call_to_actions"]
    assert [(i["type"], i["payload"]) for i in items] == [
        ("postback", "menu"), ("postback", "cat:ho-tich"), ("postback", "cat:lien-he"),
        ("postback", "fb:start")]  # the main menu's categories, between Menu and feedback
    assert all(len(i["title"]) <= 30 for i in items)
    dry = await asyncio.to_thread(CliRunner().invoke, main, ["messenger", "setup", "--dry-run"], env=env)
    assert dry.exit_code == 0 and json.loads(dry.output)["persistent_menu"] == profile["persistent_menu"]
    env["CCHC_MESSENGER_PAGE_TOKEN"] = "EAAB-wrong"
    refused = await asyncio.to_thread(CliRunner().invoke, main, ["messenger", "setup"], env=env)
    assert refused.exit_code != 0 and "190" in refused.output


async def test_the_client_side_limiter_keeps_under_metas_limit(rig: Rig) -> None:
    await known_user(rig, "p-burst")
    rig.channel.limiter = RateLimiter(3, 0.4)
    rig.fake.window = RequestWindow(3, 0.3)
    started = time.monotonic()
    deliveries = await asyncio.gather(*(rig.channel.send("p-burst", [Reply(f"tin {i}")]) for i in range(7)))
    assert [d.status for d in deliveries] == ["sent"] * 7
    assert time.monotonic() - started >= 0.8  # 7 calls at 3 per 0.4 s
    assert (613, None) not in rig.fake.refused
