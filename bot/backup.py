"""Backups (``cchc-bot db backup`` / ``db restore``).

SQLite: SQLite's online backup API copies the database page by page under one read transaction,
so the copy is the database as it was at one instant, even while the running bot writes (WAL
mode lets it go on writing meanwhile). PostgreSQL: ``pg_dump`` does the same job better than we
could; the commands say how to call it.

A restore must not pull the database from under a running bot. Every ``cchc-bot run`` process
takes and renews database leases (``lease`` table: the broadcast sender, the campaign scheduler,
the maintenance jobs; at least the last is held while any process runs), so a lease that has not
expired means a bot is running on this database. A bot stopped with SIGTERM or Ctrl+C releases
its leases at once; one killed outright holds them until they expire (``broadcast.lease_seconds``).
"""

from __future__ import annotations

import datetime as dt
import os
import shlex
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import URL, make_url


class BackupError(Exception):
    """What went wrong, in the CLI's words."""


@dataclass(frozen=True)
class Copied:
    path: Path
    tables: dict[str, int]  # rows per table in the copy


def sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise BackupError(f"database.url {url!r} không trỏ tới một tệp SQLite")
    return Path(database)


def _counts(connection: sqlite3.Connection) -> dict[str, int]:
    names = [row[0] for row in connection.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]
    return {name: connection.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0] for name in names}


def _check(connection: sqlite3.Connection, what: Path) -> None:
    problem = connection.execute("PRAGMA integrity_check").fetchone()[0]
    if problem != "ok":
        raise BackupError(f"{what}: tệp hỏng ({problem})")
    found = connection.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'").fetchone()
    if found is None:
        raise BackupError(f"{what}: không phải cơ sở dữ liệu của CCHC Bot (không có bảng alembic_version)")


def _copy(source: sqlite3.Connection, target_path: Path) -> None:
    """``source`` into a new file at ``target_path``, atomically (a temporary file renamed)."""
    partial = target_path.with_name(f".{target_path.name}.partial-{os.getpid()}")
    partial.unlink(missing_ok=True)
    target = sqlite3.connect(partial)
    try:
        source.backup(target)  # all pages in one step: one consistent snapshot
        target.execute("PRAGMA journal_mode=DELETE")  # a single self-contained file
    finally:
        target.close()
    os.replace(partial, target_path)


def backup_sqlite(url: str, out: Path) -> Copied:
    """A consistent copy of the running (or stopped) bot's SQLite database in ``out``."""
    path = sqlite_path(url)
    if not path.exists():
        raise BackupError(f"không có cơ sở dữ liệu {path}")
    if out.exists():
        raise BackupError(f"{out} đã có: chọn tên tệp khác (bản sao lưu không ghi đè)")
    out.parent.mkdir(parents=True, exist_ok=True)
    source = sqlite3.connect(path, timeout=30)  # only read (read-only URIs cannot open a WAL file)
    try:
        _copy(source, out)
    finally:
        source.close()
    copy = sqlite3.connect(out)
    try:
        _check(copy, out)
        return Copied(out, _counts(copy))
    finally:
        copy.close()


def live_leases(connection: sqlite3.Connection, now: dt.datetime | None = None) -> list[tuple[str, str]]:
    """(lease, holder) pairs not yet expired: a bot is running on this database."""
    exists = connection.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'lease'").fetchone()
    if exists is None:
        return []
    moment = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).replace(tzinfo=None)
    rows = connection.execute("SELECT name, holder, expires_at FROM lease").fetchall()
    live = []
    for name, holder, expires in rows:
        expires_at = dt.datetime.fromisoformat(str(expires)).replace(tzinfo=None)
        if expires_at > moment:
            live.append((name, holder))
    return live


def restore_sqlite(url: str, backup: Path) -> Copied:
    """Replace the configured SQLite database with ``backup``; the current one is kept beside it
    (``<db>.before-restore-<time>``). Refused while a bot runs on it."""
    path = sqlite_path(url)
    if not backup.exists():
        raise BackupError(f"không có tệp {backup}")
    source = sqlite3.connect(backup)
    try:
        _check(source, backup)
        counts = _counts(source)
        if path.exists():
            current = sqlite3.connect(path, timeout=30)
            try:
                running = live_leases(current)
                if running:
                    holders = ", ".join(sorted({holder for _, holder in running}))
                    raise BackupError(
                        f"bot đang chạy trên {path} (đang giữ lease: {holders}). Hãy dừng bot "
                        "(systemctl stop cchc-bot, hoặc Ctrl+C) rồi chạy lại lệnh; bot bị tắt đột ngột "
                        "thì đợi hết hạn lease (broadcast.lease_seconds).")
                stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
                _copy(current, path.with_name(f"{path.name}.before-restore-{stamp}"))
            finally:
                current.close()
        path.parent.mkdir(parents=True, exist_ok=True)
        for suffix in ("-wal", "-shm"):  # the old database's journal must not replay over the new one
            path.with_name(path.name + suffix).unlink(missing_ok=True)
        _copy(source, path)
    finally:
        source.close()
    return Copied(path, counts)


def _pg_command(url: str) -> tuple[str, str]:
    """The libpq connection string with the password left out (pg_dump asks, or reads PGPASSWORD
    or ~/.pgpass), and a note when the URL had one."""
    parsed = make_url(url)
    note = ""
    if parsed.password:
        note = "Mật khẩu không in ra: đặt PGPASSWORD hoặc ghi vào ~/.pgpass.\n"
    bare = URL.create("postgresql", parsed.username, None, parsed.host, parsed.port, parsed.database,
                      parsed.query)
    return bare.render_as_string(hide_password=False), note


def pg_dump_hint(url: str, out: Path) -> str:
    target, note = _pg_command(url)
    return ("Với PostgreSQL, sao lưu bằng pg_dump (bản sao nhất quán, không cần dừng bot):\n\n"
            f"  pg_dump --format=custom --no-owner --file {shlex.quote(str(out))} {shlex.quote(target)}\n\n"
            f"{note}Khôi phục: cchc-bot db restore {shlex.quote(str(out))} in lệnh pg_restore tương ứng.")


def pg_restore_hint(url: str, backup: Path) -> str:
    target, note = _pg_command(url)
    return ("Với PostgreSQL, khôi phục bằng pg_restore, sau khi dừng mọi tiến trình cchc-bot run:\n\n"
            f"  pg_restore --clean --if-exists --no-owner --dbname {shlex.quote(target)} "
            f"{shlex.quote(str(backup))}\n\n"
            f"{note}Rồi chạy cchc-bot db upgrade (hoặc khởi động bot: tự nâng cấp lược đồ).")
