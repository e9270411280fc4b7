"""Database tables. Times are stored in UTC; user ids only as salted pseudonyms."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Column, ColumnElement, DateTime, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel, col


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _ts(**kwargs) -> Column:
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
    contest_id: str | None = Field(default=None, max_length=64)  # the campaign's contest: a "join" button


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


# --- Lookups: dossiers imported from the one-stop system, watches, rate limit ---


class Dossier(SQLModel, table=True):
    """One dossier from the one-stop system's export (``cchc-bot dossiers import``).

    ``code`` is the canonical key (letters and digits only, upper case) that citizens' messy
    typing is normalized to; ``display_code`` is the code as printed on the receipt. The
    applicant's name is shown only masked and the phone number never: it is kept only for the
    optional "last 4 digits" check.
    """

    __tablename__ = "dossier"
    __table_args__ = (UniqueConstraint("code", name="uq_dossier_code"),)

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=64)
    display_code: str = Field(max_length=64)
    procedure: str = Field(max_length=512)
    applicant_name: str = Field(default="", max_length=256)
    phone: str | None = Field(default=None, max_length=16)  # digits only, never shown
    received_on: dt.date
    due_on: dt.date | None = None
    status: str = Field(max_length=128)
    result_place: str | None = Field(default=None, max_length=512)
    content_hash: str = Field(max_length=64)  # of the imported fields: unchanged rows stay untouched
    imported_at: dt.datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))
    updated_at: dt.datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))


class DossierWatch(SQLModel, table=True):
    """"Báo cho tôi khi có kết quả": a citizen waiting for a dossier's status to change.

    ``last_notified_status`` is the status the citizen last saw (when they asked, then each
    notification); a dossier whose status differs from it is due one message.
    """

    __tablename__ = "dossier_watch"
    __table_args__ = (UniqueConstraint("channel_user_id", "dossier_code", name="uq_dossier_watch"),)

    id: int | None = Field(default=None, primary_key=True)
    channel_user_id: int = Field(foreign_key="channel_user.id", ondelete="CASCADE", index=True)
    dossier_code: str = Field(max_length=64, index=True)
    last_notified_status: str = Field(max_length=128)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))
    notified_at: dt.datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    closed_at: dt.datetime | None = Field(default=None, sa_column=_ts(nullable=True))  # final status sent


class DossierNotice(SQLModel, table=True):
    """Each status-change message sent for a watch, with the channel's answer."""

    __tablename__ = "dossier_notice"

    id: int | None = Field(default=None, primary_key=True)
    watch_id: int = Field(foreign_key="dossier_watch.id", ondelete="CASCADE", index=True)
    status: str = Field(max_length=128)  # the dossier status the message announced
    delivery: str = Field(max_length=16)  # sent failed blocked ineligible
    message_id: str | None = Field(default=None, max_length=128)
    error: str | None = Field(default=None, max_length=512)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))


class LookupAttempt(SQLModel, table=True):
    """A dossier lookup by a user (no code kept): the per-user rate limit, shared by workers."""

    __tablename__ = "lookup_attempt"

    id: int | None = Field(default=None, primary_key=True)
    user_key: str = Field(max_length=64, index=True)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False, index=True))
    kind: str = Field(max_length=16)  # code | phone (a wrong last-4-digits answer)
    found: bool


# --- Broadcasts: one delivery row per recipient, leases, the outbox ---


class BroadcastDelivery(SQLModel, table=True):
    """One recipient of a broadcast on one channel: the outbox row the sender works.

    ``status``: pending (waiting, maybe until ``next_attempt_at``), sending (claimed; in flight),
    sent, failed, blocked (the user blocked the bot), ineligible (the platform does not allow
    it, e.g. Zalo's 7-day rule, or the channel cannot push), cancelled (the broadcast was
    cancelled first), unknown (the sender stopped mid-send: maybe delivered, never resent).
    """

    __tablename__ = "broadcast_delivery"
    __table_args__ = (
        UniqueConstraint("broadcast_id", "channel_user_id", "channel", name="uq_broadcast_delivery"),
        Index("ix_broadcast_delivery_outbox", "broadcast_id", "status", "channel"),
    )

    id: int | None = Field(default=None, primary_key=True)
    broadcast_id: int = Field(foreign_key="broadcast.id", ondelete="CASCADE")
    channel_user_id: int = Field(foreign_key="channel_user.id", ondelete="CASCADE", index=True)
    channel: str = Field(max_length=16)
    status: str = Field(default="pending", max_length=16, index=True)
    attempts: int = 0
    platform_message_id: str | None = Field(default=None, max_length=128)
    last_error: str | None = Field(default=None, max_length=512)
    next_attempt_at: dt.datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))
    updated_at: dt.datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))
    sent_at: dt.datetime | None = Field(default=None, sa_column=_ts(nullable=True))


class Lease(SQLModel, table=True):
    """"Only one of us does this": the broadcast sender, the campaign scheduler and the
    maintenance jobs (ticket checks, retention purge) each run in one process at a time. The holder renews before ``expires_at``; when it dies, another
    process takes over. ``renewed_at`` is also the last moment the holder was known alive."""

    __tablename__ = "lease"

    name: str = Field(primary_key=True, max_length=32)
    holder: str = Field(max_length=128)
    acquired_at: dt.datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))
    renewed_at: dt.datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))
    expires_at: dt.datetime = Field(sa_column=_ts(nullable=False))


# --- Feedback: tickets ("phản ánh, kiến nghị"), replies, satisfaction -----------


class Ticket(SQLModel, table=True):
    """A citizen's feedback or complaint, numbered ``PA-<year>-<seq>`` (``seq`` restarts yearly).

    ``channel_user_id`` is how the answer reaches the citizen; officials never see it (nor the
    platform id behind it), only a short pseudonymous reference. ``phone`` is kept only when
    the citizen consented to a call-back (``phone_consent_at``) and is erased some time after
    the ticket is answered. ``forwarded_chat_id``/``forwarded_message_id`` identify the copy in
    the officials' chat, so that replying to it answers the ticket.
    """

    __tablename__ = "ticket"
    __table_args__ = (
        UniqueConstraint("number", name="uq_ticket_number"),
        UniqueConstraint("year", "seq", name="uq_ticket_year_seq"),
        Index("ix_ticket_forwarded", "forwarded_chat_id", "forwarded_message_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(max_length=20)
    year: int
    seq: int
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False, index=True))
    updated_at: dt.datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))
    channel: str = Field(max_length=16)
    channel_user_id: int | None = Field(default=None, foreign_key="channel_user.id", ondelete="SET NULL")
    user_key: str = Field(max_length=64, index=True)
    subject: str = Field(max_length=16)  # thu_tuc can_bo gop_y khac
    content: str = Field(max_length=4000)
    photo_ref: str | None = Field(default=None, max_length=1024)
    phone: str | None = Field(default=None, max_length=16)  # normalized 0xxxxxxxxx
    phone_consent_at: dt.datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    question_id: int | None = Field(default=None, foreign_key="question_log.id", ondelete="SET NULL")
    status: str = Field(default="new", max_length=16, index=True)  # new in_progress answered closed
    deadline: dt.datetime = Field(sa_column=_ts(nullable=False))
    in_progress_at: dt.datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    answered_at: dt.datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    closed_at: dt.datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    forwarded_chat_id: str | None = Field(default=None, max_length=64)
    forwarded_message_id: str | None = Field(default=None, max_length=64)
    overdue_notified_at: dt.datetime | None = Field(default=None, sa_column=_ts(nullable=True))


class TicketMessage(SQLModel, table=True):
    """An official's reply to a ticket (``author="official"``) and whether it reached the citizen."""

    __tablename__ = "ticket_message"

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id", ondelete="CASCADE", index=True)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))
    author: str = Field(max_length=16)  # official
    author_key: str = Field(max_length=64)  # the official's pseudonym
    body: str = Field(max_length=4000)
    platform_message_id: str | None = Field(default=None, max_length=64)  # the official's message
    delivery: str = Field(max_length=16)  # sent failed blocked ineligible retry not_pushed
    delivery_error: str | None = Field(default=None, max_length=512)


class SatisfactionResponse(SQLModel, table=True):
    """The five-level satisfaction question: after an answered ticket, or from the survey.

    ``level``: 5 Rất hài lòng, 4 Hài lòng, 3 Bình thường, 2 Không hài lòng, 1 Rất không hài lòng.
    One response per ticket (the last one counts). Helpful votes on answers are ``AnswerVote``.
    """

    __tablename__ = "satisfaction_response"
    __table_args__ = (UniqueConstraint("ticket_id", name="uq_satisfaction_ticket"),)

    id: int | None = Field(default=None, primary_key=True)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False, index=True))
    channel: str = Field(max_length=16)
    user_key: str = Field(max_length=64, index=True)
    level: int
    comment: str | None = Field(default=None, max_length=2000)
    faq_id: str | None = Field(default=None, max_length=64)  # the procedure asked about, if any
    source: str = Field(max_length=16)  # ticket | survey
    ticket_id: int | None = Field(default=None, foreign_key="ticket.id", ondelete="SET NULL")
    campaign_id: str | None = Field(default=None, max_length=64)


# --- The officials' dashboard: accounts, web sessions, login attempts ----------


class AdminUser(SQLModel, table=True):
    """A dashboard account (``cchc-bot admin create-user``); the password only as an argon2 hash.

    ``role``: admin (everything, users too), official (broadcasts, feedback inbox, reports),
    editor (content pages: unanswered questions, "ask as a citizen", content errors).
    """

    __tablename__ = "admin_user"
    __table_args__ = (UniqueConstraint("username", name="uq_admin_user_username"),)

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=64)
    password_hash: str = Field(max_length=256)
    role: str = Field(max_length=16)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))
    disabled: bool = False
    last_login_at: dt.datetime | None = Field(default=None, sa_column=_ts(nullable=True))


class AdminSession(SQLModel, table=True):
    """A logged-in browser. ``id`` is the SHA-256 of the cookie's random token (a copy of the
    table gives no usable session); any web worker can check it."""

    __tablename__ = "admin_session"

    id: str = Field(primary_key=True, max_length=64)
    user_id: int = Field(foreign_key="admin_user.id", ondelete="CASCADE", index=True)
    csrf_token: str = Field(max_length=64)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))
    expires_at: dt.datetime = Field(sa_column=_ts(nullable=False, index=True))


class LoginAttempt(SQLModel, table=True):
    """Every dashboard login attempt: failed ones are rate-limited per username and per address."""

    __tablename__ = "login_attempt"

    id: int | None = Field(default=None, primary_key=True)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False, index=True))
    username: str = Field(max_length=64, index=True)
    address: str = Field(max_length=64, index=True)
    success: bool


class OutboxMessage(SQLModel, table=True):
    """A message the bot starts itself (a ticket's card for the officials, an overdue flag):
    written in the transaction of the turn or job that decides it, delivered after its commit by
    the one sender (``bot.outbox``). ``ref`` names the row the delivery is about (``ticket:12``),
    for what a feature does once it is sent."""

    __tablename__ = "outbox_message"
    __table_args__ = (Index("ix_outbox_message_due", "status", "not_before"),)

    id: int | None = Field(default=None, primary_key=True)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))
    kind: str = Field(max_length=32)
    channel: str = Field(max_length=16)
    platform_id: str = Field(max_length=64)
    replies: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    ref: str | None = Field(default=None, max_length=64, index=True)
    status: str = Field(default="pending", max_length=16)  # pending sending sent failed blocked ineligible unknown
    attempts: int = 0
    not_before: dt.datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))
    sent_at: dt.datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    message_id: str | None = Field(default=None, max_length=64)
    error: str | None = Field(default=None, max_length=512)


# --- Shared definitions: /stats, the dashboard, the report and /metrics count the same rows ---

OPEN_TICKET = ("new", "in_progress")  # a ticket still waiting for its answer
WAITING_BROADCAST = ("draft", "scheduled", "sending")  # a broadcast not yet done or cancelled


def open_ticket() -> ColumnElement[bool]:
    return col(Ticket.status).in_(OPEN_TICKET)


def waiting_broadcast() -> ColumnElement[bool]:
    return col(Broadcast.status).in_(WAITING_BROADCAST)


# --- Content revisions: the dashboard's edits, shared by every worker -----------------------


class ContentRevision(SQLModel, table=True):
    """One published change of the content: who, when, why, and each changed file's text
    before and after (``changes``: {path: [before or null, after or null]}).

    ``parent`` is the revision it was made on: unique, so two publishes racing from the same
    revision cannot both land (the second is retried on the new one or refused).
    """

    __tablename__ = "content_revision"
    __table_args__ = (UniqueConstraint("parent", name="uq_content_revision_parent"),)

    id: int | None = Field(default=None, primary_key=True)
    parent: int
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))
    author: str = Field(max_length=64)
    kind: str = Field(max_length=16)  # seed, publish, restore, retire, import, files
    reason: str = Field(max_length=500)
    changes: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    paths: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))  # for lists: no texts


class ContentFile(SQLModel, table=True):
    """The current text of every content file (path relative to ``content/``), and the
    revision that last changed it: what a worker materialises and an editor starts from."""

    __tablename__ = "content_file"

    path: str = Field(primary_key=True, max_length=255)
    text: str = Field(sa_column=Column(Text, nullable=False))
    revision_id: int = Field(index=True)


# --- The knowledge contest (content/contests/<id>.yaml) --------------------------------------


class ContestParticipant(SQLModel, table=True):
    """One person at one contest, the unit attempts are counted by. ``person_key`` is a keyed
    hash of the phone where the contest collects phones (so Telegram and Zalo count as one
    person), else the channel user's key. The details for the prize-giving are kept only with
    consent and only until ``erase_after``; the id is the pseudonym (``TS-0007``) the ranking
    keeps after that (an id, not a count per contest: two people joining at once never clash)."""

    __tablename__ = "contest_participant"
    __table_args__ = (
        UniqueConstraint("contest_id", "person_key", name="uq_contest_participant_person"),
    )

    id: int | None = Field(default=None, primary_key=True)
    contest_id: str = Field(max_length=64, index=True)
    person_key: str = Field(max_length=64)
    channel: str = Field(max_length=16)  # where they joined
    full_name: str | None = Field(default=None, max_length=120)
    phone: str | None = Field(default=None, max_length=16)
    phone_verified: bool = False  # shared by the platform (Telegram contact, Zalo form), not typed
    village: str | None = Field(default=None, max_length=120)
    consent_at: dt.datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    declined: bool = False  # took part without giving details: not in the prize-giving
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))
    erase_after: dt.datetime = Field(sa_column=_ts(nullable=False))  # the contest's end + retention
    erased_at: dt.datetime | None = Field(default=None, sa_column=_ts(nullable=True))


class ContestFlag(SQLModel, table=True):
    """Something the organisers should look at before the prizes (one phone from several
    accounts, answers faster than reading, a refused extra attempt): kept, never a silent drop."""

    __tablename__ = "contest_flag"

    id: int | None = Field(default=None, primary_key=True)
    contest_id: str = Field(max_length=64, index=True)
    participant_id: int | None = Field(default=None, index=True)
    entry_id: int | None = None
    kind: str = Field(max_length=32)  # "shared_phone" | "extra_attempt" | "too_fast"
    detail: str = Field(max_length=500)  # no personal data: the participant's row holds that
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))


class ContestDraw(SQLModel, table=True):
    """A draw among the best, recorded with its pool and seed so the jury can replay it."""

    __tablename__ = "contest_draw"

    id: int | None = Field(default=None, primary_key=True)
    contest_id: str = Field(max_length=64, index=True)
    drawn_at: dt.datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))
    drawn_by: str = Field(max_length=64)
    pool: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))  # pseudonyms, ranking order
    winners: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    seed: str = Field(max_length=64)


class ContestEntry(SQLModel, table=True):
    """One attempt at one contest: the questions drawn for it (indices into the file's bank),
    the answers so far with the seconds each took, and the server's clock (started, deadline,
    finished). Unique per participant and attempt number, so two workers (or two channels of
    one person) cannot both open the same attempt."""

    __tablename__ = "contest_entry"
    __table_args__ = (
        UniqueConstraint("contest_id", "user_key", "attempt", name="uq_contest_entry_attempt"),
        UniqueConstraint("participant_id", "attempt", name="uq_contest_entry_participant_attempt"),
        Index("ix_contest_entry_user", "contest_id", "user_key"),
    )

    id: int | None = Field(default=None, primary_key=True)
    contest_id: str = Field(max_length=64, index=True)
    channel: str = Field(max_length=16)
    user_key: str = Field(max_length=64)
    attempt: int = 1
    started_at: dt.datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))
    deadline_at: dt.datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    finished_at: dt.datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    questions: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    answers: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    answered: int = 0  # len(answers): the guard a concurrent second press is checked against
    score: int | None = None
    timed_out: bool = False
    participant_id: int | None = Field(default=None, index=True)
    seconds: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))  # per answer
    asked_at: dt.datetime | None = Field(default=None, sa_column=_ts(nullable=True))  # current question
    prediction: int | None = None  # the answer to the contest's predict_question
