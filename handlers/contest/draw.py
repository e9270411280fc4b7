"""The draw among the best, where the contest's rules say so (``draw:`` in its file).

The pool is the eligible participants (they gave the details the prize-giving needs) with the
best score, or the first ``draw.among`` of them in the ranking; the winners are drawn from it
with ``random.Random(seed)``. Each draw is recorded with its pool (pseudonyms, in ranking order)
and its seed, so anyone can replay it: ``random.Random(seed).sample(pool, len(winners))``.
A flagged participant stays in the pool: the organisers decide, the draw shows the flags.
"""

from __future__ import annotations

import datetime as dt
import random
import secrets

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.storage.models import ContestDraw
from handlers.contest.contests import Contest, when
from handlers.contest.service import Ranked, now, ranking


class DrawError(Exception):
    """A draw that cannot be made; the message is for the official, in Vietnamese."""


def pool_of(contest: Contest, ranked: list[Ranked]) -> list[Ranked]:
    """Who the winners are drawn from, in ranking order."""
    assert contest.draw is not None
    eligible = [row for row in ranked if row.eligible]
    if contest.draw.among is not None:
        return eligible[:contest.draw.among]
    best = max((row.score for row in eligible), default=None)
    return [row for row in eligible if row.score == best]


def choose(pool: list[str], winners: int, seed: str) -> list[str]:
    """The winners, in the order drawn: the same pool and seed always draw the same."""
    return random.Random(seed).sample(pool, winners)


def replays(row: ContestDraw) -> bool:
    """Does the recorded draw come out the same from its pool and seed?"""
    return choose(list(row.pool), len(row.winners), row.seed) == list(row.winners)


def describe(contest: Contest) -> str:
    """The draw as the rules say it, for the organisers' pages."""
    assert contest.draw is not None
    among = (f"{contest.draw.among} người dự thi xếp hạng cao nhất" if contest.draw.among
             else "những người dự thi đạt điểm cao nhất")
    return f"Bốc thăm {contest.draw.winners} người trong số {among} (đủ điều kiện xét giải)."


async def draw(session: AsyncSession, contest: Contest, *, drawn_by: str, seed: str | None = None,
               moment: dt.datetime | None = None) -> ContestDraw:
    """Draw and record (flushed; the caller commits). Raises DrawError when the contest has no
    draw in its rules, has not ended, or has fewer eligible participants than winners."""
    moment = moment or now()
    if contest.draw is None:
        raise DrawError(f"thể lệ cuộc thi «{contest.title}» không có bốc thăm (mục 'draw' trong tệp)")
    if moment < contest.ends:
        raise DrawError(f"cuộc thi «{contest.title}» chưa kết thúc (kết thúc lúc {when(contest.ends)}); "
                        "chỉ bốc thăm sau khi cuộc thi kết thúc")
    pool = [row.participant for row in pool_of(contest, await ranking(session, contest))]
    if len(pool) < contest.draw.winners:
        raise DrawError(f"chỉ có {len(pool)} người đủ điều kiện bốc thăm, ít hơn số giải "
                        f"({contest.draw.winners}); Ban tổ chức xét giải trực tiếp theo bảng xếp hạng")
    seed = (seed.strip() if seed and seed.strip() else secrets.token_hex(16))[:64]
    row = ContestDraw(contest_id=contest.id, drawn_at=moment, drawn_by=drawn_by[:64], pool=pool,
                      winners=choose(pool, contest.draw.winners, seed), seed=seed)
    session.add(row)
    await session.flush()
    return row


async def history(session: AsyncSession, contest_id: str) -> list[ContestDraw]:
    """The draws made for a contest, the latest first."""
    return list((await session.exec(select(ContestDraw).where(ContestDraw.contest_id == contest_id)
                                    .order_by(col(ContestDraw.id).desc()))).all())
