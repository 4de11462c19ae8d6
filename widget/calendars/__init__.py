"""The calendar the therapist works from, behind one small interface.

A backend answers, in our own terms:

* ``busy(start, end, fresh=False)``: the intervals already taken in that
  range (``fresh``: ask the source now, not a recent copy);
* ``write_event(event)``: create the event with our id, or move it if it exists;
* ``delete_event(event_id, when=None)``: remove it (an event that is already gone
  is fine); ``when``, the event's times if known, lets a cache drop only those days;
* ``forget_busy(intervals=None)``: busy time changed in these intervals (None:
  anywhere), so answers worked out from it are out of date;
* ``status()``: "ok", or a short word for what is wrong, for /healthz;
* ``watched()``: the ids of the calendars whose changes matter (the busy ones
  and the one bookings are written to);
* ``changes(calendar_id, sync_token, start, end)``: what changed in one
  calendar since ``sync_token`` (``Changes``); without a token, or when the
  token is no longer accepted, every event of [start, end) instead.

``local`` keeps events in our own database; ``google`` talks to Google
Calendar and raises ``CalendarUnavailable`` while it is not connected.
``current()`` returns the app's backend (chosen by backends.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
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


@dataclass(frozen=True)
class Change:
    """One event as a calendar reports it after it changed.

    ``booking_id`` is set when the event says it is a booking's (ours);
    ``start`` and ``end`` may be missing on a cancelled event; ``version``
    is whatever the calendar uses to tell two versions of an event apart.
    """

    calendar_id: str
    event_id: str
    cancelled: bool
    start: datetime | None = None
    end: datetime | None = None
    booking_id: str | None = None
    version: str = ""


@dataclass(frozen=True)
class Changes:
    """What ``changes`` found: the events, the token to ask from next time, and whether it listed everything."""

    events: list[Change] = field(default_factory=list)
    sync_token: str | None = None
    full: bool = False


class CalendarUnavailable(Exception):
    """The calendar cannot be used now (not connected, or the connection was lost)."""


class Calendar(Protocol):
    """What every calendar backend provides."""

    name: str

    def busy(self, start: datetime, end: datetime, fresh: bool = False) -> list[Interval]: ...

    def write_event(self, event: Event) -> None: ...

    def delete_event(self, event_id: str, when: Interval | None = None) -> None: ...

    def forget_busy(self, intervals: list[Interval] | None = None) -> None: ...

    def status(self) -> str: ...

    def watched(self) -> list[str]: ...

    def changes(self, calendar_id: str, sync_token: str | None, start: datetime, end: datetime) -> Changes: ...


def current() -> Calendar:
    """Return the calendar backend of the running app."""
    return current_app.extensions["calendar"]
