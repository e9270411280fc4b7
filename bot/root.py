"""The composition root: everything the bot is made of, built once, in one place, from Settings.

The conversation features (``handlers``) meet the core (``bot.app``) here and nowhere else.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable

from bot.app import DATA_DIR, BotApp, match_params
from bot import http
from bot.config import Settings, pseudonym_salt
from bot.content.store import ContentStore
from bot.pressure import UserRateLimiter
from bot.storage import db as storage
from handlers import build_dispatcher
from handlers.feedback import service as feedback

log = logging.getLogger(__name__)


def build_app(settings: Settings, *, persistent: bool = True,
              migrate: Callable[[str], None] = storage.upgrade) -> BotApp:
    """Everything the bot needs, built in one place.

    ``persistent=False`` builds a read-only bot for one-off questions: no migrations and no
    salt file, since nothing will be recorded. ``migrate``: how the schema is brought up to
    date (``cchc-bot run`` does it in a child process, see ``storage.upgrade_apart``).
    """
    content = ContentStore(
        settings.content.path, settings.office.template_values(), match_params(settings),
        apart_from_files=settings.content.separate_process_from or None,
    )
    for problem in content.load():
        log.warning("content: %s", problem)
    if persistent:
        migrate(settings.database.url)
    database = storage.Database(settings.database.url, echo=settings.database.echo)
    return BotApp(
        settings=settings,
        content=content,
        database=database,
        dispatcher=build_dispatcher(),
        salt=pseudonym_salt(settings, DATA_DIR) if persistent else os.urandom(32),
        fetch=http.fetch,
        outbox_effects=dict(feedback.OUTBOX_EFFECTS),
        limiter=UserRateLimiter(settings.server.user_messages_per_minute, settings.server.user_burst),
    )
