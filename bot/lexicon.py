"""The editable domain dictionary: abbreviations, teencode and colloquial synonyms.

Expansions are added to a text's tokens, never substituted, so "dk" keeps matching an alias
that says "dk" while also matching "đăng ký" and "điều kiện".
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot import text as vtext


@dataclass(frozen=True)
class Lexicon:
    # stripped single token -> expansions, each a tuple of stripped tokens
    abbreviations: dict[str, tuple[tuple[str, ...], ...]] = field(default_factory=dict)
    # stripped phrase (tuple of tokens) -> expansions
    synonyms: dict[tuple[str, ...], tuple[tuple[str, ...], ...]] = field(default_factory=dict)

    _phrases_by_head: dict[str, tuple[tuple[str, ...], ...]] = field(
        default_factory=dict, compare=False
    )

    def __post_init__(self) -> None:
        heads: dict[str, list[tuple[str, ...]]] = {}
        for phrase in self.synonyms:
            heads.setdefault(phrase[0], []).append(phrase)
        object.__setattr__(self, "_phrases_by_head", {k: tuple(v) for k, v in heads.items()})

    @property
    def protected(self) -> frozenset[str]:
        """Tokens that must survive letter squeezing (cccd)."""
        return frozenset(self.abbreviations)

    @classmethod
    def from_mapping(
        cls, abbreviations: dict[str, list[str]], synonyms: dict[str, list[str]]
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
        return cls(abbreviations=abbr, synonyms={k: v for k, v in syn.items() if k})

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
