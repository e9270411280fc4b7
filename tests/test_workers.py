"""``cchc-bot run --workers N`` (past one core): real worker processes on one port and
a real PostgreSQL; what must run once per deployment runs once; the supervisor restarts a
worker that dies, gives up when they keep dying, and stops them all gracefully on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text

from bot.cli import main
from bot.storage.db import sync_url
from bot.supervisor import MAX_RESTARTS
from tests.test_serve import _free_port, _start
from tests.web_support import FIXTURE

ROOT = Path(__file__).resolve().parent.parent


def _request(url: str, body: dict | None = None) -> tuple[int, dict, str]:
    """(status, JSON body, X-CCHC-Worker) on a new connection each time."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - our own test server
            return response.status, json.loads(response.read()), response.headers["X-CCHC-Worker"]
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read()), exc.headers["X-CCHC-Worker"]


class Deployment:
    def __init__(self, process: subprocess.Popen, url: str, database_url: str, log: Path) -> None:
        self.process, self.url, self.database_url, self.log = process, url, database_url, log

    def workers(self, path: str = "/healthz", body: dict | None = None, want: int = 2,
                attempts: int = 200) -> dict[int, list[tuple[int, dict]]]:
        """Requests on fresh connections, a few at a time, until ``want`` workers answered: by
        worker index, each answer's (pid, body)."""
        seen: dict[int, list[tuple[int, dict]]] = {}
        with ThreadPoolExecutor(8) as pool:
            for _ in range(attempts // 8):
                for status, answer, worker in pool.map(lambda _: _request(self.url + path, body), range(8)):
                    assert status == 200, answer
                    index, pid = map(int, worker.split("/"))
                    seen.setdefault(index, []).append((pid, answer))
                if len(seen) >= want:
                    return seen
        raise AssertionError(f"only workers {sorted(seen)} answered")

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=60)


@pytest.fixture
def telegram() -> Iterator[str]:
    """The fake Telegram Bot API in its own process: its base URL."""
    process = subprocess.Popen([sys.executable, "-m", "fakes.telegram", "--port",
                                str(_free_port())], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    line = process.stdout.readline()  # "fake Bot API on <base URL> (token ...)" once it listens
    assert line.startswith("fake Bot API on "), line
    yield line.split()[4]
    process.kill()
    process.wait()


@pytest.fixture
def deployment(database_url: str, telegram: str, tmp_path: Path) -> Iterator[Deployment]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CCHC_")}
    env.update({
        "CCHC_TELEGRAM_TOKEN": "123456789:AAE-fake-token-for-tests",  # long polling
        "CCHC_TELEGRAM_BASE_URL": telegram,
        "CCHC_DATABASE_URL": database_url,
        "CCHC_CONTENT_PATH": str(FIXTURE),
        "CCHC_CONTENT_RELOAD": "false",
        "CCHC_PSEUDONYM_SALT": "workers-test",
        "CCHC_SERVER_PORT": str(port),
        "CCHC_SERVER_WORKERS": "2",
        "CCHC_SERVER_SHUTDOWN_TIMEOUT": "10",
    })
    process, url = _start(env, tmp_path, tmp_path / "bot.log")  # until a worker answers
    yield Deployment(process, url, database_url, tmp_path / "bot.log")
    if process.poll() is None:
        process.kill()
        process.wait()


def _lease_holders(database_url: str) -> dict[str, str]:
    engine = create_engine(sync_url(database_url))
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT name, holder FROM lease WHERE expires_at > now()")).all()
    engine.dispose()
    return {name: holder for name, holder in rows}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.postgresql_only
def test_two_workers_answer_on_one_port_and_one_holds_each_lease(deployment: Deployment) -> None:
    chats = deployment.workers("/api/chat", {"text": "thủ tục kết hôn"})
    assert all(answer["outcome"] == "answer" for answers in chats.values() for _, answer in answers)
    pids = {index: {pid for pid, _ in answers} for index, answers in chats.items()}
    assert sorted(pids) == [0, 1] and all(len(p) == 1 for p in pids.values())
    worker_pids = {index: p.pop() for index, p in pids.items()}
    assert deployment.process.pid not in worker_pids.values()  # the parent only supervises

    deadline = time.monotonic() + 30
    while True:  # until both workers have started everything and the first leases are taken
        health = {index: answers[-1][1] for index, answers in deployment.workers().items()}
        for part in ("sender", "scheduler"):  # never do both hold a lease
            assert sum(h["broadcast"].get(part, {}).get("held_here", False) for h in health.values()) <= 1
        if all(h["status"] == "ok" and h["broadcast"] for h in health.values()):  # jobs, leases, channels
            break
        assert time.monotonic() < deadline, health
    for part in ("sender", "scheduler"):  # both run a sender and a scheduler; one of each works
        assert all(h["broadcast"][part]["here"] for h in health.values())
        assert sum(h["broadcast"][part]["held_here"] for h in health.values()) == 1
    assert {index: h["worker"] for index, h in health.items()} == \
        {index: {"index": index, "pid": pid} for index, pid in worker_pids.items()}
    # Telegram allows one getUpdates consumer: worker 0 polls, worker 1 only sends.
    assert [(h["channels"]["telegram"]["mode"], h["channels"]["telegram"]["status"])
            for _, h in sorted(health.items())] == [("polling", "ok"), ("send-only", "ok")]
    for part in ("sender", "scheduler"):
        [holder] = {h["broadcast"][part]["holder"] for h in health.values()}
        assert int(holder.split(":")[1]) in worker_pids.values()
    holders = _lease_holders(deployment.database_url)
    assert set(holders) == {"sender", "scheduler", "maintenance"}
    assert {int(h.split(":")[1]) for h in holders.values()} <= set(worker_pids.values())

    assert deployment.stop() == 0  # SIGTERM: every worker stops gracefully, then the parent
    assert not any(_alive(pid) for pid in worker_pids.values())
    assert _lease_holders(deployment.database_url) == {}  # released, not left to expire
    assert deployment.log.read_text().count("Context impl PostgresqlImpl") == 1  # migrations: once


@pytest.mark.postgresql_only
def test_a_killed_worker_is_started_again(deployment: Deployment) -> None:
    before = {index: answers[0][0] for index, answers in deployment.workers().items()}
    os.kill(before[1], signal.SIGKILL)
    deadline = time.monotonic() + 60
    while True:  # the port keeps answering meanwhile (worker 0), until worker 1 is back
        status, health, _ = _request(deployment.url + "/healthz")
        assert status == 200
        worker = health["worker"]
        if worker["index"] == 1 and worker["pid"] != before[1]:
            break
        assert worker == {"index": 0, "pid": before[0]} or worker["index"] == 1
        assert time.monotonic() < deadline, "worker 1 was not started again"
    assert not _alive(before[1])
    assert deployment.stop() == 0


def test_workers_that_keep_dying_stop_the_supervisor() -> None:
    """Restarts are bounded: past MAX_RESTARTS deaths in the window, the parent exits non-zero."""
    script = ("import sys; from bot.supervisor import supervise\n"
              "def crash(index):\n    sys.exit(3)\n"
              "sys.exit(supervise(2, crash))")
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 1, result.stderr
    assert result.stderr.count("exited with 3") == MAX_RESTARTS + 1  # restarted, then given up
    assert f"{MAX_RESTARTS + 1} worker deaths" in result.stderr


def test_several_workers_need_postgresql(tmp_path: Path) -> None:
    env = {"CCHC_DATABASE_URL": f"sqlite:///{tmp_path}/one.db", "CCHC_CONTENT_PATH": str(FIXTURE),
           "CCHC_PSEUDONYM_SALT": "x"}
    for args, extra in ((["run", "--workers", "2"], {}), (["run"], {"CCHC_SERVER_WORKERS": "3"})):
        result = CliRunner().invoke(main, args, env=env | extra)
        assert result.exit_code == 1
        assert "cần cơ sở dữ liệu PostgreSQL" in result.output and "SQLite" in result.output
    assert not (tmp_path / "one.db").exists()  # refused before anything was touched


@pytest.mark.postgresql_only
def test_a_port_already_taken_is_reported_before_any_worker_starts(database_url: str) -> None:
    env = {"CCHC_DATABASE_URL": database_url, "CCHC_CONTENT_PATH": str(FIXTURE), "CCHC_PSEUDONYM_SALT": "x"}
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        result = CliRunner().invoke(main, ["run", "--workers", "2", "--port", str(port)], env=env)
    assert result.exit_code == 1
    assert f"không mở được cổng 127.0.0.1:{port}" in result.output
