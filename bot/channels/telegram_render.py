"""Replies in Telegram's own form: HTML text within its limits, buttons as inline keyboards.

``Reply.text`` is the content pack's Markdown subset (**bold**, _italic_, [label](url), "- " and
"1. " lines). Everything in it came from citizens, officials or content editors, so all of it is
escaped first and only the markup this module writes itself becomes tags: the result is always
well-formed, whatever the text contains.
"""

from __future__ import annotations

import html
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.messages import Button, Reply
from bot.render import split_message

TEXT_LIMIT = 4096  # characters (UTF-16 code units) after entity parsing
CALLBACK_LIMIT = 64  # bytes of callback_data
STORED_PREFIX = "k:"  # callback_data "k:<key>": the payload is stored server-side under <key>

_LINK = re.compile(r"\[([^\]\n]+)\]\(([^)\s]+)\)")
_BOLD = re.compile(r"\*\*(.+?)\*\*", re.DOTALL)
_ITALIC = re.compile(r"(?<![\w*])_(?!\s)(.+?)(?<!\s)_(?![\w*])", re.DOTALL)
_BULLET = re.compile(r"^([ \t]*)- ", re.MULTILINE)
_PLACEHOLDER = re.compile("\x00(\\d+)\x00")
_SAFE_URL = re.compile(r"(?:https?://|tg://)[^\s<>\"]+", re.IGNORECASE)


def utf16_len(text: str) -> int:
    """Telegram counts message length in UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def safe_url(url: str) -> bool:
    """Links Telegram accepts in a message or a URL button: http(s) and tg:// only."""
    return _SAFE_URL.fullmatch(url) is not None


def _inline(escaped: str) -> str:
    """**bold** and _italic_ on already-escaped text; italic is applied inside and outside bold
    spans separately, so tags always nest properly."""
    parts = _BOLD.split(escaped)
    out = []
    for index, part in enumerate(parts):
        part = _ITALIC.sub(r"<i>\1</i>", part)
        out.append(f"<b>{part}</b>" if index % 2 else part)
    return "".join(out)


def to_html(markdown: str) -> str:
    """The Markdown subset as Telegram HTML, everything else escaped."""
    text = markdown.replace("\x00", "")
    anchors: list[str] = []

    def anchor(match: re.Match[str]) -> str:
        label, url = match.group(1), match.group(2)
        if not safe_url(url):
            return match.group(0)  # shown as written, escaped like any text
        anchors.append(f'<a href="{html.escape(url, quote=True)}">{_inline(html.escape(label, quote=False))}</a>')
        return f"\x00{len(anchors) - 1}\x00"

    text = _LINK.sub(anchor, text)
    text = _BULLET.sub(r"\1• ", text)
    rendered = _inline(html.escape(text, quote=False))
    return _PLACEHOLDER.sub(lambda m: anchors[int(m.group(1))], rendered)


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
