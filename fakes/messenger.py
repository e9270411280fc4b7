"""A fake of Meta's Graph API for the Messenger Platform, faithful to what the bot relies on,
and a sender of signed webhooks.

The fake runs as a real aiohttp server on 127.0.0.1 (random port); point
``messenger.api_base_url`` at ``fake.url``. It implements, under ``/{version}``:

- ``POST /me/messages`` (JSON, or multipart with ``filedata`` for an image): the page access
  token (190) and its ``appsecret_proof`` (100), ``messaging_type`` RESPONSE / UPDATE /
  MESSAGE_TAG with a ``tag`` among the four Meta keeps (CONFIRMED_EVENT_UPDATE,
  POST_PURCHASE_UPDATE, ACCOUNT_UPDATE, HUMAN_AGENT); the 24-hour standard messaging window
  since the person's last message (10 / 2018278); the limits (text 2,000 characters, button
  template text 640 and 1–3 buttons, 13 quick replies, titles 20, payloads 1,000: 100 Invalid
  parameter); quick replies of ``content_type`` text (title and payload), ``user_phone_number``
  or ``user_email`` (Meta fills those in from the person's profile; ``share_phone`` sends it back); an unknown PSID (100 / 2018001); a person who blocked the page (551 / 1545041);
  the per-page rate limit (300 calls a second for text: 613); ``sender_action`` typing_on /
  typing_off / mark_seen.
- ``POST`` / ``GET /me/messenger_profile``: ``get_started``, ``greeting`` (≤ 160 characters),
  ``persistent_menu`` (flat, ≤ 20 items, titles ≤ 30), stored and read back by ``fields``.
- ``GET /cdn/{name}``: attachment files the webhook's ``payload.url`` points at.

Errors are HTTP 400 with ``{"error": {"message", "type", "code", "error_subcode",
"fbtrace_id"}}``, as Graph sends them; ``fail_next`` forces the next answers (e.g. 1200).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient

from fakes.local_server import LocalServer, RequestWindow

WINDOW_SECONDS = 24 * 3600
MAX_TEXT = 2000
MAX_TEMPLATE_TEXT = 640
MAX_TEMPLATE_BUTTONS = 3
MAX_QUICK_REPLIES = 13
MAX_TITLE = 20
MAX_PAYLOAD = 1000
MAX_GREETING = 160
MAX_MENU_ITEMS = 20
MAX_MENU_TITLE = 30
TAGS = {"CONFIRMED_EVENT_UPDATE", "POST_PURCHASE_UPDATE", "ACCOUNT_UPDATE", "HUMAN_AGENT"}
SENDER_ACTIONS = {"typing_on", "typing_off", "mark_seen"}
PHONE_QUICK_REPLY = {"content_type": "user_phone_number"}


@dataclass
class FakeUser:
    last_inbound: float = field(default_factory=time.time)
    blocked: bool = False


@dataclass(frozen=True)
class Sent:
    psid: str
    messaging_type: str
    tag: str | None
    message: dict[str, Any]
    message_id: str
    image: bytes | None = None

    @property
    def text(self) -> str:
        template = self.template
        return template["text"] if template else self.message.get("text", "")

    @property
    def template(self) -> dict[str, Any] | None:
        payload = (self.message.get("attachment") or {}).get("payload") or {}
        return payload if payload.get("template_type") == "button" else None

    @property
    def buttons(self) -> list[dict[str, Any]]:
        return list((self.template or {}).get("buttons") or [])

    @property
    def quick_replies(self) -> list[dict[str, Any]]:
        return list(self.message.get("quick_replies") or [])


class GraphError(Exception):
    def __init__(self, code: int, message: str, subcode: int | None = None,
                 kind: str = "OAuthException") -> None:
        super().__init__(message)
        self.code, self.subcode, self.kind = code, subcode, kind

    def response(self) -> web.Response:
        error: dict[str, Any] = {"message": str(self), "type": self.kind, "code": self.code,
                                 "fbtrace_id": secrets.token_urlsafe(8)}
        if self.subcode is not None:
            error["error_subcode"] = self.subcode
        return web.json_response({"error": error}, status=400)


def _invalid(message: str) -> GraphError:
    return GraphError(100, f"(#100) {message}")


class FakeGraph(LocalServer):
    def __init__(self, page_token: str, app_secret: str, *, version: str = "v25.0",
                 rate_limit: int = 300, rate_window: float = 1.0) -> None:
        self.page_token = page_token
        self.app_secret = app_secret
        self.version = version
        self.window = RequestWindow(rate_limit, rate_window)
        self.users: dict[str, FakeUser] = {}
        self.sent: list[Sent] = []
        self.actions: list[tuple[str, str]] = []  # (psid, sender_action)
        self.calls: list[str] = []  # every request path, in order
        self.refused: list[tuple[int, int | None]] = []  # (code, subcode) of every error answered
        self.profile: dict[str, Any] = {}
        self.files: dict[str, bytes] = {}
        self.file_delay = 0.0  # seconds before an attachment download answers
        self.fail_next: list[GraphError] = []
        self._ids = itertools.count(1)

    # -- the test's controls ----------------------------------------------------------------

    def wrote(self, psid: str, at: float | None = None) -> None:
        """The person sent the page a message (Meta opens the 24-hour window)."""
        self.users.setdefault(psid, FakeUser()).last_inbound = time.time() if at is None else at

    def block(self, psid: str) -> None:
        self.users.setdefault(psid, FakeUser()).blocked = True

    def host(self, name: str, data: bytes) -> str:
        """An attachment URL as Meta's CDN would give it in a webhook."""
        self.files[name] = data
        return f"{self.url}/cdn/{name}"

    def messages_to(self, psid: str) -> list[Sent]:
        return [s for s in self.sent if s.psid == psid]

    # -- running ----------------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application(client_max_size=8 * 1024 * 1024)
        app.router.add_post(f"/{self.version}/me/messages", self._messages)
        app.router.add_post(f"/{self.version}/me/messenger_profile", self._set_profile)
        app.router.add_get(f"/{self.version}/me/messenger_profile", self._get_profile)
        app.router.add_get("/cdn/{name}", self._file)
        return app

    # -- checks -----------------------------------------------------------------------------

    def _check_token(self, request: web.Request) -> None:
        token = request.query.get("access_token", "")
        if not hmac.compare_digest(token.encode(), self.page_token.encode()):
            raise GraphError(190, "Invalid OAuth access token - Cannot parse access token")
        proof = hmac.new(self.app_secret.encode(), token.encode(), hashlib.sha256).hexdigest()
        if request.query.get("appsecret_proof") != proof:
            raise GraphError(100, "Invalid appsecret_proof provided in the API argument",
                             kind="GraphMethodException")

    def _check_rate(self) -> None:
        if not self.window.allow():
            raise GraphError(613, "Calls to this api have exceeded the rate limit.")

    @staticmethod
    def _check_button(button: Any) -> None:
        if not isinstance(button, dict) or button.get("type") not in ("postback", "web_url"):
            raise _invalid("button type must be postback or web_url")
        if not isinstance(button.get("title"), str) or not 0 < len(button["title"]) <= MAX_TITLE:
            raise _invalid(f"button title must be 1 to {MAX_TITLE} characters")
        if button["type"] == "postback":
            payload = button.get("payload")
            if not isinstance(payload, str) or not 0 < len(payload) <= MAX_PAYLOAD:
                raise _invalid(f"postback payload must be 1 to {MAX_PAYLOAD} characters")
        elif not str(button.get("url", "")).startswith(("https://", "http://")):
            raise _invalid("web_url button needs a url")

    def _check_message(self, message: Any, image: bytes | None) -> None:
        if not isinstance(message, dict):
            raise _invalid("param message must be an object")
        text, attachment = message.get("text"), message.get("attachment")
        if (text is None) == (attachment is None):
            raise _invalid("message must have exactly one of text or attachment")
        if text is not None and (not isinstance(text, str) or not 0 < len(text) <= MAX_TEXT):
            raise GraphError(100, f"(#100) Length of param message[text] must be less than or equal to {MAX_TEXT}")
        if attachment is not None:
            kind = attachment.get("type") if isinstance(attachment, dict) else None
            payload = attachment.get("payload") if isinstance(attachment, dict) else None
            if kind == "image":
                if image is None and not (isinstance(payload, dict) and payload.get("url")):
                    raise _invalid("image attachment needs filedata or payload.url")
            elif kind == "template" and isinstance(payload, dict) and payload.get("template_type") == "button":
                words = payload.get("text")
                if not isinstance(words, str) or not 0 < len(words) <= MAX_TEMPLATE_TEXT:
                    raise _invalid(f"button template text must be 1 to {MAX_TEMPLATE_TEXT} characters")
                buttons = payload.get("buttons")
                if not isinstance(buttons, list) or not 1 <= len(buttons) <= MAX_TEMPLATE_BUTTONS:
                    raise _invalid(f"button template needs 1 to {MAX_TEMPLATE_BUTTONS} buttons")
                for button in buttons:
                    self._check_button(button)
            else:
                raise _invalid("unsupported attachment")
        quick = message.get("quick_replies")
        if quick is not None:
            if not isinstance(quick, list) or not 1 <= len(quick) <= MAX_QUICK_REPLIES:
                raise _invalid(f"quick_replies must have 1 to {MAX_QUICK_REPLIES} items")
            for item in quick:
                kind = item.get("content_type") if isinstance(item, dict) else None
                if kind in ("user_phone_number", "user_email"):
                    continue  # no title or payload: Meta shows the person's own
                if kind != "text":
                    raise _invalid("quick reply content_type must be text, user_phone_number or user_email")
                if not isinstance(item.get("title"), str) or not 0 < len(item["title"]) <= MAX_TITLE:
                    raise _invalid(f"quick reply title must be 1 to {MAX_TITLE} characters")
                payload = item.get("payload")
                if not isinstance(payload, str) or not 0 < len(payload) <= MAX_PAYLOAD:
                    raise _invalid(f"quick reply payload must be 1 to {MAX_PAYLOAD} characters")

    def _check_recipient(self, psid: str, messaging_type: str | None, tag: str | None) -> FakeUser:
        user = self.users.get(psid)
        if user is None:
            raise GraphError(100, "(#100) No matching user found", 2018001)
        if user.blocked:
            raise GraphError(551, "This person isn't available right now.", 1545041)
        if messaging_type == "MESSAGE_TAG":
            if tag not in TAGS:
                raise _invalid("param tag must be one of " + ", ".join(sorted(TAGS)))
        elif time.time() - user.last_inbound > WINDOW_SECONDS:
            raise GraphError(10, "(#10) This message is sent outside of allowed window.", 2018278)
        return user

    # -- endpoints ----------------------------------------------------------------------------

    async def _read(self, request: web.Request) -> tuple[dict[str, Any], bytes | None]:
        if request.content_type.startswith("multipart/"):
            form = await request.post()
            fields: dict[str, Any] = {}
            image = None
            for key, value in form.items():
                if key == "filedata":
                    image = value.file.read()  # type: ignore[union-attr]
                else:
                    try:
                        fields[key] = json.loads(str(value))
                    except ValueError:
                        fields[key] = str(value)
            return fields, image
        try:
            body = await request.json()
        except ValueError:
            raise _invalid("request body is not JSON") from None
        if not isinstance(body, dict):
            raise _invalid("request body must be an object")
        return body, None

    async def _messages(self, request: web.Request) -> web.Response:
        self.calls.append(request.path)
        try:
            self._check_token(request)
            self._check_rate()
            if self.fail_next:
                raise self.fail_next.pop(0)
            body, image = await self._read(request)
            recipient = body.get("recipient")
            psid = str(recipient.get("id", "")) if isinstance(recipient, dict) else ""
            if not psid:
                raise _invalid("param recipient must be non-empty")
            action = body.get("sender_action")
            if action is not None:
                if action not in SENDER_ACTIONS or "message" in body:
                    raise _invalid("sender_action must be typing_on, typing_off or mark_seen, alone")
                self._check_recipient(psid, "RESPONSE", None)
                self.actions.append((psid, action))
                return web.json_response({"recipient_id": psid})
            messaging_type, tag = body.get("messaging_type"), body.get("tag")
            if messaging_type not in ("RESPONSE", "UPDATE", "MESSAGE_TAG"):
                raise _invalid("param messaging_type must be RESPONSE, UPDATE or MESSAGE_TAG")
            self._check_message(body.get("message"), image)
            self._check_recipient(psid, messaging_type, tag)
        except GraphError as error:
            self.refused.append((error.code, error.subcode))
            return error.response()
        message_id = f"m_{secrets.token_urlsafe(24)}{next(self._ids)}"
        self.sent.append(Sent(psid, messaging_type, tag, body["message"], message_id, image))
        return web.json_response({"recipient_id": psid, "message_id": message_id})

    async def _set_profile(self, request: web.Request) -> web.Response:
        self.calls.append(request.path)
        try:
            self._check_token(request)
            body, _ = await self._read(request)
            started = body.get("get_started")
            if started is not None and not (isinstance(started, dict) and 0 < len(str(started.get("payload", ""))) <= MAX_PAYLOAD):
                raise _invalid("get_started.payload must be 1 to 1000 characters")
            for greeting in body.get("greeting") or []:
                if not 0 < len(greeting.get("text", "")) <= MAX_GREETING or "locale" not in greeting:
                    raise _invalid(f"greeting text must be 1 to {MAX_GREETING} characters with a locale")
            for menu in body.get("persistent_menu") or []:
                if body.get("get_started") is None and "get_started" not in self.profile:
                    raise _invalid("persistent menu requires a get started button")
                items = menu.get("call_to_actions") or []
                if not 1 <= len(items) <= MAX_MENU_ITEMS:
                    raise _invalid(f"persistent menu must have 1 to {MAX_MENU_ITEMS} items")
                for item in items:
                    if "call_to_actions" in item:
                        raise _invalid("nested persistent menus are no longer supported")
                    if not 0 < len(item.get("title", "")) <= MAX_MENU_TITLE:
                        raise _invalid(f"menu item title must be 1 to {MAX_MENU_TITLE} characters")
                    if item.get("type") not in ("postback", "web_url"):
                        raise _invalid("menu item type must be postback or web_url")
        except GraphError as error:
            self.refused.append((error.code, error.subcode))
            return error.response()
        self.profile.update(body)
        return web.json_response({"result": "success"})

    async def _get_profile(self, request: web.Request) -> web.Response:
        try:
            self._check_token(request)
        except GraphError as error:
            return error.response()
        fields = [f for f in request.query.get("fields", "").split(",") if f]
        return web.json_response({"data": [{k: self.profile[k] for k in fields if k in self.profile}]})

    async def _file(self, request: web.Request) -> web.Response:
        if self.file_delay:
            await asyncio.sleep(self.file_delay)
        data = self.files.get(request.match_info["name"])
        if data is None:
            raise web.HTTPNotFound()
        return web.Response(body=data, content_type="image/png")


class WebhookSender:
    """Posts webhook events to the bot as Meta does: batched in ``entry[].messaging[]`` and
    signed with the app secret; each inbound message also opens the fake's 24-hour window."""

    def __init__(self, client: TestClient, *, page_id: str, app_secret: str, path: str,
                 fake: FakeGraph) -> None:
        self.client = client
        self.page_id = page_id
        self.app_secret = app_secret
        self.path = path
        self.fake = fake
        self._mids = itertools.count(1)

    def mid(self) -> str:
        return f"m_{secrets.token_urlsafe(30)}-{next(self._mids)}"

    def event(self, psid: str, **content: Any) -> dict[str, Any]:
        return {"sender": {"id": psid}, "recipient": {"id": self.page_id},
                "timestamp": int(time.time() * 1000), **content}

    def body(self, *events: dict[str, Any]) -> bytes:
        return json.dumps({"object": "page", "entry": [
            {"id": self.page_id, "time": int(time.time() * 1000), "messaging": list(events)}]},
            ensure_ascii=False).encode()

    def sign(self, raw: bytes) -> str:
        return "sha256=" + hmac.new(self.app_secret.encode(), raw, hashlib.sha256).hexdigest()

    async def post(self, raw: bytes, signature: str | None = "sign") -> Any:
        headers = {"Content-Type": "application/json"}
        if signature == "sign":
            signature = self.sign(raw)
        if signature is not None:
            headers["X-Hub-Signature-256"] = signature
        return await self.client.post(self.path, data=raw, headers=headers)

    async def deliver(self, *events: dict[str, Any]) -> Any:
        for event in events:
            if "message" in event or "postback" in event or "referral" in event:
                if not (event.get("message") or {}).get("is_echo"):
                    self.fake.wrote(event["sender"]["id"])
        return await self.post(self.body(*events))

    async def text(self, psid: str, text: str, mid: str | None = None) -> Any:
        return await self.deliver(self.event(psid, message={"mid": mid or self.mid(), "text": text}))

    async def quick_reply(self, psid: str, quick: dict[str, Any]) -> Any:
        return await self.deliver(self.event(psid, message={
            "mid": self.mid(), "text": quick["title"], "quick_reply": {"payload": quick["payload"]}}))

    async def share_phone(self, psid: str, phone: str) -> Any:
        """The person taps the phone quick reply of the page's last message: Meta sends the
        number of their account (``phone`` as Meta writes it, e.g. "+84912345678") as text and
        as the quick reply's payload."""
        last = self.fake.messages_to(psid)[-1]
        assert PHONE_QUICK_REPLY in last.quick_replies, f"no phone quick reply on {last.message}"
        return await self.deliver(self.event(psid, message={
            "mid": self.mid(), "text": phone, "quick_reply": {"payload": phone}}))

    async def postback(self, psid: str, button: dict[str, Any], referral: dict | None = None) -> Any:
        postback: dict[str, Any] = {"mid": self.mid(), "title": button["title"], "payload": button["payload"]}
        if referral is not None:
            postback["referral"] = referral
        return await self.deliver(self.event(psid, postback=postback))

    async def image(self, psid: str, url: str) -> Any:
        return await self.deliver(self.event(psid, message={
            "mid": self.mid(), "attachments": [{"type": "image", "payload": {"url": url}}]}))

    async def referral(self, psid: str, ref: str) -> Any:
        return await self.deliver(self.event(psid, referral={
            "ref": ref, "source": "SHORTLINK", "type": "OPEN_THREAD"}))
