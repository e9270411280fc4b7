"""The Alembic migrations build exactly the schema the sqlmodel tables describe."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine
from sqlmodel import SQLModel

import bot.storage.models  # noqa: F401 - registers every table
from bot.storage.db import sync_url, upgrade, upgrade_apart


def schema_diff(url: str) -> list:
    """What the database's schema lacks or has more than the sqlmodel tables."""
    engine = create_engine(sync_url(url))
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    engine.dispose()
    return diff


def test_migrations_match_the_models(database_url: str) -> None:
    upgrade(database_url)
    assert schema_diff(database_url) == []


def test_upgrade_is_idempotent(database_url: str) -> None:
    upgrade(database_url)
    upgrade(database_url)  # a restart runs it again: nothing to do, no error


def test_upgrade_apart_builds_the_same_schema_in_a_child_process(tmp_path) -> None:
    """``cchc-bot run`` migrates in a child so the server never imports Alembic."""
    url = f"sqlite:///{tmp_path}/apart.db"
    upgrade_apart(url)
    assert schema_diff(url) == []


def test_upgrade_apart_reports_a_failed_migration() -> None:
    with pytest.raises(RuntimeError, match="migrations failed"):
        upgrade_apart("sqlite:////proc/no-such-place/bot.db")  # the folder cannot be made
