"""Contest benchmark: many citizens taking the contest at once, then the organisers' ranking.

    uv run python bench/contest.py [--participants 400] [--concurrency 40] [--ranked 10000]
                                   [--database sqlite|postgresql|both] [--json]

In one process, through the same composition root as production (``bot.root.build_app``) on a
real database: a contest running now, with the bundled contest's questions, that collects the
three details (name, village, phone). ``--participants`` web-chat citizens, ``--concurrency`` at
a time, each open the rules, consent, type the three details, confirm them, answer every question and the
prediction: every press a full turn (state, database, reply). It prints per database the turns
per second, the turn's latency p50/p99 and the process CPU time per turn, then, after seeding
``--ranked`` finished attempts, how long ``service.ranking`` takes and the xlsx export of it.

PostgreSQL runs in its own database (``--pg-database``, dropped and created afresh).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402
from pydantic import SecretStr  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

from bot.config import BUNDLED_CONTENT, Content, Database, Secrets, Settings  # noqa: E402
from bot.messages import Incoming, Response  # noqa: E402
from bot.root import build_app  # noqa: E402
from bot.storage.models import ContestEntry, ContestParticipant  # noqa: E402
from handlers.contest import service  # noqa: E402
from handlers.contest.results import to_xlsx  # noqa: E402

PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
PG_DATABASE = "cchc_bench_contest"
CONTEST_ID = "bench-contest"


def contest_content(folder: Path) -> Path:
    """The bundled content plus one contest running from an hour ago to a week ahead."""
    root = folder / "content"
    shutil.copytree(BUNDLED_CONTENT, root)
    bundled = yaml.safe_load((root / "contests" / "tim-hieu-cchc-2026.yaml").read_text(encoding="utf-8"))
    now = dt.datetime.now(dt.UTC).replace(microsecond=0, tzinfo=None) + dt.timedelta(hours=7)  # Vietnam
    bundled.update(id=CONTEST_ID, starts=now - dt.timedelta(hours=1), ends=now + dt.timedelta(days=7),
                   collect=["full_name", "village", "phone"], time_limit_minutes=60,
                   predict_question="Bao nhiêu người sẽ trả lời đúng tất cả các câu?")
    (root / "contests" / f"{CONTEST_ID}.yaml").write_text(
        yaml.safe_dump(bundled, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return root


def answer_payloads(response: Response) -> list[str]:
    return [b.payload for r in response.replies for row in r.buttons for b in row
            if b.payload and b.payload.startswith("ct:a:")]


async def citizen(bot: Any, number: int, latencies: list[float]) -> int:
    """One citizen through the whole contest; returns the turns taken."""
    user = f"bench-{number}"

    async def say(message_text: str = "", payload: str | None = None) -> Response:
        began = time.perf_counter()
        response: Response = await bot.handle(Incoming("web", user, text=message_text, payload=payload))
        latencies.append((time.perf_counter() - began) * 1000)
        return response

    await say("/cuocthi")
    await say(payload=f"ct:go:{CONTEST_ID}")
    await say(payload=f"ct:ok:{CONTEST_ID}")
    await say("Nguyễn Văn An")
    await say("Thôn Đông")
    await say(f"09{number:08d}")
    question = await say(payload=f"ct:start:{CONTEST_ID}")
    turns = 7
    while (choices := answer_payloads(question)):
        question = await say(payload=random.choice(choices))
        turns += 1
    if question.outcome == "contest_predict":
        await say(str(random.randint(0, 500)))
        turns += 1
    return turns


def settings_for(url: str, content: Path) -> Settings:
    return Settings(database=Database(url=url), content=Content(path=content, reload=False),
                    secrets=Secrets(pseudonym_salt=SecretStr("bench-salt")))


async def take_part(url: str, content: Path, participants: int, concurrency: int) -> dict[str, Any]:
    bot = build_app(settings_for(url, content))
    try:
        await bot.handle(Incoming("web", "warm-up", text="/cuocthi"))  # the first turn builds caches
        latencies: list[float] = []
        gate = asyncio.Semaphore(concurrency)

        async def one(number: int) -> int:
            async with gate:
                return await citizen(bot, number, latencies)

        cpu, wall = time.process_time(), time.perf_counter()
        turns = sum(await asyncio.gather(*(one(n) for n in range(participants))))
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        async with bot.database.session() as session:
            finished = sum(1 for r in await service.ranking(session, service.contests(content)[CONTEST_ID]))
    finally:
        await bot.close()
    ordered = sorted(latencies)
    return {"participants": participants, "finished": finished, "turns": turns,
            "turns_per_second": round(turns / wall, 1), "p50_ms": round(statistics.median(ordered), 2),
            "p99_ms": round(ordered[int(len(ordered) * 0.99) - 1], 2), "cpu_ms_per_turn": round(cpu * 1000 / turns, 2)}


async def rank(url: str, content: Path, ranked: int) -> dict[str, Any]:
    bot = build_app(settings_for(url, content))
    contest = service.contests(content)[CONTEST_ID]
    start = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=30)
    rng = random.Random(7)
    try:
        async with bot.database.session() as session:
            people = [ContestParticipant(contest_id=CONTEST_ID, person_key=f"usr:seed-{n}", number=100000 + n,
                                         channel="zalo", full_name="Trần Thị Bình", phone=f"08{n:08d}",
                                         village=f"Thôn {n % 12}", erase_after=contest.ends, created_at=start)
                      for n in range(ranked)]
            session.add_all(people)
            await session.flush()
            session.add_all([ContestEntry(
                contest_id=CONTEST_ID, channel="zalo", user_key=f"seed-{n}", participant_id=person.id,
                started_at=start, finished_at=start + dt.timedelta(seconds=rng.randint(40, 900)),
                questions=[0, 1, 2, 3], answers=[1, 1, 1, 1], answered=4, score=rng.randint(0, 4),
                prediction=rng.randint(0, 5000)) for n, person in enumerate(people)])
            await session.commit()
        async with bot.database.session() as session:
            began = time.perf_counter()
            rows = await service.ranking(session, contest)
            ranking_ms = (time.perf_counter() - began) * 1000
        to_xlsx(rows[:1], contest.title, personal=True)  # openpyxl's import is not the export's cost
        began = time.perf_counter()
        book = to_xlsx(rows, contest.title, personal=True)
        xlsx_ms = (time.perf_counter() - began) * 1000
    finally:
        await bot.close()
    return {"ranked": len(rows), "ranking_ms": round(ranking_ms, 1), "xlsx_ms": round(xlsx_ms, 1),
            "xlsx_kb": round(len(book) / 1024, 1)}


def fresh_pg(base: str, name: str) -> str:
    engine = create_engine(base.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return base.rsplit("/", 1)[0] + "/" + name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--participants", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=40)
    parser.add_argument("--ranked", type=int, default=10000)
    parser.add_argument("--database", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--pg-url", default=PG_URL)
    parser.add_argument("--pg-database", default=PG_DATABASE)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as folder:
        content = contest_content(Path(folder))
        targets = []
        if args.database in ("sqlite", "both"):
            targets.append(("sqlite", lambda: f"sqlite:///{folder}/bench-{time.monotonic_ns()}.db"))
        if args.database in ("postgresql", "both"):
            targets.append(("postgresql", lambda: fresh_pg(args.pg_url, args.pg_database)))
        for name, url_of in targets:
            url = url_of()
            results[name] = asyncio.run(take_part(url, content, args.participants, args.concurrency))
            results[name].update(asyncio.run(rank(url, content, args.ranked)))
    if args.json:
        print(json.dumps(results, indent=2))
        return
    for name, figures in results.items():
        print(f"{name}: {figures['participants']} citizens ({figures['finished']} finished), {figures['turns']} turns, "
              f"{figures['turns_per_second']} turns/s, p50 {figures['p50_ms']} ms, p99 {figures['p99_ms']} ms, "
              f"CPU {figures['cpu_ms_per_turn']} ms/turn; ranking of {figures['ranked']}: "
              f"{figures['ranking_ms']} ms, xlsx {figures['xlsx_ms']} ms ({figures['xlsx_kb']} KB)")


if __name__ == "__main__":
    main()
