"""Zalo OA tokens: seeding, refresh with rotation, a dead refresh token, two workers at once."""

from __future__ import annotations

import asyncio
import datetime as dt

import aiohttp
import pytest
from sqlalchemy import update
from sqlmodel import select

from bot.channels.zalo_api import TokenPair
from bot.channels.zalo_tokens import TokenManager, TokenUnavailable
from bot.storage.models import AuditEvent, OAuthToken, utcnow
from tests.zalo.conftest import Rig


async def token_row(rig: Rig) -> OAuthToken:
    async with rig.bot.database.session() as session:
        return (await session.exec(select(OAuthToken).where(OAuthToken.provider == "zalo"))).one()


async def audits(rig: Rig) -> list[AuditEvent]:
    async with rig.bot.database.session() as session:
        return list((await session.exec(select(AuditEvent))).all())


async def ask(rig: Rig, user: str, text: str = "thủ tục kết hôn") -> int:
    """Send a question; the number of messages the user got for it."""
    before = len(rig.fake.messages_to(user))
    assert (await rig.zalo.text(user, text)).status == 200
    await rig.settle()
    return len(rig.fake.messages_to(user)) - before


async def test_the_environment_seeds_the_store_once(rig_factory, fake) -> None:
    rig = await rig_factory()
    row = await token_row(rig)
    assert row.version == 0 and row.refresh_token in fake.live_refresh_tokens
    assert row.access_token in fake.access_tokens
    seeded = row.refresh_token
    # a second worker started with other (stale) environment values keeps the stored pair
    await rig_factory()
    assert (await token_row(rig)).refresh_token == seeded


async def test_an_expired_token_is_refreshed_mid_conversation(rig: Rig) -> None:
    assert await ask(rig, "u-exp") == 1
    old = await token_row(rig)
    rig.fake.expire_access_tokens()
    assert await ask(rig, "u-exp") == 1  # answered all the same
    assert rig.fake.refresh_calls == 1
    cs = "/v3.0/oa/message/cs"
    assert rig.fake.calls[-3:] == [cs, "/v4/oa/access_token", cs]  # -220, refresh, retry
    new = await token_row(rig)
    assert new.version == old.version + 1
    assert new.refresh_token in rig.fake.live_refresh_tokens  # the rotated pair was saved
    assert old.refresh_token in rig.fake.dead_refresh_tokens  # and the old one is gone
    assert new.access_token != old.access_token
    assert new.refresh_expires_at is not None


async def test_a_dead_refresh_token_alerts_the_admins_and_says_how_to_fix_it(rig: Rig, caplog) -> None:
    caplog.set_level("ERROR")
    rig.fake.expire_access_tokens()
    rig.fake.revoke_refresh_tokens()
    assert await ask(rig, "u-dead") == 0
    assert "cchc-bot zalo authorize" in caplog.text and "-14014" in caplog.text
    [audit] = await audits(rig)
    assert audit.action == "zalo_token_dead" and audit.allowed is False
    assert audit.detail["error"] == -14014 and "cchc-bot zalo authorize" in audit.detail["fix"]
    assert rig.channel.health()["token"] == "dead"
    health = await (await rig.client.get("/healthz")).json()
    assert health["status"] == "degraded" and health["channels"]["zalo"]["token"] == "dead"
    # no hammering of Zalo, no second alert
    assert await ask(rig, "u-dead") == 0
    assert rig.fake.refresh_calls == 1 and len(await audits(rig)) == 1
    # an official re-authorizes from another process (what `cchc-bot zalo authorize` does)
    access, refresh = rig.fake.issue_pair()
    async with aiohttp.ClientSession() as session:
        other = TokenManager(rig.bot.database, rig.bot.settings, lambda: session)
        await other.store(TokenPair(access, refresh, 90000))
    assert await ask(rig, "u-dead") == 1  # the running bot picks the new pair up
    assert rig.channel.health()["token"] == "ok"


async def test_two_workers_refreshing_at_the_same_moment_refresh_once(rig_factory, fake) -> None:
    one = await rig_factory()
    two = await rig_factory(seed=False)
    first, second = await one.channel.tokens.current(), await two.channel.tokens.current()
    assert first.version == second.version == 0
    fake.refresh_delay = 0.3  # a slow Zalo widens the race
    a, b = await asyncio.gather(one.channel.tokens.refresh(0), two.channel.tokens.refresh(0))
    assert fake.refresh_calls == 1
    assert a == b and a.version == 1
    row = await token_row(one)
    assert row.access_token == a.access_token and row.refresh_token in fake.live_refresh_tokens


async def test_two_workers_with_expired_tokens_mid_conversation_refresh_once(rig_factory, fake) -> None:
    one = await rig_factory()
    two = await rig_factory(seed=False)
    assert await ask(one, "u-w1") == 1 and await ask(two, "u-w2") == 1
    fake.expire_access_tokens()
    fake.refresh_delay = 0.2
    answered = await asyncio.gather(ask(one, "u-w1"), ask(two, "u-w2"))
    assert answered == [1, 1]
    assert fake.refresh_calls == 1


async def test_the_schedule_refreshes_ahead_of_expiry(rig: Rig) -> None:
    soon = utcnow() + dt.timedelta(minutes=10)  # inside the one-hour margin
    async with rig.bot.database.engine.begin() as conn:
        await conn.execute(update(OAuthToken).values(access_expires_at=soon))
    async with aiohttp.ClientSession() as session:
        manager = TokenManager(rig.bot.database, rig.bot.settings, lambda: session)
        task = asyncio.create_task(manager.run())
        try:
            async with asyncio.timeout(10):
                while rig.fake.refresh_calls == 0:
                    await asyncio.sleep(0.02)
        finally:
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
    row = await token_row(rig)
    assert row.version == 1
    expires = row.access_expires_at
    expires = expires if expires.tzinfo else expires.replace(tzinfo=dt.UTC)
    assert expires > utcnow() + dt.timedelta(hours=24)


async def test_without_any_token_the_bot_says_so_and_keeps_receiving(rig_factory, caplog) -> None:
    caplog.set_level("ERROR")
    rig = await rig_factory(seed=False)
    assert "cchc-bot zalo authorize" in caplog.text
    assert await ask(rig, "u-none") == 0
    assert rig.channel.health()["token"] == "missing"
    with pytest.raises(TokenUnavailable):
        await rig.channel.tokens.current()
