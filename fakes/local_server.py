"""What the fakes of remote platforms (Zalo, Meta's Graph) share: a real aiohttp server on
127.0.0.1 at a random port, and a sliding-window request limit like the platforms keep."""

from __future__ import annotations

import collections
import time
from typing import Self

from aiohttp import web
from aiohttp.test_utils import TestServer


class LocalServer:
    server: TestServer | None = None

    def app(self) -> web.Application:
        raise NotImplementedError

    async def start(self) -> Self:
        self.server = TestServer(self.app(), host="127.0.0.1")
        await self.server.start_server()
        return self

    async def close(self) -> None:
        if self.server is not None:
            await self.server.close()

    @property
    def url(self) -> str:
        assert self.server is not None
        return str(self.server.make_url("")).rstrip("/")


class RequestWindow:
    """At most ``limit`` requests in any ``seconds``: ``allow()`` counts one, or says no."""

    def __init__(self, limit: int, seconds: float) -> None:
        self.limit = limit
        self.seconds = seconds
        self._stamps: collections.deque[float] = collections.deque()

    @property
    def used(self) -> int:
        now = time.monotonic()
        while self._stamps and self._stamps[0] <= now - self.seconds:
            self._stamps.popleft()
        return len(self._stamps)

    def allow(self) -> bool:
        if self.used >= self.limit:
            return False
        self._stamps.append(time.monotonic())
        return True
