"""The Telegram channel, on python-telegram-bot (v22).

It only translates: a Telegram update becomes an ``Incoming`` for ``Conversation.handle``, and the
``Reply`` objects that come back become HTML messages with inline keyboards
(``bot.channels.telegram_render``). A reply asking for the citizen's phone number shows
Telegram's "share contact" keyboard; the contact that comes back becomes ``Incoming.contact``,
and the next reply in that chat takes the keyboard away (the chats still showing one are
recorded in the database, so any worker sending the next reply knows).

Updates arrive by long polling, or, when ``telegram.webhook_url`` is set, on a route of the
project's one aiohttp server that checks Telegram's secret header, answers at once and leaves the work to the application's queue.

Each update is handled once (its ``update_id`` is remembered in memory and recorded in
``InboundEvent`` in the same transaction as the turn that answers it), the updates
of one chat in order and different chats concurrently. Every Bot API call passes the rate
limiter (``bot.channels.telegram_limits``), which also retries 429s and network errors. A user
who blocked the bot is marked unreachable and unsubscribed. Anything else that fails is logged
with its context and the user gets a short apology.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime as dt
import hashlib
import hmac
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web
from sqlalchemy import delete as sql_delete
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlmodel import col
from telegram import (
    BotCommand,
    BotCommandScopeChat,
    BotCommandScopeDefault,
    CallbackQuery,
    ChatMember,
    ChatMemberUpdated,
    LinkPreviewOptions,
    Message,
    Update,
)
from telegram.constants import ChatType, ParseMode
from telegram.error import (
    BadRequest,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.ext import (
    Application,
    ApplicationBuilder,
    BaseUpdateProcessor,
    ContextTypes,
    TypeHandler,
)

from bot.channels.telegram_limits import TelegramRateLimiter, retry_after_seconds
from bot.channels.telegram_render import OutMessage, remove_phone_keyboard, render
from bot.config import ConfigError, telegram_problems
from bot.http import read_body
from bot.messages import Attachment, Contact, Incoming, Reply, Response
from bot.phones import normalize_phone
from bot.ports import TELEGRAM, Delivery
from bot.pressure import TELEGRAM_UPDATE_MAX_BYTES, Backlog, RecentIds, reply_backoff
from bot.storage.db import dialect_insert
from bot.storage.models import CallbackPayload, InboundEvent, utcnow

if TYPE_CHECKING:
    from bot.ports import Conversation

log = logging.getLogger(__name__)

CHANNEL = "telegram"
ALLOWED_UPDATES = ["message", "callback_query", "my_chat_member"]
APOLOGY = "Dạ, hệ thống đang gặp sự cố, Anh/Chị vui lòng thử lại sau ít phút ạ."
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_CONCURRENT_UPDATES = 64
MAX_STORED_PAYLOAD = 2048
# Telegram numbers updates at random after a week without any, so older ids are never seen again.
EVENT_RETENTION = dt.timedelta(days=7)
PURGE_INTERVAL = 6 * 3600.0
MAX_DOWNLOAD_BYTES = 10_000_000  # photos citizens send (e.g. a receipt's QR code) are fetched up to this
_KEY = re.compile(r"[A-Za-z0-9_-]{1,24}")
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)

class ChatOrderedProcessor(BaseUpdateProcessor):
    """Updates of one chat one after another (the conversation state and the order of replies
    depend on it), different chats concurrently."""

    def __init__(self, max_concurrent_updates: int) -> None:
        super().__init__(max_concurrent_updates)
        self._locks: dict[object, asyncio.Lock] = {}
        self._users: dict[object, int] = {}

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        key = _chat_key(update)
        if key is None:
            await coroutine
            return
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._users[key] = self._users.get(key, 0) + 1
        try:
            async with lock:
                await coroutine
        finally:
            self._users[key] -= 1
            if not self._users[key]:
                del self._users[key], self._locks[key]

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass


def _chat_key(update: object) -> object | None:
    if not isinstance(update, Update):
        return None
    if update.effective_chat is not None:
        return update.effective_chat.id
    return update.effective_user.id if update.effective_user is not None else None


def _chat_not_found(exc: TelegramError) -> bool:
    return isinstance(exc, BadRequest) and "chat not found" in exc.message.lower()


def _chat_id(platform_id: str) -> int | str:
    return int(platform_id) if platform_id.lstrip("-").isdigit() else platform_id


def _private(chat_id: int | str) -> bool:
    """Telegram numbers private chats as their user (positive), groups and channels negative."""
    return isinstance(chat_id, int) and chat_id > 0


def _contact(message: Message) -> Contact | None:
    """A shared contact; verified when it is the sender's own (Telegram's contact button sends
    the account's number, while a contact from the address book carries someone else's id)."""
    shared, sender = message.contact, message.from_user
    if shared is None or sender is None:
        return None
    name = " ".join(p for p in (shared.first_name, shared.last_name) if p) or None
    phone = normalize_phone(shared.phone_number) or shared.phone_number.strip()
    return Contact(phone=phone, verified=shared.user_id == sender.id, name=name)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _user_ok(user: object) -> bool:
    return (isinstance(user, dict) and _is_int(user.get("id")) and isinstance(user.get("is_bot"), bool)
            and isinstance(user.get("first_name"), str))


def _chat_ok(chat: object) -> bool:
    return isinstance(chat, dict) and _is_int(chat.get("id")) and isinstance(chat.get("type"), str)


_MESSAGE_FIELDS = (("text", str), ("caption", str), ("photo", list), ("entities", list),
                   ("caption_entities", list))


def _message_ok(message: object, depth: int = 0) -> bool:
    if not (isinstance(message, dict) and _is_int(message.get("message_id")) and _is_int(message.get("date"))
            and _chat_ok(message.get("chat"))):
        return False
    if "from" in message and not _user_ok(message["from"]):
        return False
    for key, kind in _MESSAGE_FIELDS:
        if key in message and not isinstance(message[key], kind):
            return False
    if "document" in message and not isinstance(message["document"], dict):
        return False
    contact = message.get("contact")
    if contact is not None and not (
            isinstance(contact, dict) and isinstance(contact.get("phone_number"), str)
            and isinstance(contact.get("first_name"), str)
            and ("user_id" not in contact or _is_int(contact["user_id"]))):
        return False
    replied = message.get("reply_to_message")
    return replied is None or (depth < 2 and _message_ok(replied, depth + 1))


def _well_formed(data: object) -> bool:
    """The fields of an update the handlers rely on have Telegram's types (Bot API schema)."""
    if not isinstance(data, dict) or not _is_int(data.get("update_id")):
        return False
    for key in ("message", "edited_message", "channel_post"):
        if key in data and not _message_ok(data[key]):
            return False
    query = data.get("callback_query")
    if query is not None and not (
            isinstance(query, dict) and isinstance(query.get("id"), str) and _user_ok(query.get("from"))
            and isinstance(query.get("chat_instance"), str)
            and ("data" not in query or isinstance(query["data"], str))
            and ("message" not in query or _message_ok(query["message"]))):
        return False
    change = data.get("my_chat_member")
    if change is not None:
        members = [change.get(k) if isinstance(change, dict) else None
                   for k in ("old_chat_member", "new_chat_member")]
        if not (isinstance(change, dict) and _chat_ok(change.get("chat")) and _user_ok(change.get("from"))
                and _is_int(change.get("date"))
                and all(isinstance(m, dict) and isinstance(m.get("status"), str) and _user_ok(m.get("user"))
                        for m in members)):
            return False
    return True


class TelegramChannel:
    name = CHANNEL
    capabilities = TELEGRAM

    def __init__(self, bot: Conversation, *, poll_timeout: float = 10.0) -> None:
        settings = bot.settings
        token = settings.secrets.telegram_token
        if token is None:
            raise ConfigError("Telegram: thiếu CCHC_TELEGRAM_TOKEN")
        problems = telegram_problems(settings)
        if problems:
            raise ConfigError("\n".join(problems))
        self.bot = bot
        self.config = settings.telegram
        self.poll_timeout = poll_timeout
        secret = settings.secrets.telegram_webhook_secret
        self._webhook_secret = secret.get_secret_value().encode() if secret is not None else b""
        self.webhook = bool(self.config.webhook_url)
        self.limiter = TelegramRateLimiter(
            self.config.global_rate, self.config.private_chat_rate, self.config.group_rate_per_minute
        )
        self.application: Application = (
            ApplicationBuilder()
            .token(token.get_secret_value())
            .base_url(self.config.base_url)
            .base_file_url(self.config.base_file_url)
            .rate_limiter(self.limiter)
            .concurrent_updates(ChatOrderedProcessor(MAX_CONCURRENT_UPDATES))
            .job_queue(None)
            .build()
        )
        self.application.add_handler(TypeHandler(Update, self._on_update))
        self.application.add_error_handler(self._on_error)
        self._accepting = False
        self._stopping = asyncio.Event()  # set by stop(): replies stop waiting out an outage
        # Webhook updates accepted and not yet handled: beyond server.max_backlog
        # the route answers 503 before acknowledging, and Telegram delivers the update again.
        self.backlog = Backlog(settings.server.max_backlog, settings.server.backlog_degraded)
        self._recent = RecentIds()  # update ids seen lately, for redeliveries while the database is down
        self._stored_keys: dict[str, str] = {}  # long payloads already stored, by key
        # Chats this process showed the phone keyboard to. With one process that is all of
        # them, so a reply costs no database statement; with several (server.workers) the next
        # message may reach another process, and the database says.
        self._keyboards: set[str] = set()
        self._keyboards_shared = settings.server.workers > 1
        # httpx logs every request URL at INFO, and a Bot API URL contains the token.
        httpx_log = logging.getLogger("httpx")
        if httpx_log.getEffectiveLevel() < logging.WARNING:
            httpx_log.setLevel(logging.WARNING)

    # --- life cycle ---------------------------------------------------------------------

    def setup_routes(self, app: web.Application) -> None:
        if self.webhook:
            app.router.add_post(self.config.webhook_path, self._webhook)

    async def start(self) -> None:
        app = self.application
        try:
            await app.initialize()
        except InvalidToken as exc:
            raise ConfigError(f"Telegram từ chối CCHC_TELEGRAM_TOKEN: {exc}") from exc
        await self._register_commands()
        await app.start()
        self._accepting = True
        username = app.bot.username
        if self.webhook:
            await app.bot.set_webhook(
                url=str(self.config.webhook_url),
                secret_token=self._webhook_secret.decode(),
                allowed_updates=ALLOWED_UPDATES,
            )
            log.info("telegram: @%s receiving updates by webhook on %s", username, self.config.webhook_path)
        elif not self.bot.settings.server.telegram_polling:
            log.info("telegram: @%s only sending from this process (server.telegram_polling = false)",
                     username)
        else:
            assert app.updater is not None
            await app.updater.start_polling(
                timeout=int(self.poll_timeout), allowed_updates=ALLOWED_UPDATES, bootstrap_retries=3
            )
            log.info("telegram: @%s receiving updates by long polling", username)

    async def stop(self) -> None:
        """Stop receiving, finish the updates already queued, then close the connections."""
        self._accepting = False
        self._stopping.set()
        app = self.application
        if app.updater is not None and app.updater.running:
            await app.updater.stop()
        if app.running:
            await app.stop()
        await app.shutdown()

    def health(self) -> dict[str, Any]:
        """For /healthz: receiving updates, and how busy."""
        app = self.application
        polling = not self.webhook and self.bot.settings.server.telegram_polling
        receiving = app.running and (not polling or (app.updater is not None and app.updater.running))
        mode = "webhook" if self.webhook else "polling" if polling else "send-only"
        backlog = self.backlog.health()
        return {"status": "ok" if receiving and not backlog["backlogged"] else "degraded", "mode": mode,
                "queued": app.update_queue.qsize(), **backlog, "flood_waits": self.limiter.flood_waits,
                "rate_limit_pause_s": round(self.limiter.paused_for, 1)}

    async def _register_commands(self) -> None:
        bot = self.application.bot
        # The menu is the routers' own list: every command it shows has a handler.
        menu = self.bot.menu
        citizen = [BotCommand(c.name, c.description) for c in menu if not c.officials]
        official = citizen + [BotCommand(c.name, c.description) for c in menu if c.officials]
        try:
            await bot.set_my_commands(citizen, scope=BotCommandScopeDefault())
        except TelegramError as exc:
            log.error("telegram: could not register the command menu: %s", exc)
        chats = [*self.config.admin_ids]
        if self.config.admin_chat_id is not None:
            chats.append(self.config.admin_chat_id)
        for chat_id in chats:
            try:
                await bot.set_my_commands(official, scope=BotCommandScopeChat(chat_id))
            except TelegramError as exc:  # e.g. an official who has not opened the bot yet
                log.warning("telegram: officials' command menu not set for one chat (%s); it is "
                            "set at the next start once they have written to the bot", exc)

    # --- webhook --------------------------------------------------------------------------

    async def _webhook(self, request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER)
        if given is None:
            return web.Response(status=401, text="missing secret token")
        if not hmac.compare_digest(given.encode(), self._webhook_secret):
            log.warning("telegram webhook: refused a request with a wrong secret token")
            return web.Response(status=403, text="wrong secret token")
        if not self._accepting:
            return web.Response(status=503, text="not ready")
        if self.backlog.full:  # refused before it is read, so Telegram delivers it again later
            self.backlog.refused += 1
            return web.Response(status=503, text="busy", headers={"Retry-After": "5"})
        body = await read_body(request, TELEGRAM_UPDATE_MAX_BYTES)
        update = self._parse_update(body)
        if update is None:
            return web.Response(status=400, text="not an update")
        if not self.backlog.enter():
            return web.Response(status=503, text="busy", headers={"Retry-After": "5"})
        await self.application.update_queue.put(update)
        return web.Response(status=200)

    def _parse_update(self, body: bytes) -> Update | None:
        """The update in a webhook body, or None when it is not one (any JSON at all).

        python-telegram-bot builds objects from almost anything (a list where a chat should
        be gives a chat of Nones), so the parts the handlers rely on are checked first."""
        try:
            data = json.loads(body)
            if not _well_formed(data):
                log.warning("telegram webhook: refused an update of an unexpected shape")
                return None
            return Update.de_json(data, self.application.bot)
        except Exception as exc:
            log.warning("telegram webhook: unreadable update: %s: %s", type(exc).__name__, exc)
            return None

    # --- updates --------------------------------------------------------------------------

    async def _on_update(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        try:
            event_id = str(update.update_id)
            if not self._recent.first_time(event_id):
                log.debug("telegram: update %s already handled, skipped", update.update_id)
                return
            if update.callback_query is not None:
                await self._on_callback(update.callback_query, event_id)
            elif update.message is not None:
                await self._on_message(update.message, event_id)
            elif update.my_chat_member is not None:
                await self._on_membership(update.my_chat_member)
        finally:
            if self.webhook:  # accepted by the webhook route: one less waiting
                self.backlog.leave()

    async def _turn(self, incoming: Incoming, event_id: str) -> Response | None:
        """The core's answer, or None for an update handled before (by another process, or
        before a restart: the turn itself records the update id in ``InboundEvent``)."""
        response = await self.bot.handle(incoming, event_id=event_id)
        if response.outcome == "duplicate":
            log.debug("telegram: update %s already handled, skipped", event_id)
            return None
        return response

    def _addressed_to_us(self, message: Message, text: str) -> bool:
        """In a group: commands for us (not ``/cmd@OtherBot``), replies to us, mentions of us."""
        username = (self.application.bot.username or "").lower()
        if text.startswith("/"):
            head = text.split(maxsplit=1)[0]
            return "@" not in head or head.split("@", 1)[1].lower() == username
        if message.chat.type == ChatType.PRIVATE:
            return True
        replied = message.reply_to_message
        if replied is not None and replied.from_user is not None and replied.from_user.id == self.application.bot.id:
            return True
        return bool(username) and f"@{username}" in text.lower()

    async def _on_message(self, message: Message, event_id: str) -> None:
        user = message.from_user
        if user is None or user.is_bot:
            return
        text = message.text or message.caption or ""
        if not self._addressed_to_us(message, text):
            return
        username = self.application.bot.username
        if username and message.chat.type != ChatType.PRIVATE and not text.startswith("/"):
            text = re.sub(rf"@{re.escape(username)}\b", "", text, flags=re.IGNORECASE).strip()
        replied = message.reply_to_message
        incoming = Incoming(
            CHANNEL, str(user.id), text=text, attachments=await self._attachments(message),
            chat_id=None if message.chat.type == ChatType.PRIVATE else str(message.chat.id),
            reply_to=str(replied.message_id) if replied is not None else None,
            contact=_contact(message),
        )
        response = await self._turn(incoming, event_id)
        if response is not None:
            await self._deliver(message.chat.id, response.replies, patient=True)

    async def _attachments(self, message: Message) -> tuple[Attachment, ...]:
        """A photo (or an image sent as a file) comes with its bytes; other files only as such."""
        file_id, size = None, None
        if message.photo:  # several sizes, smallest first: the largest one within the limit
            fitting = [p for p in message.photo if (p.file_size or 0) <= MAX_DOWNLOAD_BYTES]
            if fitting:
                file_id, size = fitting[-1].file_id, fitting[-1].file_size
        elif message.document is not None:
            if not (message.document.mime_type or "").startswith("image/"):
                return (Attachment("file"),)
            if (message.document.file_size or 0) <= MAX_DOWNLOAD_BYTES:
                file_id, size = message.document.file_id, message.document.file_size
        else:
            return ()
        if file_id is None:
            return (Attachment("image"),)  # too big to fetch: the feature says what it can do
        try:
            file = await self.application.bot.get_file(file_id)
            data = bytes(await file.download_as_bytearray())
        except TelegramError as exc:
            log.warning("telegram: could not download a photo (%s bytes): %s", size, exc)
            return (Attachment("image"),)
        return (Attachment("image", data=data[:MAX_DOWNLOAD_BYTES]),)

    async def _on_callback(self, query: CallbackQuery, event_id: str) -> None:
        try:
            await query.answer()  # stops the button's spinner whatever happens next
        except TelegramError as exc:
            log.warning("telegram: could not answer a callback query: %s", exc)
        if query.data is None:
            return
        payload = query.data
        if payload.startswith("k:"):
            payload = await self._load_payload(payload[2:]) or "stale"
        pressed = query.message
        chat = pressed.chat if pressed is not None else None
        private = chat is None or chat.type == ChatType.PRIVATE
        incoming = Incoming(CHANNEL, str(query.from_user.id), payload=payload,
                            chat_id=None if private else str(chat.id))  # type: ignore[union-attr]
        response = await self._turn(incoming, event_id)
        if response is None:
            return
        # Browsing a category replaces the list the button was on; everything else is a new message.
        edit = pressed if (payload.startswith("cat:") and response.outcome == "browse"
                           and isinstance(pressed, Message)) else None
        await self._deliver(chat.id if chat is not None else query.from_user.id, response.replies, edit=edit,
                            patient=True)

    async def _on_membership(self, change: ChatMemberUpdated) -> None:
        """A private chat's member status: "kicked" means the user blocked the bot."""
        if change.chat.type == ChatType.PRIVATE and change.new_chat_member.status == ChatMember.BANNED:
            await self._mark_unreachable(str(change.chat.id), "blocked")

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        error = context.error
        if not isinstance(update, Update):
            log.error("telegram: error outside an update: %r", error, exc_info=error)
            return
        chat = update.effective_chat
        user = update.effective_user
        who = self.bot.user_key(CHANNEL, str(user.id)) if user is not None else "-"
        where = chat.type if chat is not None else "-"
        # A button pressed on a message Telegram no longer shows has no chat: the private
        # chat with the user who pressed it is the one the reply went to.
        target = chat.id if chat is not None else user.id if user is not None else None
        if isinstance(error, Forbidden) and target is not None:
            log.warning("telegram: update %s: user %s cannot be reached (%s)", update.update_id, who, error)
            await self._mark_unreachable(str(target), "blocked")
            return
        if isinstance(error, TelegramError) and _chat_not_found(error) and target is not None:
            log.warning("telegram: update %s: chat of user %s not found", update.update_id, who)
            await self._mark_unreachable(str(target), "chat_not_found")
            return
        log.error("telegram: update %s from user %s in a %s chat failed: %r",
                  update.update_id, who, where, error, exc_info=error)
        if chat is not None:
            try:
                await self.application.bot.send_message(chat.id, APOLOGY)
            except TelegramError as exc:
                log.error("telegram: could not send the apology for update %s: %s", update.update_id, exc)

    # --- sending --------------------------------------------------------------------------

    async def _patiently(self, call: Callable[[], Awaitable[Any]]) -> Any:
        """A reply in a conversation turn: when Telegram is unreachable or failing (5xx,
        time-outs) even after the limiter's quick retries, try again with growing pauses for
        up to ``server.reply_retry_seconds``; the update stays in the backlog meanwhile."""
        deadline = time.monotonic() + self.bot.settings.server.reply_retry_seconds
        attempt = 0
        while True:
            try:
                return await call()
            except BadRequest:
                raise
            except (NetworkError, RetryAfter) as exc:
                attempt += 1
                wait = reply_backoff(attempt)
                if isinstance(exc, RetryAfter):
                    wait = max(wait, retry_after_seconds(exc))
                if time.monotonic() + wait > deadline or self._stopping.is_set():
                    raise
                log.warning("telegram: a reply failed (%s); trying again in %.1fs", exc, wait)
                with contextlib.suppress(TimeoutError):  # stopping cuts the pause short
                    await asyncio.wait_for(self._stopping.wait(), wait)

    async def _deliver(self, chat_id: int | str, replies: list[Reply], edit: Message | None = None,
                       patient: bool = False) -> list[Message]:
        """Send replies in order; returns the messages Telegram accepted. ``patient``: each
        message is retried through an outage (a conversation turn; broadcasts have their own
        retries in the outbox)."""
        bot = self.application.bot

        async def call(make: Callable[[], Awaitable[Any]]) -> Any:
            return await (self._patiently(make) if patient else make())

        outs: list[OutMessage | bytes] = []
        for reply in replies:
            if reply.image is not None:
                outs.append(reply.image)
            outs.extend(await render(reply, self._store_payload, private=_private(chat_id)))
        texts = [out for out in outs if isinstance(out, OutMessage)]
        asks_phone = any(out.asks_phone for out in texts)
        # A phone keyboard still shown goes with the next reply in the conversation (not with a
        # broadcast, which would take it from a citizen about to press it).
        if patient and texts and not asks_phone and await self._phone_keyboard_taken(chat_id):
            outs, edit = remove_phone_keyboard(outs), None
        sent: list[Message] = []
        for out in outs:
            if isinstance(out, bytes):
                sent.append(await call(lambda out=out: bot.send_photo(chat_id, photo=out)))
                continue
            if edit is not None and len(outs) == 1 and not out.asks_phone:
                try:
                    edited = await bot.edit_message_text(
                        out.html, chat_id=chat_id, message_id=edit.message_id, parse_mode=ParseMode.HTML,
                        reply_markup=out.markup, link_preview_options=NO_PREVIEW,
                    )
                    if isinstance(edited, Message):
                        sent.append(edited)
                    continue
                except BadRequest as exc:
                    if "not modified" in exc.message.lower():
                        continue
                    log.info("telegram: could not edit a message (%s); sending a new one", exc)
            sent.append(await call(lambda out=out: bot.send_message(
                chat_id, out.html, parse_mode=ParseMode.HTML, reply_markup=out.markup,
                link_preview_options=NO_PREVIEW,
            )))
        if asks_phone:
            await self._phone_keyboard_shown(chat_id)
        return sent

    async def send(self, platform_id: str, replies: list[Reply], kind: str = "broadcast") -> Delivery:
        """Bot-initiated messages (broadcasts, answers to tickets), with the outcome recorded."""
        try:
            messages = await self._deliver(_chat_id(platform_id), replies)
        except Forbidden as exc:
            await self._mark_unreachable(platform_id, "blocked")
            return Delivery("blocked", error=str(exc))
        except RetryAfter as exc:
            return Delivery("retry", error=str(exc), retry_after=retry_after_seconds(exc))
        except BadRequest as exc:
            if _chat_not_found(exc):
                await self._mark_unreachable(platform_id, "chat_not_found")
            return Delivery("failed", error=str(exc))
        except NetworkError as exc:  # still failing after the limiter's retries
            return Delivery("retry", error=str(exc))
        except TelegramError as exc:
            return Delivery("failed", error=str(exc))
        if not messages:
            return Delivery("failed", error="nothing to send")
        return Delivery("sent", message_id=str(messages[-1].message_id))

    # --- records --------------------------------------------------------------------------

    def _payload_key(self, payload: str) -> str:
        digest = hmac.new(self.bot.salt, b"telegram-callback\0" + payload.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode()[:16]

    def _keyboard_key(self, chat_id: int | str) -> str:
        digest = hmac.new(self.bot.salt, f"telegram-phone-keyboard\0{chat_id}".encode(), hashlib.sha256)
        return "rk:" + digest.hexdigest()[:21]

    async def _phone_keyboard_shown(self, chat_id: int | str) -> None:
        """Record that this chat shows the phone keyboard (one row per chat, refreshed)."""
        self._keyboards.add(str(chat_id))
        if not self._keyboards_shared:
            return
        table = CallbackPayload.__table__  # type: ignore[attr-defined]
        upsert = dialect_insert(self.bot.database.dialect)(table).values(
            key=self._keyboard_key(chat_id), payload="phone", created_at=utcnow())
        try:
            async with self.bot.database.session() as session:
                await session.exec(upsert.on_conflict_do_update(  # type: ignore[call-overload]
                    index_elements=["key"], set_={"created_at": upsert.excluded.created_at}))
                await session.commit()
        except SQLAlchemyError:
            log.exception("telegram: could not record the phone keyboard; the next reply leaves it shown")

    async def _phone_keyboard_taken(self, chat_id: int | str) -> bool:
        """Forget that this chat shows the phone keyboard; whether it did. One statement, so
        two workers answering the same chat remove it once."""
        if not _private(chat_id):
            return False
        mine = str(chat_id) in self._keyboards
        self._keyboards.discard(str(chat_id))
        if not self._keyboards_shared:
            return mine
        try:
            async with self.bot.database.session() as session:
                result = await session.exec(sql_delete(CallbackPayload).where(  # type: ignore[call-overload]
                    col(CallbackPayload.key) == self._keyboard_key(chat_id)))
                await session.commit()
        except SQLAlchemyError:
            log.exception("telegram: could not check for a phone keyboard to remove")
            return False
        return bool(result.rowcount)

    async def _store_payload(self, payload: str) -> str | None:
        """Store a payload too long for callback_data; the same payload always gets the same key."""
        if len(payload) > MAX_STORED_PAYLOAD:
            log.error("telegram: button payload of %d characters dropped", len(payload))
            return None
        key = self._payload_key(payload)
        if self._stored_keys.get(key) == payload:
            return key
        try:
            async with self.bot.database.session() as session:
                if await session.get(CallbackPayload, key) is None:
                    session.add(CallbackPayload(key=key, payload=payload))
                    await session.commit()
        except IntegrityError:
            pass  # stored at the same moment by another update: same key, same payload
        except SQLAlchemyError:
            log.exception("telegram: could not store a button payload; the button is left out")
            return None
        if len(self._stored_keys) > 4096:
            self._stored_keys.clear()
        self._stored_keys[key] = payload
        return key

    async def _load_payload(self, key: str) -> str | None:
        if not _KEY.fullmatch(key):
            return None
        if key in self._stored_keys:
            return self._stored_keys[key]
        try:
            async with self.bot.database.session() as session:
                row = await session.get(CallbackPayload, key)
        except SQLAlchemyError:
            log.exception("telegram: could not read a stored button payload")
            return None
        return row.payload if row is not None else None

    async def purge_old_events(self) -> int:
        """Forget handled update ids older than ``EVENT_RETENTION``; returns how many."""
        cutoff = utcnow() - EVENT_RETENTION
        async with self.bot.database.session() as session:
            result = await session.exec(sql_delete(InboundEvent).where(  # type: ignore[call-overload]
                col(InboundEvent.channel) == CHANNEL, col(InboundEvent.received_at) < cutoff))
            await session.commit()
        return result.rowcount or 0

    def periodic(self) -> list[tuple[str, float, Callable[[], Awaitable[object]]]]:
        """The jobs the process's scheduler runs for this channel: (name, every seconds, job)."""
        return [("telegram:purge-updates", PURGE_INTERVAL, self.purge_old_events)]

    async def _mark_unreachable(self, platform_id: str, reason: str) -> None:
        """The user blocked the bot or their chat no longer exists: the core decides what follows."""
        await self.bot.unreachable(CHANNEL, platform_id, reason)
