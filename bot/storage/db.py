"""The database: one async engine for the running bot, Alembic for the schema.

SQLite (a file under ./data/, WAL mode) by default; PostgreSQL when ``database.url`` says so.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.child import run_python

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def sync_url(url: str) -> str:
    """The URL for synchronous tools (Alembic): psycopg 3 for PostgreSQL."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    elif parsed.get_backend_name() == "sqlite":
        parsed = parsed.set(drivername="sqlite")
    return parsed.render_as_string(hide_password=False)


def async_url(url: str) -> str:
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    elif parsed.get_backend_name() == "sqlite":
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    return parsed.render_as_string(hide_password=False)


def dialect_insert(dialect: str):  # noqa: ANN201 - the dialect's Insert construct
    """The dialect's INSERT, the one with ON CONFLICT (upserts, "insert unless recorded")."""
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def ensure_sqlite_dir(url: str) -> None:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # noqa: ANN001
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def upgrade(url: str, revision: str = "heads") -> None:
    """Bring the schema to ``revision`` (``cchc-bot db upgrade``; also run at start-up).

    Alembic is imported here, not at module level: the running bot only needs it once, and
    keeping its modules out of ``sys.modules`` saves memory in every worker."""
    from alembic import command
    from alembic.config import Config as AlembicConfig

    ensure_sqlite_dir(url)
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", sync_url(url).replace("%", "%%"))
    command.upgrade(cfg, revision)


def upgrade_apart(url: str) -> None:
    """``upgrade`` in a short-lived child process (``bot.child``): the serving process then
    never imports Alembic (with Mako and Pygments, ~10 MB it would keep for nothing)."""
    from bot.logging_setup import current

    level, fmt = current()
    code = run_python(  # Alembic's log lines as the server's own would be
        "import sys; from bot.logging_setup import configure; configure(int(sys.argv[1]), sys.argv[2]); "
        "from bot.storage.db import upgrade; upgrade(sys.stdin.read())",
        str(level), fmt, stdin=url)
    if code != 0:
        raise RuntimeError(f"database migrations failed (exit {code}); the error is above")


class Database:
    """The async engine and session factory shared by every handler."""

    def __init__(self, url: str, echo: bool = False) -> None:
        ensure_sqlite_dir(url)
        self.url = url
        kwargs = {"echo": echo, "hide_parameters": True}  # SQL errors never log citizens' data
        if not is_sqlite(url):
            # No pool_pre_ping (a SELECT 1 per checkout, i.e. per turn): after an outage the
            # first statement on a dead connection fails, that turn is answered from memory,
            # and SQLAlchemy invalidates the whole pool on the disconnect error, so recovery
            # stays automatic (tests/test_outages.py).
            kwargs |= {"pool_size": 10, "max_overflow": 10}
        self.engine: AsyncEngine = create_async_engine(async_url(url), **kwargs)
        self.dialect = self.engine.dialect.name  # "sqlite" or "postgresql"
        if is_sqlite(url):
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        self._sessions = async_sessionmaker(self.engine, class_=AsyncSession, expire_on_commit=False)

    @contextlib.asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        async with self._sessions() as session:
            yield session

    async def dispose(self) -> None:
        await self.engine.dispose()
