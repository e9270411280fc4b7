"""The organisers' contest pages over real HTTP and a real database: the list with each
contest's status, the figures exact for a seeded contest, the ranking, the flags, personal data
by role (full for officials, masked for editors, on the page and in the downloads), and the
draw (officials only, with the CSRF token, after the end) with its history."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import AsyncIterator
from html.parser import HTMLParser
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient
from openpyxl import load_workbook
from sqlmodel import select

from bot.app import BotApp
from bot.config import Dashboard, Server
from bot.root import build_app
from bot.storage.models import AuditEvent, ContestDraw
from handlers.contest import service
from tests import web_support
from tests.conftest import make_settings
from tests.contest_support import (
    BEST_ELIGIBLE,
    CONTEST,
    CONTEST_ID,
    ENDED,
    LATER,
    RANKED,
    RUNNING,
    contest_content,
    seed,
)
from tests.web_support import add_user, login

client = web_support.client  # the web app of this module's ``bot``

PAGE = f"/admin/contests/{CONTEST_ID}"


class Tables(HTMLParser):
    """The page's tables as rows of cell texts, by caption or label (or by order, when neither)."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tables: list[tuple[str, list[list[str]]]] = []
        self._cell: list[str] | None = None
        self._caption: list[str] | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if self._cell is not None:
            self._cell.append(" ")  # <br> and the like part words
        if tag == "table":
            self.tables.append((dict(attrs).get("aria-label") or "", []))
        elif tag == "caption":
            self._caption = []
        elif tag == "tr":
            self.tables[-1][1].append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "caption" and self._caption is not None:
            self.tables[-1] = (" ".join("".join(self._caption).split()), self.tables[-1][1])
            self._caption = None
        elif tag in ("td", "th") and self._cell is not None:
            self.tables[-1][1][-1].append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data: str) -> None:
        for part in (self._cell, self._caption):
            if part is not None:
                part.append(data)

    def __getitem__(self, caption: str) -> list[list[str]]:
        return next(rows for title, rows in self.tables if title.startswith(caption))


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch):
    def set_clock(moment: dt.datetime) -> None:
        monkeypatch.setattr(service, "utcnow", lambda: moment.astimezone(dt.UTC))
    set_clock(ENDED)
    return set_clock


@pytest.fixture
async def bot(database_url: str, tmp_path: Path, clock) -> AsyncIterator[BotApp]:
    content = contest_content(tmp_path, CONTEST, LATER)
    broken = CONTEST.replace(CONTEST_ID, "hong").replace("choices: [15 ngày, 60 ngày]", "choices: [15 ngày]", 1)
    (content / "contests" / "hong.yaml").write_text(broken, encoding="utf-8")
    app = build_app(make_settings(database_url, content=content, server=Server(), dashboard=Dashboard()))
    await add_user(app, "admin", "admin")
    await add_user(app, "canbo", "official")
    await add_user(app, "bientap", "editor")
    async with app.database.session() as session:
        await seed(session)
    yield app
    await app.close()


async def test_the_list_shows_each_contest_with_its_status_and_dates(client: TestClient, clock) -> None:
    await login(client, "bientap")
    home = await (await client.get("/admin")).text()
    assert 'href="/admin/contests"' in home  # in every role's menu
    clock(RUNNING)
    page = await (await client.get("/admin/contests")).text()
    assert Tables(page).tables[0][1][1:] == [
        ["Hội thi năm sau hoi-thi-sau", "UBND xã Thử Nghiệm", "01/03/2027 07:00", "20/03/2027 17:00", "chưa bắt đầu"],
        ["Hội thi tìm hiểu CCHC của xã hoi-thi-xa", "UBND xã Thử Nghiệm", "10/12/2026 07:00", "20/12/2026 17:00",
         "đang diễn ra"],
    ]
    assert "contests/hong.yaml:13: trường &#39;questions.0.choices&#39;: cần từ 2 đến 6 lựa chọn" in page
    clock(ENDED)
    page = await (await client.get("/admin/contests")).text()
    assert [row[-1] for row in Tables(page).tables[0][1][1:]] == ["chưa bắt đầu", "đã kết thúc"]
    assert (await client.get("/admin/contests/khong-co")).status == 404


async def test_the_figures_ranking_and_flags_are_exact(client: TestClient) -> None:
    await login(client, "canbo")
    page = await (await client.get(PAGE)).text()
    tiles = [" ".join(t.split()) for t in page.split('<ul class="tiles">')[1].split("</ul>")[0].split("<li>")[1:]]
    assert [t.replace('<span class="big">', "").replace("</span>", "").replace("</li>", "").strip()
            for t in tiles] == ["6 người tham gia", "6 lượt thi đã bắt đầu", "5 lượt thi hoàn thành",
                                "4 người trả lời đúng tất cả", "2 trường hợp cần xem xét"]
    tables = Tables(page)
    assert tables["Theo kênh"][1:] == [["Telegram", "3", "2"], ["Zalo", "2", "2"], ["Trang web", "1", "1"]]
    assert tables["Theo thôn"][1:] == [["Thôn Đông", "3", "2"], ["Thôn Đoài", "2", "2"], ["Không cho biết", "1", "1"]]
    ranking = tables["5 người dự thi có bài hoàn thành, 4 người đủ điều kiện xét giải"]
    assert ranking[0][:7] == ["Hạng", "Mã người dự thi", "Họ và tên", "Số điện thoại", "Thôn/Tổ dân phố", "Kênh",
                              "Số câu đúng"]
    assert [(row[0], row[1], row[6], row[8], row[11]) for row in ranking[1:]] == [
        ("1", "TS-0003", "3", "50", "Không"), ("2", "TS-0001", "3", "100", "Có"), ("3", "TS-0002", "3", "200", "Có"),
        ("4", "TS-0004", "3", "300", "Có"), ("5", "TS-0005", "2", "60", "Có")]
    assert [row[1] for row in ranking[1:]] == RANKED
    assert ranking[3][12] == "trả lời nhanh hơn thời gian đọc" and ranking[5][12] == "một số điện thoại, nhiều tài khoản"
    flags = next(rows for title, rows in tables.tables if rows and rows[0][:2] == ["Lúc", "Người dự thi"])
    assert sorted((row[1], row[2]) for row in flags[1:]) == [
        ("TS-0002", "trả lời nhanh hơn thời gian đọc"), ("TS-0005", "một số điện thoại, nhiều tài khoản")]
    pool = tables["Trong diện bốc thăm: 3 người"]
    assert [row[1] for row in pool[1:]] == BEST_ELIGIBLE


async def test_personal_data_only_for_the_officials_roles(client: TestClient) -> None:
    for username in ("canbo", "admin"):
        client.session.cookie_jar.clear()
        await login(client, username)
        page = await (await client.get(PAGE)).text()
        assert "Nguyễn Văn An" in page and "0912345678" in page and "Thôn Đông" in page
        full = await client.get(f"{PAGE}/download?format=csv")
        assert full.status == 200 and 'filename="ket-qua-hoi-thi-xa.csv"' in full.headers["Content-Disposition"]
        rows = list(csv.reader(io.StringIO((await full.read()).decode("utf-8-sig"))))
        assert rows[2][1:5] == ["TS-0001", "Nguyễn Văn An", "0912345678", "Thôn Đông"]
        masked = await client.get(f"{PAGE}/download?format=csv&personal=0")  # the copy to publish
        assert list(csv.reader(io.StringIO((await masked.read()).decode("utf-8-sig"))))[2][2:4] == [
            "N. V. An", "091****678"]
    sheet = load_workbook(io.BytesIO(await (await client.get(f"{PAGE}/download?format=xlsx")).read())).active
    assert sheet is not None
    values = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert values[0][0] == "Hội thi tìm hiểu CCHC của xã" and values[3][1:4] == ["TS-0001", "Nguyễn Văn An", "0912345678"]

    client.session.cookie_jar.clear()
    await login(client, "bientap")
    page = await (await client.get(PAGE)).text()
    assert "Nguyễn Văn An" not in page and "0912345678" not in page
    assert "N. V. An" in page and "091****678" in page
    assert "/draw" not in page  # no draw button for an editor
    for query in ("format=csv", "format=csv&personal=1"):
        download = await client.get(f"{PAGE}/download?{query}")
        assert 'filename="ket-qua-hoi-thi-xa-an-danh.csv"' in download.headers["Content-Disposition"]
        body = (await download.read()).decode("utf-8-sig")
        assert "Nguyễn Văn An" not in body and "0912345678" not in body and "N. V. An" in body
    sheet = load_workbook(io.BytesIO(await (await client.get(f"{PAGE}/download?format=xlsx")).read())).active
    assert sheet is not None
    assert [list(row) for row in sheet.iter_rows(values_only=True)][3][2:4] == ["N. V. An", "091****678"]


async def test_the_draw_is_posted_by_an_official_with_the_csrf_token(client: TestClient, bot: BotApp,
                                                                     clock) -> None:
    token = await login(client, "bientap")
    assert (await client.post(f"{PAGE}/draw", data={"csrf": token}, allow_redirects=False)).status == 403
    client.session.cookie_jar.clear()
    token = await login(client, "canbo")
    assert (await client.post(f"{PAGE}/draw", data={"seed": "x"}, allow_redirects=False)).status == 403
    clock(RUNNING)
    early = await client.post(f"{PAGE}/draw", data={"csrf": token}, allow_redirects=False)
    assert early.status == 409 and "chưa kết thúc" in await early.text()
    assert "Bốc thăm được sau khi cuộc thi kết thúc" in await (await client.get(PAGE)).text()
    clock(ENDED)
    drawn = await client.post(f"{PAGE}/draw", data={"csrf": token, "seed": "giam-khao-01"}, allow_redirects=False)
    assert drawn.status == 303 and drawn.headers["Location"] == f"{PAGE}?drawn=1#boc-tham"
    async with bot.database.session() as session:
        [row] = (await session.exec(select(ContestDraw))).all()
        audited = (await session.exec(select(AuditEvent).where(AuditEvent.action == "contest.draw"))).all()
    assert (row.drawn_by, row.seed, row.pool) == ("dashboard:canbo", "giam-khao-01", BEST_ELIGIBLE)
    assert [(e.allowed, e.detail.get("seed")) for e in audited] == [(False, None), (True, "giam-khao-01")]
    page = await (await client.get(f"{PAGE}?drawn=1")).text()
    assert "Lần bốc thăm số 1" in page and "giam-khao-01" in page and "<strong>khớp</strong>" in page
    assert "Đã bốc thăm 1 lần; bốc lại sẽ ghi thêm một lần nữa" in page
    winners = Tables(page)["Người trúng thưởng"]
    assert [r[1] for r in winners[1:]] == row.winners
    assert all(r[2] in ("Nguyễn Văn An", "Trần Thị Bình", "Phạm Thị Dung") for r in winners[1:])
