"""Time ``available_slots`` over the studio's whole booking horizon.

Measures one call for the 60-minute massage across the 60-day horizon of the
studio's real rules (America/Denver, weekday and Saturday hours, 15-minute step,
15-minute clean-up, 12 h notice, daily limit 6), with three existing bookings on
every weekday.  The horizon spans the spring clock change.

Run from the repository root:

    .venv/bin/python bench/availability.py [--number N] [--repeat R]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import timeit
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

# Run as a script, Python puts bench/ on the path, not the repository root.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from widget.booking.availability import Rules, Service, Window, available_slots  # noqa: E402

DENVER = ZoneInfo("America/Denver")
WEEKDAY = (Window(time(9), time(12)), Window(time(13), time(18)))
RULES = Rules(
    timezone=DENVER,
    opening_hours={0: WEEKDAY, 1: WEEKDAY, 2: WEEKDAY, 3: WEEKDAY, 4: WEEKDAY, 5: (Window(time(10), time(14)),)},
    slot_step=timedelta(minutes=15),
    minimum_notice=timedelta(hours=12),
    horizon_days=60,
    daily_limit=6,
)
SERVICE = Service(
    id="massage-60",
    name="60-minute massage",
    duration=timedelta(minutes=60),
    buffer_after=timedelta(minutes=15),
)
NOW = datetime(2026, 2, 20, 8, 0, tzinfo=DENVER).astimezone(timezone.utc)
# Start times of the day's existing bookings, varied a little from day to day.
BOOKING_TIMES = ((time(9, 30), time(13, 15), time(15, 45)), (time(10, 0), time(14, 0), time(16, 30)))


def existing_bookings(first: date, days: int) -> tuple[list[tuple[datetime, datetime]], list[datetime]]:
    """Return busy intervals (with clean-up) and start times for three bookings every weekday."""
    busy, booked = [], []
    for offset in range(days):
        day = first + timedelta(days=offset)
        if day.weekday() >= 5:
            continue
        for at in BOOKING_TIMES[offset % 2]:
            start = datetime.combine(day, at, tzinfo=DENVER).astimezone(timezone.utc)
            busy.append(SERVICE.blocked_range(start))
            booked.append(start)
    return busy, booked


def main() -> None:
    """Time the call and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--number", type=int, default=5, help="calls per timing (default 5)")
    parser.add_argument("--repeat", type=int, default=15, help="timings taken (default 15)")
    args = parser.parse_args()

    today = NOW.astimezone(DENVER).date()
    busy, booked = existing_bookings(today, RULES.horizon_days + 1)
    end = datetime.combine(today + timedelta(days=RULES.horizon_days + 1), time(0), tzinfo=DENVER)

    print(f"available_slots, {SERVICE.name}, {RULES.horizon_days}-day horizon from {today}")
    # An empty calendar yields the most slots (the most objects to build); a
    # busy one exercises the busy-time checks.
    for label, taken, starts in (("three bookings every weekday", busy, booked), ("empty calendar", [], [])):

        def call(taken=taken, starts=starts):
            return available_slots(RULES, SERVICE, NOW, end, NOW, taken, starts)

        slots = call()
        timings = timeit.repeat(call, number=args.number, repeat=args.repeat)
        per_call_ms = [total / args.number * 1000 for total in timings]
        fastest, median = min(per_call_ms), statistics.median(per_call_ms)
        print(f"  {label}: {len(taken)} busy intervals, {len(slots)} slots found")
        print(f"    {args.repeat} x {args.number} calls: min {fastest:.2f} ms, median {median:.2f} ms per call")


if __name__ == "__main__":
    main()
