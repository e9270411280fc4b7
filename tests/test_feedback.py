"""Feedback tickets, officials' answers and satisfaction, through the core on a real database.

A recording channel implements the Channel protocol (bot/channels/__init__.py) the way the
Telegram and Zalo adapters do: ``send`` returns a Delivery with the platform's message id.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

import pytest
from sqlalchemy import create_engine, select, update

from bot.app import BotApp
from bot.root import build_app
from bot.ports import Delivery
from bot.config import Feedback, Telegram
from bot.phones import normalize_phone
from handlers.feedback.service import add_working_days, check_tickets, deadline_for
from bot.messages import Attachment, Incoming, Reply, Response
from bot.outbox.sender import Sender
from bot.storage.db import sync_url
from bot.storage.models import AuditEvent, QuestionLog, SatisfactionResponse, Ticket, TicketMessage
from tests.conftest import make_settings
from tests.test_conversation import FIXTURE, payloads, rows

OFFICIALS_CHAT = "-1005001"
OFFICIAL = "777"
NUMBER = re.compile(r"PA-(\d{4})-(\d{6})")


@dataclass
class RecordingChannel:
    """A channel that records what the bot sends and answers as the platform would."""

    name: str
    status: str = "sent"  # what the next sends return
    sent: list[tuple[str, list[Reply]]] = field(default_factory=list)

    def setup_routes(self, app) -> None:
        pass

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def send(self, platform_id: str, replies: list[Reply], kind: str = "broadcast") -> Delivery:
        self.sent.append((platform_id, list(replies)))
        if self.status != "sent":
            return Delivery(self.status, error="outside_window")  # type: ignore[arg-type]
        return Delivery("sent", message_id=f"{self.name}-msg-{len(self.sent)}")

    def to(self, platform_id: str) -> list[list[Reply]]:
        return [replies for pid, replies in self.sent if pid == platform_id]


@pytest.fixture
async def fbot(database_url: str):
    settings = make_settings(database_url, content=FIXTURE,
                             telegram=Telegram(admin_chat_id=int(OFFICIALS_CHAT)),
                             feedback=Feedback(answer_days=10))
    app = build_app(settings)
    app.channels = {"telegram": RecordingChannel("telegram"), "zalo": RecordingChannel("zalo")}
    yield app
    await app.close()


async def deliver(bot: BotApp) -> None:
    """What the turns and checks queued, delivered by the sender as ``cchc-bot run`` does."""
    sender = Sender(bot.database, bot.settings, bot.channels.values(), after_sent=bot.outbox_effects)
    await sender.run_until_idle()
    await sender.lease.release()


async def checked(bot: BotApp, now: dt.datetime) -> dict[str, int]:
    """The periodic check, and the delivery of what it queued."""
    done = await check_tickets(bot, now=now)
    await deliver(bot)
    return done


async def say(bot: BotApp, channel: str, user: str, text: str = "", payload: str | None = None,
              **extra: object) -> Response:
    response = await bot.handle(Incoming(channel, user, text=text, payload=payload, **extra))  # type: ignore[arg-type]
    await deliver(bot)
    return response


async def official(bot: BotApp, text: str = "", payload: str | None = None,
                   reply_to: str | None = None) -> Response:
    response = await bot.handle(Incoming("telegram", OFFICIAL, text=text, payload=payload,
                                         chat_id=OFFICIALS_CHAT, reply_to=reply_to))
    await deliver(bot)
    return response


def text_of(response: Response) -> str:
    return "\n".join(r.text for r in response.replies)


def one(url: str, model) -> dict:
    [row] = rows(url, model)
    return dict(row)


async def file_ticket(bot: BotApp, channel: str, user: str, *, phone: str | None = None) -> str:
    """The citizen's whole conversation up to the ticket number."""
    assert (await say(bot, channel, user, "/phananh")).outcome == "feedback"
    await say(bot, channel, user, payload="fb:s:thu_tuc")
    await say(bot, channel, user, "Hồ sơ khai sinh của con tôi nộp 20 ngày vẫn chưa có kết quả")
    await say(bot, channel, user, payload="fb:skip")
    if phone is None:
        await say(bot, channel, user, payload="fb:nocall")
    else:
        await say(bot, channel, user, payload="fb:call")
        await say(bot, channel, user, phone)
    done = await say(bot, channel, user, payload="fb:send")
    assert done.outcome == "ticket_created", text_of(done)
    match = NUMBER.search(text_of(done))
    assert match is not None
    return match.group(0)


@pytest.mark.parametrize("channel", ["telegram", "zalo"])
async def test_a_tickets_whole_life(fbot: BotApp, database_url: str, channel: str) -> None:
    citizen = "citizen-42"
    officials = fbot.channels["telegram"]
    home = fbot.channels[channel]

    start = await say(fbot, channel, citizen, "/phananh")
    assert start.outcome == "feedback"
    assert payloads(start) == ["fb:s:thu_tuc", "fb:s:can_bo", "fb:s:gop_y", "fb:s:khac", "fb:cancel"]
    ask = await say(fbot, channel, citizen, payload="fb:s:thu_tuc")
    assert "mô tả sự việc" in text_of(ask)
    short = await say(fbot, channel, citizen, "chậm quá")
    assert "cụ thể hơn" in text_of(short)
    content = "Hồ sơ khai sinh của con tôi nộp 20 ngày vẫn chưa có kết quả, mã hồ sơ H56-230515-0012"
    photo_q = await say(fbot, channel, citizen, content)
    assert "ảnh" in text_of(photo_q) and "fb:skip" in payloads(photo_q)
    call_q = await say(fbot, channel, citizen, attachments=(Attachment("image", url="https://files.example/p1.jpg"),))
    assert "gọi điện lại" in text_of(call_q)
    assert "chỉ cán bộ tiếp nhận được xem" in text_of(call_q)  # what consenting means, before it
    await say(fbot, channel, citizen, payload="fb:call")
    confirm = await say(fbot, channel, citizen, "091.234.5678")
    assert "0912 345 678" in text_of(confirm) and "Ảnh: có" in text_of(confirm)
    assert payloads(confirm) == ["fb:send", "fb:cancel"]
    done = await say(fbot, channel, citizen, payload="fb:send")
    assert done.outcome == "ticket_created"
    number = NUMBER.search(text_of(done)).group(0)  # type: ignore[union-attr]
    ticket = one(database_url, Ticket)
    assert ticket["number"] == number == f"PA-{ticket['year']}-000001"
    assert f"chậm nhất ngày {deadline_for(ticket['created_at'], fbot.settings.feedback).astimezone(dt.timezone(dt.timedelta(hours=7))):%d/%m/%Y}" in text_of(done)
    assert "10 ngày làm việc" in text_of(done)
    assert (ticket["status"], ticket["channel"], ticket["subject"]) == ("new", channel, "thu_tuc")
    assert ticket["content"] == content and ticket["photo_ref"] == "https://files.example/p1.jpg"
    assert ticket["phone"] == "0912345678" and ticket["phone_consent_at"] is not None

    # the officials' chat got the card; the citizen's platform id is not on it
    [(chat, [card])] = [s for s in officials.sent if s[0] == OFFICIALS_CHAT]
    assert chat == OFFICIALS_CHAT
    assert number in card.text and content in card.text and "0912 345 678" in card.text
    assert citizen not in card.text and "Người gửi: #" in card.text
    assert ticket["forwarded_chat_id"] == OFFICIALS_CHAT
    assert ticket["forwarded_message_id"] == "telegram-msg-1"
    assert [b.payload for row in card.buttons for b in row] == [f"tk:prog:{ticket['id']}", f"tk:close:{ticket['id']}"]

    # status while it is new, by the ticket number
    status = await say(fbot, channel, citizen, number)
    assert status.outcome == "ticket_status" and "Mới tiếp nhận" in text_of(status)

    taken = await official(fbot, payload=f"tk:prog:{ticket['id']}")
    assert taken.outcome == "ticket_update"
    assert one(database_url, Ticket)["status"] == "in_progress"

    # the official replies to the card: the answer reaches the citizen on their channel
    answer = "Dạ, hồ sơ đã có kết quả, mời Anh/Chị lên nhận tại Bộ phận Một cửa."
    confirmed = await official(fbot, answer, reply_to="telegram-msg-1")
    assert confirmed.outcome == "ticket_answer"
    assert f"Đã lưu câu trả lời phản ánh {number} và đang gửi tới người dân" in text_of(confirmed)
    [to_citizen] = home.to(citizen)
    assert number in to_citizen[0].text and answer in to_citizen[0].text
    assert [b.payload for row in to_citizen[1].buttons for b in row] == [
        f"hl:{level}:t:{ticket['id']}" for level in (5, 4, 3, 2, 1)]
    assert [b.label for row in to_citizen[1].buttons for b in row] == [
        "Rất hài lòng", "Hài lòng", "Bình thường", "Không hài lòng", "Rất không hài lòng"]
    answered = one(database_url, Ticket)
    assert answered["status"] == "answered" and answered["answered_at"] is not None
    message = one(database_url, TicketMessage)
    assert (message["body"], message["delivery"], message["author"]) == (answer, "sent", "official")

    status = await say(fbot, channel, citizen, f"phản ánh {number.lower()} sao rồi")
    assert "Đã trả lời" in text_of(status) and answer in text_of(status)

    rated = await say(fbot, channel, citizen, payload=f"hl:4:t:{ticket['id']}")
    assert rated.outcome == "rating"
    commented = await say(fbot, channel, citizen, "Cán bộ trả lời nhanh, cảm ơn")
    assert commented.outcome == "rating_done"
    rating = one(database_url, SatisfactionResponse)
    assert (rating["level"], rating["source"], rating["ticket_id"], rating["comment"]) == (
        4, "ticket", ticket["id"], "Cán bộ trả lời nhanh, cảm ơn")
    await say(fbot, channel, citizen, payload=f"hl:5:t:{ticket['id']}")  # the last answer counts
    assert one(database_url, SatisfactionResponse)["level"] == 5

    closed = await official(fbot, payload=f"tk:close:{ticket['id']}")
    assert closed.outcome == "ticket_update"
    assert one(database_url, Ticket)["status"] == "closed"
    actions = [(a["action"], a["allowed"]) for a in rows(database_url, AuditEvent)]
    assert actions == [("ticket.in_progress", True), ("ticket.answer", True), ("ticket.closed", True)]


async def test_cancel_at_any_step_by_button_or_word(fbot: BotApp, database_url: str) -> None:
    await say(fbot, "zalo", "c1", "/phananh")
    cancelled = await say(fbot, "zalo", "c1", payload="fb:cancel")
    assert cancelled.outcome == "feedback_cancelled" and "đã hủy" in text_of(cancelled)

    await say(fbot, "zalo", "c1", payload="fb:start")
    await say(fbot, "zalo", "c1", payload="fb:s:can_bo")
    await say(fbot, "zalo", "c1", "Cán bộ tiếp nhận hồ sơ đòi thêm giấy tờ không có trong quy định")
    await say(fbot, "zalo", "c1", payload="fb:skip")
    await say(fbot, "zalo", "c1", payload="fb:call")
    cancelled = await say(fbot, "zalo", "c1", "Hủy")
    assert cancelled.outcome == "feedback_cancelled"
    assert rows(database_url, Ticket) == []
    assert fbot.channels["telegram"].sent == []
    # the flow is over: a question is a question again, and old buttons start afresh
    assert (await say(fbot, "zalo", "c1", "làm giấy khai sinh cần gì")).outcome == "answer"
    stale = await say(fbot, "zalo", "c1", payload="fb:send")
    assert stale.outcome == "feedback" and "bắt đầu lại" in text_of(stale)
    assert rows(database_url, Ticket) == []


async def test_an_invalid_phone_number_is_asked_again(fbot: BotApp, database_url: str) -> None:
    await say(fbot, "telegram", "c2", "/phananh")
    await say(fbot, "telegram", "c2", payload="fb:s:gop_y")
    await say(fbot, "telegram", "c2", "Đề nghị xã bố trí thêm ghế chờ ở Bộ phận Một cửa")
    await say(fbot, "telegram", "c2", payload="fb:skip")
    await say(fbot, "telegram", "c2", payload="fb:call")
    for wrong in ("12345", "0123 456 789", "091234567", "+1 212 555 0100", "tôi không nhớ"):
        retry = await say(fbot, "telegram", "c2", wrong)
        assert retry.outcome == "feedback_phone_invalid", wrong
        assert "chưa đúng" in text_of(retry) and "fb:nocall" in payloads(retry)
    confirm = await say(fbot, "telegram", "c2", "+84 98 765 4321")
    assert "0987 654 321" in text_of(confirm)
    await say(fbot, "telegram", "c2", payload="fb:send")
    assert one(database_url, Ticket)["phone"] == "0987654321"


async def test_no_phone_is_kept_without_consent(fbot: BotApp, database_url: str) -> None:
    await file_ticket(fbot, "zalo", "c3")
    ticket = one(database_url, Ticket)
    assert ticket["phone"] is None and ticket["phone_consent_at"] is None
    [(_, [card])] = fbot.channels["telegram"].sent
    assert "Điện thoại" not in card.text


@pytest.mark.parametrize(("raw", "expected"), [
    ("0912345678", "0912345678"), ("091 234 5678", "0912345678"), ("0912.345.678", "0912345678"),
    ("+84912345678", "0912345678"), ("84 912 345 678", "0912345678"), ("(+84) 35-123-4567", "0351234567"),
    ("0237 312 3456", "02373123456"), ("0112345678", None), ("091234567", None),
    ("09123456789", None), ("+85 912345678", None), ("abc", None), ("", None),
])
def test_vietnamese_phone_formats(raw: str, expected: str | None) -> None:
    assert normalize_phone(raw) == expected


def test_working_days_skip_weekends_and_holidays() -> None:
    friday = dt.date(2026, 10, 2)
    assert add_working_days(friday, 1) == dt.date(2026, 10, 5)  # Monday
    assert add_working_days(friday, 10) == dt.date(2026, 10, 16)
    assert add_working_days(dt.date(2026, 10, 3), 1) == dt.date(2026, 10, 5)  # from a Saturday
    assert add_working_days(friday, 1, [dt.date(2026, 10, 5)]) == dt.date(2026, 10, 6)
    # a ticket sent late on Friday evening (Vietnam time) counts from the Friday
    created = dt.datetime(2026, 10, 2, 15, 30, tzinfo=dt.UTC)  # 22:30 in Vietnam
    deadline = deadline_for(created, Feedback(answer_days=2))
    assert deadline == dt.datetime(2026, 10, 6, 16, 59, 59, tzinfo=dt.UTC)  # Tue 23:59:59 +07


async def test_overdue_tickets_are_flagged_to_officials(fbot: BotApp, database_url: str) -> None:
    number = await file_ticket(fbot, "zalo", "c4")
    ticket = one(database_url, Ticket)
    officials = fbot.channels["telegram"]
    deadline = ticket["deadline"].replace(tzinfo=dt.UTC)

    assert (await checked(fbot, now=deadline - dt.timedelta(minutes=1)))["overdue"] == 0
    assert len(officials.sent) == 1  # only the card
    late = deadline + dt.timedelta(days=3)
    assert (await checked(fbot, now=late))["overdue"] == 1
    [flag] = officials.sent[-1][1]
    assert officials.sent[-1][0] == OFFICIALS_CHAT
    assert "quá hạn" in flag.text and number in flag.text and "trễ 3 ngày" in flag.text
    assert one(database_url, Ticket)["overdue_notified_at"] is not None
    # not again within overdue_repeat_hours, again after it
    assert (await checked(fbot, now=late + dt.timedelta(hours=2)))["overdue"] == 0
    assert (await checked(fbot, now=late + dt.timedelta(hours=25)))["overdue"] == 1
    # answered tickets are not overdue any more
    await official(fbot, "Dạ, đã giải quyết xong ạ.", reply_to=ticket["forwarded_message_id"])
    assert (await checked(fbot, now=late + dt.timedelta(days=5)))["overdue"] == 0


async def test_tickets_wait_for_the_officials_chat_and_phones_are_erased(
    fbot: BotApp, database_url: str
) -> None:
    channels = fbot.channels
    fbot.channels = {}  # Telegram not running: the ticket is still stored
    number = await file_ticket(fbot, "web", "browser-1", phone="0912345678")
    assert one(database_url, Ticket)["forwarded_message_id"] is None
    fbot.channels = channels
    created = one(database_url, Ticket)["created_at"].replace(tzinfo=dt.UTC)
    # the card was queued with the ticket: it goes out once Telegram runs, and only once
    assert (await checked(fbot, now=created + dt.timedelta(minutes=10)))["forwarded"] == 0
    [(_, [card])] = channels["telegram"].sent
    assert number in card.text
    # the web chat cannot be pushed to: the answer waits for the citizen to ask
    reply = await official(fbot, "Dạ, mời Anh/Chị liên hệ số 0237 3xx xxx.",
                           reply_to=one(database_url, Ticket)["forwarded_message_id"])
    assert "khi hỏi tình trạng" in text_of(reply)
    assert one(database_url, TicketMessage)["delivery"] == "not_pushed"
    status = await say(fbot, "web", "browser-1", number)
    assert "mời Anh/Chị liên hệ" in text_of(status)
    answered_at = one(database_url, Ticket)["answered_at"].replace(tzinfo=dt.UTC)
    days = fbot.settings.feedback.phone_retention_days
    assert (await checked(fbot, now=answered_at + dt.timedelta(days=days - 1)))["phones_erased"] == 0
    assert (await checked(fbot, now=answered_at + dt.timedelta(days=days + 1)))["phones_erased"] == 1
    assert one(database_url, Ticket)["phone"] is None


async def test_ticket_privacy_between_citizens_and_officials(fbot: BotApp, database_url: str) -> None:
    number = await file_ticket(fbot, "zalo", "owner")
    other = await say(fbot, "zalo", "someone-else", number)
    assert "không tìm thấy" in text_of(other) and "khai sinh" not in text_of(other)
    ticket = one(database_url, Ticket)
    # a citizen cannot use officials' buttons or commands, nor rate another's ticket
    refused = await say(fbot, "zalo", "someone-else", payload=f"tk:close:{ticket['id']}")
    assert refused.outcome == "refused"
    assert (await say(fbot, "zalo", "someone-else", f"/traloi {number} xong rồi")).outcome == "refused"
    assert (await say(fbot, "zalo", "someone-else", payload=f"hl:1:t:{ticket['id']}")).outcome == "stale"
    assert one(database_url, Ticket)["status"] == "new"
    # a reply to the card outside the officials' chat is an ordinary message
    elsewhere = await fbot.handle(Incoming("telegram", "someone", text="làm giấy khai sinh cần gì",
                                           reply_to=ticket["forwarded_message_id"]))
    assert elsewhere.outcome == "answer"
    assert rows(database_url, TicketMessage) == []


async def test_traloi_command_and_undeliverable_answers(fbot: BotApp, database_url: str) -> None:
    number = await file_ticket(fbot, "zalo", "c5", phone="0912345678")
    fbot.channels["zalo"].status = "ineligible"  # Zalo: the citizen has not written for a week
    notes = len(fbot.channels["telegram"].to(OFFICIALS_CHAT))
    reply = await official(fbot, f"/traloi {number} Dạ, hồ sơ đã xong.\nMời Anh/Chị lên nhận.")
    assert reply.outcome == "ticket_answer"
    # the answer is queued; once the outbox knows it did not reach the citizen, officials hear it
    [[note]] = fbot.channels["telegram"].to(OFFICIALS_CHAT)[notes:]
    assert "chưa gửi được" in note.text and "ineligible" in note.text and "số điện thoại" in note.text
    message = one(database_url, TicketMessage)
    assert message["body"] == "Dạ, hồ sơ đã xong.\nMời Anh/Chị lên nhận."
    assert message["delivery"] == "ineligible"
    assert one(database_url, Ticket)["status"] == "answered"
    listing = await official(fbot, "/phananh")
    assert listing.outcome == "ticket_list" and "Không có phản ánh" in text_of(listing)


async def test_not_sure_question_leads_into_the_ticket(fbot: BotApp, database_url: str) -> None:
    unsure = await say(fbot, "telegram", "c6", "bán cho tôi một chiếc xe máy cũ giá rẻ")
    [forward] = [p for p in payloads(unsure) if p.startswith("fwd:")]
    prefilled = await say(fbot, "telegram", "c6", payload=forward)
    assert "«bán cho tôi một chiếc xe máy cũ giá rẻ»" in text_of(prefilled)
    call_q = await say(fbot, "telegram", "c6", payload="fb:keep")
    assert "gọi điện lại" in text_of(call_q)  # no photo step for a question
    await say(fbot, "telegram", "c6", "không")
    await say(fbot, "telegram", "c6", payload="fb:send")
    ticket = one(database_url, Ticket)
    assert ticket["content"] == "bán cho tôi một chiếc xe máy cũ giá rẻ"
    assert ticket["subject"] == "thu_tuc"
    assert ticket["question_id"] == one(database_url, QuestionLog)["id"]


async def test_survey_answer(database_url: str) -> None:
    app = build_app(make_settings(database_url))  # the bundled content: the survey campaign
    try:
        question = await say(app, "zalo", "s1", "/danhgia")
        assert question.outcome == "survey"
        assert [p for p in payloads(question) if p.startswith("hl:")] == [
            f"hl:{level}:s" for level in (5, 4, 3, 2, 1)]
        await say(app, "zalo", "s1", payload="hl:2:s")
        changed = await say(app, "zalo", "s1", payload="hl:3:s")  # a change of mind: one response
        assert "góp ý" in text_of(changed)
        done = await say(app, "zalo", "s1", "Phải chờ lâu ở quầy một cửa")
        assert done.outcome == "rating_done"
        about = await say(app, "telegram", "s2", "/danhgia khai-sinh")
        assert "Đăng ký khai sinh" in text_of(about) or "khai sinh" in text_of(about).lower()
        await say(app, "telegram", "s2", payload="hl:5:s:khai-sinh")
        await say(app, "telegram", "s2", payload="hl:skip")
        found = sorted((dict(r) for r in rows(database_url, SatisfactionResponse)), key=lambda r: r["id"])
        assert [(r["level"], r["source"], r["campaign_id"], r["faq_id"], r["comment"], r["channel"])
                for r in found] == [
            (3, "survey", "khao-sat-hai-long", None, "Phải chờ lâu ở quầy một cửa", "zalo"),
            (5, "survey", "khao-sat-hai-long", "khai-sinh", None, "telegram"),
        ]
        # the FAQ answer about satisfaction leads to the same question
        answer = await say(app, "web", "s3", payload="faq:danh-gia-hai-long")
        assert "hl:start" in payloads(answer)
        assert (await say(app, "web", "s3", payload="hl:start")).outcome == "survey"
    finally:
        await app.close()


async def test_ticket_numbers_run_per_year(fbot: BotApp, database_url: str) -> None:
    first = await file_ticket(fbot, "zalo", "y1")
    engine = create_engine(sync_url(database_url))
    with engine.begin() as conn:  # pretend the first ticket was filed last year
        year = int(first[3:7])
        conn.execute(update(Ticket).values(year=year - 1, number=f"PA-{year - 1}-000001"))
    engine.dispose()
    assert await file_ticket(fbot, "zalo", "y2") == f"PA-{year}-000001"
    assert await file_ticket(fbot, "zalo", "y3") == f"PA-{year}-000002"
    with create_engine(sync_url(database_url)).connect() as conn:
        numbers = sorted(conn.execute(select(Ticket.number)).scalars())
    assert numbers == [f"PA-{year - 1}-000001", f"PA-{year}-000001", f"PA-{year}-000002"]
