"""Messenger webhooks: the verification handshake, the signature check, and the events read
into the core's ``Incoming``.

- Handshake: when the callback URL is saved, Meta GETs it with ``hub.mode=subscribe``,
  ``hub.verify_token`` (ours) and ``hub.challenge``, and wants the challenge back.
- Every POST carries ``X-Hub-Signature-256: sha256=<hex>``, the HMAC-SHA256 of the raw body
  keyed with the app secret; it is checked before the body is even parsed.
- A POST is ``{"object": "page", "entry": [{"id", "time", "messaging": [event, ...]}]}``; an
  event has ``sender.id`` (the PSID) and one of ``message`` (text, attachments,
  ``quick_reply.payload``: the phone number itself for the ``user_phone_number`` quick reply,
  ``is_echo`` for our own messages), ``postback`` (a button, Get
  Started or the persistent menu; with ``referral`` when an m.me link opened a new thread) or
  ``referral`` (an m.me link opened an existing thread). Deliveries, reads and the rest are
  ignored.

Nothing here depends on the bot: it reads bytes and dicts and gives back ``Incoming`` values.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from bot.messages import Attachment, Contact, Incoming
from bot.phones import normalize_phone

CHANNEL = "messenger"
SIGNATURE_HEADER = "X-Hub-Signature-256"
MAX_USER_ID = 64  # ChannelUser.platform_id; PSIDs are ~16 digits
MAX_EVENT_ID = 128  # InboundEvent.event_id; longer mids are hashed
GET_STARTED = "welcome"  # the Get Started button's payload: the same welcome as a Zalo follow
_REF = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")  # an FAQ id passed as m.me's ?ref=
# The user_phone_number quick reply's payload: a number, which no payload of the bot's is.
_PHONE_PAYLOAD = re.compile(r"^\+?\d{6,15}$")


class Refused(Exception):
    """A webhook request that is not Meta's: answered with ``status`` and nothing processed."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def handshake(query: Mapping[str, str], verify_token: str) -> str:
    """The challenge to answer the subscription handshake with; Refused(403) otherwise."""
    given = query.get("hub.verify_token", "")
    if query.get("hub.mode") != "subscribe":
        raise Refused(403, "hub.mode is not subscribe")
    if not hmac.compare_digest(given.encode(), verify_token.encode()):
        raise Refused(403, "wrong verify token")
    challenge = query.get("hub.challenge", "")
    if not challenge or len(challenge) > 256 or not challenge.isprintable():
        raise Refused(403, "no usable hub.challenge")
    return challenge


def signature(raw_body: bytes, app_secret: str) -> str:
    """The value Meta puts in X-Hub-Signature-256 for ``raw_body``."""
    return "sha256=" + hmac.new(app_secret.encode(), raw_body, hashlib.sha256).hexdigest()


def verify(raw_body: bytes, header: str | None, app_secret: str) -> dict[str, Any]:
    """The parsed body when it is signed with our app secret; Refused(401/403) otherwise."""
    if not header or not header.strip().lower().startswith("sha256="):
        raise Refused(401, "missing signature")
    expected = signature(raw_body, app_secret)
    if not hmac.compare_digest(header.strip().lower().encode(), expected.encode()):
        raise Refused(403, "bad signature")
    try:
        body = json.loads(raw_body)
    except (ValueError, UnicodeDecodeError):
        raise Refused(400, "not JSON") from None
    if not isinstance(body, dict):
        raise Refused(400, "not a JSON object")
    return body


@dataclass(frozen=True)
class Event:
    """One messaging event the bot answers: the core's message and the id that makes it once."""

    event_id: str
    incoming: Incoming
    typed: bool  # text the citizen typed (a number in it may pick a numbered choice)


def _event_id(raw: str) -> str:
    raw = raw.replace("\x00", "")
    if len(raw) <= MAX_EVENT_ID:
        return raw
    return "h:" + hashlib.sha256(raw.encode()).hexdigest()


def _deep_link(ref: object) -> str | None:
    """``/start <faq-id>`` for an m.me link's ``ref``, as Telegram's deep links arrive."""
    if not isinstance(ref, str):
        return None
    ref = ref.strip().lower()
    return f"/start {ref}" if _REF.fullmatch(ref) else "/start"


def _images(message: dict[str, Any]) -> tuple[Attachment, ...]:
    found = []
    for item in message.get("attachments") or []:
        if not isinstance(item, dict) or item.get("type") not in ("image", "file"):
            continue
        payload = item.get("payload")
        url = payload.get("url") if isinstance(payload, dict) else None
        if isinstance(url, str) and url.startswith(("https://", "http://")):
            found.append(Attachment(str(item["type"]), url=url))
    return tuple(found)


def _read(event: dict[str, Any], user: str) -> tuple[str, Incoming, bool] | None:
    stamp = event.get("timestamp")
    message = event.get("message")
    if isinstance(message, dict):
        if message.get("is_echo"):
            return None
        mid = message.get("mid")
        if not isinstance(mid, str) or not mid:
            return None
        quick = message.get("quick_reply")
        if isinstance(quick, dict) and isinstance(quick.get("payload"), str) and quick["payload"]:
            if _PHONE_PAYLOAD.fullmatch(quick["payload"]):  # Meta's own: the person's number
                phone = normalize_phone(quick["payload"]) or quick["payload"]
                return mid, Incoming(CHANNEL, user, contact=Contact(phone=phone, verified=True)), False
            return mid, Incoming(CHANNEL, user, payload=quick["payload"]), False
        text = message.get("text")
        text = text if isinstance(text, str) else ""
        images = _images(message)
        if not text and not images:
            return None  # a sticker, a like, a location: nothing the bot reads
        return mid, Incoming(CHANNEL, user, text=text, attachments=images), not images
    postback = event.get("postback")
    if isinstance(postback, dict):
        referral = postback.get("referral")
        payload = postback.get("payload")
        key = postback.get("mid") or f"pb:{user}:{stamp}:{payload}"
        if isinstance(referral, dict) and referral.get("ref"):
            return str(key), Incoming(CHANNEL, user, text=_deep_link(referral["ref"]) or "/start"), False
        if isinstance(payload, str) and payload:
            return str(key), Incoming(CHANNEL, user, payload=payload), False
        return None
    referral = event.get("referral")
    if isinstance(referral, dict):
        text = _deep_link(referral.get("ref")) or "/start"
        return f"ref:{user}:{stamp}:{referral.get('ref')}", Incoming(CHANNEL, user, text=text), False
    return None


def events(body: dict[str, Any]) -> Iterator[Event]:
    """The events of one POST that the bot answers, in order; anything else is skipped."""
    if body.get("object") != "page":
        return
    for entry in body.get("entry") or []:
        if not isinstance(entry, dict):
            continue
        for event in entry.get("messaging") or []:
            if not isinstance(event, dict):
                continue
            sender = event.get("sender")
            user = str(sender.get("id", "")) if isinstance(sender, dict) else ""
            if not user or len(user) > MAX_USER_ID or not user.isprintable():
                continue
            read = _read(event, user)
            if read is not None:
                key, incoming, typed = read
                yield Event(_event_id(key), incoming, typed)
