"""Inbound load benchmark: the running server (``cchc-bot run``) under a flood of citizens.

    uv run python bench/inbound.py [--seconds 10] [--rate 1000] [--database sqlite|postgresql|both]
                                   [--json] [--profile] [--mix telegram=0.4,zalo=0.4,web=0.2]
                                   (the mix may add messenger=0.2)

Four processes on 127.0.0.1: this one (it starts the others and samples the server's memory),
the fakes (bench/inbound_fakes.py: the fake Telegram Bot API and the fake Zalo OA API the tests
use, noting when each reply reaches them), the bot itself (``python -m bot.cli run``: Telegram in
webhook mode with its secret, Zalo with its signing keys, the web chat, the broadcast sender and
scheduler, the dashboard; everything a deployment runs), and the driver (this file with
``--drive``), which sends, at ``--rate`` per second for ``--seconds``, a mix of

- Telegram updates POSTed to the webhook with the ``X-Telegram-Bot-Api-Secret-Token`` header,
- signed Zalo ``user_send_text`` events POSTed to the Zalo webhook,
- Messenger ``messages`` events signed with X-Hub-Signature-256, POSTed to the Messenger webhook
  (when ``--mix`` names messenger),
- web-chat messages POSTed to ``/api/chat`` (answered in the HTTP response),

each from a different citizen (so replies correlate exactly by chat or user id), with questions
from tests/eval/in_scope.yaml, half of them stripped of their diacritics.

It prints, per database: updates/s sent, accepted (2xx) and fully answered (the reply reached
the fake API, or the web chat's response came back), latency p50/p99 from sending to the reply
reaching the fake API, refusals (503/429: the platform delivers those again later), errors (any
other status, or no answer at all), lost updates (accepted but never answered), and the server's
RSS before the load and at its peak (VmHWM). ``--profile`` runs py-spy on the server during the
load and prints the functions where it spent most of its time.

PostgreSQL runs in its own database (``--pg-database``, dropped and created afresh) on the
server of ``--pg-url``, so it never disturbs the tests' schemas.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import hashlib
import hmac
import json
import math
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402

from bench.inbound_fakes import (  # noqa: E402
    MESSENGER_APP_SECRET,
    MESSENGER_PAGE_TOKEN,
    TELEGRAM_BASE,
    ZALO_APP_ID,
    ZALO_APP_SECRET,
    ZALO_OA_KEY,
    messenger_id,
    zalo_id,
)

SECRET = "bench-webhook-secret_0123"
PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
PG_DATABASE = "cchc_bench_inbound"
DRAIN_SECONDS = 120.0  # replies to an accepted backlog may take a while at overload


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def percentile(values: list[float], share: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(share * len(ordered)) - 1))]


# --- the driver (a separate process) --------------------------------------------------------


def questions(seed: int) -> list[str]:
    from bot.evaluation import load_eval_set
    from bot.text import strip_diacritics

    rng = random.Random(seed)
    out = []
    for query, _ in load_eval_set().in_scope:
        out.append(query if rng.random() < 0.5 else strip_diacritics(query))
    return out


def plan(total: int, mix: dict[str, float], seed: int) -> list[tuple[str, int, str]]:
    """(channel, user number, question) for each message; user numbers are all different."""
    rng = random.Random(seed)
    pool = questions(seed)
    channels, weights = zip(*mix.items(), strict=True)
    return [(rng.choices(channels, weights)[0], i + 1, rng.choice(pool)) for i in range(total)]


def telegram_update(user: int, text: str) -> dict[str, Any]:
    chat_id = TELEGRAM_BASE + user
    person = {"id": chat_id, "is_bot": False, "first_name": "Công dân", "language_code": "vi"}
    return {"update_id": 700_000_000 + user, "message": {
        "message_id": 1, "from": person, "chat": {"id": chat_id, "type": "private", "first_name": "Công dân"},
        "date": int(time.time()), "text": text}}


def zalo_event(user: int, text: str) -> tuple[bytes, str]:
    timestamp = str(int(time.time() * 1000))
    event = {"app_id": ZALO_APP_ID, "user_id_by_app": f"9{user}", "event_name": "user_send_text",
             "timestamp": timestamp, "sender": {"id": zalo_id(user)}, "recipient": {"id": "bench-oa"},
             "message": {"text": text, "msg_id": f"bench-{user}-{timestamp}"}}
    raw = json.dumps(event, ensure_ascii=False).encode()
    mac = hashlib.sha256(ZALO_APP_ID.encode() + raw + timestamp.encode() + ZALO_OA_KEY.encode()).hexdigest()
    return raw, f"mac={mac}"


def messenger_event(user: int, text: str) -> tuple[bytes, str]:
    stamp = int(time.time() * 1000)
    event = {"sender": {"id": messenger_id(user)}, "recipient": {"id": "bench-page"}, "timestamp": stamp,
             "message": {"mid": f"m_bench-{user}-{stamp}", "text": text}}
    raw = json.dumps({"object": "page", "entry": [{"id": "bench-page", "time": stamp, "messaging": [event]}]},
                     ensure_ascii=False).encode()
    return raw, "sha256=" + hmac.new(MESSENGER_APP_SECRET.encode(), raw, hashlib.sha256).hexdigest()


async def drive(config: dict[str, Any]) -> dict[str, Any]:
    base = config["base"]
    messages = plan(config["total"], config["mix"], config["seed"])
    rate = config["rate"]
    records: list[list[Any]] = [[] for _ in messages]
    in_flight = asyncio.Semaphore(config["max_in_flight"])
    timeout = aiohttp.ClientTimeout(total=60)
    connector = aiohttp.TCPConnector(limit=config["max_in_flight"])
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as http:

        async def send(index: int) -> None:
            channel, user, text = messages[index]
            async with in_flight:
                sent = time.time()
                status: int | str
                answered = None
                try:
                    if channel == "telegram":
                        async with http.post(base + "/telegram/webhook", json=telegram_update(user, text),
                                             headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}) as r:
                            status = r.status
                            await r.read()
                    elif channel in ("zalo", "messenger"):
                        raw, mac = (zalo_event if channel == "zalo" else messenger_event)(user, text)
                        header = "X-ZEvent-Signature" if channel == "zalo" else "X-Hub-Signature-256"
                        async with http.post(f"{base}/{channel}/webhook", data=raw, headers={
                                "Content-Type": "application/json", header: mac}) as r:
                            status = r.status
                            await r.read()
                    else:
                        sid = hashlib.md5(str(user).encode()).hexdigest()  # noqa: S324 - an id
                        async with http.post(base + "/api/chat", json={"text": text},
                                             headers={"X-CCHC-Session": sid}) as r:
                            status = r.status
                            body = await r.json() if r.status == 200 else {}
                            if body.get("replies"):
                                answered = time.time()
                except Exception as exc:  # noqa: BLE001 - every failure is counted, by kind
                    status = type(exc).__name__
                records[index] = [channel, user, sent, status, time.time(), answered]

        tasks = []
        start = time.monotonic() + 0.2
        for index in range(len(messages)):
            delay = start + index / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(send(index)))
        sending_done = time.monotonic()
        await asyncio.gather(*tasks)
    return {"records": records, "sending_seconds": sending_done - start}


# --- the orchestrator -----------------------------------------------------------------------


class RssSampler(threading.Thread):
    """Memory and CPU of the server: the process and, with ``server.workers`` > 1, its workers
    (their figures are summed; shared copy-on-write pages count once per process)."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.samples: list[int] = []
        self.stopped = threading.Event()

    def pids(self) -> list[int]:
        try:
            children = Path(f"/proc/{self.pid}/task/{self.pid}/children").read_text().split()
        except OSError:
            children = []
        return [self.pid, *map(int, children)]

    def field(self, name: str) -> int | None:
        total = None
        for pid in self.pids():
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith(name + ":"):
                        total = (total or 0) + int(line.split()[1]) * 1024
            except OSError:
                continue
        return total

    def cpu_seconds(self) -> float:
        """User plus system CPU time used so far by the process, its live workers and the
        workers that ended (reaped: counted in the parent's cutime/cstime)."""
        seconds = 0.0
        for pid in self.pids():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            seconds += sum(int(f) for f in fields[11:13 if pid != self.pid else 15])
        return seconds / os.sysconf("SC_CLK_TCK")

    def run(self) -> None:
        while not self.stopped.wait(0.1):
            value = self.field("VmRSS")
            if value is not None:
                self.samples.append(value)


def prepare_database(kind: str, tmp: Path, pg_url: str, pg_database: str) -> str:
    if kind == "sqlite":
        return f"sqlite:///{tmp}/cchc-bench.db"
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from bot.storage.db import sync_url

    admin = create_engine(sync_url(pg_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{pg_database}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{pg_database}"'))
    admin.dispose()
    return make_url(pg_url).set(database=pg_database).render_as_string(hide_password=False)


def drop_database(kind: str, pg_url: str, pg_database: str) -> None:
    if kind != "postgresql":
        return
    from sqlalchemy import create_engine, text

    from bot.storage.db import sync_url

    admin = create_engine(sync_url(pg_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{pg_database}" WITH (FORCE)'))
    admin.dispose()


def bot_env(url: str, port: int, fakes: dict[str, Any], extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CCHC_")}
    env.update({
        "CCHC_DATABASE_URL": url, "CCHC_PSEUDONYM_SALT": "bench", "CCHC_CONTENT_RELOAD": "false",
        "CCHC_SERVER_PORT": str(port), "CCHC_OFFICE_NAME": "UBND xã Ngọc Liên",
        "CCHC_TELEGRAM_TOKEN": fakes["telegram_token"], "CCHC_TELEGRAM_BASE_URL": fakes["telegram_base_url"],
        "CCHC_TELEGRAM_BASE_FILE_URL": fakes["telegram_base_file_url"],
        "CCHC_TELEGRAM_WEBHOOK_URL": f"http://127.0.0.1:{port}/telegram/webhook",
        "CCHC_TELEGRAM_WEBHOOK_SECRET": SECRET,
        # The fake stands in for a Bot API without Telegram's 30 messages/s: the bench measures
        # the bot, and the limiter has its own tests (tests/telegram/test_limits.py).
        "CCHC_TELEGRAM_GLOBAL_RATE": "100000", "CCHC_TELEGRAM_PRIVATE_CHAT_RATE": "1000",
        "CCHC_ZALO_APP_ID": ZALO_APP_ID, "CCHC_ZALO_OA_ID": "bench-oa",
        "CCHC_ZALO_API_BASE_URL": fakes["zalo_url"], "CCHC_ZALO_OAUTH_BASE_URL": fakes["zalo_url"],
        "CCHC_ZALO_APP_SECRET": ZALO_APP_SECRET, "CCHC_ZALO_OA_SECRET_KEY": ZALO_OA_KEY,
        "CCHC_ZALO_ACCESS_TOKEN": fakes["zalo_access"], "CCHC_ZALO_REFRESH_TOKEN": fakes["zalo_refresh"],
        "CCHC_MESSENGER_API_BASE_URL": fakes["messenger_url"],
        "CCHC_MESSENGER_PAGE_TOKEN": MESSENGER_PAGE_TOKEN, "CCHC_MESSENGER_APP_SECRET": MESSENGER_APP_SECRET,
        "CCHC_MESSENGER_VERIFY_TOKEN": "bench-verify",
    })
    env.update(extra)
    return env


def stop(process: subprocess.Popen, timeout: float) -> None:
    """A graceful stop (SIGTERM), killed if it takes longer than ``timeout``."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()


async def wait_ready(base: str, bot: subprocess.Popen, timeout: float = 90.0, workers: int = 1) -> None:
    """Until /healthz says ready from every worker (a new connection each time, so that each
    worker gets asked)."""
    deadline = time.monotonic() + timeout
    seen: set[int] = set()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as http:
        while time.monotonic() < deadline:
            if bot.poll() is not None:
                raise SystemExit(f"the bot exited at start-up ({bot.returncode})")
            try:
                async with http.get(base + "/healthz") as r:
                    if r.status == 200:
                        seen.add((await r.json()).get("worker", {}).get("index", 0))
                        if len(seen) >= workers:
                            return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05 if seen else 0.2)
    raise SystemExit("the bot did not become ready")


async def fetch_arrivals(control: str) -> dict[str, Any]:
    async with aiohttp.ClientSession() as http, http.get(control + "/arrivals") as r:
        return await r.json()


def first_arrivals(arrivals: dict[str, Any]) -> dict[tuple[str, int], float]:
    """The first reply each citizen got, by (channel, user number)."""
    first: dict[tuple[str, int], float] = {}
    for at, chat in arrivals["telegram"]:
        key = ("telegram", int(chat) - TELEGRAM_BASE)
        first[key] = min(first.get(key, at), at)
    for name in ("zalo", "messenger"):
        for at, user in arrivals[name]:
            key = (name, int(str(user)[1:]))
            first[key] = min(first.get(key, at), at)
    return first


def summarize(records: list[list[Any]], first: dict[tuple[str, int], float], sending: float) -> dict[str, Any]:
    statuses = collections.Counter(str(r[3]) for r in records)
    accepted = [r for r in records if isinstance(r[3], int) and 200 <= r[3] < 300]
    refused = [r for r in records if r[3] in (429, 503)]
    errors = len(records) - len(accepted) - len(refused)
    latencies, answered_at, lost = [], [], 0
    per_channel: dict[str, dict[str, Any]] = {}
    for channel, user, sent, status, _done, web_answer in accepted:
        got = web_answer if channel == "web" else first.get((channel, user))
        part = per_channel.setdefault(channel, {"accepted": 0, "answered": 0, "latencies": []})
        part["accepted"] += 1
        if got is None:
            lost += 1
            continue
        part["answered"] += 1
        part["latencies"].append((got - sent) * 1000)
        latencies.append((got - sent) * 1000)
        answered_at.append(got)
    start = min(r[2] for r in records)
    span = (max(answered_at) - start) if answered_at else 0.0
    channels = {name: {"accepted": p["accepted"], "answered": p["answered"],
                       "p50_ms": _round(percentile(p["latencies"], 0.5)),
                       "p99_ms": _round(percentile(p["latencies"], 0.99))}
                for name, p in sorted(per_channel.items())}
    return {
        "sent": len(records), "sending_seconds": round(sending, 2),
        "sent_per_s": round(len(records) / sending, 1) if sending else None,
        "accepted": len(accepted), "accepted_per_s": round(len(accepted) / sending, 1) if sending else None,
        "answered": len(answered_at), "answered_per_s": round(len(answered_at) / span, 1) if span else None,
        "p50_ms": _round(percentile(latencies, 0.5)), "p99_ms": _round(percentile(latencies, 0.99)),
        "max_ms": _round(max(latencies) if latencies else None),
        "mean_ms": _round(statistics.fmean(latencies) if latencies else None),
        "refused": len(refused), "errors": errors, "lost": lost,
        "statuses": dict(sorted(statuses.items())), "channels": channels,
    }


def _round(value: float | None) -> float | None:
    return round(value, 1) if value is not None else None


def profile_summary(raw: Path, top: int = 25) -> dict[str, Any]:
    """py-spy's collapsed stacks: the functions with the most samples, inclusive and self."""
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = [f.split(" (")[0] + " (" + f.split(" (")[1].split(":")[0].split("/")[-1] + ")"
                  if " (" in f else f for f in stack.split(";")]
        for frame in set(frames):
            inclusive[frame] += n
        own[frames[-1]] += n
    def share(counter: collections.Counter[str]) -> list[tuple[str, float]]:
        return [(name, round(100 * n / total, 1)) for name, n in counter.most_common(top)] if total else []
    return {"samples": total, "inclusive_pct": share(inclusive), "self_pct": share(own)}


async def run_one(args: argparse.Namespace, kind: str) -> dict[str, Any]:
    total = int(args.rate * args.seconds)
    with tempfile.TemporaryDirectory(prefix="cchc-inbound-") as tmp_name:
        tmp = Path(tmp_name)
        log_dir = Path(args.log_dir) if args.log_dir else tmp
        log_dir.mkdir(parents=True, exist_ok=True)
        fakes_proc = subprocess.Popen(
            [sys.executable, str(ROOT / "bench" / "inbound_fakes.py"), "--users", str(total)],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=(log_dir / f"fakes-{kind}.log").open("wb"))
        bot = None
        try:
            assert fakes_proc.stdout is not None
            fakes = json.loads(fakes_proc.stdout.readline())
            url = prepare_database(kind, tmp, args.pg_url, args.pg_database)
            port = free_port()
            base = f"http://127.0.0.1:{port}"
            extra = dict(item.split("=", 1) for item in args.env)
            log_path = log_dir / f"bot-{kind}.log"
            bot = subprocess.Popen([sys.executable, "-m", "bot.cli", "run"], cwd=ROOT,
                                   env=bot_env(url, port, fakes, extra),
                                   stdout=log_path.open("wb"), stderr=subprocess.STDOUT)
            await wait_ready(base, bot, workers=int(extra.get("CCHC_SERVER_WORKERS", "1")))
            await asyncio.sleep(1.0)  # the channels' start-up (setWebhook, the token) settles
            sampler = RssSampler(bot.pid)
            idle_rss = sampler.field("VmRSS")
            sampler.start()
            cpu_before = sampler.cpu_seconds()
            fakes_cpu = RssSampler(fakes_proc.pid)
            fakes_cpu_before = fakes_cpu.cpu_seconds()
            load_started = time.monotonic()
            spy = None
            raw = log_dir / f"profile-{kind}.txt"
            if args.profile:
                spy = subprocess.Popen(["py-spy", "record", "-p", str(bot.pid), "-r", "200", "-f", "raw",
                                        "-d", str(int(args.seconds + 2)), "-o", str(raw), "--nonblocking"],
                                       stdout=subprocess.DEVNULL, stderr=(log_dir / "py-spy.log").open("wb"))
            config = {"base": base, "total": total, "rate": args.rate, "mix": args.mix, "seed": args.seed,
                      "max_in_flight": args.max_in_flight}
            config_path, out_path = tmp / "drive.json", tmp / "driven.json"
            config_path.write_text(json.dumps(config))
            driver = await asyncio.create_subprocess_exec(
                sys.executable, str(Path(__file__).resolve()), "--drive", str(config_path), str(out_path),
                cwd=ROOT)
            await driver.wait()
            driven = json.loads(out_path.read_text())
            records = driven["records"]
            expected = sum(1 for r in records if r[0] != "web" and isinstance(r[3], int) and 200 <= r[3] < 300)
            deadline = time.monotonic() + DRAIN_SECONDS
            while True:  # the replies to accepted updates still on their way
                arrivals = await fetch_arrivals(fakes["control"])
                first = first_arrivals(arrivals)
                if len(first) >= expected or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.5)
            if spy is not None:
                spy.wait(timeout=60)
            async with aiohttp.ClientSession() as http, http.get(base + "/healthz") as r:
                health = await r.json()
            sampler.stopped.set()
            peak = sampler.field("VmHWM")
            processes = len(sampler.pids())
            server_cpu = sampler.cpu_seconds() - cpu_before
            wall = time.monotonic() - load_started
            result = summarize(records, first, driven["sending_seconds"])
            result.update({
                "database": kind, "rate_asked": args.rate, "seconds": args.seconds,
                "server_processes": processes, "rss_idle_mb": round((idle_rss or 0) / 2**20, 1),
                "rss_peak_mb": round((peak or max(sampler.samples, default=0)) / 2**20, 1),
                "health_after": {"status": health.get("status"), "channels": health.get("channels")},
                "server_cpu_s": round(server_cpu, 2), "wall_s": round(wall, 2),
                "server_cpu_ms_per_update": round(1000 * server_cpu / max(1, result["answered"]), 2),
                "fakes_cpu_s": round(fakes_cpu.cpu_seconds() - fakes_cpu_before, 2),
                "load_average": os.getloadavg()[0],
            })
            if args.profile and raw.exists():
                result["profile"] = profile_summary(raw)
            return result
        finally:
            if bot is not None:
                stop(bot, 30)
            fakes_proc.kill()
            fakes_proc.wait()
            drop_database(kind, args.pg_url, args.pg_database)


def show(result: dict[str, Any]) -> None:
    print(f"\n== {result['database']}: {result['sent']} updates asked at {result['rate_asked']}/s "
          f"for {result['seconds']} s")
    print(f"sent {result['sent_per_s']}/s, accepted {result['accepted']} ({result['accepted_per_s']}/s), "
          f"answered {result['answered']} ({result['answered_per_s']}/s)")
    print(f"latency send -> reply at the fake API: p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms, "
          f"max {result['max_ms']} ms")
    print(f"refused (503/429): {result['refused']}   errors: {result['errors']}   lost: {result['lost']}")
    print(f"statuses: {result['statuses']}")
    for name, part in result["channels"].items():
        print(f"  {name:9s} accepted {part['accepted']:6d} answered {part['answered']:6d} "
              f"p50 {part['p50_ms']} ms p99 {part['p99_ms']} ms")
    processes = result["server_processes"]
    summed = f" (summed over {processes} processes)" if processes > 1 else ""
    print(f"server RSS: idle {result['rss_idle_mb']} MB, peak {result['rss_peak_mb']} MB{summed}")
    print(f"server CPU: {result['server_cpu_s']} s over {result['wall_s']} s "
          f"({result['server_cpu_ms_per_update']} ms per answered update; with the py-spy sampler when "
          f"profiling); fakes CPU {result['fakes_cpu_s']} s; 1-min load average {result['load_average']:.2f}")
    print(f"/healthz after: {result['health_after']['status']}")
    if "profile" in result:
        prof = result["profile"]
        print(f"profile: {prof['samples']} samples; most time (inclusive):")
        for name, pct in prof["inclusive_pct"][:20]:
            print(f"  {pct:5.1f}%  {name}")
        print("most time (self):")
        for name, pct in prof["self_pct"][:12]:
            print(f"  {pct:5.1f}%  {name}")


def parse_mix(text: str) -> dict[str, float]:
    mix = {}
    for part in text.split(","):
        name, _, weight = part.partition("=")
        if name not in ("telegram", "zalo", "messenger", "web"):
            raise argparse.ArgumentTypeError(f"unknown channel {name!r}")
        mix[name] = float(weight)
    return mix


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--drive":
        config = json.loads(Path(sys.argv[2]).read_text())
        Path(sys.argv[3]).write_text(json.dumps(asyncio.run(drive(config))))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=1000.0, help="updates per second sent")
    parser.add_argument("--database", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--mix", type=parse_mix, default=parse_mix("telegram=0.4,zalo=0.4,web=0.2"))
    parser.add_argument("--max-in-flight", type=int, default=1000, help="requests the driver has open at most")
    parser.add_argument("--seed", type=int, default=10)
    parser.add_argument("--pg-url", default=os.environ.get("CCHC_BENCH_PG_URL", PG_URL))
    parser.add_argument("--pg-database", default=PG_DATABASE)
    parser.add_argument("--profile", action="store_true", help="py-spy the server during the load")
    parser.add_argument("--env", action="append", default=[], help="extra CCHC_KEY=value for the bot")
    parser.add_argument("--log-dir", help="keep the bot's and the fakes' logs here")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    kinds = ["sqlite", "postgresql"] if args.database == "both" else [args.database]
    results = [asyncio.run(run_one(args, kind)) for kind in kinds]
    if args.json:
        print(json.dumps(results, ensure_ascii=False, indent=2))
    else:
        for result in results:
            show(result)


if __name__ == "__main__":
    main()
