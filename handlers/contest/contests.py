"""Contest files ``content/contests/<id>.yaml``: their schema and their check.

Times without a zone are Vietnam's time. Problems are ``file:line: message`` as in
``content check``, with the line found the same way (bot/content/loader.py).
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from bot.content.loader import TIMEZONE, Problem, _line_of, _parse_yaml, _validation_problems

log = logging.getLogger(__name__)

FOLDER = "contests"
CollectField = Literal["full_name", "phone", "village"]
TieBreak = Literal["prediction", "time", "finished"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Question(_Strict):
    text: str = Field(min_length=1)
    choices: list[str]
    answer: int = Field(ge=1)  # the 1-based number of the right choice
    explanation: str | None = None
    source: str | None = None

    @field_validator("choices")
    @classmethod
    def _two_to_six(cls, choices: list[str]) -> list[str]:
        if not 2 <= len(choices) <= 6:
            raise ValueError(f"cần từ 2 đến 6 lựa chọn (đang có {len(choices)})")
        return choices

    @model_validator(mode="after")
    def _answer_is_a_choice(self) -> Question:
        if self.answer > len(self.choices):
            raise ValueError(f"đáp án {self.answer} vượt quá số lựa chọn ({len(self.choices)})")
        return self


class Draw(_Strict):
    """A draw among the best: ``winners`` drawn from the participants with the best score, or
    from the first ``among`` of the ranking when set."""

    winners: int = Field(ge=1)
    among: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _enough(self) -> Draw:
        if self.among is not None and self.among < self.winners:
            raise ValueError(f"'among' ({self.among}) phải không nhỏ hơn 'winners' ({self.winners})")
        return self


class Contest(_Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")
    title: str = Field(min_length=1)
    organiser: str = Field(min_length=1)
    starts: dt.datetime
    ends: dt.datetime
    rules: str = Field(min_length=1)
    questions: list[Question] = Field(min_length=1)
    question_count: int | None = Field(default=None, ge=1)
    time_limit_minutes: int | None = Field(default=None, ge=1)
    attempts: int = Field(default=1, ge=1)
    collect: list[CollectField] = Field(default_factory=list)
    # "How many people will answer every question right?": the number closest wins a tie
    predict_question: str | None = Field(default=None, min_length=1)
    tie_break: list[TieBreak] | None = None  # unset: prediction (when asked), time, finished
    draw: Draw | None = None

    @field_validator("starts", "ends")
    @classmethod
    def _in_vietnam(cls, moment: dt.datetime) -> dt.datetime:
        return moment.replace(tzinfo=TIMEZONE) if moment.tzinfo is None else moment

    @model_validator(mode="after")
    def _consistent(self) -> Contest:
        if self.ends <= self.starts:
            raise ValueError("'ends' phải sau 'starts'")
        if self.question_count is not None and self.question_count > len(self.questions):
            raise ValueError(f"'question_count' ({self.question_count}) lớn hơn số câu hỏi "
                             f"trong ngân hàng ({len(self.questions)})")
        return self

    @field_validator("collect")
    @classmethod
    def _once_each(cls, collect: list[str]) -> list[str]:
        if len(set(collect)) != len(collect):
            raise ValueError("có mục lặp lại")
        return collect

    @field_validator("tie_break")
    @classmethod
    def _known_tie_breaks(cls, rules: list[str] | None, info: ValidationInfo) -> list[str] | None:
        if rules is not None:
            if len(set(rules)) != len(rules):
                raise ValueError("có tiêu chí lặp lại")
            if "prediction" in rules and info.data.get("predict_question") is None:
                raise ValueError("dùng 'prediction' nhưng tệp không có 'predict_question'")
        return rules

    @property
    def tie_breaks(self) -> tuple[str, ...]:
        """After the score, in order: the prediction's distance (when asked), the time taken,
        who finished first."""
        if self.tie_break is not None:
            return tuple(self.tie_break)
        return ("prediction", "time", "finished") if self.predict_question else ("time", "finished")

    @property
    def drawn(self) -> int:
        """How many questions each participant answers."""
        return self.question_count or len(self.questions)


def load_contest(path: Path, rel: str | None = None) -> tuple[Contest | None, list[Problem]]:
    rel = rel or str(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        return None, [Problem(rel, 1, "tệp không phải UTF-8")]
    return parse_contest(text, rel, path.stem)


def parse_contest(text: str, rel: str, stem: str) -> tuple[Contest | None, list[Problem]]:
    """The contest in ``text`` (the file ``rel``, named ``stem``.yaml), or its problems."""
    try:
        data, lines = _parse_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        return None, [Problem(rel, mark.line + 1 if mark else 1,
                              f"lỗi cú pháp YAML: {getattr(exc, 'problem', exc)}")]
    if not isinstance(data, dict):
        return None, [Problem(rel, 1, "tệp cuộc thi phải là một bảng khóa: giá trị (id, title, ...)")]
    try:
        contest = Contest.model_validate(data)
    except ValidationError as err:
        return None, [Problem(p.path, p.line, p.message.replace("Value error, ", ""))
                      for p in _validation_problems(err, rel, lines, offset=1)]
    if contest.id != stem:
        return None, [Problem(rel, _line_of(lines, ("id",), 1),
                              f"id '{contest.id}' phải trùng tên tệp '{stem}'")]
    return contest, []


def contest_files(content_root: Path) -> list[Path]:
    folder = content_root / FOLDER
    return sorted(folder.glob("*.yaml")) if folder.is_dir() else []


_last_good: dict[Path, tuple[tuple[int, int], Contest]] = {}  # by file: (mtime, size) and contest


def load_contests(content_root: Path) -> tuple[dict[str, Contest], list[Problem]]:
    """The contests by id, and the problems of the broken files. A file is read again only when
    it changed; one saved broken keeps its last good version serving (as content does), one
    that was never good is left out."""
    found: dict[str, Contest] = {}
    problems: list[Problem] = []
    for path in contest_files(content_root):
        try:
            stat = path.stat()
        except OSError:
            continue
        stamp = (stat.st_mtime_ns, stat.st_size)
        cached = _last_good.get(path)
        if cached is not None and cached[0] == stamp:
            found[cached[1].id] = cached[1]
            continue
        contest, more = load_contest(path, str(path.relative_to(content_root)))
        problems.extend(more)
        if contest is not None:
            _last_good[path] = (stamp, contest)
            found[contest.id] = contest
        elif cached is not None:
            log.error("contest file %s is broken (%s); the last good version goes on serving",
                      path.name, "; ".join(str(p) for p in more))
            found[cached[1].id] = cached[1]
    return found, problems


def when(moment: dt.datetime) -> str:
    """A moment as citizens read it: ``07:00 ngày 01/12/2026`` in Vietnam's time."""
    return moment.astimezone(TIMEZONE).strftime("%H:%M ngày %d/%m/%Y")
