"""Vietnamese text normalization.

Citizens type with and without diacritics, with legacy encodings and two tone-mark
conventions. Two forms come out of here:

* ``normalize``: readable text (NFC, lowercase, one tone placement) for logs and display;
* ``strip_key``: the matching key (no diacritics, đ→d, i/y merged, punctuation and emoji
  turned into spaces), the form every index and lookup compares.
"""

from __future__ import annotations

import re
import unicodedata

# Look-alike code points produced by old keyboards, PDF extraction and legacy encodings.
_LEGACY = str.maketrans(
    {
        "\u00d0": "Đ",  # Latin capital ETH, typed for Đ by some keyboards
        "\u0189": "Đ",  # African D
        "\u00f0": "đ",  # Latin small eth
        "\u0340": "\u0300",  # combining grave tone mark (deprecated form)
        "\u0341": "\u0301",  # combining acute tone mark (deprecated form)
        "\u02cb": "\u0300",  # modifier grave accent typed after a vowel
        "\u02ca": "\u0301",  # modifier acute accent
        "\u00a0": " ",
        "\u200b": " ",
        "\ufeff": " ",
    }
)

_TONES = {"\u0300", "\u0301", "\u0303", "\u0309", "\u0323"}
_VOWELS = set("aăâeêioôơuưy")
_MODIFIED = set("ăâêôơư")
_WORD = re.compile(r"\w+", re.UNICODE)
_NON_WORD = re.compile(r"[^\w]+|_", re.UNICODE)
_REPEAT = re.compile(r"([a-z])\1+")


def _fold(text: str) -> str:
    return unicodedata.normalize("NFC", text.translate(_LEGACY)).lower()


def _place_tone(word: str) -> str:
    """Put a syllable's tone mark where classical orthography puts it (hòa, thủy, quý)."""
    decomposed = unicodedata.normalize("NFD", word)
    tones = [c for c in decomposed if c in _TONES]
    if len(tones) != 1:
        return word
    bare = unicodedata.normalize("NFC", "".join(c for c in decomposed if c not in _TONES))
    start = 0
    if bare.startswith("qu") or (bare.startswith("gi") and len(bare) > 2 and bare[2] in _VOWELS):
        start = 2
    vowel_positions = [i for i in range(start, len(bare)) if bare[i] in _VOWELS]
    if not vowel_positions:
        return word
    first, last = vowel_positions[0], vowel_positions[-1]
    if last - first + 1 != len(vowel_positions):  # not one vowel cluster: leave as typed
        return word
    modified = [i for i in vowel_positions if bare[i] in _MODIFIED]
    if modified:
        target = modified[-1]  # ươ → ơ; otherwise the one modified vowel
    elif last + 1 < len(bare):  # closed syllable: the last vowel (hoàng, toán)
        target = last
    elif len(vowel_positions) >= 3:
        target = vowel_positions[1]
    else:
        target = first  # open syllable: hòa, thủy, mùa
    marked = unicodedata.normalize("NFD", bare[target]) + tones[0]
    return bare[:target] + unicodedata.normalize("NFC", marked) + bare[target + 1 :]


def normalize(text: str) -> str:
    """Readable normalized text: NFC, lowercase, one tone placement, single spaces."""
    folded = _fold(text)
    words = _WORD.sub(lambda m: _place_tone(m.group(0)), folded)
    return " ".join(words.split())


def strip_diacritics(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", _fold(text))
    bare = "".join(c for c in decomposed if unicodedata.category(c) != "Mn")
    return bare.replace("đ", "d")


def _merge_i_y(token: str) -> str:
    # ký/kí, lý/lí, quý/quí, mỹ/mĩ: a final "y" after a consonant is the same vowel as "i".
    if len(token) >= 2 and token.endswith("y") and token[-2] not in "aeiouy":
        return token[:-1] + "i"
    if token.startswith("qu") and token.endswith("y") and len(token) == 3:
        return "qui"
    return token


def tokens(text: str, keep: frozenset[str] = frozenset()) -> list[str]:
    """Matching tokens: stripped, split on anything that is not a letter or digit.

    Repeated letters are squeezed (khongggg → khong) except in tokens listed in ``keep``
    (dictionary abbreviations such as cccd).
    """
    out: list[str] = []
    for raw in _NON_WORD.split(strip_diacritics(text)):
        if not raw:
            continue
        if raw in keep:
            out.append(raw)
            continue
        token = _merge_i_y(_REPEAT.sub(r"\1", raw))
        out.append(token)
    return out


def strip_key(text: str) -> str:
    """The matching key of a short string (alias, lexicon key, id lookup)."""
    return " ".join(tokens(text))
