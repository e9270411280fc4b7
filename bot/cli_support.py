"""What every ``cchc-bot`` sub-command starts from: the settings, and the bot built from them.

The sub-commands of the features import this, never ``bot.cli`` (which registers them).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import click

from bot.config import LOG_FORMAT, ConfigError, Settings, load_settings

if TYPE_CHECKING:
    from bot.app import BotApp


def load(ctx: click.Context) -> Settings:
    """The configuration of ``--config`` (or the environment), with logging set up from it."""
    try:
        settings = load_settings(ctx.obj.get("config"))
    except ConfigError as exc:
        raise click.ClickException(f"cấu hình không hợp lệ:\n{exc}") from exc
    logging.basicConfig(
        level=getattr(logging, settings.logging.level),
        format=LOG_FORMAT,  # with the pid: which worker
    )
    return settings


def build(ctx: click.Context, persistent: bool = True, settings: Settings | None = None,
          migrate_apart: bool = False) -> BotApp:
    """The bot for a command: ``persistent=False`` is the read-only profile (nothing recorded)."""
    from bot.content.store import ContentError
    from bot.root import build_app
    from bot.storage.db import upgrade, upgrade_apart

    settings = settings or load(ctx)
    try:
        return build_app(settings, persistent=persistent, migrate=upgrade_apart if migrate_apart else upgrade)
    except ContentError as exc:
        raise click.ClickException(str(exc)) from exc

