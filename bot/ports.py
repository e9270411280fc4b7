"""The ports the core owns: what a channel adapter is to the core, and the core to an adapter.

An adapter receives platform updates, turns each into an ``Incoming``, asks the core
(``Conversation.handle``) for the ``Response`` and renders it its platform's way; it sends what
the bot starts itself (``Channel.send``) and says what became of it (``Delivery``). What a
delivery means for the user (``blocked``: unreachable, subscriptions ended) is decided by the
core (``bot.reach``): an adapter only reports it (``Conversation.unreachable``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol

from bot.messages import Incoming, Reply, Response

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.storage.db import Database

# Downloads what a citizen attached (a URL the platform gave): at most ``limit`` bytes within
# ``timeout`` seconds; raises FetchError with a short Vietnamese reason.
Fetch = Callable[[str, int, float], Awaitable[bytes]]


class FetchError(Exception):
    pass


DeliveryStatus = Literal["sent", "failed", "blocked", "ineligible", "retry"]


@dataclass(frozen=True)
class Delivery:
    """The outcome of sending to one user: what the outbox records."""

    status: DeliveryStatus
    message_id: str | None = None
    error: str | None = None
    retry_after: float | None = None  # seconds, when the platform said to wait


@dataclass(frozen=True)
class Capabilities:
    """What a platform allows, stated once, so the rules are not constants repeated in the
    sender, the broadcast service and the adapters."""

    can_push: bool  # the bot may message a user first (broadcasts, ticket answers)
    push_window: dt.timedelta | None = None  # only this long after the user last wrote
    text_limit: int = 4000  # characters in one message
    button_limit: int = 0  # buttons one message can carry (0: none)
    markup: Literal["html", "plain"] = "plain"
    silent_sends: bool = False  # a message can arrive without a sound
    quick_replies: int = 0  # reply chips one message can carry besides its buttons (0: none)
    # The outbox kinds the platform still lets through after push_window, marked as such
    # (Messenger's ACCOUNT_UPDATE tag: the answer to the citizen's own ticket, a dossier's status).
    outside_window: frozenset[str] = frozenset()

    def may_push(self, kind: str, since_last_wrote: dt.timedelta) -> bool:
        """Whether a message of outbox ``kind`` may go to a user who last wrote that long ago."""
        if not self.can_push:
            return False
        inside = self.push_window is None or since_last_wrote < self.push_window
        return inside or kind in self.outside_window


TELEGRAM = Capabilities(can_push=True, text_limit=4096, button_limit=100, markup="html",
                        silent_sends=True)
# Zalo OA: consultation messages are free only within 7 days of the user's last message.
ZALO = Capabilities(can_push=True, push_window=dt.timedelta(days=7), text_limit=2000, button_limit=5)
# Messenger: the page writes first only within 24 hours of the person's last message, except
# non-promotional account updates; 3 buttons on a template, 13 quick replies.
MESSENGER = Capabilities(can_push=True, push_window=dt.timedelta(hours=24), text_limit=2000,
                         button_limit=3, quick_replies=13,
                         outside_window=frozenset({"ticket_answer", "dossier_notice"}))
WEB = Capabilities(can_push=False, text_limit=4000, button_limit=100, markup="html")
CONSOLE = Capabilities(can_push=False)
CAPABILITIES: dict[str, Capabilities] = {"telegram": TELEGRAM, "zalo": ZALO, "messenger": MESSENGER,
                                         "web": WEB, "console": CONSOLE}


def push_channels() -> tuple[str, ...]:
    """The channels the bot can message first (broadcasts, answers, notices)."""
    return tuple(name for name, caps in CAPABILITIES.items() if caps.can_push)


def push_windows(unlimited: Iterable[str] = ()) -> dict[str, dt.timedelta]:
    """How long after a user last wrote each channel still lets the bot announce to them;
    ``unlimited``: channels configured to send past it (Zalo's paid promotion messages)."""
    return {name: caps.push_window for name, caps in CAPABILITIES.items()
            if caps.can_push and caps.push_window is not None and name not in unlimited}


class Channel(Protocol):
    name: str
    capabilities: Capabilities

    def setup_routes(self, app: object) -> None:
        """Add webhook routes to the one web application (nothing for polling-only)."""

    async def start(self) -> None:
        """Start background work (polling, token refresh); return quickly."""

    async def stop(self) -> None:
        """Finish in-flight work and stop."""

    async def send(self, platform_id: str, replies: list[Reply], kind: str = "broadcast") -> Delivery:
        """Send replies to a user outside a conversation turn (the outbox's sender calls it).
        ``kind``: the outbox row's kind ("broadcast", "ticket_answer", "dossier_notice", ...),
        for a platform whose rules depend on it (``Capabilities.outside_window``)."""

    def periodic(self) -> list[tuple[str, float, Callable[[], Awaitable[object]]]]:
        """The adapter's own periodic jobs (name, every seconds, job), run by the process's one
        scheduler: forgetting old event ids, say."""


@dataclass(frozen=True)
class MenuCommand:
    """A command a platform's menu advertises (Telegram's setMyCommands): only commands a router
    handles can be listed, so every advertised command has a handler."""

    name: str
    description: str
    officials: bool = False  # shown in the officials' chats only


class Conversation(Protocol):
    """The core as an adapter sees it: answer a message, name a user, list the commands."""

    settings: Settings
    salt: bytes
    database: Database  # the adapter's own small store (payload keys, numbered choices)

    @property
    def menu(self) -> Sequence[MenuCommand]: ...

    def user_key(self, channel: str, user_id: str) -> str: ...

    async def handle(self, message: Incoming, record: bool = True,
                     event_id: str | None = None) -> Response: ...

    async def unreachable(self, channel: str, platform_id: str, reason: str) -> None:
        """The platform said this user cannot be messaged (blocked, unfollowed, chat gone)."""
