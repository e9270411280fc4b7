"""The matcher on its own: decisions, robustness, and properties over arbitrary input."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.config import BUNDLED_CONTENT, Office
from bot.content.loader import load_pack
from bot.matching import Matcher

FIXTURE = Path(__file__).parent / "fixtures" / "content"


@pytest.fixture(scope="module")
def bundled() -> Matcher:
    pack, problems = load_pack(BUNDLED_CONTENT, Office().template_values())
    assert pack is not None, problems
    return Matcher(pack.entries.values(), pack.lexicon)


@pytest.fixture(scope="module")
def small() -> Matcher:
    pack, problems = load_pack(FIXTURE, Office().template_values())
    assert pack is not None, problems
    return Matcher(pack.entries.values(), pack.lexicon)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("Đăng ký khai sinh cho con cần những giấy tờ gì?", "khai-sinh"),
        ("dang ky khai sinh cho con can nhung giay to gi", "khai-sinh"),
        ("ĐĂNG KÝ KHAI SINH CHO CON CẦN NHỮNG GIẤY TỜ GÌ", "khai-sinh"),
        ("sổ đỏ cấp lần đầu làm thế nào", "dat-dai-cap-so"),
        ("quen mat khau tai khoan dich vu cong", "dvc-dang-nhap-loi"),
        ("chứng thực bản sao mất bao nhiêu tiền 1 trang", "chung-thuc-ban-sao"),
        ("dk tam tru o dau", "tam-tru"),
    ],
)
def test_answers_citizen_phrasings(bundled: Matcher, query: str, expected: str) -> None:
    match = bundled.match(query)
    assert match.outcome == "answer", match
    assert match.best is not None and match.best.id == expected


def test_tone_placement_and_legacy_characters_do_not_change_the_answer(bundled: Matcher) -> None:
    plain = bundled.match("đăng ký kết hôn cần giấy tờ gì")
    variants = ["đăng kí kết hôn cần giấy tờ gì", "\u00d0ăng ký kết hôn cần giấy tờ gì",
                unicodedata.normalize("NFD", "đăng ký kết hôn cần giấy tờ gì")]
    for variant in variants:
        assert bundled.match(variant).best == plain.best


def test_a_general_entry_answers_and_offers_its_siblings(small: Matcher) -> None:
    """khai-sinh-le-phi is khai-sinh's fee case, not its rival: "khai sinh" alone is the
    general entry, with the fee entry offered beside it."""
    match = small.match("khai sinh")
    assert match.outcome == "answer" and match.best is not None and match.best.id == "khai-sinh"
    assert [c.id for c in match.related] == ["khai-sinh-le-phi"]


def test_a_sibling_answers_when_the_question_names_its_aspect(small: Matcher) -> None:
    match = small.match("làm khai sinh có mất tiền không")
    assert match.outcome == "answer" and match.best is not None
    assert match.best.id == "khai-sinh-le-phi"
    assert [c.id for c in match.related] == ["khai-sinh"]


def test_out_of_scope_is_not_answered(bundled: Matcher) -> None:
    for query in ("làm visa ở đâu", "thời tiết hôm nay thế nào", "qwerty zxcv"):
        assert bundled.match(query).outcome != "answer", query


def test_abbreviation_expansion_reaches_the_full_words(small: Matcher) -> None:
    assert small.match("lam gks cho con can gi").best.id == "khai-sinh"


@pytest.mark.parametrize("text", ["", "   ", "😀" * 50, "x" * 50_000, "\x00\xff" * 1000, "!!!???"])
def test_degenerate_input_is_not_sure(small: Matcher, text: str) -> None:
    assert small.match(text).outcome == "not_sure"


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_matcher_never_raises_and_scores_are_bounded(text: str) -> None:
    matcher = _PROPERTY_MATCHER
    match = matcher.match(text)
    assert match.outcome in {"answer", "clarify", "not_sure"}
    assert all(0.0 <= c.score <= 1.0 for c in match.candidates)
    assert len(match.candidates) <= matcher.params.clarify_count
    if match.outcome == "answer":
        assert match.best is not None


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["khai sinh", "đăng ký kết hôn", "lệ phí khai sinh", "hotline xã"]),
       st.text(alphabet=" .,!?😀", max_size=10))
def test_punctuation_and_emoji_around_a_question_do_not_change_the_result(base: str, noise: str) -> None:
    clean = _PROPERTY_MATCHER.match(base)
    noisy = _PROPERTY_MATCHER.match(noise + base + noise)
    assert noisy.outcome == clean.outcome
    assert [c.id for c in noisy.candidates] == [c.id for c in clean.candidates]


_pack, _ = load_pack(FIXTURE, Office().template_values())
assert _pack is not None
_PROPERTY_MATCHER = Matcher(_pack.entries.values(), _pack.lexicon)


def test_weights_built_a_block_at_a_time_are_the_same_floats(monkeypatch: pytest.MonkeyPatch) -> None:
    """A 10,000-entry store is weighed in blocks; the ranking must not notice."""
    pack, _ = load_pack(BUNDLED_CONTENT, Office().template_values())
    assert pack is not None
    whole = Matcher(pack.entries.values(), pack.lexicon)
    monkeypatch.setattr("bot.matching._BLOCK", 7)
    blocks = Matcher(pack.entries.values(), pack.lexicon)
    assert blocks._postings._weights.tobytes() == whole._postings._weights.tobytes()
    for query in ("đăng ký khai sinh", "lệ phí cấp sổ đỏ", "dk tam tru"):
        assert blocks.rank(query) == whole.rank(query)


def test_an_unknown_word_is_not_in_the_vocabulary(bundled: Matcher) -> None:
    assert "khai sinh" in bundled._idf
    assert "xyzzy" not in bundled._idf and bundled._postings.get("xyzzy") is None


def test_a_question_about_one_aspect_gets_that_part_of_the_procedure(bundled: Matcher) -> None:
    """"mất bao lâu": the processing time, in the entry's words and under its source."""
    from bot.procedure_answer import procedure_part

    pack, _ = load_pack(BUNDLED_CONTENT, Office().template_values())
    match = bundled.match("làm khai sinh cho con mất bao lâu")
    assert match.outcome == "answer" and match.best is not None and match.best.id == "khai-sinh"
    entry = pack.entries["khai-sinh"]
    part = procedure_part(entry, match.aspects, Office().template_values())
    assert part is not None and entry.procedure is not None
    assert entry.procedure.processing_time in part and entry.source in part
    assert procedure_part(entry, bundled.match("làm khai sinh cần giấy tờ gì").aspects, {}) is None


@pytest.mark.parametrize(
    ("query", "neighbour"),
    [
        ("muốn đổi đất vườn sang mục đích đất ở", "dat-dai-chuyen-nhuong"),
        ("làm lại giấy chứng nhận quyền sử dụng đất vì đánh mất", "dat-dai-cap-so"),
        ("muon biet ma so thue ca nhan cua minh thi xem o dau", "tra-cuu-ho-so"),
        ("làm giấy tạm trú cho con chó nhà mới nuôi được không", "tam-tru"),
    ],
)
def test_a_deciding_word_the_entry_lacks_blocks_the_neighbour(bundled: Matcher, query: str,
                                                               neighbour: str) -> None:
    match = bundled.match(query)
    assert not (match.outcome == "answer" and match.best is not None and match.best.id == neighbour), match


def test_the_question_inside_a_letter_decides(bundled: Matcher) -> None:
    letter = ("Xin chào cán bộ xã. Tôi sinh năm 1960, quê ở Nghệ An, nay sống cùng con trai ở đây. "
              "Mẹ tôi vừa mất tuần trước. Cho tôi hỏi đăng ký khai tử cho mẹ cần những giấy tờ gì? "
              "Xin cảm ơn.")
    match = bundled.match(letter)
    assert match.outcome == "answer" and match.best is not None and match.best.id == "khai-tu"
