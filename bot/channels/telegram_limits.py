"""Keeping within Telegram's limits, and surviving its errors.

Every Bot API call python-telegram-bot makes goes through ``TelegramRateLimiter`` (a
``telegram.ext.BaseRateLimiter``; ``getUpdates`` excepted by the library):

- messages to a chat wait for tokens: about 30 messages/s overall, 1 message/s in a private
  chat, 20 per minute in a group (a few messages may go at once: Telegram tolerates short bursts);
- 429 "Too Many Requests" is honoured: sending pauses for ``retry_after`` seconds, then the
  request is tried again, a bounded number of times;
- network errors and timeouts are retried with exponential backoff, a bounded number of times.
  (A timed-out send may in rare cases have reached Telegram; retrying risks that one duplicate
  rather than losing the message.)
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
import warnings
from collections.abc import Callable, Coroutine
from typing import Any

from telegram.error import BadRequest, NetworkError, RetryAfter
from telegram.ext import BaseRateLimiter
from telegram.warnings import PTBDeprecationWarning

log = logging.getLogger(__name__)

CHAT_BURST = 3  # messages a chat may receive at once before its rate applies
MAX_BUCKETS = 4096  # idle per-chat buckets are dropped beyond this many


def retry_after_seconds(exc: RetryAfter) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, dt.timedelta) else float(value)


class TokenBucket:
    """``rate`` tokens per second up to ``capacity``; waiters are served first come, first served."""

    def __init__(self, rate: float, capacity: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        if rate <= 0 or capacity < 1:
            raise ValueError("rate must be positive and capacity at least 1")
        self.rate = rate
        self.capacity = capacity
        self._clock = clock
        self._tokens = capacity
        self._updated = clock()
        self._lock = asyncio.Lock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.capacity, self._tokens + (now - self._updated) * self.rate)
        self._updated = now

    @property
    def idle(self) -> bool:
        """Full and nobody waiting: the bucket can be forgotten."""
        self._refill()
        return self._tokens >= self.capacity and not self._lock.locked()

    async def acquire(self) -> None:
        async with self._lock:
            while True:
                self._refill()
                if self._tokens >= 1:
                    self._tokens -= 1
                    return
                await asyncio.sleep((1 - self._tokens) / self.rate)


class TelegramRateLimiter(BaseRateLimiter[None]):
    # Methods that put a message into a chat: these count towards the chat and overall limits.
    THROTTLED = frozenset({
        "sendMessage", "sendPhoto", "sendDocument", "sendMediaGroup", "sendLocation", "sendContact",
        "sendVideo", "sendAudio", "sendVoice", "sendAnimation", "sendSticker", "sendPoll",
        "copyMessage", "forwardMessage", "editMessageText", "editMessageReplyMarkup",
        "editMessageCaption", "editMessageMedia",
    })

    def __init__(
        self,
        overall_rate: float,
        private_rate: float,
        group_rate_per_minute: float,
        *,
        max_flood_retries: int = 8,
        max_flood_wait: float = 120.0,
        max_network_retries: int = 3,
        backoff: float = 0.25,
        max_backoff: float = 8.0,
    ) -> None:
        self.overall = TokenBucket(overall_rate)
        self.private_rate = private_rate
        self.group_rate = group_rate_per_minute / 60.0
        self.max_flood_retries = max_flood_retries
        self.max_flood_wait = max_flood_wait
        self.max_network_retries = max_network_retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self._chats: dict[str, TokenBucket] = {}
        self._resume_at = 0.0  # monotonic time until which sending pauses after a 429
        self.flood_waits = 0  # 429s seen (for logs and tests)
        self.network_retries = 0

    @property
    def paused_for(self) -> float:
        """Seconds left of a flood-limit pause (0 when sending freely)."""
        return max(0.0, self._resume_at - time.monotonic())

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        self._chats.clear()

    def _bucket(self, chat_id: object) -> TokenBucket:
        key = str(chat_id)
        bucket = self._chats.get(key)
        if bucket is None:
            if len(self._chats) >= MAX_BUCKETS:
                for other in [k for k, b in self._chats.items() if b.idle]:
                    del self._chats[other]
            private = key.isdigit()  # users have positive ids; groups negative, channels "@name"
            rate = self.private_rate if private else self.group_rate
            bucket = self._chats[key] = TokenBucket(rate, capacity=CHAT_BURST)
        return bucket

    async def _wait_for_flood_pause(self) -> None:
        while (delay := self._resume_at - time.monotonic()) > 0:
            await asyncio.sleep(delay)

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        throttled = endpoint in self.THROTTLED and data.get("chat_id") is not None
        floods = failures = 0
        while True:
            if throttled:
                await self._wait_for_flood_pause()
                await self._bucket(data["chat_id"]).acquire()
                await self.overall.acquire()
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as exc:
                wait = retry_after_seconds(exc)
                floods += 1
                self.flood_waits += 1
                if floods > self.max_flood_retries or wait > self.max_flood_wait:
                    log.warning("telegram %s: still flood-limited after %d tries (retry after %.0fs)",
                                endpoint, floods, wait)
                    raise
                log.info("telegram %s: flood limit, pausing sends for %.1fs", endpoint, wait)
                self._resume_at = max(self._resume_at, time.monotonic() + wait)
                if not throttled:
                    await asyncio.sleep(wait)
            except BadRequest:
                raise  # our request is wrong: sending it again will not help
            except NetworkError as exc:  # includes TimedOut and 5xx answers
                failures += 1
                if failures > self.max_network_retries:
                    raise
                self.network_retries += 1
                delay = min(self.max_backoff, self.backoff * 2 ** (failures - 1))
                log.warning("telegram %s: %s; retrying in %.2fs", endpoint, exc, delay)
                await asyncio.sleep(delay)
