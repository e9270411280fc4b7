"""Replies rendered the Zalo OA way: plain text of at most 2,000 characters, a few buttons.

A payload button is an ``oa.query.show`` button: pressing it makes the citizen send its payload
as an ordinary text message, shown in the chat. The payload we give Zalo is the button's label
followed by a marker, ``"<label> #<payload>~<tag>"``, where the tag is an HMAC of the label and
payload under a key derived from the OA secret key. An incoming text that is exactly such a
string, with a valid tag, is a button press; anything else is text the citizen typed.

Zalo allows only a few buttons per message; further choices are listed as numbered lines
("6. …": each choice is numbered by its place, the first five being the buttons) that the
citizen answers by typing the number, and links as "🔗 label: url" lines.

A phone request (``Button.request == "phone"``) becomes a message of its own after the reply:
the ``request_user_info`` template, a card the citizen taps to send the name and phone number
of their Zalo account (after Zalo asks them to confirm); it comes back as the
``user_submit_info`` event. The template has one element: ``title`` (at most 100 characters),
``subtitle`` (at most 500) and ``image_url`` (a public PNG or JPG). Without an image address to
give, the reply asks the citizen to type the number instead.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass, field
from typing import Any

from bot.channels.choices import numbered
from bot.messages import PHONE_REQUEST, Button, Reply
from bot.ports import ZALO
from bot.render import split_message, to_plain

MAX_TEXT = ZALO.text_limit  # characters per message (Zalo's limit)
# Buttons per message. Zalo's documents give 5 for templates but do not say it for buttons on
# a consultation text message; 5 is the safe value until checked against the real API.
MAX_BUTTONS = ZALO.button_limit
MAX_BUTTON_TITLE = 100
PROMOTION_HEADER_MAX = 100
PROMOTION_TEXT_MAX = 1000  # per text element; unconfirmed, kept small on purpose
CHOICES_HEADER = "Anh/Chị gõ số để chọn:"
MAX_INFO_TITLE = 100
MAX_INFO_SUBTITLE = 500
INFO_SUBTITLE = ("Anh/Chị bấm vào thẻ này: Zalo hỏi lại trước khi gửi họ tên và số điện thoại "
                 "của tài khoản Zalo của Anh/Chị ạ.")
TYPE_PHONE = "Dạ, Anh/Chị gõ số điện thoại của mình vào ô chat (ví dụ 0912 345 678) ạ."
_PRESS = re.compile(r"^(?P<label>.*) #(?P<payload>\S+)~(?P<tag>[0-9a-f]{10})$")


class PayloadCodec:
    """Marks payloads the bot issues so that a press can be told from typed text."""

    def __init__(self, oa_secret_key: str) -> None:
        self._key = hashlib.sha256(b"cchc-bot zalo button\x00" + oa_secret_key.encode()).digest()

    def _tag(self, label: str, payload: str) -> str:
        message = f"{label}\x00{payload}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()[:10]

    def encode(self, label: str, payload: str) -> str:
        label = " ".join(label.split())  # one line, so the marker is always at the end
        return f"{label} #{payload}~{self._tag(label, payload)}"

    def decode(self, text: str) -> str | None:
        """The payload if ``text`` is exactly a button payload this bot issued, else None."""
        match = _PRESS.match(text)
        if match is None:
            return None
        expected = self._tag(match["label"], match["payload"])
        return match["payload"] if hmac.compare_digest(expected, match["tag"]) else None

    def user_key(self, platform_id: str) -> str:
        """A short stable key for this user's numbered choices (CallbackPayload.key)."""
        digest = hmac.new(self._key, f"choices:{platform_id}".encode(), hashlib.sha256)
        return "zc:" + digest.hexdigest()[:21]


@dataclass
class Rendered:
    """What to send for one response: message bodies in order, and the numbered choices."""

    messages: list[dict[str, Any]] = field(default_factory=list)  # {"text",...} or {"image": bytes}
    choices: list[str] = field(default_factory=list)  # payloads, choice n is choices[n - 1]


def button_json(button: Button, codec: PayloadCodec) -> dict[str, Any]:
    title = button.label[:MAX_BUTTON_TITLE]
    if button.url:
        return {"title": title, "type": "oa.open.url", "payload": {"url": button.url}}
    return {"title": title, "type": "oa.query.show", "payload": codec.encode(title, button.payload or "")}


def request_info_message(label: str, image_url: str) -> dict[str, Any]:
    """The card that asks for the citizen's Zalo name and phone number."""
    title = " ".join(label.split())[:MAX_INFO_TITLE] or "Chia sẻ số điện thoại"
    return {"attachment": {"type": "template", "payload": {
        "template_type": "request_user_info",
        "elements": [{"title": title, "subtitle": INFO_SUBTITLE[:MAX_INFO_SUBTITLE], "image_url": image_url}],
    }}}


def render(replies: list[Reply], codec: PayloadCodec, info_image: str | None = None) -> Rendered:
    """``info_image``: the public image address for a phone request's card, if there is one."""
    out = Rendered()
    for reply in replies:
        phone = next((b for row in reply.buttons for b in row if b.request == PHONE_REQUEST), None)
        if phone is not None and info_image is None:
            reply = Reply(f"{reply.text.strip()}\n\n{TYPE_PHONE}".strip(), reply.buttons, reply.image)
        if reply.image:
            out.messages.append({"image": reply.image})
        flat = [b for row in reply.buttons for b in row if b.url or b.payload]
        shown = flat[:MAX_BUTTONS]
        lines: list[str] = []
        listed: list[str] = []
        for index, button in enumerate(flat):  # every choice has its number; the extra ones are listed
            if button.payload and not button.url:
                out.choices.append(button.payload)
                if index >= MAX_BUTTONS:
                    listed.append(numbered(len(out.choices), button.label))
            elif index >= MAX_BUTTONS:
                lines.append(f"🔗 {button.label}: {button.url}")
        if listed:
            lines += ["", CHOICES_HEADER, *listed] if lines else [CHOICES_HEADER, *listed]
        text = to_plain(reply.text).strip()
        if lines:
            text = f"{text}\n\n" + "\n".join(lines) if text else "\n".join(lines)
        parts = split_message(text, MAX_TEXT) if text else []
        if not parts and shown:
            parts = ["Dạ, Anh/Chị chọn một mục dưới đây ạ."]
        for index, part in enumerate(parts):
            message: dict[str, Any] = {"text": part}
            if index == len(parts) - 1 and shown:
                message["attachment"] = {"type": "template",
                                         "payload": {"buttons": [button_json(b, codec) for b in shown]}}
            out.messages.append(message)
        if phone is not None and info_image is not None:
            out.messages.append(request_info_message(phone.label, info_image))
    return out


def media_message(attachment_id: str) -> dict[str, Any]:
    return {"attachment": {"type": "template", "payload": {
        "template_type": "media",
        "elements": [{"media_type": "image", "attachment_id": attachment_id}],
    }}}


def promotion_message(reply: Reply, header: str, codec: PayloadCodec,
                      banner_attachment_id: str | None = None) -> dict[str, Any]:
    """One reply as a promotion message (template ``promotion``: banner, header, text, buttons)."""
    elements: list[dict[str, Any]] = []
    if banner_attachment_id:
        elements.append({"type": "banner", "attachment_id": banner_attachment_id})
    elements.append({"type": "header", "content": header[:PROMOTION_HEADER_MAX], "align": "left"})
    for chunk in split_message(to_plain(reply.text).strip(), PROMOTION_TEXT_MAX):
        elements.append({"type": "text", "align": "left", "content": chunk})
    buttons = [b for row in reply.buttons for b in row if b.url or b.payload][:MAX_BUTTONS]
    payload: dict[str, Any] = {"template_type": "promotion", "language": "VI", "elements": elements}
    if buttons:
        payload["buttons"] = [button_json(b, codec) for b in buttons]
    return {"attachment": {"type": "template", "payload": payload}}
