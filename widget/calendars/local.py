"""The embedded calendar: events kept in our own database.

It is the default when no outside calendar is connected, so a fresh checkout
books real appointments with no account anywhere.  Blocked time the therapist
enters in the admin lives here too.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, select

from .. import cache
from ..extensions import begin_writing, db
from ..models import CalendarEvent
from ..timezones import Interval
from . import Changes, Event

# Built once: making and fingerprinting the statement costs more than running it.
_BUSY = select(CalendarEvent.start_at, CalendarEvent.end_at).where(
    # Bounded by the end column too: ix_calendar_events_end then walks only the events still to end, never
    # the history.
    CalendarEvent.end_at > bindparam("lo"),
    CalendarEvent.start_at < bindparam("hi"),
)


class LocalCalendar:
    """A calendar stored in the service's database."""

    name = "local"

    def busy(self, start: datetime, end: datetime, fresh: bool = False) -> list[Interval]:
        """Return the events overlapping [start, end) (always fresh: they are in our database)."""
        rows = db.session.execute(_BUSY, {"lo": start, "hi": end})
        return [(row.start_at, row.end_at) for row in rows]

    def write_event(self, event: Event) -> None:
        """Create the event, or move and rename it if it exists."""
        begin_writing()
        row = db.session.get(CalendarEvent, event.id) or CalendarEvent(id=event.id)
        row.start_at, row.end_at = event.start, event.end
        row.summary, row.description, row.booking_id = event.summary, event.description, event.booking_id
        db.session.add(row)
        db.session.commit()

    def delete_event(self, event_id: str, when: Interval | None = None) -> None:
        """Remove the event; one that is already gone is not an error."""
        begin_writing()
        row = db.session.get(CalendarEvent, event_id)
        if row is not None:
            db.session.delete(row)
            db.session.commit()

    def forget_busy(self, intervals: list[Interval] | None = None) -> None:
        """Say busy time changed (every change to the events here already says so when it commits)."""
        cache.calendar_changed()

    def status(self) -> str:
        """Return "ok": the local calendar is the database itself."""
        return "ok"

    def watched(self) -> list[str]:
        """Return no calendars: every change here is made through the service, which knows it already."""
        return []

    def changes(self, calendar_id: str, sync_token: str | None, start: datetime, end: datetime) -> Changes:
        """Return no changes (see ``watched``)."""
        return Changes(full=sync_token is None)

    def events(self, start: datetime, end: datetime) -> list[CalendarEvent]:
        """Return the events overlapping [start, end), earliest first, for the admin."""
        return list(
            db.session.scalars(
                select(CalendarEvent)
                .where(CalendarEvent.start_at < end, CalendarEvent.end_at > start)
                .order_by(CalendarEvent.start_at)
            )
        )
