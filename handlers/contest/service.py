"""Participants, attempts, answers, flags and the ranking, all in the database so any worker
(any machine) serves the next press: the chat keeps nothing but the buttons it shows.

One participant is one person per contest: found by the phone where the contest collects it
(so a second attempt from Zalo with the Telegram phone is refused), else by the channel user.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import random
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select as columns  # plain rows of chosen columns (sqlmodel's types four)
from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.clock import aware
from bot.storage.db import Database
from bot.storage.models import ContestEntry, ContestFlag, ContestParticipant, utcnow
from handlers.contest.contests import Contest, Question, load_contests

log = logging.getLogger(__name__)

__all__ = ["aware", "utcnow"]  # tests drive the server's clock through utcnow

ENTRY = ContestEntry.__table__.c  # type: ignore[attr-defined]  # the columns, for plain-row reads
PERSON = ContestParticipant.__table__.c  # type: ignore[attr-defined]
READING_WORDS_PER_SECOND = 5.0  # a fast reader: answers quicker than this for most questions are flagged


def now() -> dt.datetime:
    return utcnow()


# --- the contest files ---------------------------------------------------------------------------

def contests(content_root: Path) -> dict[str, Contest]:
    """The contest files as they are now (an edit counts on the next message; a file saved
    broken keeps its last good version: ``contests.load_contests``)."""
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


# --- participants --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Details:
    """What the citizen gave for the prize-giving, with their consent."""

    full_name: str | None = None
    phone: str | None = None
    phone_verified: bool = False
    village: str | None = None


def pseudonym(number: int) -> str:
    return f"TS-{number:04d}"


def person_key(contest: Contest, user_key: str, phone: str | None) -> str:
    """The phone where the contest collects it (hashed: the key outlives nothing, but a log or
    a backup need not show the number), else the channel user."""
    if phone is not None and "phone" in contest.collect:
        return "tel:" + hashlib.sha256(f"{contest.id}:{phone}".encode()).hexdigest()[:48]
    return "usr:" + user_key[:56]


async def participant_of(session: AsyncSession, contest_id: str, user_key: str) -> ContestParticipant | None:
    """The participant this channel user took part as: through their latest attempt, else
    the participant keyed by the channel user itself (joined, no attempt yet)."""
    entry = (await session.exec(select(ContestEntry).where(
        ContestEntry.contest_id == contest_id, ContestEntry.user_key == user_key,
        col(ContestEntry.participant_id).is_not(None)).order_by(col(ContestEntry.id).desc()))).first()
    if entry is not None:
        return await session.get(ContestParticipant, entry.participant_id)
    return (await session.exec(select(ContestParticipant).where(
        ContestParticipant.contest_id == contest_id,
        ContestParticipant.person_key == "usr:" + user_key[:56]))).first()


async def join(session: AsyncSession, contest: Contest, *, channel: str, user_key: str,
               details: Details | None, retention_days: int, moment: dt.datetime) -> ContestParticipant:
    """The participant for these details: the existing one when the same person (phone, or
    channel user) joined before, else a new one. ``details`` None: the citizen declined to give
    them (they take part, outside the prize-giving). Raises IntegrityError when the same person
    joined at this very moment elsewhere (the caller says "busy"; the next press finds them)."""
    key = person_key(contest, user_key, details.phone if details else None)
    found = (await session.exec(select(ContestParticipant).where(
        ContestParticipant.contest_id == contest.id, ContestParticipant.person_key == key))).first()
    if found is not None:
        return found
    wanted = set(contest.collect)
    row = ContestParticipant(
        contest_id=contest.id, person_key=key, channel=channel,
        full_name=details.full_name if details and "full_name" in wanted else None,
        phone=details.phone if details and "phone" in wanted else None,
        phone_verified=bool(details and details.phone_verified and "phone" in wanted),
        village=details.village if details and "village" in wanted else None,
        consent_at=moment if details is not None and wanted else None,
        declined=details is None and bool(wanted), created_at=moment,
        erase_after=(contest.ends + dt.timedelta(days=retention_days)).astimezone(dt.UTC))
    session.add(row)
    await session.flush()
    return row


async def attempts(session: AsyncSession, contest_id: str, participant: ContestParticipant | None,
                   user_key: str) -> list[ContestEntry]:
    """The attempts counted against this person, oldest first: the participant's (every
    channel they used), else the channel user's."""
    where = (ContestEntry.participant_id == participant.id if participant is not None
             else ContestEntry.user_key == user_key)
    return list((await session.exec(select(ContestEntry).where(
        ContestEntry.contest_id == contest_id, where).order_by(col(ContestEntry.attempt)))).all())


def open_entry(rows: list[ContestEntry]) -> ContestEntry | None:
    return next((row for row in rows if row.finished_at is None), None)


async def flag(session: AsyncSession, contest_id: str, kind: str, detail: str, *,
               participant_id: int | None = None, entry_id: int | None = None) -> None:
    """A note for the organisers; the same kind for the same participant is noted once."""
    same = (await session.exec(select(ContestFlag.id).where(
        ContestFlag.contest_id == contest_id, ContestFlag.kind == kind,
        ContestFlag.participant_id == participant_id, ContestFlag.entry_id == entry_id))).first()
    if same is None:
        session.add(ContestFlag(contest_id=contest_id, participant_id=participant_id, entry_id=entry_id,
                                kind=kind, detail=detail[:500], created_at=utcnow()))
        await session.flush()


# --- attempts ------------------------------------------------------------------------------------


async def begin(session: AsyncSession, contest: Contest, participant: ContestParticipant, *,
                channel: str, user_key: str, attempt: int, moment: dt.datetime,
                rng: random.Random | None = None) -> ContestEntry:
    """A new attempt with its questions drawn; raises IntegrityError when another worker (or
    the same person on another channel) opened the same attempt first."""
    bank = list(range(len(contest.questions)))
    drawn = (rng or random.SystemRandom()).sample(bank, contest.drawn) if contest.question_count else bank
    deadline = (moment + dt.timedelta(minutes=contest.time_limit_minutes)
                if contest.time_limit_minutes else None)
    entry = ContestEntry(contest_id=contest.id, channel=channel, user_key=user_key, attempt=attempt,
                         participant_id=participant.id, started_at=moment, asked_at=moment,
                         deadline_at=deadline, questions=drawn)
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
    second press, here or on another worker): False then. The seconds it took are measured
    from when the question was shown (the previous answer, or the start)."""
    asked = aware(entry.asked_at or entry.started_at)
    answers = [*entry.answers, choice]
    seconds = [*(entry.seconds or []), round(max(0.0, (moment - asked).total_seconds()), 1)]
    done = len(answers) >= len(entry.questions)
    values: dict[str, object] = {"answers": answers, "answered": len(answers), "seconds": seconds,
                                 "asked_at": moment}
    if done:
        values.update(finished_at=moment, score=score_of(contest, entry.questions, answers))
    result = await session.exec(
        update(ContestEntry)
        .where(col(ContestEntry.id) == entry.id, col(ContestEntry.answered) == position)
        .values(**values))
    if result.rowcount != 1:
        return False
    await session.refresh(entry)
    if done:
        await _check_pace(session, contest, entry)
    return True


def reading_seconds(question: Question) -> float:
    words = len(question.text.split()) + sum(len(choice.split()) for choice in question.choices)
    return words / READING_WORDS_PER_SECOND


async def _check_pace(session: AsyncSession, contest: Contest, entry: ContestEntry) -> None:
    """Most answers given faster than the question can be read: flagged, the score stands."""
    paces = [(seconds, reading_seconds(contest.questions[index]))
             for index, seconds in zip(entry.questions, entry.seconds or [], strict=False)]
    fast = [seconds for seconds, needed in paces if seconds < needed]
    if len(paces) >= 2 and len(fast) * 2 > len(paces):
        median = statistics.median(seconds for seconds, _ in paces)
        await flag(session, contest.id, "too_fast",
                   f"{len(fast)}/{len(paces)} câu trả lời nhanh hơn thời gian đọc câu hỏi "
                   f"(trung vị {median:.1f} giây/câu)",
                   participant_id=entry.participant_id, entry_id=entry.id)


async def close(session: AsyncSession, contest: Contest, entry: ContestEntry, moment: dt.datetime) -> None:
    """End an attempt that ran out of time: what was answered in time counts."""
    end = min(moment, contest.ends)
    if entry.deadline_at is not None:
        end = min(end, aware(entry.deadline_at))
    entry.finished_at, entry.timed_out, entry.score = end, True, score_of(contest, entry.questions, entry.answers)
    session.add(entry)
    await session.flush()


def awaits_prediction(contest: Contest, entry: ContestEntry) -> bool:
    return (contest.predict_question is not None and entry.finished_at is not None
            and not entry.timed_out and entry.prediction is None)


async def record_prediction(session: AsyncSession, entry: ContestEntry, number: int) -> bool:
    """The prediction, once: a second message does not change it."""
    result = await session.exec(update(ContestEntry).where(
        col(ContestEntry.id) == entry.id, col(ContestEntry.prediction).is_(None)).values(prediction=number))
    await session.refresh(entry)
    return result.rowcount == 1


# --- the ranking ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ranked:
    rank: int
    participant: str  # the pseudonym, TS-0007: what the ranking keeps after erasure
    channel: str
    score: int
    questions: int
    seconds: int
    finished_at: dt.datetime
    prediction: int | None
    eligible: bool  # gave the details the contest collects: in the prize-giving
    full_name: str | None  # personal data: None once erased; shown only to officials
    phone: str | None
    phone_verified: bool
    village: str | None
    flags: tuple[str, ...]  # the flags' kinds, for the organisers' eyes


def full_scores(attempts: list) -> int:
    """How many people answered every question right (the number ``predict_question`` asks
    for), among these finished attempts."""
    return len({row.participant_id or row.user_key for row in attempts if row.score == len(row.questions)})


async def ranking(session: AsyncSession, contest: Contest) -> list[Ranked]:
    """Each participant's best finished attempt, ranked by score, then the contest's tie-breaks
    in order (the prediction's distance from the real number of full scores, the time taken,
    who finished first). Reads plain columns, not ORM rows: the jury's page ranks thousands."""
    finished: Any = columns(
        ENTRY.id, ENTRY.participant_id, ENTRY.user_key, ENTRY.channel, ENTRY.score, ENTRY.started_at,
        ENTRY.finished_at, ENTRY.prediction, ENTRY.questions).where(
        ENTRY.contest_id == contest.id, ENTRY.finished_at.is_not(None))
    attempts: list[Any] = list((await session.exec(finished)).all())
    joined: Any = columns(
        PERSON.id, PERSON.declined, PERSON.full_name, PERSON.phone, PERSON.phone_verified, PERSON.village).where(
        PERSON.contest_id == contest.id)
    people: dict[int, Any] = {row.id: row for row in (await session.exec(joined)).all()}
    flags: dict[int | None, set[str]] = {}
    for participant_id, kind in (await session.exec(select(ContestFlag.participant_id, ContestFlag.kind).where(
            ContestFlag.contest_id == contest.id))).all():
        flags.setdefault(participant_id, set()).add(kind)
    best = _best(attempts, contest, full_scores(attempts))
    ranked = []
    for rank, (_, row) in enumerate(sorted(best.values(), key=lambda pair: pair[0]), start=1):
        person = people.get(row.participant_id) if row.participant_id is not None else None
        finished, started = aware(row.finished_at), aware(row.started_at)
        ranked.append(Ranked(
            rank=rank, participant=pseudonym(person.id) if person else row.user_key[:10],
            channel=row.channel, score=row.score or 0, questions=len(row.questions),
            seconds=round((finished - started).total_seconds()), finished_at=finished,
            prediction=row.prediction, eligible=person is not None and not person.declined,
            full_name=person.full_name if person else None, phone=person.phone if person else None,
            phone_verified=bool(person and person.phone_verified),
            village=person.village if person else None,
            flags=tuple(sorted(flags.get(row.participant_id, ())))))
    return ranked


def _best(attempts: list, contest: Contest, actual: int) -> dict[object, tuple[tuple, Any]]:
    """Each person's best attempt with its sort key (computed once per attempt)."""
    best: dict[object, tuple[tuple, Any]] = {}
    for row in attempts:
        finished = aware(row.finished_at)
        parts: list[object] = [-(row.score or 0)]
        for rule in contest.tie_breaks:
            if rule == "prediction":
                parts.append(abs(row.prediction - actual) if row.prediction is not None else float("inf"))
            elif rule == "time":
                parts.append((finished - aware(row.started_at)).total_seconds())
            else:
                parts.append(finished)
        parts.append(row.id)  # a total order: equal on every rule, the earlier attempt first
        key = tuple(parts)
        person = row.participant_id or row.user_key
        if person not in best or key < best[person][0]:
            best[person] = (key, row)
    return best


# --- retention -----------------------------------------------------------------------------------


async def erase_expired(session: AsyncSession, found: dict[str, Contest], retention_days: int,
                        moment: dt.datetime) -> int:
    """Erase the prize-giving details kept past the retention period (from the contest's end,
    as the file says now, else as it said when they joined): name, phone, village, and the
    link to the chat account. The ranking stays, under the pseudonyms. Returns how many."""
    due = (await session.exec(select(ContestParticipant).where(
        col(ContestParticipant.erased_at).is_(None),
        col(ContestParticipant.erase_after) <= moment))).all()
    erased = 0
    for person in due:
        contest = found.get(person.contest_id)
        if contest is not None and contest.ends + dt.timedelta(days=retention_days) > moment:
            continue  # the contest was extended: its details are still needed
        person.full_name = person.phone = person.village = None
        person.person_key, person.erased_at = f"erased:{person.id}", moment
        session.add(person)
        for entry in (await session.exec(select(ContestEntry).where(
                ContestEntry.participant_id == person.id))).all():
            entry.user_key = f"erased:{person.id}:{entry.attempt}"
            session.add(entry)
        erased += 1
    await session.flush()
    return erased


async def erase_due(database: Database, content_root: Path, retention_days: int) -> int:
    """The periodic job: erase what is due now (bot/root.py runs it in one process at a time)."""
    async with database.session() as session:
        erased = await erase_expired(session, contests(content_root), retention_days, now())
        await session.commit()
    if erased:
        log.info("contest details erased for %d participants (retention %d days)", erased, retention_days)
    return erased
