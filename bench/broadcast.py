"""Broadcast benchmark: throughput against a rate-limited platform, and a kill -9 halfway.

    uv run python bench/broadcast.py [--recipients 20000] [--limit 30] [--zalo-recipients 5000]
                                     [--messenger-recipients 5000] [--json]
    uv run python bench/broadcast.py --recipients 2000 --limit 300      # a quick run

For each platform it seeds subscribers in a real database (SQLite in a temporary folder, or
``--database-url``), records one broadcast, and starts the real bot (``python -m bot.cli run``,
with only the sender working) as a subprocess against a fake platform that enforces the limit:

- Telegram: the fake Bot API (fakes/telegram.py) answering 429 beyond ``--limit``
  messages per second overall, through the real TelegramChannel and its limiter;
- Zalo: the fake OA API (fakes/zalo.py) answering -32 beyond 4,000 requests per minute
  (``--zalo-limit``), with ``--outside-window`` of the users outside the 7-day window (most of
  them known as such to the bot, a few only to Zalo), through the real ZaloChannel;
- Messenger: the fake Graph API (fakes/messenger.py) answering 613 beyond 300 calls a
  second (``--messenger-limit``), with ``--outside-window`` of the users outside the 24-hour window
  (most known as such to the bot, a few only to Meta) and 1% who blocked the page (551), through
  the real MessengerChannel and its limiter (``messenger.send_rate``).

Halfway through it kills the sender with SIGKILL, starts a new one (which takes the lease over
once it expires: ``--lease`` seconds), lets it finish, and prints the achieved messages per
second and its ratio to the limit, then duplicates (a chat that received the broadcast twice),
losses (a recipient who got nothing and whose row does not say why) and unknowns (rows the
killed sender left in flight: reported, never resent), all counted from what the fake received.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, insert, text  # noqa: E402

from handlers.announcements import create_broadcast  # noqa: E402
from bot.storage.db import Database, is_sqlite, sync_url, upgrade  # noqa: E402
from bot.storage.models import ChannelUser, Subscription, utcnow  # noqa: E402
from fakes.messenger import FakeGraph  # noqa: E402
from fakes.telegram import FakeBotApi  # noqa: E402
from fakes.zalo import FakeZalo  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
TOPIC = "thong-bao-chung"
BODY = (
    "Dạ, {{ office.name }} thông báo: Bộ phận Một cửa nghỉ làm việc ngày 2/9. "
    "Hồ sơ nộp trực tuyến vẫn được tiếp nhận. Liên hệ: {{ office.hotline }}."
)
TELEGRAM_BASE = 100_000_000
ZALO_APP_ID, ZALO_APP_SECRET, ZALO_OA_KEY = (
    "3141592653589793238",
    "bench-app-secret",
    "bench-oa-key",
)
DAY = 24 * 3600
MESSENGER_PAGE_TOKEN, MESSENGER_APP_SECRET = "EAAB-bench-page-token", "bench-meta-app-secret"


@dataclass
class Run:
    platform: str
    recipients: int
    limit_per_second: float
    database: str
    log_dir: Path


class TimedBotApi(FakeBotApi):
    """The fake Bot API, also remembering when it accepted each message."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.accepted_at: list[float] = []

    def _record(self, kind: str, chat: dict, message: dict, source: str | None) -> None:
        super()._record(kind, chat, message, source)
        self.accepted_at.append(time.monotonic())


class TimedZalo(FakeZalo):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.accepted_at: list[float] = []

    def _accept(self, path: str, user: str, message: dict[str, Any]):  # noqa: ANN202
        self.accepted_at.append(time.monotonic())
        return super()._accept(path, user, message)


class TimedGraph(FakeGraph):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.accepted_at: list[float] = []

    async def _messages(self, request):  # noqa: ANN001, ANN202
        sent = len(self.sent)
        response = await super()._messages(request)
        if len(self.sent) > sent:
            self.accepted_at.append(time.monotonic())
        return response


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def reset(url: str) -> None:
    if is_sqlite(url):
        return
    engine = create_engine(sync_url(url))
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def seed(url: str, channel: str, platform_ids: list[str], last_seen: dict[str, float]) -> None:
    """Subscribers written in bulk (the bench measures sending, not subscribing)."""
    import datetime as dt

    now = utcnow()
    engine = create_engine(sync_url(url))
    with engine.begin() as conn:
        conn.execute(
            insert(ChannelUser.__table__),
            [  # type: ignore[attr-defined]
                {
                    "channel": channel,
                    "platform_id": pid,
                    "user_key": f"bench-{channel}-{pid}",
                    "first_seen_at": now,
                    "last_seen_at": now - dt.timedelta(seconds=last_seen.get(pid, 0)),
                    "reachable": True,
                }
                for pid in platform_ids
            ],
        )
        ids = (
            conn.execute(text("SELECT id FROM channel_user WHERE channel = :c"), {"c": channel})
            .scalars()
            .all()
        )
        conn.execute(
            insert(Subscription.__table__),
            [  # type: ignore[attr-defined]
                {"channel_user_id": i, "topic": TOPIC, "consent_at": now} for i in ids
            ],
        )
    engine.dispose()


async def new_broadcast(url: str, channel: str) -> int:
    database = Database(url)
    try:
        async with database.session() as session:
            row = await create_broadcast(
                session,
                author="bench",
                topic=TOPIC,
                body=BODY,
                channels=[channel],
                title="Thông báo chung",
                office={"office.name": "UBND xã Ngọc Liên", "office.hotline": "0237 111 222"},
            )
            await session.commit()
            return row.id  # type: ignore[return-value]
    finally:
        await database.dispose()


def delivery_rows(url: str, broadcast_id: int) -> list[tuple[str, str]]:
    engine = create_engine(sync_url(url))
    with engine.connect() as conn:
        result = conn.execute(
            text(
                "SELECT cu.platform_id, d.status FROM broadcast_delivery d "
                "JOIN channel_user cu ON cu.id = d.channel_user_id WHERE d.broadcast_id = :b"
            ),
            {"b": broadcast_id},
        ).all()
    engine.dispose()
    return [(r[0], r[1]) for r in result]


def broadcast_status(url: str, broadcast_id: int) -> str:
    engine = create_engine(sync_url(url))
    with engine.connect() as conn:
        status = conn.execute(
            text("SELECT status FROM broadcast WHERE id = :b"), {"b": broadcast_id}
        ).scalar_one()
    engine.dispose()
    return status


def start_bot(env: dict[str, str], log: Path) -> subprocess.Popen:
    handle = log.open("ab")
    return subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "run", "--port", str(free_port())],
        env=env,
        cwd=ROOT,
        stdout=handle,
        stderr=subprocess.STDOUT,
    )


def base_env(url: str, lease: float) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CCHC_")}
    env.update(
        {
            "CCHC_DATABASE_URL": url,
            "CCHC_PSEUDONYM_SALT": "bench",
            "CCHC_CONTENT_RELOAD": "false",
            "CCHC_BROADCAST_SCHEDULER": "false",
            "CCHC_BROADCAST_LEASE_SECONDS": str(lease),
            "CCHC_BROADCAST_POLL_INTERVAL_SECONDS": "0.2",
            "CCHC_LOGGING_LEVEL": "INFO",
            "CCHC_OFFICE_NAME": "UBND xã Ngọc Liên",
            # no quiet hours: the bench runs whatever the hour in Vietnam
            "CCHC_BROADCAST_QUIET_START": "00:00",
            "CCHC_BROADCAST_QUIET_END": "00:00",
        }
    )
    return env


async def wait_until(predicate, timeout: float, step: float = 0.01) -> bool:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(step)
    return False


def rate(times: list[float]) -> float:
    return (
        (len(times) - 1) / (times[-1] - times[0])
        if len(times) > 1 and times[-1] > times[0]
        else 0.0
    )


async def kill_and_restart(
    run: Run,
    env: dict[str, str],
    accepted: list[float],
    expected: int,
    broadcast_id: int,
    timeout: float,
) -> dict[str, Any]:
    """Start the bot, SIGKILL it when half the messages are out, start another, wait for the end."""
    log = run.log_dir / f"{run.platform}.log"
    first = start_bot(env, log)
    started = time.monotonic()
    if not await wait_until(
        lambda: len(accepted) >= expected // 2 or first.poll() is not None, timeout
    ):
        first.kill()
        raise SystemExit(
            f"{run.platform}: the first sender did not get halfway in {timeout:.0f}s; see {log}"
        )
    if first.poll() is not None:
        raise SystemExit(f"{run.platform}: the bot exited early ({first.returncode}); see {log}")
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    killed_at = time.monotonic()
    before_kill = len(accepted)
    await asyncio.sleep(0.3)  # responses already on the wire land now
    second = start_bot(env, log)
    done = await wait_until(
        lambda: broadcast_status(run.database, broadcast_id) == "done" or second.poll() is not None,
        timeout,
        step=0.25,
    )
    second.send_signal(signal.SIGINT)  # a graceful stop
    try:
        second.wait(60)
    except subprocess.TimeoutExpired:
        second.kill()
    if not done:
        raise SystemExit(
            f"{run.platform}: the broadcast did not finish in {timeout:.0f}s; see {log}"
        )
    return {
        "before_kill": before_kill,
        "killed_after_s": killed_at - started,
        "first_segment": accepted[:before_kill],
        "second_segment": accepted[before_kill:],
    }


def summarize(
    run: Run,
    received: Counter[str],
    rows: list[tuple[str, str]],
    timing: dict[str, Any],
    refusals: int,
    eligible: int,
) -> dict[str, Any]:
    status = dict(rows)
    statuses = Counter(status.values())
    first, second = timing["first_segment"], timing["second_segment"]
    sending_time = (first[-1] - first[0] if len(first) > 1 else 0) + (
        second[-1] - second[0] if len(second) > 1 else 0
    )
    total = len(first) + len(second)
    overall = (total - 2) / sending_time if sending_time > 0 else 0.0
    duplicates = sum(n - 1 for n in received.values() if n > 1)
    lost = [
        pid
        for pid, s in status.items()
        if received[pid] == 0 and s not in ("unknown", "ineligible", "blocked", "failed")
    ]
    lost += [pid for pid in received if pid not in status]
    unknown = [pid for pid, s in status.items() if s == "unknown"]
    return {
        "platform": run.platform,
        "recipients": run.recipients,
        "eligible": eligible,
        "limit_per_second": round(run.limit_per_second, 2),
        "achieved_per_second": round(overall, 2),
        "ratio_to_limit": round(overall / run.limit_per_second, 3),
        "first_sender_per_second": round(rate(first), 2),
        "second_sender_per_second": round(rate(second), 2),
        "rate_limit_refusals": refusals,
        "killed_after_messages": timing["before_kill"],
        "killed_after_seconds": round(timing["killed_after_s"], 1),
        "received": sum(received.values()),
        "duplicates": duplicates,
        "losses": len(lost),
        "unknowns": len(unknown),
        "unknowns_that_arrived": sum(1 for pid in unknown if received[pid]),
        "statuses": dict(sorted(statuses.items())),
    }


async def bench_telegram(args: argparse.Namespace, url: str, log_dir: Path) -> dict[str, Any]:
    fake = TimedBotApi(rate_limit=args.limit, retry_after=1)
    await fake.start()
    try:
        ids = [TELEGRAM_BASE + i for i in range(args.recipients)]
        for chat_id in ids:
            fake.add_user(chat_id)
        reset(url)
        upgrade(url)
        seed(url, "telegram", [str(i) for i in ids], {})
        broadcast_id = await new_broadcast(url, "telegram")
        env = base_env(url, args.lease) | {
            "CCHC_TELEGRAM_TOKEN": fake.token,
            "CCHC_TELEGRAM_BASE_URL": fake.base_url,
            "CCHC_TELEGRAM_BASE_FILE_URL": fake.base_file_url,
            "CCHC_TELEGRAM_GLOBAL_RATE": str(args.limit),
        }
        run = Run("telegram", args.recipients, float(args.limit), url, log_dir)
        timeout = 120 + 3 * args.recipients / args.limit
        timing = await kill_and_restart(run, env, fake.accepted_at, len(ids), broadcast_id, timeout)
        received = Counter(str(s.chat_id) for s in fake.sent if s.kind == "message")
        refusals = sum(1 for r in fake.refused if r.code == 429)
        return summarize(
            run, received, delivery_rows(url, broadcast_id), timing, refusals, len(ids)
        )
    finally:
        await fake.stop()


async def bench_zalo(args: argparse.Namespace, url: str, log_dir: Path) -> dict[str, Any]:
    fake = TimedZalo(ZALO_APP_ID, ZALO_APP_SECRET, rate_limit=args.zalo_limit, rate_window=60.0)
    await fake.start()
    try:
        n = args.zalo_recipients
        ids = [f"z{i:07d}" for i in range(n)]
        outside = set(ids[: int(n * args.outside_window)])
        zalo_only = set(
            ids[-max(1, n // 50) :]
        )  # the bot thinks they wrote lately; Zalo knows better
        now = time.time()
        for pid in ids:
            fake.interact(pid, at=now - 8 * DAY if pid in outside | zalo_only else now - 3600)
        last_seen = {pid: 8 * DAY for pid in outside}
        reset(url)
        upgrade(url)
        seed(url, "zalo", ids, last_seen)
        broadcast_id = await new_broadcast(url, "zalo")
        access, refresh = fake.issue_pair()
        env = base_env(url, args.lease) | {
            "CCHC_ZALO_APP_ID": ZALO_APP_ID,
            "CCHC_ZALO_OA_ID": "bench-oa",
            "CCHC_ZALO_API_BASE_URL": fake.url,
            "CCHC_ZALO_OAUTH_BASE_URL": fake.url,
            "CCHC_ZALO_APP_SECRET": ZALO_APP_SECRET,
            "CCHC_ZALO_OA_SECRET_KEY": ZALO_OA_KEY,
            "CCHC_ZALO_ACCESS_TOKEN": access,
            "CCHC_ZALO_REFRESH_TOKEN": refresh,
        }
        eligible = n - len(outside | zalo_only)
        run = Run("zalo", n, args.zalo_limit / 60.0, url, log_dir)
        timeout = 300 + 3 * n / (args.zalo_limit / 60.0)
        timing = await kill_and_restart(run, env, fake.accepted_at, eligible, broadcast_id, timeout)
        received = Counter(s.user_id for s in fake.sent)
        # refused calls beyond the -230s of the users only Zalo knows are outside the window
        refusals = (
            sum(1 for path in fake.calls if path.endswith("/cs")) - len(fake.sent) - len(zalo_only)
        )
        result = summarize(
            run, received, delivery_rows(url, broadcast_id), timing, refusals, eligible
        )
        result["outside_window"] = {
            "known_to_the_bot": len(outside),
            "known_only_to_zalo": len(zalo_only),
        }
        return result
    finally:
        await fake.close()


async def bench_messenger(args: argparse.Namespace, url: str, log_dir: Path) -> dict[str, Any]:
    fake = TimedGraph(MESSENGER_PAGE_TOKEN, MESSENGER_APP_SECRET, rate_limit=args.messenger_limit)
    await fake.start()
    try:
        n = args.messenger_recipients
        ids = [f"m{i:07d}" for i in range(n)]
        outside = set(ids[: int(n * args.outside_window)])
        meta_only = set(ids[-max(1, n // 50):])  # the bot thinks they wrote lately; Meta knows better
        blocked = set(ids[-(max(1, n // 50) + max(1, n // 100)): -max(1, n // 50)])
        now = time.time()
        for pid in ids:
            fake.wrote(pid, at=now - 2 * DAY if pid in outside | meta_only else now - 3600)
        for pid in blocked:
            fake.block(pid)
        reset(url)
        upgrade(url)
        seed(url, "messenger", ids, {pid: 2 * DAY for pid in outside})
        broadcast_id = await new_broadcast(url, "messenger")
        env = base_env(url, args.lease) | {
            "CCHC_MESSENGER_API_BASE_URL": fake.url,
            "CCHC_MESSENGER_PAGE_TOKEN": MESSENGER_PAGE_TOKEN,
            "CCHC_MESSENGER_APP_SECRET": MESSENGER_APP_SECRET,
            "CCHC_MESSENGER_VERIFY_TOKEN": "bench-verify",
        }
        eligible = n - len(outside | meta_only | blocked)
        run = Run("messenger", n, float(args.messenger_limit), url, log_dir)
        timeout = 300 + 3 * n / args.messenger_limit
        timing = await kill_and_restart(run, env, fake.accepted_at, eligible, broadcast_id, timeout)
        received = Counter(s.psid for s in fake.sent)
        result = summarize(run, received, delivery_rows(url, broadcast_id), timing,
                           sum(1 for code, _ in fake.refused if code == 613), eligible)
        result["outside_window"] = {"known_to_the_bot": len(outside), "known_only_to_meta": len(meta_only),
                                    "blocked": len(blocked)}
        return result
    finally:
        await fake.close()


def show(r: dict[str, Any]) -> None:
    print(
        f"\n== {r['platform']}: {r['recipients']} recipients ({r['eligible']} eligible), "
        f"limit {r['limit_per_second']} msg/s"
    )
    print(
        f"achieved: {r['achieved_per_second']} msg/s = {r['ratio_to_limit']:.3f} of the limit "
        f"(first sender {r['first_sender_per_second']}/s, after restart "
        f"{r['second_sender_per_second']}/s; rate-limit refusals {r['rate_limit_refusals']})"
    )
    print(
        f"killed with SIGKILL after {r['killed_after_messages']} messages "
        f"({r['killed_after_seconds']} s), restarted"
    )
    print(
        f"duplicates: {r['duplicates']}   losses: {r['losses']}   unknowns: {r['unknowns']} "
        f"({r['unknowns_that_arrived']} of them did arrive)"
    )
    print(f"delivery rows: {r['statuses']}")
    if "outside_window" in r:
        window = "Zalo's 7-day" if r["platform"] == "zalo" else "Messenger's 24-hour"
        print(f"outside {window} window: {r['outside_window']}")


async def main_async(args: argparse.Namespace) -> list[dict[str, Any]]:
    results = []
    with tempfile.TemporaryDirectory(prefix="cchc-bench-") as tmp:
        log_dir = Path(args.log_dir) if args.log_dir else Path(tmp)
        log_dir.mkdir(parents=True, exist_ok=True)
        benches = {"telegram": bench_telegram, "zalo": bench_zalo, "messenger": bench_messenger}
        for platform, bench in benches.items():
            if platform in args.skip:
                continue
            url = args.database_url or f"sqlite:///{tmp}/{platform}.db"
            result = await bench(args, url, log_dir)
            results.append(result)
            if not args.json:
                show(result)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipients", type=int, default=20_000, help="Telegram recipients")
    parser.add_argument(
        "--limit", type=int, default=30, help="the fake Bot API's messages per second"
    )
    parser.add_argument("--zalo-recipients", type=int, default=5_000)
    parser.add_argument(
        "--zalo-limit", type=int, default=4_000, help="the fake OA API's requests per minute"
    )
    parser.add_argument("--messenger-recipients", type=int, default=5_000)
    parser.add_argument(
        "--messenger-limit", type=int, default=300, help="the fake Graph API's calls per second"
    )
    parser.add_argument(
        "--outside-window",
        type=float,
        default=0.1,
        help="share of Zalo / Messenger users the bot knows are outside the platform's window",
    )
    parser.add_argument(
        "--lease", type=float, default=5.0, help="broadcast.lease_seconds for the bot"
    )
    parser.add_argument(
        "--database-url", help="e.g. postgresql://... (ITS public SCHEMA IS DROPPED)"
    )
    parser.add_argument(
        "--skip", action="append", default=[], choices=["telegram", "zalo", "messenger"]
    )
    parser.add_argument("--log-dir", help="keep the bot's logs here")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = asyncio.run(main_async(args))
    if args.json:
        print(json.dumps(results, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
