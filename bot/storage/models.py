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


class ChannelUser(SQLModel, table=True):
    """A citizen's address on one channel: needed to reply later and to broadcast.

    ``last_seen_at`` is the last time they wrote to us (Zalo only allows free replies for a
    while after that); ``reachable`` turns false when they block the bot or unfollow.
    """

    __tablename__ = "channel_user"
    __table_args__ = (UniqueConstraint("channel", "platform_id", name="uq_channel_user"),)

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=16)
    platform_id: str = Field(max_length=64)
    user_key: str = Field(max_length=64, index=True)
    first_seen_at: dt.datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))
    last_seen_at: dt.datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False, index=True))
    reachable: bool = True
    unreachable_reason: str | None = Field(default=None, max_length=32)  # blocked, unfollowed, chat_not_found
    unreachable_at: dt.datetime | None = Field(default=None, sa_column=_ts(nullable=True))


class InboundEvent(SQLModel, table=True):
    """Platform event ids already handled (Telegram update_id, Zalo msg_id): each is handled once."""

    __tablename__ = "inbound_event"

    channel: str = Field(primary_key=True, max_length=16)
    event_id: str = Field(primary_key=True, max_length=128)
    received_at: dt.datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False, index=True))


class CallbackPayload(SQLModel, table=True):
    """Button payloads too long for a platform's limit (Telegram: 64 bytes), stored by a short key."""

    __tablename__ = "callback_payload"

    key: str = Field(primary_key=True, max_length=24)
    payload: str = Field(max_length=2048)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))


class AuditEvent(SQLModel, table=True):
    """Officials' actions and refused attempts at them."""

    __tablename__ = "audit_event"

    id: int | None = Field(default=None, primary_key=True)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False, index=True))
    channel: str = Field(max_length=16)
    user_key: str = Field(max_length=64)
    action: str = Field(max_length=64)
    allowed: bool
    detail: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class Subscription(SQLModel, table=True):
    """Consent to receive a topic's announcements on one channel, with its time."""

    __tablename__ = "subscription"
    __table_args__ = (UniqueConstraint("channel_user_id", "topic", name="uq_subscription"),)

    id: int | None = Field(default=None, primary_key=True)
    channel_user_id: int = Field(foreign_key="channel_user.id", ondelete="CASCADE", index=True)
    topic: str = Field(max_length=48, index=True)
    consent_at: dt.datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))
    unsubscribed_at: dt.datetime | None = Field(default=None, sa_column=_ts(nullable=True))


class Broadcast(SQLModel, table=True):
    """An announcement to a topic's subscribers; campaigns make one per (campaign, fire time)."""

    __tablename__ = "broadcast"
    __table_args__ = (UniqueConstraint("campaign_id", "fire_time", name="uq_broadcast_fire"),)

    id: int | None = Field(default=None, primary_key=True)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))
    author: str = Field(max_length=128)
    topic: str = Field(max_length=48)
    body: str
    channels: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    send_at: dt.datetime | None = Field(default=None, sa_column=_ts(nullable=True, index=True))
    status: str = Field(default="draft", max_length=16, index=True)  # draft scheduled sending done cancelled
    urgent: bool = False  # sent even in quiet hours
    campaign_id: str | None = Field(default=None, max_length=64)
    fire_time: dt.datetime | None = Field(default=None, sa_column=_ts(nullable=True))


class OAuthToken(SQLModel, table=True):
    """A platform's current token pair (Zalo OA): refreshed under a lock, saved before use."""

    __tablename__ = "oauth_token"

    provider: str = Field(primary_key=True, max_length=32)
    access_token: str
    refresh_token: str
    access_expires_at: dt.datetime = Field(sa_column=_ts(nullable=False))
    refresh_expires_at: dt.datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    updated_at: dt.datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))
    version: int = 0  # bumped on every refresh: optimistic check against a concurrent refresh
