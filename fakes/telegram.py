"""A fake Telegram Bot API server, faithful enough that the real python-telegram-bot talks to it.

It runs on 127.0.0.1 (a random port) and serves ``/bot<token>/<method>`` like api.telegram.org,
with Telegram's payload shapes: ``{"ok": true, "result": ...}`` and ``{"ok": false,
"error_code": N, "description": "...", "parameters": {"retry_after": N}}``. Requests may be
query strings, form-encoded, multipart or JSON, as on the real server.

What it implements, for the methods the bot uses (getMe, getUpdates, sendMessage, sendPhoto,
editMessageText, answerCallbackQuery, setMyCommands, getMyCommands, setWebhook, deleteWebhook,
getWebhookInfo, getFile and the file download at ``/file/bot<token>/<file_path>``):

- updates the test injects (a citizen's message, a button press, a block), served by
  ``getUpdates`` with long polling and offset confirmation, or POSTed to the webhook with the
  ``X-Telegram-Bot-Api-Secret-Token`` header once a webhook is set (``getUpdates`` then answers
  409, as Telegram does);
- Telegram's checks: HTML parse mode parsed strictly (unknown or unbalanced tags, bare ``<``,
  ``>`` or ``&`` are refused with "can't parse entities"), text at most 4096 UTF-16 units after
  parsing, callback_data 1–64 bytes (``BUTTON_DATA_INVALID``), URL buttons http(s)/tg only,
  command names and descriptions, callback queries answered once;
- the four kinds of ``reply_markup`` (InlineKeyboardMarkup, ReplyKeyboardMarkup with
  KeyboardButton's at most one ``request_*`` field, ReplyKeyboardRemove, ForceReply), checked
  field by field; a reply keyboard only on a new message (an edit takes inline keyboards only), a
  contact request only in a private chat; the reply keyboard each chat shows
  (``reply_keyboards``), until a ReplyKeyboardRemove takes it away;
- a citizen sharing their own contact through the keyboard's button (``share_contact``: only
  while the chat shows one) or sending someone's contact from the address book (``contact``);
- Telegram's refusals: 429 with ``retry_after`` beyond ``rate_limit`` messages per second
  overall, 403 "bot was blocked by the user" for chats the test blocks, 400 "chat not found"
  for chats it never heard of, and, on demand, 502 Bad Gateway (a flaky network).

Tests use ``FakeBotApi`` directly; ``python -m fakes.telegram`` runs it alone.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import html
import itertools
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web

SEND_METHODS = {"sendmessage", "sendphoto"}
# KeyboardButton's optional fields, at most one per button, each available in private chats only
REQUEST_FIELDS = ("request_users", "request_chat", "request_contact", "request_location", "request_poll",
                  "web_app")
MAX_TEXT = 4096
_COMMAND = re.compile(r"[a-z0-9_]{1,32}")
_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")
_TAG = re.compile(
    r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[a-zA-Z-]+\s*=\s*(?:\"[^\"]*\"|'[^']*'))*)\s*>"
)
_ATTR = re.compile(r"([a-zA-Z-]+)\s*=\s*(?:\"([^\"]*)\"|'([^']*)')")
_ENTITY = re.compile(r"&(lt|gt|amp|quot|#[0-9]{1,7}|#x[0-9a-fA-F]{1,6});")
_TAG_ENTITY = {
    "b": "bold", "strong": "bold", "i": "italic", "em": "italic", "u": "underline",
    "ins": "underline", "s": "strikethrough", "strike": "strikethrough", "del": "strikethrough",
    "a": "text_link", "code": "code", "pre": "pre", "tg-spoiler": "spoiler", "span": "spoiler",
    "blockquote": "blockquote", "tg-emoji": "custom_emoji",
}
JSON_FIELDS = {"reply_markup", "allowed_updates", "commands", "scope", "link_preview_options",
               "entities", "reply_parameters"}


class ApiError(Exception):
    def __init__(self, code: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.code, self.description, self.retry_after = code, description, retry_after


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def parse_html(source: str) -> tuple[str, list[dict]]:
    """Telegram's HTML parse mode, strictly: the plain text and its entities, or ApiError."""
    def refuse(message: str) -> ApiError:
        return ApiError(400, f"Bad Request: can't parse entities: {message}")

    text: list[str] = []
    length = 0
    stack: list[tuple[str, int, dict[str, str]]] = []
    entities: list[dict] = []
    i = 0
    while i < len(source):
        char = source[i]
        if char == "<":
            match = _TAG.match(source, i)
            offset = len(source[:i].encode())
            if match is None:
                raise refuse(f"Unsupported start tag at byte offset {offset}")
            closing, name = match.group(1) == "/", match.group(2).lower()
            if name not in _TAG_ENTITY:
                raise refuse(f'Unsupported start tag "{name}" at byte offset {offset}')
            if closing:
                if not stack or stack[-1][0] != name:
                    expected = f'"</{stack[-1][0]}>"' if stack else "no end tag"
                    raise refuse(f'Unmatched end tag at byte offset {offset}, expected {expected}, found "</{name}>"')
                tag, start, attrs = stack.pop()
                if length > start:
                    entity = {"type": _TAG_ENTITY[tag], "offset": start, "length": length - start}
                    if tag == "a":
                        entity["url"] = attrs["href"]
                    entities.append(entity)
            else:
                attrs = {m.group(1).lower(): html.unescape(m.group(2) if m.group(2) is not None else m.group(3))
                         for m in _ATTR.finditer(match.group(3))}
                if name == "a" and not attrs.get("href"):
                    raise refuse(f"Can't find href attribute of a tag at byte offset {offset}")
                if name == "span" and attrs.get("class") != "tg-spoiler":
                    raise refuse(f'Tag "span" must have class "tg-spoiler" at byte offset {offset}')
                stack.append((name, length, attrs))
            i = match.end()
            continue
        if char == "&":
            match = _ENTITY.match(source, i)
            if match is None:
                raise refuse(f"Character '&' is reserved and must be escaped, at byte offset {len(source[:i].encode())}")
            piece = html.unescape(match.group(0))
            i = match.end()
        elif char == ">":
            raise refuse(f"Character '>' is reserved and must be escaped, at byte offset {len(source[:i].encode())}")
        else:
            piece = char
            i += 1
        text.append(piece)
        length += utf16_len(piece)
    if stack:
        raise refuse(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(text), entities


@dataclass
class Sent:
    """One message the bot sent (or edited), as Telegram stored it."""

    kind: str  # "message" | "edit" | "photo"
    chat_id: int
    message_id: int
    text: str  # the plain text after parsing
    html: str | None  # the text as sent, when parse_mode was HTML
    entities: list[dict]
    keyboard: list[list[dict]]
    raw: dict  # the Message object returned to the bot
    reply_markup: dict | None = None  # a reply keyboard, its removal or a force reply, as sent

    @property
    def buttons(self) -> list[dict]:
        return [b for row in self.keyboard for b in row]

    @property
    def callbacks(self) -> list[str]:
        return [b["callback_data"] for b in self.buttons if "callback_data" in b]

    def styled(self, kind: str | None = None) -> list[str]:
        """The text under each entity (of ``kind``); offsets count UTF-16 units, as Telegram's do."""
        units = self.text.encode("utf-16-le")
        return [units[2 * e["offset"]:2 * (e["offset"] + e["length"])].decode("utf-16-le")
                for e in self.entities if kind is None or e["type"] == kind]

    def button(self, contains: str) -> dict:
        found = [b for b in self.buttons if contains in b["text"]]
        assert found, f"no button containing {contains!r} in {[b['text'] for b in self.buttons]}"
        return found[0]


@dataclass
class Refusal:
    method: str
    code: int
    description: str
    chat_id: Any = None


@dataclass
class _Webhook:
    url: str
    secret: str | None
    allowed_updates: list[str] | None
    task: asyncio.Task | None = None
    last_error: str | None = None


@dataclass
class FakeBotApi:
    token: str = "123456789:AAE-fake-token-for-tests"
    rate_limit: int | None = None  # messages per second overall; None: no limit
    retry_after: int = 1
    username: str = "cchc_test_bot"
    bot_id: int = 7000000001
    host: str = "127.0.0.1"
    port: int = 0

    def __post_init__(self) -> None:
        self.bot_user = {
            "id": self.bot_id, "is_bot": True, "first_name": "CCHC Bot", "username": self.username,
            "can_join_groups": True, "can_read_all_group_messages": False,
            "supports_inline_queries": False, "can_connect_to_business": False,
            "has_main_web_app": False,
        }
        self.chats: dict[int, dict] = {}
        self.users: dict[int, dict] = {}
        self.blocked: set[int] = set()
        self.pending: list[dict] = []  # updates not yet confirmed (polling) or delivered (webhook)
        self.history: dict[int, dict] = {}  # every update ever injected, by id
        self._forced: set[int] = set()  # redelivered updates, served whatever the offset
        self._update_ids = itertools.count(500_000_001)
        self._message_ids: dict[int, itertools.count] = {}
        self._query_ids = itertools.count(9_000_001)
        self.messages: dict[tuple[int, int], dict] = {}  # (chat, message id) -> current Message
        self.sent: list[Sent] = []
        self.refused: list[Refusal] = []
        self.calls: list[tuple[str, dict]] = []
        self.commands: dict[str, list[dict]] = {}
        self.queries: dict[str, dict] = {}  # callback query id -> {"answered": params | None}
        self.webhook: _Webhook | None = None
        self.webhook_posts: list[tuple[int, int]] = []  # (update_id, HTTP status)
        self._send_times: collections.deque[float] = collections.deque()
        self._failures: dict[str, tuple[int, int, str]] = {}
        self.files: dict[str, tuple[str, bytes]] = {}  # file_id -> (file_path, content)
        self.phones: dict[int, str] = {}  # user id -> the number of their Telegram account
        self.reply_keyboards: dict[int, dict] = {}  # chat id -> the ReplyKeyboardMarkup it shows
        self.downloads: list[str] = []  # file paths the bot downloaded
        self._changed = asyncio.Condition()
        self._poll_generation = 0
        self._runner: web.AppRunner | None = None
        self._client: aiohttp.ClientSession | None = None

    # --- server --------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://{self.host}:{self.port}/file/bot"

    async def start(self) -> FakeBotApi:
        app = web.Application(client_max_size=50 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._dispatch)
        app.router.add_get("/file/bot{token}/{path:.+}", self._download)
        self._runner = web.AppRunner(app, handler_cancellation=True, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = self._runner.addresses[0][1]
        self._client = aiohttp.ClientSession()
        return self

    async def stop(self) -> None:
        if self.webhook is not None and self.webhook.task is not None:
            self.webhook.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.webhook.task
        if self._client is not None:
            await self._client.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 5.0, what: str = "") -> Any:
        """Wait until ``predicate()`` is truthy (checked on every change), or fail the test."""
        async def until() -> Any:
            async with self._changed:
                while not (result := predicate()):
                    await self._changed.wait()
                return result
        try:
            return await asyncio.wait_for(until(), timeout)
        except TimeoutError:
            raise AssertionError(
                f"timed out after {timeout}s waiting for {what or 'a condition'}; sent: "
                + "; ".join(f"{s.chat_id}: {s.text[:60]!r}" for s in self.sent[-10:])
            ) from None

    # --- the test's side: citizens, chats, updates -----------------------------------------

    def add_user(self, user_id: int, first_name: str = "Công dân", language_code: str = "vi",
                 phone: str | None = None) -> dict:
        """A citizen; ``phone`` is their account's number, as Telegram shares it (e.g. "84912345678")."""
        user = {"id": user_id, "is_bot": False, "first_name": first_name, "language_code": language_code}
        self.users[user_id] = user
        if phone is not None:
            self.phones[user_id] = phone
        self.chats[user_id] = {"id": user_id, "type": "private", "first_name": first_name}
        return user

    def add_group(self, chat_id: int, title: str = "Nhóm cán bộ") -> dict:
        self.chats[chat_id] = {"id": chat_id, "type": "supergroup", "title": title}
        return self.chats[chat_id]

    def block(self, user_id: int, notify: bool = False) -> dict | None:
        """The user blocks the bot; with ``notify`` Telegram also sends the my_chat_member update."""
        self.blocked.add(user_id)
        if not notify:
            return None
        return self.inject({"my_chat_member": {
            "chat": self.chats[user_id], "from": self.users[user_id], "date": int(time.time()),
            "old_chat_member": {"user": self.bot_user, "status": "member"},
            "new_chat_member": {"user": self.bot_user, "status": "kicked", "until_date": 0},
        }})

    def _next_message_id(self, chat_id: int) -> int:
        return next(self._message_ids.setdefault(chat_id, itertools.count(1)))

    def inject(self, update: dict) -> dict:
        """Queue an update (``update_id`` is assigned); returns it."""
        update = {"update_id": next(self._update_ids), **update}
        self.history[update["update_id"]] = update
        self.pending.append(update)
        self._wake()
        return update

    def redeliver(self, update: dict) -> None:
        """Telegram delivers an update again (at-least-once delivery: a lost confirmation, a
        webhook answer that did not arrive): same update_id, same content."""
        self._forced.add(update["update_id"])
        self.pending.append(update)
        self._wake()

    def _wake(self) -> None:
        asyncio.get_running_loop().create_task(self._notify())

    def text(self, user: dict, text: str, chat: dict | None = None, reply_to: Sent | None = None) -> dict:
        """A citizen sends a text message (a private chat unless ``chat`` is given)."""
        chat = chat or self.chats[user["id"]]
        message: dict[str, Any] = {
            "message_id": self._next_message_id(chat["id"]), "from": user, "chat": chat,
            "date": int(time.time()), "text": text,
        }
        if text.startswith("/"):
            command = text.split(maxsplit=1)[0]
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": utf16_len(command)}]
        if reply_to is not None:
            message["reply_to_message"] = self.messages[(reply_to.chat_id, reply_to.message_id)]
        self.messages[(chat["id"], message["message_id"])] = message
        return self.inject({"message": message})

    def photo(self, user: dict, data: bytes, caption: str | None = None, as_document: bool = False) -> dict:
        """A citizen sends a picture: as a photo (Telegram keeps a few sizes) or as a file."""
        chat = self.chats[user["id"]]
        number = len(self.files) + 1
        message: dict[str, Any] = {"message_id": self._next_message_id(chat["id"]), "from": user,
                                   "chat": chat, "date": int(time.time())}
        if as_document:
            file_id = f"doc-{number}"
            self.files[file_id] = (f"documents/file_{number}.png", data)
            message["document"] = {"file_id": file_id, "file_unique_id": f"ud{number}", "file_name": "anh.png",
                                   "mime_type": "image/png", "file_size": len(data)}
        else:
            thumb, full = f"thumb-{number}", f"photo-{number}"
            self.files[thumb] = (f"photos/thumb_{number}.jpg", data[:100])
            self.files[full] = (f"photos/file_{number}.jpg", data)
            message["photo"] = [
                {"file_id": thumb, "file_unique_id": f"ut{number}", "width": 90, "height": 90, "file_size": 100},
                {"file_id": full, "file_unique_id": f"uf{number}", "width": 1280, "height": 1280,
                 "file_size": len(data)},
            ]
        if caption is not None:
            message["caption"] = caption
        self.messages[(chat["id"], message["message_id"])] = message
        return self.inject({"message": message})

    def contact(self, user: dict, phone_number: str, first_name: str, user_id: int | None = None,
                last_name: str | None = None) -> dict:
        """A citizen sends a contact card (from the address book: anyone's number, with that
        person's Telegram id when they have one)."""
        chat = self.chats[user["id"]]
        card: dict[str, Any] = {"phone_number": phone_number, "first_name": first_name}
        if last_name is not None:
            card["last_name"] = last_name
        if user_id is not None:
            card["user_id"] = user_id
        message = {"message_id": self._next_message_id(chat["id"]), "from": user, "chat": chat,
                   "date": int(time.time()), "contact": card}
        self.messages[(chat["id"], message["message_id"])] = message
        return self.inject({"message": message})

    def share_contact(self, user: dict) -> dict:
        """The citizen presses the keyboard's "share contact" button: Telegram sends their own
        account's number and id; a one-time keyboard folds away (it stays until removed)."""
        keyboard = self.reply_keyboards.get(user["id"], {}).get("keyboard", [])
        assert any(b.get("request_contact") for row in keyboard for b in row), (
            f"chat {user['id']} shows no contact button: {keyboard}")
        assert user["id"] in self.phones, "add_user(..., phone=...) first: the account's number"
        return self.contact(user, self.phones[user["id"]], user["first_name"], user_id=user["id"])

    def press(self, user: dict, sent: Sent, data: str) -> dict:
        """A citizen presses an inline button of a message the bot sent."""
        current = self.messages[(sent.chat_id, sent.message_id)]
        keyboard = current.get("reply_markup", {}).get("inline_keyboard", [])
        datas = [b.get("callback_data") for row in keyboard for b in row]
        assert data in datas, f"{data!r} is not a button of that message: {datas}"
        query_id = str(next(self._query_ids))
        self.queries[query_id] = {"answered": None}
        return self.inject({"callback_query": {
            "id": query_id, "from": user, "message": current,
            "chat_instance": str(-sent.chat_id), "data": data,
        }})

    def to(self, chat_id: int) -> list[Sent]:
        return [s for s in self.sent if s.chat_id == chat_id]

    async def replies(self, chat_id: int, count: int, after: int = 0, timeout: float = 5.0) -> list[Sent]:
        """Wait until the chat has ``count`` messages beyond the first ``after``; return those."""
        await self.wait_for(lambda: len(self.to(chat_id)) >= after + count, timeout,
                            f"{count} message(s) to chat {chat_id} after {after}")
        return self.to(chat_id)[after:after + count]

    def fail_next(self, method: str, times: int = 1, code: int = 502, description: str = "") -> None:
        """The next ``times`` calls of ``method`` fail: by default 502 Bad Gateway, as from a proxy
        in trouble; with ``code`` and ``description``, Telegram's own error of that kind."""
        self._failures[method.lower()] = (times, code, description)

    # --- HTTP ------------------------------------------------------------------------------

    async def _params(self, request: web.Request) -> dict[str, Any]:
        params: dict[str, Any] = dict(request.query)
        if request.method == "POST" and request.can_read_body:
            if request.content_type == "application/json":
                body = await request.json()
                if isinstance(body, dict):
                    params.update(body)
            else:
                form = await request.post()
                for key, value in form.items():
                    params[key] = value.file.read() if isinstance(value, web.FileField) else value
        for key in JSON_FIELDS & params.keys():
            if isinstance(params[key], str):
                try:
                    params[key] = json.loads(params[key])
                except ValueError:
                    raise ApiError(400, f"Bad Request: can't parse {key} JSON object") from None
        return params

    async def _dispatch(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.json_response({"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401)
        method = request.match_info["method"].lower()
        times, code, description = self._failures.get(method, (0, 0, ""))
        if times:
            self._failures[method] = (times - 1, code, description)
            if code == 502:
                return web.Response(status=502, text="<html><body>502 Bad Gateway</body></html>",
                                    content_type="text/html")
            self.refused.append(Refusal(method, code, description))
            return web.json_response({"ok": False, "error_code": code, "description": description}, status=code)
        handler = getattr(self, f"_m_{method}", None)
        if handler is None:
            return web.json_response({"ok": False, "error_code": 404, "description": "Not Found"}, status=404)
        params: dict[str, Any] = {}
        try:
            params = await self._params(request)
            self.calls.append((method, params))
            result = await handler(params)
        except ApiError as exc:
            self.refused.append(Refusal(method, exc.code, exc.description, params.get("chat_id")))
            body: dict[str, Any] = {"ok": False, "error_code": exc.code, "description": exc.description}
            if exc.retry_after is not None:
                body["parameters"] = {"retry_after": exc.retry_after}
            await self._notify()
            return web.json_response(body, status=exc.code)
        await self._notify()
        return web.json_response({"ok": True, "result": result})

    async def _download(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.Response(status=404)
        path = request.match_info["path"]
        found = next((content for file_path, content in self.files.values() if file_path == path), None)
        if found is None:
            return web.Response(status=404)
        self.downloads.append(path)
        return web.Response(body=found, content_type="application/octet-stream")

    # --- helpers for the methods ------------------------------------------------------------

    def _chat(self, params: dict) -> dict:
        raw = params.get("chat_id")
        if raw is None or raw == "":
            raise ApiError(400, "Bad Request: chat_id is empty")
        try:
            chat_id = int(raw)
        except (TypeError, ValueError):
            raise ApiError(400, "Bad Request: chat not found") from None
        chat = self.chats.get(chat_id)
        if chat is None:
            raise ApiError(400, "Bad Request: chat not found")
        return chat

    def _check_blocked_and_flood(self, chat: dict) -> None:
        if chat["id"] in self.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        if self.rate_limit is not None:
            now = time.monotonic()
            while self._send_times and now - self._send_times[0] >= 1.0:
                self._send_times.popleft()
            if len(self._send_times) >= self.rate_limit:
                raise ApiError(429, f"Too Many Requests: retry after {self.retry_after}", self.retry_after)
            self._send_times.append(now)

    @staticmethod
    def _text(params: dict, key: str = "text") -> tuple[str, str | None, list[dict]]:
        raw = params.get(key)
        if not isinstance(raw, str):
            raise ApiError(400, "Bad Request: message text is empty")
        mode = params.get("parse_mode")
        if mode is None or mode == "":
            plain, entities, source = raw, [], None
        elif str(mode).lower() == "html":
            plain, entities = parse_html(raw)
            source = raw
        else:
            raise ApiError(400, f"Bad Request: unsupported parse_mode {mode}")
        if not plain.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        if utf16_len(plain) > MAX_TEXT:
            raise ApiError(400, "Bad Request: message is too long")
        return plain, source, entities

    @staticmethod
    def _reply_markup(markup: dict, chat: dict) -> dict:
        """ReplyKeyboardMarkup, ReplyKeyboardRemove or ForceReply, checked as the Bot API does."""
        if "remove_keyboard" in markup:
            if markup["remove_keyboard"] is not True:
                raise ApiError(400, "Bad Request: field \"remove_keyboard\" must be true")
            return markup
        if "force_reply" in markup:
            if markup["force_reply"] is not True:
                raise ApiError(400, "Bad Request: field \"force_reply\" must be true")
            return markup
        rows = markup.get("keyboard")
        if not isinstance(rows, list) or not rows or not all(isinstance(r, list) for r in rows):
            raise ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
        for flag in ("is_persistent", "resize_keyboard", "one_time_keyboard", "selective"):
            if flag in markup and not isinstance(markup[flag], bool):
                raise ApiError(400, f"Bad Request: field \"{flag}\" must be of type Boolean")
        placeholder = markup.get("input_field_placeholder")
        if placeholder is not None and not (isinstance(placeholder, str) and 1 <= len(placeholder) <= 64):
            raise ApiError(400, "Bad Request: input field placeholder must be 1-64 characters long")
        for row in rows:
            for button in row:
                button = {"text": button} if isinstance(button, str) else button
                if not isinstance(button, dict) or not isinstance(button.get("text"), str) or not button["text"]:
                    raise ApiError(400, "Bad Request: can't parse keyboard button: text must be non-empty")
                requests = [k for k in REQUEST_FIELDS if button.get(k) not in (None, False)]
                if len(requests) > 1:
                    raise ApiError(400, "Bad Request: can't parse keyboard button: at most one of the "
                                        "optional fields must be used")
                if requests and requests[0] in ("request_contact", "request_location") \
                        and button[requests[0]] is not True:
                    raise ApiError(400, f"Bad Request: field \"{requests[0]}\" must be of type Boolean")
                if requests and chat["type"] != "private":
                    raise ApiError(400, "Bad Request: keyboard button requests are available in private chats only")
        return markup

    @classmethod
    def _keyboard(cls, params: dict, chat: dict, inline_only: bool = False) -> tuple[list[list[dict]], dict | None]:
        """The inline keyboard's rows, or the other kind of markup (a reply keyboard...)."""
        markup = params.get("reply_markup")
        if markup is None:
            return [], None
        if not isinstance(markup, dict):
            raise ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
        rows = markup.get("inline_keyboard")
        if rows is None and not inline_only and markup.keys() & {"keyboard", "remove_keyboard", "force_reply"}:
            return [], cls._reply_markup(markup, chat)
        if not isinstance(rows, list):
            raise ApiError(400, "Bad Request: inline keyboard expected" if inline_only
                           else "Bad Request: unsupported reply_markup")
        for row in rows:
            for button in row:
                if not button.get("text"):
                    raise ApiError(400, "Bad Request: text buttons are unallowed in the inline keyboard")
                if "callback_data" in button:
                    size = len(str(button["callback_data"]).encode())
                    if not 1 <= size <= 64:
                        raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
                elif "url" in button:
                    if not re.match(r"(https?|tg)://\S+$", str(button["url"]), re.IGNORECASE):
                        raise ApiError(400, "Bad Request: BUTTON_URL_INVALID")
                else:
                    raise ApiError(400, "Bad Request: BUTTON_TYPE_INVALID")
        return rows, None

    def _record(self, kind: str, chat: dict, message: dict, source: str | None,
                reply_markup: dict | None = None) -> None:
        self.messages[(chat["id"], message["message_id"])] = message
        if reply_markup is not None and "keyboard" in reply_markup:
            self.reply_keyboards[chat["id"]] = reply_markup
        elif reply_markup is not None and reply_markup.get("remove_keyboard"):
            self.reply_keyboards.pop(chat["id"], None)
        self.sent.append(Sent(
            kind=kind, chat_id=chat["id"], message_id=message["message_id"], text=message.get("text", ""),
            html=source, entities=message.get("entities", []),
            keyboard=message.get("reply_markup", {}).get("inline_keyboard", []), raw=message,
            reply_markup=reply_markup,
        ))

    # --- the methods ------------------------------------------------------------------------

    async def _m_getme(self, params: dict) -> dict:
        return self.bot_user

    async def _m_getfile(self, params: dict) -> dict:
        file_id = str(params.get("file_id", ""))
        if file_id not in self.files:
            raise ApiError(400, "Bad Request: invalid file_id")
        path, content = self.files[file_id]
        if len(content) > 20 * 1024 * 1024:
            raise ApiError(400, "Bad Request: file is too big")
        return {"file_id": file_id, "file_unique_id": f"u-{file_id}", "file_size": len(content), "file_path": path}

    async def _m_getupdates(self, params: dict) -> list[dict]:
        if self.webhook is not None:
            raise ApiError(409, "Conflict: can't use getUpdates method while webhook is active; "
                                "use deleteWebhook to delete the webhook first")
        offset = int(params.get("offset") or 0)
        limit = int(params.get("limit") or 100)
        timeout = float(params.get("timeout") or 0)
        allowed = params.get("allowed_updates")
        self._poll_generation += 1
        generation = self._poll_generation
        async with self._changed:  # an older long poll still waiting ends with 409
            self._changed.notify_all()

        def available() -> list[dict]:
            if offset > 0:  # confirms every update below the offset
                self.pending = [u for u in self.pending
                                if u["update_id"] >= offset or u["update_id"] in self._forced]
            ready = [u for u in self.pending if not allowed or any(k in u for k in allowed)]
            return ready[:limit]

        deadline = time.monotonic() + timeout
        async with self._changed:
            while not (ready := available()):
                if generation != self._poll_generation:
                    raise ApiError(409, "Conflict: terminated by other getUpdates request; make sure "
                                        "that only one bot instance is running")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return []
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), remaining)
        for update in ready:
            if update["update_id"] in self._forced:  # served again once, then confirmed as usual
                self._forced.discard(update["update_id"])
                self.pending.remove(update)
        return ready

    async def _m_sendmessage(self, params: dict) -> dict:
        chat = self._chat(params)
        plain, source, entities = self._text(params)
        keyboard, other = self._keyboard(params, chat)
        self._check_blocked_and_flood(chat)
        message: dict[str, Any] = {
            "message_id": self._next_message_id(chat["id"]), "from": self.bot_user, "chat": chat,
            "date": int(time.time()), "text": plain,
        }
        if entities:
            message["entities"] = entities
        if keyboard:
            message["reply_markup"] = {"inline_keyboard": keyboard}
        if params.get("link_preview_options"):
            message["link_preview_options"] = params["link_preview_options"]
        self._record("message", chat, message, source, other)  # the Message shows inline keyboards only
        return message

    async def _m_sendphoto(self, params: dict) -> dict:
        chat = self._chat(params)
        photo = params.get("photo")
        if not photo:
            raise ApiError(400, "Bad Request: there is no photo in the request")
        self._check_blocked_and_flood(chat)
        size = len(photo) if isinstance(photo, bytes) else 0
        message = {
            "message_id": self._next_message_id(chat["id"]), "from": self.bot_user, "chat": chat,
            "date": int(time.time()),
            "photo": [{"file_id": f"photo-{len(self.sent)}", "file_unique_id": f"u{len(self.sent)}",
                       "width": 512, "height": 512, "file_size": size}],
        }
        self._record("photo", chat, message, None)
        return message

    async def _m_editmessagetext(self, params: dict) -> dict:
        chat = self._chat(params)
        try:
            key = (chat["id"], int(params.get("message_id", 0)))
        except ValueError:
            raise ApiError(400, "Bad Request: message to edit not found") from None
        current = self.messages.get(key)
        if current is None or current.get("from", {}).get("id") != self.bot_id:
            raise ApiError(400, "Bad Request: message to edit not found")
        if chat["id"] in self.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        plain, source, entities = self._text(params)
        keyboard, _ = self._keyboard(params, chat, inline_only=True)
        markup = {"inline_keyboard": keyboard} if keyboard else None
        if (plain == current.get("text") and entities == current.get("entities", [])
                and markup == current.get("reply_markup")):
            raise ApiError(400, "Bad Request: message is not modified: specified new message content "
                                "and reply markup are exactly the same as a current content and reply "
                                "markup of the message")
        edited = {**current, "text": plain, "edit_date": int(time.time())}
        edited.pop("entities", None)
        edited.pop("reply_markup", None)
        if entities:
            edited["entities"] = entities
        if markup:
            edited["reply_markup"] = markup
        self._record("edit", chat, edited, source)
        return edited

    async def _m_answercallbackquery(self, params: dict) -> bool:
        query = self.queries.get(str(params.get("callback_query_id")))
        if query is None or query["answered"] is not None:
            raise ApiError(400, "Bad Request: query is too old and response timeout expired or query ID is invalid")
        query["answered"] = params
        return True

    def _scope_key(self, params: dict) -> str:
        scope = params.get("scope") or {"type": "default"}
        if scope.get("type") == "default":
            return "default"
        if scope.get("type") == "chat":
            return f"chat:{self._chat(scope)['id']}"
        return str(scope.get("type"))

    async def _m_setmycommands(self, params: dict) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise ApiError(400, "Bad Request: commands must be a list of at most 100 BotCommand")
        for command in commands:
            if not _COMMAND.fullmatch(str(command.get("command", ""))):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", ""))) <= 256:
                raise ApiError(400, "Bad Request: command description is empty or too long")
        self.commands[self._scope_key(params)] = commands
        return True

    async def _m_getmycommands(self, params: dict) -> list[dict]:
        return self.commands.get(self._scope_key(params), [])

    async def _m_deletewebhook(self, params: dict) -> bool:
        if self.webhook is not None and self.webhook.task is not None:
            self.webhook.task.cancel()
        self.webhook = None
        if str(params.get("drop_pending_updates", "")).lower() == "true":
            self.pending.clear()
        return True

    async def _m_setwebhook(self, params: dict) -> bool:
        url = str(params.get("url") or "")
        if not url:
            return await self._m_deletewebhook(params)
        if not re.match(r"https?://", url):
            raise ApiError(400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook")
        secret = params.get("secret_token")
        if secret is not None and not _SECRET.fullmatch(str(secret)):
            raise ApiError(400, "Bad Request: bad webhook: secret token contains unallowed characters")
        if self.webhook is not None and self.webhook.task is not None:
            self.webhook.task.cancel()
        if str(params.get("drop_pending_updates", "")).lower() == "true":
            self.pending.clear()
        self.webhook = _Webhook(url, secret, params.get("allowed_updates"))
        self.webhook.task = asyncio.get_running_loop().create_task(self._deliver(self.webhook))
        return True

    async def _m_getwebhookinfo(self, params: dict) -> dict:
        info: dict[str, Any] = {"url": self.webhook.url if self.webhook else "",
                                "has_custom_certificate": False, "pending_update_count": len(self.pending)}
        if self.webhook is not None:
            info["max_connections"] = 40
            if self.webhook.allowed_updates:
                info["allowed_updates"] = self.webhook.allowed_updates
            if self.webhook.last_error:
                info["last_error_date"] = int(time.time())
                info["last_error_message"] = self.webhook.last_error
        return info

    async def _deliver(self, hook: _Webhook) -> None:
        """POST pending updates to the webhook one at a time, retrying until it answers 2xx."""
        assert self._client is not None
        failures = 0
        while True:
            async with self._changed:
                while not self.pending:
                    await self._changed.wait()
            update = self.pending[0]
            if hook.allowed_updates and not any(k in update for k in hook.allowed_updates):
                self.pending.pop(0)
                continue
            headers = {"X-Telegram-Bot-Api-Secret-Token": hook.secret} if hook.secret else {}
            try:
                async with self._client.post(hook.url, json=update, headers=headers) as response:
                    status = response.status
            except aiohttp.ClientError as exc:
                status, hook.last_error = 0, f"Connection error: {exc}"
            self.webhook_posts.append((update["update_id"], status))
            if 200 <= status < 300:
                failures = 0
                if self.pending and self.pending[0] is update:
                    self.pending.pop(0)
                await self._notify()
            else:
                failures += 1
                hook.last_error = hook.last_error or f"Wrong response from the webhook: {status}"
                await asyncio.sleep(min(1.0, 0.05 * failures))


async def _serve(args: argparse.Namespace) -> None:
    fake = FakeBotApi(token=args.token, rate_limit=args.rate_limit, port=args.port)
    await fake.start()
    for user_id in range(1, args.users + 1):
        fake.add_user(user_id)
    print(f"fake Bot API on {fake.base_url} (token {fake.token})", flush=True)
    await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser(description="A fake Telegram Bot API for local runs and benchmarks")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--rate-limit", type=int, default=30, help="messages per second before 429")
    parser.add_argument("--token", default="123456789:AAE-fake-token-for-tests")
    parser.add_argument("--users", type=int, default=0, help="register private chats 1..N")
    asyncio.run(_serve(parser.parse_args()))


if __name__ == "__main__":
    main()
