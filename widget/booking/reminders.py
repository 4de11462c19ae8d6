"""Reminders: queued by the jobs runner for bookings that start soon."""

from __future__ import annotations

from datetime import timedelta

from flask import current_app
from sqlalchemy import select, update

from .. import outbox
from ..extensions import db
from ..models import Booking, BookingStatus
from ..timezones import utc_now
from . import emails
from .bookings import outbox_stream
from .links import manage_url


def queue_reminders() -> int:
    """Queue the reminder of every booking that starts within the reminder window; return how many."""
    now = utc_now()
    window = timedelta(hours=current_app.config["REMINDER_HOURS_BEFORE"])
    due = db.session.scalars(
        select(Booking).where(
            Booking.status == BookingStatus.CONFIRMED,
            Booking.reminder_queued_at.is_(None),
            Booking.start_at > now,
            Booking.start_at <= now + window,
        )
    ).all()
    queued = 0
    db.session.commit()
    for booking in due:
        # Delivered by this same runner's next step (deliver_due), not waited for here.
        with outbox.unit_of_work() as work:
            # Marking the booking is the claim: only one process gets rowcount 1.
            marked = db.session.execute(
                update(Booking)
                .where(Booking.id == booking.id, Booking.reminder_queued_at.is_(None))
                .values(reminder_queued_at=now)
            )
            # Booked inside the window: the confirmation has just said it all.
            if marked.rowcount == 1 and booking.created_at <= booking.start_at - window:
                rows = [
                    work.queue(key, kind, payload, stream=outbox_stream(booking.id, kind, payload))
                    for key, kind, payload in emails.reminder(booking, manage_url(booking))
                ]
                queued += len([row for row in rows if row is not None])
    return queued
