"""One booking, one truth: cancels and moves at the same instant, from many processes, on both databases.

Each race releases its callers together (a barrier), then checks the
database, the outbox and the emails the client really received, in the order
she received them: they must end with the booking's real state.
"""

from __future__ import annotations

import multiprocessing
from datetime import datetime, timedelta, timezone

import pytest
from icalendar import Calendar
from sqlalchemy import func, select

from tests.support import app_settings, make_app, process_app, shared_database
from widget import outbox
from widget.booking import bookings
from widget.extensions import db
from widget.models import Booking, BookingStatus, CalendarEvent, OutboxMessage, OutboxStatus

# Tuesday 2026-11-24 in Denver (UTC-7).
TUESDAY_9 = datetime(2026, 11, 24, 16, 0, tzinfo=timezone.utc)
WEDNESDAY_9 = TUESDAY_9 + timedelta(days=1)
CLIENT = "ada@example.com"
CALLERS = 12


def _caller(database_url, mail_port, barrier, booking_id, action, argument, results):
    """Run in a child process: one person cancelling or moving a booking, released with the others."""
    app = process_app(app_settings(database_url, MAIL_SERVER="127.0.0.1", MAIL_PORT=str(mail_port)))
    with app.app_context():
        booking = db.session.get(Booking, booking_id)
        barrier.wait(timeout=60)
        try:
            if action == "cancel":
                bookings.cancel(booking)
                results.put(("cancelled", None))
            else:
                bookings.reschedule(booking, argument)
                results.put(("moved", argument.isoformat()))
        except bookings.BookingChanged:
            results.put(("changed", None))
        except bookings.SlotTaken:
            results.put(("taken", None))
        except bookings.InvalidBooking as invalid:
            results.put(("invalid", str(invalid)))
        except Exception as error:  # noqa: BLE001 - reported to the parent, which fails the test
            results.put(("error", repr(error)))


def _together(database_url, mail_port, calls):
    """Run every (booking id, action, argument) in its own process, all released at once."""
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(len(calls))
    results = context.Queue()
    processes = [
        context.Process(target=_caller, args=(database_url, mail_port, barrier, *call, results)) for call in calls
    ]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(timeout=30)
    assert not [outcome for outcome in outcomes if outcome[0] in ("error", "invalid")], outcomes
    return outcomes


@pytest.fixture(params=["sqlite", "postgresql"])
def race_app(request, tmp_path, mailbox):
    """Return an app on a file database that child processes share, mailing to ``mailbox``."""
    url = shared_database(request.param, tmp_path, "race.db")
    app = make_app(tmp_path, url, MAIL_SERVER="127.0.0.1", MAIL_PORT=str(mailbox.port))
    app.config["RACE_DATABASE_URL"] = url
    return app


def _book(app, start=WEDNESDAY_9, email=CLIENT, service="massage-60") -> str:
    with app.app_context():
        booking, _ = bookings.book(service, start, "Ada Client", email, "801-555-0101", "", "America/Denver")
        booking_id = booking.id
        outbox.deliver_due()  # as the jobs runner would, at once
        # The racers fork from this process: leave them no open connection to inherit.
        db.engine.dispose()
    return booking_id


def _drain(app) -> None:
    """Deliver everything the outbox still holds, as run-jobs would over the next hours."""
    with app.app_context():
        for _ in range(30):
            if not db.session.scalar(select(func.count()).where(OutboxMessage.status == OutboxStatus.PENDING)):
                return
            app.extensions["clock"].now += timedelta(hours=1)
            outbox.deliver_due()
        raise AssertionError("the outbox did not empty")


def _sequences(messages) -> list[int]:
    found = []
    for message in messages:
        for part in message.iter_attachments():
            if part.get_content_type() == "text/calendar":
                event = Calendar.from_ical(part.get_content()).walk("VEVENT")[0]
                found.append(int(event["SEQUENCE"]))
    return found


def _subjects(mailbox, address=CLIENT) -> list[str]:
    return [str(message["Subject"]).strip().split(":")[0] for message in mailbox.received_by(address)]


def test_cancel_and_moves_at_once_end_cancelled_and_say_so_last(race_app, mailbox):
    booking_id = _book(race_app)
    mailbox.wait_for(2)
    targets = [WEDNESDAY_9 + timedelta(hours=4, minutes=15 * i) for i in range(CALLERS // 2)]
    calls = [(booking_id, "cancel", None)] * (CALLERS // 2) + [(booking_id, "move", start) for start in targets]
    outcomes = _together(race_app.config["RACE_DATABASE_URL"], mailbox.port, calls)
    moved = [outcome for outcome in outcomes if outcome[0] == "moved"]
    assert len(moved) <= 1, outcomes
    _drain(race_app)

    with race_app.app_context():
        booking = db.session.get(Booking, booking_id)
        assert booking.status == BookingStatus.CANCELLED
        assert booking.sequence == 1 + len(moved)
        assert db.session.get(CalendarEvent, booking_id) is None
        statuses = db.session.scalars(select(OutboxMessage.status)).all()
        assert set(statuses) == {"sent"}
    subjects = _subjects(mailbox)
    assert subjects == ["Booked", *(["Moved"] * len(moved)), "Cancelled"], subjects
    sequences = _sequences(mailbox.received_by(CLIENT))
    assert sequences == sorted(sequences) and len(set(sequences)) == len(sequences), sequences


def test_many_moves_of_one_booking_make_exactly_one_move(race_app, mailbox):
    booking_id = _book(race_app)
    targets = [WEDNESDAY_9 + timedelta(hours=4, minutes=15 * i) for i in range(CALLERS)]
    outcomes = _together(race_app.config["RACE_DATABASE_URL"], mailbox.port, [(booking_id, "move", t) for t in targets])
    moved = [argument for outcome, argument in outcomes if outcome == "moved"]
    assert len(moved) == 1, outcomes
    assert {outcome for outcome, _ in outcomes} <= {"moved", "changed", "taken"}, outcomes
    _drain(race_app)

    with race_app.app_context():
        booking = db.session.get(Booking, booking_id)
        assert (booking.status, booking.sequence) == (BookingStatus.CONFIRMED, 1)
        assert booking.start_at.isoformat() == moved[0]
        event = db.session.get(CalendarEvent, booking_id)
        assert event.start_at == booking.start_at
    assert _subjects(mailbox) == ["Booked", "Moved"]
    last = mailbox.received_by(CLIENT)[-1]
    when = booking.start_at.astimezone(bookings.zone_named("America/Denver"))
    assert when.strftime("%-I:%M %p") in last["Subject"], last["Subject"]


def test_moves_into_a_nearly_full_day_keep_the_daily_limit(race_app, mailbox):
    # Five 30-minute bookings on Tuesday; the daily limit is six.
    day = [timedelta(minutes=minutes) for minutes in (0, 45, 90, 135, 240, 285, 330, 375, 420)]
    for i in range(5):
        _book(race_app, TUESDAY_9 + day[i], f"day{i}@example.com", "massage-30")
    # Ten clients booked on Wednesday and Thursday each try to move into a free Tuesday time.
    movers = [
        _book(race_app, WEDNESDAY_9 + timedelta(days=i % 2) + day[i // 2], f"mover{i}@example.com", "massage-30")
        for i in range(10)
    ]
    targets = [TUESDAY_9 + day[5 + i % 4] for i in range(10)]
    outcomes = _together(
        race_app.config["RACE_DATABASE_URL"],
        mailbox.port,
        [(m, "move", t) for m, t in zip(movers, targets, strict=True)],
    )
    assert [outcome for outcome, _ in outcomes].count("moved") == 1, outcomes
    with race_app.app_context():
        tuesday = select(func.count()).where(
            Booking.status == BookingStatus.CONFIRMED,
            Booking.start_at >= TUESDAY_9,
            Booking.start_at < TUESDAY_9 + timedelta(hours=12),
        )
        assert db.session.scalar(tuesday) == 6


def test_stale_copy_of_a_booking_cannot_move_it_again(app):
    """A move decided on what a booking was before another change is refused, not applied on top."""
    with app.app_context():
        booking, _ = bookings.book(
            "massage-60", WEDNESDAY_9, "Ada Client", CLIENT, "801-555-0101", "", "America/Denver"
        )
        booking_id = booking.id
    with app.app_context():
        stale = db.session.get(Booking, booking_id)
        with app.app_context():
            bookings.reschedule(db.session.get(Booking, booking_id), WEDNESDAY_9 + timedelta(hours=4))
        with pytest.raises(bookings.BookingChanged):
            bookings.reschedule(stale, WEDNESDAY_9 + timedelta(hours=6))
        assert db.session.get(Booking, booking_id).start_at == WEDNESDAY_9 + timedelta(hours=4)
