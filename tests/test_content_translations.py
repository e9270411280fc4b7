"""Translations: files ``<id>.<lang>.md``, matched by their aliases, served in the citizen's
chosen language, checked for staleness and gaps. The fixture's language is ``qaa`` (reserved
for local use) with placeholder words: no invented translation of a real language."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest

from bot.app import BotApp
from bot.root import build_app
from bot.config import Office
from bot.content.loader import load_pack
from bot.messages import Incoming, Response
from tests.conftest import make_settings

FIXTURES = Path(__file__).parent / "fixtures"
VALUES = Office().template_values()
DAY = dt.date(2026, 12, 4)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """The conversation fixture pack plus the translation fixtures."""
    target = tmp_path / "content"
    shutil.copytree(FIXTURES / "content", target)
    shutil.copytree(FIXTURES / "translations", target, dirs_exist_ok=True)
    return target


def problems(root: Path) -> tuple[bool, list[str]]:
    pack, found = load_pack(root, VALUES, DAY)
    return pack is not None, [str(p) for p in found]


def write(root: Path, name: str, text: str) -> None:
    (root / "faq" / f"{name}.md").write_text(text, encoding="utf-8")


TRANSLATION = """\
---
id: {id}
lang: {lang}
title: "[qaa] tiêu đề thử khác"
aliases:
  - {alias}
updated: 2026-11-20
---
[qaa] Bản dịch thử.
"""


def test_translations_load_and_match_by_their_own_words(root: Path) -> None:
    pack, found = load_pack(root, VALUES, DAY)
    assert pack is not None, found
    translation = pack.translations["khai-sinh"]["qaa"]
    assert translation.title == "[qaa] khai sinh tiêu đề thử"
    assert translation.aliases == ("qaa khai sinh hỏi thử", "qaa khai sinh cách hỏi thứ hai")
    assert pack.translation(pack.entries["khai-sinh"], "qaa") is translation
    assert "qaa khai sinh hỏi thử" in pack.entries["khai-sinh"].questions
    assert [language.code for language in pack.languages] == ["qaa"]


def test_check_reports_stale_and_missing_translations(root: Path) -> None:
    loaded, found = problems(root)
    assert loaded
    assert ("content/faq/ket-hon.qaa.md:7: cảnh báo: bản dịch cũ hơn bản tiếng Việt content/faq/ket-hon.md "
            "(cập nhật 01/11/2026): bot trả lời bằng tiếng Việt cho tới khi bản dịch được cập nhật") in found
    assert ("content/languages.yaml:3: cảnh báo: Tiếng Thử (qaa): 2 mục chưa có bản dịch: "
            "khai-sinh-le-phi, lien-he-hotline") in found
    assert len(found) == 2


def test_a_stale_translation_is_not_served(root: Path) -> None:
    pack, _ = load_pack(root, VALUES, DAY)
    assert pack.translations["ket-hon"]["qaa"] is not None
    assert pack.translation(pack.entries["ket-hon"], "qaa") is None


@pytest.mark.parametrize(("name", "fields", "expected"), [
    ("khai-sinh-le-phi.qab", {"id": "khai-sinh-le-phi", "lang": "qab", "alias": "qab hỏi"},
     "content/faq/khai-sinh-le-phi.qab.md:3: ngôn ngữ 'qab' chưa có trong languages.yaml"),
    ("khai-sinh-le-phi.qaa", {"id": "khai-sinh-le-phi", "lang": "qab", "alias": "qab hỏi"},
     "content/faq/khai-sinh-le-phi.qaa.md:3: lang 'qab' phải trùng đuôi tên tệp '.qaa'"),
    ("khai-tu.qaa", {"id": "khai-tu", "lang": "qaa", "alias": "qaa khai tử"},
     "content/faq/khai-tu.qaa.md:2: bản dịch của mục không tồn tại: 'khai-tu'"),
    ("khai-sinh-le-phi.qaa", {"id": "khai-sinh-le-phi", "lang": "qaa", "alias": "thủ tục kết hôn"},
     "content/faq/khai-sinh-le-phi.qaa.md:6: cách hỏi 'thủ tục kết hôn' trùng với mục 'ket-hon' "
     "(content/faq/ket-hon.md:6)"),
])
def test_a_broken_translation_is_refused_with_file_and_line(root: Path, name: str, fields: dict[str, str],
                                                            expected: str) -> None:
    write(root, name, TRANSLATION.format(**fields))
    loaded, found = problems(root)
    assert not loaded
    assert expected in found, found


def test_a_translation_carries_no_facts_of_its_own(root: Path) -> None:
    text = TRANSLATION.format(id="khai-sinh-le-phi", lang="qaa", alias="qaa lệ phí").replace(
        "updated: 2026-11-20\n", "updated: 2026-11-20\nprocedure:\n  online: full\n")
    write(root, "khai-sinh-le-phi.qaa", text)
    loaded, found = problems(root)
    assert not loaded
    assert "content/faq/khai-sinh-le-phi.qaa.md:8: trường 'procedure' không được hỗ trợ (viết sai tên trường?)" in found


# --- the conversation ---------------------------------------------------------------------


@pytest.fixture
async def bot(database_url: str, root: Path):
    app = build_app(make_settings(database_url, content=root))
    yield app
    await app.close()


async def say(bot: BotApp, text: str = "", payload: str | None = None) -> Response:
    return await bot.handle(Incoming("telegram", "u1", text=text, payload=payload))


def payloads(response: Response) -> list[str]:
    return [b.payload for r in response.replies for row in r.buttons for b in row if b.payload]


async def test_a_citizen_chooses_a_language_and_is_answered_in_it(bot: BotApp) -> None:
    menu = await say(bot, "/start")
    assert "lang" in payloads(menu)
    choices = await say(bot, payload="lang")
    assert payloads(choices)[:2] == ["lang:vie", "lang:qaa"]
    chosen = await say(bot, payload="lang:qaa")
    assert "Tiếng Thử" in chosen.replies[0].text

    answer = await say(bot, "làm giấy khai sinh cho con")
    assert answer.faq_id == "khai-sinh"
    assert answer.replies[0].text.startswith("**[qaa] khai sinh tiêu đề thử**")
    assert "[qaa] Bản dịch thử của câu trả lời khai sinh" in answer.replies[0].text
    assert "Nguồn: Luật Hộ tịch 2014" in answer.replies[0].text

    by_translated_alias = await say(bot, "qaa khai sinh hỏi thử")
    assert by_translated_alias.outcome == "answer" and by_translated_alias.faq_id == "khai-sinh"

    untranslated = await say(bot, payload="faq:lien-he-hotline")
    text = untranslated.replies[0].text
    assert text.startswith("_(Mục này chưa có bản Tiếng Thử, em trả lời bằng tiếng Việt ạ.)_")
    assert "[qaa]" not in text

    stale = await say(bot, payload="faq:ket-hon")
    assert stale.replies[0].text.startswith("_(Mục này chưa có bản Tiếng Thử")
    assert "[qaa]" not in stale.replies[0].text

    await say(bot, payload="lang:vie")
    back = await say(bot, "làm giấy khai sinh cho con")
    assert back.replies[0].text.startswith("**Đăng ký khai sinh cần giấy tờ gì?**")


async def test_without_languages_the_menu_offers_none(database_url: str) -> None:
    app = build_app(make_settings(database_url, content=FIXTURES / "content"))
    try:
        assert "lang" not in payloads(await say(app, "/start"))
        only = await say(app, "/ngonngu")
        assert only.replies[0].text == "Dạ, hiện em mới trả lời được bằng tiếng Việt ạ."
    finally:
        await app.close()
