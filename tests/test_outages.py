"""Faults under traffic: the database going away and coming back, Telegram and Zalo
failing or slow for a while, a content edit that breaks a file.

The database outage is real: for SQLite the folder holding the file disappears (and the
connections the pool held are closed, as a failing disk would close them); for PostgreSQL
the test's own TCP proxy between the bot and the server stops accepting and resets every
connection (the machine's shared server is never stopped), then listens again on the same port.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import event
from sqlalchemy.engine import make_url

from bot.app import BotApp
from bot.root import build_app
from bot.config import Server
from bot.server import make_web_app
from bot.storage.db import is_sqlite
from bot.storage.models import QuestionLog, Subscription
from tests.conftest import make_settings
from tests.telegram.conftest import eventually, rows, running
from fakes.telegram import FakeBotApi
from tests.zalo.conftest import fake, rig_factory  # noqa: F401 - fixtures for the Zalo test
from fakes.zalo import FakeZalo

FIXTURE = Path(__file__).parent / "fixtures" / "content"


class TcpProxy:
    """127.0.0.1:<port> → the PostgreSQL server; ``cut()`` refuses new connections and resets
    the open ones, ``restore()`` listens again on the same port."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.StreamWriter] = set()

    async def start(self) -> TcpProxy:
        self._server = await asyncio.start_server(self._connection, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self._pipes |= {writer, up_writer}

        async def pump(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, asyncio.CancelledError):
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            sink.transport.abort()

        await asyncio.gather(pump(reader, up_writer), pump(up_reader, writer))
        self._pipes -= {writer, up_writer}

    async def cut(self) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()
        for pipe in list(self._pipes):
            pipe.transport.abort()

    async def restore(self) -> None:
        await self.start()


class Outage:
    """Makes the bot's database unavailable and available again."""

    def __init__(self, bot: BotApp, sqlite_dir: Path | None, proxy: TcpProxy | None) -> None:
        self.bot, self.sqlite_dir, self.proxy = bot, sqlite_dir, proxy

    async def start(self) -> None:
        if self.proxy is not None:
            await self.proxy.cut()
        else:
            assert self.sqlite_dir is not None
            self.sqlite_dir.rename(self.sqlite_dir.with_name("away"))
            await self.bot.database.engine.dispose()  # the open files go with the disk

    async def end(self) -> None:
        if self.proxy is not None:
            await self.proxy.restore()
        else:
            assert self.sqlite_dir is not None
            self.sqlite_dir.with_name("away").rename(self.sqlite_dir)


@contextlib.asynccontextmanager
async def web_bot(database_url: str, tmp_path: Path, **server: object) -> AsyncIterator[tuple[BotApp, TestClient, Outage, str]]:
    """The bot and its web server on a database that the test can take away."""
    proxy = None
    if is_sqlite(database_url):
        folder = tmp_path / "db"
        folder.mkdir()
        url = f"sqlite:///{folder}/cchc.db"
    else:
        folder = None
        parsed = make_url(database_url)
        proxy = await TcpProxy(parsed.host or "127.0.0.1", parsed.port or 5432).start()
        url = parsed.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    settings = make_settings(url, content=FIXTURE, server=Server(**server))  # type: ignore[arg-type]
    bot = await asyncio.to_thread(build_app, settings)  # migrations: synchronous, through the proxy
    client = TestClient(TestServer(make_web_app(bot)))
    await client.start_server()
    direct = url if proxy is None else database_url  # the test's own reads bypass the proxy
    try:
        yield bot, client, Outage(bot, folder, proxy), direct
    finally:
        await client.close()
        await bot.close()
        if proxy is not None:
            with contextlib.suppress(Exception):
                await proxy.cut()


async def ask(client: TestClient, sid: str, text: str | None = None, payload: str | None = None) -> dict:
    body = {"text": text} if text is not None else {"payload": payload}
    response = await client.post("/api/chat", json=body, headers={"X-CCHC-Session": sid})
    assert response.status == 200, await response.text()
    return await response.json()


async def test_database_outage_under_traffic(database_url: str, tmp_path: Path) -> None:
    async with web_bot(database_url, tmp_path) as (bot, client, outage, url):
        topic = bot.content.current.pack.topics[0].id
        outcomes: list[str] = []
        stop = asyncio.Event()

        async def traffic() -> None:  # citizens asking all along: a new one every few ms
            n = 0
            while not stop.is_set():
                n += 1
                answer = await ask(client, f"{n:032x}", "thủ tục kết hôn")
                outcomes.append(answer["outcome"])
                await asyncio.sleep(0.005)

        flow = asyncio.create_task(traffic())
        await eventually(lambda: len(outcomes) >= 5, 10, "traffic")
        assert (await (await client.get("/healthz")).json())["status"] == "ok"
        logged_before = len(rows(url, QuestionLog))

        await outage.start()
        during = len(outcomes)
        await eventually(lambda: len(outcomes) >= during + 10, 20, "answers during the outage")
        health = await client.get("/healthz")
        body = await health.json()
        assert health.status == 200 and body["status"] == "degraded" and body["ready"] is True
        assert body["database"].startswith("lỗi")
        # writes that must not be lost: refused with "try again", nothing half-written
        sid = "a" * 32
        refused = await ask(client, sid, payload=f"sub:on:{topic}")
        assert refused["outcome"] == "subscribe_unavailable"
        assert "thử lại" in refused["replies"][0]["text"] or "gọi" in refused["replies"][0]["text"]
        ticket = await ask(client, sid, text="/phananh")
        assert "thử lại" in ticket["replies"][0]["text"] or "gọi" in ticket["replies"][0]["text"]
        answered_during = outcomes[during:]

        await outage.end()
        async def recovered() -> bool:
            return (await (await client.get("/healthz")).json())["status"] == "ok"
        deadline = time.monotonic() + 20
        while not await recovered():  # recovery is automatic: no restart, no call
            assert time.monotonic() < deadline, "the bot did not recover by itself"
            await asyncio.sleep(0.1)
        after = len(outcomes)
        await eventually(lambda: len(outcomes) >= after + 5, 10, "answers after the outage")
        stop.set()
        await flow

        assert set(answered_during) == {"answer"}  # FAQ answers flowed from memory all along
        assert set(outcomes) == {"answer"}
        assert len(outcomes) > after
        subscribed = await ask(client, sid, payload=f"sub:on:{topic}")
        assert subscribed["outcome"] == "subscribed"
        subs = rows(url, Subscription)
        assert len(subs) == 1 and subs[0]["topic"] == topic  # the refused attempt left nothing
        logged_after = len(rows(url, QuestionLog))
        # questions during the outage were answered without records; the rest were recorded
        assert logged_before < logged_after < logged_before + len(outcomes[during:]) + 1


@pytest.mark.postgresql_only
async def test_a_commit_lost_mid_turn_is_not_claimed_as_saved(database_url: str, tmp_path: Path) -> None:
    """The connection dies between the subscription's insert and the turn's commit: the citizen
    is told it was not saved (not "subscribed"), and no row exists; later it works."""
    async with web_bot(database_url, tmp_path) as (bot, client, outage, url):
        topic = bot.content.current.pack.topics[0].id
        sid = "b" * 32
        await ask(client, sid, "/start")
        fired: list[bool] = []

        def cut_before_commit(conn) -> None:  # noqa: ANN001 - the DBAPI connection's commit
            if not fired:
                fired.append(True)
                assert outage.proxy is not None
                for pipe in list(outage.proxy._pipes):
                    pipe.transport.abort()

        event.listen(bot.database.engine.sync_engine, "commit", cut_before_commit)
        try:
            answer = await ask(client, sid, payload=f"sub:on:{topic}")
        finally:
            event.remove(bot.database.engine.sync_engine, "commit", cut_before_commit)
        assert fired and answer["outcome"] == "not_saved"
        assert "chưa lưu được" in answer["replies"][0]["text"]
        assert rows(url, Subscription) == []
        assert (await ask(client, sid, payload=f"sub:on:{topic}"))["outcome"] == "subscribed"
        assert len(rows(url, Subscription)) == 1


# --- the platforms' APIs in trouble ---------------------------------------------------------


class TroubledBotApi(FakeBotApi):
    """The fake Bot API, failing sendMessage with 502 (or answering it slowly) until ``until``."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.until = 0.0
        self.slow = 0.0
        self.failed = 0

    async def _dispatch(self, request: web.Request) -> web.Response:
        if request.match_info.get("method", "").lower() == "sendmessage" and time.monotonic() < self.until:
            if self.slow:
                await asyncio.sleep(self.slow)
            else:
                self.failed += 1
                return web.Response(status=502, text="<html>502 Bad Gateway</html>", content_type="text/html")
        return await super()._dispatch(request)


@pytest.fixture
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Compressed time: minutes of outage become a second or two."""
    monkeypatch.setattr("bot.pressure.REPLY_RETRY_FIRST", 0.05)
    monkeypatch.setattr("bot.pressure.REPLY_RETRY_MAX", 0.2)
    monkeypatch.setattr("bot.channels.zalo.NETWORK_RETRY", 0.05)
    monkeypatch.setattr("bot.channels.zalo.ENQUEUE_WAIT", 0.05)


async def test_telegram_failing_then_slow_then_back(database_url: str, quick_retries: None) -> None:
    api = await TroubledBotApi().start()
    users = [api.add_user(5000 + i) for i in range(8)]
    try:
        async with running(database_url, api, "webhook",
                           server=Server(max_backlog=3, backlog_degraded=2, reply_retry_seconds=60)) as tg:
            tg.channel.limiter.backoff, tg.channel.limiter.max_backoff = 0.01, 0.02
            api.until = time.monotonic() + 2.0  # "minutes" of 502s
            for user in users[:6]:
                api.text(user, "thủ tục kết hôn")
            await eventually(lambda: api.failed >= 10, 5, "replies failing")
            assert tg.channel.health()["status"] == "degraded"
            await eventually(lambda: all(api.to(u["id"]) for u in users[:6]), 20, "answers after recovery")
            assert tg.channel.backlog.peak <= 3  # memory bounded: the rest waited at Telegram
            assert any(status == 503 for _, status in api.webhook_posts)
            # slow (a second per message) for a while: still answered, still bounded
            api.slow, api.until = 1.0, time.monotonic() + 3.0
            for user in users[6:]:
                api.text(user, "thủ tục kết hôn")
            await eventually(lambda: all(api.to(u["id"]) for u in users), 20, "slow answers")
            assert tg.channel.backlog.peak <= 3
            assert [len(api.to(u["id"])) for u in users] == [1] * 8  # each once, none lost
            await eventually(lambda: tg.channel.health()["status"] == "ok", 5, "healthy again")
    finally:
        await api.stop()


class TroubledZalo(FakeZalo):
    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.until = 0.0
        self.failed = 0

    async def _cs(self, request: web.Request) -> web.Response:
        if time.monotonic() < self.until:
            self.failed += 1
            return web.Response(status=503, text="Service Unavailable")
        return await super()._cs(request)


async def test_zalo_failing_for_a_while(database_url: str, quick_retries: None) -> None:
    from tests.zalo.conftest import APP_ID, APP_SECRET, OA_ID, OA_SECRET_KEY, make_channel, zalo_settings
    from fakes.zalo import WebhookSender

    api = await TroubledZalo(APP_ID, APP_SECRET).start()
    access, refresh = api.issue_pair()
    bot = build_app(zalo_settings(database_url, api, refresh_token=refresh, access_token=access)
                    .model_copy(update={"server": Server(reply_retry_seconds=60)}))
    channel = make_channel(bot, workers=1, queue_size=2)
    client = TestClient(TestServer(make_web_app(bot, [channel]), host="127.0.0.1"))
    await client.start_server()
    await channel.start()
    sender = WebhookSender(client, app_id=APP_ID, oa_id=OA_ID, oa_secret_key=OA_SECRET_KEY,
                           path=bot.settings.zalo.webhook_path, fake=api)
    try:
        api.until = time.monotonic() + 1.5
        statuses = []
        events = [sender.text_event(f"zu{i}", "thủ tục kết hôn") for i in range(5)]
        for i, ev in enumerate(events):
            api.interact(f"zu{i}")
            statuses.append((await sender.post(ev)).status)
            await asyncio.sleep(0.05)
        # one being answered (retrying), two waiting, the rest refused before acknowledging
        assert statuses.count(200) == 3 and statuses.count(503) == 2, statuses
        assert channel.backlog.pending <= 3
        await channel.idle(timeout=20)
        for i, ev in enumerate(events):
            if statuses[i] == 503:  # Zalo delivers the refused ones again
                assert (await sender.post(ev)).status == 200
        await channel.idle(timeout=20)
        assert api.failed >= 2
        assert [len(api.messages_to(f"zu{i}")) for i in range(5)] == [1] * 5
        assert channel.backlog.peak <= 3 and channel.health()["status"] == "ok"
    finally:
        await channel.stop(timeout=5)
        await client.close()
        await bot.close()
        await api.close()


# --- content ---------------------------------------------------------------------------------


async def test_a_broken_content_edit_under_traffic_keeps_the_last_good_content(
        database_url: str, tmp_path: Path) -> None:
    content = tmp_path / "content"
    shutil.copytree(FIXTURE, content)
    bot = build_app(make_settings(database_url, content=content))
    client = TestClient(TestServer(make_web_app(bot)))
    await client.start_server()
    watcher = asyncio.create_task(bot.content.watch(0.05))
    try:
        outcomes: list[str] = []
        stop = asyncio.Event()

        async def traffic() -> None:
            n = 0
            while not stop.is_set():
                n += 1
                outcomes.append((await ask(client, f"{n:032x}", "thủ tục kết hôn"))["outcome"])

        flow = asyncio.create_task(traffic())
        page = content / "faq" / "ket-hon.md"
        good = page.read_text(encoding="utf-8")
        page.write_text(good.replace("aliases:", "aliases: [unclosed", 1), encoding="utf-8")
        await eventually(lambda: bot.content.last_problems, 10, "the broken edit to be seen")
        before = len(outcomes)
        await eventually(lambda: len(outcomes) >= before + 5, 10, "answers after the broken edit")
        health = await (await client.get("/healthz")).json()
        assert health["status"] == "degraded" and health["content"]["errors_in_latest_edit"] >= 1
        page.write_text(good, encoding="utf-8")
        await eventually(lambda: not any(not p.warning for p in bot.content.last_problems), 10, "the fix")
        stop.set()
        await flow
        assert set(outcomes) == {"answer"}
        assert (await (await client.get("/healthz")).json())["status"] == "ok"
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
        await client.close()
        await bot.close()
