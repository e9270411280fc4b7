"""Shared fixtures: a real database (SQLite, and PostgreSQL when CCHC_TEST_DATABASE_URL is set)
and a bot built through the same composition root as production."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import create_engine, text

from bot.app import BotApp, build_app
from bot.config import BUNDLED_CONTENT, Content, Database, Secrets, Settings
from bot.storage.db import sync_url

PG_URL = os.environ.get("CCHC_TEST_DATABASE_URL")
BACKENDS = ["sqlite", "postgresql"] if PG_URL else ["sqlite"]


def _reset_postgres(url: str) -> None:
    engine = create_engine(sync_url(url))
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/cchc-test.db"
    assert PG_URL is not None
    _reset_postgres(PG_URL)
    return PG_URL


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
