"""Work out which appointment times are free.

Everything here is pure: the studio's rules, the busy time and the clock come in
as arguments, slots go out. Nothing reads a database, a calendar or the time.

Time rules, in one place:

* Opening hours and date overrides are wall-clock times in the studio's zone.
  A wall time that occurs twice (the autumn change) means its first occurrence;
  one that does not exist (the spring change) means the instant the clock would
  show had it not jumped, which is how PEP 495 resolves ``fold=0``.
* Slots start at the opening of a window and follow each other every
  ``slot_step`` of real elapsed time, and an appointment lasts its real duration.
  A window that spans a change is therefore an hour shorter or longer, exactly
  as the therapist experiences it.
* The appointment itself must lie within an opening window; its buffers (set-up
  before, clean-up after) need not, but they must not touch busy time.
* Minimum notice and "not in the past" are measured in real time; the horizon
  and the daily limit count the studio's calendar days.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from decimal import Decimal
from zoneinfo import ZoneInfo

from ..timezones import Interval


@dataclass(frozen=True)
class Window:
    """One stretch of opening hours on a day, in wall-clock time."""

    start: time
    end: time

    def __post_init__(self):
        if self.end <= self.start:
            raise ValueError(f"window ends ({self.end}) before it starts ({self.start})")


@dataclass(frozen=True)
class Service:
    """Something a client can book."""

    id: str
    name: str
    duration: timedelta
    price: Decimal = Decimal(0)
    description: str = ""
    buffer_before: timedelta = timedelta(0)
    buffer_after: timedelta = timedelta(0)

    def blocked_range(self, start: datetime) -> Interval:
        """Return the time an appointment starting at ``start`` keeps from others."""
        return start - self.buffer_before, start + self.duration + self.buffer_after


@dataclass(frozen=True)
class Rules:
    """The studio's booking rules."""

    timezone: ZoneInfo
    opening_hours: Mapping[int, Sequence[Window]]  # weekday (Monday = 0) -> windows
    date_overrides: Mapping[date, Sequence[Window]] = field(default_factory=dict)  # () = closed
    slot_step: timedelta = timedelta(minutes=15)
    minimum_notice: timedelta = timedelta(0)
    horizon_days: int = 60
    daily_limit: int | None = None

    def windows_on(self, day: date) -> Sequence[Window]:
        """Return the opening windows of one studio day, overrides first."""
        if day in self.date_overrides:
            return self.date_overrides[day]
        return self.opening_hours.get(day.weekday(), ())


@dataclass(frozen=True)
class Slot:
    """A bookable appointment time."""

    start: datetime
    end: datetime


# Why a given start time cannot be booked.  The values are stable codes that
# views turn into messages; BUSY alone means "taken", the rest mean "invalid".
PAST = "past"
NOTICE = "notice"
HORIZON = "horizon"
CLOSED = "closed"
OFF_STEP = "off_step"
FULL = "full"
BUSY = "busy"


def wall_time(day: date, at: time, zone: tzinfo) -> datetime:
    """Return the instant a wall-clock time on a day names in a zone, in UTC."""
    return datetime.combine(day, at, tzinfo=zone).astimezone(timezone.utc)


def opening_windows(rules: Rules, day: date) -> list[Interval]:
    """Return the opening windows of a studio day as UTC instants, in order."""
    found = []
    for window in rules.windows_on(day):
        start = wall_time(day, window.start, rules.timezone)
        end = wall_time(day, window.end, rules.timezone)
        if end > start:
            found.append((start, end))
    found.sort()
    return found


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    """Return the union of intervals as a sorted list of disjoint intervals."""
    merged: list[list[datetime]] = []
    for start, end in sorted(intervals):
        if end <= start:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(start, end) for start, end in merged]


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(timezone.utc)


def _studio_day(moment: datetime, rules: Rules) -> date:
    return moment.astimezone(rules.timezone).date()


def _bookings_per_day(booked: Iterable[datetime], rules: Rules) -> Counter:
    return Counter(_studio_day(start, rules) for start in booked)


def available_slots(
    rules: Rules,
    service: Service,
    start: datetime,
    end: datetime,
    now: datetime,
    busy: Iterable[Interval] = (),
    booked: Iterable[datetime] = (),
    zone: tzinfo | None = None,
) -> list[Slot]:
    """Return the free slots for a service that start in ``[start, end)``.

    ``busy`` is every interval already taken (an existing booking's interval
    includes its buffers); ``booked`` is the start of every confirmed booking,
    counted against the daily limit.  Slots are expressed in ``zone`` (default:
    the studio's).
    """
    zone = zone or rules.timezone
    # Arithmetic on datetimes in a ZoneInfo zone is wall-clock arithmetic;
    # in UTC it is real time, which is what durations and notice mean.
    start, end, now = _utc(start), _utc(end), _utc(now)
    busy = [(_utc(b0), _utc(b1)) for b0, b1 in busy]
    earliest = max(start, now + rules.minimum_notice, now)
    today = _studio_day(now, rules)
    first_day = max(_studio_day(earliest, rules), today)
    last_day = min(_studio_day(end, rules), today + timedelta(days=rules.horizon_days))
    if first_day > last_day:
        return []

    # Integer seconds keep the inner loop cheap: sixty days is a few thousand
    # candidate starts, checked against busy time with one forward-moving index.
    busy_spans = [(int(b0.timestamp()), int(b1.timestamp())) for b0, b1 in merge(busy)]
    busy_ends = [b1 for _, b1 in busy_spans]
    per_day = _bookings_per_day(booked, rules)
    duration = int(service.duration.total_seconds())
    before = int(service.buffer_before.total_seconds())
    after = int(service.buffer_after.total_seconds())
    lo, hi = int(earliest.timestamp()), int(end.timestamp())
    # A start before the first whole second of ``earliest`` is not allowed.
    if earliest.timestamp() > lo:
        lo += 1

    found: list[Slot] = []
    day = first_day
    while day <= last_day:
        if rules.daily_limit is None or per_day[day] < rules.daily_limit:
            found.extend(
                Slot(datetime.fromtimestamp(s, zone), datetime.fromtimestamp(s + duration, zone))
                for s in _starts_on(rules, day, busy_spans, busy_ends, (duration, before, after), lo, hi)
            )
        day += timedelta(days=1)
    return found


def _starts_on(rules: Rules, day: date, busy_spans, busy_ends, lengths, lo: int, hi: int) -> list[int]:
    """Return the free starts (epoch seconds) of one studio day within [lo, hi), in order."""
    duration, before, after = lengths
    step = int(rules.slot_step.total_seconds())
    # Two windows can overlap in real time when one ends inside a spring
    # gap, so a day's starts are collected, then de-duplicated in order.
    starts: set[int] = set()
    for w0, w1 in opening_windows(rules, day):
        open_s, close_s = int(w0.timestamp()), int(w1.timestamp())
        first = open_s
        if first < lo:
            first += -(-(lo - first) // step) * step
        i = bisect.bisect_right(busy_ends, first - before)
        s = first
        while s + duration <= close_s and s < hi:
            while i < len(busy_spans) and busy_ends[i] <= s - before:
                i += 1
            if i < len(busy_spans) and busy_spans[i][0] < s + duration + after:
                s += step
                continue
            starts.add(s)
            s += step
    return sorted(starts)


def day_starts(
    rules: Rules, service: Service, day: date, busy: Iterable[Interval] = (), booked: Iterable[datetime] = ()
) -> list[int]:
    """Return every free start (epoch seconds) of a service on one studio day, whatever the time now.

    What depends on the clock (the past, minimum notice, the horizon) is left
    to the caller, which filters these with ``bookable_from`` and
    ``last_bookable_day``: the answer stays right while busy time is unchanged.
    """
    if rules.daily_limit is not None and _bookings_per_day(booked, rules)[day] >= rules.daily_limit:
        return []
    busy_spans = [(int(b0.timestamp()), int(b1.timestamp())) for b0, b1 in merge((_utc(a), _utc(b)) for a, b in busy)]
    busy_ends = [b1 for _, b1 in busy_spans]
    lengths = tuple(int(d.total_seconds()) for d in (service.duration, service.buffer_before, service.buffer_after))
    return _starts_on(rules, day, busy_spans, busy_ends, lengths, -(2**62), 2**62)


def bookable_from(rules: Rules, now: datetime) -> int:
    """Return the first epoch second a slot may start at, now (not past, minimum notice given)."""
    earliest = _utc(now) + rules.minimum_notice
    lo = int(earliest.timestamp())
    return lo + 1 if earliest.timestamp() > lo else lo


def last_bookable_day(rules: Rules, now: datetime) -> date:
    """Return the last studio day that may be booked, now (the horizon)."""
    return _studio_day(now, rules) + timedelta(days=rules.horizon_days)


def slot_problem(
    rules: Rules,
    service: Service,
    start: datetime,
    now: datetime,
    busy: Iterable[Interval] = (),
    booked: Iterable[datetime] = (),
) -> str | None:
    """Return why ``start`` cannot be booked for a service, or None if it can."""
    start, now = _utc(start), _utc(now)
    busy = [(_utc(b0), _utc(b1)) for b0, b1 in busy]
    if start < now:
        return PAST
    if start < now + rules.minimum_notice:
        return NOTICE
    day = _studio_day(start, rules)
    if day > _studio_day(now, rules) + timedelta(days=rules.horizon_days):
        return HORIZON
    end = start + service.duration
    openings = [w0 for w0, w1 in opening_windows(rules, day) if w0 <= start and end <= w1]
    if not openings:
        return CLOSED
    if all((start - opening) % rules.slot_step for opening in openings):
        return OFF_STEP
    if rules.daily_limit is not None and _bookings_per_day(booked, rules)[day] >= rules.daily_limit:
        return FULL
    b0, b1 = service.blocked_range(start)
    if any(s < b1 and b0 < e for s, e in busy if s < e):
        return BUSY
    return None
