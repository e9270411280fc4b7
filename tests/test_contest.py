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
from bot.messages import Contact, Incoming, Response
from bot.root import build_app
from bot.storage.models import ContestEntry, ContestFlag, ContestParticipant
from handlers import build_dispatcher
from handlers.contest import service
from handlers.contest.contests import load_contest, load_contests
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
    people = {user: ContestParticipant(
        contest_id="thu-nghiem", person_key=f"usr:{user}", channel="telegram",
        full_name=f"Nguyễn Văn {user.upper()}", phone=f"091234500{number}", phone_verified=user != "d",
        village="Thôn Đông", declined=user == "d", erase_after=start + dt.timedelta(days=90))
        for number, user in enumerate("abcd", start=1)}

    def entry(user: str, score: int, seconds: int, started_after: int, attempt: int = 1) -> ContestEntry:
        began = start + dt.timedelta(seconds=started_after)
        return ContestEntry(contest_id="thu-nghiem", channel="zalo" if user == "c" else "telegram",
                            user_key=f"{user}" * 12, attempt=attempt, started_at=began,
                            participant_id=people[user].id, finished_at=began + dt.timedelta(seconds=seconds),
                            questions=[0, 1, 2], answers=[1, 1, 1], answered=3, score=score)

    async with cbot.database.session() as session:
        session.add_all(people.values())
        await session.flush()
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
        contest = service.contests(content)["thu-nghiem"]
        ranked = await service.ranking(session, contest)
    ts = {user: service.pseudonym(person.id or 0) for user, person in people.items()}
    assert [(r.rank, r.participant, r.score, r.seconds, r.eligible) for r in ranked] == [
        (1, ts["b"], 3, 300, True), (2, ts["c"], 2, 90, True), (3, ts["a"], 2, 120, True),
        (4, ts["d"], 2, 120, False)]
    env = {"CCHC_CONTENT_PATH": str(content), "CCHC_PSEUDONYM_SALT": "test-salt",
           "CCHC_DATABASE_URL": database_url}
    invoke = functools.partial(asyncio.to_thread, CliRunner().invoke, main)  # the CLI runs its own loop
    result = await invoke(["contest", "results", "thu-nghiem", "--format", "csv"], env=env)
    assert result.exit_code == 0, result.output
    heading = ["Hạng", "Mã người dự thi", "Họ và tên", "Số điện thoại", "Thôn/Tổ dân phố", "Kênh",
               "Số câu đúng", "Tổng số câu", "Thời gian làm bài (giây)", "Dự đoán", "Thời điểm hoàn thành",
               "Xét giải", "Cần xem xét"]
    assert list(csv.reader(io.StringIO(result.stdout))) == [
        heading,
        ["1", ts["b"], "N. V. B", "091****002", "Thôn Đông", "telegram", "3", "3", "300", "",
         "12/12/2026 09:05:00", "Có", ""],
        ["2", ts["c"], "N. V. C", "091****003", "Thôn Đông", "zalo", "2", "3", "90", "",
         "12/12/2026 09:11:30", "Có", ""],
        ["3", ts["a"], "N. V. A", "091****001", "Thôn Đông", "telegram", "2", "3", "120", "",
         "12/12/2026 09:02:00", "Có", ""],
        ["4", ts["d"], "N. V. D", "091****004 (tự nhập)", "Thôn Đông", "telegram", "2", "3", "120", "",
         "12/12/2026 09:03:00", "Không", ""],
    ]
    out = tmp_path / "ket-qua.xlsx"
    result = await invoke(["contest", "results", "thu-nghiem", "--format", "xlsx", "--out", str(out),
                           "--personal"], env=env)
    assert result.exit_code == 0, result.output
    sheet = load_workbook(out).active
    assert sheet is not None
    values = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert values[0][0] == "Cuộc thi thử nghiệm"
    assert values[1] == heading
    assert [row[:4] for row in values[2:]] == [
        [1, ts["b"], "Nguyễn Văn B", "0912345002"], [2, ts["c"], "Nguyễn Văn C", "0912345003"],
        [3, ts["a"], "Nguyễn Văn A", "0912345001"], [4, ts["d"], "Nguyễn Văn D", "0912345004 (tự nhập)"]]


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


PRIZES = CONTEST.replace("id: thu-nghiem", "id: co-giai").replace(
    "time_limit_minutes: 10\n",
    "time_limit_minutes: 10\ncollect: [full_name, village, phone]\n"
    "predict_question: Theo Anh/Chị, bao nhiêu người sẽ trả lời đúng cả 3 câu?\n")


@pytest.fixture
def prizes(content: Path) -> Path:
    (content / "contests" / "co-giai.yaml").write_text(PRIZES, encoding="utf-8")
    return content


async def join_with_details(bot: BotApp, user: str, channel: str, phone: str | None = "0912 345 678",
                            contact: Contact | None = None, name: str = "nguyễn văn an") -> Response:
    """Rules, consent, the three details; returns what the phone (the last one) brought."""
    assert (await say(bot, payload="ct:go:co-giai", user=user, channel=channel)).outcome == "contest_consent"
    assert (await say(bot, payload="ct:ok:co-giai", user=user, channel=channel)).outcome == "contest_ask_name"
    assert (await say(bot, name, user=user, channel=channel)).outcome == "contest_ask_village"
    asked = await say(bot, "Thôn Đông", user=user, channel=channel)
    assert asked.outcome == "contest_ask_phone"
    [[share]] = asked.replies[0].buttons
    assert share.request == "phone"
    confirm = await bot.handle(Incoming(channel, user, text=phone or "", contact=contact))
    assert confirm.outcome == "contest_confirm", text(confirm)
    return await say(bot, payload="ct:start:co-giai", user=user, channel=channel)


async def test_details_are_asked_with_consent_and_kept_for_the_prize(cbot: BotApp, prizes: Path,
                                                                     database_url: str) -> None:
    rules = await say(cbot, "/cuocthi co-giai")
    assert "họ và tên, thôn/tổ dân phố, số điện thoại" in text(rules)
    consent = await say(cbot, payload="ct:go:co-giai")
    assert "được xóa 90 ngày sau khi cuộc thi kết thúc" in text(consent)
    assert (await say(cbot, payload="ct:ok:co-giai")).outcome == "contest_ask_name"
    assert (await say(cbot, "An 123")).outcome == "contest_ask_name"  # not a name: asked again
    await say(cbot, "nguyễn  văn an")
    await say(cbot, "Thôn Đông")
    assert (await say(cbot, "0912")).outcome == "contest_ask_phone"  # not a phone number
    confirm = await say(cbot, "+84 912 345 678")
    assert "- Họ và tên: Nguyễn Văn An\n- Thôn/tổ dân phố: Thôn Đông\n- Số điện thoại: 0912 345 678" in text(confirm)
    assert rows(database_url, ContestParticipant) == []  # nothing kept before it is confirmed
    assert (await say(cbot, "/cuocthi")).outcome == "contest_confirm"  # a break: read back again
    assert (await say(cbot, payload="ct:ok:co-giai")).outcome == "contest_ask_name"  # "Nhập lại"
    await say(cbot, "Nguyễn Văn An")
    await say(cbot, "Thôn Đông")
    assert (await say(cbot, "0912345678")).outcome == "contest_confirm"
    first = await say(cbot, payload="ct:start:co-giai")
    assert first.outcome == "contest_question" and "Câu 1/3." in text(first)
    [person] = rows(database_url, ContestParticipant)
    assert (person["full_name"], person["village"], person["phone"], person["phone_verified"],
            person["declined"]) == ("Nguyễn Văn An", "Thôn Đông", "0912345678", False, False)
    assert person["consent_at"] is not None
    [entry] = rows(database_url, ContestEntry)
    assert entry["participant_id"] == person["id"]


async def test_a_question_typed_amid_the_details_is_answered_and_the_details_resume(
        cbot: BotApp, prizes: Path) -> None:
    await say(cbot, payload="ct:go:co-giai")
    await say(cbot, payload="ct:ok:co-giai")
    answered = await say(cbot, "Làm căn cước cho con dưới 14 tuổi cần giấy tờ gì?")
    assert not answered.outcome.startswith("contest")
    again = await say(cbot, "/cuocthi")
    assert again.outcome == "contest_ask_name"


async def test_a_second_attempt_with_the_same_phone_is_refused_on_another_channel(
        cbot: BotApp, prizes: Path, clock: Clock, database_url: str) -> None:
    question = await join_with_details(cbot, "u1", "telegram", contact=Contact("+84912345678", verified=True))
    assert question.outcome == "contest_question"
    for _ in range(3):
        clock.advance(seconds=10)
        question = await say(cbot, payload=choice(question, 2))
    assert question.outcome == "contest_predict"
    done = await say(cbot, "khoảng 1.200 người")
    assert done.outcome == "contest_done" and "Dự đoán của Anh/Chị: 1200." in text(done)
    [person] = rows(database_url, ContestParticipant)
    assert f"Mã dự thi của Anh/Chị: **{service.pseudonym(person['id'])}**" in text(done)
    refused = await join_with_details(cbot, "z9", "zalo", phone="0912.345.678", name="Nguyễn Văn Bình")
    assert refused.outcome == "contest_no_attempts"
    assert len(rows(database_url, ContestEntry)) == 1 and len(rows(database_url, ContestParticipant)) == 1
    flags = {row["kind"]: row["detail"] for row in rows(database_url, ContestFlag)}
    assert set(flags) == {"shared_phone", "extra_attempt"}
    assert flags["shared_phone"] == "số điện thoại đã dự thi trên kênh telegram, nay dùng lại từ kênh zalo"
    [person] = rows(database_url, ContestParticipant)
    assert (person["phone_verified"], person["full_name"]) == (True, "Nguyễn Văn An")  # the first stays


async def test_declining_the_details_still_lets_one_take_part_outside_the_prizes(
        cbot: BotApp, prizes: Path, database_url: str) -> None:
    await say(cbot, payload="ct:go:co-giai")
    question = await say(cbot, payload="ct:no:co-giai")
    assert question.outcome == "contest_question"
    for _ in range(3):
        question = await say(cbot, payload=choice(question, 1))
    done = await say(cbot, "5")
    assert "không được xét giải" in text(done)
    [person] = rows(database_url, ContestParticipant)
    assert (person["declined"], person["full_name"], person["phone"], person["consent_at"]) == (True, None, None, None)


async def test_the_prediction_breaks_a_tie_before_the_time(cbot: BotApp, prizes: Path, clock: Clock,
                                                            database_url: str) -> None:
    async def take(user: str, seconds_per_answer: float, prediction: str) -> None:
        question = await join_with_details(cbot, user, "telegram", phone=f"09123456{len(user)}{user[-1]}")
        for number in (2, 1, 2):  # all right
            clock.advance(seconds=seconds_per_answer)
            question = await say(cbot, payload=choice(question, number), user=user)
        assert (await say(cbot, prediction, user=user)).outcome == "contest_done"

    await take("u1", 2, "9")    # the fastest, but 6 off the real number of full scores (3): last
    await take("u2", 5, "3")    # exact prediction, slower than u3
    await take("u3", 4, "3")    # exact, and faster: first
    async with cbot.database.session() as session:
        contest = service.contests(prizes)["co-giai"]
        assert contest.tie_breaks == ("prediction", "time", "finished")
        ranked = await service.ranking(session, contest)
    ids = [service.pseudonym(row["id"]) for row in sorted(rows(database_url, ContestParticipant),
                                                             key=lambda row: row["id"])]
    assert [(r.participant, r.prediction, r.seconds) for r in ranked] == [
        (ids[2], 3, 12), (ids[1], 3, 15), (ids[0], 9, 6)]


async def test_answers_faster_than_reading_are_flagged_not_dropped(cbot: BotApp, clock: Clock,
                                                                   database_url: str) -> None:
    question = await say(cbot, payload="ct:go:thu-nghiem")
    for _ in range(3):
        clock.advance(seconds=0.5)
        question = await say(cbot, payload=choice(question, 1))
    assert question.outcome == "contest_done"
    [flagged] = rows(database_url, ContestFlag)
    assert flagged["kind"] == "too_fast" and "3/3 câu" in flagged["detail"]
    [entry] = rows(database_url, ContestEntry)
    assert (entry["seconds"], entry["score"]) == ([0.5, 0.5, 0.5], 1)


async def test_a_patient_participant_is_not_flagged(cbot: BotApp, clock: Clock, database_url: str) -> None:
    question = await say(cbot, payload="ct:go:thu-nghiem")
    for _ in range(3):
        clock.advance(seconds=8)
        question = await say(cbot, payload=choice(question, 1))
    assert rows(database_url, ContestFlag) == []


async def test_the_details_are_erased_after_the_retention_but_the_ranking_stays(
        cbot: BotApp, prizes: Path, clock: Clock, database_url: str) -> None:
    question = await join_with_details(cbot, "u1", "telegram")
    for number in (2, 1, 2):
        question = await say(cbot, payload=choice(question, number))
    await say(cbot, "3")
    contest = service.contests(prizes)["co-giai"]
    ends = contest.ends.astimezone(dt.UTC)
    async with cbot.database.session() as session:
        assert await service.erase_expired(session, {"co-giai": contest}, 90,
                                           ends + dt.timedelta(days=89)) == 0
        await session.commit()
    assert rows(database_url, ContestParticipant)[0]["phone"] == "0912345678"
    async with cbot.database.session() as session:
        assert await service.erase_expired(session, {"co-giai": contest}, 90,
                                           ends + dt.timedelta(days=90)) == 1
        await session.commit()
        ranked = await service.ranking(session, contest)
    [person] = rows(database_url, ContestParticipant)
    assert (person["full_name"], person["phone"], person["village"]) == (None, None, None)
    assert person["person_key"] == f"erased:{person['id']}" and person["erased_at"] is not None
    [entry] = rows(database_url, ContestEntry)
    assert entry["user_key"] == f"erased:{person['id']}:1"
    assert [(r.participant, r.score, r.full_name, r.phone) for r in ranked] == [
        (service.pseudonym(person["id"]), 3, None, None)]


async def test_an_extended_contest_keeps_its_details(cbot: BotApp, prizes: Path, database_url: str) -> None:
    await join_with_details(cbot, "u1", "telegram")
    contest = service.contests(prizes)["co-giai"]
    later = contest.model_copy(update={"ends": contest.ends + dt.timedelta(days=30)})
    async with cbot.database.session() as session:
        moment = contest.ends + dt.timedelta(days=95)
        assert await service.erase_expired(session, {"co-giai": later}, 90, moment) == 0
        assert await service.erase_expired(session, {}, 90, moment) == 1  # the file is gone: stored date
        await session.commit()


async def test_a_file_saved_broken_keeps_its_last_good_version_serving(cbot: BotApp, content: Path) -> None:
    assert (await say(cbot, "/cuocthi")).outcome == "contest_rules"
    path = content / "contests" / "thu-nghiem.yaml"
    path.write_text(CONTEST.replace("title: Cuộc thi thử nghiệm", "title: Tên mới")
                    .replace("    answer: 1\n", "    answer: 4\n"), encoding="utf-8")
    found, problems = load_contests(content)
    assert [str(p) for p in problems] == [
        "contests/thu-nghiem.yaml:15: trường 'questions.1': đáp án 4 vượt quá số lựa chọn (3)"]
    assert found["thu-nghiem"].title == "Cuộc thi thử nghiệm"
    rules = await say(cbot, "/cuocthi")
    assert rules.outcome == "contest_rules" and "Cuộc thi thử nghiệm" in text(rules)
    path.write_text(CONTEST.replace("title: Cuộc thi thử nghiệm", "title: Cuộc thi đã sửa"), encoding="utf-8")
    assert "Cuộc thi đã sửa" in text(await say(cbot, "/cuocthi"))


def test_tie_breaks_and_the_draw_are_checked_with_their_lines(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text(CONTEST.replace("id: thu-nghiem", "id: x") + "tie_break: [prediction, time]\n"
                    "draw: {winners: 3, among: 2}\n", encoding="utf-8")
    assert [str(p) for p in load_contest(path, "x.yaml")[1]] == [
        "x.yaml:22: trường 'tie_break': dùng 'prediction' nhưng tệp không có 'predict_question'",
        "x.yaml:23: trường 'draw': 'among' (2) phải không nhỏ hơn 'winners' (3)"]


async def test_the_erasure_job_erases_what_is_due(cbot: BotApp, prizes: Path, clock: Clock,
                                                  database_url: str) -> None:
    await join_with_details(cbot, "u1", "telegram")
    assert await service.erase_due(cbot.database, prizes, 90) == 0
    clock.moment = dt.datetime(2026, 12, 20, 17, 0, tzinfo=TIMEZONE) + dt.timedelta(days=90)
    assert await service.erase_due(cbot.database, prizes, 90) == 1
    assert rows(database_url, ContestParticipant)[0]["phone"] is None


async def test_one_person_cannot_open_the_same_attempt_twice(cbot: BotApp, prizes: Path) -> None:
    """The same phone starting on two channels at once: the database lets one attempt 1 in."""
    from sqlalchemy.exc import IntegrityError

    contest = service.contests(prizes)["co-giai"]
    details = service.Details(full_name="Lê Thị Hoa", phone="0987654321", phone_verified=True, village="Tổ 3")
    moment = service.now()
    async with cbot.database.session() as session:
        person = await service.join(session, contest, channel="telegram", user_key="t" * 12, details=details,
                                    retention_days=90, moment=moment)
        again = await service.join(session, contest, channel="zalo", user_key="z" * 12, details=details,
                                   retention_days=90, moment=moment)
        assert again.id == person.id
        await service.begin(session, contest, person, channel="telegram", user_key="t" * 12, attempt=1,
                            moment=moment)
        await session.commit()
    async with cbot.database.session() as session:
        with pytest.raises(IntegrityError):
            await service.begin(session, contest, person, channel="zalo", user_key="z" * 12, attempt=1,
                                moment=moment)
    async with cbot.database.session() as session:
        assert len(await service.attempts(session, contest.id, person, "z" * 12)) == 1


async def test_the_main_menu_shows_the_contest_only_while_it_runs(cbot: BotApp, clock: Clock) -> None:
    running = await say(cbot, payload="menu")
    assert "ct:open:thu-nghiem" in payloads(running)
    assert (await say(cbot, payload="ct:open:thu-nghiem")).outcome == "contest_rules"
    clock.moment = dt.datetime(2026, 12, 21, 8, 0, tzinfo=TIMEZONE)
    assert not any(p.startswith("ct:") for p in payloads(await say(cbot, payload="menu")))
