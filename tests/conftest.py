"""Shared fixtures: a real database (SQLite, and PostgreSQL when CCHC_TEST_DATABASE_URL is set)
and a bot built through the same composition root as production."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bot.app import BotApp
from bot.root import build_app
from bot.config import BUNDLED_CONTENT, Content, Database, Secrets, Settings
from bot.storage.db import sync_url

PG_URL = os.environ.get("CCHC_TEST_DATABASE_URL")
BACKENDS = ["sqlite", "postgresql"] if PG_URL else ["sqlite"]


# Each test run works in its own schema, so runs sharing the CI database never collide.
PG_SCHEMA = f"cchc_test_{os.getpid()}"


def _reset_postgres(url: str) -> str:
    """An empty schema for one test; returns the URL whose connections use it."""
    engine = create_engine(sync_url(url))
    with engine.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE"))
        conn.execute(text(f"CREATE SCHEMA {PG_SCHEMA}"))
    engine.dispose()
    return str(make_url(url).update_query_dict({"options": f"-csearch_path={PG_SCHEMA}"}))


@pytest.fixture(scope="session", autouse=True)
def _drop_postgres_schema() -> Iterator[None]:
    yield
    if PG_URL:
        engine = create_engine(sync_url(PG_URL))
        with engine.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE"))
        engine.dispose()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``postgresql_only`` exist only in their PostgreSQL variant."""
    keep, drop = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        backend = callspec.params.get("database_url") if callspec else None
        if item.get_closest_marker("postgresql_only") and backend != "postgresql":
            drop.append(item)
        else:
            keep.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/cchc-test.db"
    assert PG_URL is not None
    return _reset_postgres(PG_URL)


def make_settings(database_url: str, content: Path = BUNDLED_CONTENT, **sections: object) -> Settings:
    return Settings(
        database=Database(url=database_url),
        content=Content(path=content, reload=False),
        secrets=Secrets(pseudonym_salt=SecretStr("test-salt")),
        **sections,
    )


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url)


@pytest.fixture
async def bot(settings: Settings) -> AsyncIterator[BotApp]:
    app = build_app(settings)
    yield app
    await app.close()
