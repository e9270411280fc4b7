"""Channel-neutral messages: what comes in from a citizen and what goes back.

Channel adapters (console, Telegram, Zalo, web) translate between their platform and these
types; conversation features only ever see these.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MAX_TEXT = 4000  # longer messages are cut: nobody asks a question in 4,000 characters


@dataclass(frozen=True)
class Attachment:
    kind: str  # "image" | "file"
    url: str | None = None
    data: bytes | None = None


@dataclass(frozen=True)
class Contact:
    """A phone number the citizen shared. ``verified``: the platform supplied it from the
    user's own account (Telegram's contact button, Zalo's form), not typed by hand."""

    phone: str
    verified: bool
    name: str | None = None


@dataclass(frozen=True)
class Incoming:
    channel: str  # "telegram" | "zalo" | "messenger" | "web" | "console"
    user_id: str  # the platform's id; never logged, only pseudonymized
    text: str = ""
    payload: str | None = None  # set when the citizen pressed a button
    attachments: tuple[Attachment, ...] = ()
    language: str = "vi"
    chat_id: str | None = None  # the conversation, when it is not the user's own (a group)
    reply_to: str | None = None  # the platform id of the message this one replies to, if any
    contact: Contact | None = None  # a phone number shared through the platform's button

    def __post_init__(self) -> None:
        if len(self.text) > MAX_TEXT:
            object.__setattr__(self, "text", self.text[:MAX_TEXT])
        # NUL means nothing in a message, and PostgreSQL refuses it in text columns
        for name in ("text", "payload", "user_id", "chat_id", "reply_to"):
            value = getattr(self, name)
            if isinstance(value, str) and "\x00" in value:
                object.__setattr__(self, name, value.replace("\x00", ""))


@dataclass(frozen=True)
class Button:
    """A choice (``payload``), a link (``url``), or a request to the platform (``request``:
    "phone" asks it to share the user's own phone number)."""

    label: str
    payload: str | None = None
    url: str | None = None
    request: str | None = None


@dataclass(frozen=True)
class Reply:
    """One message. ``text`` is the content pack's Markdown subset: **bold**, _italic_,
    [label](url), "- " and "1. " lists; each channel renders it its own way."""

    text: str
    buttons: tuple[tuple[Button, ...], ...] = ()
    image: bytes | None = None


@dataclass
class Response:
    """What a handler did: the replies, plus what evaluation tools and logs need to know."""

    replies: list[Reply]
    outcome: str
    faq_id: str | None = None
    score: float | None = None
    candidates: list[dict[str, Any]] = field(default_factory=list)
