"""Replies in Telegram's own form: HTML text within its limits, buttons as inline keyboards.

``Reply.text`` is the content pack's Markdown subset (**bold**, _italic_, [label](url), "- " and
"1. " lines). Everything in it came from citizens, officials or content editors, so all of it is
escaped first and only the markup this module writes itself becomes tags: the result is always
well-formed, whatever the text contains.

A "share my phone number" button (``Button.request == "phone"``) can only be a reply-keyboard
button (``KeyboardButton(request_contact=True)``), in private chats, and a message carries one
keyboard of one kind: the reply keeps its other buttons inline, and the phone button comes on a
short message of its own pointing at it (``PHONE_PROMPT``), or on the reply's last part when
it has no other buttons.
"""

from __future__ import annotations

import html
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
)

from bot.channels.html import safe_url, to_html, utf16_len
from bot.messages import PHONE_REQUEST, Button, Reply
from bot.ports import TELEGRAM
from bot.render import split_message

TEXT_LIMIT = TELEGRAM.text_limit  # characters (UTF-16 code units) after entity parsing
CALLBACK_LIMIT = 64  # bytes of callback_data
STORED_PREFIX = "k:"  # callback_data "k:<key>": the payload is stored server-side under <key>
PHONE_PROMPT = "Dạ, Anh/Chị bấm nút «{label}» ở phía dưới khung chat ạ."
PICK_ONE = "Dạ, Anh/Chị chọn một mục dưới đây ạ."

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


Markup = InlineKeyboardMarkup | ReplyKeyboardMarkup | ReplyKeyboardRemove


@dataclass(frozen=True)
class OutMessage:
    """One Telegram message: HTML text and its keyboard (inline, the phone request, or the
    request's removal), if any."""

    html: str
    markup: Markup | None = None

    @property
    def inline(self) -> bool:
        return isinstance(self.markup, InlineKeyboardMarkup)

    @property
    def asks_phone(self) -> bool:
        return isinstance(self.markup, ReplyKeyboardMarkup)


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
            if button.request is not None:
                continue  # a reply-keyboard button (phone_keyboard)
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


def phone_keyboard(label: str) -> ReplyKeyboardMarkup:
    """The one-button keyboard that sends the citizen's own contact; it folds away once used."""
    return ReplyKeyboardMarkup([[KeyboardButton(label, request_contact=True)]],
                               resize_keyboard=True, one_time_keyboard=True)


async def render(reply: Reply, store: StorePayload, private: bool = True) -> list[OutMessage]:
    """A reply as one or more messages; its buttons go with the last one. A phone request
    needs a private chat (Telegram offers it nowhere else) and is left out elsewhere."""
    markup: Markup | None = await keyboard(reply.buttons, store)
    phone = next((b for row in reply.buttons for b in row if b.request == PHONE_REQUEST), None)
    prompt: OutMessage | None = None
    if phone is not None and private:
        label = phone.label.strip() or "📱"
        if markup is None:
            markup = phone_keyboard(label)
        else:
            prompt = OutMessage(html.escape(PHONE_PROMPT.format(label=label), quote=False), phone_keyboard(label))
    parts = [p for p in split_text(reply.text.strip()) if p.strip()]
    if not parts:
        messages = [OutMessage("…", markup)] if markup is not None else []
    else:
        messages = [OutMessage(to_html(p)) for p in parts[:-1]]
        messages.append(OutMessage(to_html(parts[-1]), markup))
    return messages + ([prompt] if prompt is not None else [])


def remove_phone_keyboard(outs: list[OutMessage | bytes]) -> list[OutMessage | bytes]:
    """The messages (photos as bytes, in between) with the phone request's keyboard taken away
    by the first text that can carry it (no keyboard of its own); when every text carries an
    inline keyboard, the first one's text goes with the removal and its buttons follow under a
    short line."""
    remove = ReplyKeyboardRemove()
    texts = [i for i, out in enumerate(outs) if isinstance(out, OutMessage)]
    free = [i for i in texts if outs[i].markup is None]  # type: ignore[union-attr]
    index = (free or texts)[0]
    first = outs[index]
    assert isinstance(first, OutMessage)
    carried = [OutMessage(first.html, remove)]
    if first.markup is not None:
        carried.append(OutMessage(html.escape(PICK_ONE, quote=False), first.markup))
    return [*outs[:index], *carried, *outs[index + 1:]]
