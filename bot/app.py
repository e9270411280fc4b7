"""The composition root: builds every service explicitly from Settings.

``BotApp.handle`` is the one entry point every channel calls: it loads the user's
conversation state from the database, dispatches, and saves the state and records. A
database outage degrades to answering from the in-memory content without records.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import delete
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot import metrics
from bot.config import Settings, pseudonym_salt
from bot.content.store import ContentStore
from bot.matching import MatchParams
from bot.messages import Incoming, Response
from bot.routing import Context, Dispatcher, Services
from bot.storage import db as storage
from bot.storage.models import ChannelUser, ConversationState, QuestionLog, utcnow

if TYPE_CHECKING:
    from bot.channels import Channel

log = logging.getLogger(__name__)
DATA_DIR = Path("data")


def match_params(settings: Settings) -> MatchParams:
    return MatchParams(**settings.matching.model_dump())


@dataclass
class BotApp:
    settings: Settings
    content: ContentStore
    database: storage.Database
    dispatcher: Dispatcher
    salt: bytes
    # The running channels by name (set by ``serve``): how the bot reaches users outside a turn.
    channels: dict[str, Channel] = field(default_factory=dict)

    def user_key(self, channel: str, user_id: str) -> str:
        """A stable pseudonym: records never hold a platform user id in the clear."""
        digest = hmac.new(self.salt, f"{channel}:{user_id}".encode(), hashlib.sha256)
        return digest.hexdigest()[:32]

    async def handle(self, message: Incoming, record: bool = True) -> Response:
        """Answer one message. ``record=False`` (``cchc-bot ask``) touches no database."""
        started = time.perf_counter()
        key = self.user_key(message.channel, message.user_id)
        snapshot = self.content.current
        is_admin = self.settings.is_admin(message.channel, message.user_id, message.chat_id)
        if not record:
            ctx = Context(snapshot, self.settings, key, message.channel, {}, None, is_admin=is_admin,
                          database=self.database)
            return await self.dispatcher.dispatch(ctx, message)
        async with self.database.session() as session:
            state = await self._load_state(session, key)
            ctx = Context(
                content=snapshot,
                settings=self.settings,
                user_key=key,
                channel=message.channel,
                state=dict(state) if state is not None else {},
                session=session if state is not None else None,
                is_admin=is_admin,
                database=self.database,
                services=Services(content=self.content, channels=self.channels),
            )
            if ctx.session is not None:
                ctx.channel_user_id = await self._touch_user(ctx, message.user_id)
            before = dict(ctx.state)
            response = await self.dispatcher.dispatch(ctx, message)
            if ctx.session is not None:
                await self._save(ctx, before)
        metrics.observe_turn(message.channel, response.outcome, time.perf_counter() - started)  # /metrics
        return response

    async def _load_state(self, session: AsyncSession, key: str) -> dict | None:
        """The user's state, {} for a new user, None when the database is unreachable."""
        try:
            row = await session.get(ConversationState, key)
        except SQLAlchemyError:
            log.exception("database unavailable: answering without conversation state")
            return None
        return row.state if row is not None else {}

    async def _touch_user(self, ctx: Context, platform_id: str) -> int | None:
        """Remember where to reach this user and when they last wrote to us."""
        assert ctx.session is not None
        try:
            row = (await ctx.session.exec(select(ChannelUser).where(
                ChannelUser.channel == ctx.channel, ChannelUser.platform_id == platform_id
            ))).first()
            now = utcnow()
            if row is None:
                row = ChannelUser(channel=ctx.channel, platform_id=platform_id, user_key=ctx.user_key,
                                  first_seen_at=now, last_seen_at=now)
            else:
                row.last_seen_at = now
                if not row.reachable:  # they wrote again, so they can be reached again
                    row.reachable, row.unreachable_reason, row.unreachable_at = True, None, None
            ctx.session.add(row)
            await ctx.session.flush()
        except SQLAlchemyError:
            log.exception("could not record the channel user")
            await ctx.session.rollback()
            ctx.session = None
            return None
        return row.id

    async def _save(self, ctx: Context, before: dict) -> None:
        assert ctx.session is not None
        try:
            if ctx.state != before:
                row = await ctx.session.get(ConversationState, ctx.user_key)
                if row is None:
                    row = ConversationState(user_key=ctx.user_key, channel=ctx.channel)
                row.state = ctx.state
                row.updated_at = utcnow()
                ctx.session.add(row)
            await ctx.session.commit()
        except SQLAlchemyError:
            log.exception("could not save the conversation of %s", ctx.user_key)
            await ctx.session.rollback()

    async def purge_old_questions(self) -> int:
        """Delete question logs older than the configured retention."""
        cutoff = utcnow() - dt.timedelta(days=self.settings.privacy.question_retention_days)
        async with self.database.session() as session:
            result = await session.exec(delete(QuestionLog).where(QuestionLog.created_at < cutoff))  # type: ignore[call-overload]
            await session.commit()
        return result.rowcount or 0

    async def close(self) -> None:
        await self.database.dispose()


def build_app(settings: Settings, *, persistent: bool = True) -> BotApp:
    """Everything the bot needs, built in one place.

    ``persistent=False`` builds a read-only bot for one-off questions: no migrations and no
    salt file, since nothing will be recorded.
    """
    from handlers import build_dispatcher

    content = ContentStore(
        settings.content.path, settings.office.template_values(), match_params(settings)
    )
    for problem in content.load():
        log.warning("content: %s", problem)
    if persistent:
        storage.upgrade(settings.database.url)
    database = storage.Database(settings.database.url, echo=settings.database.echo)
    return BotApp(
        settings=settings,
        content=content,
        database=database,
        dispatcher=build_dispatcher(),
        salt=pseudonym_salt(settings, DATA_DIR) if persistent else os.urandom(32),
    )
