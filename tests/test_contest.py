"""The knowledge contest through the core on a real database: the file and its check, taking
part (rules, questions, resume, the score), fair play (attempts, the server's timer, answers
kept back) and the ranking export."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import functools
import io
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook
from sqlmodel import select

from bot.app import BotApp
from bot.cli import main
from bot.content.loader import TIMEZONE
from bot.messages import Incoming, Response
from bot.root import build_app
from bot.storage.models import ContestEntry
from handlers import build_dispatcher
from handlers.contest import service
from handlers.contest.contests import load_contest
from tests.conftest import BUNDLED_CONTENT, make_settings
from tests.test_conversation import FIXTURE, payloads, rows

CONTEST = """\
id: thu-nghiem
title: Cuộc thi thử nghiệm
organiser: UBND xã Thử Nghiệm
starts: 2026-12-10 07:00:00
ends: 2026-12-20 17:00:00
rules: |
  Mỗi người một lượt.
time_limit_minutes: 10
questions:
  - text: Khai sinh trong bao lâu?
    choices: [15 ngày, 60 ngày]
    answer: 2
    explanation: Trong 60 ngày kể từ ngày sinh.
    source: Luật Hộ tịch 2014
  - text: Khai tử trong bao lâu?
    choices: [15 ngày, 60 ngày, 90 ngày]
    answer: 1
    explanation: Trong 15 ngày kể từ ngày mất.
  - text: Toàn trình là mức độ mấy trước đây?
    choices: [Mức độ 3, Mức độ 4]
    answer: 2
"""
RUNNING = dt.datetime(2026, 12, 12, 9, 0, tzinfo=TIMEZONE)


class Clock:
    def __init__(self, moment: dt.datetime) -> None:
        self.moment = moment

    def __call__(self) -> dt.datetime:
        return self.moment.astimezone(dt.UTC)

    def advance(self, **delta: float) -> None:
        self.moment += dt.timedelta(**delta)


@pytest.fixture
def content(tmp_path: Path) -> Path:
    root = tmp_path / "content"
    shutil.copytree(FIXTURE, root)
    (root / "contests").mkdir()
    (root / "contests" / "thu-nghiem.yaml").write_text(CONTEST, encoding="utf-8")
    return root


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    found = Clock(RUNNING)
    monkeypatch.setattr(service, "utcnow", found)
    return found


@pytest.fixture
async def cbot(database_url: str, content: Path, clock: Clock):
    app = build_app(make_settings(database_url, content=content))
    yield app
    await app.close()


async def say(bot: BotApp, text: str = "", payload: str | None = None, user: str = "u1",
              channel: str = "telegram") -> Response:
    return await bot.handle(Incoming(channel, user, text=text, payload=payload))


def choice(response: Response, number: int) -> str:
    """The payload of the button for choice ``number`` (1-based) of the question shown."""
    return [p for p in payloads(response) if p.startswith("ct:a:")][number - 1]


def text(response: Response) -> str:
    return "\n".join(r.text for r in response.replies)


async def test_contest_taken_end_to_end(cbot: BotApp, database_url: str) -> None:
    rules = await say(cbot, "/cuocthi")
    assert rules.outcome == "contest_rules"
    assert "Cuộc thi thử nghiệm" in text(rules) and "Mỗi người một lượt." in text(rules)
    assert "Thời gian làm bài: 10 phút" in text(rules)
    assert "ct:go:thu-nghiem" in payloads(rules)
    first = await say(cbot, payload="ct:go:thu-nghiem")
    assert first.outcome == "contest_question"
    assert "Câu 1/3." in text(first) and "Khai sinh trong bao lâu?" in text(first)
    second = await say(cbot, payload=choice(first, 2))  # right
    assert "Câu 2/3." in text(second)
    third = await say(cbot, payload=choice(second, 3))  # wrong
    done = await say(cbot, payload=choice(third, 2))  # right
    assert done.outcome == "contest_done"
    assert "đúng **2/3** câu" in text(done)
    assert "1. ✅ Đáp án đúng: 60 ngày. Trong 60 ngày kể từ ngày sinh. _(Nguồn: Luật Hộ tịch 2014)_" in text(done)
    assert "2. ❌ Đáp án đúng: 15 ngày. Trong 15 ngày kể từ ngày mất." in text(done)
    [entry] = rows(database_url, ContestEntry)
    assert (entry["score"], entry["answers"], entry["timed_out"]) == (2, [2, 3, 2], False)
    assert entry["finished_at"] is not None


async def test_the_right_answer_is_not_sent_before_the_answer(cbot: BotApp) -> None:
    question = await say(cbot, payload="ct:go:thu-nghiem")
    shown = text(question) + " ".join(payloads(question))
    assert "Trong 60 ngày" not in shown and "Đáp án đúng" not in shown
    entry_id = choice(question, 1).split(":")[2]
    assert payloads(question)[:2] == [f"ct:a:{entry_id}:0:1", f"ct:a:{entry_id}:0:2"]


async def test_resume_after_a_break_on_another_worker(cbot: BotApp, database_url: str,
                                                      content: Path) -> None:
    first = await say(cbot, payload="ct:go:thu-nghiem")
    await say(cbot, payload=choice(first, 2))
    again = await say(cbot, payload=choice(first, 1))  # an old button pressed again
    assert "đã trả lời rồi" in text(again) and "Câu 2/3." in text(again)
    other = build_app(make_settings(database_url, content=content))  # another worker
    try:
        resumed = await say(other, "/cuocthi")
        assert resumed.outcome == "contest_question"
        assert "làm tiếp" in text(resumed) and "Câu 2/3." in text(resumed)
    finally:
        await other.close()
    [entry] = rows(database_url, ContestEntry)
    assert entry["answers"] == [2]


async def test_a_second_attempt_is_refused(cbot: BotApp, database_url: str) -> None:
    question = await say(cbot, payload="ct:go:thu-nghiem")
    for _ in range(3):
        question = await say(cbot, payload=choice(question, 1))
    assert question.outcome == "contest_done"
    for again in (await say(cbot, "/cuocthi"), await say(cbot, payload="ct:go:thu-nghiem")):
        assert again.outcome == "contest_no_attempts"
        assert "đã dự thi đủ 1 lượt" in text(again) and "đúng 1/3 câu" in text(again)
    assert len(rows(database_url, ContestEntry)) == 1
    other = await say(cbot, payload="ct:go:thu-nghiem", user="u2")  # someone else still may
    assert other.outcome == "contest_question"


async def test_the_time_limit_is_measured_on_the_server(cbot: BotApp, clock: Clock,
                                                        database_url: str) -> None:
    first = await say(cbot, payload="ct:go:thu-nghiem")
    clock.advance(minutes=4)
    second = await say(cbot, payload=choice(first, 2))
    assert "Còn khoảng 6 phút" in text(second)
    clock.advance(minutes=7)  # 11 minutes after the start: the answer comes too late
    late = await say(cbot, payload=choice(second, 1))
    assert late.outcome == "contest_done"
    assert "hết thời gian làm bài" in text(late) and "đúng **1/3** câu" in text(late)
    assert "thời gian làm bài 10 phút 0 giây" in text(late)
    [entry] = rows(database_url, ContestEntry)
    assert (entry["answers"], entry["score"], entry["timed_out"]) == ([2], 1, True)


async def test_before_the_start_and_after_the_end(cbot: BotApp, clock: Clock, database_url: str) -> None:
    clock.moment = dt.datetime(2026, 12, 1, 8, 0, tzinfo=TIMEZONE)
    early = await say(cbot, "/cuocthi")
    assert early.outcome == "contest_not_started"
    assert "từ 07:00 ngày 10/12/2026 đến 17:00 ngày 20/12/2026" in text(early)
    assert await say(cbot, payload="ct:go:thu-nghiem") == early
    clock.moment = dt.datetime(2026, 12, 20, 17, 0, tzinfo=TIMEZONE)
    late = await say(cbot, "/cuocthi")
    assert late.outcome == "contest_ended" and "đã kết thúc lúc 17:00 ngày 20/12/2026" in text(late)
    assert rows(database_url, ContestEntry) == []


async def test_a_broken_file_is_refused_with_its_line(cbot: BotApp, content: Path) -> None:
    path = content / "contests" / "thu-nghiem.yaml"
    path.write_text(CONTEST.replace("    answer: 1\n", "    answer: 4\n"), encoding="utf-8")
    result = CliRunner().invoke(main, ["contest", "check", str(path)],
                                env={"CCHC_CONTENT_PATH": str(content), "CCHC_PSEUDONYM_SALT": "t"})
    assert result.exit_code == 1
    assert f"{path}:15: trường 'questions.1': đáp án 4 vượt quá số lựa chọn (3)" in result.output
    assert (await say(cbot, "/cuocthi")).outcome == "contest_none"  # the bot does not open it


def test_file_fields_are_checked_with_their_lines(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text(CONTEST.replace("id: thu-nghiem", "id: x").replace("ends: 2026-12-20", "ends: 2026-12-01")
                    .replace("    choices: [15 ngày, 60 ngày]\n", "    choices: [15 ngày]\n")
                    + "prize: 1\n", encoding="utf-8")
    _, problems = load_contest(path, "x.yaml")
    assert [str(p) for p in problems] == [
        "x.yaml:11: trường 'questions.0.choices': cần từ 2 đến 6 lựa chọn (đang có 1)",
        "x.yaml:22: trường 'prize' không được hỗ trợ (viết sai tên trường?)",
    ]
    path.write_text(CONTEST.replace("id: thu-nghiem", "id: x").replace("ends: 2026-12-20", "ends: 2026-12-01"),
                    encoding="utf-8")
    assert [p.message for p in load_contest(path, "x.yaml")[1]] == ["trường '(toàn bộ)': 'ends' phải sau 'starts'"]


def test_the_bundled_example_is_valid_and_draws_its_questions() -> None:
    path = BUNDLED_CONTENT / "contests" / "tim-hieu-cchc-2026.yaml"
    contest, problems = load_contest(path)
    assert problems == [] and contest is not None
    assert contest.drawn == 4 < len(contest.questions)
    assert all(q.source for q in contest.questions)


def test_cuocthi_is_in_the_command_menu() -> None:
    assert ("cuocthi", False) in [(c.name, c.officials) for c in build_dispatcher().menu]


async def test_ranking_and_export_exact(cbot: BotApp, clock: Clock, database_url: str, tmp_path: Path,
                                        content: Path) -> None:
    start = RUNNING.astimezone(dt.UTC)

    def entry(user: str, score: int, seconds: int, started_after: int, attempt: int = 1) -> ContestEntry:
        began = start + dt.timedelta(seconds=started_after)
        return ContestEntry(contest_id="thu-nghiem", channel="zalo" if user == "c" else "telegram",
                            user_key=f"{user}" * 12, attempt=attempt, started_at=began,
                            finished_at=began + dt.timedelta(seconds=seconds),
                            questions=[0, 1, 2], answers=[1, 1, 1], answered=3, score=score)

    async with cbot.database.session() as session:
        session.add_all([
            entry("a", 2, 120, 0),
            entry("b", 3, 300, 0),
            entry("c", 2, 90, 600),   # same score as a, faster: ranks above a
            entry("d", 2, 120, 60),   # same score and time as a, finished later: below a
            entry("a", 1, 30, 900, attempt=2),  # a's worse attempt does not count
            ContestEntry(contest_id="thu-nghiem", channel="web", user_key="e" * 12,
                         started_at=start, questions=[0, 1, 2]),  # unfinished: not ranked
        ])
        await session.commit()
        ranked = await service.ranking(session, "thu-nghiem")
    assert [(r.rank, r.participant, r.score, r.seconds) for r in ranked] == [
        (1, "bbbbbbbbbb", 3, 300), (2, "cccccccccc", 2, 90), (3, "aaaaaaaaaa", 2, 120),
        (4, "dddddddddd", 2, 120)]
    env = {"CCHC_CONTENT_PATH": str(content), "CCHC_PSEUDONYM_SALT": "test-salt",
           "CCHC_DATABASE_URL": database_url}
    invoke = functools.partial(asyncio.to_thread, CliRunner().invoke, main)  # the CLI runs its own loop
    result = await invoke(["contest", "results", "thu-nghiem", "--format", "csv"], env=env)
    assert result.exit_code == 0, result.output
    assert list(csv.reader(io.StringIO(result.stdout))) == [
        ["Hạng", "Mã người dự thi", "Kênh", "Số câu đúng", "Tổng số câu", "Thời gian làm bài (giây)",
         "Thời điểm hoàn thành"],
        ["1", "bbbbbbbbbb", "telegram", "3", "3", "300", "12/12/2026 09:05:00"],
        ["2", "cccccccccc", "zalo", "2", "3", "90", "12/12/2026 09:11:30"],
        ["3", "aaaaaaaaaa", "telegram", "2", "3", "120", "12/12/2026 09:02:00"],
        ["4", "dddddddddd", "telegram", "2", "3", "120", "12/12/2026 09:03:00"],
    ]
    out = tmp_path / "ket-qua.xlsx"
    result = await invoke(["contest", "results", "thu-nghiem", "--format", "xlsx", "--out", str(out)],
                          env=env)
    assert result.exit_code == 0, result.output
    sheet = load_workbook(out).active
    assert sheet is not None
    values = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert values[0][0] == "Cuộc thi thử nghiệm"
    assert values[1][:4] == ["Hạng", "Mã người dự thi", "Kênh", "Số câu đúng"]
    assert [row[1] for row in values[2:]] == ["bbbbbbbbbb", "cccccccccc", "aaaaaaaaaa", "dddddddddd"]


async def test_the_same_question_answered_twice_at_once_counts_once(cbot: BotApp, database_url: str,
                                                                    content: Path) -> None:
    """Two workers each read the attempt, then both store an answer to question 1: the second
    finds it answered (the ``answered`` guard) and changes nothing."""
    await say(cbot, payload="ct:go:thu-nghiem")
    contest = service.contests(content)["thu-nghiem"]
    moment = service.now()
    async with cbot.database.session() as first, cbot.database.session() as second:
        [mine] = (await first.exec(select(ContestEntry))).all()
        [theirs] = (await second.exec(select(ContestEntry))).all()
        second.expunge(theirs)  # its read is done (kept as read); its write comes after the first's commit
        await second.rollback()
        assert await service.record_answer(first, contest, mine, 0, 2, moment)
        await first.commit()
        assert not await service.record_answer(second, contest, theirs, 0, 1, moment)
        await second.commit()
    [entry] = rows(database_url, ContestEntry)
    assert (entry["answers"], entry["answered"]) == ([2], 1)


async def test_a_bank_shortened_mid_attempt_is_said_not_crashed_on(cbot: BotApp, content: Path) -> None:
    first = await say(cbot, payload="ct:go:thu-nghiem")
    path = content / "contests" / "thu-nghiem.yaml"
    path.write_text(CONTEST.split("  - text: Toàn trình")[0], encoding="utf-8")  # two questions left
    for response in (await say(cbot, payload=choice(first, 2)), await say(cbot, "/cuocthi")):
        assert response.outcome == "contest_changed"
        assert "UBND xã Thử Nghiệm" in text(response)
