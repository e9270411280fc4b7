"""Webhook events answered in the background, for platforms that want a quick 200 (Zalo,
Messenger): a few workers, each with its own bounded queue, and one user's events always on the
same worker, so that a citizen's messages are answered in order.

The queues together hold at most ``server.max_backlog`` events; when the one an event belongs
to stays full for ``enqueue_wait`` seconds the event is refused (``put`` returns False), so the
webhook answers 503 *before* acknowledging it and the platform delivers it again later.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import zlib
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Generic, TypeVar

from bot.pressure import Backlog

log = logging.getLogger(__name__)
Item = TypeVar("Item")


async def cancel(tasks: Iterable[asyncio.Task]) -> None:
    """Cancel background tasks and wait until they have stopped."""
    tasks = list(tasks)
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task


class WorkQueues(Generic[Item]):
    def __init__(self, name: str, handle: Callable[[Item], Awaitable[None]], *, workers: int,
                 max_backlog: int, degraded_at: int, queue_size: int | None = None,
                 enqueue_wait: float = 1.0) -> None:
        self.name = name
        self._handle = handle
        if queue_size is None:
            queue_size = max(1, -(-max_backlog // workers))
        capacity = (queue_size + 1) * workers  # waiting in the queues, and one in each worker's hands
        self.backlog = Backlog(capacity, min(degraded_at, capacity))
        self._queues: list[asyncio.Queue[Item]] = [asyncio.Queue(maxsize=queue_size)
                                                   for _ in range(workers)]
        self._tasks: list[asyncio.Task] = []
        self.enqueue_wait = enqueue_wait
        self.processed = 0

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._work(q), name=f"{self.name}-worker-{i}")
                       for i, q in enumerate(self._queues)]

    async def put(self, user: str, item: Item) -> bool:
        """Queue ``item`` on ``user``'s worker; False (counted as refused) when there is no room."""
        queue = self._queues[zlib.crc32(user.encode()) % len(self._queues)]
        self.backlog.enter()  # bounded by the queues themselves (their sizes, plus the workers)
        try:
            queue.put_nowait(item)
        except asyncio.QueueFull:
            try:
                await asyncio.wait_for(queue.put(item), self.enqueue_wait)
            except TimeoutError:
                self.backlog.leave()
                self.backlog.refused += 1
                log.warning("%s: event queue is full (%d waiting); refusing an event with 503 "
                            "(%d refused so far) so that it is delivered again", self.name,
                            self.queued, self.backlog.refused)
                return False
        return True

    async def _work(self, queue: asyncio.Queue[Item]) -> None:
        while True:
            item = await queue.get()
            try:
                await self._handle(item)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("%s: failed to handle an event", self.name)
            finally:
                self.processed += 1
                self.backlog.leave()
                queue.task_done()

    @property
    def queued(self) -> int:
        return sum(q.qsize() for q in self._queues)

    async def idle(self, timeout: float = 10.0) -> None:
        """Wait until every accepted event has been handled."""
        await asyncio.wait_for(asyncio.gather(*(q.join() for q in self._queues)), timeout)

    async def stop(self, timeout: float) -> None:
        """Finish the queued events (up to ``timeout``), then stop the workers."""
        if self._tasks:
            try:
                await self.idle(timeout)
            except TimeoutError:
                log.error("%s: stopping with %d events still unanswered after %.0f s",
                          self.name, self.queued, timeout)
        await cancel(self._tasks)
        self._tasks = []

    def health(self) -> dict[str, Any]:
        """Queue and backlog figures for /healthz."""
        backlog = self.backlog.health()
        full = any(q.full() for q in self._queues)
        return {"queued": self.queued, "capacity": sum(q.maxsize for q in self._queues),
                "queue_full": full, "refused_full": self.backlog.refused, **backlog}
