"""Time zones: naming, parsing and showing instants to people.

With ``booking/availability.py`` this is the only place that converts between zones.
Storage is UTC; everything a person sees is in a zone they chose.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

# A range of time [start, end), both aware: busy time, blocked time.
Interval = tuple[datetime, datetime]


@lru_cache(maxsize=512)
def zone_named(name: str) -> ZoneInfo:
    """Return the IANA zone called ``name``; ValueError if there is none."""
    if not name or len(name) > 64 or name.startswith(("/", ".")) or ".." in name:
        raise ValueError(f"{name!r} is not an IANA time zone name")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(f"{name!r} is not an IANA time zone name") from None


def viewer_zone(asked: str | None, fallback: str) -> tuple[str, ZoneInfo, str | None]:
    """Return (name, zone) of the zone a viewer asked for, else of ``fallback``, and the asked name if it is unknown.

    Pages carry the viewer's zone in their ``tz`` value; an empty one means
    ``fallback`` (the studio's zone, or the zone a booking was made in).
    """
    name = asked or fallback
    try:
        return name, zone_named(name), None
    except ValueError:
        return fallback, zone_named(fallback), name


@lru_cache(maxsize=1)
def zone_names() -> list[str]:
    """Return the IANA zone names people pick from, sorted."""
    return sorted(name for name in available_timezones() if "/" in name and not name.startswith(("Etc/", "SystemV/")))


def utc_now() -> datetime:
    """Return the current instant, aware, in UTC, from the app's clock when it has one."""
    # The clock is a seam for tests and demos that need a fixed "now" (a
    # callable in app.extensions["clock"]); in production it is never set.
    # Imported here: the pure modules (availability) use this one and load without Flask.
    from flask import current_app, has_app_context

    if has_app_context() and "clock" in current_app.extensions:
        return current_app.extensions["clock"]()
    return datetime.now(timezone.utc)


def day_start(day: date, zone: ZoneInfo) -> datetime:
    """Return the first instant of a calendar day in a zone, in UTC."""
    # Midnight can be skipped by a change (some zones change at 00:00); the
    # first instant of the day is then the earliest wall time that exists.
    start = datetime.combine(day, time(0), tzinfo=zone)
    as_utc = start.astimezone(timezone.utc)
    if as_utc.astimezone(zone).date() != day:
        as_utc += timedelta(hours=1)
    return as_utc


def days_range(first: date, last: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """Return the UTC instants bounding the calendar days first..last in a zone."""
    return day_start(first, zone), day_start(last + timedelta(days=1), zone)


# Days a client may name: this many years either side of today.  Year 1 or
# 9999 overflows the arithmetic every page and query does with a day, and
# nothing a client books, browses or blocks is that far away.
CLIENT_YEARS = 5


def client_window() -> tuple[date, date]:
    """Return the first and last day a client may name."""
    today = utc_now().date()
    reach = timedelta(days=round(365.25 * CLIENT_YEARS))
    return today - reach, today + reach


def check_client_day(day: date) -> date:
    """Return ``day`` if it is in the client window; ValueError naming the window if not."""
    first, last = client_window()
    if not first <= day <= last:
        raise ValueError(f"must be between {first.isoformat()} and {last.isoformat()}")
    return day


def parse_day(text: str) -> date:
    """Parse a client's YYYY-MM-DD inside the client window; ValueError saying what is wrong."""
    try:
        day = date.fromisoformat(text) if isinstance(text, str) else None
    except ValueError:
        day = None
    if day is None:
        raise ValueError("is not a date like 2026-12-01")
    return check_client_day(day)


def parse_instant(text: str) -> datetime:
    """Parse a client's RFC 3339 date-time with an offset, inside the client window, into aware UTC."""
    if not isinstance(text, str) or "T" not in text.upper():
        raise ValueError("must be a date-time like 2026-12-01T09:00:00-07:00")
    try:
        moment = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        raise ValueError("must be a date-time like 2026-12-01T09:00:00-07:00") from None
    if moment.tzinfo is None:
        raise ValueError("must include a UTC offset, like 2026-12-01T09:00:00-07:00")
    # Before converting: 9999-12-31T23:59:59-12:00 has no UTC form.
    check_client_day(moment.date())
    return moment.astimezone(timezone.utc)


def rfc3339(moment: datetime, zone: ZoneInfo) -> str:
    """Format an instant in a zone as RFC 3339 with that zone's offset."""
    return moment.astimezone(zone).isoformat(timespec="seconds")


def zone_abbreviation(moment: datetime, zone: ZoneInfo) -> str:
    """Return the zone's short name at an instant (MST, MDT, GMT+1 …)."""
    name = moment.astimezone(zone).tzname() or ""
    if name[:1] in "+-":
        offset = moment.astimezone(zone).utcoffset()
        minutes = int(offset.total_seconds() // 60)
        sign = "+" if minutes >= 0 else "-"
        hours, rest = divmod(abs(minutes), 60)
        return f"UTC{sign}{hours}" + (f":{rest:02d}" if rest else "")
    return name


def clock(moment: datetime, zone: ZoneInfo) -> str:
    """Format the time of day of an instant in a zone, like 9:30 AM."""
    local = moment.astimezone(zone)
    return local.strftime("%I:%M %p").lstrip("0")


def long_date(moment_or_day: datetime | date, zone: ZoneInfo | None = None) -> str:
    """Format a day like Tuesday, December 1, 2026."""
    day = moment_or_day.astimezone(zone).date() if isinstance(moment_or_day, datetime) else moment_or_day
    return f"{day:%A}, {day:%B} {day.day}, {day.year}"
