"""``cchc-bot broadcast send|status|cancel`` against a real database."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from bot.outbox.sender import Sender
from bot.cli import main
from bot.storage.db import Database, upgrade
from bot.storage.models import Broadcast
from tests.broadcasting import Clock, RecordingChannel, add_subscribers, rows, vn
from tests.conftest import make_settings
from tests.packs import write_pack


@pytest.fixture
def env(database_url: str, tmp_path: Path) -> dict[str, str]:
    upgrade(database_url)
    return {
        "CCHC_CONFIG": None,
        "CCHC_DATABASE_URL": database_url,
        "CCHC_PSEUDONYM_SALT": "cli-test",
        "CCHC_CONTENT_PATH": str(write_pack(tmp_path / "content")),
        "CCHC_OFFICE_NAME": "UBND xã Ngọc Liên",
    }


def cli(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(main, list(args), env=env)


def message(tmp_path: Path, text: str = "Dạ, {{ office.name }} nghỉ làm việc ngày 2/9.") -> str:
    path = tmp_path / "msg.md"
    path.write_text(text, encoding="utf-8")
    return str(path)


def send(env: dict[str, str], tmp_path: Path, *args: str, text: str | None = None) -> Result:
    """``broadcast send --file <message>`` followed by *args*."""
    path = message(tmp_path) if text is None else message(tmp_path, text)
    return cli(env, "broadcast", "send", "--file", path, *args)


def subscribe(url: str, channel: str, ids: list[str]) -> None:
    async def go() -> None:
        db = Database(url)
        await add_subscribers(db, channel, ids)
        await db.dispose()

    asyncio.run(go())


def send_all(url: str, clock: Clock) -> RecordingChannel:
    telegram = RecordingChannel("telegram")

    async def go() -> None:
        db = Database(url)
        await Sender(
            db, make_settings(url), [telegram, RecordingChannel("zalo")], clock=clock
        ).run_until_idle()
        await db.dispose()

    asyncio.run(go())
    return telegram


def test_send_status_and_progress(env: dict[str, str], database_url: str, tmp_path: Path) -> None:
    subscribe(database_url, "telegram", ["t1", "t2"])
    subscribe(database_url, "zalo", ["z1"])
    result = send(
        env,
        tmp_path,
        "--topic",
        "thong-bao-chung",
        "--at",
        "2027-01-05 08:00",
        "--channels",
        "telegram",
    )
    assert result.exit_code == 0, result.output
    assert "Đã ghi nhận thông báo số 1 (chủ đề: Thông báo chung)." in result.output
    assert "Gửi lúc: 05/01/2027 08:00 (giờ Việt Nam)" in result.output
    assert "Người nhận hiện có: telegram 2" in result.output
    assert "hiện không có tiến trình nào đang gửi" in result.output
    [row] = rows(database_url, Broadcast)
    assert (
        row["status"] == "scheduled"
        and row["channels"] == ["telegram"]
        and row["author"].startswith("cli:")
    )
    assert row["body"] == "📢 **Thông báo chung**\n\nDạ, UBND xã Ngọc Liên nghỉ làm việc ngày 2/9."
    send_at = row["send_at"] if row["send_at"].tzinfo else row["send_at"].replace(tzinfo=dt.UTC)
    assert send_at == dt.datetime(2027, 1, 5, 1, 0, tzinfo=dt.UTC)

    waiting = cli(env, "broadcast", "status", "1")
    assert waiting.exit_code == 0, waiting.output
    assert "Thông báo số 1: chờ gửi" in waiting.output
    assert "░" * 24 in waiting.output and "0/0" in waiting.output

    telegram = send_all(database_url, Clock(vn(2027, 1, 5, 8, 0)))
    assert sorted(telegram.calls) == ["t1", "t2"]
    done = cli(env, "broadcast", "status", "1")
    assert "Thông báo số 1: đã gửi xong" in done.output
    assert "█" * 24 in done.output and "100%  2/2" in done.output
    assert (
        "đã gửi 2 · lỗi 0 · đã chặn bot 0 · không gửi được 0 · chưa rõ 0 · đang chờ 0"
        in done.output
    )

    listing = cli(env, "broadcast", "status")
    assert listing.exit_code == 0
    [line] = listing.output.splitlines()
    assert (
        line.startswith("#1")
        and "đã gửi xong" in line
        and "05/01/2027 08:00" in line
        and "2/2" in line
    )


def test_cancel(env: dict[str, str], database_url: str, tmp_path: Path) -> None:
    send(env, tmp_path, "--topic", "cuoc-thi", "--at", "2027-01-05 08:00")
    result = cli(env, "broadcast", "cancel", "1")
    assert result.exit_code == 0, result.output
    assert "Đã hủy thông báo số 1." in result.output
    again = cli(env, "broadcast", "cancel", "1")
    assert again.exit_code != 0 and "đã ở trạng thái 'đã hủy', không hủy được" in again.output
    missing = cli(env, "broadcast", "cancel", "99")
    assert missing.exit_code != 0 and "không có thông báo số 99" in missing.output
    assert rows(database_url, Broadcast)[0]["status"] == "cancelled"


def test_quiet_hours_and_preview(env: dict[str, str], database_url: str, tmp_path: Path) -> None:
    preview = send(
        env, tmp_path, "--topic", "thong-bao-chung", "--at", "2027-01-05 22:00", "--preview"
    )
    assert preview.exit_code == 0, preview.output
    assert preview.output.startswith("📢 **Thông báo chung**\n\nDạ, UBND xã Ngọc Liên")
    assert "giờ yên lặng 21:00–07:00: thông báo sẽ được gửi lúc 06/01/2027 07:00" in preview.output
    assert rows(database_url, Broadcast) == []  # a preview records nothing
    urgent = send(
        env,
        tmp_path,
        "--topic",
        "thong-bao-chung",
        "--at",
        "2027-01-05 22:00",
        "--urgent",
        "--no-heading",
    )
    assert urgent.exit_code == 0 and "giờ yên lặng" not in urgent.output
    [row] = rows(database_url, Broadcast)
    assert row["urgent"] is True and row["body"] == "Dạ, UBND xã Ngọc Liên nghỉ làm việc ngày 2/9."


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["--topic", "khong-co"], "không có chủ đề 'khong-co' (có: thong-bao-chung, cuoc-thi)"),
        (["--topic", "cuoc-thi", "--at", "mai 8 giờ"], "không đọc được thời điểm 'mai 8 giờ'"),
        (["--topic", "cuoc-thi", "--at", "2020-01-05 08:00"], "thời điểm 05/01/2020 08:00 đã qua"),
        (["--topic", "cuoc-thi", "--channels", "sms"], "kênh không hợp lệ: sms"),
    ],
)
def test_send_refuses_bad_requests(
    env: dict[str, str], database_url: str, tmp_path: Path, args: list[str], error: str
) -> None:
    result = send(env, tmp_path, *args)
    assert result.exit_code != 0
    assert error in result.output
    assert rows(database_url, Broadcast) == []


def test_too_long_for_zalo(env: dict[str, str], tmp_path: Path) -> None:
    result = send(env, tmp_path, "--topic", "cuoc-thi", text="Dạ. " * 600)
    assert result.exit_code != 0 and "vượt giới hạn 2000 ký tự của Zalo" in result.output
