"""A slow, obviously correct model of which appointment starts are bookable.

It is written from the rules in the docstring of ``widget.booking.availability`` and
deliberately shares none of its code: it walks every whole minute of a range in
UTC and asks each rule of every instant in turn.  Only the data classes are
borrowed, because they are the interface under test.

All arithmetic is done on UTC datetimes.  Aware datetimes that share a tzinfo
compare and subtract by wall clock in Python, which is exactly the mistake a
reference must not make around a clock change.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date, datetime, timedelta, timezone

from widget.booking.availability import Rules, Service

UTC = timezone.utc
MINUTE = timedelta(minutes=1)


def to_utc(moment: datetime) -> datetime:
    """Return an aware datetime as the same instant in UTC."""
    if moment.tzinfo is None:
        raise ValueError("naive datetimes have no instant")
    return moment.astimezone(UTC)


def local_day(moment: datetime, rules: Rules) -> date:
    """Return the studio's calendar day at an instant."""
    return moment.astimezone(rules.timezone).date()


def windows_in_utc(rules: Rules, day: date) -> list[tuple[datetime, datetime]]:
    """Return a studio day's opening windows as UTC (open, close) pairs."""
    # An override replaces the weekday's hours, even when it is empty (closed).
    windows = rules.date_overrides[day] if day in rules.date_overrides else rules.opening_hours.get(day.weekday(), ())
    # datetime.combine leaves fold=0: first occurrence of a repeated wall time,
    # PEP 495's reading of one skipped by the spring change.
    return [
        (
            to_utc(datetime.combine(day, window.start, tzinfo=rules.timezone)),
            to_utc(datetime.combine(day, window.end, tzinfo=rules.timezone)),
        )
        for window in windows
    ]


def is_bookable(
    rules: Rules,
    service: Service,
    instant: datetime,
    now: datetime,
    busy: Iterable[tuple[datetime, datetime]] = (),
    booked: Iterable[datetime] = (),
) -> bool:
    """Return whether an appointment may start at ``instant``, rule by rule."""
    instant, now = to_utc(instant), to_utc(now)

    # Not in the past, and not inside the minimum notice (both real time).
    if instant < now:
        return False
    if instant < now + rules.minimum_notice:
        return False

    # The horizon counts studio calendar days.
    day = local_day(instant, rules)
    if day > local_day(now, rules) + timedelta(days=rules.horizon_days):
        return False

    # The appointment [start, start + duration] lies inside one window, and the
    # start is a whole number of steps after that window's opening.
    end = instant + service.duration
    on_grid_in_a_window = False
    for opens, closes in windows_in_utc(rules, day):
        inside = opens <= instant and end <= closes
        if inside and (instant - opens) % rules.slot_step == timedelta(0):
            on_grid_in_a_window = True
    if not on_grid_in_a_window:
        return False

    # A full day offers nothing.
    if rules.daily_limit is not None:
        starts_that_day = sum(1 for start in booked if local_day(start, rules) == day)
        if starts_that_day >= rules.daily_limit:
            return False

    # The blocked range [start - before, end + after) meets no busy interval.
    blocked_from = instant - service.buffer_before
    blocked_to = end + service.buffer_after
    return not any(blocked_from < to_utc(busy_to) and to_utc(busy_from) < blocked_to for busy_from, busy_to in busy)


def minutes(start: datetime, end: datetime) -> Iterator[datetime]:
    """Yield every whole UTC minute in ``[start, end)``."""
    moment = to_utc(start)
    if moment.second or moment.microsecond:
        moment = moment.replace(second=0, microsecond=0) + MINUTE
    end = to_utc(end)
    while moment < end:
        yield moment
        moment += MINUTE


def reference_slots(
    rules: Rules,
    service: Service,
    start: datetime,
    end: datetime,
    now: datetime,
    busy: Iterable[tuple[datetime, datetime]] = (),
    booked: Iterable[datetime] = (),
) -> list[datetime]:
    """Return every bookable whole-minute start in ``[start, end)``, in UTC."""
    busy, booked = list(busy), list(booked)
    return [moment for moment in minutes(start, end) if is_bookable(rules, service, moment, now, busy, booked)]
