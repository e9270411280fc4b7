"""The one server over real HTTP: the widget's API from another origin (CORS, the session in a
header), widget.js, /healthz readiness, /metrics."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr

from bot.app import BotApp
from bot.root import build_app
from bot.config import Secrets, Zalo
from bot.server import make_web_app
from bot.storage import db as storage
from bot.webchat import SESSION_COOKIE, SESSION_HEADER
from tests.contact_support import SHARE, TRIGGER, asking_phone
from tests.web_support import client, web_settings  # noqa: F401 - client: a fixture

PORTAL = "https://xangoclien.example.gov.vn"


@pytest.fixture
async def bot(database_url: str) -> AsyncIterator[BotApp]:
    app = build_app(web_settings(database_url, origins=[PORTAL]))
    yield app
    await app.close()


async def test_preflight_from_an_allowed_portal(client: TestClient) -> None:
    response = await client.options("/api/chat", headers={
        "Origin": PORTAL, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": f"content-type, {SESSION_HEADER.lower()}"})
    assert response.status == 204
    assert response.headers["Access-Control-Allow-Origin"] == PORTAL
    assert SESSION_HEADER in response.headers["Access-Control-Allow-Headers"]
    assert "Access-Control-Allow-Credentials" not in response.headers  # no cookies cross-site
    assert "Origin" in response.headers["Vary"]


async def test_other_sites_are_refused(client: TestClient) -> None:
    evil = {"Origin": "https://evil.example"}
    assert (await client.options("/api/chat", headers=evil)).status == 403
    response = await client.post("/api/chat", json={"text": "khai sinh"}, headers=evil)
    assert response.status == 403
    assert "Access-Control-Allow-Origin" not in response.headers


async def test_the_widget_keeps_its_session_in_a_header(client: TestClient, bot: BotApp) -> None:
    headers = {"Origin": PORTAL}
    first = await client.post("/api/chat", json={"text": "đăng ký"}, headers=headers)  # did you mean
    assert first.status == 200
    assert first.headers["Access-Control-Allow-Origin"] == PORTAL
    assert SESSION_COOKIE not in first.cookies  # a third-party cookie would be blocked anyway
    body = await first.json()
    assert body["outcome"] == "clarify"
    sid = body["session"]
    assert re.fullmatch(r"[0-9a-f]{32}", sid)
    choice = next(b["payload"] for row in body["replies"][0]["buttons"] for b in row
                  if b["payload"] and b["payload"].startswith("faq:khai-sinh-le-phi"))
    # The same conversation goes on: the choice refers to the question asked in this session.
    second = await client.post("/api/chat", json={"payload": choice}, headers={**headers, SESSION_HEADER: sid})
    answer = await second.json()
    assert answer["outcome"] == "answer" and answer["session"] == sid
    from sqlmodel import select

    from bot.storage.models import QuestionLog

    async with bot.database.session() as session:
        [logged] = (await session.exec(select(QuestionLog))).all()
    assert logged.chosen_id == "khai-sinh-le-phi"
    assert logged.user_key == bot.user_key("web", sid)


async def test_a_bad_session_header_starts_a_new_session(client: TestClient) -> None:
    response = await client.post("/api/chat", json={"text": "/start"},
                                 headers={"Origin": PORTAL, SESSION_HEADER: "../../etc/passwd"})
    assert (await response.json())["session"] != "../../etc/passwd"


async def test_replies_carry_safe_html(client: TestClient) -> None:
    body = await (await client.post("/api/chat", json={"payload": "faq:ket-hon"})).json()
    html = body["replies"][0]["html"]
    assert html.startswith("<b>Đăng ký kết hôn")
    response = await client.post("/api/chat", json={"text": "<img src=x onerror=alert(1)>"})
    for reply in (await response.json())["replies"]:
        assert "<img" not in reply["html"]


async def test_widget_js_is_served_and_loads_nothing_from_elsewhere(client: TestClient) -> None:
    response = await client.get("/widget.js")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/javascript")
    code = re.sub(r"/\*.*?\*/", "", await response.text(), flags=re.DOTALL)  # without the comments
    code = code.replace('"http://www.w3.org/2000/svg"', "")  # the icons' XML namespace: a name, never fetched
    assert "http://" not in code and "https://" not in code and "import(" not in code
    assert "X-CCHC-Session" in code and 'role: "log"' in code and "aria-live" in code


async def test_health_is_degraded_when_the_database_is_unreachable(client: TestClient, bot: BotApp) -> None:
    """Without the database the bot still answers from its in-memory content: it
    stays ready (200) and says "degraded", so a load balancer keeps sending citizens to it."""
    healthy = await client.get("/healthz")
    body = await healthy.json()
    assert healthy.status == 200 and body["ready"] is True and body["live"] is True
    good = bot.database
    bot.database = storage.Database("postgresql://nobody@127.0.0.1:1/nothing")  # nothing listens on port 1
    try:
        response = await client.get("/healthz")
        body = await response.json()
        assert response.status == 200
        assert body["ready"] is True and body["status"] == "degraded"
        assert body["database"].startswith("lỗi")
        assert (await client.get("/livez")).status == 200  # alive all the same: do not restart it
        metrics = await (await client.get("/metrics")).text()
        assert "cchc_database_up 0.0" in metrics
    finally:
        await bot.database.dispose()
        bot.database = good


async def test_metrics(client: TestClient, bot: BotApp) -> None:
    from handlers.announcements.service import create_broadcast
    from bot.storage.models import BroadcastDelivery, ChannelUser

    await client.post("/api/chat", json={"text": "đăng ký"})  # did you mean
    await client.post("/api/chat", json={"text": "bán cho tôi một chiếc xe máy cũ"})
    async with bot.database.session() as session:
        user = ChannelUser(channel="telegram", platform_id="42", user_key="k")
        session.add(user)
        row = await create_broadcast(session, author="t", topic="thong-bao-chung", body="Dạ, thông báo.")
        await session.flush()
        session.add(BroadcastDelivery(broadcast_id=row.id, channel_user_id=user.id, channel="telegram", status="sent"))
        await session.commit()
    response = await client.get("/metrics")
    assert response.status == 200 and response.headers["Content-Type"].startswith("text/plain")
    text = await response.text()

    def value(series: str) -> float:
        match = re.search(re.escape(series) + r" ([0-9.e+-]+)$", text, re.MULTILINE)
        assert match is not None, series
        return float(match.group(1))

    assert value('cchc_messages_total{channel="web",outcome="clarify"}') >= 1
    assert value('cchc_messages_total{channel="web",outcome="not_sure"}') >= 1
    assert value('cchc_answer_latency_seconds_count{channel="web"}') >= 2
    assert value('cchc_broadcast_deliveries{channel="telegram",status="sent"}') == 1
    assert value('cchc_broadcasts{status="scheduled"}') == 1
    assert value("cchc_database_up") == 1


async def test_webhook_errors_are_counted(database_url: str) -> None:
    from bot import metrics
    from bot.channels.zalo import ZaloChannel

    base = web_settings(database_url)
    settings = base.model_copy(update={
        "zalo": Zalo(app_id="1234567890", oa_id="99"),
        "secrets": Secrets(pseudonym_salt=SecretStr("s"), zalo_app_secret=SecretStr("a"),
                           zalo_oa_secret_key=SecretStr("b")),
    })
    app = build_app(settings)
    channel = ZaloChannel(app)
    labels = {"channel": "zalo", "reason": "401"}
    before = metrics.REGISTRY.get_sample_value("cchc_webhook_errors_total", labels) or 0
    try:
        async with TestClient(TestServer(make_web_app(app, [channel]))) as client:
            response = await client.post("/zalo/webhook", data=b'{"app_id": "1234567890"}',
                                         headers={"X-ZEvent-Signature": "mac=forged"})
            assert response.status == 401
            text = await (await client.get("/metrics")).text()
    finally:
        await app.close()
    assert metrics.REGISTRY.get_sample_value("cchc_webhook_errors_total", labels) == before + 1
    assert 'cchc_webhook_errors_total{channel="zalo",reason="401"}' in text


async def test_telegram_polling_can_be_switched_off_in_a_process(database_url: str) -> None:
    """A web worker with ``server.telegram_polling = false`` never asks for updates (another
    process polls: Telegram allows one poller per bot), but still sends, e.g. ticket answers."""
    from bot.channels.telegram import TelegramChannel
    from bot.config import Server
    from bot.messages import Reply
    from tests.telegram.conftest import telegram_settings
    from fakes.telegram import FakeBotApi

    fake = await FakeBotApi().start()
    citizen = fake.add_user(2001, "Lan")
    app = None
    try:
        for polling in (False, True):
            settings = telegram_settings(database_url, fake, secret=None,
                                         server=Server(telegram_polling=polling))
            app = build_app(settings)
            channel = TelegramChannel(app, poll_timeout=1)
            await channel.start()
            await asyncio.sleep(0.5)
            polled = [m for m, _ in fake.calls if m == "getupdates"]
            if not polling:
                assert polled == []
                delivery = await channel.send(str(citizen["id"]), [Reply("Dạ, **thông báo** thử.")])
                assert delivery.status == "sent"
                assert fake.to(citizen["id"])[-1].text == "Dạ, thông báo thử."
            else:
                assert polled  # the default: this process polls
            await channel.stop()
            await app.close()
            app = None
            fake.calls.clear()
    finally:
        if app is not None:
            await app.close()
        await fake.stop()


async def test_a_phone_request_invites_typing_the_number(client: TestClient, bot: BotApp) -> None:
    """No platform vouches for a number on the web: the button says so to the widget (which
    asks for the number), and what the citizen types reaches the core as text."""
    seen = asking_phone(bot)
    asked = await (await client.post("/api/chat", json={"text": TRIGGER})).json()
    [reply] = asked["replies"]
    assert reply["buttons"] == [[{"label": SHARE, "payload": None, "url": None, "request": "phone"}],
                                [{"label": "Để sau", "payload": "menu", "url": None}]]
    headers = {SESSION_HEADER: asked["session"]}
    await client.post("/api/chat", json={"text": "0912 345 678"}, headers=headers)
    assert seen[-1].text == "0912 345 678" and seen[-1].contact is None
