"""Replies rendered the Messenger way: plain text, a button template or quick replies.

Messenger's limits (Send API reference): a text message holds 2,000 characters; a button
template 640 characters of text and 1 to 3 buttons; a message at most 13 quick replies; button
and quick-reply titles 20 characters; a payload 1,000 characters. So one reply becomes:

- up to three choices or links whose labels fit: a button template (``postback`` and
  ``web_url`` buttons) under the last paragraph;
- more choices, up to 13: quick replies under the text (links as "🔗 label: url" lines); a title
  that does not fit 20 characters is shortened, and the full labels are listed with numbers;
- more than 13: numbered lines the citizen answers by typing the number, as on Zalo.

Pressed buttons and quick replies come back with their payload; typed numbers are looked up in
the choices the last reply offered (``Rendered.choices``), which the channel keeps per user.

A phone request (``Button.request == "phone"``) is the ``user_phone_number`` quick reply under
the reply's last message (Messenger offers the number of the person's Facebook account, and
sends it back as that quick reply's payload); it takes one of the 13 places. It may sit under a
button template: the Quick Replies reference lets a message carry them with a text or with an
attachment, templates included.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.channels.choices import numbered as numbered_label
from bot.messages import PHONE_REQUEST, Button, Reply
from bot.ports import MESSENGER
from bot.render import split_message, to_plain

MAX_TEXT = MESSENGER.text_limit  # characters per text message
MAX_TEMPLATE_TEXT = 640
MAX_TEMPLATE_BUTTONS = MESSENGER.button_limit  # on a button template
MAX_QUICK_REPLIES = MESSENGER.quick_replies
MAX_TITLE = 20
MAX_PAYLOAD = 1000
CHOICES_HEADER = "Anh/Chị gõ số để chọn:"
PICK_ONE = "Dạ, Anh/Chị chọn một mục dưới đây ạ."
PHONE_QUICK_REPLY = {"content_type": "user_phone_number"}


@dataclass
class Rendered:
    """The Send API ``message`` objects of one response, in order (``{"image": bytes}`` for an
    image to upload), and the numbered choices: choice n is ``choices[n - 1]``."""

    messages: list[dict[str, Any]] = field(default_factory=list)
    choices: list[str] = field(default_factory=list)


def title(label: str, limit: int = MAX_TITLE) -> str:
    label = " ".join(label.split())
    return label if len(label) <= limit else label[: limit - 1].rstrip() + "…"


def _button(button: Button) -> dict[str, Any]:
    if button.url:
        return {"type": "web_url", "url": button.url, "title": title(button.label)}
    return {"type": "postback", "title": title(button.label), "payload": button.payload}


def _template(text: str, buttons: list[Button]) -> dict[str, Any]:
    return {"attachment": {"type": "template", "payload": {
        "template_type": "button", "text": text, "buttons": [_button(b) for b in buttons]}}}


def _fits(button: Button) -> bool:
    return bool(button.url) or len(button.payload or "") <= MAX_PAYLOAD


def _whole(button: Button) -> bool:
    """Its label fits a title without being shortened."""
    return title(button.label) == " ".join(button.label.split())


def _render_one(reply: Reply, out: Rendered) -> None:
    if reply.image:
        out.messages.append({"image": reply.image})
    before = len(out.messages)
    asks_phone = any(b.request == PHONE_REQUEST for row in reply.buttons for b in row)
    _render_body(reply, out, MAX_QUICK_REPLIES - 1 if asks_phone else MAX_QUICK_REPLIES)
    if asks_phone:
        if len(out.messages) == before:
            out.messages.append({"text": PICK_ONE})
        last = out.messages[-1]
        last["quick_replies"] = [*last.get("quick_replies", []), PHONE_QUICK_REPLY]


def _render_body(reply: Reply, out: Rendered, max_quick: int) -> None:
    flat = [b for row in reply.buttons for b in row if b.url or b.payload]
    text = to_plain(reply.text).strip()
    if flat and len(flat) <= MAX_TEMPLATE_BUTTONS and all(_fits(b) and _whole(b) for b in flat):
        parts = split_message(text, MAX_TEXT) if text else []
        if parts and len(parts[-1]) > MAX_TEMPLATE_TEXT:  # the buttons go under the last paragraph
            head, _, tail = parts[-1].rpartition("\n\n")
            parts[-1:] = [head, tail] if head and len(tail) <= MAX_TEMPLATE_TEXT else [parts[-1]]
        if not parts or len(parts[-1]) > MAX_TEMPLATE_TEXT:
            parts.append(PICK_ONE)
        out.messages += [{"text": part} for part in parts[:-1]]
        out.messages.append(_template(parts[-1], flat))
        return
    links = [b for b in flat if b.url]
    choices = [b for b in flat if not b.url]
    lines = [f"🔗 {b.label}: {b.url}" for b in links]
    quick = choices if len(choices) <= max_quick and all(_fits(b) for b in choices) else []
    numbered = choices if not quick or not all(_whole(b) for b in quick) else []
    first = len(out.choices) + 1
    if numbered:
        out.choices += [b.payload or "" for b in numbered]
        listed = [numbered_label(first + i, b.label) for i, b in enumerate(numbered)]
        lines += (["", CHOICES_HEADER] if lines else [CHOICES_HEADER]) + listed
    if lines:
        text = f"{text}\n\n" + "\n".join(lines) if text else "\n".join(lines)
    parts = split_message(text, MAX_TEXT) if text else []
    if not parts and quick:
        parts = [PICK_ONE]
    messages: list[dict[str, Any]] = [{"text": part} for part in parts]
    if quick:
        shown = (lambda i, label: numbered_label(first + i, label)) if numbered else (lambda i, label: label)
        messages[-1]["quick_replies"] = [
            {"content_type": "text", "title": title(shown(i, b.label)), "payload": b.payload}
            for i, b in enumerate(quick)]
    out.messages += messages


def render(replies: list[Reply]) -> Rendered:
    out = Rendered()
    for reply in replies:
        _render_one(reply, out)
    return out


MAX_MENU_ITEMS = 20  # persistent menu: flat, at most 20 items (nested menus were removed)
MAX_MENU_TITLE = 30
MAX_GREETING = 160


def profile(categories: list[tuple[str, str]], office_name: str, greeting: str | None,
            get_started: str) -> dict[str, Any]:
    """The Messenger Profile: the Get Started button, the welcome screen's greeting and the
    persistent menu, whose items are the main menu's (``categories``: (id, title) pairs)."""
    text = greeting or (f"Dạ, em là trợ lý ảo của {office_name}: hướng dẫn thủ tục hành chính và "
                        "dịch vụ công trực tuyến. Anh/Chị bấm Bắt đầu nhé.")
    fixed = [{"type": "postback", "title": "☰ Menu", "payload": "menu"},
             {"type": "postback", "title": "✍️ Gửi phản ánh, kiến nghị", "payload": "fb:start"}]
    topics = [{"type": "postback", "title": title(name, MAX_MENU_TITLE), "payload": f"cat:{cid}"}
              for cid, name in categories][: MAX_MENU_ITEMS - len(fixed)]
    return {
        "get_started": {"payload": get_started},
        "greeting": [{"locale": "default", "text": title(text, MAX_GREETING)}],
        "persistent_menu": [{"locale": "default", "composer_input_disabled": False,
                             "call_to_actions": [fixed[0], *topics, fixed[1]]}],
    }
