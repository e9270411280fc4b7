"""The contest end to end on Telegram: the real python-telegram-bot client against the fake Bot
API over HTTP, from the rules to the result, the phone shared with Telegram's contact button,
a break across a restart, and nothing in what the client receives that tells the right answer."""

from __future__ import annotations

from pathlib import Path

from bot.storage.models import ContestEntry, ContestParticipant
from fakes.telegram import FakeBotApi, Sent
from tests.contest_channels import CONTEST_ID, contest_content, leaks
from tests.telegram.conftest import rows, running
from tests.test_contest import Clock, clock  # noqa: F401 - clock: a fixture (the contest's time)


def answer_buttons(question: Sent) -> list[str]:
    """The question's callback data, checked to be uniform: ct:a:<attempt>:<position>:<n>."""
    callbacks = question.callbacks
    entry, position = callbacks[0].split(":")[2:4]
    assert callbacks == [f"ct:a:{entry}:{position}:{n}" for n in range(1, len(callbacks) + 1)]
    return callbacks


async def test_a_contest_on_telegram_with_the_phone_shared_and_a_break(
        database_url: str, fake: FakeBotApi, tmp_path: Path, clock: Clock) -> None:  # noqa: F811 - clock: the fixture
    content = contest_content(tmp_path)
    citizen = fake.add_user(2101, "Lan", phone="84912345678")
    chat = citizen["id"]
    async with running(database_url, fake, content=content) as tg:
        [rules] = await tg.say(citizen, "/cuocthi")
        assert "Cuộc thi tìm hiểu CCHC qua các kênh" in rules.text
        assert "Mỗi người dự thi một lần" in rules.text and "Thời gian làm bài: 30 phút" in rules.text
        [consent] = await tg.press(citizen, rules, f"ct:go:{CONTEST_ID}")
        assert "Anh/Chị có đồng ý cung cấp không" in consent.text
        await tg.press(citizen, consent, f"ct:ok:{CONTEST_ID}")
        await tg.say(citizen, "nguyễn thị lan")
        [ask_phone] = await tg.say(citizen, "Thôn Đông")
        assert "chia sẻ số điện thoại" in ask_phone.text and ask_phone.styled("bold") == ["số điện thoại"]
        assert ask_phone.reply_markup is not None
        assert ask_phone.reply_markup["keyboard"] == [[{"text": "📱 Chia sẻ số điện thoại", "request_contact": True}]]
        before = len(fake.to(chat))
        fake.share_contact(citizen)
        confirm, choose = await fake.replies(chat, 2, after=before)
        assert "• Họ và tên: Nguyễn Thị Lan\n• Thôn/tổ dân phố: Thôn Đông\n• Số điện thoại: 0912 345 678" in confirm.text
        assert confirm.reply_markup == {"remove_keyboard": True} and chat not in fake.reply_keyboards
        [first] = await tg.press(citizen, choose, f"ct:start:{CONTEST_ID}")
        assert first.text.startswith("Câu 1/3.") and "Khai sinh cho con" in first.text
        assert [b["text"] for b in first.buttons] == ["1. 15 ngày", "2. 60 ngày"]
        [second] = await tg.press(citizen, first, answer_buttons(first)[1])  # right
        assert second.text.startswith("Câu 2/3.")
    # a break: the citizen leaves; the bot restarts (another process) in the meantime
    clock.advance(minutes=5)
    async with running(database_url, fake, content=content) as tg:
        [resumed] = await tg.say(citizen, "/cuocthi")
        assert resumed.text.startswith("Dạ, mời Anh/Chị làm tiếp bài thi.") and "Câu 2/3." in resumed.text
        assert len(resumed.callbacks) == 6 and resumed.callbacks == second.callbacks
        [third] = await tg.press(citizen, resumed, answer_buttons(resumed)[5])  # right: the sixth
        assert third.text.startswith("Câu 3/3.")
        [predict] = await tg.press(citizen, third, answer_buttons(third)[2])  # wrong
        assert "Câu dự đoán" in predict.text
        before_result = list(fake.to(chat))
        result, explained = await tg.say(citizen, "khoảng 120 người", count=2)
    assert "đúng 2/3 câu" in result.text and "Dự đoán của Anh/Chị: 120." in result.text
    assert "1. ✅ Đáp án đúng: 60 ngày. Cha mẹ đăng ký khai sinh trong 60 ngày kể từ ngày sinh." in explained.text
    assert "2. ✅ Đáp án đúng: Cổng Dịch vụ công quốc gia." in explained.text
    assert "3. ❌ Đáp án đúng: 15 ngày." in explained.text
    # nothing the client received before the result tells a right answer: texts, buttons,
    # markups, and the callback queries' answers
    assert leaks([s.raw for s in before_result] + [s.reply_markup for s in before_result]) == []
    assert leaks([q["answered"] for q in fake.queries.values()]) == []
    [person] = rows(database_url, ContestParticipant)
    assert (person["full_name"], person["village"], person["phone"], person["phone_verified"]) == (
        "Nguyễn Thị Lan", "Thôn Đông", "0912345678", True)
    [entry] = rows(database_url, ContestEntry)
    assert (entry["channel"], entry["score"], entry["answers"], entry["prediction"]) == ("telegram", 2, [2, 6, 3], 120)
