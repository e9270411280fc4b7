"""``cchc-bot db backup`` / ``db restore`` (issue 20): a consistent SQLite copy while the database
is being written, restored whole; no restore under a running bot; pg_dump's command for
PostgreSQL."""

from __future__ import annotations

import json
import signal
import sqlite3
import threading
import time
import urllib.request
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import create_engine
from sqlmodel import Session

from bot.cli import main
from bot.storage.db import sync_url, upgrade
from bot.storage.models import QuestionLog
from tests.test_serve import _free_port, _start
from tests.web_support import FIXTURE


def cli(url: str, *args: str):  # noqa: ANN201
    env = {"CCHC_DATABASE_URL": url, "CCHC_PSEUDONYM_SALT": "backup-test", "CCHC_CONTENT_PATH": str(FIXTURE)}
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


class Writer(threading.Thread):
    """Inserts question rows one transaction at a time, as fast as it can, remembering each
    committed row's id and text."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.engine = create_engine(sync_url(url), connect_args={"timeout": 30})
        self.committed: dict[int, str] = {}
        self.stop = threading.Event()

    def run(self) -> None:
        with Session(self.engine) as session:
            n = 0
            while not self.stop.is_set():
                n += 1
                row = QuestionLog(channel="web", user_key=f"u{n % 7}", text=f"câu hỏi số {n}",
                                  outcome="answer", faq_id="khai-sinh", latency_ms=1.0, candidates=[])
                session.add(row)
                session.commit()
                self.committed[row.id] = row.text  # type: ignore[index]

    def wait_for(self, count: int) -> None:
        deadline = time.monotonic() + 30
        while len(self.committed) < count:
            assert time.monotonic() < deadline, "the writer is too slow"
            time.sleep(0.01)


def rows(path: Path) -> dict[int, str]:
    with sqlite3.connect(path) as connection:
        return dict(connection.execute("SELECT id, text FROM question_log"))


def test_a_backup_under_write_load_is_restored_with_every_row(tmp_path: Path) -> None:
    live = tmp_path / "data" / "cchc.db"
    url = f"sqlite:///{live}"
    upgrade(url)
    writer = Writer(url)
    writer.start()
    try:
        writer.wait_for(300)
        before = dict(writer.committed)  # committed before the backup began
        result = cli(url, "db", "backup", "--out", str(tmp_path / "backup.db"))
        assert result.exit_code == 0, result.output
        writer.wait_for(len(before) + 300)  # and the writes go on after it
    finally:
        writer.stop.set()
        writer.join(10)
        writer.engine.dispose()
    assert "kiểm tra toàn vẹn: tốt" in result.output

    copied = rows(tmp_path / "backup.db")
    assert before.items() <= copied.items()  # every row committed before the backup is in it
    assert sorted(copied) == list(range(1, max(copied) + 1))  # one instant: no row missing in between
    assert copied.items() <= writer.committed.items()
    assert len(writer.committed) > len(copied)  # the copy did not wait for the writer to stop

    again = cli(url, "db", "backup", "--out", str(tmp_path / "backup.db"))
    assert again.exit_code == 1 and "đã có" in again.output  # a backup is never overwritten

    result = cli(url, "db", "restore", str(tmp_path / "backup.db"))
    assert result.exit_code == 0, result.output
    assert rows(live) == copied  # the database is the backup, row for row
    [kept] = live.parent.glob("cchc.db.before-restore-*")
    assert rows(kept) == writer.committed  # and the database it replaced is kept beside it


def test_no_restore_under_a_running_bot(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/serve.db"
    env = {"CCHC_DATABASE_URL": url, "CCHC_CONTENT_PATH": str(FIXTURE), "CCHC_CONTENT_RELOAD": "false",
           "CCHC_PSEUDONYM_SALT": "backup-test", "CCHC_SERVER_PORT": str(_free_port()),
           "CCHC_BROADCAST_SCHEDULER": "false", "PATH": "/usr/bin:/bin"}
    process, base = _start(env, tmp_path, tmp_path / "serve.log")
    try:
        body = json.dumps({"text": "thủ tục kết hôn"}).encode()
        request = urllib.request.Request(base + "/api/chat", body, {"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - our own server
            assert response.status == 200
        result = cli(url, "db", "backup", "--out", str(tmp_path / "running.db"))
        assert result.exit_code == 0, result.output  # a backup while it runs is fine
        refused = cli(url, "db", "restore", str(tmp_path / "running.db"))
        assert refused.exit_code == 1
        assert "bot đang chạy" in refused.output and "lease" in refused.output
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
    assert rows(tmp_path / "running.db")  # the conversation's question is in the backup
    result = cli(url, "db", "restore", str(tmp_path / "running.db"))  # stopped: its leases are released
    assert result.exit_code == 0, result.output


def test_restore_refuses_a_file_that_is_not_a_backup(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/cchc.db"
    upgrade(url)
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.commit()
    result = cli(url, "db", "restore", str(other))
    assert result.exit_code == 1 and "không phải cơ sở dữ liệu của CCHC Bot" in result.output
    assert "alembic_version" in {r[0] for r in sqlite3.connect(tmp_path / "cchc.db").execute(
        "SELECT name FROM sqlite_master")}  # the database is untouched


def test_postgresql_says_to_use_pg_dump_without_printing_the_password(tmp_path: Path) -> None:
    url = "postgresql://bot:s3cret@db.internal:5432/cchc"
    result = cli(url, "db", "backup", "--out", str(tmp_path / "cchc.dump"))
    assert result.exit_code == 2  # nothing was written
    assert f"pg_dump --format=custom --no-owner --file {tmp_path}/cchc.dump postgresql://bot@db.internal:5432/cchc" \
        in result.output
    assert "s3cret" not in result.output and "PGPASSWORD" in result.output
    result = cli(url, "db", "restore", str(tmp_path / "cchc.dump"))
    assert result.exit_code == 2 and "pg_restore --clean --if-exists" in result.output
