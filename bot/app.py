"""The conversation core: ``BotApp.handle`` is the one entry point every channel calls: it loads the user's
conversation state from the database, dispatches, and saves the state and records. A
database outage degrades to answering from the in-memory content without records.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import hmac
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Executable, bindparam, delete, func, literal, null, select, true
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel.ext.asyncio.session import AsyncSession

from bot import metrics, reach
from bot.config import Settings
from bot.content.store import ContentStore
from bot.matching import MatchParams
from bot.messages import Incoming, Reply, Response
from bot.outbox.messages import AfterSent
from bot.ports import Fetch, MenuCommand
from bot.pressure import RATE_LIMITED_TEXT, UserRateLimiter
from bot.routing import Context, Dispatcher, Services
from bot.storage import db as storage
from bot.storage.models import ChannelUser, ConversationState, InboundEvent, QuestionLog, utcnow

if TYPE_CHECKING:
    from bot.ports import Channel

log = logging.getLogger(__name__)
DATA_DIR = Path("data")


# Outcomes whose reply tells the citizen something was stored: if the turn's commit fails they
# are replaced by NOT_SAVED_TEXT (nothing half-written, nothing falsely claimed).
CLAIMED_WRITES = frozenset({"subscribed", "unsubscribed", "ticket_created", "dossier_watch",
                            "dossier_unwatch"})
NOT_SAVED_TEXT = ("Dạ, hệ thống đang gặp sự cố nên em chưa lưu được yêu cầu của Anh/Chị. "
                  "Anh/Chị vui lòng thử lại sau ít phút ạ.")


@dataclass(frozen=True)
class TurnStatements:
    """The statements every turn runs, built once per dialect (ON CONFLICT is the dialect's)
    and executed with parameters: no statement is constructed per message."""

    record_event: Executable  # INSERT .. ON CONFLICT DO NOTHING RETURNING: no row = seen before
    load_state: Executable
    touch_user: Executable  # an upsert: they wrote again, so they can be reached again
    save_state: Executable
    # PostgreSQL: the three above as one round trip (data-modifying CTEs), with and without an
    # event id: (new event rows, the channel user's id, the state). None elsewhere.
    begin: Executable | None = None
    begin_event: Executable | None = None


@functools.cache
def turn_statements(dialect: str) -> TurnStatements:
    insert = storage.dialect_insert(dialect)
    events, users, states = (InboundEvent.__table__, ChannelUser.__table__,  # type: ignore[attr-defined]
                             ConversationState.__table__)  # type: ignore[attr-defined]
    touch = insert(users)
    upsert_state = insert(states)
    record_event = insert(events).on_conflict_do_nothing().returning(events.c.event_id)
    load_state = select(states.c.state).where(states.c.user_key == bindparam("user_key"))
    touch_user = touch.on_conflict_do_update(
        index_elements=["channel", "platform_id"],
        set_={"last_seen_at": touch.excluded.last_seen_at, "reachable": true(),
              "unreachable_reason": null(), "unreachable_at": null()},
    ).returning(users.c.id)
    begin = begin_event = None
    if dialect == "postgresql":  # in a CTE an INSERT names its values: bound by column name
        def bound(table: Any, *names: str) -> Any:
            return insert(table).values({name: bindparam(name) for name in names})

        user_row = bound(users, "channel", "platform_id", "user_key", "first_seen_at", "last_seen_at",
                         "reachable", "unreachable_reason", "unreachable_at")
        user = user_row.on_conflict_do_update(
            index_elements=["channel", "platform_id"],
            set_={"last_seen_at": user_row.excluded.last_seen_at, "reachable": true(),
                  "unreachable_reason": null(), "unreachable_at": null()},
        ).returning(users.c.id).cte("touched")
        state = load_state.scalar_subquery()
        begin = select(literal(1), select(user.c.id).scalar_subquery(), state)
        event = bound(events, "channel", "event_id", "received_at").on_conflict_do_nothing() \
            .returning(events.c.event_id).cte("recorded")
        begin_event = select(select(func.count()).select_from(event).scalar_subquery(),
                             select(user.c.id).scalar_subquery(), state)
    return TurnStatements(
        record_event=record_event, load_state=load_state, touch_user=touch_user,
        save_state=upsert_state.on_conflict_do_update(
            index_elements=["user_key"],
            set_={"state": upsert_state.excluded.state, "updated_at": upsert_state.excluded.updated_at}),
        begin=begin, begin_event=begin_event,
    )


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
    limiter: UserRateLimiter | None = None  # per-user message rate (server.user_messages_per_minute)
    fetch: Fetch | None = None  # downloads what citizens attach (set by the composition root)
    # What each feature does once one of its outbox messages is delivered (by kind).
    outbox_effects: dict[str, AfterSent] = field(default_factory=dict)
    wake_outbox: Callable[[], None] | None = None  # the sender of this process, when it runs one

    @property
    def menu(self) -> tuple[MenuCommand, ...]:
        """The commands a platform's menu may advertise: the routers' own list."""
        return self.dispatcher.menu

    def user_key(self, channel: str, user_id: str) -> str:
        """A stable pseudonym: records never hold a platform user id in the clear."""
        digest = hmac.new(self.salt, f"{channel}:{user_id}".encode(), hashlib.sha256)
        return digest.hexdigest()[:32]

    async def handle(self, message: Incoming, record: bool = True, event_id: str | None = None) -> Response:
        """Answer one message. ``record=False`` (``cchc-bot ask``) touches no database.

        ``event_id`` (a Telegram update id, a Zalo msg_id) is recorded in the turn's own
        transaction: a redelivered event gets ``Response([], "duplicate")`` and no answer; a
        turn whose commit fails leaves it unrecorded along with everything else."""
        started = time.perf_counter()
        key = self.user_key(message.channel, message.user_id)
        snapshot = self.content.current
        is_admin = self.settings.is_admin(message.channel, message.user_id, message.chat_id)
        if not record:
            ctx = Context(snapshot, self.settings, key, message.channel, {}, None, is_admin=is_admin,
                          database=self.database)
            return await self.dispatcher.dispatch(ctx, message)
        if self.limiter is not None and not is_admin:
            verdict = self.limiter.check(key)
            if not verdict.allowed:  # a flood from one user costs no database work and no answer
                metrics.observe_turn(message.channel, "flood_limited", time.perf_counter() - started)
                if not verdict.warn and message.channel != "web":
                    return Response([], "flood_limited")
                seconds = max(1, math.ceil(verdict.retry_after))
                return Response([Reply(RATE_LIMITED_TEXT.format(seconds=seconds))], "flood_limited")
        async with self.database.session() as session:
            state, duplicate, channel_user_id = await self._begin(
                session, key, message.channel, message.user_id, event_id)
            if duplicate:
                metrics.observe_turn(message.channel, "duplicate", time.perf_counter() - started)
                return Response([], "duplicate")
            ctx = Context(
                content=snapshot,
                settings=self.settings,
                user_key=key,
                channel=message.channel,
                state=dict(state) if state is not None else {},
                session=session if state is not None else None,
                is_admin=is_admin,
                database=self.database,
                services=Services(content=self.content, channels=self.channels, fetch=self.fetch),
            )
            if ctx.session is not None:
                ctx.channel_user_id = channel_user_id if channel_user_id is not None else \
                    await self._touch_user(ctx, message.user_id)
            before = dict(ctx.state)
            response = await self.dispatcher.dispatch(ctx, message)
            saved = ctx.session is not None and await self._save(ctx, before)
            if ctx.session is not None and not saved and response.outcome in CLAIMED_WRITES:
                # The reply says it was saved, but the commit failed (the database went away
                # mid-turn): nothing was written, so say so rather than claim it.
                response = Response([Reply(NOT_SAVED_TEXT)], "not_saved")
            if saved and ctx.outbox and self.wake_outbox is not None:
                self.wake_outbox()  # what the turn queued goes out now, not at the next poll
        metrics.observe_turn(message.channel, response.outcome, time.perf_counter() - started)  # /metrics
        return response

    async def _begin(self, session: AsyncSession, key: str, channel: str, platform_id: str,
                     event_id: str | None) -> tuple[dict | None, bool, int | None]:
        """The user's state ({} for a new user, None when the database is unreachable), whether
        ``event_id`` was recorded before (then the turn answers nothing), and the channel user's
        id when it was touched here already (PostgreSQL: all in one round trip)."""
        statements = turn_statements(self.database.dialect)
        now = utcnow()
        try:
            if statements.begin is not None and statements.begin_event is not None:
                params = {"user_key": key, "channel": channel, "platform_id": platform_id,
                          "first_seen_at": now, "last_seen_at": now, "reachable": True,
                          "unreachable_reason": None, "unreachable_at": None}
                if event_id is not None:
                    params.update(event_id=event_id, received_at=now)
                row = (await session.exec(statements.begin_event if event_id is not None
                                          else statements.begin, params=params)).one()
                if not row[0]:
                    return None, True, None
                return (dict(row[2]) if row[2] is not None else {}), False, row[1]
            if event_id is not None:
                new = (await session.exec(statements.record_event, params={
                    "channel": channel, "event_id": event_id, "received_at": now})).first()
                if new is None:
                    return None, True, None
            state = (await session.exec(statements.load_state, params={"user_key": key})).scalar()
        except SQLAlchemyError:
            log.exception("database unavailable: answering without conversation state")
            with contextlib.suppress(SQLAlchemyError):
                await session.rollback()
            return None, False, None
        return (dict(state) if state is not None else {}), False, None

    async def _touch_user(self, ctx: Context, platform_id: str) -> int | None:
        """Remember where to reach this user and when they last wrote to us: one statement,
        an insert that updates the row when there is one (they wrote again, so they can be
        reached again)."""
        assert ctx.session is not None
        now = utcnow()
        try:
            return (await ctx.session.exec(turn_statements(self.database.dialect).touch_user, params={
                "channel": ctx.channel, "platform_id": platform_id, "user_key": ctx.user_key,
                "first_seen_at": now, "last_seen_at": now, "reachable": True,
                "unreachable_reason": None, "unreachable_at": None})).scalar_one()
        except SQLAlchemyError:
            log.exception("could not record the channel user")
            with contextlib.suppress(SQLAlchemyError):
                await ctx.session.rollback()
            ctx.session = None
            return None

    async def _save(self, ctx: Context, before: dict) -> bool:
        """Save the state and commit the turn; False when the database refused."""
        assert ctx.session is not None
        try:
            if ctx.state != before:
                await ctx.session.exec(turn_statements(self.database.dialect).save_state, params={
                    "user_key": ctx.user_key, "channel": ctx.channel, "state": ctx.state,
                    "updated_at": utcnow()})
            await ctx.session.commit()
        except SQLAlchemyError:
            log.exception("could not save the conversation of %s", ctx.user_key)
            with contextlib.suppress(SQLAlchemyError):
                await ctx.session.rollback()
            return False
        return True

    async def unreachable(self, channel: str, platform_id: str, reason: str) -> None:
        """An adapter's report that a user cannot be messaged; what it means is ``bot.reach``'s."""
        try:
            async with self.database.session() as session:
                ended = await reach.unreachable(session, channel, platform_id, reason)
                await session.commit()
        except SQLAlchemyError:
            log.exception("could not record that a %s user is unreachable", channel)
            return
        if ended is not None:
            log.info("%s user %s unreachable (%s); %d subscriptions ended", channel,
                     self.user_key(channel, platform_id), reason, ended)

    async def purge_old_questions(self) -> int:
        """Delete question logs older than the configured retention."""
        cutoff = utcnow() - dt.timedelta(days=self.settings.privacy.question_retention_days)
        async with self.database.session() as session:
            result = await session.exec(delete(QuestionLog).where(QuestionLog.created_at < cutoff))  # type: ignore[call-overload]
            await session.commit()
        return result.rowcount or 0

    async def close(self) -> None:
        await self.database.dispose()
