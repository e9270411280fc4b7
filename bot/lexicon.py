"""The editable domain dictionary: abbreviations, teencode, colloquial synonyms, and the
words that decide which procedure a question is about.

Expansions are added to a text's tokens, never substituted, so "dk" keeps matching an alias
that says "dk" while also matching "đăng ký" and "điều kiện". Deciding words ("mục đích",
"tạm vắng", "cấp lại"…) turn a procedure into another one: an entry that never mentions one
the citizen wrote is not answered with confidence ("chuyển mục đích sử dụng đất" is not
"chuyển nhượng").
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field

from bot import text as vtext

_SPLIT = re.compile(r"[^\w]+|_", re.UNICODE)


@dataclass(frozen=True)
class Lexicon:
    # stripped single token -> expansions, each a tuple of stripped tokens
    abbreviations: dict[str, tuple[tuple[str, ...], ...]] = field(default_factory=dict)
    # stripped phrase (tuple of tokens) -> expansions
    synonyms: dict[tuple[str, ...], tuple[tuple[str, ...], ...]] = field(default_factory=dict)

    # deciding words: each as accented tokens (normalized) and as stripped tokens
    deciding: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = ()

    _phrases_by_head: dict[str, tuple[tuple[str, ...], ...]] = field(
        default_factory=dict, compare=False
    )

    def __post_init__(self) -> None:
        heads: dict[str, list[tuple[str, ...]]] = {}
        for phrase in self.synonyms:
            heads.setdefault(phrase[0], []).append(phrase)
        object.__setattr__(self, "_phrases_by_head", {k: tuple(v) for k, v in heads.items()})

    @functools.cached_property
    def protected(self) -> frozenset[str]:
        """Tokens that must survive letter squeezing (cccd)."""
        return frozenset(self.abbreviations)

    @classmethod
    def from_mapping(
        cls, abbreviations: dict[str, list[str]], synonyms: dict[str, list[str]],
        deciding: list[str] | tuple[str, ...] = (),
    ) -> Lexicon:
        protected = frozenset(vtext.strip_diacritics(key).strip() for key in abbreviations)
        # Meanings are tokenized like queries and content (protected tokens unsqueezed), or a
        # meaning that mentions "cccd" would add "cd", which nothing in the index contains.
        abbr = {
            vtext.strip_diacritics(key).strip(): tuple(
                tuple(vtext.tokens(m, protected)) for m in meanings
            )
            for key, meanings in abbreviations.items()
        }
        syn = {
            tuple(vtext.tokens(key, protected)): tuple(
                tuple(vtext.tokens(m, protected)) for m in meanings
            )
            for key, meanings in synonyms.items()
        }
        words = tuple(dict.fromkeys(
            (tuple(accented_tokens(word)), tuple(vtext.tokens(word, protected))) for word in deciding))
        return cls(abbreviations=abbr, synonyms={k: v for k, v in syn.items() if k},
                   deciding=tuple(w for w in words if w[1]))

    def tokenize(self, text: str) -> list[str]:
        return vtext.tokens(text, self.protected)

    def expand(self, toks: list[str]) -> list[tuple[str, ...]]:
        """Extra token runs implied by abbreviations and synonyms found in ``toks``."""
        return [meaning for _, meaning in self.expansions(toks)]

    def expansions(self, toks: list[str]) -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
        """(what the citizen wrote, what it means) for every abbreviation and synonym found."""
        found: list[tuple[tuple[str, ...], tuple[str, ...]]] = []
        for tok in toks:
            found.extend(((tok,), meaning) for meaning in self.abbreviations.get(tok, ()))
        seen: set[tuple[str, ...]] = set()
        for i, tok in enumerate(toks):
            for phrase in self._phrases_by_head.get(tok, ()):
                if phrase not in seen and tuple(toks[i : i + len(phrase)]) == phrase:
                    seen.add(phrase)
                    found.extend((phrase, meaning) for meaning in self.synonyms[phrase])
        return found

    def deciding_in(self, text: str, expansions: Sequence[tuple[str, ...]] = (),
                    stripped_ok: frozenset[int] | None = None) -> frozenset[int]:
        """The deciding words (their indexes) a citizen's text contains.

        Written with diacritics, the text is compared with diacritics ("đổi" is not "đợi");
        written without, stripped, for the words in ``stripped_ok`` only (those that stay
        unambiguous without diacritics: "thuế" does not, "thue" is also "thuê"). Lexicon
        expansions count too: "mất sổ đỏ" means "cấp lại".
        """
        if not self.deciding:
            return frozenset()
        accented = _has_diacritics(text)
        toks = accented_tokens(text) if accented else vtext.tokens(text, self.protected)
        everything = range(len(self.deciding))
        usable = everything if stripped_ok is None else stripped_ok
        side = 0 if accented else 1
        words = set(toks)
        found = {i for i in (everything if accented else usable)
                 if self.deciding[i][side][0] in words and _asserted(toks, self.deciding[i][side])}
        for meaning in expansions:
            found.update(i for i in usable if self.deciding[i][1][0] in meaning
                         and _contains(meaning, self.deciding[i][1]))
        return frozenset(found)

    def deciding_of_entry(self, texts: list[str]) -> tuple[frozenset[int], frozenset[int]]:
        """The deciding words an entry's own text (title, aliases, tags, body) mentions, and
        those its text written with diacritics contains once stripped (a word a stripped query
        cannot tell apart from another: "thue" where the entry says "thuê")."""
        if not self.deciding:
            return frozenset(), frozenset()
        written = [t for t in texts if _has_diacritics(t)]
        bare = [vtext.tokens(t, self.protected) for t in texts if not _has_diacritics(t)]
        stripped = _present(self.deciding, [vtext.tokens(t, self.protected) for t in written], 1)
        # An alias typed without diacritics ("doi cccd") says the word it strips to.
        present = _present(self.deciding, [accented_tokens(t) for t in written], 0) | _present(
            self.deciding, bare, 1)
        return present, stripped


def _present(words: tuple, texts: list[list[str]], side: int) -> frozenset[int]:
    vocabulary = {tok for toks in texts for tok in toks}
    return frozenset(i for i, word in enumerate(words)
                     if set(word[side]) <= vocabulary and any(_contains(t, word[side]) for t in texts))


def accented_tokens(text: str) -> list[str]:
    """Lowercase words with their diacritics (one tone placement): for deciding words only."""
    return [w for w in _SPLIT.split(vtext.normalize(text)) if w]


_NEGATION = frozenset({"không", "chưa", "khong", "chua", "ko", "k", "kg"})


def _asserted(toks: list[str], run: tuple[str, ...]) -> bool:
    """``run`` occurs in ``toks`` and not just after a negation ("không để lại di chúc",
    "không có lương hưu" say what the case is not)."""
    n = len(run)
    return any(tuple(toks[i:i + n]) == run and _NEGATION.isdisjoint(toks[max(0, i - 3):i])
               for i in range(len(toks) - n + 1) if toks[i] == run[0])


def _has_diacritics(text: str) -> bool:
    return any(unicodedata.combining(c) for c in unicodedata.normalize("NFD", text)) or any(
        c in "đĐ" for c in text)


def _contains(toks: list[str] | tuple[str, ...], run: tuple[str, ...]) -> bool:
    n = len(run)
    if not n or n > len(toks):
        return False
    first = run[0]
    return any(toks[i] == first and tuple(toks[i:i + n]) == run for i in range(len(toks) - n + 1))
