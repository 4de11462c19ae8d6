"""A long run through faults: Google failing 30% of calls and the mail server down for a while.

Bookings (through the API), cancellations and moves follow one another while
the Google stand-in answers 30% of Calendar calls with 429, 503 (before or
after doing the work) or a slow answer, and the SMTP server is down for the
first part of the run.  The jobs runner's delivery runs every few operations,
as it would between requests, and then catches up.  At the end the calendar,
the mailbox and the outbox must agree exactly with the bookings.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest

pytest.importorskip("googleapiclient")

from sqlalchemy import func, select  # noqa: E402

from tests.google_standin import DEFAULT_CALENDAR_ID  # noqa: E402
from tests.support import deliver_outbox  # noqa: E402
from tests.test_google import connect, make_google_app  # noqa: E402
from widget import outbox  # noqa: E402
from widget.booking import bookings  # noqa: E402
from widget.calendars import CalendarUnavailable  # noqa: E402
from widget.extensions import db  # noqa: E402
from widget.models import Booking, BookingStatus, OutboxMessage, OutboxStatus  # noqa: E402

# The run the issue asks for; about 75 s on an idle two-core machine, most of it in Google's retry waits.
OPERATIONS = 200
FAULT_RATE = 0.3
DENVER_OFFSET = timedelta(hours=7)  # November and December: UTC-7
# A 60-minute massage keeps 75 minutes (with clean-up): six starts a day that never overlap.
STARTS = [(9, 0), (10, 15), (13, 0), (14, 15), (15, 30), (16, 45)]


def _candidates() -> list[datetime]:
    """Return every start of the grid on weekdays from Wednesday 2026-11-25 for four weeks (UTC)."""
    found = []
    day = datetime(2026, 11, 25, tzinfo=timezone.utc)
    for offset in range(28):
        date = day + timedelta(days=offset)
        if date.weekday() >= 5:
            continue
        for hour, minute in STARTS:
            found.append(date.replace(hour=hour, minute=minute) + DENVER_OFFSET)
    return found


@pytest.fixture
def fault_app(tmp_path, mailbox, monkeypatch, standin):
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    monkeypatch.setenv("OAUTHLIB_RELAX_TOKEN_SCOPE", "1")
    return make_google_app(tmp_path, standin, mailbox, THERAPIST_EMAIL="therapist@studio.example", GOOGLE_TIMEOUT="1")


def _pending(app) -> int:
    with app.app_context():
        return db.session.scalar(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == OutboxStatus.PENDING)
        )


def _catch_up(app) -> int:
    """Run the jobs runner's delivery until the outbox is done, the clock moving past each wait; return rounds."""
    clock = app.extensions["clock"]
    for rounds in range(1, 200):
        with app.app_context():
            outbox.deliver_due()
            waiting = db.session.scalar(
                select(func.min(OutboxMessage.next_attempt_at)).where(OutboxMessage.status == OutboxStatus.PENDING)
            )
            db.session.commit()
        if waiting is None:
            return rounds
        clock.now = max(clock.now, waiting) + timedelta(seconds=1)
    raise AssertionError("the outbox did not empty")


def test_bookings_cancellations_and_moves_through_faults_end_consistent(fault_app, standin, mailbox):
    app, client = fault_app, fault_app.test_client()
    connect(app, client, standin)
    standin.fail_randomly(FAULT_RATE, seed=13, slow_seconds=0.4)
    mailbox.stop()
    port = mailbox.port

    draw = random.Random(29)
    free = _candidates()
    draw.shuffle(free)
    confirmed: list[str] = []
    outcomes: Counter = Counter()
    started = time.monotonic()
    for number in range(OPERATIONS):
        if number == OPERATIONS // 2:
            mailbox.port = port
            mailbox.start()  # the mail server is back for the second half
        choice = draw.random()
        if choice < 0.55 or len(confirmed) < 3:
            start = free.pop()
            body = {
                "service": "massage-60",
                "start": start.isoformat(),
                "name": f"Client {number}",
                "email": f"client{number}@example.com",
                "phone": f"801-555-{number:04d}",
            }
            response = client.post("/api/bookings", json=body)
            # 409: a time freed by a move whose calendar write is still queued looks busy in Google meanwhile;
            # 503: Google unreachable.  Either way nothing is booked.
            assert response.status_code in (201, 409, 503), response.json
            outcomes[f"book {response.status_code}"] += 1
            if response.status_code == 201:
                confirmed.append(response.json["id"])
            else:
                free.insert(0, start)
        elif choice < 0.8:
            booking_id = confirmed.pop(draw.randrange(len(confirmed)))
            with app.app_context():
                bookings.cancel(db.session.get(Booking, booking_id), by_studio=True)
            outcomes["cancel"] += 1
        else:
            booking_id = draw.choice(confirmed)
            start = free.pop()
            with app.app_context():
                booking = db.session.get(Booking, booking_id)
                old_start = booking.start_at
                try:
                    bookings.reschedule(booking, start)
                    outcomes["move"] += 1
                    free.insert(0, old_start)
                except (CalendarUnavailable, bookings.SlotTaken) as error:
                    outcomes[f"move refused ({error.__class__.__name__})"] += 1
                    free.insert(0, start)
        if number % 5 == 4:
            deliver_outbox(app)
    run_seconds = time.monotonic() - started
    rounds = _catch_up(app)

    with app.app_context():
        rows = db.session.scalars(select(OutboxMessage)).all()
        assert {row.status for row in rows} == {OutboxStatus.SENT}, Counter(row.status for row in rows)
        emails = [row for row in rows if row.kind == "email"]
        every = db.session.scalars(select(Booking)).all()
        live = {b.id: b for b in every if b.status == BookingStatus.CONFIRMED}
        gone = [b.id for b in every if b.status == BookingStatus.CANCELLED]
    assert sorted(live) == sorted(confirmed)

    events = standin.events(DEFAULT_CALENDAR_ID)  # those not deleted
    assert sorted(event["id"] for event in events) == sorted(live), "one event per confirmed booking, no other"
    for event in events:
        start = datetime.fromisoformat(event["start"]["dateTime"]).astimezone(timezone.utc)
        assert start == live[event["id"]].start_at, event["id"]
    for booking_id in gone:
        event = standin.event(DEFAULT_CALENDAR_ID, booking_id)
        assert event is None or event["status"] == "cancelled", booking_id

    time.sleep(0.5)  # the SMTP server's last deliveries are recorded
    assert len(mailbox.messages) == len(emails), (len(mailbox.messages), len(emails))
    ids = [message["Message-ID"] for message in mailbox.messages]
    assert len(set(ids)) == len(ids)

    # What the run went through, for the record (shown with -s); the faults must really have happened.
    print(f"{OPERATIONS} operations in {run_seconds:.1f} s, {rounds} catch-up rounds: {dict(outcomes)}")
    print(f"Google faults served: {standin.random_faults}")
    assert sum(standin.random_faults.values()) >= 30
    assert outcomes["cancel"] >= 20 and outcomes["move"] >= 10
