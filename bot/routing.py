"""Routing: one Router per feature module, one Dispatcher that tries them in order.

A message is routed by what it is: a button payload (``prefix:args``), a ``/command``, the
step of a guided flow the user is in, a recognised intent, and finally free text.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bot import intents
from bot import text as vtext
from bot.messages import Incoming, Response
from bot.ports import MenuCommand

if TYPE_CHECKING:
    from sqlmodel.ext.asyncio.session import AsyncSession

    from bot.config import Settings
    from bot.content.store import ContentStore, Snapshot
    from bot.ports import Channel, Fetch
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
class Query:
    """The message normalised once, carried along the route: every step reads the same text."""

    text: str  # stripped
    intent: intents.Intent | None = None

    @functools.cached_property
    def key(self) -> str:
        """Lower case without diacritics or punctuation: what word lists are compared with."""
        return vtext.strip_key(self.text)


@dataclass(frozen=True)
class Route:
    kind: str  # "payload" | "command" | "flow" | "intent" | "text"
    name: str
    args: tuple[str, ...] = ()
    intent: intents.Intent | None = None
    query: Query | None = None


@dataclass(frozen=True)
class Services:
    """The bot's long-lived parts that officials' commands act on (e.g. /reload)."""

    content: ContentStore
    channels: Mapping[str, Channel] = field(default_factory=dict)  # the running channels, by name
    fetch: Fetch | None = None  # downloads a citizen's attachment (the platform's HTTP client)


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
    outbox: bool = False  # the turn queued a message for after its commit (wakes the sender)

    @property
    def office(self) -> dict[str, str]:
        return self.settings.office.template_values()

    def elapsed_ms(self) -> float:
        return (time.perf_counter() - self.started) * 1000


# A handler answers, or declines with None: the dispatcher then tries the next candidate.
Handler = Callable[[Context, Incoming, Route], Awaitable[Response | None]]
# A feature's recogniser: the intent a message plainly is (a ticket number, say), or None.
Recogniser = Callable[[str], intents.Intent | None]
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
        self.recognisers: list[Recogniser] = []
        self.menu: list[MenuCommand] = []

    def _register(self, table: dict[str, Handler], keys: tuple[str, ...]) -> Callable[[Handler], Handler]:
        def decorator(handler: Handler) -> Handler:
            for key in keys:
                table[key] = handler
            return handler

        return decorator

    def command(self, *names: str, menu: str | None = None,
                officials: bool = False) -> Callable[[Handler], Handler]:
        """``menu``: the description under which the first name is advertised."""
        if menu is not None:
            self.menu.append(MenuCommand(names[0], menu, officials))
        return self._register(self.commands, names)

    def payload(self, *prefixes: str) -> Callable[[Handler], Handler]:
        return self._register(self.payloads, prefixes)

    def flow(self, *names: str) -> Callable[[Handler], Handler]:
        return self._register(self.flows, names)

    def intent(self, *names: str) -> Callable[[Handler], Handler]:
        return self._register(self.intents, names)

    def recogniser(self, recognise: Recogniser) -> Recogniser:
        """What this feature recognises in a message before it is matched as a question."""
        self.recognisers.append(recognise)
        return recognise

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
    """Finds the handlers for a message and tries them in order until one answers; earlier
    routers win on conflicts.

    The candidates, in order: a button's payload, a ``/command``, the guided flow the user is
    in, a photo, the intent the features' recognisers (then ``bot.intents``) see, and the text
    handlers of every router; ``fallback`` when all declined.

    ``deep_links`` turn a ``/start`` argument (a poster's QR code: Telegram's ``?start=``,
    Messenger's ``?ref=``) into a button's payload: ``{"ct-": "ct:open:"}`` routes
    ``/start ct-abc`` as the payload ``ct:open:abc``, so the feature behind it needs nothing else
    (and ``/start`` needs to know no feature)."""

    def __init__(self, routers: list[Router], fallback: Handler,
                 deep_links: Mapping[str, str] | None = None) -> None:
        self.deep_links = dict(deep_links or {})
        self.commands: dict[str, Handler] = {}
        self.payloads: dict[str, Handler] = {}
        self.flows: dict[str, Handler] = {}
        self.intents: dict[str, Handler] = {}
        self.fallback = fallback
        self.reply_handlers: list[ReplyHandler] = [h for r in routers for h in r.reply_handlers]
        self.text_handlers: list[Handler] = [r.text_handler for r in routers if r.text_handler]
        self.recognisers: list[Recogniser] = [f for r in routers for f in r.recognisers]
        self.menu: tuple[MenuCommand, ...] = tuple(c for r in routers for c in r.menu)
        for router in routers:
            for table in ("commands", "payloads", "flows", "intents"):
                mine, theirs = getattr(self, table), getattr(router, table)
                for key, handler in theirs.items():
                    mine.setdefault(key, handler)

    def recognise(self, text: str) -> intents.Intent | None:
        for recognise in self.recognisers:
            if (found := recognise(text)) is not None:
                return found
        return intents.detect(text)

    def candidates(self, ctx: Context, message: Incoming) -> Iterator[tuple[Handler, Route]]:
        """The handlers to try, lazily: a flow that declines (and leaves) changes what follows."""
        if message.payload is not None:
            yield self._payload(message.payload)
            return
        query = Query(message.text.strip())
        if query.text.startswith("/"):
            head, _, rest = query.text[1:].partition(" ")
            name = head.split("@", 1)[0].lower()
            args = tuple(rest.split())
            link = args[0] if name == "start" and args else ""
            payload = next((to + link[len(start):] for start, to in self.deep_links.items()
                            if link.startswith(start) and len(link) > len(start)), None)
            if payload is not None:
                yield self._payload(payload)
                return
            yield self.commands.get(name, self.fallback), Route("command", name, args, query=query)
            return
        flow = ctx.state.get("flow")
        if flow in self.flows:  # a photo sent within a guided flow is the flow's (e.g. feedback)
            yield self.flows[flow], Route("flow", flow, query=query)
        if message.attachments and "attachment" in self.intents:  # a photo (a receipt's QR)
            yield self.intents["attachment"], Route("intent", "attachment", query=query)
        intent = self.recognise(query.text)
        if intent is not None:
            query = Query(query.text, intent)
            if intent.name in self.intents:
                yield self.intents[intent.name], Route("intent", intent.name, intent=intent, query=query)
        for handler in self.text_handlers:
            yield handler, Route("text", "text", intent=intent, query=query)

    def _payload(self, payload: str) -> tuple[Handler, Route]:
        prefix, _, rest = payload.partition(":")
        args = tuple(rest.split(":")) if rest else ()
        return self.payloads.get(prefix) or self.fallback, Route("payload", prefix, args)

    async def dispatch(self, ctx: Context, message: Incoming) -> Response:
        if message.reply_to is not None and message.payload is None:
            for reply_handler in self.reply_handlers:
                response = await reply_handler(ctx, message)
                if response is not None:
                    return response
        route = Route("text", "text")
        for handler, route in self.candidates(ctx, message):
            response = await handler(ctx, message, route)
            if response is not None:
                return response
        answer = await self.fallback(ctx, message, route)
        assert answer is not None, "the fallback always answers"
        return answer
