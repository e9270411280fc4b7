"""The Zalo Official Account channel: signed webhooks in, OA messages out.

Zalo POSTs each event to ``zalo.webhook_path`` and wants 200 within two seconds, so the route
only checks the event (signature, age, an id seen lately) and queues it; workers answer it in
the background, and the turn that answers records the event id (``InboundEvent``, in its own
transaction), so an event delivered again, to this process or another, is answered once. The
queues are bounded: when they are full the event is refused with 503 (and counted, logged and
shown in /healthz), never accepted and then dropped. Each user's events go
to the same worker, so one citizen's messages are answered in order.

A reply asking for the citizen's phone number carries Zalo's "request user info" card
(``zalo_render``); the ``user_submit_info`` event that comes back when the citizen shares
becomes ``Incoming.contact``, verified: Zalo sends the number of the citizen's own account.
The card's picture is ``zalo.share_info_image_url``, or the bot's own, served here.

Signature: ``X-ZEvent-Signature: mac=<hex>``, hex = SHA-256 of app_id + raw body + timestamp +
the OA secret key, with app_id and timestamp read from the JSON body.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp import web
from sqlalchemy import delete

from bot.channels.choices import ChoiceStore, chosen_number
from bot.channels.delivering import in_order, recipient
from bot.channels.workqueue import WorkQueues, cancel
from bot.channels.zalo_api import (
    BAD_PARAMETER,
    CS_PATH,
    NOT_FOLLOWER,
    OUTSIDE_WINDOW,
    PROMOTION_PATH,
    QUOTA_EXHAUSTED,
    RATE_LIMITED,
    TOKEN_INVALID,
    ApiResult,
    RateLimiter,
    ZaloApi,
    ZaloTransportError,
)
from bot.channels.zalo_render import (
    PayloadCodec,
    media_message,
    promotion_message,
    render,
)
from bot.channels.zalo_tokens import TokenManager, TokenUnavailable
from bot.clock import aware
from bot.http import read_body
from bot.messages import Attachment, Contact, Incoming, Reply
from bot.phones import normalize_phone
from bot.ports import ZALO, Delivery
from bot.pressure import ZALO_EVENT_MAX_BYTES, RecentIds, reply_backoff
from bot.storage.models import InboundEvent, utcnow

if TYPE_CHECKING:
    from bot.ports import Conversation

log = logging.getLogger(__name__)

CHANNEL = "zalo"
SIGNATURE_HEADER = "X-ZEvent-Signature"
WORKERS = 16  # a worker waits on the database and on Zalo most of the time: enough to overlap
ENQUEUE_WAIT = 1.0  # seconds to wait for room in a full queue before refusing (Zalo waits 2 s)
RATE_LIMIT_BACKOFF = 15.0  # seconds without sending after Zalo answers -32
MAX_INLINE_WAIT = 30.0  # longest pause for a retry inside one delivery
SEND_ATTEMPTS = 3
NETWORK_RETRY = 2.0  # seconds before sending again after a network failure
HOUSEKEEPING_INTERVAL = 6 * 3600.0  # seconds
MAX_USER_ID = 64  # ChannelUser.platform_id
INFO_IMAGE_PATH = "/zalo/chia-se-thong-tin.png"  # the phone request card's picture, served by the bot
INFO_IMAGE = Path(__file__).parent.parent / "web" / "chia-se-thong-tin.png"
IGNORED_EVENTS = {
    "user_send_sticker", "user_send_gif", "user_send_link", "user_send_audio", "user_send_video",
    "user_send_file", "user_send_location", "user_send_business_card", "user_received_message",
    "user_seen_message", "user_reacted_message", "oa_reacted_message",
    "add_user_to_tag", "change_oa_daily_quota", "change_oa_template_tags",
}


class _Refused(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def signature(app_id: str, raw_body: bytes, timestamp: str, oa_secret_key: str) -> str:
    """The hex SHA-256 Zalo puts in X-ZEvent-Signature as ``mac=<hex>``."""
    data = app_id.encode() + raw_body + timestamp.encode() + oa_secret_key.encode()
    return hashlib.sha256(data).hexdigest()


def _shape(value: Any, depth: int = 0) -> Any:
    """An event's structure without its values, for logging unknown events privately."""
    if isinstance(value, dict) and depth < 4:
        return {key: _shape(item, depth + 1) for key, item in value.items()}
    if isinstance(value, list) and value and depth < 4:
        return [_shape(value[0], depth + 1)]
    return type(value).__name__


@dataclass(frozen=True)
class _Job:
    event: dict[str, Any]
    event_id: str
    received: float


class ZaloChannel:
    name = CHANNEL
    capabilities = ZALO

    def __init__(self, bot: Conversation, *, limiter: RateLimiter | None = None, workers: int = WORKERS,
                 queue_size: int | None = None, rate_limit_backoff: float = RATE_LIMIT_BACKOFF,
                 max_inline_wait: float = MAX_INLINE_WAIT) -> None:
        settings = bot.settings
        zalo = settings.zalo
        oa_key, app_secret = settings.secrets.zalo_oa_secret_key, settings.secrets.zalo_app_secret
        if not zalo.app_id or oa_key is None or app_secret is None:
            raise ValueError("Zalo needs zalo.app_id, CCHC_ZALO_APP_SECRET and CCHC_ZALO_OA_SECRET_KEY")
        self.bot = bot
        self.settings = settings
        self.app_id = zalo.app_id
        self._oa_secret_key = oa_key.get_secret_value()
        self.codec = PayloadCodec(self._oa_secret_key)
        self.choices = ChoiceStore(bot.database, CHANNEL, "zc:", self.codec.user_key)
        self.limiter = limiter or RateLimiter()
        self.rate_limit_backoff = rate_limit_backoff
        self.max_inline_wait = max_inline_wait
        self._http: aiohttp.ClientSession | None = None
        self.tokens = TokenManager(bot.database, settings, self._session)
        # Events accepted and not yet answered are bounded by server.max_backlog,
        # shared out among the workers' queues; a full queue refuses with 503 before acknowledging.
        self.queues: WorkQueues[_Job] = WorkQueues(
            CHANNEL, self._handle_job, workers=workers, queue_size=queue_size,
            max_backlog=settings.server.max_backlog, degraded_at=settings.server.backlog_degraded,
            enqueue_wait=ENQUEUE_WAIT)
        self.backlog = self.queues.backlog
        self._tasks: list[asyncio.Task] = []  # the token refresh
        self._accepting = True
        self._recent = RecentIds()  # event ids seen lately: duplicates answered at once, no database

    @property
    def processed(self) -> int:
        return self.queues.processed

    # -- lifecycle ------------------------------------------------------------------------------

    def _session(self) -> aiohttp.ClientSession:
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession()
        return self._http

    def _api(self) -> ZaloApi:
        return ZaloApi(self.settings.zalo.api_base_url, self._session(), self.limiter)

    def setup_routes(self, app: web.Application) -> None:
        zalo = self.settings.zalo
        app.router.add_post(zalo.webhook_path, self.webhook)
        app.router.add_get(INFO_IMAGE_PATH, self.info_image)
        if zalo.verifier_file and zalo.verifier_content is not None:
            app.router.add_get("/" + zalo.verifier_file.lstrip("/"), self.verifier)

    async def start(self) -> None:
        self._accepting = True
        try:
            await self.tokens.seed()
        except Exception:  # a database hiccup at start-up must not stop the other channels
            log.exception("zalo: could not seed the token store")
        self.queues.start()
        self._tasks = [asyncio.create_task(self.tokens.run(), name="zalo-token-refresh")]
        log.info("zalo: webhook at %s", self.settings.zalo.webhook_path)

    async def stop(self, timeout: float = 20.0) -> None:
        """Refuse new events, finish the queued ones (up to ``timeout``), then stop."""
        self._accepting = False
        await self.queues.stop(timeout)
        await cancel(self._tasks)
        self._tasks = []
        if self._http is not None:
            await self._http.close()
            self._http = None

    async def idle(self, timeout: float = 10.0) -> None:
        """Wait until every accepted event has been handled."""
        await self.queues.idle(timeout)

    def health(self) -> dict[str, Any]:
        queues = self.queues.health()
        healthy = (self.tokens.state in ("ok", "unknown") and not queues["queue_full"]
                   and not queues["backlogged"])
        return {"status": "ok" if healthy else "degraded", "token": self.tokens.state, **queues,
                "rate_limit_pause_s": round(self.limiter.paused_for, 1)}

    # -- the webhook --------------------------------------------------------------------------

    async def info_image(self, request: web.Request) -> web.StreamResponse:
        return web.FileResponse(INFO_IMAGE, headers={"Cache-Control": "public, max-age=86400"})

    @property
    def info_image_url(self) -> str | None:
        """The picture for the phone request card: configured, or ours at the public address."""
        public = self.settings.server.public_url
        return self.settings.zalo.share_info_image_url or (public.rstrip("/") + INFO_IMAGE_PATH if public else None)

    async def verifier(self, request: web.Request) -> web.Response:
        return web.Response(text=self.settings.zalo.verifier_content or "", content_type="text/html")

    def _verify(self, raw: bytes, header: str) -> dict[str, Any]:
        """The event, if it is signed by our OA and recent; raises _Refused otherwise."""
        try:
            event = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise _Refused(401, "not JSON") from None
        if not isinstance(event, dict):
            raise _Refused(401, "not a JSON object")
        app_id, timestamp = event.get("app_id"), event.get("timestamp")
        if not isinstance(app_id, (str, int)) or not isinstance(timestamp, (str, int)):
            raise _Refused(401, "no app_id or timestamp")
        given = header.strip()
        if not given.lower().startswith("mac="):
            raise _Refused(401, "missing signature")
        expected = signature(str(app_id), raw, str(timestamp), self._oa_secret_key)
        if not hmac.compare_digest(given[4:].strip().lower().encode(), expected.encode()):
            raise _Refused(401, "bad signature")
        if str(app_id) != self.app_id:
            raise _Refused(401, "event for another app")
        try:
            sent_ms = int(str(timestamp))
        except ValueError:
            raise _Refused(401, "unreadable timestamp") from None
        age = time.time() - sent_ms / 1000
        max_age = self.settings.zalo.max_event_age_seconds
        if age > max_age or age < -max_age:
            raise _Refused(401, f"event is {age:.0f} s old (replay?)")
        return event

    async def webhook(self, request: web.Request) -> web.Response:
        raw = await read_body(request, ZALO_EVENT_MAX_BYTES)
        try:
            event = self._verify(raw, request.headers.get(SIGNATURE_HEADER, ""))
        except _Refused as refused:
            log.warning("zalo: webhook refused (%s) from %s", refused.reason, request.remote)
            return web.json_response({"error": refused.reason}, status=refused.status)
        if not self._accepting:
            return web.json_response({"error": "shutting down"}, status=503)
        user = self._user_of(event)
        if len(user) > MAX_USER_ID or not user.isprintable():  # Zalo's ids are ~19 digits
            log.warning("zalo: webhook refused an event with an unusable user id (%d characters)", len(user))
            return web.json_response({"error": "bad user id"}, status=400)
        event_id = self._event_id(event)
        if not self._recent.first_time(event_id):
            log.debug("zalo: duplicate event ignored")
            return web.json_response({"ok": True, "duplicate": True})
        if not await self.queues.put(user, _Job(event, event_id, time.monotonic())):
            self._recent.forget(event_id)  # delivered again later, it is a first time
            return web.json_response({"error": "busy"}, status=503)
        return web.json_response({"ok": True})

    @staticmethod
    def _user_of(event: dict[str, Any]) -> str:
        for key in ("sender", "follower", "user"):
            part = event.get(key)
            if isinstance(part, dict) and part.get("id") is not None:
                return str(part["id"])
        return str(event.get("user_id_by_app", ""))

    def _event_id(self, event: dict[str, Any]) -> str:
        message = event.get("message")
        if isinstance(message, dict) and message.get("msg_id"):
            return str(message["msg_id"]).replace("\x00", "")[:128]
        name = str(event.get("event_name", "?"))
        return f"{name}:{self._user_of(event)}:{event.get('timestamp')}".replace("\x00", "")[:128]

    # -- processing ---------------------------------------------------------------------------

    async def _handle_job(self, job: _Job) -> None:
        await self._process(job.event, job.event_id)

    async def _process(self, event: dict[str, Any], event_id: str) -> None:
        name = event.get("event_name")
        handlers = {"user_send_text": self._on_text, "user_send_image": self._on_image,
                    "user_submit_info": self._on_submit_info, "follow": self._on_follow,
                    "unfollow": self._on_unfollow}
        handler = handlers.get(name) if isinstance(name, str) else None
        if handler is None:
            if name in IGNORED_EVENTS or (isinstance(name, str) and name.startswith("oa_")):
                log.info("zalo: %s event ignored", name)
            else:
                log.warning("zalo: unknown event %r ignored; its shape: %s",
                            name, json.dumps(_shape(event), ensure_ascii=False))
            return
        await handler(event, event_id)

    def _unknown_shape(self, event: dict[str, Any], why: str) -> None:
        log.warning("zalo: %s event without %s ignored; its shape: %s", event.get("event_name"), why,
                    json.dumps(_shape(event), ensure_ascii=False))

    async def _on_text(self, event: dict[str, Any], event_id: str) -> None:
        user, message = self._user_of(event), event.get("message")
        if not user or not isinstance(message, dict) or not isinstance(message.get("text"), str):
            return self._unknown_shape(event, "sender.id or message.text")
        text = message["text"]
        payload = self.codec.decode(text)
        if payload is None and (number := chosen_number(text)) is not None:
            payload = await self.choices.pick(user, number)
        incoming = (Incoming(CHANNEL, user, payload=payload) if payload is not None
                    else Incoming(CHANNEL, user, text=text))
        await self._answer(incoming, event_id)

    async def _on_image(self, event: dict[str, Any], event_id: str) -> None:
        user, message = self._user_of(event), event.get("message")
        if not user or not isinstance(message, dict):
            return self._unknown_shape(event, "sender.id or message")
        attachments = []
        for item in message.get("attachments") or []:
            payload = item.get("payload") if isinstance(item, dict) else None
            url = payload.get("url") if isinstance(payload, dict) else None
            if isinstance(url, str) and url:
                attachments.append(Attachment("image", url=url))
        if not attachments:
            return self._unknown_shape(event, "message.attachments[].payload.url")
        caption = message.get("text") if isinstance(message.get("text"), str) else ""
        await self._answer(Incoming(CHANNEL, user, text=caption, attachments=tuple(attachments)), event_id)

    async def _on_submit_info(self, event: dict[str, Any], event_id: str) -> None:
        """The citizen shared their Zalo account's details from the request card."""
        user, info = self._user_of(event), event.get("info")
        phone = info.get("phone") if isinstance(info, dict) else None
        if not user or not isinstance(phone, (str, int)) or not str(phone).strip():
            return self._unknown_shape(event, "sender.id or info.phone")
        assert isinstance(info, dict)
        name = info.get("name") if isinstance(info.get("name"), str) and info["name"].strip() else None
        contact = Contact(phone=normalize_phone(str(phone)) or str(phone).strip(), verified=True,
                          name=name.strip() if name else None)
        await self._answer(Incoming(CHANNEL, user, contact=contact), event_id)

    async def _on_follow(self, event: dict[str, Any], event_id: str) -> None:
        user = self._user_of(event)
        if not user:
            return self._unknown_shape(event, "follower.id")
        await self._answer(Incoming(CHANNEL, user, payload="welcome"), event_id)

    async def _on_unfollow(self, event: dict[str, Any], event_id: str) -> None:
        user = self._user_of(event)
        if not user:
            return self._unknown_shape(event, "follower.id")
        await self.bot.unreachable(CHANNEL, user, "unfollowed")

    async def _answer(self, incoming: Incoming, event_id: str) -> None:
        response = await self.bot.handle(incoming, event_id=event_id)
        if response.outcome == "duplicate":
            log.debug("zalo: event %s already handled, skipped", event_id)
            return
        if not response.replies:  # e.g. a flood from one user, past its one polite warning
            return
        delivery = await self._deliver(incoming.user_id, response.replies, CS_PATH, patient=True, in_turn=True)
        if delivery.status != "sent":
            log.warning("zalo: reply to %s not delivered: %s (%s)",
                        self.bot.user_key(CHANNEL, incoming.user_id), delivery.status, delivery.error)

    # -- housekeeping -------------------------------------------------------------------------

    async def housekeeping(self) -> tuple[int, int]:
        """Forget event ids older than any event we still accept, and expired numbered choices."""
        now = utcnow()
        max_age = dt.timedelta(seconds=self.settings.zalo.max_event_age_seconds)
        keep_ids = max(dt.timedelta(days=1), 2 * max_age)
        async with self.bot.database.session() as session:
            events = await session.exec(delete(InboundEvent).where(  # type: ignore[call-overload]
                InboundEvent.channel == CHANNEL, InboundEvent.received_at < now - keep_ids))
            choices = await self.choices.forget_expired(session, now)
            await session.commit()
        return events.rowcount or 0, choices

    def periodic(self) -> list[tuple[str, float, Callable[[], Awaitable[object]]]]:
        """The jobs the process's scheduler runs for this channel: (name, every seconds, job)."""
        return [("zalo:housekeeping", HOUSEKEEPING_INTERVAL, self.housekeeping)]

    # -- sending ------------------------------------------------------------------------------

    async def send(self, platform_id: str, replies: list[Reply], kind: str = "broadcast") -> Delivery:
        """A message outside a conversation turn: only to users who wrote to the OA lately
        (consultation messages), or, with zalo.promotion_enabled, as promotion messages."""
        row = await recipient(self.bot.database, CHANNEL, platform_id)
        if isinstance(row, Delivery):
            return row
        if not self.capabilities.may_push(kind, utcnow() - aware(row.last_seen_at)):
            if self.settings.zalo.promotion_enabled:
                return await self._deliver(platform_id, replies, PROMOTION_PATH)
            return Delivery("ineligible", error="outside_window")
        return await self._deliver(platform_id, replies, CS_PATH)

    async def _deliver(self, user: str, replies: list[Reply], path: str, patient: bool = False,
                       in_turn: bool = False) -> Delivery:
        """``in_turn``: the reply to the citizen's own message. A message outside a turn (a
        broadcast) replaces the pending numbered choices only with its own: without any, the
        number the citizen is about to type still means what the last reply offered."""
        if path == PROMOTION_PATH:
            messages: list[dict[str, Any]] = [{"promotion": reply} for reply in replies]
        else:
            rendered = render(replies, self.codec, self.info_image_url)
            if in_turn or rendered.choices:  # a broadcast without choices keeps the pending ones
                await self.choices.remember(user, rendered.choices)
            messages = rendered.messages
        deadline = time.monotonic() + (self.settings.server.reply_retry_seconds if patient else 0.0)
        return await in_order(messages, lambda message: self._send_one(user, message, path, deadline))

    async def _send_one(self, user: str, message: dict[str, Any], path: str,
                        deadline: float = 0.0) -> Delivery:
        """Up to SEND_ATTEMPTS tries; a reply in a conversation turn (``deadline`` set) goes on
        trying through an outage, with growing pauses, until ``deadline``."""
        delivery = Delivery("failed", error="not sent")
        attempt = 0
        while True:
            attempt += 1
            delivery = await self._attempt(user, message, path)
            if delivery.status != "retry":
                return delivery
            wait = delivery.retry_after or 1.0
            if attempt >= SEND_ATTEMPTS:
                wait = max(wait, reply_backoff(attempt - SEND_ATTEMPTS + 1))
                if time.monotonic() + wait > deadline:
                    return delivery
                log.warning("zalo: a reply is still not accepted (%s); trying again in %.1fs",
                            delivery.error, wait)
            elif wait > self.max_inline_wait:
                return delivery
            await asyncio.sleep(wait)

    async def _attempt(self, user: str, message: dict[str, Any], path: str) -> Delivery:
        try:
            if "image" in message:
                uploaded = await self._upload(message["image"])
                if not uploaded.ok or not uploaded.data.get("attachment_id"):
                    return self._delivery(uploaded, "upload")
                message = media_message(str(uploaded.data["attachment_id"]))
            elif "promotion" in message:
                reply: Reply = message["promotion"]
                banner = None
                if reply.image:
                    uploaded = await self._upload(reply.image)
                    if not uploaded.ok or not uploaded.data.get("attachment_id"):
                        return self._delivery(uploaded, "upload")
                    banner = str(uploaded.data.get("attachment_id"))
                message = promotion_message(reply, self.settings.office.name, self.codec, banner)
            body = {"recipient": {"user_id": user}, "message": message}
            result = await self._with_token(lambda token: self._api().post_message(path, token, body))
        except TokenUnavailable as exc:
            return Delivery("failed", error=f"token: {exc}")
        except ZaloTransportError as exc:
            log.warning("zalo: API unreachable: %s", exc)
            return Delivery("retry", error=f"network: {exc}", retry_after=NETWORK_RETRY)
        return self._delivery(result, path)

    async def _upload(self, image: bytes) -> ApiResult:
        return await self._with_token(lambda token: self._api().upload_image(token, image))

    async def _with_token(self, call: Any) -> ApiResult:
        """Make the call; on an invalid or expired token refresh once and call again."""
        token = await self.tokens.current()
        result: ApiResult = await call(token.access_token)
        if result.error in TOKEN_INVALID:
            log.info("zalo: access token refused (%d); refreshing", result.error)
            token = await self.tokens.refresh(token.version)
            result = await call(token.access_token)
        return result

    def _delivery(self, result: ApiResult, what: str) -> Delivery:
        code = result.error
        if code == 0:
            return Delivery("sent", message_id=str(result.data.get("message_id") or "") or None)
        reason = f"zalo {code}: {result.message}"
        if code in OUTSIDE_WINDOW:
            return Delivery("ineligible", error=f"outside_window ({reason})")
        if code == NOT_FOLLOWER:
            return Delivery("ineligible", error=f"not_follower ({reason})")
        if code == RATE_LIMITED:
            self.limiter.pause(self.rate_limit_backoff)
            log.warning("zalo: rate limited by Zalo; pausing sends for %.0f s", self.rate_limit_backoff)
            return Delivery("retry", error=reason, retry_after=self.rate_limit_backoff)
        if code in QUOTA_EXHAUSTED:
            log.warning("zalo: message quota exhausted: %s", reason)
            return Delivery("failed", error=f"quota ({reason})")
        if code in TOKEN_INVALID:
            return Delivery("failed", error=f"token ({reason})")
        if code == BAD_PARAMETER:
            log.error("zalo: BUG: Zalo refused a request to %s as a bad parameter: %s", what, reason)
            return Delivery("failed", error=f"bad_parameter ({reason})")
        log.error("zalo: request to %s failed: %s", what, reason)
        return Delivery("failed", error=reason)

