"""Logs (issue 20): text or JSON lines (``logging.format``), phone numbers masked, and a full run
of ``cchc-bot run`` (web chat, Telegram against the fake Bot API, Zalo against the fake Zalo API)
whose whole log holds none of the names, phone numbers and platform ids the citizens used."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import re
import signal
import subprocess
import sys
import unicodedata
from pathlib import Path

import aiohttp
import pytest

from bot.logging_setup import PHONE_MASK, JsonFormatter, TextFormatter, mask
from fakes.telegram import FakeBotApi
from tests.test_serve import _free_port, _start
from fakes.zalo import FakeZalo, WebhookSender

ROOT = Path(__file__).resolve().parent.parent
APP_ID, OA_ID, APP_SECRET, OA_KEY = "1234567890123456789", "4318793126450786043", "app-secret", "oa-key"
OFFICIALS_CHAT = -1001234567890


@pytest.mark.parametrize("written", ["0912345678", "0912 345 678", "091.234.5678", "+84 912 345 678",
                                     "84912345678", "024-3825-1234"])
def test_phone_numbers_are_masked(written: str) -> None:
    assert mask(f"gọi lại số {written} nhé") == f"gọi lại số {PHONE_MASK} nhé"


@pytest.mark.parametrize("kept", ["update 500000001 already handled", "pid 12345", "version 3",
                                  "H56.22-230515-0001", "user 2468458835296117922"])
def test_other_numbers_are_kept(kept: str) -> None:
    assert mask(kept) == kept


def _record(message: str, *args: object, exc: bool = False) -> logging.LogRecord:
    exc_info = None
    if exc:
        try:
            raise ValueError("bad phone 0987654321")
        except ValueError:
            exc_info = sys.exc_info()
    return logging.LogRecord("cchc_bot.test", logging.ERROR, __file__, 1, message, args, exc_info)


def test_json_lines_for_log_collectors() -> None:
    line = JsonFormatter().format(_record("ticket %s from %s", "PA-2026-000001", "0912 345 678", exc=True))
    entry = json.loads(line)
    assert "\n" not in line
    assert entry["level"] == "ERROR" and entry["logger"] == "cchc_bot.test" and entry["pid"] == os.getpid()
    assert entry["message"] == f"ticket PA-2026-000001 from {PHONE_MASK}"
    assert "ValueError" in entry["exception"] and "0987654321" not in entry["exception"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", entry["time"])


def test_text_lines_mask_phones_in_tracebacks_too() -> None:
    line = TextFormatter().format(_record("failed", exc=True))
    assert "ERROR cchc_bot.test[" in line and "ValueError" in line and "0987654321" not in line


# --- a full run ----------------------------------------------------------------------------------

NAMES = ["Lê Minh Tuấn", "Nguyễn Thị Hoa", "Trần Văn Bảo"]
PHONES = ["0903111222", "0912345678", "0987654321"]
TELEGRAM_USER = 4242424242
ZALO_USER = "2468458835296117922"
DOSSIER = "H56.22-230515-0001"


def _folded(text: str) -> str:
    """Lower case without diacritics (the bot logs normalized question text, if any)."""
    text = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return "".join(c for c in text if not unicodedata.combining(c)).lower()


def _env(tmp_path: Path, telegram: FakeBotApi, zalo: FakeZalo) -> dict[str, str]:
    access, refresh = zalo.issue_pair()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CCHC_")}
    env.update({
        "CCHC_DATABASE_URL": f"sqlite:///{tmp_path}/logs.db",
        "CCHC_CONTENT_RELOAD": "false",
        "CCHC_PSEUDONYM_SALT": "log-test",
        "CCHC_SERVER_PORT": str(_free_port()),
        "CCHC_BROADCAST_SCHEDULER": "false",
        "CCHC_LOGGING_FORMAT": "json",
        "CCHC_LOOKUP_REQUIRE_PHONE_LAST4": "true",
        "CCHC_TELEGRAM_TOKEN": telegram.token,
        "CCHC_TELEGRAM_BASE_URL": telegram.base_url,
        "CCHC_TELEGRAM_BASE_FILE_URL": telegram.base_file_url,
        "CCHC_TELEGRAM_ADMIN_CHAT_ID": str(OFFICIALS_CHAT),
        "CCHC_ZALO_APP_ID": APP_ID, "CCHC_ZALO_OA_ID": OA_ID,
        "CCHC_ZALO_API_BASE_URL": zalo.url, "CCHC_ZALO_OAUTH_BASE_URL": zalo.url,
        "CCHC_ZALO_APP_SECRET": APP_SECRET, "CCHC_ZALO_OA_SECRET_KEY": OA_KEY,
        "CCHC_ZALO_ACCESS_TOKEN": access, "CCHC_ZALO_REFRESH_TOKEN": refresh,
    })
    return env


async def _web(session: aiohttp.ClientSession, sid: list[str], **body: str) -> str:
    headers = {"X-CCHC-Session": sid[0]} if sid else {}
    async with session.post("/api/chat", json=body, headers=headers) as response:
        assert response.status == 200, await response.text()
        data = await response.json()
    sid[:] = [data["session"]]
    return "\n".join(r["html"] for r in data["replies"])


async def _until(predicate, what: str, timeout: float = 20) -> None:  # noqa: ANN001
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.1)
    assert predicate(), what


async def test_a_full_run_logs_no_personal_data(tmp_path: Path) -> None:
    telegram = await FakeBotApi().start()
    telegram.add_group(OFFICIALS_CHAT)  # tickets are forwarded to the officials' group
    zalo = await FakeZalo(APP_ID, APP_SECRET).start()
    env = _env(tmp_path, telegram, zalo)
    dossiers = tmp_path / "ho-so.csv"
    dossiers.write_text(
        "Mã hồ sơ,Tên thủ tục,Người nộp,Số điện thoại,Ngày tiếp nhận,Ngày hẹn trả,Trạng thái,Nơi trả kết quả\n"
        f"{DOSSIER},Đăng ký khai sinh,{NAMES[2]},{PHONES[2]},15/05/2023,16/05/2023,Đang xử lý,\n",
        encoding="utf-8")
    imported = await asyncio.to_thread(  # the fakes keep answering on this loop meanwhile
        subprocess.run, [sys.executable, "-m", "bot.cli", "dossiers", "import", str(dossiers)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert imported.returncode == 0, imported.stderr
    log_file = tmp_path / "run.log"
    process, url = await asyncio.to_thread(_start, env, tmp_path, log_file)
    try:
        async with aiohttp.ClientSession(base_url=url) as session:
            # The web chat: a question naming the citizen, then a ticket with a call-back phone.
            sid: list[str] = []
            await _web(session, sid, text=f"Tôi là {NAMES[1]}, số {PHONES[1]}, làm khai sinh cần gì")
            await _web(session, sid, text="/phananh")
            await _web(session, sid, payload="fb:s:thu_tuc")
            await _web(session, sid, text=f"Tôi là {NAMES[1]}, hồ sơ khai sinh của con nộp 20 ngày chưa có kết quả")
            await _web(session, sid, payload="fb:skip")
            await _web(session, sid, payload="fb:call")
            confirm = await _web(session, sid, text="091.234.5678")
            assert "0912 345 678" in confirm  # the citizen sees it; the log must not
            done = await _web(session, sid, payload="fb:send")
            assert "PA-" in done

            # Zalo: the dossier lookup with the last four digits of the applicant's phone.
            sender = WebhookSender(session, app_id=APP_ID, oa_id=OA_ID, oa_secret_key=OA_KEY, fake=zalo)
            for text in (f"Tôi là {NAMES[2]}, số {PHONES[2]}", DOSSIER, PHONES[2][-4:]):
                before = len(zalo.messages_to(ZALO_USER))
                response = await sender.text(ZALO_USER, text)
                assert response.status == 200
                await _until(lambda b=before: len(zalo.messages_to(ZALO_USER)) > b, "a Zalo reply")
            assert "Người nộp: Trần V" in zalo.messages_to(ZALO_USER)[-1].text  # found (and masked for the citizen)

            # Telegram (long polling from the fake Bot API): a question with a name and a phone.
            citizen = telegram.add_user(TELEGRAM_USER, first_name=NAMES[0])
            telegram.text(citizen, f"Chào bot, tôi là {NAMES[0]}, số {PHONES[0]}, làm căn cước ở đâu")
            await telegram.replies(TELEGRAM_USER, 1, timeout=20)
            await _until(lambda: any(s.chat_id == OFFICIALS_CHAT for s in telegram.sent), "the ticket forwarded")
        during = log_file.read_text(encoding="utf-8")  # the run so far: started, then ~15 turns
    finally:
        process.send_signal(signal.SIGTERM)
        await asyncio.to_thread(process.wait, 30)
        await telegram.stop()
        await zalo.close()

    entries = [json.loads(line) for line in during.splitlines() if line.strip()]
    serving = next(n for n, e in enumerate(entries) if e["message"].startswith("worker 0 (pid"))
    routine = [e["message"] for e in entries[serving + 1:] if e["level"] == "INFO"
               and not e["message"].startswith(("lease ", "broadcast sender "))]
    assert routine == []  # INFO is for the operator: nothing per message or per turn

    log = log_file.read_text(encoding="utf-8") + imported.stderr + imported.stdout
    entries = [json.loads(line) for line in io.StringIO(log_file.read_text(encoding="utf-8")) if line.strip()]
    messages = " | ".join(e["message"] for e in entries)
    assert "receiving updates by long polling" in messages and "zalo: webhook at" in messages  # the run's own log
    folded, digits = _folded(log), re.sub(r"(?<=\d)[ .-](?=\d)", "", log)
    for name in NAMES:
        assert name not in log and _folded(name) not in folded, name
    for phone in PHONES:
        assert phone not in digits and phone[1:] not in digits, phone
    assert str(TELEGRAM_USER) not in log and ZALO_USER not in log  # platform ids: pseudonyms only


async def test_sql_errors_carry_no_values(tmp_path: Path) -> None:
    """A failed statement's error (logged with log.exception) names the statement, not the
    citizen's data in it."""
    from sqlalchemy.exc import IntegrityError

    from bot.storage.db import Database, upgrade
    from bot.storage.models import ChannelUser

    url = f"sqlite:///{tmp_path}/errors.db"
    upgrade(url)
    database = Database(url)
    try:
        for _ in range(2):
            try:
                async with database.session() as session:
                    session.add(ChannelUser(channel="zalo", platform_id="0912345678", user_key="k"))
                    await session.commit()
            except IntegrityError as exc:
                error = str(exc)
    finally:
        await database.dispose()
    assert "UNIQUE constraint failed" in error and "INSERT INTO channel_user" in error
    assert "0912345678" not in error
