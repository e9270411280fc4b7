"""The periodic report's contest section (``cchc-bot report`` and the dashboard's reports page)
from a seeded contest: the figures of the period exactly, only for the contests that ran in it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient
from click.testing import CliRunner

from bot.app import BotApp
from bot.cli import main
from bot.config import Dashboard, Server
from bot.root import build_app
from tests import web_support
from tests.conftest import make_settings
from tests.contest_support import CONTEST, LATER, contest_content, seed
from tests.web_support import add_user, login

client = web_support.client  # the web app of this module's ``bot``

DECEMBER = """\
## VII. CUỘC THI TÌM HIỂU VỀ CẢI CÁCH HÀNH CHÍNH

- Số liệu phát sinh trong kỳ báo cáo (người tham gia mới, lượt thi hoàn thành trong kỳ).

### 1. Hội thi tìm hiểu CCHC của xã

| Chỉ tiêu | Số lượng |
| --- | ---: |
| Người tham gia | 6 |
| Lượt thi đã bắt đầu | 6 |
| Lượt thi hoàn thành | 5 |
| Người trả lời đúng tất cả các câu | 4 |
| Trường hợp cần Ban tổ chức xem xét | 2 |

- Đơn vị tổ chức: UBND xã Thử Nghiệm; thời gian: từ 10/12/2026 đến 20/12/2026.
- Cần xem xét: một số điện thoại, nhiều tài khoản: 1; trả lời nhanh hơn thời gian đọc: 1.

### 1.1. Theo kênh

| Kênh | Người tham gia | Lượt thi hoàn thành |
| --- | ---: | ---: |
| Telegram | 3 | 2 |
| Zalo | 2 | 2 |
| Trang web | 1 | 1 |

### 1.2. Theo thôn, tổ dân phố

| Thôn/Tổ dân phố | Người tham gia | Lượt thi hoàn thành |
| --- | ---: | ---: |
| Thôn Đông | 3 | 2 |
| Thôn Đoài | 2 | 2 |
| Không cho biết | 1 | 1 |

"""


@pytest.fixture
def content(tmp_path: Path) -> Path:
    return contest_content(tmp_path, CONTEST, LATER)


@pytest.fixture
async def bot(database_url: str, content: Path) -> AsyncIterator[BotApp]:
    app = build_app(make_settings(database_url, content=content, server=Server(), dashboard=Dashboard()))
    await add_user(app, "canbo", "official")
    async with app.database.session() as session:
        await seed(session)
    yield app
    await app.close()


async def test_the_report_has_the_contests_that_ran_in_the_period(bot: BotApp, content: Path,
                                                                  database_url: str) -> None:
    env = {"CCHC_CONTENT_PATH": str(content), "CCHC_PSEUDONYM_SALT": "test-salt", "CCHC_DATABASE_URL": database_url}

    def report(period: str) -> str:
        result = CliRunner().invoke(main, ["report", "--period", period, "--no-chart"], env=env)
        assert result.exit_code == 0, result.output
        return result.output

    december = await asyncio.to_thread(report, "2026-12")  # the CLI runs its own event loop
    assert DECEMBER in december
    assert "Hội thi năm sau" not in december  # it runs in March 2027
    assert "CUỘC THI" not in await asyncio.to_thread(report, "2026-11")  # no contest ran in November
    march = await asyncio.to_thread(report, "2027-03")
    assert "### 1. Hội thi năm sau" in march and "Hội thi tìm hiểu CCHC của xã" not in march
    assert "| Người tham gia | 0 |" in march and "- Không có người tham gia trong kỳ." in march


async def test_the_dashboard_report_counts_within_its_days(client: TestClient) -> None:
    await login(client, "canbo")
    december = await (await client.get("/admin/reports?period=2026-12")).text()
    assert "VII. CUỘC THI TÌM HIỂU VỀ CẢI CÁCH HÀNH CHÍNH" in december
    assert "<tr><td>Người trả lời đúng tất cả các câu</td><td>4</td></tr>" in december
    assert "<tr><td>Thôn Đoài</td><td>2</td><td>2</td></tr>" in december
    # the contest was still open from the 13th, but everything happened on the 12th
    later = await (await client.get("/admin/reports?start=2026-12-13&end=2026-12-31")).text()
    assert "1. Hội thi tìm hiểu CCHC của xã" in later
    assert "<tr><td>Người tham gia</td><td>0</td></tr>" in later
    assert "<tr><td>Lượt thi hoàn thành</td><td>0</td></tr>" in later
    csv_file = await client.get("/admin/reports/download?format=csv&period=2026-12")
    body = (await csv_file.read()).decode("utf-8-sig")
    assert "Lượt thi hoàn thành,5" in body and "Thôn Đông,3,2" in body
