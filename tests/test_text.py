"""Vietnamese normalization: the readable form and the matching key."""

from __future__ import annotations

import re
import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.text import normalize, strip_diacritics, strip_key, tokens

# --- normalize -----------------------------------------------------------------------------


def test_normalize_is_nfc_lowercase_and_single_spaced() -> None:
    decomposed = unicodedata.normalize("NFD", "  ĐĂNG   KÝ\tKHAI SINH ")
    result = normalize(decomposed)
    assert result == "đăng ký khai sinh"
    assert unicodedata.is_normalized("NFC", result)


def test_normalize_puts_the_tone_in_one_place() -> None:
    # old ("hoà", "thuỷ") and new ("hòa", "thủy") placements read as one form
    assert normalize("hoà") == normalize("hòa") == "hòa"
    assert normalize("Thuỷ") == normalize("thủy") == "thủy"
    assert normalize("khoẻ") == normalize("khỏe") == "khỏe"
    assert normalize("Hoà Bình, Thuỷ lợi") == "hòa bình, thủy lợi"


def test_normalize_keeps_the_tone_after_qu_and_gi() -> None:
    # "qu"/"gi" are consonants: the tone belongs on the following vowel, not on u/i
    assert normalize("Quý") == "quý"
    assert normalize("QUÝ KHÁCH") == "quý khách"
    assert normalize("giá") == "giá"
    assert normalize("gì") == "gì"


def test_normalize_leaves_correct_words_alone() -> None:
    text = "người dân tuổi hoàng quốc thuế rượu nguyễn huỳnh khuỷu ngoài gìn giữ"
    assert normalize(text) == text


def test_normalize_maps_legacy_code_points() -> None:
    # U+00D0 (Latin capital eth) is what some keyboards and PDFs produce for Đ
    assert normalize("\u00d0ăng ký") == "đăng ký"
    assert normalize("\u00f0ất đai") == "đất đai"
    # U+0340/U+0341 deprecated tone marks, U+02CB modifier grave typed after the vowel
    assert normalize("ho\u0061\u0340") == "hòa"
    assert normalize("ho\u0061\u02cb") == "hòa"
    assert normalize("ky\u0341") == "ký"
    # non-breaking and zero-width spaces are spaces
    assert normalize("khai\u00a0sinh\u200bcho\ufeffcon") == "khai sinh cho con"


def test_decomposed_input_equals_composed() -> None:
    composed = "Đăng ký thường trú ở đâu? Hoà giải, thuỷ lợi, Quý"
    assert unicodedata.normalize("NFD", composed) != composed
    assert normalize(unicodedata.normalize("NFD", composed)) == normalize(composed)
    assert strip_key(unicodedata.normalize("NFD", composed)) == strip_key(composed)


# --- strip_diacritics / tokens / strip_key --------------------------------------------------


def test_strip_diacritics_removes_marks_and_maps_d_stroke() -> None:
    assert strip_diacritics("Đăng ký đất đai") == "dang ky dat dai"
    assert strip_diacritics("đ") == "d"
    assert strip_diacritics("Đ") == "d"
    assert strip_diacritics("\u00d0") == "d"  # legacy eth
    assert strip_diacritics("Ơ Ư Ă Â Ê Ô ỹ ự") == "o u a a e o y u"


def test_tokens_turn_punctuation_and_emoji_into_separators() -> None:
    assert tokens("Làm khai sinh😀ở đâu???!!") == ["lam", "khai", "sinh", "o", "dau"]
    assert tokens("hồ sơ/giấy tờ,(bản sao)…👍🏻") == ["ho", "so", "giay", "to", "ban", "sao"]
    assert tokens("mau_ct01 #2") == ["mau", "ct01", "2"]
    assert tokens("🙏🙏 ... !!!") == []
    assert tokens("") == []


def test_tokens_merge_i_and_y() -> None:
    assert tokens("ký") == tokens("kí") == ["ki"]
    assert tokens("đăng ký") == tokens("dang ki") == ["dang", "ki"]
    assert tokens("quý") == tokens("quí") == ["qui"]
    assert tokens("lý lịch") == tokens("lí lịch")
    assert tokens("Mỹ") == tokens("mĩ")
    # y after a vowel is not the vowel i
    assert tokens("tay") == ["tay"]
    assert tokens("máy hay thủy") == ["may", "hay", "thuy"]


def test_tokens_squeeze_repeated_letters_except_protected_tokens() -> None:
    assert tokens("khongggg") == ["khong"]
    assert tokens("đượcccc khôngggg") == ["duoc", "khong"]
    assert tokens("Làm CCCD ở đâu", keep=frozenset({"cccd"})) == ["lam", "cccd", "o", "dau"]
    # without protection the abbreviation would be squeezed away
    assert tokens("cccd") == ["cd"]


def test_strip_key_is_the_joined_tokens() -> None:
    assert strip_key("  Đăng KÝ   khai-sinh!! ") == "dang ki khai sinh"
    assert strip_key("Sổ đỏ") == strip_key("so do") == "so do"


# --- properties -----------------------------------------------------------------------------

_TONES = ("", "\u0300", "\u0301", "\u0303", "\u0309", "\u0323")
_VIET_LOWER = sorted(
    {unicodedata.normalize("NFC", v + t) for v in "aăâeêioôơuưy" for t in _TONES}
    | set("bcdđghklmnpqrstvx")
    | set("fjwz")
)
VIETNAMESE_LETTERS = "".join(_VIET_LOWER) + "".join(c.upper() for c in _VIET_LOWER)
# Latin letters with diacritics that decompose to an ASCII letter plus marks (é, ñ, ü, ç ...)
LATIN_ACCENTED = "".join(
    c
    for c in map(chr, range(0xC0, 0x250))
    if unicodedata.category(c).startswith("L")
    and unicodedata.normalize("NFD", c)[0].isascii()
    and unicodedata.normalize("NFD", c)[0].isalpha()
)
ASCII = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
PUNCTUATION = " \t\n.,;:!?-_/()[]\"'…“”–—%@#&*+=😀🙏👍\u00a0\u200b\u00d0\u00f0"

vietnamese_text = st.text(
    alphabet=st.sampled_from(VIETNAMESE_LETTERS + LATIN_ACCENTED + ASCII + PUNCTUATION),
    max_size=200,
)


@given(st.text())
def test_nothing_raises_on_arbitrary_text(text: str) -> None:
    assert isinstance(normalize(text), str)
    assert isinstance(strip_diacritics(text), str)
    assert all(t for t in tokens(text))
    assert isinstance(strip_key(text), str)


@given(st.text(alphabet=st.characters(codec="utf-8", categories=("Cc", "Cf", "Mn", "Zs", "So"))))
def test_nothing_raises_on_control_and_combining_characters(text: str) -> None:
    normalize(text)
    strip_key(text)


# Long messages: an arbitrary chunk repeated past 5,000 characters, plus arbitrary tail text.
long_text = st.builds(
    lambda chunk, tail: chunk * (5_000 // len(chunk) + 1) + tail,
    st.text(min_size=1, max_size=60),
    st.text(max_size=200),
)


@settings(max_examples=30, deadline=None)
@given(long_text)
def test_nothing_raises_on_long_text(text: str) -> None:
    assert len(text) > 5_000
    normalize(text)
    strip_key(text)


def test_long_message_is_handled_fully() -> None:
    text = "Tôi muốn hỏi về thủ tục đăng ký khai sinh cho con. " * 200  # ~10,000 characters
    assert len(text) > 5_000
    assert strip_key(text).split() == ["toi", "muon", "hoi", "ve", "thu", "tuc", "dang", "ki",
                                       "khai", "sinh", "cho", "con"] * 200


@given(st.text())
def test_strip_key_is_idempotent(text: str) -> None:
    once = strip_key(text)
    assert strip_key(once) == once


@given(vietnamese_text)
def test_strip_key_is_idempotent_on_vietnamese(text: str) -> None:
    once = strip_key(text)
    assert strip_key(once) == once


@given(vietnamese_text)
def test_strip_key_of_vietnamese_is_ascii_letters_digits_and_spaces(text: str) -> None:
    key = strip_key(text)
    assert re.fullmatch(r"[a-z0-9]+( [a-z0-9]+)*|", key), key


@given(vietnamese_text)
def test_normalize_ignores_composition_form(text: str) -> None:
    assert normalize(unicodedata.normalize("NFD", text)) == normalize(text)
    assert strip_key(unicodedata.normalize("NFD", text)) == strip_key(text)


@given(vietnamese_text)
def test_normalize_is_idempotent_on_vietnamese(text: str) -> None:
    once = normalize(text)
    assert normalize(once) == once
