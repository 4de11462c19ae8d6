"""Free times as the widget shows them, worked out once per change and kept.

For each service and zone asked, the cache keeps one entry: every studio
day's free starts, with its slots already written as JSON in that zone,
under the calendar version (see ``widget.cache``); a read fetches it with
the version in one round trip.  Anything that changes busy time
bumps the version: a booking made, cancelled or moved and blocked time (any
commit that changes a booking's times or status, or a local calendar event;
see ``_note_changes``), and every change learnt from Google.  What depends on
the clock (the past, minimum notice, the horizon) is applied on every read,
by cutting each day's sorted starts, so a warm read works nothing out and
formats nothing.

Above that, each process keeps the last answers it gave (the /api/slots
JSON, the day grid, the times page) with what they depend on: the calendar
version, the first start they show (they hold until the minimum notice
passes it), the next midnight and the age of the free times behind them.  A
repeated read then costs one look at the version (see ``kept``).
"""

from __future__ import annotations

import bisect
import hashlib
import json
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import TypeVar

from flask import current_app, has_app_context
from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

from .. import cache, calendars
from ..models import Booking, CalendarEvent
from ..timezones import day_start, days_range, utc_now
from . import availability, bookings, business
from .availability import Service, Slot

# Booking columns whose change frees or takes time.
_TIME_COLUMNS = ("status", "blocked_start", "blocked_end", "start_at")


def _changes_time(obj) -> bool:
    if isinstance(obj, CalendarEvent):
        return True
    if not isinstance(obj, Booking):
        return False
    state = inspect(obj)
    return state.pending or state.deleted or any(state.attrs[c].history.has_changes() for c in _TIME_COLUMNS)


def _note_changes(session, _context) -> None:
    """Remember that this transaction changes busy time (called after each flush).

    Without Redis the version lives in the database: it is bumped once, in
    this same transaction, so the change and the bump commit together and
    every process's next read sees both.
    """
    if session.info.get("calendar_changed") or not any(
        _changes_time(obj) for obj in (*session.new, *session.dirty, *session.deleted)
    ):
        return
    session.info["calendar_changed"] = True
    if has_app_context() and cache.version_in_database():
        cache.bump_version_in(session.connection())
        session.info["version_bumped"] = True


def _bump_after_commit(session) -> None:
    changed = session.info.pop("calendar_changed", False)
    if changed and not session.info.pop("version_bumped", False) and has_app_context():
        cache.calendar_changed()


def _forget_changes(session) -> None:
    session.info.pop("calendar_changed", None)
    session.info.pop("version_bumped", None)


_listening = False


def init_app(app) -> None:
    """Bump the calendar version after every commit that changes busy time."""
    global _listening
    if not _listening:
        # On the Session class: it covers every session of every app in the process.
        event.listen(Session, "after_flush", _note_changes)
        event.listen(Session, "after_commit", _bump_after_commit)
        event.listen(Session, "after_soft_rollback", lambda session, _previous: _forget_changes(session))
        _listening = True


def _seconds() -> int:
    """Return how long an entry is kept (no longer than Google's free/busy answers are trusted)."""
    seconds = current_app.config["SLOTS_CACHE_SECONDS"]
    if calendars.current().name != "local":
        seconds = min(seconds, current_app.config["FREEBUSY_CACHE_SECONDS"])
    return seconds


def _fingerprint() -> str:
    """Return a short digest of the business rules and the database: entries made for others are never read."""
    found = current_app.extensions.get("free-times-fingerprint")
    if found is None:
        # The database too: two studios may share one Redis.
        seen = repr(business.current()) + current_app.config["SQLALCHEMY_DATABASE_URI"]
        found = hashlib.sha256(seen.encode()).hexdigest()[:12]
        current_app.extensions["free-times-fingerprint"] = found
    return found


def _margin() -> timedelta:
    """Return how far outside a day busy time can bear on its slots (the longest buffer and service)."""
    services = business.current().services.values()
    return max((s.buffer_before + s.buffer_after + s.duration for s in services), default=timedelta(0)) + timedelta(
        hours=1
    )


def _work_out(service: Service, days: list[date], zone, now: datetime) -> dict[date, tuple[list[int], list[str]]]:
    """Return the free starts and their JSON of each day, asking the database and the calendar once."""
    rules = business.current().rules
    margin = _margin()
    # Bounded below by now: busy time before it cannot touch a slot still to come.
    lo = max(day_start(days[0], rules.timezone), now) - margin
    hi = day_start(days[-1] + timedelta(days=1), rules.timezone) + margin
    busy, booked = bookings.booked_intervals(lo, hi)
    busy.extend(calendars.current().busy(lo, hi))
    length = int(service.duration.total_seconds())
    found = {}
    for day in days:
        starts = availability.day_starts(rules, service, day, busy, booked)
        moments = [
            (datetime.fromtimestamp(s, zone).isoformat(timespec="seconds"), datetime.fromtimestamp(s + length, zone))
            for s in starts
        ]
        items = [f'{{"start":"{a}","end":"{b.isoformat(timespec="seconds")}"}}' for a, b in moments]
        found[day] = (starts, items)
    return found


def _days(service: Service, start: datetime, end: datetime, zone) -> list[tuple[list[int], list[str], float]]:
    """Return the free starts, their JSON and when they were worked out, of each bookable studio day in [start, end)."""
    rules = business.current().rules
    now = utc_now()
    first = max(start.astimezone(rules.timezone).date(), now.astimezone(rules.timezone).date())
    last_asked = (end - timedelta(microseconds=1)).astimezone(rules.timezone).date()
    last = min(last_asked, availability.last_bookable_day(rules, now))
    if first > last:
        return []
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    if calendars.current().status() != "ok":
        # Kept answers would hide that booking is paused.
        raise calendars.CalendarUnavailable("the calendar is not connected")
    seconds = _seconds()
    moment = time.time()
    if seconds <= 0:
        found = _work_out(service, days, zone, now)
        return [(*found[day], moment) for day in days]
    # One entry per service and zone: [version, {day: [worked out at, starts, items]}], read with the
    # version in one round trip.  Made under an older version, it is out of date as a whole; a day
    # older than ``seconds`` is worked out again (with Google, its free/busy answer may have expired).
    key = f"slots:{_fingerprint()}:{service.id}:{zone.key}"
    version, [raw] = cache.versioned([key])
    kept = {}
    if version >= 0 and raw is not None:
        entry = json.loads(raw)
        if entry[0] == version:
            kept = entry[1]
    entries = []
    missing = []
    for day in days:
        found = kept.get(day.isoformat())
        if found is None or moment - found[0] > seconds:
            missing.append(day)
            entries.append(None)
        else:
            entries.append((found[1], found[2], found[0]))
    if missing:
        found = _work_out(service, missing, zone, now)
        if version >= 0:
            for day in missing:
                kept[day.isoformat()] = [moment, *found[day]]
            # Days no longer bookable are left out, so the entry never grows past the horizon.
            today = now.astimezone(rules.timezone).date().isoformat()
            kept = {day: value for day, value in kept.items() if day >= today}
            cache.set_many({key: json.dumps([version, kept])}, seconds)
        entries = [
            entry if entry is not None else (*found[day], moment) for day, entry in zip(days, entries, strict=True)
        ]
    return entries


class Reading:
    """What an answer read from the free times, so that it can be kept exactly as long as it is right.

    ``first_start``: the earliest start it shows (epoch seconds); once the
    minimum notice passes it, the answer would lose that slot.  ``worked_out``:
    when the oldest free times it used were worked out.
    """

    __slots__ = ("first_start", "worked_out")

    def __init__(self):
        self.first_start = math.inf
        self.worked_out = math.inf


def _cut(service: Service, start: datetime, end: datetime, zone, reading: Reading | None = None):
    """Yield (starts, JSON items) of each day, cut to what may be booked now in [start, end)."""
    lo = max(int(start.timestamp()), availability.bookable_from(business.current().rules, utc_now()))
    hi = int(end.timestamp())
    for starts, items, worked_out in _days(service, start, end, zone):
        a, b = bisect.bisect_left(starts, lo), bisect.bisect_left(starts, hi)
        if reading is not None:
            reading.worked_out = min(reading.worked_out, worked_out)
            if a < b:
                reading.first_start = min(reading.first_start, starts[a])
        if a < b:
            yield starts[a:b], items[a:b]


def slots_json(service: Service, start: datetime, end: datetime, zone, reading: Reading | None = None) -> str:
    """Return the /api/slots answer for slots starting in [start, end), as JSON text."""
    items = ",".join(",".join(found) for _, found in _cut(service, start, end, zone, reading))
    return f'{{"service":{json.dumps(service.id)},"slots":[{items}],"timezone":{json.dumps(zone.key)}}}'


def free_slots(service: Service, start: datetime, end: datetime, zone, reading: Reading | None = None) -> list[Slot]:
    """Return the free slots starting in [start, end), shown in ``zone``."""
    length = service.duration
    return [
        Slot(moment, moment + length)
        for starts, _ in _cut(service, start, end, zone, reading)
        for moment in (datetime.fromtimestamp(s, zone) for s in starts)
    ]


def free_days(service: Service, first_day: date, days: int, zone, reading: Reading | None = None) -> dict[date, int]:
    """Return how many free slots each of ``days`` days from ``first_day`` has in ``zone``, formatting none."""
    start, end = days_range(first_day, first_day + timedelta(days=days - 1), zone)
    bounds = [int(day_start(first_day + timedelta(days=i), zone).timestamp()) for i in range(days + 1)]
    counts = [0] * days
    for starts, _ in _cut(service, start, end, zone, reading):
        for i in range(days):
            counts[i] += bisect.bisect_left(starts, bounds[i + 1]) - bisect.bisect_left(starts, bounds[i])
    return {first_day + timedelta(days=i): counts[i] for i in range(days)}


# Answers kept per process: enough for every service in a few zones and pages, small enough never to matter.
ANSWERS_KEPT = 512

T = TypeVar("T")


class _Answer:
    __slots__ = ("value", "version", "first_start", "until", "expires")

    def __init__(self, value, version: int, first_start: float, until: float, expires: float):
        self.value, self.version, self.first_start = value, version, first_start
        self.until, self.expires = until, expires


class _Answers:
    """The last answers this process gave, least recently used dropped first."""

    def __init__(self):
        self._entries: OrderedDict[tuple, _Answer] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple) -> _Answer | None:
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
            return found

    def put(self, key: tuple, answer: _Answer) -> None:
        with self._lock:
            self._entries[key] = answer
            self._entries.move_to_end(key)
            while len(self._entries) > ANSWERS_KEPT:
                self._entries.popitem(last=False)


def kept(key: tuple, zone, answer: Callable[[Reading], T]) -> T:
    """Return ``answer(reading)``, or the same answer given earlier by this process while it is still right.

    ``key`` names everything the answer depends on besides busy time and the
    clock (the page, the service, the zone, the query); ``zone`` is the zone
    whose day it shows.  It is given again unchanged while the calendar
    version is the same, the minimum notice has not reached its first start,
    neither the studio's nor ``zone``'s day has ended, and the free times
    behind it are younger than the cache keeps them.  One round trip for the
    version is all a kept answer costs; with the cache off it is never kept.
    """
    if calendars.current().status() != "ok":
        raise calendars.CalendarUnavailable("the calendar is not connected")
    seconds = _seconds()
    if seconds <= 0:
        return answer(Reading())
    answers = current_app.extensions.get("free-times-answers")
    if answers is None:
        answers = current_app.extensions["free-times-answers"] = _Answers()
    version, _ = cache.versioned([])
    now = utc_now()
    found = answers.get(key)
    if (
        found is not None
        and version >= 0
        and found.version == version
        and now.timestamp() < found.until
        and time.time() < found.expires
        and availability.bookable_from(business.current().rules, now) <= found.first_start
    ):
        return found.value
    reading = Reading()
    value = answer(reading)
    if version >= 0:
        studio_zone = business.current().rules.timezone
        # Each day ends at its next midnight: "today", the horizon and the pages' links move on then.
        until = min(day_start(now.astimezone(z).date() + timedelta(days=1), z).timestamp() for z in (studio_zone, zone))
        expires = min(reading.worked_out, time.time()) + seconds
        answers.put(key, _Answer(value, version, reading.first_start, until, expires))
    return value
