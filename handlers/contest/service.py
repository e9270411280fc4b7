"""Attempts, answers, scores and the ranking, all in the database so any worker serves the next
press: the chat keeps nothing but the buttons it shows."""

from __future__ import annotations

import csv
import datetime as dt
import io
import random
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.clock import aware, local
from bot.storage.models import ContestEntry, utcnow
from handlers.contest.contests import Contest, load_contests

__all__ = ["aware", "utcnow"]  # tests drive the server's clock through utcnow

HEADINGS = ("Hạng", "Mã người dự thi", "Kênh", "Số câu đúng", "Tổng số câu",
            "Thời gian làm bài (giây)", "Thời điểm hoàn thành")


def now() -> dt.datetime:
    return utcnow()


def contests(content_root: Path) -> dict[str, Contest]:
    """The contest files as they are now: a file saved while the bot runs counts on the next
    message, and a broken one is left out (``cchc-bot contest check`` names its line)."""
    return load_contests(content_root)[0]


def pick(found: dict[str, Contest], moment: dt.datetime) -> Contest | None:
    """The contest to open: the one running, else the next to start, else the last ended."""
    running = [c for c in found.values() if c.starts <= moment < c.ends]
    if running:
        return min(running, key=lambda c: c.ends)
    upcoming = [c for c in found.values() if moment < c.starts]
    if upcoming:
        return min(upcoming, key=lambda c: c.starts)
    return max(found.values(), key=lambda c: c.ends, default=None)


async def entries(session: AsyncSession, contest_id: str, user_key: str) -> list[ContestEntry]:
    """The user's attempts, oldest first."""
    return list((await session.exec(select(ContestEntry).where(
        ContestEntry.contest_id == contest_id, ContestEntry.user_key == user_key)
        .order_by(col(ContestEntry.attempt)))).all())


def open_entry(rows: list[ContestEntry]) -> ContestEntry | None:
    return next((row for row in rows if row.finished_at is None), None)


async def begin(session: AsyncSession, contest: Contest, *, channel: str, user_key: str,
                attempt: int, moment: dt.datetime, rng: random.Random | None = None) -> ContestEntry:
    """A new attempt with its questions drawn; raises IntegrityError when another worker opened
    the same attempt first."""
    bank = list(range(len(contest.questions)))
    drawn = (rng or random.SystemRandom()).sample(bank, contest.drawn) if contest.question_count else bank
    deadline = (moment + dt.timedelta(minutes=contest.time_limit_minutes)
                if contest.time_limit_minutes else None)
    entry = ContestEntry(contest_id=contest.id, channel=channel, user_key=user_key, attempt=attempt,
                         started_at=moment, deadline_at=deadline, questions=drawn)
    session.add(entry)
    await session.flush()
    return entry


def expired(entry: ContestEntry, contest: Contest, moment: dt.datetime) -> bool:
    """Past the time limit or the contest's end, on the server's clock."""
    limit = aware(entry.deadline_at) if entry.deadline_at is not None else None
    return moment >= contest.ends or (limit is not None and moment >= limit)


def score_of(contest: Contest, drawn: list[int], answers: list[int]) -> int:
    return sum(1 for index, chosen in zip(drawn, answers, strict=False)
               if contest.questions[index].answer == chosen)


async def record_answer(session: AsyncSession, contest: Contest, entry: ContestEntry,
                        position: int, choice: int, moment: dt.datetime) -> bool:
    """Store the answer to question ``position`` (0-based) unless it was answered already (a
    second press, here or on another worker): False then."""
    answers = [*entry.answers, choice]
    done = len(answers) >= len(entry.questions)
    values: dict[str, object] = {"answers": answers, "answered": len(answers)}
    if done:
        values.update(finished_at=moment, score=score_of(contest, entry.questions, answers))
    result = await session.exec(
        update(ContestEntry)
        .where(col(ContestEntry.id) == entry.id, col(ContestEntry.answered) == position)
        .values(**values))
    if result.rowcount != 1:
        return False
    await session.refresh(entry)
    return True


async def close(session: AsyncSession, contest: Contest, entry: ContestEntry, moment: dt.datetime) -> None:
    """End an attempt that ran out of time: what was answered in time counts."""
    end = min(moment, contest.ends)
    if entry.deadline_at is not None:
        end = min(end, aware(entry.deadline_at))
    entry.finished_at, entry.timed_out, entry.score = end, True, score_of(contest, entry.questions, entry.answers)
    session.add(entry)
    await session.flush()


@dataclass(frozen=True)
class Ranked:
    rank: int
    participant: str  # the user's pseudonym, shortened: no personal data in this slice
    channel: str
    score: int
    questions: int
    seconds: int
    finished_at: dt.datetime


async def ranking(session: AsyncSession, contest_id: str) -> list[Ranked]:
    """Each participant's best finished attempt, ranked by score, then time taken, then who
    finished first."""
    rows = (await session.exec(select(ContestEntry).where(
        ContestEntry.contest_id == contest_id, col(ContestEntry.finished_at).is_not(None)))).all()

    def key(row: ContestEntry) -> tuple[int, float, dt.datetime]:
        assert row.finished_at is not None
        taken = (aware(row.finished_at) - aware(row.started_at)).total_seconds()
        return -(row.score or 0), taken, aware(row.finished_at)

    best: dict[str, ContestEntry] = {}
    for row in sorted(rows, key=key):
        best.setdefault(row.user_key, row)
    ranked = []
    for rank, row in enumerate(sorted(best.values(), key=key), start=1):
        _, taken, finished = key(row)
        ranked.append(Ranked(rank, row.user_key[:10], row.channel, row.score or 0, len(row.questions),
                             round(taken), finished))
    return ranked


async def participants(session: AsyncSession, contest_id: str) -> int:
    found = await session.exec(select(func.count(func.distinct(ContestEntry.user_key)))
                               .where(ContestEntry.contest_id == contest_id))
    return int(found.one())


def _cells(row: Ranked) -> list[object]:
    return [row.rank, row.participant, row.channel, row.score, row.questions, row.seconds,
            local(row.finished_at).strftime("%d/%m/%Y %H:%M:%S")]


def to_csv(rows: list[Ranked]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADINGS)
    writer.writerows(_cells(row) for row in rows)
    return out.getvalue()


def to_xlsx(rows: list[Ranked], title: str) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Xếp hạng"
    sheet.append([title])
    sheet.append(list(HEADINGS))
    for row in rows:
        sheet.append(_cells(row))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
