"""``cchc-bot run`` as a deployment runs it: one process serving everything on one port, and a
graceful stop on SIGTERM that lets the request in flight finish."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.web_support import FIXTURE

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> tuple[int, bytes, dict]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - our own test server
            return response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), dict(exc.headers)


def _start(env: dict[str, str], cwd: Path, log: Path) -> tuple[subprocess.Popen, str]:
    """``cchc-bot run`` with ``env``, its output in ``log``, once it answers /livez: the process
    and its URL. A server that exits or takes over a minute fails the test with its log."""
    process = subprocess.Popen([sys.executable, "-m", "bot.cli", "run"], cwd=cwd, env=env,
                               stdout=log.open("wb"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{env['CCHC_SERVER_PORT']}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if _get(url + "/livez")[0] == 200:
                return process, url
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise AssertionError(log.read_text())
        time.sleep(0.2)


@pytest.fixture
def running(tmp_path: Path):  # noqa: ANN201
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CCHC_")}
    env.update({
        "CCHC_DATABASE_URL": f"sqlite:///{tmp_path}/serve.db",
        "CCHC_CONTENT_PATH": str(FIXTURE),
        "CCHC_CONTENT_RELOAD": "false",
        "CCHC_PSEUDONYM_SALT": "serve-test",
        "CCHC_SERVER_PORT": str(port),
        "CCHC_SERVER_SHUTDOWN_TIMEOUT": "10",
        "CCHC_BROADCAST_SCHEDULER": "false",
    })
    process, url = _start(env, tmp_path, tmp_path / "serve.log")
    yield process, url, port
    if process.poll() is None:
        process.kill()
        process.wait()


def test_one_server_for_everything(running) -> None:  # noqa: ANN001
    _, url, _ = running
    status, body, _ = _get(url + "/")
    assert status == 200 and b'lang="vi"' in body
    status, body, headers = _get(url + "/widget.js")
    assert status == 200 and headers["Content-Type"].startswith("text/javascript")
    status, body, _ = _get(url + "/healthz")
    health = json.loads(body)
    assert status == 200 and health["ready"] is True
    assert health["broadcast"]["sender"]["here"] is True  # [broadcast] sender on, scheduler off here
    assert health["broadcast"]["scheduler"]["here"] is False
    assert set(health["background"]) >= {"lease:maintenance", "retention:purge", "feedback:check-tickets",
                                          "lookups:dossier-notices", "content:follow",
                                          "contest:erase-details"}
    assert health["content"]["revision"] == 1  # the files on disk, taken in before serving began
    assert all(state == "running" for state in health["background"].values())
    status, body, _ = _get(url + "/metrics")
    assert status == 200 and b"cchc_database_up 1.0" in body
    status, body, _ = _get(url + "/admin/login")
    assert status == 200 and "Đăng nhập".encode() in body


def test_sigterm_lets_the_request_in_flight_finish(running, tmp_path: Path) -> None:  # noqa: ANN001
    process, _, port = running
    body = json.dumps({"text": "thủ tục kết hôn"}).encode()
    # Another writer holds the database: the chat turn waits for it (SQLite's busy timeout), so
    # the request is certainly being handled when the stop signal comes.
    blocker = sqlite3.connect(tmp_path / "serve.db", isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=20) as conn:
            conn.sendall(b"POST /api/chat HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                         b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
            time.sleep(0.7)
            process.send_signal(signal.SIGTERM)
            time.sleep(0.5)
            # New connections are no longer accepted...
            with pytest.raises(OSError):
                socket.create_connection(("127.0.0.1", port), timeout=2).close()
            assert process.poll() is None  # ...but the process waits for the request in flight,
            blocker.execute("COMMIT")
            answer = b""
            while not answer.rstrip().endswith(b"}"):
                chunk = conn.recv(65536)
                if not chunk:
                    break
                answer += chunk
    finally:
        blocker.close()
    assert answer.startswith(b"HTTP/1.1 200"), answer[:300]  # ...which gets its answer,
    assert b'"outcome": "answer"' in answer
    assert process.wait(timeout=30) == 0  # and then it stops cleanly.
