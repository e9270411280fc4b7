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

from bot import question as asked_of
from bot.content.model import FaqEntry
from bot.lexicon import Lexicon

Outcome = Literal["answer", "clarify", "not_sure"]
MAX_QUERY_TOKENS = 64  # of the question sentences, and as many of the story around them
LIKENESS_TOKENS = 24  # the question's first words compared with the entries' questions
THIN_QUESTION = 2  # a question part with this few words of its own takes its subject from the story


_BLOCK = 1 << 16  # postings weighted at a time while building

MEMO_SIZE = 4096  # matches remembered per Matcher...
MEMO_TEXT = 200  # ...for texts this short (a few MB at worst); longer ones rarely come twice


@dataclass(frozen=True)
class MatchParams:
    """Tuned on tests/eval; bench/matching.py prints what each setting buys."""

    k1: float = 1.2
    b: float = 0.5
    top_k: int = 12  # candidates re-scored with rapidfuzz (30 bought nothing on tests/eval)
    # Ranking blend: BM25 relative to the best candidate, and rapidfuzz against the entry's
    # questions (token_set_ratio forgives extra words, token_sort_ratio rewards same length).
    rank_weights: tuple[float, float, float] = (1.0, 1.0, 0.25)
    # Answer only when the best is clearly ahead, covers enough of what was asked (idf-weighted
    # share of the query's words found in the entry) and resembles one of its questions.
    answer_margin: float = 0.12
    answer_coverage: float = 0.60
    answer_similarity: float = 0.80
    # Below these, not even "did you mean…?": the honest "not sure".
    clarify_coverage: float = 0.10
    clarify_similarity: float = 0.40
    clarify_count: int = 3
    # A long message: the story around the question sentences counts this much of them.
    story_weight: float = 0.3
    # A sibling (khai-sinh-le-phi of khai-sinh) is answered instead of the general entry only
    # when the question has words of its own (idf-weighted) that the general entry lacks.
    sibling_distinct: float = 1.0
    # ...and ranks at least this far above the general entry.
    sibling_margin: float = 0.0
    # A message of long_from words or more (a letter: it covers less of itself, and its
    # margins are narrower) is answered at these instead of answer_margin and answer_coverage.
    long_from: int = 16
    long_margin: float = 0.06
    long_coverage: float = 0.45
    # (the margin, or this lead in coverage over the rival: a long message matches many
    # questions word for word, so the ranking blend there rarely leaves a wide margin)
    answer_lead: float = 0.15
    # Or far ahead of every other family: then less coverage and likeness do (a long letter
    # covers less of itself; "tao tk dvc" resembles no question closely).
    lead_margin: float = 0.25
    lead_coverage: float = 0.50
    lead_similarity: float = 0.70
    # And some of the question (this share) is covered by it and not by the rival: "thủ tục
    # đăng ký" names no procedure, however well "đăng ký" matches.
    answer_own: float = 0.05
    specific_idf: float = 1.5  # ...unless it covers a word this rare (idf): "tạm trú" names one


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
    # The answered (or first) entry's siblings: the general entry and its fee, late and
    # special-case entries, offered as related buttons.
    related: tuple[Candidate, ...] = ()
    # What the question asks about the procedure: papers, fee, time, place, conditions, online.
    aspects: frozenset[str] = frozenset()

    @property
    def best(self) -> Candidate | None:
        return self.candidates[0] if self.candidates else None


@dataclass(frozen=True)
class _Query:
    tokens: list[str]
    key: str
    terms: dict[str, float]  # term -> weight toward the "how much of the query is covered" total
    expansion_terms: dict[str, float]  # expansion term -> its weight (the written part's)
    # The written terms that lexicon expansions stand for: an expansion found in an entry can
    # make up for these, and only these, being absent from it.
    expanded_terms: set[str]
    ranking: dict[str, float]  # every term -> how much its BM25 weight counts (story < question)
    deciding: frozenset[int]  # the lexicon's deciding words the message contains
    aspects: frozenset[str]
    # What is compared with the entries' questions (rapidfuzz): the question part's first
    # LIKENESS_TOKENS words (past that, rapidfuzz costs more than it tells).
    likeness: str


@dataclass(frozen=True)
class _Scored:
    doc: int
    score: float  # the ranking blend
    coverage: float  # idf-weighted share of the query found in the entry
    similarity: float  # best token_set_ratio against the entry's questions, 0..1
    sort: float = 0.0  # best token_sort_ratio, 0..1 (the same words, in the same number)


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
        # The deciding words each entry mentions, and those a query without diacritics cannot
        # tell apart from another word in the content (lexicon.Lexicon.deciding_in).
        self._deciding: list[frozenset[int]] = []
        ambiguous: set[int] = set()
        for entry in self.entries:
            accented, stripped = lexicon.deciding_of_entry([*entry.questions, *entry.tags, entry.body])
            self._deciding.append(_interned(accented))
            ambiguous |= stripped - accented
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
        self._stripped_ok = frozenset(range(len(lexicon.deciding))) - ambiguous
        self._general, self._family = _families([e.id for e in self.entries])
        # A special entry's own words: in its questions and tags, not in its general entry's
        # (an aspect word only when its title or tags name it: "lệ phí", not a stray "bao lâu").
        # An aspect named in a special entry's title or tags and not in its general entry's
        # ("Đăng ký khai sinh có mất lệ phí không?") is its own too.
        self._distinct: dict[int, frozenset[str]] = {}
        self._distinct_aspects: dict[int, frozenset[str]] = {}
        self._distinct_general: dict[int, frozenset[str]] = {}  # the general's words, not the special's
        for head, docs in self._family.items():
            general_terms = self._terms_of([*self.entries[head].questions, *self.entries[head].tags])
            general_aspects = self._aspects_of([self.entries[head].title, *self.entries[head].tags])
            for doc in docs[1:]:
                entry = self.entries[doc]
                named = self._terms_of([entry.title, *entry.tags])
                self._distinct_aspects[doc] = self._aspects_of([entry.title, *entry.tags]) - general_aspects
                self._distinct_general[doc] = frozenset(
                    g for g in general_terms - self._terms_of([*entry.questions, *entry.tags])
                    if not asked_of.with_filler(g) and not asked_of.aspect_term(g))
                self._distinct[doc] = frozenset(
                    g for g in self._terms_of([*entry.questions, *entry.tags]) - general_terms
                    if not asked_of.with_filler(g) and (not asked_of.aspect_term(g) or g in named))

    def _aspects_of(self, texts: list[str]) -> frozenset[str]:
        return frozenset().union(*(asked_of.aspects(self.lexicon.tokenize(text)) for text in texts))

    def _terms_of(self, texts: list[str]) -> set[str]:
        terms: set[str] = set()
        for text in texts:
            toks = self.lexicon.tokenize(text)
            terms.update(_grams(toks))
            for extra in self.lexicon.expand(toks):
                terms.update(_grams(extra))
        return terms

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
        parts = asked_of.split(text, self.lexicon.tokenize)
        asked, story = parts.question[:MAX_QUERY_TOKENS], parts.story[:MAX_QUERY_TOKENS]
        terms: dict[str, float] = {}
        ranking: dict[str, float] = {}
        expansion_terms: dict[str, float] = {}
        expanded_terms: set[str] = set()
        meanings: list[tuple[str, ...]] = []
        asked_meanings = 0
        for toks, weight in ((asked, 1.0), (story, self.params.story_weight)):
            for gram in _grams(toks):
                if ranking.get(gram, 0.0) >= weight:
                    continue
                if gram in self._idf:
                    idf = self._idf[gram]
                elif " " not in gram:
                    idf = self._unknown_idf  # an unknown word is evidence of another topic
                else:
                    continue
                ranking[gram] = weight
                # Filler and the aspect asked ("cần gì", "ở đâu") neither cover nor miss.
                terms[gram] = 0.0 if asked_of.neutral(gram) else idf * weight
            for written, meaning in self.lexicon.expansions(toks):
                meanings.append(meaning)
                for g in _grams(meaning):
                    if g in self._idf and expansion_terms.get(g, 0.0) < weight:
                        expansion_terms[g] = weight
                expanded_terms.update(g for g in _grams(written) if terms.get(g))
            if weight == 1.0:
                asked_meanings = len(meanings)
        for gram in list(expansion_terms):
            if gram in terms:
                del expansion_terms[gram]
            else:
                ranking[gram] = expansion_terms[gram]
        # The deciding words of the question; of the story too when the question names no
        # subject of its own ("Nhà tôi nuôi hai con chó. Đăng ký ở đâu?").
        deciding = self.lexicon.deciding_in(parts.question_text, meanings[:asked_meanings], self._stripped_ok)
        if parts.story_text and sum(1 for g in asked if not asked_of.neutral(g)) <= THIN_QUESTION:
            deciding |= self.lexicon.deciding_in(parts.story_text, meanings[asked_meanings:], self._stripped_ok)
        # abbreviations read as their first meaning: "tao tk dvc" resembles "tạo tài khoản dịch
        # vụ công", as the citizen meant it
        likeness = [w for tok in asked[:LIKENESS_TOKENS]
                    for w in (self.lexicon.abbreviations.get(tok) or ((tok,),))[0]]
        return _Query(asked + story, " ".join(asked), terms, expansion_terms, expanded_terms,
                      ranking, deciding, asked_of.aspects(asked or story), " ".join(likeness))

    def _scores(self, query: _Query) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        """BM25 per entry, the weight of the query each entry covers, and each covering term's
        entries (sorted indexes).

        Coverage counts the written terms an entry contains, plus its expansion terms up to the
        weight of the written terms they stand for that it lacks: "bao nhiêu tiền" → "lệ phí"
        may stand in for "bao nhiêu tiền", never for an unknown word such as "hộ chiếu".
        """
        zeros = np.zeros(self._n_docs, dtype=np.float64)
        bm25_parts: list[tuple[np.ndarray, np.ndarray]] = []
        covered = {"written": zeros.copy(), "expanded": zeros.copy(), "expansion": zeros.copy()}
        found: dict[str, np.ndarray] = {}
        for term, rank_weight in query.ranking.items():
            posting = self._postings.get(term)
            if posting is None:
                continue
            docs, weights = posting
            bm25_parts.append((docs, weights * rank_weight if rank_weight != 1.0 else weights))
            if term in query.expansion_terms:
                weight = self._idf[term] * rank_weight
                covered["expansion"][docs] += weight
                found[term] = docs
            elif query.terms.get(term):
                weight = query.terms[term]
                covered["written"][docs] += weight
                found[term] = docs
                if term in query.expanded_terms:
                    covered["expanded"][docs] += weight
        if not bm25_parts:
            return zeros, zeros, found
        index = np.concatenate([d for d, _ in bm25_parts])
        bm25 = np.bincount(index, weights=np.concatenate([w for _, w in bm25_parts]),
                           minlength=self._n_docs)
        expanded_total = sum(query.terms[t] for t in query.expanded_terms)
        make_up = np.minimum(covered["expansion"], expanded_total - covered["expanded"])
        return bm25, covered["written"] + make_up, found

    def bm25_top(self, text: str, k: int) -> list[tuple[str, float]]:
        """The ``k`` best entries by BM25 alone (the benchmark's baseline)."""
        bm25, _, _ = self._scores(self._query(text))
        order = np.argsort(-bm25)[:k]
        return [(self.entries[i].id, float(bm25[i])) for i in order.tolist() if bm25[i] > 0]

    def _candidates(self, text: str) -> tuple[_Query, list[_Scored], dict[str, np.ndarray]]:
        query = self._query(text)
        if not query.tokens or self._n_docs == 0:
            return query, [], {}
        bm25, covered, found = self._scores(query)
        top_k = min(self.params.top_k, self._n_docs)
        if top_k < self._n_docs:
            top = np.argpartition(-bm25, top_k - 1)[:top_k]
        else:
            top = np.arange(self._n_docs)
        top = top[bm25[top] > 0]
        if len(top) == 0:
            return query, [], found
        docs = top.tolist()
        questions = [self._question_keys[d].split("\n") for d in docs]
        keys = [k for q in questions for k in q]
        bounds = np.cumsum([0] + [len(q) for q in questions[:-1]])
        token_set = np.maximum.reduceat(
            process.cdist([query.likeness], keys, scorer=fuzz.token_set_ratio, dtype=np.float32)[0], bounds)
        token_sort = np.maximum.reduceat(
            process.cdist([query.likeness], keys, scorer=fuzz.token_sort_ratio, dtype=np.float32)[0], bounds)
        best_bm25 = float(bm25[top].max())
        total = sum(query.terms.values()) or 1.0
        w_bm25, w_set, w_sort = self.params.rank_weights
        scale = w_bm25 + w_set + w_sort
        scored = []
        for i, doc in enumerate(docs):
            similarity = float(token_set[i]) / 100
            coverage = min(1.0, float(covered[doc]) / total)
            rank_score = (w_bm25 * float(bm25[doc]) / best_bm25 + w_set * similarity
                          + w_sort * float(token_sort[i]) / 100) / scale
            scored.append(_Scored(doc, rank_score, coverage, similarity, float(token_sort[i]) / 100))
        scored.sort(key=lambda s: s.score, reverse=True)
        return query, scored, found

    def rank(self, text: str, limit: int | None = None) -> tuple[str, list[Candidate]]:
        """Candidates best first, each with its blended ranking score in [0, 1]."""
        query, scored, _ = self._candidates(text)
        return query.key, [self._candidate(s) for s in scored[: limit or len(scored)]]

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
        return self._decide(*self._candidates(text))

    def _decide(self, query: _Query, scored: list[_Scored], found: dict[str, np.ndarray]) -> Match:
        p = self.params
        key = query.key
        if not scored:
            return Match("not_sure", (), key, aspects=query.aspects)
        best = scored[0]
        chosen, rival, similarity = self._assess(query, scored, found)
        decided = query.deciding <= self._deciding[chosen.doc]
        margin = best.score - (rival.score if rival is not None else 0.0)
        lead = chosen.coverage - (rival.coverage if rival is not None else 0.0)
        long = len(query.tokens) >= p.long_from
        sure = ((margin >= (p.long_margin if long else p.answer_margin) or lead >= p.answer_lead)
                and chosen.coverage >= (p.long_coverage if long else p.answer_coverage)
                and similarity >= p.answer_similarity)
        far_ahead = (margin >= p.lead_margin and chosen.coverage >= p.lead_coverage
                     and similarity >= p.lead_similarity)
        own = (rival is None or self._specific(query, found, chosen.doc)
               or self._only_in(query, found, chosen.doc, rival.doc) >= p.answer_own)
        if decided and ((sure and own) or far_ahead):
            rest = [s for s in scored[:p.clarify_count + 1] if s is not chosen][:p.clarify_count - 1]
            return Match("answer", tuple(self._candidate(s) for s in (chosen, *rest)), key,
                         self._related(chosen.doc), query.aspects)
        # Not sure enough to answer: offer what fits, the deciding words included.
        shortlist = [s for s in scored[: p.clarify_count]
                     if s.coverage >= p.clarify_coverage and s.similarity >= p.clarify_similarity
                     and query.deciding <= self._deciding[s.doc]]
        if shortlist:
            return Match("clarify", tuple(self._candidate(s) for s in shortlist), key,
                         self._related(shortlist[0].doc), query.aspects)
        return Match("not_sure", tuple(self._candidate(s) for s in scored[: p.clarify_count]), key,
                     aspects=query.aspects)

    def _assess(self, query: _Query, scored: list[_Scored],
                found: dict[str, np.ndarray]) -> tuple[_Scored, _Scored | None, float]:
        """The entry that would answer (its family's pick), the first candidate of another
        family (the rival), and the family's best similarity."""
        general = self._general[scored[0].doc]
        chosen = (self._sibling_for(query, scored, found, general) if general in self._family
                  else scored[0])
        rival = next((s for s in scored if self._general[s.doc] != general), None)
        similarity = max(s.similarity for s in scored if self._general[s.doc] == general)
        return chosen, rival, similarity

    def _specific(self, query: _Query, found: dict[str, np.ndarray], doc: int) -> bool:
        """Whether ``doc`` covers a word of the question that few entries have ("tạm trú",
        not "đăng ký")."""
        return any(weight >= self.params.specific_idf * query.ranking[term]
                   for term, weight in query.terms.items()
                   if weight and term in found and _has(found[term], doc))

    def _only_in(self, query: _Query, found: dict[str, np.ndarray], doc: int, other: int) -> float:
        """The share of the question's weight that ``doc`` covers and ``other`` does not."""
        total = sum(query.terms.values())
        alone = sum(weight for term, weight in query.terms.items()
                    if weight and term in found and _has(found[term], doc) and not _has(found[term], other))
        return alone / total if total else 0.0

    def _sibling_for(self, query: _Query, scored: list[_Scored], found: dict[str, np.ndarray],
                     general: int) -> _Scored:
        """Which of a family answers: a special entry when the question has words of its own
        that the general entry lacks ("lệ phí", "quá hạn"), otherwise the general one."""
        members = [s for s in scored if self._general[s.doc] == general]
        general_score = next((s.score for s in members if s.doc == general), 0.0)
        for s in members:
            if s.doc == general:
                continue
            # What the citizen wrote, or a lexicon meaning of two words or more ("bao lâu" →
            # "thời hạn" must not make "Hàn Quốc" a word of the question).
            weight = sum(self._idf[term] * query.ranking[term]
                         for term in self._distinct[s.doc] & query.ranking.keys()
                         if term not in query.expansion_terms or " " in term)
            if query.aspects & self._distinct_aspects[s.doc]:
                weight += self.params.sibling_distinct
            # ...and more of its own than the general entry has against it.
            against = sum(self._idf[term] * query.ranking[term]
                          for term in self._distinct_general[s.doc] & query.ranking.keys()
                          if term not in query.expansion_terms or " " in term)
            if (weight >= self.params.sibling_distinct and weight > against
                    and s.score >= general_score + self.params.sibling_margin):
                return s  # the best ranked of the specials the question names
        return next((s for s in members if s.doc == general), members[0])

    def _related(self, doc: int) -> tuple[Candidate, ...]:
        """The other entries of ``doc``'s family, general entry first."""
        general = self._general[doc]
        return tuple(Candidate(self.entries[d].id, self.entries[d].title, 0.0)
                     for d in self._family.get(general, ()) if d != doc)


@functools.lru_cache(maxsize=1024)
def _interned(words: frozenset[int]) -> frozenset[int]:
    """One shared set per distinct value: most entries mention no deciding word at all."""
    return words


def _families(ids: list[str]) -> tuple[list[int], dict[int, tuple[int, ...]]]:
    """Each entry's general entry, and each family with more than one member.

    An entry whose id contains another's whole (``khai-sinh-le-phi``, ``khai-sinh-qua-han``,
    ``lien-thong-khai-sinh`` of ``khai-sinh``; the longest such id if several) is a sibling of
    it: its fee, late or special case, not a rival.
    """
    doc_of = {faq_id: doc for doc, faq_id in enumerate(ids)}
    general = list(range(len(ids)))
    members: dict[int, list[int]] = {}
    for doc, faq_id in enumerate(ids):
        parts = faq_id.split("-")
        runs = ("-".join(parts[i:i + n]) for n in range(len(parts) - 1, 0, -1)
                for i in range(len(parts) - n + 1))
        head = next((doc_of[run] for run in runs if run in doc_of), None)
        if head is not None:
            general[doc] = head
    for doc, head in enumerate(general):
        while general[head] != head:  # a sibling of a sibling: the family's root
            head = general[head]
        general[doc] = head
        if head != doc:
            members.setdefault(head, [head]).append(doc)
    return general, {head: tuple(docs) for head, docs in members.items()}


def _has(docs: np.ndarray, doc: int) -> bool:
    """Whether a term's sorted postings hold ``doc``."""
    i = int(np.searchsorted(docs, doc))
    return i < len(docs) and int(docs[i]) == doc
