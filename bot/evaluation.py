"""Scoring the answer engine on the labelled queries in tests/eval/.

Shared by the quality-floor test and bench/matching.py so both count the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

EVAL_DIR = Path(__file__).resolve().parent.parent / "tests" / "eval"


@dataclass(frozen=True)
class EvalSet:
    in_scope: list[tuple[str, str]]  # (query, expected id)
    out_of_scope: list[tuple[str, str]]  # (query, kind)

    def half(self, parity: int) -> EvalSet:
        """The queries at even (0) or odd (1) positions: thresholds are tuned on the even
        half of every set and checked on the odd one."""
        return EvalSet(self.in_scope[parity::2], self.out_of_scope[parity::2])


# The sets bench/matching.py and tests/test_eval.py report, each a file (or two) of tests/eval/:
# chat-style (short messages), long-form (letters to a hotline), near-miss (procedures the pack
# lacks, worded like one it has), out-of-scope (anything else).
SETS = {
    "chat-style": ("in_scope.yaml", None),
    "long-form": ("long_form.yaml", None),
    "near-miss": (None, "near_miss.yaml"),
    "out-of-scope": (None, "out_of_scope.yaml"),
}


def _read(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8")) or {}


def load_eval_set(directory: Path = EVAL_DIR) -> EvalSet:
    """The short chat-style set: in-scope and out-of-scope queries."""
    return _load(directory, "in_scope.yaml", "out_of_scope.yaml")


def load_eval_sets(directory: Path = EVAL_DIR) -> dict[str, EvalSet]:
    """Every set by name (SETS)."""
    return {name: _load(directory, labelled, unlabelled) for name, (labelled, unlabelled) in SETS.items()}


def _load(directory: Path, labelled: str | None, unlabelled: str | None) -> EvalSet:
    in_scope_raw = _read(directory / labelled) if labelled else {}
    oos_raw = _read(directory / unlabelled) if unlabelled else {}
    return EvalSet(
        in_scope=[(str(q), faq_id) for faq_id, queries in in_scope_raw.items() for q in queries],
        out_of_scope=[(str(q), kind) for kind, queries in oos_raw.items() for q in queries],
    )


@dataclass
class Scores:
    in_scope: int = 0
    answered: int = 0
    correct: int = 0
    clarified: int = 0
    clarified_with_right_choice: int = 0
    not_sure: int = 0
    out_of_scope: int = 0
    oos_answered: int = 0
    wrong: list[tuple[str, str, str]] = field(default_factory=list)  # query, expected, got
    oos_wrongly_answered: list[tuple[str, str]] = field(default_factory=list)

    @property
    def correct_among_answered(self) -> float:
        return self.correct / self.answered if self.answered else 0.0

    @property
    def wrong_share(self) -> float:
        return len(self.wrong) / self.in_scope if self.in_scope else 0.0

    @property
    def clarify_rate(self) -> float:
        return self.clarified / self.in_scope if self.in_scope else 0.0

    @property
    def not_sure_rate(self) -> float:
        return self.not_sure / self.in_scope if self.in_scope else 0.0

    @property
    def direct_correct(self) -> float:
        """Answered directly and correctly, as a share of the in-scope queries."""
        return self.correct / self.in_scope if self.in_scope else 0.0

    @property
    def answer_or_shortlist(self) -> float:
        """The right entry answered, or offered in "did you mean…?"."""
        return (self.correct + self.clarified_with_right_choice) / self.in_scope if self.in_scope else 0.0

    @property
    def answered_rate(self) -> float:
        return self.answered / self.in_scope if self.in_scope else 0.0

    @property
    def oos_answered_share(self) -> float:
        return self.oos_answered / self.out_of_scope if self.out_of_scope else 0.0

    def summary(self) -> dict[str, float]:
        return {
            "correct_among_answered": round(self.correct_among_answered, 4),
            "wrong_share_of_in_scope": round(self.wrong_share, 4),
            "answered_rate": round(self.answered_rate, 4),
            "clarify_rate": round(self.clarify_rate, 4),
            "clarify_contains_right": round(
                self.clarified_with_right_choice / self.clarified if self.clarified else 0.0, 4
            ),
            "not_sure_rate": round(self.not_sure_rate, 4),
            "direct_correct": round(self.direct_correct, 4),
            "answer_or_shortlist": round(self.answer_or_shortlist, 4),
            "out_of_scope_answered": round(self.oos_answered_share, 4),
        }


# A decider returns (outcome, ids): the answered id first, or the clarify shortlist.
Decider = Callable[[str], tuple[str, list[str]]]


def score(decide: Decider, evalset: EvalSet) -> Scores:
    scores = Scores()
    for query, expected in evalset.in_scope:
        scores.in_scope += 1
        outcome, ids = decide(query)
        if outcome == "answer":
            scores.answered += 1
            if ids[0] == expected:
                scores.correct += 1
            else:
                scores.wrong.append((query, expected, ids[0]))
        elif outcome == "clarify":
            scores.clarified += 1
            scores.clarified_with_right_choice += expected in ids
        else:
            scores.not_sure += 1
    for query, kind in evalset.out_of_scope:
        scores.out_of_scope += 1
        outcome, ids = decide(query)
        if outcome == "answer":
            scores.oos_answered += 1
            scores.oos_wrongly_answered.append((query, ids[0]))
    return scores
