"""``cchc-bot doctor`` (issue 20) run as the operator runs it, against the fake Telegram Bot API,
a database in each state, and a throwaway HTTPS server standing for the public address."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import shutil
import ssl
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from sqlalchemy import create_engine
from sqlmodel import Session

from bot.storage.db import sync_url, upgrade
from bot.storage.models import AuditEvent, OAuthToken
from fakes.telegram import FakeBotApi
from tests.tls_support import throwaway_certificate
from tests.web_support import FIXTURE

SALT = "a-long-random-salt-for-the-doctor-tests"


async def doctor(env: dict[str, str], cwd: Path) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "doctor", cwd=cwd, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await asyncio.wait_for(process.communicate(), 120)
    return process.returncode or 0, out.decode()


def base_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CCHC_")}
    env.update({"CCHC_DATABASE_URL": f"sqlite:///{tmp_path}/cchc.db", "CCHC_CONTENT_PATH": str(FIXTURE),
                "CCHC_PSEUDONYM_SALT": SALT, **extra})
    return env


def store_zalo_token(url: str, *, version: int = 1, dead: bool = False) -> None:
    now = dt.datetime.now(dt.UTC)
    engine = create_engine(sync_url(url))
    with Session(engine) as session:
        session.add(OAuthToken(provider="zalo", access_token="at", refresh_token="rt", version=version,
                               access_expires_at=now + dt.timedelta(hours=20),
                               refresh_expires_at=now + dt.timedelta(days=60)))
        if dead:
            session.add(AuditEvent(channel="zalo", user_key="system", action="zalo_token_dead", allowed=False,
                                   detail={"error": -14014, "message": "Invalid refresh token",
                                           "token_version": version}))
        session.commit()
    engine.dispose()


def zalo_env(fake_url: str = "http://127.0.0.1:1") -> dict[str, str]:
    return {"CCHC_ZALO_APP_ID": "1234567890123456789", "CCHC_ZALO_APP_SECRET": "app-secret",
            "CCHC_ZALO_OA_SECRET_KEY": "oa-key", "CCHC_ZALO_OAUTH_BASE_URL": fake_url}


@pytest.fixture
async def telegram() -> AsyncIterator[FakeBotApi]:
    fake = await FakeBotApi().start()
    yield fake
    await fake.stop()


def telegram_env(fake: FakeBotApi, token: str | None = None) -> dict[str, str]:
    return {"CCHC_TELEGRAM_TOKEN": token or fake.token, "CCHC_TELEGRAM_BASE_URL": fake.base_url,
            "CCHC_TELEGRAM_BASE_FILE_URL": fake.base_file_url}


@pytest.fixture
async def public_site(tmp_path: Path) -> AsyncIterator[tuple[str, Path]]:
    """An HTTPS site on localhost answering /livez as the bot behind its proxy does, with
    /metrics refused; yields its URL and the certificate to trust."""
    cert, key = throwaway_certificate(tmp_path)
    async def livez(_: web.Request) -> web.Response:
        return web.json_response({"live": True})

    async def metrics(_: web.Request) -> web.Response:
        return web.Response(status=403)

    app = web.Application()
    app.router.add_get("/livez", livez)
    app.router.add_get("/metrics", metrics)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    await site.start()
    port = runner.addresses[0][1]
    yield f"https://localhost:{port}", cert
    await runner.cleanup()


async def test_a_ready_deployment_passes(tmp_path: Path, telegram: FakeBotApi, public_site) -> None:  # noqa: ANN001
    url, cert = public_site
    env = base_env(tmp_path, **telegram_env(telegram), **zalo_env(), CCHC_SERVER_PUBLIC_URL=url,
                   SSL_CERT_FILE=str(cert))
    upgrade(env["CCHC_DATABASE_URL"])
    store_zalo_token(env["CCHC_DATABASE_URL"])
    code, out = await doctor(env, tmp_path)
    assert code == 0, out
    assert "[LỖI]" not in out and "Có 0 lỗi" in out
    assert "[OK] cơ sở dữ liệu sqlite:///" in out and "lược đồ mới nhất" in out
    assert "[OK] nội dung" in out and "4 câu hỏi" in out
    assert "[OK] Telegram: token hợp lệ, bot @cchc_test_bot" in out
    assert "[OK] Telegram: nhận tin bằng long polling" in out
    assert "[OK] Zalo: token phiên bản 1, access token còn hạn tới" in out
    assert f"[OK] địa chỉ công khai {url}: trả lời qua HTTPS" in out
    assert [m for m, _ in telegram.calls] == ["getme", "getwebhookinfo"]  # it only asks


async def test_every_problem_is_named_with_how_to_fix_it(tmp_path: Path, telegram: FakeBotApi) -> None:
    content = tmp_path / "content"
    shutil.copytree(FIXTURE, content)
    broken = content / "faq" / "ket-hon.md"
    broken.write_text(broken.read_text(encoding="utf-8").replace("id: ket-hon\n", "id: ket-hon\nupdated: hôm qua\n"),
                      encoding="utf-8")
    env = base_env(tmp_path, **telegram_env(telegram, token="123456789:AAE-this-token-was-revoked-long-ago"),
                   **zalo_env(), CCHC_CONTENT_PATH=str(content), CCHC_SERVER_PUBLIC_URL="http://bot.example.gov.vn")
    url = env["CCHC_DATABASE_URL"]
    upgrade(url, "0005")  # a version behind
    store_zalo_token(url, dead=True)
    code, out = await doctor(env, tmp_path)
    assert code == 1, out
    errors = [block for block in out.split("\n[") if block.startswith("LỖI]")]
    assert all("→ cách sửa:" in block for block in errors), out
    assert "lược đồ 0005, bản mới nhất là" in out and "cchc-bot db upgrade" in out
    assert "ket-hon.md" in out and "nội dung" in out
    assert "getMe bị từ chối (401: Unauthorized)" in out and "@BotFather" in out
    assert "Zalo đã từ chối refresh token (lỗi -14014" in out and "cchc-bot zalo authorize" in out
    assert "http://bot.example.gov.vn không dùng https" in out
    assert f"Có {len(errors)} lỗi" in out and len(errors) == 5


async def test_a_webhook_telegram_cannot_reach_is_an_error(tmp_path: Path, telegram: FakeBotApi) -> None:
    hook = "https://127.0.0.1:9/telegram/webhook"  # nothing listens there
    await telegram._m_setwebhook({"url": hook, "secret_token": "s3cret-hook"})
    telegram.text(telegram.add_user(77), "xin chào")
    async with asyncio.timeout(10):
        while not (telegram.webhook and telegram.webhook.last_error):  # Telegram tried and failed
            await asyncio.sleep(0.05)
    env = base_env(tmp_path, **telegram_env(telegram), CCHC_TELEGRAM_WEBHOOK_URL=hook,
                   CCHC_TELEGRAM_WEBHOOK_SECRET="s3cret-hook")
    upgrade(env["CCHC_DATABASE_URL"])
    code, out = await doctor(env, tmp_path)
    assert code == 1, out
    assert "[LỖI] Telegram không gửi được tới webhook: Connection error" in out
    assert "1 tin đang chờ" in out
    assert "[LỖI] địa chỉ công khai https://127.0.0.1:9: không kết nối được" in out  # its origin is checked too


async def test_a_province_database_that_does_not_answer(tmp_path: Path) -> None:
    env = base_env(tmp_path, CCHC_DATABASE_URL="postgresql://bot:pw@127.0.0.1:1/cchc", **zalo_env())
    del env["CCHC_PSEUDONYM_SALT"]
    code, out = await doctor(env, tmp_path)
    assert code == 1
    assert "[LỖI] không kết nối được cơ sở dữ liệu postgresql://bot:***@127.0.0.1:1/cchc" in out
    assert "pw@" not in out
    assert "[LỖI] chưa đặt CCHC_PSEUDONYM_SALT mà dùng PostgreSQL" in out  # several machines, one salt
    assert "[CẢNH BÁO] Zalo: chưa đọc được token" in out


async def test_configuration_errors_name_the_key(tmp_path: Path) -> None:
    code, out = await doctor(base_env(tmp_path, CCHC_SERVER_PORT="99999", CCHC_ZALO_APP="x"), tmp_path)
    assert code == 1
    assert "[LỖI] cấu hình:" in out and "server.port" in out and "CCHC_ZALO_APP" in out
    assert "→ cách sửa: sửa khóa này trong config.toml" in out
