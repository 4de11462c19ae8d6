"""The calendar the therapist works from, behind one small interface.

A backend answers, in our own terms:

* ``busy(start, end, fresh=False)``: the intervals already taken in that
  range (``fresh``: ask the source now, not a recent copy);
* ``write_event(event)``: create the event with our id, or move it if it exists;
* ``delete_event(event_id)``: remove it (an event that is already gone is fine);
* ``status()``: "ok", or a short word for what is wrong, for /healthz.

``local`` keeps events in our own database; ``google`` talks to Google
Calendar and raises ``CalendarUnavailable`` while it is not connected.
``current()`` returns the app's backend (chosen by backends.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from flask import current_app

from ..timezones import Interval


@dataclass(frozen=True)
class Event:
    """An event we put on the therapist's calendar."""

    id: str
    start: datetime
    end: datetime
    summary: str
    timezone: str  # the studio's zone: the calendar shows the event in it
    description: str = ""
    booking_id: str | None = None
    private: bool = False  # only the therapist sees it, even where her calendar is shared


class CalendarUnavailable(Exception):
    """The calendar cannot be used now (not connected, or the connection was lost)."""


class Calendar(Protocol):
    """What every calendar backend provides."""

    name: str

    def busy(self, start: datetime, end: datetime, fresh: bool = False) -> list[Interval]: ...

    def write_event(self, event: Event) -> None: ...

    def delete_event(self, event_id: str) -> None: ...

    def status(self) -> str: ...


def current() -> Calendar:
    """Return the calendar backend of the running app."""
    return current_app.extensions["calendar"]
