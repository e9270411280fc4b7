"""The draw among the best (``draw:`` in the contest file) on a real database: its pool, its
replay from the recorded seed, the flags shown, the refusals, and ``cchc-bot contest draw``."""

from __future__ import annotations

import asyncio
import functools
import random
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlmodel import select

from bot.app import BotApp
from bot.cli import main
from bot.root import build_app
from bot.storage.models import ContestDraw
from handlers.contest import draw as draws
from handlers.contest import service
from tests.conftest import make_settings
from tests.contest_support import (
    BEST_ELIGIBLE,
    CONTEST,
    CONTEST_ID,
    ENDED,
    RUNNING,
    contest_content,
    seed,
)


@pytest.fixture
def content(tmp_path: Path) -> Path:
    return contest_content(tmp_path)


@pytest.fixture
def at(monkeypatch: pytest.MonkeyPatch):
    """Set the server's clock (the contest's service reads it)."""
    def set_clock(moment) -> None:
        monkeypatch.setattr(service, "utcnow", lambda: moment)
    set_clock(ENDED)
    return set_clock


@pytest.fixture
async def dbot(database_url: str, content: Path) -> AsyncIterator[BotApp]:
    app = build_app(make_settings(database_url, content=content))
    async with app.database.session() as session:
        await seed(session)
    yield app
    await app.close()


def rewrite(content: Path, old: str, new: str) -> None:
    path = content / "contests" / f"{CONTEST_ID}.yaml"
    path.write_text(CONTEST.replace(old, new), encoding="utf-8")


def cli(content: Path, database_url: str):
    env = {"CCHC_CONTENT_PATH": str(content), "CCHC_PSEUDONYM_SALT": "test-salt", "CCHC_DATABASE_URL": database_url}
    run = functools.partial(CliRunner().invoke, main, env=env)
    return lambda *args: asyncio.to_thread(run, list(args))  # the CLI runs its own event loop


async def test_the_draw_replays_exactly_from_its_seed(dbot: BotApp, content: Path, at) -> None:
    contest = service.contests(content)[CONTEST_ID]
    async with dbot.database.session() as session:
        given = await draws.draw(session, contest, drawn_by="test", seed="hoi-dong-giam-khao")
        chosen = await draws.draw(session, contest, drawn_by="test")  # a seed of its own
        await session.commit()
    async with dbot.database.session() as session:
        recorded = (await session.exec(select(ContestDraw).order_by(ContestDraw.id))).all()
    assert [(r.seed, r.pool) for r in recorded][0] == ("hoi-dong-giam-khao", BEST_ELIGIBLE)
    assert len(recorded[1].seed) == 32 and recorded[1].pool == BEST_ELIGIBLE
    for row, made in zip(recorded, (given, chosen), strict=True):
        # what the jury runs, with nothing but the standard library and the recorded row
        assert random.Random(row.seed).sample(row.pool, 2) == row.winners == made.winners
        assert len(set(row.winners)) == 2 and set(row.winners) <= set(BEST_ELIGIBLE)
        assert draws.replays(row)
    row.winners = list(reversed(row.winners))
    assert not draws.replays(row)  # a tampered record does not replay


async def test_only_eligible_people_are_in_the_pool(dbot: BotApp, content: Path, at) -> None:
    async with dbot.database.session() as session:
        ranked = await service.ranking(session, service.contests(content)[CONTEST_ID])
        assert ranked[0].participant == "TS-0003" and not ranked[0].eligible  # first, but no details
        assert [r.participant for r in draws.pool_of(service.contests(content)[CONTEST_ID], ranked)] == BEST_ELIGIBLE
        rewrite(content, "  winners: 2\n", "  winners: 2\n  among: 4\n")
        among = service.contests(content)[CONTEST_ID]
        row = await draws.draw(session, among, drawn_by="test", seed="s")
    assert row.pool == ["TS-0001", "TS-0002", "TS-0004", "TS-0005"]  # the first four eligible, in ranking order


async def test_flagged_participants_stay_in_the_pool_and_are_shown_flagged(
        dbot: BotApp, content: Path, database_url: str, at) -> None:
    # a seed whose draw picks TS-0002, flagged "too fast"
    lucky = next(s for s in (f"ban-to-chuc-{n}" for n in range(50))
                 if "TS-0002" in random.Random(s).sample(BEST_ELIGIBLE, 2))
    run = cli(content, database_url)
    result = await run("contest", "draw", CONTEST_ID, "--seed", lucky)
    assert result.exit_code == 0, result.output
    assert f"3 người trong diện bốc thăm, hạt giống {lucky}." in result.output
    winners = random.Random(lucky).sample(BEST_ELIGIBLE, 2)
    lines = [line.strip() for line in result.output.splitlines() if line.startswith("  ")]
    expected = {"TS-0001": "TS-0001 (hạng 2, đúng 3/3 câu)",
                "TS-0002": "TS-0002 (hạng 3, đúng 3/3 câu) — cần xem xét: trả lời nhanh hơn thời gian đọc",
                "TS-0004": "TS-0004 (hạng 4, đúng 3/3 câu)"}
    assert lines == [f"{n}. {expected[w]}" for n, w in enumerate(winners, start=1)]
    assert "danh sách theo thứ tự xếp hạng: TS-0001, TS-0002, TS-0004." in result.output
    history = await run("contest", "draws", CONTEST_ID)
    assert history.exit_code == 0, history.output
    assert f"hạt giống {lucky}, 3 người trong diện bốc thăm; bốc lại từ hạt giống: khớp." in history.output
    async with dbot.database.session() as session:
        [row] = (await session.exec(select(ContestDraw))).all()
    assert (row.pool, row.winners, row.drawn_by.startswith("cli:")) == (BEST_ELIGIBLE, winners, True)


async def test_a_draw_is_refused_clearly(dbot: BotApp, content: Path, database_url: str, at) -> None:
    run = cli(content, database_url)
    at(RUNNING.astimezone())
    early = await run("contest", "draw", CONTEST_ID)
    assert early.exit_code == 1
    assert "chưa kết thúc (kết thúc lúc 17:00 ngày 20/12/2026)" in early.output
    at(ENDED)
    rewrite(content, "  winners: 2\n", "  winners: 4\n")
    few = await run("contest", "draw", CONTEST_ID)
    assert few.exit_code == 1
    assert "chỉ có 3 người đủ điều kiện bốc thăm, ít hơn số giải (4)" in few.output
    rewrite(content, "draw:\n  winners: 2\n", "")
    none = await run("contest", "draw", CONTEST_ID)
    assert none.exit_code == 1 and "không có bốc thăm (mục 'draw' trong tệp)" in none.output
    unknown = await run("contest", "draw", "khong-co")
    assert unknown.exit_code == 1 and "không có cuộc thi 'khong-co'" in unknown.output
    async with dbot.database.session() as session:
        assert (await session.exec(select(ContestDraw))).all() == []
