"""A contest that has run, for the organisers' tests (draw, dashboard, report): its file and a
seeded set of participants, attempts and flags whose figures the tests know exactly."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.content.loader import TIMEZONE
from bot.storage.models import ContestEntry, ContestFlag, ContestParticipant
from tests.web_support import FIXTURE

CONTEST_ID = "hoi-thi-xa"
CONTEST = """\
id: hoi-thi-xa
title: Hội thi tìm hiểu CCHC của xã
organiser: UBND xã Thử Nghiệm
starts: 2026-12-10 07:00:00
ends: 2026-12-20 17:00:00
rules: |
  Mỗi người một lượt.
collect: [full_name, phone, village]
draw:
  winners: 2
questions:
  - text: Khai sinh trong bao lâu?
    choices: [15 ngày, 60 ngày]
    answer: 2
  - text: Khai tử trong bao lâu?
    choices: [15 ngày, 60 ngày]
    answer: 1
  - text: Toàn trình là mức độ mấy trước đây?
    choices: [Mức độ 3, Mức độ 4]
    answer: 2
"""
# Another contest, next year: outside December's report.
LATER = CONTEST.replace("hoi-thi-xa", "hoi-thi-sau").replace("2026-12-10", "2027-03-01").replace(
    "2026-12-20", "2027-03-20").replace("Hội thi tìm hiểu CCHC của xã", "Hội thi năm sau")
RUNNING = dt.datetime(2026, 12, 12, 9, 0, tzinfo=TIMEZONE)
ENDED = dt.datetime(2026, 12, 21, 8, 0, tzinfo=TIMEZONE)

# number, full name, phone, village, channel, declined, score (None: not finished), seconds taken
PEOPLE = [
    (1, "Nguyễn Văn An", "0912345678", "Thôn Đông", "telegram", False, 3, 100),
    (2, "Trần Thị Bình", "0987654321", "Thôn Đoài", "zalo", False, 3, 200),
    (3, None, None, None, "telegram", True, 3, 50),  # the fastest, but gave no details: not eligible
    (4, "Phạm Thị Dung", "0901234567", "Thôn Đông", "web", False, 3, 300),
    (5, "Hoàng Văn Em", "0911111111", "Thôn Đoài", "zalo", False, 2, 60),
    (6, "Vũ Thị Gấm", "0922222222", "Thôn Đông", "telegram", False, None, 0),  # still answering
]
# The ranking: score, then the time taken.
RANKED = ["TS-0003", "TS-0001", "TS-0002", "TS-0004", "TS-0005"]
BEST_ELIGIBLE = ["TS-0001", "TS-0002", "TS-0004"]  # the draw's pool: eligible, with the best score


def contest_content(tmp_path: Path, *files: str) -> Path:
    """The fixture content with the contest files ``files`` (default: the one that ran)."""
    root = tmp_path / "content"
    shutil.copytree(FIXTURE, root)
    (root / "contests").mkdir()
    for text in files or (CONTEST,):
        contest_id = text.split("\n", 1)[0].removeprefix("id: ")
        (root / "contests" / f"{contest_id}.yaml").write_text(text, encoding="utf-8")
    return root


async def seed(session: AsyncSession, contest_id: str = CONTEST_ID) -> dict[int, int]:
    """The participants of ``PEOPLE`` (TS-0001 to TS-0006), one attempt each, a "too fast" flag on TS-0002 and a
    "shared phone" flag on TS-0005. Returns the participants' ids by number."""
    start = RUNNING.astimezone(dt.UTC)
    ids: dict[int, int] = {}
    for number, name, phone, village, channel, declined, _, _ in PEOPLE:
        person = ContestParticipant(
            contest_id=contest_id, person_key=f"usr:{channel}:{number}", channel=channel,
            full_name=name, phone=phone, phone_verified=phone is not None, village=village,
            consent_at=None if declined else start, declined=declined, created_at=start,
            erase_after=start + dt.timedelta(days=120))
        session.add(person)
        await session.flush()
        assert person.id == number  # the pseudonym is the id: TS-0001 first (a fresh database)
        ids[number] = person.id
    for number, _, _, _, channel, _, score, seconds in PEOPLE:
        began = start + dt.timedelta(minutes=number)
        session.add(ContestEntry(
            contest_id=contest_id, channel=channel, user_key=f"{channel}:{number}", participant_id=ids[number],
            started_at=began, questions=[0, 1, 2], answered=3 if score is not None else 1,
            answers=[2, 1, 2] if score == 3 else [2, 1, 1] if score == 2 else [2],
            finished_at=began + dt.timedelta(seconds=seconds) if score is not None else None, score=score))
    session.add(ContestFlag(contest_id=contest_id, participant_id=ids[2], kind="too_fast",
                            detail="3/3 câu trả lời nhanh hơn thời gian đọc câu hỏi", created_at=start))
    session.add(ContestFlag(contest_id=contest_id, participant_id=ids[5], kind="shared_phone",
                            detail="số điện thoại đã dùng ở một tài khoản khác", created_at=start))
    await session.commit()
    return ids
