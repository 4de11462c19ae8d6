"""Booking, the one place that books and cancels appointments.

A booking is committed to the database before anything else happens, and only
then written to the calendar.  Two confirmed bookings whose blocked ranges
overlap cannot both exist: the database refuses the second (see the first
migration), whatever process or worker it came from.  The checks here are
there to give people good answers; the constraint is what makes it true.
"""

from __future__ import annotations

import hashlib
import logging
import re
import unicodedata
import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from email_validator import EmailNotValidError, validate_email
from flask import current_app
from sqlalchemy import ScalarSelect, Select, and_, bindparam, func, literal_column, select, text
from sqlalchemy.exc import IntegrityError

from .. import calendars, outbox, signals
from ..extensions import db
from ..models import BOOKING_LIMITS, Booking, BookingStatus, new_id
from ..timezones import Interval, days_range, utc_now, zone_named
from . import availability, business, emails, intake
from .availability import Service, Slot
from .calendar_sync import calendar_entry
from .links import manage_url

log = logging.getLogger(__name__)

PHONE = re.compile(r"^\+?[0-9 ().\-]{7,32}$")
ALTERNATIVES = 3


class InvalidBooking(ValueError):
    """The request is wrong; ``errors`` maps each bad field to a message."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


class TooManyBookings(Exception):
    """The client already holds as many upcoming bookings as one client may; ``field`` is email or phone."""

    def __init__(self, field: str, limit: int):
        super().__init__(f"{field} already has {limit} upcoming appointments")
        self.field, self.limit = field, limit


RATE_LIMITED = "Many bookings came from your connection in a short time. Please try later, or call {phone}."


def too_many_message(error: TooManyBookings) -> str:
    """Say, in the client's words, why she cannot book more online."""
    phone = business.current().studio.phone
    return (
        f"already has {error.limit} upcoming appointments, the most we take online. "
        f"To book another, please call {phone}."
    )


class BookingChanged(Exception):
    """The booking was moved or cancelled by someone else after the caller looked at it."""


class SlotTaken(Exception):
    """The time is no longer free; ``alternatives`` are the nearest free slots."""

    def __init__(self, alternatives: list[Slot]):
        super().__init__("that time is no longer free")
        self.alternatives = alternatives


@dataclass(frozen=True)
class Details:
    """What a client tells us about themselves, checked and tidied."""

    name: str
    email: str
    phone: str
    notes: str


def _has_control_characters(value: str) -> bool:
    return any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in value)


def check_details(name, email, phone, notes) -> Details:
    """Check a client's name, email, phone and notes; raise InvalidBooking naming each bad one."""
    errors = {}
    values = {"name": name, "email": email, "phone": phone, "notes": notes if notes is not None else ""}
    for field, value in values.items():
        if not isinstance(value, str):
            errors[field] = "must be text"
        elif len(value.strip()) > BOOKING_LIMITS[field]:
            errors[field] = f"must be at most {BOOKING_LIMITS[field]} characters"
    if errors:
        raise InvalidBooking(errors)
    name, email, phone, notes = (values[f].strip() for f in ("name", "email", "phone", "notes"))

    if not name:
        errors["name"] = "is required"
    elif _has_control_characters(name):
        # Names go into email headers and calendar summaries: no line breaks.
        errors["name"] = "must be on one line, without control characters"
    if not email:
        errors["email"] = "is required"
    else:
        try:
            # allow_smtputf8=False: a non-ASCII local part (josé@) cannot be written
            # into the headers of the confirmation; refusing it now loses nothing.
            # Internationalised domains are fine: they travel in IDNA form.
            email = validate_email(email, check_deliverability=False, allow_smtputf8=False).normalized
        except EmailNotValidError as error:
            errors["email"] = f"is not a valid email address ({error})"
    if not phone:
        errors["phone"] = "is required"
    elif not PHONE.match(phone) or sum(ch.isdigit() for ch in phone) < 7:
        errors["phone"] = "must be a phone number, like 801-471-0877"
    if any(unicodedata.category(ch) == "Cc" and ch not in "\n\t" for ch in notes):
        errors["notes"] = "must not contain control characters"
    if errors:
        raise InvalidBooking(errors)
    return Details(name=name, email=email, phone=phone, notes=notes.replace("\r\n", "\n"))


def _overlapping(start, end):
    """Return the condition "a confirmed booking whose blocked range overlaps [start, end)", as an index sees it.

    On PostgreSQL it is the exclusion constraint's own test (its GiST index
    answers it); elsewhere the end column bounds the scan from below, so the
    index walks the bookings still to end, never the history.
    """
    if db.session.get_bind().dialect.name == "postgresql":
        return and_(
            # A literal, not a parameter: the constraint's index covers confirmed bookings only.
            Booking.status == literal_column("'confirmed'"),
            func.tstzrange(Booking.blocked_start, Booking.blocked_end, literal_column("'[)'")).op("&&")(
                func.tstzrange(start, end, literal_column("'[)'"))
            ),
        )
    return and_(Booking.status == BookingStatus.CONFIRMED, Booking.blocked_end > start, Booking.blocked_start < end)


# Built once per database kind: making and fingerprinting these statements costs more than running them.
_BOOKED_INTERVALS: dict[tuple[str, bool], Select] = {}


def booked_intervals(start: datetime, end: datetime, exclude: str | None = None):
    """Return (blocked ranges, starts) of confirmed bookings touching [start, end)."""
    shape = (db.session.get_bind().dialect.name, bool(exclude))
    query = _BOOKED_INTERVALS.get(shape)
    if query is None:
        moment = Booking.blocked_start.type
        lo, hi = bindparam("lo", type_=moment), bindparam("hi", type_=moment)
        query = select(Booking.blocked_start, Booking.blocked_end, Booking.start_at).where(_overlapping(lo, hi))
        if exclude:
            query = query.where(Booking.id != bindparam("exclude"))
        query = _BOOKED_INTERVALS.setdefault(shape, query)
    params = {"lo": start, "hi": end, **({"exclude": exclude} if exclude else {})}
    rows = db.session.execute(query, params).all()
    return [(r.blocked_start, r.blocked_end) for r in rows], [r.start_at for r in rows]


def _taken(start: datetime, end: datetime, exclude: Booking | None = None, fresh: Interval | None = None):
    """Return (busy intervals, booking starts) that bear on slots in [start, end).

    ``fresh`` asks the calendar about exactly that range, now (no cached
    answer): what a booking checks just before it is made.  ``exclude`` is a
    booking being moved: its own time is not busy for it.
    """
    # Widen by two days: buffers reach outside the range, and the daily limit
    # counts whole studio days, which may begin before the range in UTC.
    lo, hi = start - timedelta(days=2), end + timedelta(days=2)
    busy, booked = booked_intervals(lo, hi, exclude.id if exclude else None)
    calendar = calendars.current()
    found = calendar.busy(*fresh, fresh=True) if fresh else calendar.busy(lo, hi)
    if exclude is not None:
        # The calendar still shows the booking at its old time.
        found = _without(found, (exclude.start_at, exclude.end_at))
    busy.extend(found)
    return busy, booked


def free_slots(service: Service, start: datetime, end: datetime, zone=None, now: datetime | None = None) -> list[Slot]:
    """Return the free slots of a service starting in [start, end), shown in ``zone``."""
    rules = business.current().rules
    busy, booked = _taken(start, end)
    return availability.available_slots(rules, service, start, end, now or utc_now(), busy, booked, zone)


def free_days(service: Service, first_day, days: int, zone) -> dict:
    """Return how many free slots each of ``days`` days from ``first_day`` has, in ``zone``."""
    start, end = days_range(first_day, first_day + timedelta(days=days - 1), zone)
    counts = {first_day + timedelta(days=i): 0 for i in range(days)}
    for slot in free_slots(service, start, end, zone):
        counts[slot.start.date()] = counts.get(slot.start.date(), 0) + 1
    return counts


def slot_problem(
    service: Service, start: datetime, now: datetime | None = None, fresh: bool = False, moving: Booking | None = None
) -> str | None:
    """Return why a service cannot be booked at ``start`` (an availability code), or None."""
    busy, booked = _taken(
        start, start + service.duration, exclude=moving, fresh=service.blocked_range(start) if fresh else None
    )
    return availability.slot_problem(business.current().rules, service, start, now or utc_now(), busy, booked)


def alternatives(service: Service, around: datetime, zone=None, now: datetime | None = None) -> list[Slot]:
    """Return the free slots nearest to ``around``, earliest first."""
    now = now or utc_now()
    near = free_slots(service, around - timedelta(days=7), around + timedelta(days=7), zone, now)
    near.sort(key=lambda slot: abs(slot.start - around))
    return sorted(near[:ALTERNATIVES], key=lambda slot: slot.start)


PROBLEMS = {
    availability.PAST: "is in the past",
    availability.NOTICE: "is too soon: book at least {notice} ahead",
    availability.HORIZON: "is too far ahead: book at most {horizon} days ahead",
    availability.CLOSED: "is outside opening hours",
    availability.OFF_STEP: "is not one of the offered start times",
}


def _problem_message(problem: str) -> str:
    rules = business.current().rules
    hours = int(rules.minimum_notice.total_seconds() // 3600)
    return PROBLEMS[problem].format(notice=f"{hours} hours", horizon=rules.horizon_days)


def service_named(service_id) -> Service:
    """Return the service with this id; raise InvalidBooking naming ``service`` if none."""
    services = business.current().services
    if not isinstance(service_id, str) or service_id not in services:
        raise InvalidBooking({"service": f"{service_id!r} is not one of our services ({', '.join(services)})"})
    return services[service_id]


IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,255}")


def idempotency_digest(key) -> str | None:
    """Return the stored form of an Idempotency-Key, or None for none; InvalidBooking if it is malformed."""
    if key is None or key == "":
        return None
    if not isinstance(key, str) or not IDEMPOTENCY_KEY.fullmatch(key):
        raise InvalidBooking({"Idempotency-Key": "must be 1 to 255 visible ASCII characters, like a UUID"})
    # Only a digest is kept: the key is the client's proof of having made the booking.
    return hashlib.sha256(key.encode()).hexdigest()


def _replay(digest: str | None, service: Service, start: datetime, email: str) -> Booking | None:
    """Return the booking made earlier with this Idempotency-Key, if it was this same request.

    Only the holder of the key gets a booking back: a request for a taken time
    without it is a plain conflict, whatever email it names, so knowing a
    client's email never reveals her booking or its manage link.
    """
    if digest is None:
        return None
    earlier = db.session.scalar(select(Booking).where(Booking.idempotency_key == digest))
    if earlier is None:
        return None
    if (earlier.service_id, earlier.start_at, earlier.email.lower()) != (service.id, start, email.lower()):
        raise InvalidBooking({"Idempotency-Key": "was already used for another booking; send a new key"})
    return earlier


def phone_key(phone: str) -> str:
    """Return the digits of a phone number: one client however the number is written."""
    return "".join(ch for ch in phone if ch.isdigit())


# Kinds of PostgreSQL advisory lock (the first of the two keys), so that their numbers never meet.
LOCK_DAY, LOCK_EMAIL, LOCK_PHONE = 1, 2, 3


def _lock_key(text_value: str) -> int:
    return zlib.crc32(text_value.encode()) - 2**31  # a signed 32-bit key


def _lock(*keys: tuple[int, int]) -> None:
    """On PostgreSQL, take transaction locks on studio days and clients, always in one order.

    They serialise what the constraints cannot see: the daily limit and the cap
    on a client's upcoming bookings.  SQLite's IMMEDIATE transaction already
    serialises every writer.  Taking them sorted means two transactions never
    wait on each other in a circle.
    """
    if db.session.get_bind().dialect.name != "postgresql":
        return
    # One statement: PostgreSQL evaluates a select list from left to right, so the order holds.
    ordered = sorted(set(keys))
    calls = ", ".join(f"pg_advisory_xact_lock(:kind{i}, :key{i})" for i in range(len(ordered)))
    params = {}
    for i, (kind, key) in enumerate(ordered):
        params[f"kind{i}"], params[f"key{i}"] = kind, key
    db.session.execute(text(f"SELECT {calls}"), params)


def _day_lock(start: datetime) -> tuple[int, int]:
    return LOCK_DAY, start.astimezone(business.current().rules.timezone).date().toordinal()


def _check_daily_limit(service: Service, start: datetime, now: datetime, moving: str | None = None) -> None:
    """Raise SlotTaken if the studio day of ``start`` is full; call it holding the day's lock."""
    rules = business.current().rules
    if rules.daily_limit is None:
        return
    _, booked = booked_intervals(start - timedelta(days=2), start + timedelta(days=2), moving)
    if availability.slot_problem(rules, service, start, now, (), booked) == availability.FULL:
        raise SlotTaken([])


def _upcoming_of(same_client) -> ScalarSelect:
    """Return how many upcoming confirmed bookings match ``same_client``, as a scalar subquery."""
    # One subquery per index, (lower(email), start_at) and (phone_key, start_at): a single count over
    # "email OR phone" let PostgreSQL walk every upcoming confirmed booking of every client instead.
    return (
        select(func.count())
        .where(same_client, Booking.status == BookingStatus.CONFIRMED, Booking.start_at > bindparam("now"))
        .scalar_subquery()
    )


# Built once: making and fingerprinting the statement costs more than running it.
_UPCOMING_BY_CLIENT = select(
    _upcoming_of(func.lower(Booking.email) == bindparam("email")),
    _upcoming_of(Booking.phone_key == bindparam("phone_key")),
)


def _check_future_cap(details: Details, now: datetime) -> None:
    """Raise TooManyBookings if this email or phone already holds the most upcoming bookings allowed."""
    limit = current_app.config["MAX_FUTURE_BOOKINGS"]
    by_email, by_phone = db.session.execute(
        _UPCOMING_BY_CLIENT, {"email": details.email.lower(), "phone_key": phone_key(details.phone), "now": now}
    ).one()
    if by_email >= limit:
        raise TooManyBookings("email", limit)
    if by_phone >= limit:
        raise TooManyBookings("phone", limit)


def book(
    service_id,
    start: datetime,
    name,
    email,
    phone,
    notes="",
    client_timezone: str | None = None,
    now: datetime | None = None,
    idempotency_key: str | None = None,
    answers: dict | None = None,
) -> tuple[Booking, bool]:
    """Book an appointment; return (booking, created).

    A request repeated with the same ``idempotency_key`` (and the same
    service, start and email) returns the first booking with ``created``
    False.  Raises InvalidBooking for bad input (answers to the intake
    questions under ``answers.<id>``), intake.CallFirst when an answer needs
    a conversation first (nothing is stored), SlotTaken when the time is not
    free and TooManyBookings past the client's cap.
    """
    now = now or utc_now()
    errors = {}
    try:
        service = service_named(service_id)
    except InvalidBooking as error:
        errors.update(error.errors)
        service = None
    try:
        details = check_details(name, email, phone, notes)
    except InvalidBooking as error:
        errors.update(error.errors)
    zone_name = client_timezone or business.current().studio.timezone
    try:
        zone_named(zone_name)
    except ValueError as error:
        errors["timezone"] = str(error)
    if not isinstance(start, datetime) or start.tzinfo is None:
        errors["start"] = "must be a date-time with a UTC offset"
    try:
        digest = idempotency_digest(idempotency_key)
    except InvalidBooking as error:
        errors.update(error.errors)
    if service is not None:
        try:
            answers = intake.check_answers(
                business.current().questions, service.id, answers, business.current().studio.phone
            )
        except intake.CallFirst:
            raise
        except intake.InvalidAnswers as error:
            errors.update(error.errors)
    if errors:
        raise InvalidBooking(errors)

    existing = _replay(digest, service, start, details.email)
    if existing is not None:
        return existing, False
    # Asked of the calendar afresh: a cached answer may miss an event the therapist just added.
    problem = slot_problem(service, start, now, fresh=True)
    if problem in (availability.BUSY, availability.FULL):
        raise SlotTaken(alternatives(service, start, zone_named(zone_name), now))
    if problem is not None:
        raise InvalidBooking({"start": _problem_message(problem)})
    # The cap on a client's upcoming bookings is checked once, under the locks below.

    blocked_start, blocked_end = service.blocked_range(start)
    booking = Booking(
        id=new_id(),
        sequence=0,
        service_id=service.id,
        status=BookingStatus.CONFIRMED,
        start_at=start,
        end_at=start + service.duration,
        blocked_start=blocked_start,
        blocked_end=blocked_end,
        client_timezone=zone_name,
        idempotency_key=digest,
        phone_key=phone_key(details.phone),
        answers=answers or None,
        **vars(details),
    )
    booking.created_at = now
    # What the change queues: the calendar entry names the booking; the emails carry a copy of it (see emails.py).
    messages = [calendar_entry(booking, "write"), *emails.booked(booking, manage_url(booking))]
    try:
        # The new booking keeps its values after the commit: the answer needs no second read.
        # On SQLite the write gets a fresh transaction that holds the write lock from its first statement.
        with outbox.unit_of_work(keep_loaded=True, after_reads=True) as work:
            _lock(
                _day_lock(start),
                (LOCK_EMAIL, _lock_key(details.email.lower())),
                (LOCK_PHONE, _lock_key(booking.phone_key)),
            )
            # Checked again under the locks: the answers above may be stale by now.
            _check_daily_limit(service, start, now)
            _check_future_cap(details, now)
            db.session.add(booking)
            _queue(work, booking, messages, new=True)
    except (IntegrityError, SlotTaken):
        # The same key sent twice at once: the loser hands back what the winner made.
        existing = _replay(digest, service, start, details.email)
        if existing is not None:
            return existing, False
        raise SlotTaken(alternatives(service, start, zone_named(zone_name), now)) from None
    return booking, True


def outbox_stream(booking_id: str, kind: str, payload: dict) -> str:
    """Return the outbox stream of a booking's entry: its calendar writes, or its emails to one address.

    A stream is delivered in order, one message at a time, so the last email
    a client receives is always about the booking as it now is; the
    therapist's mail server being slow never holds the client's back.
    """
    if kind != "email":
        return f"booking:{booking_id}:{kind}"
    recipient = hashlib.sha256(",".join(payload["to"]).lower().encode()).hexdigest()[:16]
    return f"booking:{booking_id}:email:{recipient}"


def _queue(work: outbox.Work, booking: Booking, entries: list[tuple[str, str, dict]], new: bool = False) -> None:
    """Add a booking's outbox entries to the unit of work, each in its stream (``new``: a booking made just now)."""
    streams = [(key, kind, payload, outbox_stream(booking.id, kind, payload)) for key, kind, payload in entries]
    work.queue_all(streams, new=new)


def _locked(booking_id: str) -> Booking:
    """Return a booking read afresh and locked for the rest of the write transaction."""
    return db.session.execute(
        select(Booking).where(Booking.id == booking_id).with_for_update().execution_options(populate_existing=True)
    ).scalar_one()


def cancel(booking: Booking, by_studio: bool = False, now: datetime | None = None) -> Booking:
    """Cancel a booking, tell the client and the therapist, and take it off the calendar.

    The booking is locked and read afresh first: a cancellation racing a move
    either comes after it (and says so last) or finds nothing left to do.
    A client (not ``by_studio``) past the deadline gets BookingChanged.
    """
    now = now or utc_now()
    booking_id = booking.id
    db.session.rollback()
    with outbox.unit_of_work() as work:
        booking = _locked(booking_id)
        if booking.status == BookingStatus.CANCELLED:
            return booking
        if not by_studio and not can_change(booking, now):
            raise BookingChanged("it is too late to cancel online")
        booking.status = BookingStatus.CANCELLED
        booking.cancelled_at = now
        booking.sequence += 1
        entries = [calendar_entry(booking, "delete"), *emails.cancelled(booking, manage_url(booking), by_studio)]
        _queue(work, booking, entries)
        _freed(booking.start_at, booking.end_at, work, now)
    return booking


def _freed(start: datetime, end: datetime, work: outbox.Work, now: datetime) -> None:
    """Tell whoever listens (the waitlist) that [start, end) is free again, inside the change's unit of work."""
    if end > now:
        signals.time_freed.send(None, start=start, end=end, work=work, now=now)


def free_time(start: datetime, end: datetime, now: datetime | None = None) -> None:
    """Announce time freed outside a booking change (blocked time removed), with what it queues."""
    now = now or utc_now()
    db.session.rollback()
    with outbox.unit_of_work() as work:
        _freed(start, end, work, now)


def change_deadline(booking: Booking) -> datetime:
    """Return the last moment a client may cancel or reschedule online."""
    return booking.start_at - timedelta(hours=current_app.config["CANCEL_CUTOFF_HOURS"])


def can_change(booking: Booking, now: datetime | None = None) -> bool:
    """Say whether the client may still cancel or reschedule online."""
    return booking.status == BookingStatus.CONFIRMED and (now or utc_now()) <= change_deadline(booking)


def _without(intervals, hole):
    """Return intervals with the time of ``hole`` cut out of them."""
    kept = []
    for start, end in intervals:
        if end <= hole[0] or hole[1] <= start:
            kept.append((start, end))
            continue
        if start < hole[0]:
            kept.append((start, hole[0]))
        if hole[1] < end:
            kept.append((hole[1], end))
    return kept


def reschedule(booking: Booking, start: datetime, now: datetime | None = None) -> Booking:
    """Move a booking to a new start in one step.

    Raises InvalidBooking or SlotTaken if it cannot move there, and
    BookingChanged if someone moved or cancelled it since ``booking`` was read
    (its sequence tells): of several moves at once, exactly one happens.
    """
    now = now or utc_now()
    service = service_named(booking.service_id)
    if booking.status != BookingStatus.CONFIRMED:
        raise InvalidBooking({"booking": "is cancelled"})
    if start == booking.start_at:
        return booking
    problem = slot_problem(service, start, now, fresh=True, moving=booking)
    zone = zone_named(booking.client_timezone)
    if problem in (availability.BUSY, availability.FULL):
        raise SlotTaken(alternatives(service, start, zone, now))
    if problem is not None:
        raise InvalidBooking({"start": _problem_message(problem)})

    seen_sequence, booking_id = booking.sequence, booking.id
    blocked_start, blocked_end = service.blocked_range(start)
    db.session.rollback()
    try:
        with outbox.unit_of_work() as work:
            booking = _locked(booking_id)
            if booking.status != BookingStatus.CONFIRMED or booking.sequence != seen_sequence:
                raise BookingChanged("the booking was changed meanwhile")
            previous_start = booking.start_at
            _lock(_day_lock(start))
            _check_daily_limit(service, start, now, moving=booking.id)
            booking.start_at, booking.end_at = start, start + service.duration
            booking.blocked_start, booking.blocked_end = blocked_start, blocked_end
            booking.sequence += 1
            booking.reminder_queued_at = None
            entries = [
                calendar_entry(booking, "write"),
                *emails.rescheduled(booking, manage_url(booking), previous_start),
            ]
            _queue(work, booking, entries)
            _freed(previous_start, previous_start + service.duration, work, now)
    except (IntegrityError, SlotTaken):
        raise SlotTaken(alternatives(service, start, zone, now)) from None
    return booking


def _blocked(booking: Booking, start: datetime, end: datetime) -> Interval:
    """Return the time a booking at [start, end) keeps from others: its service's buffers around it."""
    service = business.current().services.get(booking.service_id)
    if service is None:
        return start, end
    return start - service.buffer_before, end + service.buffer_after


def _clash(booking: Booking, start: datetime, end: datetime, now: datetime) -> str | None:
    """Say why a booking cannot be where the therapist moved its event, or None if it can."""
    if start < now:
        return "the new time is in the past"
    blocked_start, blocked_end = _blocked(booking, start, end)
    other = db.session.scalar(
        select(Booking)
        .where(_overlapping(blocked_start, blocked_end), Booking.id != booking.id)
        .order_by(Booking.start_at)
        .limit(1)
    )
    if other is not None:
        return emails.clash_description(other)
    return None


def follow_calendar_move(
    booking_id: str, start: datetime, end: datetime, version: str = "", now: datetime | None = None
) -> str:
    """Move a booking to where the therapist moved its event; return "moved", "unchanged" or "refused".

    The event's times are taken as they are (its duration too; the service
    stays): the therapist chose them, so notice, opening hours, the slot
    step, the horizon and the daily limit do not apply.  Two rules still do:
    the new time may not overlap another confirmed booking (the database
    would refuse it anyway) and may not be in the past.  A refused move
    leaves the booking as it was, records why (the admin shows it), emails
    the therapist once per version of the event, and puts the event back.
    Bookings cancelled or already over are left alone, and so is an event
    whose times are the booking's: our own write coming back.
    """
    now = now or utc_now()
    db.session.rollback()
    try:
        with outbox.unit_of_work() as work:
            booking = _locked(booking_id)
            if booking.status != BookingStatus.CONFIRMED or booking.end_at <= now:
                return "unchanged"
            if (booking.start_at, booking.end_at) == (start, end):
                return "unchanged"
            problem = _clash(booking, start, end, now)
            if problem is None:
                previous_start, previous_end = booking.start_at, booking.end_at
                booking.start_at, booking.end_at = start, end
                booking.blocked_start, booking.blocked_end = _blocked(booking, start, end)
                booking.sequence += 1
                booking.reminder_queued_at = None
                booking.calendar_conflict = None
                # No calendar write: the event is already where the booking now is.
                _queue(work, booking, emails.rescheduled(booking, manage_url(booking), previous_start))
                _freed(previous_start, previous_end, work, now)
                return "moved"
    except IntegrityError:
        problem = "the new time overlaps another booking"
    _refuse_calendar_move(booking_id, start, end, problem, version)
    return "refused"


def _refuse_calendar_move(booking_id: str, start: datetime, end: datetime, problem: str, version: str) -> None:
    """Keep a booking where it is, tell the therapist why her move was not followed, and put the event back."""
    db.session.rollback()
    try:
        with outbox.unit_of_work() as work:
            booking = _locked(booking_id)
            booking.calendar_conflict = emails.conflict_summary(booking, start, problem)
            stamp = version or f"{start.isoformat()}/{end.isoformat()}"
            _, kind, payload = calendar_entry(booking, "write")
            entries = [
                (f"calendar-restore:{booking.id}:{booking.sequence}:{stamp}", kind, payload),
                *emails.calendar_conflict(booking, manage_url(booking), start, problem, stamp),
            ]
            _queue(work, booking, entries)
    except IntegrityError:
        # The same refusal recorded at once by another sync (push and polling): it is done.
        db.session.rollback()


def upcoming(now: datetime | None = None, days: int = 60) -> list[Booking]:
    """Return confirmed bookings from now on, earliest first."""
    now = now or utc_now()
    return list(
        db.session.scalars(
            select(Booking)
            .where(
                Booking.status == BookingStatus.CONFIRMED,
                Booking.end_at > now,
                Booking.start_at < now + timedelta(days=days),
            )
            .order_by(Booking.start_at)
        )
    )
