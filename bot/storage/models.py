"""Database tables. Times are stored in UTC; user ids only as salted pseudonyms."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Column, DateTime, UniqueConstraint
from sqlmodel import Field, SQLModel


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _ts(**kwargs) -> Column:  # noqa: ANN003
    return Column(DateTime(timezone=True), **kwargs)


class ConversationState(SQLModel, table=True):
    """Where a user is in a conversation, so any worker can serve their next message."""

    __tablename__ = "conversation_state"

    user_key: str = Field(primary_key=True, max_length=64)
    channel: str = Field(max_length=16)
    state: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    updated_at: dt.datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))


class QuestionLog(SQLModel, table=True):
    """Every free-text question: what was asked, what the bot did, how sure and how fast."""

    __tablename__ = "question_log"

    id: int | None = Field(default=None, primary_key=True)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False, index=True))
    channel: str = Field(max_length=16, index=True)
    user_key: str = Field(max_length=64, index=True)
    text: str = Field(max_length=2000)
    outcome: str = Field(max_length=16, index=True)
    faq_id: str | None = Field(default=None, max_length=64, index=True)
    score: float | None = None
    candidates: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    chosen_id: str | None = Field(default=None, max_length=64)  # picked from "did you mean"
    latency_ms: float
    forwarded: bool = False  # the citizen asked to pass the question to an official


class AnswerVote(SQLModel, table=True):
    """"Câu trả lời có hữu ích không?": one vote per answered question, the last one counts.

    Answers opened from a menu have no question and may collect several votes.
    """

    __tablename__ = "answer_vote"
    __table_args__ = (UniqueConstraint("question_id", name="uq_answer_vote_question"),)

    id: int | None = Field(default=None, primary_key=True)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))
    question_id: int | None = Field(default=None, foreign_key="question_log.id", ondelete="CASCADE")
    faq_id: str = Field(max_length=64, index=True)
    channel: str = Field(max_length=16)
    user_key: str = Field(max_length=64)
    helpful: bool
