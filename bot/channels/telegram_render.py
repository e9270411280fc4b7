"""Replies in Telegram's own form: HTML text within its limits, buttons as inline keyboards.

``Reply.text`` is the content pack's Markdown subset (**bold**, _italic_, [label](url), "- " and
"1. " lines). Everything in it came from citizens, officials or content editors, so all of it is
escaped first and only the markup this module writes itself becomes tags: the result is always
well-formed, whatever the text contains.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.channels.html import safe_url, to_html, utf16_len
from bot.messages import Button, Reply
from bot.ports import TELEGRAM
from bot.render import split_message

TEXT_LIMIT = TELEGRAM.text_limit  # characters (UTF-16 code units) after entity parsing
CALLBACK_LIMIT = 64  # bytes of callback_data
STORED_PREFIX = "k:"  # callback_data "k:<key>": the payload is stored server-side under <key>

def split_text(markdown: str, limit: int = TEXT_LIMIT) -> list[str]:
    """Split the source text at paragraph boundaries so each rendered part fits in one message.

    Rendering only removes characters (markers, link targets) and escaping does not count
    towards the limit, so a source part within ``limit`` UTF-16 units renders within it too.
    Each part is rendered on its own, so a cut can never leave a tag open.
    """
    size = limit
    while True:
        parts = split_message(markdown, size)
        if all(utf16_len(p) <= limit for p in parts) or size <= 256:
            return parts
        size -= 256  # astral characters (emoji) count twice: cut smaller


@dataclass(frozen=True)
class OutMessage:
    """One Telegram message: HTML text and the inline keyboard, if any."""

    html: str
    markup: InlineKeyboardMarkup | None = None


StorePayload = Callable[[str], Awaitable[str | None]]


def fits_callback(payload: str) -> bool:
    return len(payload.encode("utf-8")) <= CALLBACK_LIMIT and not payload.startswith(STORED_PREFIX)


async def keyboard(rows: tuple[tuple[Button, ...], ...], store: StorePayload) -> InlineKeyboardMarkup | None:
    """Buttons as an inline keyboard: links as URL buttons, choices as callback buttons.

    A payload over Telegram's 64 bytes is stored by ``store`` and the button carries
    ``k:<key>``; a button that cannot be made (unsafe link, payload that could not be stored)
    is left out rather than making Telegram refuse the whole message.
    """
    out: list[list[InlineKeyboardButton]] = []
    for row in rows:
        buttons = []
        for button in row:
            label = button.label.strip() or "…"
            if button.url is not None:
                if safe_url(button.url):
                    buttons.append(InlineKeyboardButton(label, url=button.url))
            elif button.payload is not None:
                data: str | None = button.payload
                if not fits_callback(button.payload):
                    key = await store(button.payload)
                    data = f"{STORED_PREFIX}{key}" if key is not None else None
                if data is not None:
                    buttons.append(InlineKeyboardButton(label, callback_data=data))
        if buttons:
            out.append(buttons)
    return InlineKeyboardMarkup(out) if out else None


async def render(reply: Reply, store: StorePayload) -> list[OutMessage]:
    """A reply as one or more messages; its buttons go with the last one."""
    markup = await keyboard(reply.buttons, store)
    parts = [p for p in split_text(reply.text.strip()) if p.strip()]
    if not parts:
        return [OutMessage("…", markup)] if markup is not None else []
    messages = [OutMessage(to_html(p)) for p in parts[:-1]]
    messages.append(OutMessage(to_html(parts[-1]), markup))
    return messages
