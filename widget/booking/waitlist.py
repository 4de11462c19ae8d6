"""The waitlist: people who found no time that suits are told when one is freed.

Joining writes one entry per chosen day, unconfirmed, and emails a link to
confirm them (double opt-in: nobody can put someone else's address on the
list and have it receive offers).  When time is freed (``signals.time_freed``,
sent inside the unit of work that frees it) every confirmed entry whose
service fits there, on its day and in its part of the day, is emailed in the
order it joined, with a signed, expiring link that shows the freed time and
books it in one step.  The booking service decides who gets it: the first to
book.  Times inside the minimum notice are never offered.  An entry expires
when its day is over and the jobs runner purges it.
"""

from __future__ import annotations

import hashlib
import zlib
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from email_validator import EmailNotValidError, validate_email
from flask import current_app
from itsdangerous import BadData, TimestampSigner, URLSafeSerializer, URLSafeTimedSerializer
from sqlalchemy import delete, func, select, text
from sqlalchemy.exc import IntegrityError

from .. import outbox
from ..extensions import begin_writing, db
from ..mail import compose
from ..models import BOOKING_LIMITS, Booking, BookingStatus, DayPart, OutboxMessage, WaitlistEntry, new_id
from ..settings import public_url
from ..timezones import clock, days_range, long_date, utc_now, zone_abbreviation
from . import availability, business

# Studio hours that start and end each part of the day.
PARTS = {
    DayPart.ANY: (0, 24),
    DayPart.MORNING: (0, 12),
    DayPart.AFTERNOON: (12, 17),
    DayPart.EVENING: (17, 24),
}
PART_LABELS = {
    DayPart.ANY: "Any time",
    DayPart.MORNING: "Morning (before noon)",
    DayPart.AFTERNOON: "Afternoon (noon to 5 pm)",
    DayPart.EVENING: "Evening (after 5 pm)",
}
CONFIRM_MAX_AGE = timedelta(days=2)  # how long a confirmation link works; unconfirmed entries go after it
OFFER_MAX_AGE = timedelta(days=7)  # how long an offer link works (the time itself may go sooner)
LOCK_WAITLIST = 4  # kind of PostgreSQL advisory lock, beside the booking service's 1-3


class WaitlistProblem(ValueError):
    """A sign-up that cannot be accepted; ``errors`` maps each field to what is wrong."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{field} {message}" for field, message in errors.items()))
        self.errors = errors


class AlreadyWaiting(WaitlistProblem):
    """The address already waits for one of these days, or for as many days as one address may."""

    def __init__(self, email: str, service_id: str, days: list[date], full: bool):
        named = ", ".join(long_date(day) for day in days)
        reason = "already waits for as many days as one address may" if full else f"already waits for {named}"
        super().__init__({"days": f"this address {reason}"})
        self.email, self.service_id, self.days, self.full = email, service_id, days, full


@dataclass(frozen=True)
class Offer:
    """A freed time offered to one waitlist entry."""

    entry_id: int
    service_id: str
    start: datetime
    email: str


class _ClockSigner(TimestampSigner):
    """A timestamp signer that reads the service's clock, so link lifetimes follow it."""

    def get_timestamp(self) -> int:
        return int(utc_now().timestamp())


def _signer(salt: str, timed: bool = True):
    key = current_app.config["SECRET_KEY"]
    if not timed:
        return URLSafeSerializer(key, salt=salt)
    return URLSafeTimedSerializer(key, salt=salt, signer=_ClockSigner)


def _lock_address(email_key: str) -> None:
    """On PostgreSQL, serialise the sign-ups of one address, so two at once cannot pass the cap together."""
    # SQLite's IMMEDIATE transaction already serialises every writer.
    if db.session.get_bind().dialect.name == "postgresql":
        key = zlib.crc32(email_key.encode()) - 2**31  # a signed 32-bit key
        db.session.execute(text("SELECT pg_advisory_xact_lock(:kind, :key)"), {"kind": LOCK_WAITLIST, "key": key})


def _today(now: datetime) -> date:
    return now.astimezone(business.current().rules.timezone).date()


def _email_context() -> dict:
    return {"studio": business.current().studio}


def _when(moment: datetime) -> str:
    zone = business.current().rules.timezone
    return f"{long_date(moment, zone)}, {clock(moment, zone)} {zone_abbreviation(moment, zone)}"


def leave_url(email: str) -> str:
    """Return the address that takes every entry of this email off the waitlist."""
    return public_url("waitlist.leave", token=_signer("waitlist-leave", timed=False).dumps(email.lower()))


def _check(email, service_id, days, part, now: datetime) -> tuple[str, str, list[date], DayPart]:
    """Return the sign-up's email, service, days and part, checked; raise WaitlistProblem naming each bad field."""
    errors = {}
    email = (email or "").strip() if isinstance(email, str) else ""
    if not email:
        errors["email"] = "is required"
    elif len(email) > BOOKING_LIMITS["email"]:
        errors["email"] = f"must be at most {BOOKING_LIMITS['email']} characters"
    else:
        try:
            email = validate_email(email, check_deliverability=False).normalized
        except EmailNotValidError:
            errors["email"] = "is not a valid email address"
    if not isinstance(service_id, str) or service_id not in business.current().services:
        errors["service"] = "is not one of our services"
    try:
        part = DayPart(part or DayPart.ANY)
    except ValueError:
        errors["part"] = "must be any, morning, afternoon or evening"
    today = _today(now)
    last = today + timedelta(days=business.current().rules.horizon_days)
    chosen = set()
    for raw in days or ():
        try:
            day = date.fromisoformat(raw) if isinstance(raw, str) else None
        except ValueError:
            day = None
        if day is None:
            errors["days"] = f"{raw!r} is not a date (YYYY-MM-DD)"
            break
        if not today <= day <= last:
            errors["days"] = f"must be between {today.isoformat()} and {last.isoformat()}"
            break
        chosen.add(day)
    if not chosen and "days" not in errors:
        errors["days"] = "choose at least one day"
    if errors:
        raise WaitlistProblem(errors)
    return email, service_id, sorted(chosen), part


def join(email, service_id, days, part=DayPart.ANY, now: datetime | None = None) -> list[WaitlistEntry]:
    """Put an address on the waitlist for some days, unconfirmed, and email it the link that confirms them.

    Raises WaitlistProblem for bad input, for a day the address already
    joined (the database refuses it, even from two requests at once), and
    past WAITLIST_MAX_ENTRIES entries per address.
    """
    now = now or utc_now()
    email, service_id, days, part = _check(email, service_id, days, part, now)
    key = email.lower()
    limit = current_app.config["WAITLIST_MAX_ENTRIES"]
    signup = new_id()
    entries = [
        WaitlistEntry(
            signup_id=signup,
            email=email,
            email_key=key,
            service_id=service_id,
            day=day,
            part=part,
            created_at=now,
        )
        for day in days
    ]
    db.session.rollback()
    try:
        with outbox.unit_of_work() as work:
            _lock_address(key)
            held = db.session.scalars(
                select(WaitlistEntry.day).where(WaitlistEntry.email_key == key, WaitlistEntry.day >= _today(now))
            ).all()
            already = sorted(
                entry.day
                for entry in entries
                if db.session.scalar(
                    select(WaitlistEntry.id).where(
                        WaitlistEntry.email_key == key,
                        WaitlistEntry.service_id == service_id,
                        WaitlistEntry.day == entry.day,
                    )
                )
            )
            if already:
                raise AlreadyWaiting(email, service_id, already, full=False)
            if len(entries) > limit:
                raise WaitlistProblem({"days": f"one address may wait for at most {limit} days at once"})
            if len(held) + len(entries) > limit:
                raise AlreadyWaiting(email, service_id, days, full=True)
            db.session.add_all(entries)
            token = _signer("waitlist-confirm").dumps(signup)
            payload = compose(
                [email],
                f"Please confirm: the waitlist of {business.current().studio.name}",
                "waitlist_confirm",
                confirm_url=public_url("waitlist.confirm", token=token),
                leave_url=leave_url(email),
                service_name=business.current().services[service_id].name,
                days=[long_date(day) for day in days],
                part_label=PART_LABELS[part],
                **_email_context(),
            )
            work.queue(f"waitlist-confirm:{signup}", "email", payload, stream=_stream(key))
    except IntegrityError:
        # The same day joined by another request at the same instant.
        raise AlreadyWaiting(email, service_id, days, full=False) from None
    return entries


def tell_already_waiting(problem: AlreadyWaiting, now: datetime | None = None) -> None:
    """Email the address that it already waits for those days (or for as many days as one address may).

    Only the address's owner learns this: whoever filled in the form sees the
    same answer as for a new sign-up, so the form does not tell strangers who
    is waiting for a massage.
    """
    key = problem.email.lower()
    payload = compose(
        [problem.email],
        f"You are already on the waitlist of {business.current().studio.name}",
        "waitlist_already",
        full=problem.full,
        limit=current_app.config["WAITLIST_MAX_ENTRIES"],
        service_name=business.current().services[problem.service_id].name,
        days=[long_date(day) for day in problem.days],
        leave_url=leave_url(problem.email),
        **_email_context(),
    )
    db.session.rollback()
    with outbox.unit_of_work() as work:
        work.queue(f"waitlist-already:{new_id()}", "email", payload, stream=_stream(key))


def _stream(email_key: str) -> str:
    """Return the outbox stream of one address's waitlist emails (delivered in order)."""
    return "waitlist:" + hashlib.sha256(email_key.encode()).hexdigest()[:16]


def signup_for_token(token: str) -> str | None:
    """Return the sign-up a confirmation link names, or None if it is not ours or has expired."""
    try:
        signup = _signer("waitlist-confirm").loads(token, max_age=CONFIRM_MAX_AGE.total_seconds())
    except BadData:
        return None
    return signup if isinstance(signup, str) else None


def confirm(signup: str, now: datetime | None = None) -> list[WaitlistEntry]:
    """Make a sign-up's entries active; return them (none if they are gone)."""
    now = now or utc_now()
    begin_writing()
    entries = db.session.scalars(
        select(WaitlistEntry).where(WaitlistEntry.signup_id == signup).order_by(WaitlistEntry.day)
    ).all()
    for entry in entries:
        if entry.confirmed_at is None:
            entry.confirmed_at = now
    db.session.commit()
    return list(entries)


def email_for_leave_token(token: str) -> str | None:
    """Return the address a leave link names, or None if it is not ours."""
    try:
        email = _signer("waitlist-leave", timed=False).loads(token)
    except BadData:
        return None
    return email if isinstance(email, str) else None


def erase_entries(email: str) -> int:
    """Remove every waitlist entry of an address, and its waitlist emails in the outbox; return how many entries."""
    key = email.strip().lower()
    begin_writing()
    try:
        removed = db.session.execute(delete(WaitlistEntry).where(WaitlistEntry.email_key == key)).rowcount
        # The emails of its entries (confirmations, offers) hold the address too.
        db.session.execute(delete(OutboxMessage).where(OutboxMessage.stream == _stream(key)))
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return removed


def purge_expired(now: datetime | None = None) -> int:
    """Remove entries whose day is over and sign-ups never confirmed in time; return how many went."""
    now = now or utc_now()
    begin_writing()
    removed = db.session.execute(
        delete(WaitlistEntry).where(
            (WaitlistEntry.day < _today(now))
            | (WaitlistEntry.confirmed_at.is_(None) & (WaitlistEntry.created_at < now - CONFIRM_MAX_AGE))
        )
    ).rowcount
    db.session.commit()
    return removed


def listing(now: datetime | None = None) -> list[WaitlistEntry]:
    """Return the entries that have not expired, by day, then in the order they joined (for the admin)."""
    now = now or utc_now()
    return list(
        db.session.scalars(
            select(WaitlistEntry).where(WaitlistEntry.day >= _today(now)).order_by(WaitlistEntry.day, WaitlistEntry.id)
        )
    )


# --- Freed time -----------------------------------------------------------------------------------------------------


def _in_part(start: datetime, part: DayPart) -> bool:
    local = start.astimezone(business.current().rules.timezone)
    first, last = PARTS[part]
    return first <= local.hour < last


def _booked(start: datetime, end: datetime):
    """Return (blocked ranges, starts) of confirmed bookings near [start, end), as the change leaves them."""
    rows = db.session.execute(
        select(Booking.blocked_start, Booking.blocked_end, Booking.start_at).where(
            Booking.status == BookingStatus.CONFIRMED,
            Booking.blocked_start < end + timedelta(days=2),
            Booking.blocked_end > start - timedelta(days=2),
        )
    ).all()
    return [(r.blocked_start, r.blocked_end) for r in rows], [r.start_at for r in rows]


def _has_booked(entry: WaitlistEntry) -> bool:
    """Say whether the entry's address already holds a confirmed booking of its service on its day."""
    first, after = days_range(entry.day, entry.day, business.current().rules.timezone)
    return (
        db.session.scalar(
            select(Booking.id)
            .where(
                Booking.status == BookingStatus.CONFIRMED,
                Booking.service_id == entry.service_id,
                func.lower(Booking.email) == entry.email_key,
                Booking.start_at >= first,
                Booking.start_at < after,
            )
            .limit(1)
        )
        is not None
    )


def offer_token(entry: WaitlistEntry, start: datetime) -> str:
    """Return the signed token of an offer of ``start`` to one entry."""
    return _signer("waitlist-offer").dumps([entry.id, entry.service_id, start.isoformat(), entry.email])


def offer_for_token(token: str) -> Offer | None:
    """Return the offer a link names, or None if it was altered, is not ours or has expired."""
    try:
        entry_id, service_id, start, email = _signer("waitlist-offer").loads(
            token, max_age=OFFER_MAX_AGE.total_seconds()
        )
        moment = datetime.fromisoformat(start)
    except (BadData, ValueError, TypeError):
        return None
    if moment.tzinfo is None or not isinstance(entry_id, int) or service_id not in business.current().services:
        return None
    return Offer(entry_id=entry_id, service_id=service_id, start=moment, email=email)


def offers(start: datetime, end: datetime, now: datetime | None = None) -> list[tuple[WaitlistEntry, datetime]]:
    """Return (entry, start time) for each active entry a time freed in [start, end) suits, in the order they joined.

    A time suits an entry when its service can start there on the entry's day
    and in its part of the day, by the studio's rules (opening hours, slot
    step, minimum notice, horizon, daily limit) and clear of every confirmed
    booking.  The calendar is not asked (the change is mid-transaction and
    Google may still show the freed event): the offer link asks it afresh.
    An address that already booked that service on that day is not asked again.
    """
    now = now or utc_now()
    rules = business.current().rules
    if end <= now + rules.minimum_notice:
        return []
    zone = rules.timezone
    first_day = start.astimezone(zone).date()
    last_day = (end - timedelta(microseconds=1)).astimezone(zone).date()
    entries = db.session.scalars(
        select(WaitlistEntry)
        .where(
            WaitlistEntry.confirmed_at.is_not(None),
            WaitlistEntry.day >= first_day,
            WaitlistEntry.day <= last_day,
        )
        .order_by(WaitlistEntry.id)
    ).all()
    if not entries:
        return []
    busy, booked = _booked(start, end)
    slots_of: dict[str, list] = {}
    found = []
    for entry in entries:
        service = business.current().services.get(entry.service_id)
        if service is None or _has_booked(entry):
            continue
        if service.id not in slots_of:
            slots_of[service.id] = availability.available_slots(rules, service, start, end, now, busy, booked, zone)
        for slot in slots_of[service.id]:
            if slot.start.astimezone(zone).date() == entry.day and _in_part(slot.start, entry.part):
                found.append((entry, slot.start))
                break
    return found


def offer_freed_time(_sender=None, *, start: datetime, end: datetime, work: outbox.Work, now=None) -> int:
    """Queue an offer to every entry the freed time suits (a receiver of signals.time_freed); return how many."""
    found = offers(start, end, now)
    services = business.current().services
    for entry, moment in found:
        payload = compose(
            [entry.email],
            f"A time opened up: {services[entry.service_id].name}, {_when(moment)}",
            "waitlist_offer",
            offer_url=public_url("waitlist.offer", token=offer_token(entry, moment)),
            leave_url=leave_url(entry.email),
            service_name=services[entry.service_id].name,
            when=_when(moment),
            **_email_context(),
        )
        work.queue(f"waitlist-offer:{entry.id}:{moment.isoformat()}", "email", payload, stream=_stream(entry.email_key))
    return len(found)
