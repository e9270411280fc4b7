"""A lease in the database: "only one process does this at a time", with takeover.

Works the same on SQLite and PostgreSQL, with one conditional statement each time:
the row is taken when it is free, expired, or already ours, and the database serializes
concurrent attempts, so exactly one wins. The holder renews well before ``expires_at``; if it
dies, the lease expires and the next process to try takes it over.

The work a lease guards should also check it in the same statement where it matters (the
sender's claim does), so a holder that lost its lease while paused cannot act on stale belief.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import secrets
import socket
from collections.abc import Callable

from sqlalchemy import case, or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.clock import as_utc
from bot.storage.db import dialect_insert
from bot.storage.models import Lease, utcnow

log = logging.getLogger(__name__)
Clock = Callable[[], dt.datetime]
LEASES = Lease.__table__  # type: ignore[attr-defined]


def make_holder() -> str:
    """Names this process in the lease table (and in logs): host, pid, and a random tag."""
    return f"{socket.gethostname()[:80]}:{os.getpid()}:{secrets.token_hex(3)}"


class DatabaseLease:
    def __init__(
        self,
        engine: AsyncEngine,
        name: str,
        *,
        ttl: float,
        holder: str | None = None,
        clock: Clock = utcnow,
    ) -> None:
        self.engine = engine
        self.name = name
        self.ttl = dt.timedelta(seconds=ttl)
        self.holder = holder or make_holder()
        self.clock = lambda: as_utc(clock())  # type: ignore[return-value]
        self.held = False
        self.watermark: dt.datetime | None = None  # the previous holder's last renewal
        self._renew_at: dt.datetime | None = None

    def check_due(self, now: dt.datetime) -> bool:
        """True when it is time to talk to the database (acquire, or renew a held lease)."""
        return not self.held or self._renew_at is None or now >= self._renew_at

    async def acquire(self) -> bool:
        """Take or renew the lease; True while we hold it. On a fresh acquisition,
        ``watermark`` is when the previous holder was last known alive (None: never held)."""
        now = self.clock()
        expires = now + self.ttl
        async with self.engine.begin() as conn:
            row = (
                await conn.execute(
                    select(LEASES.c.holder, LEASES.c.renewed_at).where(LEASES.c.name == self.name)
                )
            ).first()
            if row is None:
                insert = dialect_insert(conn.dialect.name)(LEASES)
                result = await conn.execute(
                    insert.values(
                        name=self.name,
                        holder=self.holder,
                        acquired_at=now,
                        renewed_at=now,
                        expires_at=expires,
                    )
                    .on_conflict_do_nothing(index_elements=["name"])
                    .returning(LEASES.c.name)
                )
                got = result.first() is not None
                previous = None
            else:
                result = await conn.execute(
                    update(LEASES)
                    .where(
                        LEASES.c.name == self.name,
                        or_(LEASES.c.holder == self.holder, LEASES.c.expires_at <= now),
                    )
                    .values(
                        holder=self.holder,
                        renewed_at=now,
                        expires_at=expires,
                        acquired_at=case(
                            (LEASES.c.holder == self.holder, LEASES.c.acquired_at), else_=now
                        ),
                    )
                )
                got = result.rowcount == 1
                previous = as_utc(row.renewed_at) if row.holder != self.holder else None
        if got and not self.held:
            self.watermark = previous
            log.info("lease %s: acquired by %s", self.name, self.holder)
        elif self.held and not got:
            log.warning("lease %s: lost by %s (another process took over)", self.name, self.holder)
        self.held = got
        self._renew_at = now + self.ttl / 3 if got else None
        return got

    async def release(self) -> None:
        """Give the lease up now (a graceful stop), so another process need not wait."""
        if not self.held:
            return
        now = self.clock()
        self.held = False
        async with self.engine.begin() as conn:
            await conn.execute(
                update(LEASES)
                .where(LEASES.c.name == self.name, LEASES.c.holder == self.holder)
                .values(renewed_at=now, expires_at=now)
            )
        log.info("lease %s: released by %s", self.name, self.holder)
