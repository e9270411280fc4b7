"""A contest taken end to end through the real Telegram channel (python-telegram-bot against the
fake Bot API): /cuocthi is in the command menu, the rules, each question's buttons, the result."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.storage.models import ContestEntry
from fakes.telegram import FakeBotApi
from handlers.contest import service
from tests.telegram.conftest import FIXTURE, rows, running
from tests.test_contest import CONTEST, RUNNING, Clock


async def test_a_contest_through_telegram(database_url: str, fake: FakeBotApi, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    content = tmp_path / "content"
    shutil.copytree(FIXTURE, content)
    (content / "contests").mkdir()
    (content / "contests" / "thu-nghiem.yaml").write_text(CONTEST, encoding="utf-8")
    monkeypatch.setattr(service, "utcnow", Clock(RUNNING))
    citizen = fake.add_user(2002, "Minh")
    async with running(database_url, fake, content=content) as tg:
        assert "cuocthi" in [c["command"] for c in fake.commands["default"]]
        [rules] = await tg.say(citizen, "/cuocthi")
        assert "Cuộc thi thử nghiệm" in rules.text and "Mỗi người một lượt." in rules.text
        [question] = await tg.press(citizen, rules, "ct:go:thu-nghiem")
        for number in (2, 1, 1):  # right, right, wrong
            assert [row[0]["text"][:2] for row in question.keyboard][:2] == ["1.", "2."]
            callbacks = [row[0]["callback_data"] for row in question.keyboard]
            replies = await tg.press(citizen, question, callbacks[number - 1],
                                     count=2 if question.text.startswith("Câu 3/3") else 1)
            question = replies[0]
        result, answers = replies
        assert "đúng 2/3 câu" in result.text
        assert "3. ❌ Đáp án đúng: Mức độ 4." in answers.text
    [entry] = rows(database_url, ContestEntry)
    assert (entry["score"], entry["answers"]) == (2, [2, 1, 1])
