"""Routing: one Router per feature module, one Dispatcher that tries them in order.

A message is routed by what it is: a button payload (``prefix:args``), a ``/command``, the
step of a guided flow the user is in, a recognised intent, and finally free text.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bot import intents
from bot.messages import Incoming, Response

if TYPE_CHECKING:
    from sqlmodel.ext.asyncio.session import AsyncSession

    from bot.channels import Channel
    from bot.config import Settings
    from bot.content.store import ContentStore, Snapshot
    from bot.storage.db import Database


MAX_ROW_ID = 2**31 - 1  # PostgreSQL's INTEGER: a larger number in a button is no row of ours


def row_id(text: str) -> int | None:
    """A row id from a button's argument: plain ASCII digits within INTEGER, else None
    (``"²".isdigit()`` is true, yet ``int("²")`` fails)."""
    if not (text.isascii() and text.isdigit()) or len(text) > 10:
        return None
    value = int(text)
    return value if value <= MAX_ROW_ID else None


@dataclass(frozen=True)
class Route:
    kind: str  # "payload" | "command" | "flow" | "intent" | "text"
    name: str
    args: tuple[str, ...] = ()
    intent: intents.Intent | None = None


@dataclass(frozen=True)
class Services:
    """The bot's long-lived parts that officials' commands act on (e.g. /reload)."""

    content: ContentStore
    channels: Mapping[str, Channel] = field(default_factory=dict)  # the running channels, by name


@dataclass
class Context:
    """Everything a handler may use for one message."""

    content: Snapshot
    settings: Settings
    user_key: str
    channel: str
    state: dict[str, Any]
    session: AsyncSession | None  # None while the database is unreachable
    is_admin: bool = False  # an official configured for this channel
    channel_user_id: int | None = None  # the ChannelUser row, when recorded
    services: Services | None = None  # None for one-off questions (``cchc-bot ask``)
    database: Database | None = None  # read-only lookups when session is None (``ask``)
    started: float = field(default_factory=time.perf_counter)

    @property
    def office(self) -> dict[str, str]:
        return self.settings.office.template_values()

    def elapsed_ms(self) -> float:
        return (time.perf_counter() - self.started) * 1000


Handler = Callable[[Context, Incoming, Route], Awaitable[Response]]
# Sees a message that replies to an earlier message first; None lets routing go on as usual.
ReplyHandler = Callable[[Context, Incoming], Awaitable[Response | None]]


class Router:
    """The handlers of one feature, registered with decorators."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.commands: dict[str, Handler] = {}
        self.payloads: dict[str, Handler] = {}
        self.flows: dict[str, Handler] = {}
        self.intents: dict[str, Handler] = {}
        self.text_handler: Handler | None = None
        self.reply_handlers: list[ReplyHandler] = []

    def _register(self, table: dict[str, Handler], keys: tuple[str, ...]) -> Callable[[Handler], Handler]:
        def decorator(handler: Handler) -> Handler:
            for key in keys:
                table[key] = handler
            return handler

        return decorator

    def command(self, *names: str) -> Callable[[Handler], Handler]:
        return self._register(self.commands, names)

    def payload(self, *prefixes: str) -> Callable[[Handler], Handler]:
        return self._register(self.payloads, prefixes)

    def flow(self, *names: str) -> Callable[[Handler], Handler]:
        return self._register(self.flows, names)

    def intent(self, *names: str) -> Callable[[Handler], Handler]:
        return self._register(self.intents, names)

    def reply(self) -> Callable[[ReplyHandler], ReplyHandler]:
        """A handler for messages replying to another message (e.g. officials answering a ticket)."""

        def decorator(handler: ReplyHandler) -> ReplyHandler:
            self.reply_handlers.append(handler)
            return handler

        return decorator

    def text(self) -> Callable[[Handler], Handler]:
        def decorator(handler: Handler) -> Handler:
            self.text_handler = handler
            return handler

        return decorator


class Dispatcher:
    """Finds the handler for a message; earlier routers win on conflicts."""

    def __init__(self, routers: list[Router], fallback: Handler) -> None:
        self.commands: dict[str, Handler] = {}
        self.payloads: dict[str, Handler] = {}
        self.flows: dict[str, Handler] = {}
        self.intents: dict[str, Handler] = {}
        self.text_handler: Handler | None = None
        self.fallback = fallback
        self.reply_handlers: list[ReplyHandler] = [h for r in routers for h in r.reply_handlers]
        for router in routers:
            for table in ("commands", "payloads", "flows", "intents"):
                mine, theirs = getattr(self, table), getattr(router, table)
                for key, handler in theirs.items():
                    mine.setdefault(key, handler)
            if self.text_handler is None:
                self.text_handler = router.text_handler

    def resolve(self, ctx: Context, message: Incoming) -> tuple[Handler, Route]:
        if message.payload is not None:
            prefix, _, rest = message.payload.partition(":")
            args = tuple(rest.split(":")) if rest else ()
            handler = self.payloads.get(prefix)
            return (handler or self.fallback), Route("payload", prefix, args)
        text = message.text.strip()
        if text.startswith("/"):
            head, _, rest = text[1:].partition(" ")
            name = head.split("@", 1)[0].lower()
            handler = self.commands.get(name, self.fallback)
            return handler, Route("command", name, tuple(rest.split()))
        flow = ctx.state.get("flow")
        if flow in self.flows:  # a photo sent within a guided flow is the flow's (e.g. feedback)
            return self.flows[flow], Route("flow", flow)
        if message.attachments and "attachment" in self.intents:  # a photo (a receipt's QR)
            return self.intents["attachment"], Route("intent", "attachment")
        intent = intents.detect(text)
        if intent is not None and intent.name in self.intents:
            return self.intents[intent.name], Route("intent", intent.name, intent=intent)
        return (self.text_handler or self.fallback), Route("text", "text")

    async def dispatch(self, ctx: Context, message: Incoming) -> Response:
        if message.reply_to is not None and message.payload is None:
            for reply_handler in self.reply_handlers:
                response = await reply_handler(ctx, message)
                if response is not None:
                    return response
        handler, route = self.resolve(ctx, message)
        return await handler(ctx, message, route)
