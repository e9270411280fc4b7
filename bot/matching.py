"""The answer engine: from a citizen's free text to an FAQ entry, or an honest "not sure".

Ranking is BM25 over diacritic-stripped syllable unigrams and bigrams (with lexicon
expansions), then the top candidates are re-scored with rapidfuzz against each entry's
title and aliases and the two are blended. The decision prefers asking ("Bạn muốn hỏi…?")
to guessing: a wrong confident answer is the worst outcome, since citizens act on it.
"""

from __future__ import annotations

import functools
import math
from array import array
from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from hashlib import blake2b
from typing import Literal

import numpy as np
from rapidfuzz import fuzz, process

from bot.content.model import FaqEntry
from bot.lexicon import Lexicon

Outcome = Literal["answer", "clarify", "not_sure"]
MAX_QUERY_TOKENS = 64  # long rambling messages: the first 64 syllables carry the question


_BLOCK = 1 << 16  # postings weighted at a time while building

MEMO_SIZE = 4096  # matches remembered per Matcher...
MEMO_TEXT = 200  # ...for texts this short (a few MB at worst); longer ones rarely come twice


@dataclass(frozen=True)
class MatchParams:
    """Tuned on tests/eval; bench/matching.py prints what each setting buys."""

    k1: float = 1.2
    b: float = 0.5
    top_k: int = 30
    # Ranking blend: BM25 relative to the best candidate, and rapidfuzz against the entry's
    # questions (token_set_ratio forgives extra words, token_sort_ratio rewards same length).
    rank_weights: tuple[float, float, float] = (1.0, 1.0, 0.25)
    # Answer only when the best is clearly ahead, covers enough of what was asked (idf-weighted
    # share of the query's words found in the entry) and resembles one of its questions.
    answer_margin: float = 0.10
    answer_coverage: float = 0.60
    answer_similarity: float = 0.80
    # Below these, not even "did you mean…?": the honest "not sure".
    clarify_coverage: float = 0.25
    clarify_similarity: float = 0.55
    clarify_count: int = 3


@dataclass(frozen=True)
class Candidate:
    id: str
    title: str
    score: float


@dataclass(frozen=True)
class Match:
    outcome: Outcome
    candidates: tuple[Candidate, ...]
    query_key: str

    @property
    def best(self) -> Candidate | None:
        return self.candidates[0] if self.candidates else None


@dataclass(frozen=True)
class _Query:
    tokens: list[str]
    key: str
    terms: dict[str, float]  # term -> weight toward the "how much of the query is covered" total
    expansion_terms: set[str]
    # The written terms that lexicon expansions stand for: an expansion found in an entry can
    # make up for these, and only these, being absent from it.
    expanded_terms: set[str]


@dataclass(frozen=True)
class _Scored:
    doc: int
    score: float  # the ranking blend
    coverage: float  # idf-weighted share of the query found in the entry
    similarity: float  # best token_set_ratio against the entry's questions, 0..1


def _grams(toks: Sequence[str]) -> list[str]:
    return list(toks) + [f"{a} {b}" for a, b in zip(toks, toks[1:], strict=False)]


def _term_hash(term: str) -> int:
    """A term's 64-bit hash, the same in every process: ``hash`` of a str is salted per process,
    and an index built in a loader process (bot.content.store) is looked up in the server."""
    return int.from_bytes(blake2b(term.encode(), digest_size=8).digest(), "little", signed=True)


@functools.lru_cache(maxsize=4096)
def _query_term_hash(term: str) -> int:
    """``_term_hash`` for lookups: a question's terms are looked up several times (idf,
    coverage, postings) and the same words come in question after question."""
    return _term_hash(term)


class _Vocabulary:
    """term -> index, kept as the terms' sorted 64-bit hashes (indexes follow that order).

    A dict of the ~120,000 unigrams and bigrams of a 10,000-entry store took ~14 MB; this
    takes 1 MB (issue 10). Two terms sharing a hash, or an unknown term taken for a known one,
    have a chance in about 10^9 per content load and would only blur one term's score.
    """

    def __init__(self, hashes: array) -> None:
        self._hashes = hashes  # array("q"), sorted

    def get(self, term: str) -> int | None:
        key = _query_term_hash(term)
        index = bisect_left(self._hashes, key)
        return index if index < len(self._hashes) and self._hashes[index] == key else None


class _Idf:
    """term -> inverse document frequency, over the flat index."""

    def __init__(self, vocabulary: _Vocabulary, idf: np.ndarray) -> None:
        self._vocabulary, self._idf = vocabulary, idf

    def __contains__(self, term: str) -> bool:
        return self._vocabulary.get(term) is not None

    def __getitem__(self, term: str) -> float:
        index = self._vocabulary.get(term)
        if index is None:
            raise KeyError(term)
        return float(self._idf[index])


class _Postings:
    """term -> (documents, BM25 weights): views into three flat arrays (CSR)."""

    def __init__(self, vocabulary: _Vocabulary, offsets: np.ndarray, docs: np.ndarray,
                 weights: np.ndarray) -> None:
        self._vocabulary, self._offsets, self._docs, self._weights = vocabulary, offsets, docs, weights

    def get(self, term: str) -> tuple[np.ndarray, np.ndarray] | None:
        index = self._vocabulary.get(term)
        if index is None:
            return None
        start, end = int(self._offsets[index]), int(self._offsets[index + 1])
        return self._docs[start:end], self._weights[start:end]


class Matcher:
    """An immutable index over one content snapshot. Build once per reload; share freely."""

    def __init__(
        self, entries: Iterable[FaqEntry], lexicon: Lexicon, params: MatchParams | None = None
    ) -> None:
        self.params = params or MatchParams()
        self.lexicon = lexicon
        # The same questions come again and again (a campaign's replies, "đăng ký tạm trú"):
        # their matches are kept, a bounded number, for this content snapshot's lifetime.
        self._memo: dict[str, Match] = {}
        self.entries: list[FaqEntry] = list(entries)
        # Each entry's questions as rapidfuzz compares them, one "\n"-joined string per entry:
        # a list of strings each took ~7 MB more for 10,000 entries (issue 10).
        self._question_keys: list[str] = []
        # The index is built as flat arrays, one (term, tf) row per posting, one document at a
        # time (``postings_of`` says how many rows each has): a dict of small lists and arrays
        # per term took ~3x the memory while building (a 10,000-entry store peaked near 200 MB)
        # and kept ~70 MB (issue 10).
        terms: dict[str, int] = {}
        rows_term, rows_tf, postings_of = array("i"), array("i"), array("i")
        lengths = array("d")
        for entry in self.entries:
            counts: Counter[str] = Counter()
            keys = []
            for question in (*entry.questions, *entry.tags):
                toks = lexicon.tokenize(question)
                keys.append(" ".join(toks))
                counts.update(_grams(toks))
                for extra in lexicon.expand(toks):
                    counts.update(_grams(extra))
            self._question_keys.append("\n".join(keys))
            lengths.append(sum(counts.values()))
            postings_of.append(len(counts))
            for term, tf in counts.items():
                rows_term.append(terms.setdefault(term, len(terms)))
                rows_tf.append(tf)
        hashes = np.fromiter((_term_hash(term) for term in terms), dtype=np.int64, count=len(terms))
        del terms  # the strings: the index keeps their hashes (_Vocabulary)
        self._build_index(hashes, rows_term, rows_tf, postings_of, lengths)

    def _build_index(self, hashes: np.ndarray, rows_term: array, rows_tf: array,
                     postings_of: array, doc_lengths: array) -> None:
        n_docs = len(doc_lengths)
        lengths = np.frombuffer(doc_lengths, dtype=np.float64) if n_docs else np.zeros(0)
        avgdl = float(lengths.mean()) if n_docs else 1.0
        by_hash = np.argsort(hashes)
        vocabulary = _Vocabulary(array("q", hashes[by_hash].tobytes()))
        rank = np.empty(len(by_hash), dtype=np.intc)  # a term's index: its place in hash order
        rank[by_hash] = np.arange(len(by_hash), dtype=np.intc)
        term_of = rank[np.frombuffer(rows_term, dtype=np.intc)] if rows_term else np.zeros(0, np.intc)
        del by_hash, rank
        order = np.argsort(term_of, kind="stable")  # by term; within a term, by document
        df = np.bincount(term_of, minlength=len(hashes))
        del term_of
        # uint16 documents up to 65,535 entries: half the postings' size (issue 10).
        doc_of = np.repeat(np.arange(n_docs, dtype=np.min_scalar_type(max(n_docs - 1, 0))),
                           np.frombuffer(postings_of, dtype=np.intc) if n_docs else np.zeros(0, np.intc))
        docs = doc_of[order]
        tf = (np.frombuffer(rows_tf, dtype=np.intc) if rows_tf else np.zeros(0, np.intc))[order]
        del order, doc_of
        k1, b = self.params.k1, self.params.b
        idf = np.log(1 + (n_docs - df + 0.5) / (df + 0.5))
        term_at = np.repeat(np.arange(len(df), dtype=np.intc), df)
        # BM25: idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * length / avgdl)), computed in the
        # same order (so the same floats) a block of postings at a time: whole float64 columns
        # were ~20 MB of the peak while building 10,000 entries (issue 10).
        weights = np.empty(len(docs), dtype=np.float32)
        for start in range(0, len(docs), _BLOCK):
            block = slice(start, start + _BLOCK)
            denominator = lengths[docs[block]]
            denominator *= b
            denominator /= avgdl
            denominator += 1 - b
            denominator *= k1
            denominator += tf[block]
            numerator = idf[term_at[block]]
            numerator *= tf[block]
            numerator *= k1 + 1
            numerator /= denominator
            weights[block] = numerator
        del tf, term_at
        self._n_docs = n_docs
        self._idf = _Idf(vocabulary, idf)
        self._postings = _Postings(vocabulary, np.concatenate(([0], np.cumsum(df))), docs, weights)
        self._unknown_idf = math.log(1 + (n_docs + 0.5) / 0.5)

    def _query(self, text: str) -> _Query:
        toks = self.lexicon.tokenize(text)[:MAX_QUERY_TOKENS]
        terms: dict[str, float] = {}
        for gram in _grams(toks):
            if gram in self._idf:
                terms[gram] = self._idf[gram]
            elif " " not in gram:
                terms[gram] = self._unknown_idf  # an unknown word is evidence of another topic
        expansion_terms: set[str] = set()
        expanded_terms: set[str] = set()
        for written, meaning in self.lexicon.expansions(toks):
            expansion_terms.update(g for g in _grams(meaning) if g in self._idf)
            expanded_terms.update(g for g in _grams(written) if g in terms)
        return _Query(toks, " ".join(toks), terms, expansion_terms - set(terms), expanded_terms)

    def _scores(self, query: _Query) -> tuple[np.ndarray, np.ndarray]:
        """BM25 per entry, and the idf weight of the query each entry covers.

        Coverage counts the written terms an entry contains, plus its expansion terms up to the
        weight of the written terms they stand for that it lacks: "bao nhiêu tiền" → "lệ phí"
        may stand in for "bao nhiêu tiền", never for an unknown word such as "hộ chiếu".
        """
        zeros = np.zeros(self._n_docs, dtype=np.float64)
        bm25_parts: list[tuple[np.ndarray, np.ndarray]] = []
        covered = {"written": zeros.copy(), "expanded": zeros.copy(), "expansion": zeros.copy()}
        for term in (*query.terms, *query.expansion_terms):
            posting = self._postings.get(term)
            if posting is None:
                continue
            docs, weights = posting
            bm25_parts.append((docs, weights))
            idf = self._idf[term]
            if term in query.expansion_terms:
                covered["expansion"][docs] += idf
            else:
                covered["written"][docs] += idf
                if term in query.expanded_terms:
                    covered["expanded"][docs] += idf
        if not bm25_parts:
            return zeros, zeros
        index = np.concatenate([d for d, _ in bm25_parts])
        bm25 = np.bincount(index, weights=np.concatenate([w for _, w in bm25_parts]),
                           minlength=self._n_docs)
        expanded_total = sum(query.terms[t] for t in query.expanded_terms)
        make_up = np.minimum(covered["expansion"], expanded_total - covered["expanded"])
        return bm25, covered["written"] + make_up

    def bm25_top(self, text: str, k: int) -> list[tuple[str, float]]:
        """The ``k`` best entries by BM25 alone (the benchmark's baseline)."""
        bm25, _ = self._scores(self._query(text))
        order = np.argsort(-bm25)[:k]
        return [(self.entries[i].id, float(bm25[i])) for i in order.tolist() if bm25[i] > 0]

    def _candidates(self, text: str) -> tuple[str, list[_Scored]]:
        query = self._query(text)
        if not query.tokens or self._n_docs == 0:
            return query.key, []
        bm25, covered = self._scores(query)
        top_k = min(self.params.top_k, self._n_docs)
        if top_k < self._n_docs:
            top = np.argpartition(-bm25, top_k - 1)[:top_k]
        else:
            top = np.arange(self._n_docs)
        top = top[bm25[top] > 0]
        if len(top) == 0:
            return query.key, []
        docs = top.tolist()
        questions = [self._question_keys[d].split("\n") for d in docs]
        keys = [k for q in questions for k in q]
        bounds = np.cumsum([0] + [len(q) for q in questions[:-1]])
        token_set = np.maximum.reduceat(
            process.cdist([query.key], keys, scorer=fuzz.token_set_ratio, dtype=np.float32)[0], bounds)
        token_sort = np.maximum.reduceat(
            process.cdist([query.key], keys, scorer=fuzz.token_sort_ratio, dtype=np.float32)[0], bounds)
        best_bm25 = float(bm25[top].max())
        total = sum(query.terms.values()) or 1.0
        w_bm25, w_set, w_sort = self.params.rank_weights
        scale = w_bm25 + w_set + w_sort
        scored = []
        for i, doc in enumerate(docs):
            similarity = float(token_set[i]) / 100
            rank_score = (w_bm25 * float(bm25[doc]) / best_bm25 + w_set * similarity
                          + w_sort * float(token_sort[i]) / 100) / scale
            scored.append(_Scored(doc, rank_score, min(1.0, float(covered[doc]) / total), similarity))
        scored.sort(key=lambda s: s.score, reverse=True)
        return query.key, scored

    def rank(self, text: str, limit: int | None = None) -> tuple[str, list[Candidate]]:
        """Candidates best first, each with its blended ranking score in [0, 1]."""
        key, scored = self._candidates(text)
        return key, [self._candidate(s) for s in scored[: limit or len(scored)]]

    def _candidate(self, scored: _Scored) -> Candidate:
        entry = self.entries[scored.doc]
        return Candidate(entry.id, entry.title, round(scored.score, 4))

    def match(self, text: str) -> Match:
        if len(text) > MEMO_TEXT:
            return self.match_fresh(text)
        found = self._memo.get(text)
        if found is None:
            found = self.match_fresh(text)
            if len(self._memo) >= MEMO_SIZE:
                self._memo.pop(next(iter(self._memo)), None)  # the oldest first
            self._memo[text] = found
        return found

    def match_fresh(self, text: str) -> Match:
        """The whole computation, memo bypassed: what a question never seen before costs."""
        p = self.params
        key, scored = self._candidates(text)
        if not scored:
            return Match("not_sure", (), key)
        best = scored[0]
        runner_up = scored[1].score if len(scored) > 1 else 0.0
        if (best.score - runner_up >= p.answer_margin and best.coverage >= p.answer_coverage
                and best.similarity >= p.answer_similarity):
            return Match("answer", tuple(self._candidate(s) for s in scored[:p.clarify_count]), key)
        shortlist = [s for s in scored[: p.clarify_count]
                     if s.coverage >= p.clarify_coverage and s.similarity >= p.clarify_similarity]
        if shortlist and shortlist[0] is best:
            return Match("clarify", tuple(self._candidate(s) for s in shortlist), key)
        return Match("not_sure", tuple(self._candidate(s) for s in scored[: p.clarify_count]), key)
