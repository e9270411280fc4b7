"""Staying up under pressure: per-user rate limits, bounded request bodies, and
the backlog every channel keeps within ``server.max_backlog``.

Backpressure is by refusal, never by dropping: a webhook that cannot take an update answers
503 *before* acknowledging it, so Telegram and Zalo deliver it again later, and the memory an
update may hold while it waits is bounded by ``server.max_backlog`` per channel. (The other way,
writing every accepted update to the database first, would add a write per message and fail
exactly when the database is the thing that is down.)
"""

from __future__ import annotations

import collections
import time
from collections.abc import Callable
from dataclasses import dataclass

WEB_CHAT_MAX_BYTES = 16 * 1024  # a question of 4,000 characters with its JSON fits
ZALO_EVENT_MAX_BYTES = 64 * 1024  # Zalo events are small; a text message is at most 2,000 characters
TELEGRAM_UPDATE_MAX_BYTES = 1 << 20  # a message with its reply, entities and a long caption
MAX_TRACKED_USERS = 50_000  # rate-limit buckets kept in memory; the idlest are forgotten first

RATE_LIMITED_TEXT = (
    "Dạ, Anh/Chị gửi tin nhắn hơi nhanh nên em chưa kịp trả lời hết. Anh/Chị vui lòng đợi "
    "khoảng {seconds} giây rồi gửi lại câu hỏi giúp em ạ."
)
BUSY_TEXT = "Dạ, hệ thống đang bận do có nhiều người hỏi cùng lúc. Anh/Chị vui lòng gửi lại sau ít giây ạ."


# A reply the platform could not take (5xx, time-outs) is tried again, waiting REPLY_RETRY_FIRST
# seconds and doubling up to REPLY_RETRY_MAX, until server.reply_retry_seconds have passed.
REPLY_RETRY_FIRST = 1.0
REPLY_RETRY_MAX = 30.0


def reply_backoff(attempt: int) -> float:
    """Seconds to wait before try number ``attempt + 1`` of a reply (attempt counts from 1)."""
    return min(REPLY_RETRY_MAX, REPLY_RETRY_FIRST * 2 ** (attempt - 1))


@dataclass
class _Bucket:
    tokens: float
    updated: float
    warned: bool = False


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    warn: bool = False  # the first refused message of a run: answer it politely, once
    retry_after: float = 0.0  # seconds until the next message would be allowed


class UserRateLimiter:
    """A token bucket per user: ``per_minute`` messages a minute after a burst of ``burst``.

    Memory is bounded: at most ``max_users`` buckets, the least recently seen dropped first (a
    dropped user simply starts again with a full bucket).
    """

    def __init__(self, per_minute: float, burst: int, max_users: int = MAX_TRACKED_USERS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self.max_users = max_users
        self.clock = clock
        self._buckets: collections.OrderedDict[str, _Bucket] = collections.OrderedDict()
        self.refused = 0

    def __len__(self) -> int:
        return len(self._buckets)

    def check(self, key: str) -> Verdict:
        now = self.clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(self.burst, now)
            while len(self._buckets) > self.max_users:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
            bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            bucket.warned = False
            return Verdict(True)
        self.refused += 1
        warn = not bucket.warned
        bucket.warned = True
        return Verdict(False, warn, (1.0 - bucket.tokens) / self.rate)


class Backlog:
    """Work accepted and not yet finished, for one channel: refuse beyond ``limit``."""

    def __init__(self, limit: int, degraded_at: int) -> None:
        self.limit = limit
        self.degraded_at = degraded_at
        self.pending = 0
        self.peak = 0
        self.refused = 0

    @property
    def full(self) -> bool:
        return self.pending >= self.limit

    def enter(self) -> bool:
        """Take one more unit of work; False (and counted as refused) when at the limit."""
        if self.pending >= self.limit:
            self.refused += 1
            return False
        self.pending += 1
        self.peak = max(self.peak, self.pending)
        return True

    def leave(self) -> None:
        self.pending = max(0, self.pending - 1)

    def health(self) -> dict[str, int | bool]:
        return {"backlog": self.pending, "backlog_limit": self.limit, "backlog_peak": self.peak,
                "refused_busy": self.refused, "backlogged": self.pending >= self.degraded_at}


class RecentIds:
    """The platform event ids a channel saw last, in memory: a quick redelivery is caught
    without the database, and while the database is down it is the only check there is (the
    lasting one is the turn's InboundEvent row, see ``BotApp.handle``)."""

    def __init__(self, size: int = 2048) -> None:
        self.size = size
        self._ids: collections.OrderedDict[str, None] = collections.OrderedDict()

    def first_time(self, event_id: str) -> bool:
        """Remember ``event_id``; False when it was already remembered."""
        if event_id in self._ids:
            return False
        self._ids[event_id] = None
        if len(self._ids) > self.size:
            self._ids.popitem(last=False)
        return True

    def forget(self, event_id: str) -> None:
        self._ids.pop(event_id, None)
