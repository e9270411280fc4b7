"""Zalo OA tokens: one pair in the database, refreshed ahead of expiry under a database lock.

Refresh tokens are single-use, so two workers must never refresh at once: a refresh takes a
lock on the ``oauth_token`` row (``SELECT ... FOR UPDATE`` on PostgreSQL, ``BEGIN IMMEDIATE``
on SQLite), checks the row's ``version`` (another worker may have refreshed while we waited:
then its pair is used), asks Zalo for a new pair and saves it in the same transaction before
anything uses it.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.channels.zalo_api import TokenPair, TokenRejected, ZaloOAuth, ZaloTransportError
from bot.config import Settings
from bot.storage.db import Database, is_sqlite
from bot.storage.models import AuditEvent, OAuthToken, utcnow

log = logging.getLogger(__name__)

PROVIDER = "zalo"
REFRESH_MARGIN = dt.timedelta(hours=1)  # refresh when the access token has less left than this
SEEDED_ACCESS_LIFETIME = dt.timedelta(hours=2)  # CCHC_ZALO_ACCESS_TOKEN's expiry is unknown
RETRY_AFTER_FAILURE = 60.0  # seconds before the schedule tries again after a network failure
DEAD_RECHECK = 300.0  # seconds between checks for a new authorization while the token is dead
MAX_SLEEP = 3600.0
REAUTHORIZE = (
    "re-authorize the Official Account: run `cchc-bot zalo authorize --redirect-uri <the app's "
    "callback URL>` on a machine with this bot's configuration and database, open the printed "
    "link as an OA administrator, and paste back the code; the running bot picks the new "
    "token up by itself"
)
_TABLE = OAuthToken.__table__  # type: ignore[attr-defined]


class TokenUnavailable(Exception):
    """No usable access token: never authorized, or the refresh token is dead."""


@dataclass(frozen=True)
class CurrentToken:
    access_token: str
    version: int
    expires_at: dt.datetime


def _aware(value: dt.datetime) -> dt.datetime:
    """SQLite hands back naive datetimes; every time here is UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def _current(row: Any) -> CurrentToken:
    return CurrentToken(row.access_token, row.version, _aware(row.access_expires_at))


class TokenManager:
    """The OA's token pair for this process, backed by the ``oauth_token`` row."""

    def __init__(self, database: Database, settings: Settings,
                 session: Callable[[], aiohttp.ClientSession], *,
                 margin: dt.timedelta = REFRESH_MARGIN,
                 clock: Callable[[], dt.datetime] = utcnow) -> None:
        secret = settings.secrets.zalo_app_secret
        self.database = database
        self.settings = settings
        self._session = session
        self._app_secret = secret.get_secret_value() if secret is not None else ""
        self.margin = margin
        self._clock = clock
        self._cache: CurrentToken | None = None
        self._dead_version: int | None = None  # the version whose refresh token Zalo refused
        self._local = asyncio.Lock()  # one refresh at a time inside this process
        self.state = "unknown"  # ok | missing | dead | unknown

    def _oauth(self) -> ZaloOAuth:
        zalo = self.settings.zalo
        return ZaloOAuth(zalo.oauth_base_url, zalo.app_id or "", self._app_secret, self._session())

    # -- reading ---------------------------------------------------------------------------

    async def _load(self) -> CurrentToken | None:
        async with self.database.engine.connect() as conn:
            row = (await conn.execute(select(_TABLE).where(_TABLE.c.provider == PROVIDER))).first()
        return _current(row) if row is not None else None

    def _due(self, token: CurrentToken) -> bool:
        return token.expires_at - self._clock() <= self.margin

    async def current(self) -> CurrentToken:
        """A usable access token, refreshed first when it is about to expire."""
        token = self._cache
        if token is None or self._due(token) or self._dead_version is not None:
            token = await self._load()
            if token is None:
                self.state = "missing"
                raise TokenUnavailable("no Zalo token stored yet: " + REAUTHORIZE)
            self._cache = token
        if self._dead_version is not None:
            if token.version == self._dead_version:
                raise TokenUnavailable("the Zalo refresh token is dead: " + REAUTHORIZE)
            log.info("zalo: a new token pair was stored (version %d); sending again", token.version)
            self._dead_version = None
        if self._due(token):
            try:
                token = await self.refresh(token.version)
            except ZaloTransportError as exc:
                if token.expires_at <= self._clock() or not token.access_token:
                    raise TokenUnavailable(f"could not refresh the Zalo token: {exc}") from exc
                log.warning("zalo: token refresh failed (%s); the current token is still valid", exc)
        self.state = "ok"
        return token

    # -- refreshing ------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _locked(self) -> AsyncIterator[tuple[AsyncConnection, Any]]:
        """The token row, locked for writing until the block ends (commit on success)."""
        async with self.database.engine.connect() as conn:
            async with conn.begin():
                if is_sqlite(self.database.url):
                    await conn.exec_driver_sql("BEGIN IMMEDIATE")
                query = select(_TABLE).where(_TABLE.c.provider == PROVIDER).with_for_update()
                row = (await conn.execute(query)).first()
                yield conn, row

    async def refresh(self, seen_version: int) -> CurrentToken:
        """Refresh the pair whose version the caller saw, unless someone already did.

        Raises TokenUnavailable (missing or dead) or ZaloTransportError (try again later).
        """
        async with self._local:
            cached = self._cache
            if cached is not None and cached.version != seen_version and not self._due(cached):
                return cached  # another coroutine of this process refreshed meanwhile
            rejected: TokenRejected | None = None
            async with self._locked() as (conn, row):
                if row is None:
                    self.state = "missing"
                    raise TokenUnavailable("no Zalo token stored yet: " + REAUTHORIZE)
                if row.version != seen_version:
                    self._cache = _current(row)  # another worker refreshed: use its pair
                    log.info("zalo: token already refreshed by another worker (version %d)", row.version)
                    return self._cache
                try:
                    pair = await self._oauth().refresh(row.refresh_token)
                except TokenRejected as exc:
                    rejected = exc
                else:
                    self._cache = await self._save(conn, pair, row.version)
            if rejected is not None:
                await self._dead(row.version, rejected)
                raise TokenUnavailable("the Zalo refresh token is dead: " + REAUTHORIZE) from rejected
            assert self._cache is not None
            self.state = "ok"
            log.info("zalo: access token refreshed (version %d, valid until %s)",
                     self._cache.version, self._cache.expires_at.isoformat(timespec="minutes"))
            return self._cache

    async def _save(self, conn: AsyncConnection, pair: TokenPair, version: int) -> CurrentToken:
        now = self._clock()
        expires = now + dt.timedelta(seconds=pair.expires_in)
        await conn.execute(
            update(_TABLE)
            .where(_TABLE.c.provider == PROVIDER, _TABLE.c.version == version)
            .values(access_token=pair.access_token, refresh_token=pair.refresh_token,
                    access_expires_at=expires,
                    refresh_expires_at=now + dt.timedelta(seconds=pair.refresh_expires_in),
                    updated_at=now, version=version + 1)
        )
        return CurrentToken(pair.access_token, version + 1, expires)

    async def _dead(self, version: int, exc: TokenRejected) -> None:
        first_time = self._dead_version != version
        self._dead_version = version
        self.state = "dead"
        if not first_time:
            return
        log.error("zalo: Zalo refused the refresh token (error %s: %s). The bot cannot send Zalo "
                  "messages until someone will %s.", exc.code, exc.message, REAUTHORIZE)
        try:
            async with self.database.session() as session:
                session.add(AuditEvent(channel="zalo", user_key="system", action="zalo_token_dead",
                                       allowed=False,
                                       detail={"error": exc.code, "message": exc.message,
                                               "token_version": version,
                                               "fix": "cchc-bot zalo authorize --redirect-uri <URL>"}))
                await session.commit()
        except SQLAlchemyError:
            log.exception("zalo: could not record the dead token for the admins")

    # -- storing a new authorization or the seed ----------------------------------------------

    async def store(self, pair: TokenPair) -> CurrentToken:
        """Store a freshly authorized pair (``cchc-bot zalo authorize``), replacing any other."""
        now = self._clock()
        expires = now + dt.timedelta(seconds=pair.expires_in)
        values = dict(access_token=pair.access_token, refresh_token=pair.refresh_token,
                      access_expires_at=expires,
                      refresh_expires_at=now + dt.timedelta(seconds=pair.refresh_expires_in),
                      updated_at=now)
        async with self._local:
            async with self._locked() as (conn, row):
                version = (row.version + 1) if row is not None else 1
                if row is None:
                    await conn.execute(
                        insert(_TABLE).values(provider=PROVIDER, version=version, **values))
                else:
                    await conn.execute(update(_TABLE).where(_TABLE.c.provider == PROVIDER)
                                       .values(version=version, **values))
            self._cache = CurrentToken(pair.access_token, version, expires)
            self._dead_version = None
            self.state = "ok"
        return self._cache

    async def seed(self) -> None:
        """On first start, store the pair from CCHC_ZALO_REFRESH_TOKEN / CCHC_ZALO_ACCESS_TOKEN.

        Once a pair is stored the database is the truth: after the first refresh the refresh
        token in the environment is dead anyway.
        """
        if await self._load() is not None:
            return
        secrets = self.settings.secrets
        if secrets.zalo_refresh_token is None:
            self.state = "missing"
            log.error("zalo: no token stored and CCHC_ZALO_REFRESH_TOKEN is not set; the bot will "
                      "receive Zalo messages but cannot answer until someone will %s.", REAUTHORIZE)
            return
        now = self._clock()
        access = secrets.zalo_access_token.get_secret_value() if secrets.zalo_access_token else ""
        try:
            async with self.database.engine.begin() as conn:
                await conn.execute(insert(_TABLE).values(
                    provider=PROVIDER, access_token=access,
                    refresh_token=secrets.zalo_refresh_token.get_secret_value(),
                    # without an access token the first use refreshes at once
                    access_expires_at=now + SEEDED_ACCESS_LIFETIME if access else now,
                    refresh_expires_at=None, updated_at=now, version=0))
        except IntegrityError:
            return  # another worker seeded at the same moment
        log.info("zalo: token store seeded from the environment")

    # -- the schedule ----------------------------------------------------------------------

    async def run(self) -> None:
        """Refresh ahead of expiry for as long as the channel runs."""
        while True:
            try:
                token = await self.current()
                wait = (token.expires_at - self.margin - self._clock()).total_seconds()
                wait = RETRY_AFTER_FAILURE if wait <= 0 else min(wait, MAX_SLEEP)
            except TokenUnavailable:
                wait = DEAD_RECHECK
            except Exception:  # the schedule must outlive any one failure
                log.exception("zalo: token schedule failed; trying again in %.0f s", RETRY_AFTER_FAILURE)
                wait = RETRY_AFTER_FAILURE
            await asyncio.sleep(wait)


async def exchange_and_store(settings: Settings, code: str, verifier: str) -> CurrentToken:
    """``cchc-bot zalo authorize``: trade the code for a pair and store it for every worker."""
    from bot.storage.db import upgrade

    secret = settings.secrets.zalo_app_secret
    if not settings.zalo.app_id or secret is None:
        raise TokenUnavailable("zalo.app_id and CCHC_ZALO_APP_SECRET are required")
    upgrade(settings.database.url)
    database = Database(settings.database.url)
    try:
        async with aiohttp.ClientSession() as session:
            oauth = ZaloOAuth(settings.zalo.oauth_base_url, settings.zalo.app_id,
                              secret.get_secret_value(), session)
            pair = await oauth.exchange_code(code, verifier)
            return await TokenManager(database, settings, lambda: session).store(pair)
    finally:
        await database.dispose()

