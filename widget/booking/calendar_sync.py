"""Keeping the therapist's calendar in step with the bookings, through the outbox."""

from __future__ import annotations

from .. import calendars
from ..calendars import Event
from ..extensions import begin_writing, db
from ..models import Booking, BookingStatus
from . import business
from .links import manage_url


def calendar_event(booking: Booking) -> Event:
    """Return the calendar event that shows a booking to the therapist."""
    service = business.current().services.get(booking.service_id)
    service_name = service.name if service else booking.service_id
    # The therapist's calendar gets what she needs to run the appointment, no more.
    description = f"Phone: {booking.phone}"
    if booking.notes:
        description += f"\nNotes: {booking.notes}"
    description += f"\nBooking: {manage_url(booking)}"
    return Event(
        id=booking.id,
        start=booking.start_at,
        end=booking.end_at,
        summary=f"{service_name} — {booking.name}",
        timezone=business.current().studio.timezone,
        description=description,
        booking_id=booking.id,
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
    if payload["action"] == "write" and booking.status == BookingStatus.CONFIRMED:
        event = calendar_event(booking)
        calendar.write_event(event)
        if booking.calendar_event_id != event.id:
            begin_writing()
            booking = db.session.get(Booking, payload["booking"])
            booking.calendar_event_id = event.id
            db.session.commit()
    elif payload["action"] == "delete" or booking.status == BookingStatus.CANCELLED:
        calendar.delete_event(booking.calendar_event_id or booking.id)
