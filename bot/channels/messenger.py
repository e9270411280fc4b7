"""The Facebook Messenger channel: the commune's fan page answers like the Zalo OA does.

This module is the adapter (the core's ``Channel`` port, with ``bot.ports.MESSENGER`` its
capabilities: the 24-hour rule and Meta's limits); what is Messenger's own lives beside it:
``messenger_webhook`` (handshake, signature, events), ``messenger_render`` (template, quick
replies, numbered choices) and ``messenger_api`` (Send and Profile APIs, the error codes).

Meta wants a webhook answered within seconds and delivers again what was not answered 200, so
the route checks the signature first, reads the events, queues them and answers 200; workers
answer in the background, each user's events on the same worker, in order. The queues are
bounded by ``server.max_backlog``: when they are full the request is refused with 503 (Meta
delivers it again), never accepted and dropped. A ``mid`` seen lately is skipped at once, and
the turn records it (``InboundEvent``), so an event delivered again is answered once.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp import web
from sqlalchemy import delete
from sqlmodel import col

from bot.channels.choices import ChoiceStore, chosen_number
from bot.channels.delivering import in_order, recipient
from bot.channels.messenger_api import GraphApi, GraphTransportError, messaging_for, verdict
from bot.channels.messenger_render import render
from bot.channels.messenger_webhook import (
    CHANNEL,
    SIGNATURE_HEADER,
    Event,
    Refused,
    events,
    handshake,
    verify,
)
from bot.channels.workqueue import WorkQueues
from bot.channels.zalo_api import RateLimiter
from bot.clock import aware
from bot.http import read_body
from bot.messages import Incoming, Reply
from bot.ports import MESSENGER, Delivery
from bot.pressure import RecentIds, reply_backoff
from bot.storage.models import InboundEvent, utcnow

if TYPE_CHECKING:
    from bot.ports import Conversation

log = logging.getLogger(__name__)

WEBHOOK_MAX_BYTES = 256 * 1024  # Meta may batch several events in one POST
WORKERS = 16
ENQUEUE_WAIT = 1.0  # seconds to wait for room in a full queue before refusing with 503
RATE_LIMIT_BACKOFF = 30.0  # seconds without sending after Meta says a rate limit was hit
MAX_INLINE_WAIT = 30.0  # longest pause for a retry inside one delivery
SEND_ATTEMPTS = 3
NETWORK_RETRY = 2.0
SLOW_ANSWER = 0.8  # seconds: an answer not ready by then is announced with "typing…"
EVENTS_KEPT = dt.timedelta(days=2)  # Meta retries a failed delivery for at most a day or so
HOUSEKEEPING_INTERVAL = 6 * 3600.0  # seconds


def _choices(bot: Conversation) -> ChoiceStore:
    """Each user's numbered choices, keyed by a pseudonym of the PSID (``mc:``)."""
    secret = hmac.new(bot.salt, b"messenger choices", hashlib.sha256).digest()

    def key(user: str) -> str:
        return "mc:" + hmac.new(secret, user.encode(), hashlib.sha256).hexdigest()[:21]

    return ChoiceStore(bot.database, CHANNEL, "mc:", key)


class MessengerChannel:
    name = CHANNEL
    capabilities = MESSENGER

    def __init__(self, bot: Conversation, *, workers: int = WORKERS, queue_size: int | None = None,
                 rate_limit_backoff: float = RATE_LIMIT_BACKOFF,
                 max_inline_wait: float = MAX_INLINE_WAIT, slow_answer: float = SLOW_ANSWER) -> None:
        settings = bot.settings
        secrets = settings.secrets
        token, app_secret, verify_token = (secrets.messenger_page_token, secrets.messenger_app_secret,
                                           secrets.messenger_verify_token)
        if token is None or app_secret is None or verify_token is None:
            raise ValueError("Messenger needs CCHC_MESSENGER_PAGE_TOKEN, CCHC_MESSENGER_APP_SECRET "
                             "and CCHC_MESSENGER_VERIFY_TOKEN")
        self.bot = bot
        self.settings = settings
        self._page_token = token.get_secret_value()
        self._app_secret = app_secret.get_secret_value()
        self._verify_token = verify_token.get_secret_value()
        self.choices = _choices(bot)
        self.rate_limit_backoff = rate_limit_backoff
        self.max_inline_wait = max_inline_wait
        self.slow_answer = slow_answer
        self._http: aiohttp.ClientSession | None = None
        # Our own pace under Meta's, and the pause after Meta says a rate limit was hit.
        self.limiter = RateLimiter(max(1, int(settings.messenger.send_rate)), 1.0)
        self.queues: WorkQueues[Event] = WorkQueues(
            CHANNEL, self._answer, workers=workers, queue_size=queue_size,
            max_backlog=settings.server.max_backlog, degraded_at=settings.server.backlog_degraded,
            enqueue_wait=ENQUEUE_WAIT)
        self.backlog = self.queues.backlog
        self._accepting = True
        self._recent = RecentIds()

    # -- lifecycle ------------------------------------------------------------------------------

    def api(self) -> GraphApi:
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession()
        config = self.settings.messenger
        return GraphApi(config.api_base_url, config.graph_version, self._page_token,
                        self._app_secret, self._http)

    def setup_routes(self, app: web.Application) -> None:
        path = self.settings.messenger.webhook_path
        app.router.add_get(path, self.verification)
        app.router.add_post(path, self.webhook)

    async def start(self) -> None:
        self._accepting = True
        self.queues.start()
        log.info("messenger: webhook at %s", self.settings.messenger.webhook_path)

    async def stop(self, timeout: float = 20.0) -> None:
        """Refuse new events, finish the queued ones (up to ``timeout``), then stop."""
        self._accepting = False
        await self.queues.stop(timeout)
        if self._http is not None:
            await self._http.close()
            self._http = None

    async def idle(self, timeout: float = 10.0) -> None:
        """Wait until every accepted event has been handled."""
        await self.queues.idle(timeout)

    def health(self) -> dict[str, Any]:
        queues = self.queues.health()
        busy = queues["queue_full"] or queues["backlogged"]
        return {"status": "degraded" if busy else "ok", **queues,
                "rate_limit_pause_s": round(self.limiter.paused_for, 1)}

    # -- the webhook ----------------------------------------------------------------------------

    async def verification(self, request: web.Request) -> web.Response:
        """The subscription handshake Meta makes when the callback URL is saved."""
        try:
            challenge = handshake(request.query, self._verify_token)
        except Refused as refused:
            log.warning("messenger: verification refused (%s)", refused.reason)
            return web.Response(status=refused.status, text="forbidden")
        return web.Response(text=challenge)

    async def webhook(self, request: web.Request) -> web.Response:
        raw = await read_body(request, WEBHOOK_MAX_BYTES)
        try:
            body = verify(raw, request.headers.get(SIGNATURE_HEADER), self._app_secret)
        except Refused as refused:
            log.warning("messenger: webhook refused (%s) from %s", refused.reason, request.remote)
            return web.json_response({"error": refused.reason}, status=refused.status)
        if not self._accepting:
            return web.json_response({"error": "shutting down"}, status=503)
        for event in events(body):
            if not self._recent.first_time(event.event_id):
                log.info("messenger: duplicate event ignored")
                continue
            if not await self.queues.put(event.incoming.user_id, event):
                self._recent.forget(event.event_id)  # delivered again later, it is a first time
                return web.json_response({"error": "busy"}, status=503)
        return web.json_response({"ok": True})

    # -- answering ------------------------------------------------------------------------------

    async def _answer(self, event: Event) -> None:
        incoming = event.incoming
        user = incoming.user_id
        if event.typed and (number := chosen_number(incoming.text)) is not None:
            payload = await self.choices.pick(user, number)
            if payload is not None:
                incoming = Incoming(CHANNEL, user, payload=payload)
        typing = asyncio.create_task(self._typing_after(user, self.slow_answer))
        try:
            response = await self.bot.handle(incoming, event_id=event.event_id)
        finally:
            typing.cancel()
        if response.outcome == "duplicate":
            log.info("messenger: event already handled, skipped")
            return
        if not response.replies:  # e.g. a flood from one user, past its one polite warning
            return
        patience = time.monotonic() + self.settings.server.reply_retry_seconds
        delivery = await self._deliver(user, response.replies, {"messaging_type": "RESPONSE"}, patience)
        if delivery.status == "blocked":  # what follows is the core's to decide
            await self.bot.unreachable(CHANNEL, user, "blocked")
        if delivery.status != "sent":
            log.warning("messenger: reply to %s not delivered: %s (%s)",
                        self.bot.user_key(CHANNEL, user), delivery.status, delivery.error)

    async def _typing_after(self, user: str, seconds: float) -> None:
        """Show "typing…" when the answer takes a while (a receipt photo to read, a slow database)."""
        await asyncio.sleep(seconds)
        await self.limiter.acquire()
        try:
            await self.api().send({"recipient": {"id": user}, "sender_action": "typing_on"})
        except GraphTransportError:
            pass  # only a courtesy

    # -- sending --------------------------------------------------------------------------------

    async def send(self, platform_id: str, replies: list[Reply], kind: str = "broadcast") -> Delivery:
        """A message the bot starts itself: inside the 24-hour window, or tagged ACCOUNT_UPDATE
        for the kinds the capabilities let through outside it (a ticket's answer, a dossier's
        status change), or not at all (ineligible). A "blocked" outcome is the outbox's to record."""
        row = await recipient(self.bot.database, CHANNEL, platform_id)
        if isinstance(row, Delivery):
            return row
        since = utcnow() - aware(row.last_seen_at)
        if not self.capabilities.may_push(kind, since):
            return Delivery("ineligible", error="outside_window")
        window = self.capabilities.push_window
        mode = messaging_for(inside_window=window is None or since < window)
        return await self._deliver(platform_id, replies, mode, 0.0)

    async def _deliver(self, user: str, replies: list[Reply], mode: dict[str, str],
                       patient_until: float) -> Delivery:
        rendered = render(replies)
        await self.choices.remember(user, rendered.choices)
        if not rendered.messages:
            return Delivery("failed", error="nothing to send")
        return await in_order(rendered.messages,
                              lambda message: self._send_one(user, message, mode, patient_until))

    async def _send_one(self, user: str, message: dict[str, Any], mode: dict[str, str],
                        patient_until: float) -> Delivery:
        """Up to SEND_ATTEMPTS tries; a reply in a conversation turn goes on trying through an
        outage or a rate limit, with growing pauses, until ``patient_until``."""
        attempt = 0
        while True:
            pause = self.limiter.paused_for
            if pause > 0:
                if time.monotonic() + pause > patient_until:
                    return Delivery("retry", error="rate limited by Meta", retry_after=pause)
                await asyncio.sleep(pause)
            attempt += 1
            delivery = await self._attempt(user, message, mode)
            if delivery.status != "retry":
                return delivery
            if self.limiter.paused_for > 0:
                continue  # rate limited: waited out above, or handed back to the outbox
            wait = delivery.retry_after or reply_backoff(attempt)
            late = time.monotonic() + wait > patient_until
            if late and (attempt >= SEND_ATTEMPTS or wait > self.max_inline_wait):
                return delivery
            await asyncio.sleep(wait)

    async def _attempt(self, user: str, message: dict[str, Any], mode: dict[str, str]) -> Delivery:
        body: dict[str, Any] = {"recipient": {"id": user}, **mode}
        await self.limiter.acquire()
        try:
            if "image" in message:
                body["message"] = {"attachment": {"type": "image", "payload": {"is_reusable": False}}}
                result = await self.api().send_image(body, message["image"])
            else:
                result = await self.api().send({**body, "message": message})
        except GraphTransportError as exc:
            log.warning("messenger: Graph API unreachable: %s", exc)
            return Delivery("retry", error=f"network: {exc}", retry_after=NETWORK_RETRY)
        outcome, reason = verdict(result)
        if outcome == "sent":
            return Delivery("sent", message_id=str(result.body.get("message_id") or "") or None)
        if outcome == "rate_limited":
            self.limiter.pause(self.rate_limit_backoff)
            log.warning("messenger: rate limited by Meta (%s); pausing sends for %.0f s",
                        reason, self.rate_limit_backoff)
            return Delivery("retry", error=reason, retry_after=self.rate_limit_backoff)
        if outcome == "retry":
            return Delivery("retry", error=reason)
        if outcome in ("blocked", "ineligible"):
            return Delivery(outcome, error=reason)
        log.error("messenger: Meta refused a message: %s", reason)
        return Delivery("failed", error=reason)

    # -- housekeeping -----------------------------------------------------------------------

    async def housekeeping(self) -> tuple[int, int]:
        """Forget event ids Meta no longer delivers again, and expired numbered choices."""
        now = utcnow()
        async with self.bot.database.session() as session:
            old_events = await session.exec(delete(InboundEvent).where(  # type: ignore[call-overload]
                col(InboundEvent.channel) == CHANNEL, col(InboundEvent.received_at) < now - EVENTS_KEPT))
            old_choices = await self.choices.forget_expired(session, now)
            await session.commit()
        return old_events.rowcount or 0, old_choices

    def periodic(self) -> list[tuple[str, float, Callable[[], Awaitable[object]]]]:
        """The jobs the process's scheduler runs for this channel: (name, every seconds, job)."""
        return [("messenger:housekeeping", HOUSEKEEPING_INTERVAL, self.housekeeping)]
