"""The production run: gunicorn with 4 workers on PostgreSQL and Redis, and the jobs runner beside it.

Everything talks real HTTP and SMTP on 127.0.0.1, on the real clock.
"""

from __future__ import annotations

import time
from collections import Counter
from datetime import datetime, timedelta
from datetime import time as clock_time

import pytest
import requests
from sqlalchemy import func, select, update

from tests.support import POSTGRES_URL, make_app, reset_postgres
from tests.support.mailbox import Mailbox
from tests.support.servers import (
    DENVER,
    SECRET,
    HangingMailServer,
    open_day,
    start_gunicorn,
    start_jobs_runner,
    stop,
    together,
)
from widget.extensions import db
from widget.models import Booking, BookingStatus, OutboxMessage, OutboxStatus

CALLERS = 50


def _body(index: int, start: datetime, service: str = "massage-60") -> dict:
    """Return the booking request of the index-th client (each her own email and phone)."""
    return {
        "service": service,
        "start": start.isoformat(),
        "name": f"Client {index}",
        "email": f"client{index}@example.com",
        "phone": f"801-555-{index:04d}",
    }


def _post(base: str, body: dict) -> int:
    return requests.post(f"{base}/api/bookings", json=body, timeout=120).status_code


def _pending(app) -> int:
    with app.app_context():
        count = db.session.scalar(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == OutboxStatus.PENDING)
        )
        db.session.commit()
        return count


def _wait_until(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


@pytest.fixture
def production(tmp_path, redis_url, mailbox):
    """Start gunicorn (4 workers) and the jobs runner on a fresh PostgreSQL database and Redis; yield the setup."""
    reset_postgres()
    app = make_app(tmp_path, POSTGRES_URL, SECRET_KEY=SECRET)
    app.extensions.pop("clock")  # the servers run on the real clock; so does this process
    with app.app_context():
        db.engine.dispose()
    settings = {
        "DATABASE_URL": POSTGRES_URL,
        "REDIS_URL": redis_url,
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": str(mailbox.port),
        "THERAPIST_EMAIL": "therapist@studio.example",
        "BOOKING_RATE_LIMIT": "120 per hour",
        "MAX_FUTURE_BOOKINGS": "10",
    }
    server, base = start_gunicorn(4, **settings)
    runner = start_jobs_runner(**settings)
    try:
        yield app, base, runner
    finally:
        stop(server)
        stop(runner)


def test_fifty_bookings_at_once_one_wins_each_time_and_rate_limits_hold_across_workers(production, mailbox):
    app, base, _ = production
    day = open_day()
    nine = datetime.combine(day, clock_time(9), tzinfo=DENVER)

    # The same time, fifty clients at once.
    same = together([(base, _body(i, nine)) for i in range(CALLERS)], _post)
    assert Counter(same) == {201: 1, 409: CALLERS - 1}, Counter(same)

    # Overlapping times of different lengths in the afternoon (13:45, 14:00, 14:15): any two of them overlap.
    one = nine + timedelta(hours=5)
    services = ["massage-30", "massage-60", "massage-90"]
    plan = [(services[i % 3], one + timedelta(minutes=15 * (i % 3 - 1))) for i in range(CALLERS)]
    calls = [(base, _body(CALLERS + i, start, service)) for i, (service, start) in enumerate(plan)]
    overlapping = together(calls, _post)
    assert Counter(overlapping) == {201: 1, 409: CALLERS - 1}, Counter(overlapping)

    with app.app_context():
        confirmed = db.session.scalars(select(Booking).where(Booking.status == BookingStatus.CONFIRMED)).all()
        assert len(confirmed) == 2
        db.session.commit()

    # 100 attempts are counted; 40 more at once over four workers: exactly the 20 left pass the limit.
    rest = together([(base, {}) for _ in range(40)], _post)
    assert Counter(rest) == {422: 20, 429: 20}, Counter(rest)

    # The jobs runner, woken by the commits, sent both bookings' emails (client and therapist) once each.
    mailbox.wait_for(4, timeout=15)
    assert _wait_until(lambda: _pending(app) == 0, 15)
    time.sleep(1)
    assert len(mailbox.messages) == 4
    assert sorted(str(m["Subject"]).split(":")[0] for m in mailbox.messages) == ["Booked"] * 2 + ["New booking"] * 2


def test_a_hanging_mail_server_never_holds_a_booking_and_the_email_arrives_once_it_is_back(tmp_path, redis_url):
    reset_postgres()
    app = make_app(tmp_path, POSTGRES_URL, SECRET_KEY=SECRET)
    app.extensions.pop("clock")
    with app.app_context():
        db.engine.dispose()
    hanging = HangingMailServer()
    settings = {
        "DATABASE_URL": POSTGRES_URL,
        "REDIS_URL": redis_url,
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": str(hanging.port),
    }
    server, base = start_gunicorn(2, **settings)
    runner = start_jobs_runner(**settings)
    mailbox = Mailbox()
    try:
        nine = datetime.combine(open_day(), clock_time(9), tzinfo=DENVER)
        timings = []
        for index in range(3):
            started = time.monotonic()
            assert _post(base, _body(index, nine + timedelta(hours=2 * index))) == 201
            timings.append(time.monotonic() - started)
        assert max(timings) < 2, timings  # nothing in the request waits on the mail server

        hanging.close()  # the server comes back: first it lets go, then it answers on the same port
        mailbox.port = hanging.port
        mailbox.start()

        def retried_and_sent() -> bool:
            # What failed waits for its retry; make it due now, as the backoff would after its wait
            # (rows being tried right now are left to finish).
            with app.app_context():
                db.session.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.status == OutboxStatus.PENDING, OutboxMessage.claimed_until.is_(None))
                    .values(next_attempt_at=func.now())
                )
                db.session.commit()
            return _pending(app) == 0

        assert _wait_until(retried_and_sent, 60)
        mailbox.wait_for(3, timeout=10)
        time.sleep(1)
        assert sorted(m["To"].addresses[0].addr_spec for m in mailbox.messages) == [
            f"client{index}@example.com" for index in range(3)
        ]
    finally:
        stop(server)
        stop(runner)
        hanging.close()
        mailbox.stop()
