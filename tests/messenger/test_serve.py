"""``cchc-bot run`` with the Messenger settings, as a deployment runs it: a signed event is
answered through the Send API, a forged one is refused."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import aiohttp

from tests.messenger.conftest import APP_SECRET, PAGE_ID, PAGE_TOKEN, VERIFY_TOKEN
from fakes.messenger import FakeGraph, WebhookSender
from tests.test_serve import _free_port, _start
from tests.web_support import FIXTURE


class _Remote:
    """Enough of a TestClient for WebhookSender: posts to the running server."""

    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self.session, self.url = session, url

    def post(self, path: str, **kwargs: object):  # noqa: ANN201
        return self.session.post(self.url + path, **kwargs)


async def test_cchc_bot_run_answers_signed_events_and_refuses_forged_ones(tmp_path: Path) -> None:
    fake = await FakeGraph(PAGE_TOKEN, APP_SECRET).start()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CCHC_")}
    env.update({
        "CCHC_DATABASE_URL": f"sqlite:///{tmp_path}/serve.db", "CCHC_CONTENT_PATH": str(FIXTURE),
        "CCHC_CONTENT_RELOAD": "false", "CCHC_PSEUDONYM_SALT": "serve-test",
        "CCHC_SERVER_PORT": str(_free_port()), "CCHC_SERVER_SHUTDOWN_TIMEOUT": "10",
        "CCHC_BROADCAST_SCHEDULER": "false", "CCHC_MESSENGER_API_BASE_URL": fake.url,
        "CCHC_MESSENGER_PAGE_TOKEN": PAGE_TOKEN, "CCHC_MESSENGER_APP_SECRET": APP_SECRET,
        "CCHC_MESSENGER_VERIFY_TOKEN": VERIFY_TOKEN,
    })
    log = tmp_path / "serve.log"
    process, url = await asyncio.to_thread(_start, env, tmp_path, log)
    try:
        async with aiohttp.ClientSession() as session:
            meta = WebhookSender(_Remote(session, url), page_id=PAGE_ID,  # type: ignore[arg-type]
                                 app_secret=APP_SECRET, path="/messenger/webhook", fake=fake)
            async with session.get(url + "/messenger/webhook", params={
                    "hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "42"}) as r:
                assert r.status == 200 and await r.text() == "42"
            raw = meta.body(meta.event("p-serve", message={"mid": meta.mid(), "text": "ket hon"}))
            async with await meta.post(raw, signature="sha256=" + "f" * 64) as forged:
                assert forged.status == 403
            async with await meta.text("p-serve", "lam giay dang ky ket hon o dau") as signed:
                assert signed.status == 200
            for _ in range(100):
                if fake.messages_to("p-serve"):
                    break
                await asyncio.sleep(0.1)
            [answer] = fake.messages_to("p-serve")
            assert answer.messaging_type == "RESPONSE" and "Đăng ký kết hôn" in answer.text
            async with session.get(url + "/healthz") as health:
                channels = (await health.json())["channels"]
            assert channels["messenger"]["status"] == "ok"
    finally:
        process.send_signal(signal.SIGTERM)
        await asyncio.to_thread(process.wait, 30)
        await fake.close()
    assert "Traceback" not in log.read_text()
