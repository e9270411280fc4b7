"""Memory benchmark: the running service with 10,000 content entries and 100,000 subscribers.

    uv run python bench/memory.py [--entries 10000] [--subscribers 100000] [--send-seconds 20]
                                  [--database-url postgresql://...] [--json]

1. Writes a content folder: the bundled content plus synthetic FAQ files up to ``--entries``
   (each a copy of a real entry with its own id, title and aliases, built from the real words,
   like bench/matching.py's synthetic store).
2. Seeds ``--subscribers`` Telegram users, each subscribed to the general topic, in a fresh
   database (SQLite in a temporary folder, or its own PostgreSQL database).
3. Measures, in a fresh process step by step (RSS after each): the imports, loading the content
   folder (``load_pack``) and building the matcher in place, then handing the freed heap back,
   with the peak; and, in another fresh process, the same pack loaded and indexed in a child
   process (``ContentStore`` with ``content.separate_process_from``, as the service does at this
   size), with the peak of the process and of the child.
4. Starts the real service (``python -m bot.cli run``) on that content and database, against the
   fake Bot API, records a broadcast to every subscriber as ``cchc-bot broadcast send`` does, lets
   the sender build the 100,000 deliveries and send for ``--send-seconds``, and reports the
   service's RSS when ready and its peak (VmHWM), with how many messages went out.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.inbound import (  # noqa: E402
    RssSampler, bot_env, drop_database, fetch_arrivals, free_port, prepare_database, stop, wait_ready)
from bench.inbound_fakes import TELEGRAM_BASE  # noqa: E402
from bot.text import strip_key  # noqa: E402

TOPIC = "thong-bao-chung"
PG_DATABASE = "cchc_bench_memory"
AIM_MB = 150.0


def write_content(target: Path, entries: int, seed: int = 7) -> int:
    """The bundled content plus synthetic entries: ``entries`` FAQ files in all."""
    shutil.copytree(ROOT / "content", target)
    files = sorted((target / "faq").glob("*.md"))
    texts = [f.read_text(encoding="utf-8") for f in files]
    words = sorted({w for t in texts for line in t.splitlines() if line.startswith("  - ")
                    for w in line[4:].lower().split() if w.isalpha()})
    rng = random.Random(seed)
    taken: set[str] = set()  # the loader refuses a way of asking shared by two entries

    def phrase(n: int) -> str:
        while True:
            text = " ".join(rng.choice(words) for _ in range(n))
            if strip_key(text) not in taken:
                taken.add(strip_key(text))
                return text

    for i in range(entries - len(files)):
        text = texts[i % len(texts)]
        head, body = text.split("\n---\n", 1)
        head = re.sub(r"^id: .*$", f"id: synthetic-{i}", head, count=1, flags=re.M)
        head = re.sub(r"^title: .*$", f"title: {phrase(rng.randint(5, 10)).capitalize()}?", head, count=1,
                      flags=re.M)
        aliases = "aliases:\n" + "\n".join(f"  - {phrase(rng.randint(3, 8))}" for _ in range(8))
        head = re.sub(r"^aliases:\n(?:  - .*\n?)+", aliases + "\n", head, count=1, flags=re.M)
        head = re.sub(r"^related: .*\n", "", head, count=1, flags=re.M)
        (target / "faq" / f"synthetic-{i}.md").write_text(head.rstrip("\n") + "\n---\n" + body, encoding="utf-8")
    return len(list((target / "faq").glob("*.md")))


def seed(url: str, subscribers: int) -> float:
    """Subscribers written in bulk, as years of /dangky would have left them."""
    from sqlalchemy import create_engine, insert, text

    from bot.storage.db import sync_url, upgrade
    from bot.storage.models import ChannelUser, Subscription, utcnow

    started = time.perf_counter()
    upgrade(url)
    now = utcnow()
    engine = create_engine(sync_url(url))
    with engine.begin() as conn:
        for start in range(0, subscribers, 20_000):
            conn.execute(insert(ChannelUser.__table__), [  # type: ignore[attr-defined]
                {"channel": "telegram", "platform_id": str(TELEGRAM_BASE + i), "user_key": f"memory-{i}",
                 "first_seen_at": now, "last_seen_at": now, "reachable": True}
                for i in range(start + 1, min(subscribers, start + 20_000) + 1)])
        ids = conn.execute(text("SELECT id FROM channel_user")).scalars().all()
        for start in range(0, len(ids), 20_000):
            conn.execute(insert(Subscription.__table__), [  # type: ignore[attr-defined]
                {"channel_user_id": i, "topic": TOPIC, "consent_at": now} for i in ids[start:start + 20_000]])
    engine.dispose()
    return time.perf_counter() - started


# Both scripts start alike: an rss() helper, then the whole bot imported, as `cchc-bot run` imports it.
PREAMBLE = r"""
import gc, json, resource, sys, time
from pathlib import Path
def rss(field="VmRSS"):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
out = {"python": rss()}
t = time.perf_counter()
from bot.root import build_app  # noqa
from bot.root import serve  # noqa
from bot.channels.telegram import TelegramChannel  # noqa
from bot.channels.zalo import ZaloChannel  # noqa
out["imports"] = rss(); out["imports_s"] = time.perf_counter() - t
"""

STEPS = PREAMBLE + r"""
from bot.config import Office
from bot.content.loader import load_pack
from bot.matching import Matcher
t = time.perf_counter()
pack, problems = load_pack(Path(sys.argv[1]), Office().template_values())
assert pack is not None, [str(p) for p in problems if not p.warning][:5]
out["entries"] = len(pack.entries); out["pack"] = rss(); out["load_s"] = time.perf_counter() - t
t = time.perf_counter()
matcher = Matcher(pack.entries.values(), pack.lexicon)
out["matcher"] = rss(); out["matcher_s"] = time.perf_counter() - t
gc.collect(); out["after_gc"] = rss()
from bot.content.store import return_freed_memory
return_freed_memory(); out["trimmed"] = rss(); out["peak"] = rss("VmHWM")  # as ContentStore.load
print(json.dumps(out))
"""

APART = PREAMBLE + r"""
from bot.config import Office
from bot.content.store import ContentStore
from bot.matching import MatchParams
t = time.perf_counter()
store = ContentStore(Path(sys.argv[1]), Office().template_values(), MatchParams(), apart_from_files=0)
store.load()
out.update(loaded=rss(), peak=rss("VmHWM"), load_s=time.perf_counter() - t,
           child_peak=resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)
print(json.dumps(out))
"""


async def service_run(args: argparse.Namespace, url: str, content: Path, log: Path) -> dict[str, Any]:
    from handlers.announcements import create_broadcast
    from bot.storage.db import Database

    fakes = subprocess.Popen([sys.executable, str(ROOT / "bench" / "inbound_fakes.py"),
                              "--users", str(args.subscribers)],
                             cwd=ROOT, stdout=subprocess.PIPE, stderr=(log.parent / "fakes.log").open("wb"))
    bot = None
    try:
        assert fakes.stdout is not None
        info = json.loads(fakes.stdout.readline())
        port = free_port()
        env = bot_env(url, port, info, {
            "CCHC_CONTENT_PATH": str(content), "CCHC_BROADCAST_POLL_INTERVAL_SECONDS": "0.2",
            "CCHC_BROADCAST_QUIET_START": "00:00", "CCHC_BROADCAST_QUIET_END": "00:00",
            "CCHC_BROADCAST_BATCH_SIZE": "200"})
        started = time.perf_counter()
        bot = subprocess.Popen([sys.executable, "-m", "bot.cli", "run"], cwd=ROOT, env=env,
                               stdout=log.open("wb"), stderr=subprocess.STDOUT)
        await wait_ready(f"http://127.0.0.1:{port}", bot, timeout=300)
        ready_s = time.perf_counter() - started
        sampler = RssSampler(bot.pid)
        sampler.start()
        await asyncio.sleep(2.0)  # start-up settles (the channels, the first sender cycle)
        ready_rss = sampler.field("VmRSS") or 0
        ready_peak = sampler.field("VmHWM") or 0
        database = Database(url)
        try:
            async with database.session() as session:
                row = await create_broadcast(session, author="bench", topic=TOPIC, channels=["telegram"],
                                             body="Dạ, {{ office.name }} thông báo: Bộ phận Một cửa nghỉ "
                                                  "làm việc ngày 2/9; hồ sơ trực tuyến vẫn được tiếp nhận.",
                                             title="Thông báo", office={"office.name": "UBND xã Ngọc Liên"})
                await session.commit()
        finally:
            await database.dispose()
        broadcast_at = time.perf_counter()
        await asyncio.sleep(args.send_seconds)
        arrivals = await fetch_arrivals(info["control"])
        sampler.stopped.set()
        peak = sampler.field("VmHWM") or 0
        now_rss = sampler.field("VmRSS") or 0
        sent = len(arrivals["telegram"])
        return {"broadcast_id": row.id, "ready_s": round(ready_s, 1),
                "rss_ready_mb": round(ready_rss / 2**20, 1), "peak_before_broadcast_mb": round(ready_peak / 2**20, 1),
                "rss_after_sending_mb": round(now_rss / 2**20, 1), "rss_peak_mb": round(peak / 2**20, 1),
                "sent_in_window": sent, "send_seconds": args.send_seconds,
                "sent_per_s": round(sent / (time.perf_counter() - broadcast_at), 1)}
    finally:
        if bot is not None:
            stop(bot, 60)
        fakes.kill()
        fakes.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--subscribers", type=int, default=100_000)
    parser.add_argument("--send-seconds", type=float, default=20.0)
    parser.add_argument("--database-url", help="a PostgreSQL server (its own database is made); default SQLite")
    parser.add_argument("--log-dir")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cchc-memory-") as tmp_name:
        tmp = Path(tmp_name)
        log_dir = Path(args.log_dir) if args.log_dir else tmp
        log_dir.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        files = write_content(tmp / "content", args.entries)
        content_s = time.perf_counter() - started
        kind = "postgresql" if args.database_url else "sqlite"
        url = prepare_database(kind, tmp, args.database_url, PG_DATABASE)
        try:
            seed_s = seed(url, args.subscribers)
            steps = json.loads(subprocess.run([sys.executable, "-c", STEPS, str(tmp / "content")], cwd=ROOT,
                                              check=True, capture_output=True, text=True).stdout)
            apart = json.loads(subprocess.run([sys.executable, "-c", APART, str(tmp / "content")], cwd=ROOT,
                                              check=True, capture_output=True, text=True).stdout)
            service = asyncio.run(service_run(args, url, tmp / "content", log_dir / "bot.log"))
        finally:
            drop_database(kind, args.database_url, PG_DATABASE)
    result = {"database": kind, "faq_files": files,
              "subscribers": args.subscribers, "write_content_s": round(content_s, 1),
              "seed_s": round(seed_s, 1), "steps_mb": {k: round(v, 1) for k, v in steps.items()},
              "apart_mb": {k: round(v, 1) for k, v in apart.items()},
              "service": service, "aim_mb": AIM_MB}
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
        return
    s = steps
    print(f"== {result['database']}: {files} FAQ entries, {args.subscribers} subscribers")
    print(f"content written in {content_s:.1f} s; subscribers seeded in {seed_s:.1f} s")
    print(f"step by step (RSS): python {s['python']:.1f} MB, bot imported {s['imports']:.1f} MB "
          f"({s['imports_s']:.1f} s), content loaded {s['pack']:.1f} MB ({s['entries']} entries, "
          f"{s['load_s']:.1f} s), matcher built {s['matcher']:.1f} MB ({s['matcher_s']:.1f} s), "
          f"after gc {s['after_gc']:.1f} MB, heap handed back {s['trimmed']:.1f} MB (peak {s['peak']:.1f} MB)")
    a = apart
    print(f"loaded in a child process: bot imported {a['imports']:.1f} MB, content loaded and indexed "
          f"{a['loaded']:.1f} MB ({a['load_s']:.1f} s), peak {a['peak']:.1f} MB; the child's peak "
          f"{a['child_peak']:.1f} MB")
    v = service
    print(f"the service: ready in {v['ready_s']} s at {v['rss_ready_mb']} MB (peak so far "
          f"{v['peak_before_broadcast_mb']} MB)")
    print(f"broadcast to {args.subscribers}: {v['sent_in_window']} sent in {v['send_seconds']:.0f} s "
          f"({v['sent_per_s']}/s); RSS after {v['rss_after_sending_mb']} MB, peak {v['rss_peak_mb']} MB "
          f"(aim: {AIM_MB:.0f} MB or less)")


if __name__ == "__main__":
    main()
