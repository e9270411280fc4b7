"""A contest's figures as the organisers and the periodic report give them: participants,
attempts started and completed, full scores, by channel, by village (where collected), flags.
The same function serves the dashboard (the whole contest) and ``cchc-bot report`` (a period)."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.clock import aware
from bot.storage.models import ContestEntry, ContestFlag, ContestParticipant
from handlers.contest import service
from handlers.contest.contests import Contest

NO_VILLAGE = "Không cho biết"


@dataclass(frozen=True)
class Figures:
    participants: int  # people who joined
    started: int  # attempts opened
    completed: int  # attempts finished (answered through, or closed at the time limit)
    full_scores: int  # people with every question right
    by_channel: list[tuple[str, int, int]]  # (channel, participants who joined there, completed attempts)
    by_village: list[tuple[str, int, int]] | None  # (village, participants, completed attempts); None: not collected
    flags: dict[str, int]  # kind → how many


async def figures(session: AsyncSession, contest: Contest, start: dt.datetime | None = None,
                  end: dt.datetime | None = None) -> Figures:
    """The figures of the whole contest, or of what happened in ``[start, end)``: people who
    joined, attempts started, finished and flags raised within it."""

    def within(moment: dt.datetime | None) -> bool:
        return moment is not None and (start is None or aware(moment) >= start) and (
            end is None or aware(moment) < end)

    people = (await session.exec(select(ContestParticipant).where(
        ContestParticipant.contest_id == contest.id))).all()
    entries = (await session.exec(select(ContestEntry).where(ContestEntry.contest_id == contest.id))).all()
    kinds = (await session.exec(select(ContestFlag.kind, ContestFlag.created_at).where(
        ContestFlag.contest_id == contest.id))).all()

    joined = [p for p in people if within(p.created_at)]
    finished = [e for e in entries if within(e.finished_at)]
    village_of = {p.id: p.village or NO_VILLAGE for p in people}

    joined_by_channel = Counter(p.channel for p in joined)
    finished_by_channel = Counter(e.channel for e in finished)
    channels = sorted(set(joined_by_channel) | set(finished_by_channel),
                      key=lambda c: (-joined_by_channel[c], -finished_by_channel[c], c))
    by_village = None
    if "village" in contest.collect:
        joined_by_village = Counter(village_of[p.id] for p in joined)
        finished_by_village = Counter(village_of.get(e.participant_id, NO_VILLAGE) for e in finished)
        villages = sorted(set(joined_by_village) | set(finished_by_village),
                          key=lambda v: (v == NO_VILLAGE, -joined_by_village[v], v))
        by_village = [(v, joined_by_village[v], finished_by_village[v]) for v in villages]
    return Figures(
        participants=len(joined),
        started=sum(1 for e in entries if within(e.started_at)),
        completed=len(finished),
        full_scores=service.full_scores(finished),
        by_channel=[(c, joined_by_channel[c], finished_by_channel[c]) for c in channels],
        by_village=by_village,
        flags=dict(Counter(kind for kind, created in kinds if within(created))))


def ran_within(contest: Contest, start: dt.datetime, end: dt.datetime) -> bool:
    """Was the contest open at some moment of ``[start, end)``?"""
    return contest.starts < end and contest.ends > start


def status(contest: Contest, moment: dt.datetime) -> str:
    if moment < contest.starts:
        return "upcoming"
    return "running" if moment < contest.ends else "ended"


STATUS_LABELS = {"upcoming": "chưa bắt đầu", "running": "đang diễn ra", "ended": "đã kết thúc"}
