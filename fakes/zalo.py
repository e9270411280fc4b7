"""A fake of the Zalo OA APIs, faithful to what the bot relies on, and a signed-webhook sender.

The fake runs as a real aiohttp server on 127.0.0.1 (random port); point ``zalo.api_base_url``
and ``zalo.oauth_base_url`` at ``fake.url``. It implements:

- OAuth v4 (``/v4/oa/access_token``): the ``secret_key`` header, ``authorization_code`` with
  PKCE S256, and single-use ``refresh_token`` with rotation (the old refresh token dies); the
  answer's ``expires_in`` is a string, as Zalo sends it. ``/v4/oa/permission`` plays the OA
  administrator who approves and is redirected with ``code`` and ``state``.
- ``/v3.0/oa/message/cs``: access token check (-216 unknown, -220 expired), the per-app rate
  limit (-32), body validation (-201: text over 2,000 characters, more than 5 buttons, bad
  button shapes), followers (-213), the 7-day interaction window (-230), a quota (-211).
- ``/v3.0/oa/message/promotion``: followers only, no window, its own quota.
- ``/v2.0/oa/upload/image``: multipart ``file`` up to 1 MB, answers ``data.attachment_id``.
- the ``request_user_info`` template on ``/message/cs`` (one element: ``title`` ≤ 100,
  ``subtitle`` ≤ 500, ``image_url`` a PNG or JPG address; no text beside it), and the
  ``user_submit_info`` event the citizen's answer to it sends (``WebhookSender.submit_info``:
  only after such a card reached that citizen; the phone as Zalo writes it, 84xxxxxxxxx).

Errors come as HTTP 200 with ``{"error": code, "message": ...}``, as Zalo does. Codes the
bot's code does not depend on (the OAuth errors' numbers) are this fake's choice.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import itertools
import json
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from aiohttp.test_utils import TestClient

from fakes.local_server import LocalServer, RequestWindow

WINDOW_SECONDS = 7 * 24 * 3600
MAX_TEXT = 2000
MAX_BUTTONS = 5
MAX_IMAGE = 1024 * 1024
MAX_INFO_TITLE = 100
MAX_INFO_SUBTITLE = 500
SIGNATURE_HEADER = "X-ZEvent-Signature"
BUTTON_TYPES = {"oa.open.url", "oa.query.show", "oa.query.hide", "oa.open.phone", "oa.open.sms"}


@dataclass
class FakeUser:
    follower: bool = True
    last_interaction: float = field(default_factory=time.time)


@dataclass(frozen=True)
class Sent:
    path: str
    user_id: str
    message: dict[str, Any]
    message_id: str

    @property
    def text(self) -> str:
        return self.message.get("text", "")

    @property
    def buttons(self) -> list[dict[str, Any]]:
        attachment = self.message.get("attachment") or {}
        return list((attachment.get("payload") or {}).get("buttons") or [])

    @property
    def asks_info(self) -> bool:
        """A request_user_info card: the citizen can share their name and phone number."""
        payload = (self.message.get("attachment") or {}).get("payload") or {}
        return payload.get("template_type") == "request_user_info"


class FakeZalo(LocalServer):
    def __init__(self, app_id: str, app_secret: str, *, access_lifetime: int = 90000,
                 rate_limit: int = 4000, rate_window: float = 60.0) -> None:
        self.app_id = app_id
        self.app_secret = app_secret
        self.access_lifetime = access_lifetime
        self.window = RequestWindow(rate_limit, rate_window)
        self.users: dict[str, FakeUser] = {}
        self.access_tokens: dict[str, float] = {}  # token -> expiry (epoch seconds)
        self.live_refresh_tokens: set[str] = set()
        self.dead_refresh_tokens: set[str] = set()
        self.codes: dict[str, str] = {}  # authorization code -> code_challenge
        self.sent: list[Sent] = []
        self.uploads: dict[str, bytes] = {}
        self.calls: list[str] = []  # every request path, in order
        self.refresh_calls = 0
        self.refresh_delay = 0.0
        self.cs_quota: int | None = None
        self.promotion_quota: int | None = None
        self.fail_next: list[tuple[int, str]] = []  # forced errors for the next message calls
        self._ids = itertools.count(1)

    # -- the test's controls ----------------------------------------------------------------

    def issue_pair(self) -> tuple[str, str]:
        access, refresh = f"at-{secrets.token_hex(8)}", f"rt-{secrets.token_hex(8)}"
        self.access_tokens[access] = time.time() + self.access_lifetime
        self.live_refresh_tokens.add(refresh)
        return access, refresh

    def expire_access_tokens(self) -> None:
        for token in self.access_tokens:
            self.access_tokens[token] = time.time() - 1

    def revoke_refresh_tokens(self) -> None:
        self.dead_refresh_tokens |= self.live_refresh_tokens
        self.live_refresh_tokens.clear()

    def interact(self, user_id: str, at: float | None = None, follower: bool | None = None) -> None:
        user = self.users.setdefault(user_id, FakeUser())
        user.last_interaction = time.time() if at is None else at
        if follower is not None:
            user.follower = follower

    def messages_to(self, user_id: str) -> list[Sent]:
        return [s for s in self.sent if s.user_id == user_id]

    # -- running ----------------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application(client_max_size=4 * MAX_IMAGE)
        app.router.add_post("/v4/oa/access_token", self._token)
        app.router.add_get("/v4/oa/permission", self._permission)
        app.router.add_post("/v3.0/oa/message/cs", self._cs)
        app.router.add_post("/v3.0/oa/message/promotion", self._promotion)
        app.router.add_post("/v2.0/oa/upload/image", self._upload)
        return app

    @contextlib.contextmanager
    def running_in_thread(self) -> Iterator[FakeZalo]:
        """For synchronous tests (the CLI): the server on its own event loop in a thread."""
        loop = asyncio.new_event_loop()
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.run_until_complete(self.start())
            ready.set()
            loop.run_forever()

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        assert ready.wait(10), "the fake Zalo server did not start"
        try:
            yield self
        finally:
            asyncio.run_coroutine_threadsafe(self.close(), loop).result(10)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(10)
            loop.close()

    # -- OAuth v4 ---------------------------------------------------------------------------

    @staticmethod
    def _oauth_error(code: int, name: str, description: str) -> web.Response:
        return web.json_response({"error": code, "error_name": name, "error_reason": name,
                                  "error_description": description})

    async def _token(self, request: web.Request) -> web.Response:
        self.calls.append(request.path)
        form = await request.post()
        if request.headers.get("secret_key") != self.app_secret:
            return self._oauth_error(-14002, "Invalid secret key", "secret_key header is wrong")
        if form.get("app_id") != self.app_id:
            return self._oauth_error(-14001, "Invalid app id", "unknown app_id")
        grant = form.get("grant_type")
        if grant == "refresh_token":
            self.refresh_calls += 1
            if self.refresh_delay:
                await asyncio.sleep(self.refresh_delay)
            token = str(form.get("refresh_token", ""))
            if token not in self.live_refresh_tokens:
                return self._oauth_error(-14014, "Invalid refresh token",
                                         "refresh token is invalid, expired or already used")
            self.live_refresh_tokens.discard(token)
            self.dead_refresh_tokens.add(token)  # single use
        elif grant == "authorization_code":
            code, verifier = str(form.get("code", "")), str(form.get("code_verifier", ""))
            challenge = self.codes.pop(code, None)  # codes are single use
            digest = hashlib.sha256(verifier.encode()).digest()
            if challenge is None or base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != challenge:
                return self._oauth_error(-14019, "Invalid code", "code or code_verifier is invalid")
        else:
            return self._oauth_error(-14003, "Invalid parameter", f"grant_type {grant!r}")
        access, refresh = self.issue_pair()
        return web.json_response({"access_token": access, "refresh_token": refresh,
                                  "expires_in": str(self.access_lifetime)})

    async def _permission(self, request: web.Request) -> web.Response:
        """The administrator approves: Zalo redirects to redirect_uri with code and state."""
        query = request.query
        if query.get("app_id") != self.app_id or not query.get("code_challenge"):
            return web.Response(status=400, text="invalid request")
        code = f"code-{secrets.token_hex(6)}"
        self.codes[code] = query["code_challenge"]
        target = query["redirect_uri"] + "?" + urlencode(
            {"code": code, "oa_id": "oa-fake", "state": query.get("state", "")})
        raise web.HTTPFound(target)

    # -- the OA API -------------------------------------------------------------------------

    @staticmethod
    def _error(code: int, message: str) -> web.Response:
        return web.json_response({"error": code, "message": message})

    def _check_token(self, request: web.Request) -> web.Response | None:
        token = request.headers.get("access_token", "")
        if token not in self.access_tokens:
            return self._error(-216, "Access token is invalid")
        if self.access_tokens[token] < time.time():
            return self._error(-220, "Access token has expired")
        return None

    def _check_rate(self) -> web.Response | None:
        if not self.window.allow():
            return self._error(-32, "The app has exceeded the request rate limit")
        return None

    @staticmethod
    def _bad_buttons(buttons: Any) -> str | None:
        if not isinstance(buttons, list) or not 1 <= len(buttons) <= MAX_BUTTONS:
            return f"buttons must be a list of 1 to {MAX_BUTTONS}"
        for button in buttons:
            if not isinstance(button, dict) or button.get("type") not in BUTTON_TYPES:
                return "bad button type"
            if not isinstance(button.get("title"), str) or not 0 < len(button["title"]) <= 100:
                return "button title must be 1 to 100 characters"
            payload = button.get("payload")
            if button["type"].startswith("oa.query."):
                if not isinstance(payload, str) or not 0 < len(payload) <= 1000:
                    return "query button payload must be a string of at most 1000 characters"
            elif button["type"] == "oa.open.url":
                if not isinstance(payload, dict) or not str(payload.get("url", "")).startswith("http"):
                    return "url button payload must be {\"url\": ...}"
        return None

    def _bad_message(self, message: Any) -> str | None:
        if not isinstance(message, dict) or not ("text" in message or "attachment" in message):
            return "message needs text or attachment"
        if "text" in message:
            text = message["text"]
            if not isinstance(text, str) or not text.strip():
                return "text must be a non-empty string"
            if len(text) > MAX_TEXT:
                return f"text is longer than {MAX_TEXT} characters"
        attachment = message.get("attachment")
        if attachment is not None:
            payload = attachment.get("payload") if isinstance(attachment, dict) else None
            if not isinstance(attachment, dict) or attachment.get("type") != "template" or not isinstance(payload, dict):
                return "attachment must be a template"
            kind = payload.get("template_type")
            if kind is None:
                if "text" not in message:
                    return "buttons need a text"
                return self._bad_buttons(payload.get("buttons"))
            if kind == "media":
                elements = payload.get("elements")
                if not isinstance(elements, list) or len(elements) != 1:
                    return "media needs exactly one element"
                element = elements[0]
                if element.get("media_type") != "image":
                    return "media_type must be image"
                if element.get("attachment_id") not in self.uploads and not element.get("url"):
                    return "unknown attachment_id"
                return None
            if kind == "request_user_info":
                return self._bad_request_info(message, payload)
            return f"template_type {kind!r} is not allowed here"
        return None

    @staticmethod
    def _bad_request_info(message: dict[str, Any], payload: dict[str, Any]) -> str | None:
        if "text" in message:
            return "request_user_info takes no text"
        elements = payload.get("elements")
        if not isinstance(elements, list) or len(elements) != 1 or not isinstance(elements[0], dict):
            return "request_user_info needs exactly one element"
        element = elements[0]
        title, subtitle, image = element.get("title"), element.get("subtitle"), element.get("image_url")
        if not isinstance(title, str) or not 0 < len(title) <= MAX_INFO_TITLE:
            return f"element title must be 1 to {MAX_INFO_TITLE} characters"
        if not isinstance(subtitle, str) or not 0 < len(subtitle) <= MAX_INFO_SUBTITLE:
            return f"element subtitle must be 1 to {MAX_INFO_SUBTITLE} characters"
        if not isinstance(image, str) or not image.startswith(("https://", "http://")) \
                or not image.lower().split("?")[0].endswith((".png", ".jpg", ".jpeg")):
            return "element image_url must be the address of a PNG or JPG image"
        return None

    def _recipient(self, body: Any) -> str | None:
        recipient = body.get("recipient") if isinstance(body, dict) else None
        user = recipient.get("user_id") if isinstance(recipient, dict) else None
        return user if isinstance(user, str) and user else None

    async def _message_call(self, request: web.Request) -> tuple[web.Response | None, Any, str | None]:
        self.calls.append(request.path)
        refused = self._check_token(request) or self._check_rate()
        if refused is not None:
            return refused, None, None
        if self.fail_next:
            code, message = self.fail_next.pop(0)
            return self._error(code, message), None, None
        try:
            body = await request.json()
        except ValueError:
            return self._error(-201, "Body is not JSON"), None, None
        user = self._recipient(body)
        if user is None:
            return self._error(-201, "recipient.user_id is required"), None, None
        return None, body, user

    def _accept(self, path: str, user: str, message: dict[str, Any]) -> web.Response:
        message_id = f"mid-{next(self._ids)}"
        self.sent.append(Sent(path, user, message, message_id))
        return web.json_response({"error": 0, "message": "Success",
                                  "data": {"message_id": message_id, "user_id": user}})

    async def _cs(self, request: web.Request) -> web.Response:
        refused, body, user = await self._message_call(request)
        if refused is not None:
            return refused
        assert user is not None
        problem = self._bad_message(body.get("message"))
        if problem is not None:
            return self._error(-201, f"Parameter is invalid: {problem}")
        known = self.users.get(user)
        if known is None or not known.follower:
            return self._error(-213, "User has not followed the OA")
        if time.time() - known.last_interaction > WINDOW_SECONDS:
            return self._error(-230, "User has not interacted with the OA in the last 7 days")
        if self.cs_quota is not None:
            if self.cs_quota <= 0:
                return self._error(-211, "Out of quota")
            self.cs_quota -= 1
        return self._accept("cs", user, body["message"])

    async def _promotion(self, request: web.Request) -> web.Response:
        refused, body, user = await self._message_call(request)
        if refused is not None:
            return refused
        assert user is not None
        message = body.get("message")
        payload = ((message or {}).get("attachment") or {}).get("payload") or {}
        if payload.get("template_type") != "promotion" or not isinstance(payload.get("elements"), list):
            return self._error(-201, "Parameter is invalid: a promotion template is required")
        if "buttons" in payload and (problem := self._bad_buttons(payload["buttons"])):
            return self._error(-201, f"Parameter is invalid: {problem}")
        known = self.users.get(user)
        if known is None or not known.follower:
            return self._error(-213, "User has not followed the OA")
        if self.promotion_quota is not None:
            if self.promotion_quota <= 0:
                return self._error(-211, "Out of quota")
            self.promotion_quota -= 1
        return self._accept("promotion", user, message)

    async def _upload(self, request: web.Request) -> web.Response:
        self.calls.append(request.path)
        refused = self._check_token(request) or self._check_rate()
        if refused is not None:
            return refused
        form = await request.post()
        upload = form.get("file")
        if not isinstance(upload, web.FileField):
            return self._error(-201, "file is required")
        data = upload.file.read()
        if not data or len(data) > MAX_IMAGE:
            return self._error(-201, "image must be 1 byte to 1 MB")
        attachment_id = f"att-{secrets.token_hex(6)}"
        self.uploads[attachment_id] = data
        return web.json_response({"error": 0, "message": "Success",
                                  "data": {"attachment_id": attachment_id}})


class WebhookSender:
    """Sends Zalo webhook events to the bot's aiohttp app, signed as Zalo signs them.

    Each event the citizen causes is also an interaction the fake API remembers (the 7-day
    window), as on the real platform.
    """

    def __init__(self, client: TestClient, *, app_id: str, oa_id: str, oa_secret_key: str,
                 path: str = "/zalo/webhook", fake: FakeZalo | None = None) -> None:
        self.client = client
        self.app_id = app_id
        self.oa_id = oa_id
        self.oa_secret_key = oa_secret_key
        self.path = path
        self.fake = fake
        self._ids = itertools.count(1)

    @staticmethod
    def now_ms() -> str:
        return str(int(time.time() * 1000))

    def sign(self, raw: bytes, app_id: str, timestamp: str) -> str:
        """Zalo's formula: plain SHA-256 of app_id + raw body + timestamp + OA secret key."""
        mac = hashlib.sha256(app_id.encode() + raw + timestamp.encode() + self.oa_secret_key.encode())
        return "mac=" + mac.hexdigest()

    async def post(self, event: dict[str, Any], *, header: str | None = None,
                   sign: bool = True) -> Any:
        raw = json.dumps(event, ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json"}
        if header is not None:
            headers[SIGNATURE_HEADER] = header
        elif sign:
            headers[SIGNATURE_HEADER] = self.sign(raw, str(event.get("app_id")), str(event.get("timestamp")))
        return await self.client.post(self.path, data=raw, headers=headers)

    def _msg_id(self) -> str:
        return f"{secrets.token_hex(10)}{next(self._ids)}"

    def text_event(self, user: str, text: str, *, msg_id: str | None = None,
                   timestamp: str | None = None) -> dict[str, Any]:
        return {"app_id": self.app_id, "user_id_by_app": f"9{user}", "event_name": "user_send_text",
                "timestamp": timestamp or self.now_ms(), "sender": {"id": user},
                "recipient": {"id": self.oa_id},
                "message": {"text": text, "msg_id": msg_id or self._msg_id()}}

    async def text(self, user: str, text: str, **kwargs: Any) -> Any:
        if self.fake is not None:
            self.fake.interact(user)
        return await self.post(self.text_event(user, text, **kwargs))

    async def press(self, user: str, button: dict[str, Any]) -> Any:
        """Pressing an oa.query.show button: the citizen sends its payload as text."""
        assert button["type"] in ("oa.query.show", "oa.query.hide"), button
        return await self.text(user, button["payload"])

    async def image(self, user: str, url: str, caption: str | None = None) -> Any:
        if self.fake is not None:
            self.fake.interact(user)
        message: dict[str, Any] = {"msg_id": self._msg_id(), "attachments": [
            {"type": "image", "payload": {"thumbnail": url, "url": url}}]}
        if caption is not None:
            message["text"] = caption
        return await self.post({"app_id": self.app_id, "user_id_by_app": f"9{user}",
                                "event_name": "user_send_image", "timestamp": self.now_ms(),
                                "sender": {"id": user}, "recipient": {"id": self.oa_id},
                                "message": message})

    async def submit_info(self, user: str, phone: str, name: str, **more: str) -> Any:
        """The citizen taps the request card and confirms: Zalo sends their account's name and
        number (``phone`` as Zalo writes it, e.g. "84912345678"), and ``more`` (address, ward,
        district, city) when they filled it in."""
        if self.fake is not None:
            assert any(s.asks_info for s in self.fake.messages_to(user)), f"no request card reached {user}"
            self.fake.interact(user)
        info = {"address": "", "phone": phone, "city": "", "district": "", "name": name, "ward": "", **more}
        return await self.post({"app_id": self.app_id, "user_id_by_app": f"9{user}",
                                "event_name": "user_submit_info", "timestamp": self.now_ms(),
                                "sender": {"id": user}, "recipient": {"id": self.oa_id}, "info": info})

    async def follow(self, user: str) -> Any:
        if self.fake is not None:
            self.fake.interact(user, follower=True)
        return await self.post({"oa_id": self.oa_id, "follower": {"id": user},
                                "user_id_by_app": f"9{user}", "event_name": "follow",
                                "source": "oa_profile", "app_id": self.app_id,
                                "timestamp": self.now_ms()})

    async def unfollow(self, user: str) -> Any:
        if self.fake is not None:
            self.fake.users.setdefault(user, FakeUser()).follower = False
        return await self.post({"oa_id": self.oa_id, "follower": {"id": user},
                                "user_id_by_app": f"9{user}", "event_name": "unfollow",
                                "source": "oa_profile", "app_id": self.app_id,
                                "timestamp": self.now_ms()})
