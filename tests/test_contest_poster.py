"""The contest's poster (``cchc-bot qr poster --contest ID``): its codes open the contest, and
``/start ct-<id>`` (the Telegram code, Messenger's ``ref``) is routed as the contest's own
``ct:open:<id>`` button, without the start command knowing the contest feature."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from bot.app import BotApp
from bot.cli import main
from bot.config import BUNDLED_CONTENT
from bot.content.loader import TIMEZONE
from bot.messages import Incoming
from bot.root import build_app
from handlers import build_dispatcher
from handlers.contest import router as contest_router
from handlers.contest import service
from handlers.lookups import posters
from tests.conftest import make_settings
from tests.test_lookups_qr import ENV, codes, link, pdf_pages

CONTEST_ID = "tim-hieu-cchc-2026"  # the bundled example: 15/12/2026 07:00 to 15/01/2027 17:00


def test_the_contest_poster_opens_the_contest(tmp_path: Path) -> None:
    out = tmp_path / "cuoc-thi.pdf"
    env = {**ENV, "CCHC_ZALO_OA_ID": "1234567890123456789"}
    result = CliRunner().invoke(main, ["qr", "poster", "--contest", CONTEST_ID, "--out", str(out)], env=env)
    assert result.exit_code == 0, result.output
    assert "Đã tạo 1 trang A4 cho cuộc thi «Cuộc thi tìm hiểu về cải cách hành chính năm 2026»." in result.output
    [page] = pdf_pages(out.read_bytes())
    assert page.size == posters.A4
    assert codes(page) == {link(f"ct-{CONTEST_ID}"), "https://zalo.me/1234567890123456789"}
    leaflets = tmp_path / "to-roi.png"
    result = CliRunner().invoke(main, ["qr", "poster", "--contest", CONTEST_ID, "--per-page", "2",
                                       "--target", "telegram", "--out", str(leaflets)], env=env)
    assert result.exit_code == 0, result.output
    assert codes(Image.open(leaflets)) == {link(f"ct-{CONTEST_ID}")}  # two leaflets, one link


def test_the_contest_card_says_what_who_and_when() -> None:
    contest = service.contests(BUNDLED_CONTENT)[CONTEST_ID]
    settings = make_settings("sqlite://", telegram={"bot_username": "TroLyXaNgocLienBot"},
                             zalo={"oa_id": "1234567890123456789"})
    card = posters.contest_card(contest, settings)
    assert card.title == "Cuộc thi tìm hiểu về cải cách hành chính năm 2026"
    assert card.lines == ("Đơn vị tổ chức: UBND xã (Ban tổ chức cuộc thi)",
                          "Từ 07:00 ngày 15/12/2026 đến 17:00 ngày 15/01/2027")
    assert [(t.name, t.hint) for t in card.links] == [("Telegram", "Mở cuộc thi trên Telegram"),
                                                      ("Zalo", "Quan tâm Zalo OA rồi nhắn /cuocthi")]


def test_a_contest_poster_needs_one_known_contest(tmp_path: Path) -> None:
    out = str(tmp_path / "x.pdf")
    unknown = CliRunner().invoke(main, ["qr", "poster", "--contest", "khong-co", "--out", out], env=ENV)
    assert unknown.exit_code == 1 and "không có cuộc thi 'khong-co'" in unknown.output
    both = CliRunner().invoke(main, ["qr", "poster", "--contest", CONTEST_ID, "--ids", "khai-sinh", "--out", out],
                              env=ENV)
    assert both.exit_code == 2 and "cần đúng một trong --ids hoặc --contest" in both.output
    assert not Path(out).exists()


def test_start_with_a_contest_link_is_the_contest_button() -> None:
    dispatcher = build_dispatcher()
    for text in (f"/start ct-{CONTEST_ID}", f"/start@TroLyXaNgocLienBot ct-{CONTEST_ID}"):
        [(handler, route)] = list(dispatcher.candidates(None, Incoming("telegram", "u1", text=text)))  # type: ignore[arg-type]
        assert handler is contest_router.button
        assert (route.kind, route.name, route.args) == ("payload", "ct", ("open", CONTEST_ID))
    [(handler, route)] = list(dispatcher.candidates(None, Incoming("telegram", "u1", text="/start khai-sinh")))  # type: ignore[arg-type]
    assert (route.kind, route.name, route.args) == ("command", "start", ("khai-sinh",))  # an answer's link
    [(handler, route)] = list(dispatcher.candidates(None, Incoming("telegram", "u1", text="/start ct-")))  # type: ignore[arg-type]
    assert route.kind == "command"


@pytest.fixture
async def bundled(database_url: str) -> AsyncIterator[BotApp]:
    app = build_app(make_settings(database_url))
    yield app
    await app.close()


async def test_the_deep_link_opens_the_contests_rules(bundled: BotApp, monkeypatch: pytest.MonkeyPatch) -> None:
    def at(*moment: int) -> None:
        monkeypatch.setattr(service, "utcnow", lambda: dt.datetime(*moment, tzinfo=TIMEZONE).astimezone(dt.UTC))

    at(2026, 12, 20, 9)  # running
    rules = await bundled.handle(Incoming("telegram", "u1", text=f"/start ct-{CONTEST_ID}"))
    assert rules.outcome == "contest_rules"
    text = rules.replies[0].text
    assert text.startswith("**Cuộc thi tìm hiểu về cải cách hành chính năm 2026**\n"
                           "Đơn vị tổ chức: UBND xã (Ban tổ chức cuộc thi)\n")
    assert "Mỗi người dự thi một lượt" in text and "- Số câu hỏi: 4, mỗi câu chọn một đáp án." in text
    assert f"ct:go:{CONTEST_ID}" in [b.payload for row in rules.replies[0].buttons for b in row]
    same = await bundled.handle(Incoming("telegram", "u2", payload=f"ct:open:{CONTEST_ID}"))
    assert [r.text for r in same.replies] == [r.text for r in rules.replies]  # the button's answer, exactly
    at(2026, 12, 10, 9)  # before the start: the contest's dates
    early = await bundled.handle(Incoming("telegram", "u3", text=f"/start ct-{CONTEST_ID}"))
    assert early.outcome == "contest_not_started"
    assert "từ 07:00 ngày 15/12/2026 đến 17:00 ngày 15/01/2027" in early.replies[0].text
