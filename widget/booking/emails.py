"""Which emails a booking change sends, to whom, saying what.

Each function returns outbox entries ``(key, kind, payload)``; the key names
the change (booking, sequence, recipient) so the same email is never queued
twice.  booking/bookings.py adds them in the transaction of the change.

The emails of a booking made, cancelled, moved or reminded are written when
they are sent (``write``, the mail writer registered as "booking"), from a
copy of the booking taken when the change was queued: each still says what
was true then, and the request that made the change renders nothing.
"""

from __future__ import annotations

from datetime import datetime

from flask import current_app

from ..mail import compose
from ..models import Booking
from ..timezones import clock, long_date, zone_abbreviation, zone_named
from . import business, intake
from .ics import booking_ics, google_calendar_link
from .links import again_url

ICS = "text/calendar; method={method}; charset=utf-8"


def _when(moment: datetime, zone_name: str) -> str:
    zone = zone_named(zone_name)
    return f"{long_date(moment, zone)}, {clock(moment, zone)} {zone_abbreviation(moment, zone)}"


def _context(booking, manage_url: str) -> dict:
    studio = business.current().studio
    service = business.current().services.get(booking.service_id)
    service_name = service.name if service else booking.service_id
    when_client = _when(booking.start_at, booking.client_timezone)
    when_studio = _when(booking.start_at, studio.timezone)
    return {
        "booking": booking,
        # For the therapist's emails alone: the client's own emails never show them.
        "answers": intake.shown(business.current().questions, booking.answers),
        "service_name": service_name,
        "studio": studio,
        "manage_url": manage_url,
        "when_client": when_client,
        "when_studio": when_studio,
        "same_zone": when_client == when_studio,
        "cutoff_hours": current_app.config["CANCEL_CUTOFF_HOURS"],
        "book_url": f"{current_app.config['PUBLIC_URL']}/book?service={booking.service_id}",
        "again_url": again_url(booking),
        "again_days": current_app.config["BOOK_AGAIN_DAYS"],
        "google_link": google_calendar_link(booking, service_name, studio, manage_url),
    }


def _ics(booking, context, cancelled=False):
    data = booking_ics(booking, context["service_name"], context["studio"], context["manage_url"], cancelled)
    method = "CANCEL" if cancelled else "PUBLISH"
    return [("invite.ics" if not cancelled else "cancelled.ics", ICS.format(method=method), data)]


def _therapist(booking, event: str, context: dict, to: list[str], previous_start: datetime | None = None) -> dict:
    """Return the therapist's notice of a booking made, cancelled or moved."""
    titles = {"booked": "New booking", "cancelled": "Cancelled", "rescheduled": "Moved"}
    subject = f"{titles[event]}: {context['service_name']} — {booking.name}, {context['when_studio']}"
    return compose(
        to,
        subject,
        "therapist_notice",
        event=event,
        previous_when=_when(previous_start, context["studio"].timezone) if previous_start else None,
        **context,
    )


def _client(booking, event: str, context: dict, to: list[str], previous_start=None, by_studio=False) -> dict:
    """Return the client's email about her booking: confirmed, cancelled, moved, or a reminder."""
    service, when = context["service_name"], context["when_client"]
    if event == "booked":
        return compose(
            to, f"Booked: {service}, {when}", "booking_confirmed", attachments=_ics(booking, context), **context
        )
    if event == "cancelled":
        attachments = _ics(booking, context, cancelled=True)
        subject = f"Cancelled: {service}, {when}"
        return compose(to, subject, "booking_cancelled", attachments=attachments, by_studio=by_studio, **context)
    if event == "rescheduled":
        previous_when = _when(previous_start, booking.client_timezone)
        subject = f"Moved: {service}, now {when}"
        attachments = _ics(booking, context)
        return compose(
            to, subject, "booking_rescheduled", attachments=attachments, previous_when=previous_when, **context
        )
    return compose(to, f"Reminder: {service}, {when}", "reminder", **context)


WRITER = "booking"
# What the emails say of a booking; the intake answers travel only in the therapist's copy.
SNAPSHOT = ("id", "service_id", "start_at", "end_at", "name", "email", "phone", "notes", "client_timezone", "sequence")
MOMENTS = ("start_at", "end_at")


def _queued(event: str, recipient: str, booking, manage_url: str, to: str, **extra) -> tuple[str, str, dict]:
    """Return the outbox entry of one email about a booking change, with the copy of the booking it is written from."""
    fields = SNAPSHOT + (("answers",) if recipient == "therapist" else ())
    copy = {name: getattr(booking, name) for name in fields}
    copy.update({name: copy[name].isoformat() for name in MOMENTS})
    payload = {"writer": WRITER, "to": [to], "event": event, "recipient": recipient, "manage_url": manage_url}
    payload.update(booking=copy, **extra)
    return (f"{event}:{booking.id}:{booking.sequence}:{recipient}", "email", payload)


def _entries(event: str, booking, manage_url: str, **extra) -> list:
    """Return the client's email about a change and, when there is a therapist's address, her notice."""
    entries = [_queued(event, "client", booking, manage_url, booking.email, **extra)]
    therapist = current_app.config.get("THERAPIST_EMAIL")
    if therapist:
        entries.append(_queued(event, "therapist", booking, manage_url, therapist, **extra))
    return entries


def write(payload: dict) -> dict:
    """Write a queued email about a booking (the "booking" mail writer) from the copy taken when it was queued."""
    copy = dict(payload["booking"])
    copy.update({name: datetime.fromisoformat(copy[name]) for name in MOMENTS})
    booking = Booking(**copy)  # never added to a session: nothing is written back
    context = _context(booking, payload["manage_url"])
    previous = payload.get("previous_start")
    previous_start = datetime.fromisoformat(previous) if previous else None
    if payload["recipient"] == "therapist":
        return _therapist(booking, payload["event"], context, payload["to"], previous_start)
    return _client(booking, payload["event"], context, payload["to"], previous_start, payload.get("by_studio", False))


def booked(booking, manage_url: str) -> list:
    """Return the emails a new booking sends: the client's confirmation and the therapist's notice."""
    return _entries("booked", booking, manage_url)


def cancelled(booking, manage_url: str, by_studio: bool = False) -> list:
    """Return the emails a cancellation sends."""
    return _entries("cancelled", booking, manage_url, by_studio=by_studio)


def rescheduled(booking, manage_url: str, previous_start: datetime) -> list:
    """Return the emails a reschedule sends, with the new calendar file."""
    return _entries("rescheduled", booking, manage_url, previous_start=previous_start.isoformat())


def reminder(booking, manage_url: str) -> list:
    """Return the reminder email of a booking."""
    return [_queued("reminder", "client", booking, manage_url, booking.email)]


def clash_description(other) -> str:
    """Name the booking a move would overlap, for the therapist."""
    service = business.current().services.get(other.service_id)
    service_name = service.name if service else other.service_id
    return f"that overlaps {other.name}'s {service_name} at {_when(other.start_at, business.current().studio.timezone)}"


def conflict_summary(booking, start: datetime, problem: str) -> str:
    """Say in one line, for the admin, why a move in the calendar was not followed."""
    return f"Moved in the calendar to {_when(start, business.current().studio.timezone)}, not followed: {problem}."


def calendar_conflict(booking, manage_url: str, start: datetime, problem: str, stamp: str) -> list:
    """Return the therapist's email saying her move of a booking's event was not followed, and why."""
    therapist = current_app.config.get("THERAPIST_EMAIL")
    if not therapist:
        return []
    context = _context(booking, manage_url)
    payload = compose(
        [therapist],
        f"Not moved: {context['service_name']} — {booking.name}, still {context['when_studio']}",
        "calendar_conflict",
        attempted_when=_when(start, context["studio"].timezone),
        problem=problem,
        admin_url=f"{current_app.config['PUBLIC_URL']}/admin",
        **context,
    )
    return [(f"calendar-conflict:{booking.id}:{booking.sequence}:{stamp}:therapist", "email", payload)]


def calendar_lost(connected_at: datetime | None, problem: str) -> list:
    """Return the one email telling the therapist that the Google connection was lost."""
    therapist = current_app.config.get("THERAPIST_EMAIL")
    if not therapist:
        return []
    studio = business.current().studio
    payload = compose(
        [therapist],
        "Online booking is paused: reconnect Google Calendar",
        "calendar_lost",
        studio=studio,
        problem=problem,
        admin_url=f"{current_app.config['PUBLIC_URL']}/admin/google",
    )
    # One email per lost connection, however many requests notice it.
    stamp = connected_at.isoformat() if connected_at else "never"
    return [(f"calendar-lost:{stamp}", "email", payload)]


def tell_calendar_lost(_calendar, *, connected_at: datetime | None, problem: str, work) -> None:
    """Queue the therapist's email about a lost calendar connection (a receiver of signals.calendar_lost)."""
    for key, kind, payload in calendar_lost(connected_at, problem):
        work.queue(key, kind, payload)
