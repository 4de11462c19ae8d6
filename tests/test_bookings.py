"""Booking integrity: no overlaps, ever, from any number of processes, on both databases."""

from __future__ import annotations

import multiprocessing
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from tests.support import CLIENT, app_settings, make_app, process_app, shared_database
from widget import outbox
from widget.booking import bookings
from widget.extensions import db
from widget.models import Booking, BookingStatus, CalendarEvent, OutboxMessage

# Tuesday 2026-11-24 in Denver (UTC-7): 10:00 local.
TEN_AM = datetime(2026, 11, 24, 17, 0, tzinfo=timezone.utc)


def _book(service="massage-60", start=TEN_AM, key=None, **details):
    fields = {**CLIENT, **details}
    return bookings.book(
        service, start, fields["name"], fields["email"], fields["phone"], "", "America/Denver", idempotency_key=key
    )


def _confirmed_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Booking).where(Booking.status == BookingStatus.CONFIRMED))


def test_booking_is_stored_and_written_to_the_local_calendar(any_db_app):
    with any_db_app.app_context():
        booking, created = _book()
        assert created and booking.status == BookingStatus.CONFIRMED
        outbox.deliver_due()  # the calendar write, as the jobs runner does it
        assert booking.start_at == TEN_AM and booking.end_at == TEN_AM + timedelta(minutes=60)
        # 15 minutes of clean-up are part of what the booking keeps from others.
        assert (booking.blocked_start, booking.blocked_end) == (TEN_AM, TEN_AM + timedelta(minutes=75))
        event = db.session.get(CalendarEvent, booking.calendar_event_id)
        assert event.booking_id == booking.id
        assert event.summary == "60-minute massage — Ada Client"
        assert "801-555-0101" in event.description and "ada@example.com" not in event.description


def test_same_request_twice_with_its_key_makes_one_booking(any_db_app):
    with any_db_app.app_context():
        first, created_first = _book(key="retry-me-1")
        second, created_second = _book(key="retry-me-1", email="ADA@example.com")
        assert (created_first, created_second) == (True, False)
        assert first.id == second.id
        assert _confirmed_count() == 1


# Was: the same service, start and email returned the booking (and its manage link) to anyone.
@pytest.mark.parametrize("key", [None, "someone-elses-key"])
def test_knowing_the_email_does_not_hand_over_the_booking(any_db_app, key):
    with any_db_app.app_context():
        _book(key="the-clients-own-key")
        with pytest.raises(bookings.SlotTaken):
            _book(key=key)
        assert _confirmed_count() == 1


def test_a_key_used_for_another_booking_is_refused_by_name(any_db_app):
    with any_db_app.app_context():
        _book(key="one-key")
        with pytest.raises(bookings.InvalidBooking) as invalid:
            _book(start=TEN_AM + timedelta(days=1), key="one-key")
        assert set(invalid.value.errors) == {"Idempotency-Key"}
        assert _confirmed_count() == 1


@pytest.mark.parametrize("key", ["", None])
def test_no_key_means_no_replay(any_db_app, key):
    with any_db_app.app_context():
        _book(key=key)
        _, created = _book(start=TEN_AM + timedelta(days=1), key=key)
        assert created and _confirmed_count() == 2


@pytest.mark.parametrize("key", ["x" * 256, "with space", "caf\u00e9", 12])
def test_malformed_key_is_refused(app, key):
    with app.app_context(), pytest.raises(bookings.InvalidBooking) as invalid:
        _book(key=key)
    assert "Idempotency-Key" in invalid.value.errors


@pytest.mark.parametrize(
    ("second_client", "field"),
    [
        ({"email": "ADA@example.com", "phone": "801-555-0199"}, "email"),
        ({"email": "other@example.com", "phone": "(801) 555 0101"}, "phone"),
    ],
)
def test_future_bookings_are_capped_per_email_and_per_phone(tmp_path, second_client, field):
    app = make_app(tmp_path, MAX_FUTURE_BOOKINGS="2")
    with app.app_context():
        _book()
        _book(start=TEN_AM + timedelta(days=1))
        with pytest.raises(bookings.TooManyBookings) as too_many:
            _book(start=TEN_AM + timedelta(days=2), **second_client)
        assert too_many.value.field == field
        # A cancelled booking no longer counts.
        bookings.cancel(db.session.scalar(select(Booking).limit(1)), by_studio=True)
        _, created = _book(start=TEN_AM + timedelta(days=2), **second_client)
        assert created


@pytest.mark.parametrize(
    ("service", "start", "why"),
    [
        ("massage-30", TEN_AM, "same start"),
        ("massage-30", TEN_AM + timedelta(minutes=30), "inside the other"),
        ("massage-90", TEN_AM - timedelta(minutes=60), "runs into the other"),
        ("massage-30", TEN_AM + timedelta(minutes=60), "inside the other's clean-up"),
        ("massage-30", TEN_AM - timedelta(minutes=30), "its clean-up runs into the other"),
    ],
)
def test_overlapping_booking_is_refused_with_alternatives(any_db_app, service, start, why):
    with any_db_app.app_context():
        _book()
        with pytest.raises(bookings.SlotTaken) as taken:
            _book(service, start, email="bo@example.com")
        assert taken.value.alternatives, why
        for slot in taken.value.alternatives:
            assert bookings.slot_problem(bookings.service_named(service), slot.start) is None
        assert _confirmed_count() == 1


def test_back_to_back_with_clean_up_is_allowed(any_db_app):
    with any_db_app.app_context():
        _book()
        _, created = _book("massage-30", TEN_AM + timedelta(minutes=75), email="bo@example.com")
        assert created and _confirmed_count() == 2


def test_cancelled_booking_frees_its_time(any_db_app):
    with any_db_app.app_context():
        booking, _ = _book()
        bookings.cancel(booking)
        assert booking.status == BookingStatus.CANCELLED and db.session.get(CalendarEvent, booking.id) is None
        again, created = _book(email="bo@example.com")
        assert created and again.id != booking.id


def test_database_refuses_overlap_that_skips_the_checks(any_db_app):
    """The constraint itself holds, not only the code in front of it."""
    with any_db_app.app_context():
        _book()
        service = bookings.service_named("massage-30")
        start = TEN_AM + timedelta(minutes=45)
        blocked = service.blocked_range(start)
        db.session.add(
            Booking(
                service_id=service.id,
                status=BookingStatus.CONFIRMED,
                start_at=start,
                end_at=start + service.duration,
                blocked_start=blocked[0],
                blocked_end=blocked[1],
                client_timezone="UTC",
                notes="",
                **{**CLIENT, "email": "sneaky@example.com"},
            )
        )
        with pytest.raises(IntegrityError):
            db.session.commit()
        db.session.rollback()
        assert _confirmed_count() == 1


def test_database_refuses_reconfirming_into_a_taken_time(any_db_app):
    with any_db_app.app_context():
        first, _ = _book()
        bookings.cancel(first)
        _book(email="bo@example.com")
        first.status = BookingStatus.CONFIRMED
        with pytest.raises(IntegrityError):
            db.session.commit()
        db.session.rollback()
        assert _confirmed_count() == 1


def test_daily_limit_is_kept(app):
    with app.app_context():
        for i, minutes in enumerate((-60, -15, 30, 75, 180, 225)):
            _book("massage-30", TEN_AM + timedelta(minutes=minutes), email=f"c{i}@example.com")
        with pytest.raises(bookings.SlotTaken):
            _book("massage-30", TEN_AM + timedelta(minutes=300), email="late@example.com")
        assert _confirmed_count() == 6


# --- Many processes at once -------------------------------------------------

ATTEMPTS = 20


def _attempt(database_url, tmp_path, barrier, index, service, start, results):
    """Run in a child process: one client trying to book."""
    app = process_app(app_settings(database_url))
    with app.app_context():
        barrier.wait(timeout=60)
        try:
            _, created = bookings.book(
                service, start, "Client", f"c{index}@example.com", "801-555-0100", "", "America/Denver"
            )
            results.put("booked" if created else "replayed")
        except bookings.SlotTaken:
            results.put("taken")
        except Exception as error:  # noqa: BLE001 - reported to the parent, which fails the test
            results.put(f"error: {error!r}")


def _race(database_url, tmp_path, plan):
    """Start one process per (service, start) in plan, all booking at the same moment."""
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(len(plan))
    results = context.Queue()
    processes = [
        context.Process(target=_attempt, args=(database_url, tmp_path, barrier, i, service, start, results))
        for i, (service, start) in enumerate(plan)
    ]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(timeout=30)
    return outcomes


def _assert_written_everywhere():
    """The winner's calendar event and emails were written, once the jobs runner ran, despite the crowd of writers."""
    outbox.deliver_due()
    booking = db.session.scalar(select(Booking).where(Booking.status == BookingStatus.CONFIRMED))
    assert booking.calendar_event_id == booking.id
    assert db.session.get(CalendarEvent, booking.id) is not None
    rows = {row.key: row.status for row in db.session.scalars(select(OutboxMessage))}
    assert set(rows) == {
        f"calendar-write:{booking.id}:0",
        f"booked:{booking.id}:0:client",
        f"booked:{booking.id}:0:therapist",
    }
    assert rows[f"calendar-write:{booking.id}:0"] == "sent"


def _database(kind, tmp_path):
    url = shared_database(kind, tmp_path, "race.db")
    app = make_app(tmp_path, url)
    # The racers fork from this process: leave them no open connection to inherit.
    with app.app_context():
        db.engine.dispose()
    return app, url


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_twenty_processes_same_time_make_one_booking(kind, tmp_path):
    app, url = _database(kind, tmp_path)
    outcomes = _race(url, tmp_path, [("massage-60", TEN_AM)] * ATTEMPTS)
    assert sorted(outcomes) == ["booked"] + ["taken"] * (ATTEMPTS - 1), outcomes
    with app.app_context():
        assert _confirmed_count() == 1
        _assert_written_everywhere()


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_twenty_processes_overlapping_times_of_different_lengths_make_one_booking(kind, tmp_path):
    app, url = _database(kind, tmp_path)
    # Every one of these overlaps every other once clean-up is counted: starts
    # at 09:45, 10:00 and 10:15 with 30, 60 and 90 minute services.
    services = ["massage-30", "massage-60", "massage-90"]
    plan = [(services[(i // 3) % 3], TEN_AM + timedelta(minutes=15 * (i % 3 - 1))) for i in range(ATTEMPTS)]
    with app.app_context():
        for a_service, a_start in plan:
            for b_service, b_start in plan:
                a = bookings.service_named(a_service).blocked_range(a_start)
                b = bookings.service_named(b_service).blocked_range(b_start)
                assert a[0] < b[1] and b[0] < a[1], "the plan must be all-overlapping"
    outcomes = _race(url, tmp_path, plan)
    assert outcomes.count("booked") == 1, outcomes
    assert outcomes.count("taken") == ATTEMPTS - 1, outcomes
    with app.app_context():
        assert _confirmed_count() == 1
        _assert_written_everywhere()
