"""Meta's Graph API as the Messenger channel uses it: the Send API, the Messenger Profile API,
the error codes, and how a message the bot starts itself is marked (the 24-hour rule itself
is a capability of the channel, ``bot.ports.MESSENGER``).

Facts used here (Messenger Platform documentation):

- ``POST {api}/{version}/me/messages`` with the page access token: ``{"recipient": {"id": PSID},
  "messaging_type": ..., "message": {...}}`` or ``"sender_action": "typing_on"``; the answer is
  ``{"recipient_id", "message_id"}``, an error ``{"error": {"message", "type", "code",
  "error_subcode", "fbtrace_id"}}`` with an HTTP 4xx/5xx status.
- ``messaging_type``: RESPONSE (answering a message, inside the 24-hour standard messaging
  window), UPDATE (the page writes first, inside the window), MESSAGE_TAG with ``tag`` (outside
  the window, only for the tag's non-promotional use).
- ``POST {api}/{version}/me/messenger_profile``: ``get_started``, ``greeting``, ``persistent_menu``.
- ``appsecret_proof`` = HMAC-SHA256 of the access token keyed with the app secret, hex: required
  by apps that turn on "Require App Secret", accepted by all.

This module knows nothing of the bot: it takes and returns plain data.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any, Literal

import aiohttp

REQUEST_TIMEOUT = 15.0  # seconds for one Graph call

# Outside the window a message goes only tagged, and only the kinds the channel's capabilities
# let through (``Capabilities.outside_window``): a dossier's status change and the answer to the
# citizen's own ticket are account updates in Meta's sense (non-promotional, about something the
# person started); broadcasts, reminders and the rest go only inside the window.
ACCOUNT_UPDATE = "ACCOUNT_UPDATE"

# Error codes (the Send API's "Common Error Codes").
TEMPORARY = frozenset({1, 2, 1200})  # unknown / service unavailable / temporary send failure
RATE_LIMITED = frozenset({4, 17, 32, 613, 80006})  # app, user, page, send and messaging limits
USER_UNAVAILABLE = 551  # "This person isn't available right now" (blocked, deactivated)
NOT_RECEIVING = 2018108  # subcode: "This person isn't receiving messages from you right now"
NO_MATCHING_USER = 2018001  # subcode of 100: no such PSID for this page (deleted, wrong page)
OUTSIDE_WINDOW = frozenset({2018278, 2018065})  # subcodes of 10: sent outside the allowed window
APP_NOT_LIVE = frozenset({2018027, 2018028})  # subcodes of 200: app not public / not reviewed
TOKEN_INVALID = 190
PERMISSION = frozenset({10, 200, 230})
BAD_PARAMETER = 100
POLICY = 368


class GraphTransportError(Exception):
    """Graph could not be reached, or answered something that is not its JSON: transient."""


@dataclass(frozen=True)
class GraphResult:
    """One Graph answer: ``ok`` with its body, or the error's code, subcode and message."""

    http_status: int
    body: dict[str, Any]
    code: int = 0
    subcode: int = 0
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.code == 0 and self.http_status < 400


Verdict = Literal["sent", "retry", "rate_limited", "blocked", "ineligible", "token", "failed"]


def verdict(result: GraphResult) -> tuple[Verdict, str]:
    """What a Send API answer means for the delivery, and why (for the outbox's record)."""
    if result.ok:
        return "sent", ""
    code, sub = result.code, result.subcode
    reason = f"graph {code}" + (f"/{sub}" if sub else "") + f": {result.message}"[:400]
    if code == USER_UNAVAILABLE or sub == NOT_RECEIVING:
        return "blocked", f"user_unavailable ({reason})"
    if code == BAD_PARAMETER and sub == NO_MATCHING_USER:
        return "blocked", f"no_matching_user ({reason})"
    if sub in OUTSIDE_WINDOW:
        return "ineligible", f"outside_window ({reason})"
    if code in RATE_LIMITED:
        return "rate_limited", reason
    if code in TEMPORARY or (code == 0 and result.http_status >= 500):
        return "retry", reason
    if code == TOKEN_INVALID:
        return "token", f"token ({reason})"
    if sub in APP_NOT_LIVE:
        return "failed", f"app_not_live ({reason})"
    if code == BAD_PARAMETER:
        return "failed", f"bad_parameter ({reason})"
    if code == POLICY:
        return "failed", f"policy ({reason})"
    return "failed", reason


def messaging_for(inside_window: bool) -> dict[str, str]:
    """The ``messaging_type`` (and ``tag``) of a message the page writes first: a plain update
    inside the 24-hour window, an ACCOUNT_UPDATE outside it (for the kinds allowed there)."""
    if inside_window:
        return {"messaging_type": "UPDATE"}
    return {"messaging_type": "MESSAGE_TAG", "tag": ACCOUNT_UPDATE}


def appsecret_proof(access_token: str, app_secret: str) -> str:
    return hmac.new(app_secret.encode(), access_token.encode(), hashlib.sha256).hexdigest()


def _result(status: int, body: Any) -> GraphResult:
    if not isinstance(body, dict):
        raise GraphTransportError(f"HTTP {status}: unexpected JSON")
    error = body.get("error")
    if not isinstance(error, dict):
        if status >= 500:
            raise GraphTransportError(f"HTTP {status}")
        return GraphResult(status, body, code=0 if status < 400 else -1,
                           message="" if status < 400 else f"HTTP {status}")

    def number(key: str) -> int:
        try:
            return int(error.get(key) or 0)
        except (TypeError, ValueError):
            return 0

    return GraphResult(status, body, number("code") or -1, number("error_subcode"),
                       str(error.get("message", "")))


class GraphApi:
    """The page's Send and Messenger Profile APIs; one instance per page access token."""

    def __init__(self, base_url: str, version: str, page_token: str, app_secret: str,
                 session: aiohttp.ClientSession) -> None:
        self.root = f"{base_url.rstrip('/')}/{version.strip('/')}"
        self._params = {"access_token": page_token,
                        "appsecret_proof": appsecret_proof(page_token, app_secret)}
        self.session = session
        self.timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)

    async def _call(self, method: str, path: str, query: dict[str, str] | None = None,
                    **kwargs: Any) -> GraphResult:
        try:
            async with self.session.request(method, self.root + path,
                                            params={**self._params, **(query or {})},
                                            timeout=self.timeout, **kwargs) as response:
                try:
                    body = await response.json(content_type=None)
                except (ValueError, aiohttp.ContentTypeError) as exc:
                    raise GraphTransportError(f"HTTP {response.status}: not JSON") from exc
                return _result(response.status, body)
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise GraphTransportError(f"{type(exc).__name__}: {exc}") from exc

    async def send(self, body: dict[str, Any]) -> GraphResult:
        return await self._call("POST", "/me/messages", json=body)

    async def send_image(self, body: dict[str, Any], image: bytes) -> GraphResult:
        """An image from bytes: the Send API's multipart form with ``filedata``."""
        form = aiohttp.FormData()
        for key, value in body.items():
            form.add_field(key, value if isinstance(value, str) else json.dumps(value))
        kind = "image/png" if image.startswith(b"\x89PNG") else "image/jpeg"
        form.add_field("filedata", image, filename="image" + (".png" if kind == "image/png" else ".jpg"),
                       content_type=kind)
        return await self._call("POST", "/me/messages", data=form)

    async def set_profile(self, profile: dict[str, Any]) -> GraphResult:
        return await self._call("POST", "/me/messenger_profile", json=profile)

    async def get_profile(self, fields: list[str]) -> GraphResult:
        return await self._call("GET", "/me/messenger_profile", {"fields": ",".join(fields)})
