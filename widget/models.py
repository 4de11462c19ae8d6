"""Database models.  Every change to them is an Alembic migration in migrations/."""

from __future__ import annotations

import hashlib
import uuid
from datetime import date, datetime, timezone
from enum import StrEnum

from sqlalchemy import JSON, Date, DateTime, Index, Integer, String, Text, TypeDecorator, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column, validates

from .extensions import db


class BookingStatus(StrEnum):
    """Where a booking stands."""

    CONFIRMED = "confirmed"
    CANCELLED = "cancelled"


class OutboxStatus(StrEnum):
    """Where an outbox message stands: waiting (or being retried), delivered, or given up on."""

    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


class CommentStatus(StrEnum):
    """Where a comment stands: held for the therapist, shown, or taken for spam."""

    PENDING = "pending"
    PUBLISHED = "published"
    SPAM = "spam"


class DayPart(StrEnum):
    """The part of a day a waitlist entry wants a time in (studio time)."""

    ANY = "any"
    MORNING = "morning"
    AFTERNOON = "afternoon"
    EVENING = "evening"


class Status(TypeDecorator):
    """A state kept as its plain string (the columns and CHECK constraints of the migrations), read as its enum."""

    impl = String(16)
    cache_ok = True

    def __init__(self, states: type[StrEnum]):
        super().__init__()
        self.states = states

    def process_bind_param(self, value, dialect):
        return None if value is None else self.states(value).value

    def process_result_value(self, value, dialect):
        return None if value is None else self.states(value)


class UTCDateTime(TypeDecorator):
    """An aware datetime stored as UTC, returned aware on every database."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where an aware one is required")
        value = value.astimezone(timezone.utc)
        # SQLite keeps text; storing without an offset keeps every value in one
        # sortable format, which the overlap triggers compare as strings.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def new_id() -> str:
    """Return a random id: 32 lower-case hex digits, also valid base32hex."""
    return uuid.uuid4().hex


def _now() -> datetime:
    return datetime.now(timezone.utc)


# The longest value of each field people type.  Each lives here once: the columns below are sized by
# them, and the forms, the checks and the API's schemas read them.  A booking's notes are a Text
# column; their limit is the service's.
BOOKING_LIMITS = {"name": 100, "email": 254, "phone": 32, "notes": 2000}
COMMENT_LIMITS = {"name": 100, "email": 254, "website": 500, "page": 2048}
COMMENT_BODY_MIN, COMMENT_BODY_MAX = 2, 10_000


class Booking(db.Model):
    """A client's appointment.

    ``blocked_start``/``blocked_end`` are the appointment widened by its
    service's buffers; the database refuses two confirmed bookings whose
    blocked ranges overlap (an exclusion constraint on PostgreSQL, triggers on
    SQLite; see the first migration).
    """

    __tablename__ = "bookings"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    service_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[BookingStatus] = mapped_column(Status(BookingStatus), default=BookingStatus.CONFIRMED)
    start_at: Mapped[datetime] = mapped_column(UTCDateTime)
    end_at: Mapped[datetime] = mapped_column(UTCDateTime)
    blocked_start: Mapped[datetime] = mapped_column(UTCDateTime)
    blocked_end: Mapped[datetime] = mapped_column(UTCDateTime)
    name: Mapped[str] = mapped_column(String(BOOKING_LIMITS["name"]))
    email: Mapped[str] = mapped_column(String(BOOKING_LIMITS["email"]))
    phone: Mapped[str] = mapped_column(String(BOOKING_LIMITS["phone"]))
    notes: Mapped[str] = mapped_column(Text, default="")
    # Answers to the intake questions, {question id: text or true/false}; None when none were asked or given.
    answers: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    client_timezone: Mapped[str] = mapped_column(String(64))
    calendar_event_id: Mapped[str | None] = mapped_column(String(1024), nullable=True)
    # The digest of the Idempotency-Key the booking was made with: only its holder gets the booking back.
    idempotency_key: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # The phone's digits alone, so "801-471-0877" and "(801) 471 0877" count as one client.
    phone_key: Mapped[str] = mapped_column(String(32), default="")
    # Counts changes, for the SEQUENCE of calendar files sent to the client.
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    reminder_queued_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Why the therapist's last move of this booking's event was not followed (None: nothing to tell).
    calendar_conflict: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=_now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=_now, onupdate=_now)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # When the client's details were erased (see widget.booking.client_data); the booking stays for the books.
    anonymised_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    __table_args__ = (
        Index("ix_bookings_status_blocked", "status", "blocked_start", "blocked_end"),
        Index("ix_bookings_email_start", "email", "start_at"),
        # Busy-time reads scan from the range's start up: only bookings that end after it, never the history
        # (covering, so SQLite prefers it to the index above, which would walk the history).
        Index("ix_bookings_status_blocked_end", "status", "blocked_end", "blocked_start", "start_at"),
        Index("ix_bookings_phone_key_start", "phone_key", "start_at"),
        Index("ix_bookings_idempotency_key", "idempotency_key", unique=True),
    )


# The cap on a client's upcoming bookings compares emails without case.
Index("ix_bookings_lower_email", func.lower(Booking.email), Booking.start_at)


class CalendarEvent(db.Model):
    """An event in the embedded (local) calendar: a booking written there, or blocked time."""

    __tablename__ = "calendar_events"

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_id)
    start_at: Mapped[datetime] = mapped_column(UTCDateTime)
    end_at: Mapped[datetime] = mapped_column(UTCDateTime)
    summary: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    booking_id: Mapped[str | None] = mapped_column(String(32), nullable=True, unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=_now)

    __table_args__ = (
        Index("ix_calendar_events_range", "start_at", "end_at"),
        # See ix_bookings_status_blocked_end.
        Index("ix_calendar_events_end", "end_at", "start_at"),
    )


class CalendarSync(db.Model):
    """Where the incremental sync of one watched calendar stands.

    ``sync_token`` is Google's token for "changes since the last listing";
    None means the next sync lists the calendar in full.
    """

    __tablename__ = "calendar_sync"

    calendar_id: Mapped[str] = mapped_column(String(1024), primary_key=True)
    sync_token: Mapped[str | None] = mapped_column(Text, nullable=True)
    synced_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    full_synced_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class GoogleChannel(db.Model):
    """A push channel Google notifies us on when the events of one calendar change.

    ``id`` and ``token`` are ours, random; Google echoes both in every
    notification.  ``resource_id`` is Google's name for what is watched,
    needed to stop the channel.
    """

    __tablename__ = "google_channels"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    calendar_id: Mapped[str] = mapped_column(String(1024), index=True)
    token: Mapped[str] = mapped_column(String(128))
    resource_id: Mapped[str] = mapped_column(String(255))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Setting(db.Model):
    """A value the service keeps for itself, such as the admin password hash."""

    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class OutboxMessage(db.Model):
    """A side effect of a change, committed with it and delivered by widget.outbox.

    ``key`` names the effect ("booking-confirmed:<id>:<sequence>"): the same
    effect is never queued twice.  A row is delivered by whoever claims it
    (``claimed_until`` in the future); failed attempts are retried later, and
    rows that cannot succeed are kept as ``failed`` for the admin to see.
    """

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    # Rows of one stream (one booking's emails to one person, say) are delivered one at a time, in order.
    stream: Mapped[str | None] = mapped_column(String(100), nullable=True)
    payload: Mapped[str] = mapped_column(Text)
    status: Mapped[OutboxStatus] = mapped_column(Status(OutboxStatus), default=OutboxStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=_now)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    claimed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=_now)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    __table_args__ = (
        Index("ix_outbox_due", "status", "next_attempt_at"),
        Index("ix_outbox_stream", "stream", "status", "id"),
    )


class GoogleConnection(db.Model):
    """The therapist's Google Calendar connection (one row, id 1).

    The refresh token is stored encrypted (Fernet).  ``status`` is
    "connected" or "disconnected"; ``problem`` says what the therapist should
    know; ``calendar_errors`` (JSON) names calendars Google could not read;
    ``scopes`` holds what Google granted, space-separated (empty for a
    connection made when the service still asked for full calendar access).
    """

    __tablename__ = "google_connection"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    refresh_token: Mapped[str | None] = mapped_column(Text, nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="disconnected")
    busy_calendars: Mapped[str] = mapped_column(Text, default='["primary"]')
    booking_calendar: Mapped[str] = mapped_column(String(1024), default="primary")
    problem: Mapped[str | None] = mapped_column(Text, nullable=True)
    calendar_errors: Mapped[str] = mapped_column(Text, default="{}")
    connected_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    disconnected_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    scopes: Mapped[str | None] = mapped_column(Text, nullable=True)


class OAuthState(db.Model):
    """A Google consent in progress: its state and PKCE code verifier, kept on the server."""

    __tablename__ = "oauth_states"

    state: Mapped[str] = mapped_column(String(128), primary_key=True)
    code_verifier: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=_now)


class Comment(db.Model):
    """A reader's comment under an article, or a reply to one.

    ``page`` is the article's normalised URL (see widget.comments.urls.normalise_page).
    ``parent_id`` is where the comment is shown (never deeper than
    widget.comments.moderation.MAX_DEPTH); ``reply_to_id`` is the comment the reader
    answered, whose author may be told of the reply.  ``body_html`` is
    rendered once, when the text is written.  A deleted comment that has
    replies keeps its place with ``deleted_at`` set and everything personal
    emptied.  ``email`` is never shown outside the admin.
    """

    __tablename__ = "comments"

    @staticmethod
    def text_key_of(body: str) -> str:
        """Return the fingerprint of a text: the same words, whatever the case and spacing, give the same key."""
        return hashlib.sha256(" ".join(body.split()).casefold().encode()).hexdigest()

    @validates("body")
    def _keep_text_key(self, _name, body):
        self.text_key = self.text_key_of(body)
        return body

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    page: Mapped[str] = mapped_column(String(COMMENT_LIMITS["page"]))
    parent_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    reply_to_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    status: Mapped[CommentStatus] = mapped_column(Status(CommentStatus), default=CommentStatus.PENDING)
    author: Mapped[str] = mapped_column(String(COMMENT_LIMITS["name"]))
    email: Mapped[str | None] = mapped_column(String(COMMENT_LIMITS["email"]), nullable=True)
    website: Mapped[str | None] = mapped_column(String(COMMENT_LIMITS["website"]), nullable=True)
    body: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    # The text's fingerprint (see text_key), so repeats are found by an index, not by reading texts.
    text_key: Mapped[str] = mapped_column(String(64))
    notify_replies: Mapped[bool] = mapped_column(db.Boolean, default=False)
    # Why the comment is held or was taken for spam, for the therapist.
    reason: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # Where an imported comment came from ("wordpress:<site>:<id>"); makes imports idempotent.
    source: Mapped[str | None] = mapped_column(String(300), nullable=True, unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=_now)
    edited_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    __table_args__ = (
        Index("ix_comments_page_status", "page", "status", "created_at"),
        Index("ix_comments_email", "email"),
        Index("ix_comments_status_created", "status", "created_at"),
        Index("ix_comments_text_key", "text_key", "created_at"),
        # Never reuse the id of a deleted comment (SQLite would, without AUTOINCREMENT).
        {"sqlite_autoincrement": True},
    )


class WaitlistEntry(db.Model):
    """A wish to hear of a freed time: one address, one service, one studio day, a part of that day.

    ``email_key`` is the address in lower case; the database refuses a second
    entry with the same (email_key, service_id, day), so one address cannot
    join the same day twice.  Entries of one sign-up share ``signup_id`` and
    are confirmed together; only confirmed entries (``confirmed_at`` set) are
    told of freed times, in the order of ``id``.  An entry expires when its day is over.
    """

    __tablename__ = "waitlist_entries"

    # Counts up: the order people joined in, even when two join within one clock tick.
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    signup_id: Mapped[str] = mapped_column(String(32))
    email: Mapped[str] = mapped_column(String(BOOKING_LIMITS["email"]))
    email_key: Mapped[str] = mapped_column(String(BOOKING_LIMITS["email"]))
    service_id: Mapped[str] = mapped_column(String(64))
    day: Mapped[date] = mapped_column(Date)
    part: Mapped[DayPart] = mapped_column(Status(DayPart), default=DayPart.ANY)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=_now)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    __table_args__ = (
        UniqueConstraint("email_key", "service_id", "day", name="uq_waitlist_email_service_day"),
        Index("ix_waitlist_day_service", "day", "service_id", "created_at"),
        Index("ix_waitlist_signup", "signup_id"),
        {"sqlite_autoincrement": True},
    )
