"""Calendar files (.ics, RFC 5545) for a client's booking, and an "add to Google Calendar" link."""

from __future__ import annotations

from datetime import timezone
from urllib.parse import urlencode, urlsplit

from icalendar import Calendar, Event

from ..timezones import utc_now

PRODID = "-//Booking widget//EN"


def booking_ics(booking, service_name: str, studio, manage_url: str, cancelled: bool = False) -> bytes:
    """Return the .ics for a booking: PUBLISH while it stands, CANCEL once cancelled."""
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("method", "CANCEL" if cancelled else "PUBLISH")
    event = Event()
    # One UID for the booking's whole life: calendars replace the event on
    # each new SEQUENCE instead of adding another.
    event.add("uid", f"{booking.id}@{urlsplit(manage_url).hostname or 'booking'}")
    event.add("sequence", booking.sequence)
    event.add("dtstamp", utc_now())
    event.add("dtstart", booking.start_at.astimezone(timezone.utc))
    event.add("dtend", booking.end_at.astimezone(timezone.utc))
    event.add("summary", f"{service_name} at {studio.name}")
    event.add("location", studio.address)
    event.add("description", f"Change or cancel: {manage_url}\nPhone: {studio.phone}")
    event.add("url", manage_url)
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    calendar.add_component(event)
    return calendar.to_ical()


def google_calendar_link(booking, service_name: str, studio, manage_url: str) -> str:
    """Return a link that opens Google Calendar with the appointment filled in."""
    stamp = "%Y%m%dT%H%M%SZ"
    dates = f"{booking.start_at.astimezone(timezone.utc):{stamp}}/{booking.end_at.astimezone(timezone.utc):{stamp}}"
    query = urlencode(
        {
            "action": "TEMPLATE",
            "text": f"{service_name} at {studio.name}",
            "dates": dates,
            "location": studio.address,
            "details": f"Change or cancel: {manage_url}",
        }
    )
    return f"https://calendar.google.com/calendar/render?{query}"
