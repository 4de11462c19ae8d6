"""The calendar the therapist works from, behind one small interface.

A backend answers, in our own terms:

* ``busy(start, end)``: the intervals already taken in that range;
* ``write_event(event)``: create the event with our id, or move it if it exists;
* ``delete_event(event_id)``: remove it (an event that is already gone is fine);
* ``status()``: "ok", or a short word for what is wrong, for /healthz.

``local`` keeps events in our own database; ``google`` (a later addition)
talks to Google Calendar.  ``current()`` returns the app's backend.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from flask import current_app

from ..availability import Interval


@dataclass(frozen=True)
class Event:
    """An event we put on the therapist's calendar."""

    id: str
    start: datetime
    end: datetime
    summary: str
    description: str = ""
    booking_id: str | None = None


class Calendar(Protocol):
    """What every calendar backend provides."""

    name: str

    def busy(self, start: datetime, end: datetime) -> list[Interval]: ...

    def write_event(self, event: Event) -> None: ...

    def delete_event(self, event_id: str) -> None: ...

    def status(self) -> str: ...


def init_app(app) -> None:
    """Create the configured backend and keep it on the app."""
    from .local import LocalCalendar

    backends = {"local": LocalCalendar}
    name = app.config["CALENDAR_BACKEND"]
    if name not in backends:
        raise RuntimeError(f"setting CALENDAR_BACKEND: the {name!r} backend is not available in this version")
    app.extensions["calendar"] = backends[name]()


def current() -> Calendar:
    """Return the calendar backend of the running app."""
    return current_app.extensions["calendar"]
