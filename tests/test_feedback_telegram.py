"""One ticket end to end through the real Telegram channel (python-telegram-bot against the fake
Bot API): a citizen files it in a private chat, the card reaches the officials' group, a clerk
replies to the card, the answer and the satisfaction question reach the citizen."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator

import pytest

from bot.outbox.runtime import BroadcastWorkers
from bot.storage.models import SatisfactionResponse, Ticket, TicketMessage
from tests.telegram.conftest import eventually, rows, running
from fakes.telegram import FakeBotApi


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotApi]:
    api = await FakeBotApi().start()
    yield api
    await api.stop()


async def test_a_ticket_through_telegram(database_url: str, fake: FakeBotApi) -> None:
    citizen = fake.add_user(2001, "Lan")
    clerk = fake.add_user(3003, "Văn thư")
    group = fake.add_group(-1009876543210, "Cán bộ một cửa")
    async with running(database_url, fake, admin_chat_id=group["id"]) as tg, \
            contextlib.AsyncExitStack() as stack:
        tg.app.channels = {"telegram": tg.channel}  # what serve() does, with its sender
        workers = BroadcastWorkers(tg.app, [tg.channel])
        await workers.start()
        stack.push_async_callback(workers.stop)
        [subjects] = await tg.say(citizen, "/phananh")
        [ask] = await tg.press(citizen, subjects, "fb:s:can_bo")
        assert "mô tả sự việc" in ask.text
        [photo] = await tg.say(citizen, "Cán bộ tiếp nhận yêu cầu nộp thêm bản sao không có trong quy định")
        [call] = await tg.press(citizen, photo, "fb:skip")
        await tg.press(citizen, call, "fb:call")
        [retry] = await tg.say(citizen, "0123")
        assert "chưa đúng" in retry.text
        [confirm] = await tg.say(citizen, "0987 654 321")
        assert "0987 654 321" in confirm.text
        before = len(fake.to(group["id"]))
        [done] = await tg.press(citizen, confirm, "fb:send")
        number = re.search(r"PA-\d{4}-\d{6}", done.text).group(0)  # type: ignore[union-attr]
        assert "Câu trả lời sẽ được gửi vào đây" in done.text

        [card] = await fake.replies(group["id"], 1, after=before)
        assert number in card.text and "0987 654 321" in card.text
        assert str(citizen["id"]) not in card.text
        # the sender records the delivery moments after the card arrives
        await eventually(lambda: rows(database_url, Ticket)[0]["forwarded_message_id"] == str(card.message_id),
                         what="the card's delivery recorded")
        [ticket] = rows(database_url, Ticket)
        assert ticket["forwarded_chat_id"] == str(group["id"])

        before_citizen = len(fake.to(citizen["id"]))
        [taken] = await tg.press(clerk, card, f"tk:prog:{ticket['id']}")
        assert "đang xử lý" in taken.text
        answer = "Dạ, bộ phận một cửa đã rút kinh nghiệm, Anh/Chị chỉ cần nộp bản sao có chứng thực."
        before = len(fake.to(group["id"]))
        fake.text(clerk, answer, chat=group, reply_to=card)
        [sent] = await fake.replies(group["id"], 1, after=before)
        assert sent.text.startswith(f"✅ Đã lưu câu trả lời phản ánh {number} và đang gửi")
        reply, question = await fake.replies(citizen["id"], 2, after=before_citizen)
        assert number in reply.text and answer in reply.text
        assert question.callbacks == [f"hl:{level}:t:{ticket['id']}" for level in (5, 4, 3, 2, 1)]
        [thanks] = await tg.press(citizen, question, f"hl:4:t:{ticket['id']}")
        assert "cảm ơn" in thanks.text
        await eventually(lambda: rows(database_url, TicketMessage)[0]["delivery"] == "sent",
                         what="the answer's delivery recorded")

    [answered] = rows(database_url, Ticket)
    assert answered["status"] == "answered"
    [message] = rows(database_url, TicketMessage)
    assert (message["body"], message["delivery"]) == (answer, "sent")
    [rating] = rows(database_url, SatisfactionResponse)
    assert (rating["level"], rating["ticket_id"], rating["channel"]) == (4, ticket["id"], "telegram")
