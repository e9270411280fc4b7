"""The rate limiter on its own: token buckets, 429 pauses, bounded retries."""

from __future__ import annotations

import asyncio
import datetime as dt
import time

import pytest
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut

from bot.channels.telegram_limits import TelegramRateLimiter, TokenBucket


class Api:
    """The request a limiter wraps: answers with the outcomes given, recording call times."""

    def __init__(self, *outcomes: BaseException | None) -> None:
        self.outcomes = list(outcomes)
        self.times: list[float] = []

    async def __call__(self) -> dict:
        self.times.append(time.monotonic())
        outcome = self.outcomes.pop(0) if self.outcomes else None
        if outcome is not None:
            raise outcome
        return {"message_id": len(self.times)}


def limiter(**kwargs: float) -> TelegramRateLimiter:
    return TelegramRateLimiter(kwargs.pop("overall", 1000.0), kwargs.pop("private", 1000.0),
                               kwargs.pop("group", 60000.0), backoff=0.01, **kwargs)  # type: ignore[arg-type]


async def send(rl: TelegramRateLimiter, api: Api, chat_id: int = 1, endpoint: str = "sendMessage") -> object:
    return await rl.process_request(api, (), {}, endpoint, {"chat_id": chat_id, "text": "x"}, None)


async def test_token_bucket_spaces_acquisitions() -> None:
    bucket = TokenBucket(rate=20, capacity=1)
    start = time.monotonic()
    for _ in range(5):
        await bucket.acquire()
    assert time.monotonic() - start >= 4 / 20 - 0.01


async def test_private_chat_and_overall_limits() -> None:
    rl = limiter(private=10.0)  # burst of 3, then 10/s in one chat
    api = Api()
    start = time.monotonic()
    await asyncio.gather(*(send(rl, api, chat_id=7) for _ in range(6)))
    assert time.monotonic() - start >= 0.3 - 0.01
    others = Api()
    start = time.monotonic()
    await asyncio.gather(*(send(rl, others, chat_id=100 + i) for i in range(6)))  # other chats: no wait
    assert time.monotonic() - start < 0.2
    overall = limiter(overall=20.0)
    start = time.monotonic()
    await asyncio.gather(*(send(overall, Api(), chat_id=200 + i) for i in range(5)))
    assert time.monotonic() - start >= 4 / 20 - 0.01


async def test_group_rate_is_per_minute() -> None:
    rl = limiter(group=600.0)  # 10/s in a group, after a burst of 3
    api = Api()
    start = time.monotonic()
    await asyncio.gather(*(send(rl, api, chat_id=-100123) for _ in range(5)))
    assert time.monotonic() - start >= 0.2 - 0.01


async def test_retry_after_pauses_then_retries() -> None:
    rl = limiter()
    api = Api(RetryAfter(dt.timedelta(seconds=0.3)))
    assert await send(rl, api) == {"message_id": 2}
    assert len(api.times) == 2 and api.times[1] - api.times[0] >= 0.3 - 0.01
    assert rl.flood_waits == 1


async def test_a_flood_pause_holds_every_chat() -> None:
    rl = limiter()
    first, second = Api(RetryAfter(dt.timedelta(seconds=0.3))), Api()
    task = asyncio.create_task(send(rl, first, chat_id=1))
    await asyncio.sleep(0.05)  # the first got its 429
    start = time.monotonic()
    await send(rl, second, chat_id=2)
    assert time.monotonic() - start >= 0.2
    await task


async def test_flood_retries_are_bounded() -> None:
    rl = limiter(max_flood_retries=2)
    api = Api(*[RetryAfter(dt.timedelta(seconds=0.01))] * 5)
    with pytest.raises(RetryAfter):
        await send(rl, api)
    assert len(api.times) == 3
    too_long = Api(RetryAfter(600))
    with pytest.raises(RetryAfter):
        await send(limiter(), too_long)  # beyond max_flood_wait: the caller decides (outbox: retry later)
    assert len(too_long.times) == 1


async def test_network_errors_back_off_and_give_up() -> None:
    api = Api(NetworkError("Bad Gateway (502)"), TimedOut())
    assert await send(limiter(), api) == {"message_id": 3}
    assert api.times[2] - api.times[1] >= api.times[1] - api.times[0]  # backing off
    failing = Api(*[NetworkError("down")] * 10)
    with pytest.raises(NetworkError):
        await send(limiter(max_network_retries=3), failing)
    assert len(failing.times) == 4


@pytest.mark.parametrize("error", [BadRequest("Bad Request: chat not found"), Forbidden("Forbidden: bot was blocked by the user")])
async def test_refusals_are_not_retried(error: Exception) -> None:
    api = Api(error)
    with pytest.raises(type(error)):
        await send(limiter(), api)
    assert len(api.times) == 1
