"""Following the therapist's changes in her calendar.

``sync_calendar`` reads what changed in a watched calendar since the last
time (the calendar's sync token, kept per calendar in ``calendar_sync``) and
lets the booking service follow: a booking's event deleted or cancelled
cancels the booking (by the studio), moved moves it; any other change drops
the cached free/busy times, so the next widget view asks the calendar afresh.
``sync_all`` does every watched calendar (``flask sync-calendar``, and
run-jobs every CALENDAR_SYNC_MINUTES); ``sync_pushed`` is the outbox handler
of the "calendar-sync" entries a push notification queues, and syncs the one
calendar it names.

Every effect is decided afresh from the booking as it is now, so a change
seen twice (by push and by polling, or again in a full resync after the
calendar refused a token) acts once and emails once.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from .. import calendars
from ..calendars import CalendarUnavailable, Change
from ..extensions import begin_writing, db
from ..models import Booking, BookingStatus, CalendarSync, OutboxMessage, OutboxStatus, Setting
from ..timezones import utc_now
from . import bookings, business

log = logging.getLogger(__name__)

LAST_ROUND = "calendar-sync-last-round"  # the settings row run-jobs claims a sync round with


def _event_booking(change: Change) -> Booking | None:
    """Return the booking an event belongs to: by the id it carries, or by our deterministic event id."""
    for booking_id in (change.booking_id, change.event_id):
        if booking_id:
            booking = db.session.get(Booking, booking_id)
            if booking is not None and (booking.calendar_event_id or booking.id) == change.event_id:
                return booking
    return None


def _writes_pending(booking_id: str) -> bool:
    """Say whether a calendar write of ours for this booking is still on its way (it will overwrite the event)."""
    return (
        db.session.scalar(
            select(OutboxMessage.id)
            .where(
                OutboxMessage.kind == "calendar",
                OutboxMessage.stream == f"booking:{booking_id}:calendar",
                OutboxMessage.status == OutboxStatus.PENDING,
            )
            .limit(1)
        )
        is not None
    )


def follow(change: Change, now: datetime | None = None) -> str:
    """Let the bookings follow one changed event; return what happened.

    "cancelled", "moved", "refused" or "unchanged" for a booking's event;
    "other" for any other event (its free/busy time may have changed).
    """
    now = now or utc_now()
    booking = _event_booking(change)
    if booking is None:
        return "other"
    if booking.status != BookingStatus.CONFIRMED or booking.end_at <= now or _writes_pending(booking.id):
        # Cancelled or over: history.  A write of ours still queued will put the event right.
        return "unchanged"
    if change.cancelled:
        bookings.cancel(booking, by_studio=True, now=now)
        return "cancelled"
    if change.start is None or change.end is None or change.end <= change.start:
        return "unchanged"
    return bookings.follow_calendar_move(booking.id, change.start, change.end, change.version, now)


def _state(calendar_id: str) -> CalendarSync | None:
    return db.session.get(CalendarSync, calendar_id)


def _save_state(calendar_id: str, token: str | None, full: bool, now: datetime) -> None:
    begin_writing()
    state = _state(calendar_id) or CalendarSync(calendar_id=calendar_id)
    state.sync_token, state.synced_at = token, now
    if full:
        state.full_synced_at = now
    db.session.add(state)
    db.session.commit()


def sync_calendar(calendar_id: str, now: datetime | None = None) -> dict:
    """Read what changed in one calendar since its last sync and follow it; return counts of what it did.

    The first sync (and one after Google refused the token) lists the events
    from now to the end of the booking horizon.  The new token is stored
    only after every change was followed: a sync that fails half-way is
    done again from the same point, and following is idempotent.
    """
    now = now or utc_now()
    state = _state(calendar_id)
    token = state.sync_token if state is not None else None
    db.session.commit()  # hold no transaction while Google answers
    horizon = timedelta(days=business.current().rules.horizon_days + 1)
    found = calendars.current().changes(calendar_id, token, now - timedelta(days=1), now + horizon)
    outcomes: dict[str, int] = {}
    for change in found.events:
        outcome = follow(change, now)
        if outcome != "unchanged":  # our own writes coming back, history: nothing to tell
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
    if outcomes:
        # Something besides our own writes changed (and where a moved event was is not told): every day
        # is asked of the calendar afresh.
        calendars.current().forget_busy()
    _save_state(calendar_id, found.sync_token, found.full, now)
    return outcomes


def sync_all(now: datetime | None = None) -> dict:
    """Sync every calendar the service watches; return counts of what it did (and of calendars that failed)."""
    calendar = calendars.current()
    try:
        watched = calendar.watched()
    except CalendarUnavailable:
        return {}
    db.session.commit()
    totals: dict[str, int] = {}
    for calendar_id in watched:
        try:
            outcomes = sync_calendar(calendar_id, now)
        except Exception as error:  # noqa: BLE001 - one calendar failing must not stop the others
            db.session.rollback()
            log.warning("syncing calendar %s failed: %s", calendar_id, error)
            # Its changes cannot be seen: let free times come from the calendar afresh.
            calendar.forget_busy()
            outcomes = {"failed": 1}
        for outcome, count in outcomes.items():
            totals[outcome] = totals.get(outcome, 0) + count
    return totals


def sync_pushed(payload: dict) -> None:
    """Sync the calendar a push notification named (the "calendar-sync" outbox handler); raise to retry."""
    calendar_id = payload["calendar"]
    try:
        watched = calendars.current().watched()
    except CalendarUnavailable:
        return  # disconnected: nothing to read; polling resumes once she reconnects
    db.session.commit()
    if calendar_id not in watched:
        return  # unticked since: its changes no longer matter
    sync_calendar(calendar_id)


def claim_sync_round(minutes: int, now: datetime | None = None) -> bool:
    """Say whether this process should sync now: the last round is ``minutes`` old, and no other process took it.

    One conditional UPDATE decides, so of several run-jobs processes one syncs.
    """
    now = now or utc_now()
    stamp = now.strftime("%Y-%m-%dT%H:%M:%S.%fZ")  # fixed width: compares as text
    due_before = (now - timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    begin_writing()
    if db.session.get(Setting, LAST_ROUND) is None:
        db.session.add(Setting(key=LAST_ROUND, value=stamp))
        try:
            db.session.commit()
        except IntegrityError:
            db.session.rollback()
            return False
        return True
    result = db.session.execute(
        update(Setting).where(Setting.key == LAST_ROUND, Setting.value <= due_before).values(value=stamp)
    )
    db.session.commit()
    return result.rowcount == 1
