"""Shared pieces of the lookup tests: dossier exports, a recording channel, database reads."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import create_engine, select

from bot.app import BotApp
from bot.ports import Delivery
from handlers.lookups.dossiers import ImportResult, parse_file, today_vn, upsert
from bot.messages import Incoming, Reply, Response
from bot.storage.db import sync_url

HEADER = "Mã hồ sơ;Tên thủ tục;Người nộp;Số điện thoại;Ngày tiếp nhận;Ngày hẹn trả;Trạng thái;Nơi trả kết quả"
CODE = "H56.22-230515-0001"
KEY = "H56222305150001"
PHONE = "0912345678"


def day(offset: int) -> str:
    """A date relative to today (Vietnam time), as the one-stop export writes it."""
    return (today_vn() + dt.timedelta(days=offset)).strftime("%d/%m/%Y")


def dossier_line(code: str = CODE, status: str = "Đang xử lý", *, procedure: str = "Đăng ký khai sinh",
                 name: str = "Nguyễn Văn An", phone: str = PHONE, received: int = -3, due: int = 2,
                 place: str = "Quầy số 2, Bộ phận Một cửa UBND xã") -> str:
    return ";".join([code, procedure, name, phone, day(received), day(due), status, place])


def export(*lines: str, header: str = HEADER) -> str:
    return "\n".join([header, *lines]) + "\n"


async def import_text(bot: BotApp, tmp_path: Path, text: str, name: str = "ds.csv") -> ImportResult:
    """Import an export through the same parser and upsert as ``cchc-bot dossiers import``."""
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    parsed = parse_file(path, bot.settings.lookup.columns)
    assert not parsed.errors, parsed.errors
    async with bot.database.session() as session:
        result = await upsert(session, parsed.rows)
        await session.commit()
    return result


def rows(url: str, model) -> list:
    engine = create_engine(sync_url(url))
    with engine.connect() as conn:
        result = conn.execute(select(model)).mappings().all()
    engine.dispose()
    return list(result)


def payloads(response: Response) -> list[str]:
    return [b.payload for r in response.replies for row in r.buttons for b in row if b.payload]


def text_of(response: Response) -> str:
    return "\n".join(r.text for r in response.replies)


async def say(bot: BotApp, text: str = "", payload: str | None = None, user: str = "u1",
              channel: str = "telegram", **kwargs: object) -> Response:
    return await bot.handle(Incoming(channel, user, text=text, payload=payload, **kwargs))  # type: ignore[arg-type]


class RecordingChannel:
    """A Channel (bot.channels.Channel) that records what it is asked to send."""

    def __init__(self, name: str = "telegram", status: str = "sent") -> None:
        self.name = name
        self.status = status
        self.sent: list[tuple[str, list[Reply]]] = []

    def setup_routes(self, app: object) -> None:
        pass

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def send(self, platform_id: str, replies: list[Reply], kind: str = "broadcast") -> Delivery:
        self.sent.append((platform_id, replies))
        if self.status == "sent":
            return Delivery("sent", message_id=str(len(self.sent)))
        return Delivery(self.status, error="test")  # type: ignore[arg-type]
