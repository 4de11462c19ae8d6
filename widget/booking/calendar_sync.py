"""Keeping the therapist's calendar in step with the bookings, through the outbox."""

from __future__ import annotations

from flask import current_app

from .. import calendars
from ..calendars import Event
from ..extensions import begin_writing, db
from ..models import Booking, BookingStatus
from . import business, intake


def admin_url(booking: Booking) -> str:
    """Return the booking's page in the admin (sign-in required)."""
    return f"{current_app.config['PUBLIC_URL']}/admin/bookings/{booking.id}"


def calendar_event(booking: Booking, detail: str = "full", answers: bool = False) -> Event:
    """Return the calendar event that shows a booking to the therapist, with the detail asked for.

    Her calendar may be shared or shown on a phone's lock screen: "full" shows
    the client's name, phone and notes; "minimal" the first name and phone;
    "private" the service alone, as a private event.  The link always leads
    to the admin, never to the client's manage page (it would let anyone who
    reads the calendar cancel).  Intake answers are health details: they are
    added only when ``answers`` is asked for too, and only in "full".
    """
    service = business.current().services.get(booking.service_id)
    service_name = service.name if service else booking.service_id
    lines = []
    if detail == "private":
        summary = service_name
    else:
        who = booking.name if detail == "full" else (booking.name.split() or [""])[0]
        summary = f"{service_name} — {who}"
        lines.append(f"Phone: {booking.phone}")
        if detail == "full" and booking.notes:
            lines.append(f"Notes: {booking.notes}")
        if detail == "full" and answers:
            for label, value in intake.shown(business.current().questions, booking.answers):
                lines.append(f"{label} {value}" if label.endswith("?") else f"{label}: {value}")
    lines.append(f"Booking: {admin_url(booking)}")
    return Event(
        id=booking.id,
        start=booking.start_at,
        end=booking.end_at,
        summary=summary,
        timezone=business.current().studio.timezone,
        description="\n".join(lines),
        booking_id=booking.id,
        private=detail == "private",
    )


def calendar_entry(booking: Booking, action: str) -> tuple[str, str, dict]:
    """Return the outbox entry that writes ("write") or removes ("delete") a booking's calendar event."""
    return (f"calendar-{action}:{booking.id}:{booking.sequence}", "calendar", {"action": action, "booking": booking.id})


def deliver(payload: dict) -> None:
    """Do one calendar entry from the outbox (its handler); raise to have it retried.

    The entry names the booking, not the event: it writes the booking as it
    is now, so entries done late or out of order still leave the calendar
    right, and the event id (the booking id) makes a repeat harmless.
    """
    booking = db.session.get(Booking, payload["booking"])
    if booking is None:
        return
    calendar = calendars.current()
    if payload["action"] == "erase":
        _erase(calendar, booking)
    elif payload["action"] == "write" and booking.status == BookingStatus.CONFIRMED:
        # GOOGLE_EVENT_DETAIL: the built-in calendar lives in the service's own database, beside the booking.
        detail = current_app.config["GOOGLE_EVENT_DETAIL"] if calendar.name == "google" else "full"
        # The built-in calendar needs no copy of the answers: the admin shows them from the booking.
        event = calendar_event(booking, detail, answers=calendar.name == "google")
        calendar.write_event(event)
        if booking.calendar_event_id != event.id:
            begin_writing()
            booking = db.session.get(Booking, payload["booking"])
            booking.calendar_event_id = event.id
            db.session.commit()
    elif payload["action"] == "delete" or booking.status == BookingStatus.CANCELLED:
        calendar.delete_event(booking.calendar_event_id or booking.id, when=(booking.start_at, booking.end_at))


def _erase(calendar, booking: Booking) -> None:
    """Show a booking whose client was erased as it now is, without her details.

    Google keeps a deleted event, and what it said, for as long as it likes:
    a cancelled booking's event is blanked first, then deleted again.
    """
    detail = current_app.config["GOOGLE_EVENT_DETAIL"] if calendar.name == "google" else "full"
    calendar.write_event(calendar_event(booking, detail))
    if booking.status == BookingStatus.CANCELLED:
        calendar.delete_event(booking.calendar_event_id or booking.id, when=(booking.start_at, booking.end_at))
