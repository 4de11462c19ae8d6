"""The clients' data under control: erase one client, anonymise old bookings, export the bookings as CSV.

An anonymised booking stays for the studio's books (service, times, status)
but keeps nothing that names the client: ``anonymise`` is the one place that
knows which fields are personal.  The emails about a booking sit in the
outbox with the client's address in them; they go when the booking is
anonymised, except cancellation emails still to be sent (an erasure's own,
say), which are sent first and removed after (the "client-erasure" outbox kind).
"""

from __future__ import annotations

import calendar
import csv
import io
from datetime import date, datetime

from flask import current_app
from sqlalchemy import and_, delete, func, not_, select

from .. import outbox
from ..extensions import db
from ..models import Booking, BookingStatus, OutboxMessage, OutboxStatus
from ..timezones import days_range, utc_now
from . import bookings, business, waitlist

ERASED_NAME = "Erased client"
ERASURE_KIND = "client-erasure"
RETENTION_BATCH = 500  # bookings anonymised per jobs round, so one round stays short


class ErasureNotDone(Exception):
    """Emails about an erased client's booking are still waiting to be sent: the clean-up waits for them."""


def anonymise(booking: Booking, now: datetime) -> None:
    """Blank a booking's personal fields, keeping what the studio's books need."""
    booking.name = ERASED_NAME
    booking.email = booking.phone = booking.notes = booking.phone_key = ""
    booking.calendar_conflict = None
    booking.answers = None  # the intake answers
    booking.anonymised_at = now


def _calendar_erasure(booking: Booking) -> tuple[str, str, dict] | None:
    """Return the outbox entry that blanks a booking's calendar event, or None if it never had one."""
    if booking.calendar_event_id is None and booking.status == BookingStatus.CANCELLED:
        return None
    return (
        f"calendar-erase:{booking.id}:{booking.sequence}",
        "calendar",
        {"action": "erase", "booking": booking.id},
    )


def _of_booking(booking_id: str):
    """Select the outbox rows about one booking that carry personal data (calendar entries carry only ids)."""
    return and_(
        OutboxMessage.key.contains(f":{booking_id}:"),
        OutboxMessage.kind != "calendar",
        OutboxMessage.kind != ERASURE_KIND,
    )


def _being_sent():
    """Select the cancellation emails still to be sent: the usual emails of a cancellation go out first."""
    return and_(OutboxMessage.status == OutboxStatus.PENDING, OutboxMessage.key.startswith("cancelled:"))


def _anonymise_all(work: outbox.Work, found: list[Booking], now: datetime) -> None:
    """Anonymise bookings, blank their calendar events, and drop their emails from the outbox.

    Cancellation emails still to be sent stay; a "client-erasure" entry,
    queued after them, removes them once they are sent.
    """
    for booking in found:
        anonymise(booking, now)
        entry = _calendar_erasure(booking)
        if entry is not None:
            key, kind, payload = entry
            work.queue(key, kind, payload, stream=bookings.outbox_stream(booking.id, kind, payload))
        rows = _of_booking(booking.id)
        db.session.execute(
            delete(OutboxMessage).where(rows, not_(_being_sent())).execution_options(synchronize_session=False)
        )
        if db.session.scalar(select(func.count()).where(rows, _being_sent())):
            work.queue(f"{ERASURE_KIND}:{booking.id}", ERASURE_KIND, {"booking": booking.id})


def erase_client(email: str, keep_future: bool = False, now: datetime | None = None) -> dict[str, int]:
    """Erase a client's details: cancel her upcoming bookings (unless ``keep_future``), anonymise the rest.

    Cancellations go through the booking service, with the usual emails to
    her and the therapist and the calendar event removed; those emails are
    sent, then dropped from the outbox.  Every other email about her bookings
    goes from the outbox at once, and her calendar events are blanked.
    Returns how many bookings were cancelled, anonymised and kept, and how
    many waitlist entries went.
    """
    address = email.strip().lower()
    now = now or utc_now()
    own = func.lower(Booking.email) == address
    upcoming = and_(Booking.status == BookingStatus.CONFIRMED, Booking.start_at > now)
    cancelled, kept = set(), set()
    while True:
        future_ids = set(db.session.scalars(select(Booking.id).where(own, upcoming)))
        db.session.commit()
        if keep_future:
            kept |= future_ids
        else:
            for booking_id in sorted(future_ids - cancelled):
                bookings.cancel(db.session.get(Booking, booking_id), by_studio=True, now=now)
                cancelled.add(booking_id)
        try:
            found = _anonymise_client(address, now, keep_future)
        except _BookedMeanwhile:
            continue  # she booked while her bookings were being cancelled: cancel that one too
        break
    waitlist_entries = waitlist.erase_entries(address)
    return {"cancelled": len(cancelled), "anonymised": found, "kept": len(kept), "waitlist": waitlist_entries}


class _BookedMeanwhile(Exception):
    """An upcoming booking appeared after the cancellations: they must be done again first."""


def _anonymise_client(address: str, now: datetime, keep_future: bool) -> int:
    """Anonymise the client's bookings but the upcoming ones kept, in one unit of work; return how many."""
    own = func.lower(Booking.email) == address
    upcoming = and_(Booking.status == BookingStatus.CONFIRMED, Booking.start_at > now)
    with outbox.unit_of_work() as work:
        query = select(Booking).where(own).with_for_update()
        if keep_future:
            query = query.where(not_(upcoming))
        found = list(db.session.scalars(query))
        if any(booking.status == BookingStatus.CONFIRMED and booking.start_at > now for booking in found):
            raise _BookedMeanwhile
        _anonymise_all(work, found, now)
        # Any other email sent to or about her (not the comments: erase-commenter is for those).  Those
        # still to be sent are about the upcoming bookings she keeps.
        others = and_(
            func.lower(OutboxMessage.payload).contains(address),
            OutboxMessage.status != OutboxStatus.PENDING,
            not_(OutboxMessage.key.startswith("comment-")),
        )
        db.session.execute(delete(OutboxMessage).where(others).execution_options(synchronize_session=False))
    return len(found)


def finish_erasure(payload: dict) -> None:
    """Drop an erased client's sent emails about one booking from the outbox (its handler); wait for unsent ones."""
    rows = _of_booking(payload["booking"])
    waiting = db.session.scalar(select(func.count()).where(rows, OutboxMessage.status == OutboxStatus.PENDING))
    if waiting:
        db.session.rollback()
        raise ErasureNotDone(f"{waiting} emails about the booking are still to be sent")
    with outbox.unit_of_work():
        db.session.execute(delete(OutboxMessage).where(rows).execution_options(synchronize_session=False))


def months_before(moment: datetime, months: int) -> datetime:
    """Return the same instant ``months`` calendar months earlier (the 31st becomes the month's last day)."""
    year, month = divmod(moment.year * 12 + moment.month - 1 - months, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


def anonymise_expired(now: datetime | None = None) -> int:
    """Anonymise the bookings that ended more than RETENTION_MONTHS ago; return how many (none when unset)."""
    months = current_app.config["RETENTION_MONTHS"]
    if not months:
        return 0
    now = now or utc_now()
    cutoff = months_before(now, months)
    with outbox.unit_of_work() as work:
        found = list(
            db.session.scalars(
                select(Booking)
                .where(Booking.end_at < cutoff, Booking.anonymised_at.is_(None))
                .order_by(Booking.end_at)
                .limit(RETENTION_BATCH)
                .with_for_update(skip_locked=True)
            )
        )
        _anonymise_all(work, found, now)
    return len(found)


# --- Export ---------------------------------------------------------------------------------------------------------

COLUMNS = (
    "id",
    "status",
    "service",
    "service_name",
    "date",
    "start",
    "end",
    "name",
    "email",
    "phone",
    "notes",
    "client_timezone",
    "booked_at",
    "cancelled_at",
    "anonymised_at",
)
# A spreadsheet runs a cell that starts with one of these as a formula: free text gets a leading quote.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def answers_of(booking: Booking) -> dict[str, str]:
    """Return a booking's intake answers as text by question id (none where the studio asks no questions)."""
    raw = booking.answers
    if not isinstance(raw, dict):
        return {}
    shown = {}
    for question, answer in raw.items():
        if isinstance(answer, bool):
            answer = "yes" if answer else "no"
        elif isinstance(answer, list):
            answer = "; ".join(str(item) for item in answer)
        shown[str(question)] = "" if answer is None else str(answer)
    return shown


def _safe(text: str) -> str:
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _studio_time(moment: datetime | None, zone) -> str:
    return "" if moment is None else moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def export_rows(first: date | None = None, last: date | None = None) -> tuple[list[str], list[list[str]]]:
    """Return the header and one row per booking starting on the studio days first..last (each optional)."""
    zone = business.current().rules.timezone
    query = select(Booking).order_by(Booking.start_at, Booking.id)
    if first is not None:
        query = query.where(Booking.start_at >= days_range(first, first, zone)[0])
    if last is not None:
        query = query.where(Booking.start_at < days_range(last, last, zone)[1])
    found = list(db.session.scalars(query))
    answers = {booking.id: answers_of(booking) for booking in found}
    questions = sorted({question for each in answers.values() for question in each})
    services = business.current().services
    rows = []
    for booking in found:
        service = services.get(booking.service_id)
        start = booking.start_at.astimezone(zone)
        rows.append(
            [
                booking.id,
                str(booking.status),
                booking.service_id,
                service.name if service else "",
                start.strftime("%Y-%m-%d"),
                start.strftime("%H:%M"),
                booking.end_at.astimezone(zone).strftime("%H:%M"),
                _safe(booking.name),
                booking.email,
                booking.phone,
                _safe(booking.notes or ""),
                booking.client_timezone,
                _studio_time(booking.created_at, zone),
                _studio_time(booking.cancelled_at, zone),
                _studio_time(booking.anonymised_at, zone),
                *[_safe(answers[booking.id].get(question, "")) for question in questions],
            ]
        )
    return [*COLUMNS, *[f"answer: {question}" for question in questions]], rows


def export_csv(first: date | None = None, last: date | None = None) -> tuple[str, int]:
    """Return the bookings of first..last as CSV text, and how many rows it has."""
    header, rows = export_rows(first, last)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue(), len(rows)
