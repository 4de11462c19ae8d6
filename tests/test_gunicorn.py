"""The service as an operator runs it: gunicorn with several workers, real HTTP on 127.0.0.1."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from datetime import date, datetime, timedelta, timezone
from datetime import time as clock_time
from zoneinfo import ZoneInfo

import pytest
import requests
from sqlalchemy import func, select

from tests.support import EXAMPLE_RULES, POSTGRES_URL, ROOT, make_app, reset_postgres
from tests.support.servers import free_port, stop
from widget import outbox
from widget.booking import bookings, links
from widget.extensions import db
from widget.models import Booking, BookingStatus, OutboxMessage, OutboxStatus

SECRET = "gunicorn-test-secret-key-of-enough-length"
DENVER = ZoneInfo("America/Denver")


def _gunicorn(workers: int, **settings) -> tuple[subprocess.Popen, str]:
    """Start gunicorn from the project folder (so it reads gunicorn.conf.py); return it and its address."""
    port = free_port()
    env = {
        **os.environ,
        "SECRET_KEY": SECRET,
        "BUSINESS_CONFIG": EXAMPLE_RULES,
        "PUBLIC_URL": "http://widget.test",
        **settings,
    }
    for name in ("REDIS_URL", "WIDGET_ENV", "DATABASE_URL"):
        if name not in settings:
            env.pop(name, None)
    command = [sys.executable, "-m", "gunicorn", "--workers", str(workers), "--bind", f"127.0.0.1:{port}", "wsgi:app"]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return process, f"http://127.0.0.1:{port}"


def _wait_ready(process: subprocess.Popen, base: str) -> dict:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"gunicorn stopped: {process.stderr.read()}")
        try:
            return requests.get(f"{base}/healthz", timeout=10).json()
        except (requests.ConnectionError, requests.Timeout):  # workers still starting
            time.sleep(0.2)
    raise AssertionError("gunicorn did not answer within 30 s")


def test_production_with_several_workers_and_no_redis_refuses_to_start(tmp_path):
    process, _ = _gunicorn(2, WIDGET_ENV="production", DATABASE_URL=f"sqlite:///{tmp_path / 'w.db'}")
    try:
        _, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            stop(process)
    assert process.returncode != 0
    assert "REDIS_URL" in stderr and "2 workers" in stderr


def test_one_worker_without_redis_warns_and_says_so_in_healthz(tmp_path):
    process, base = _gunicorn(1, WIDGET_ENV="production", DATABASE_URL=f"sqlite:///{tmp_path / 'w.db'}")
    try:
        health = _wait_ready(process, base)
    finally:
        stderr = stop(process)
    assert health["ratelimits"] == "per-process"
    assert "REDIS_URL is not set" in stderr


def test_several_workers_with_redis_share_their_limits(tmp_path, redis_url):
    """Booking attempts from one address are counted once across workers: the third of any is refused."""
    process, base = _gunicorn(
        2,
        WIDGET_ENV="production",
        DATABASE_URL=f"sqlite:///{tmp_path / 'w.db'}",
        REDIS_URL=redis_url,
        BOOKING_RATE_LIMIT="2 per hour",
    )
    try:
        health = _wait_ready(process, base)
        # Sent at once, so both workers take some (each would allow two if it counted alone);
        # an empty body still counts as an attempt.
        barrier, statuses = threading.Barrier(16), []

        def attempt():
            barrier.wait(timeout=30)
            statuses.append(requests.post(f"{base}/api/bookings", json={}, timeout=30).status_code)

        threads = [threading.Thread(target=attempt) for _ in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        stop(process)
    assert health["ratelimits"] == "shared"
    assert sorted(statuses) == [422, 422] + [429] * 14, statuses


def _open_day(after: date) -> date:
    """Return the first Wednesday from ``after`` on that the example rules keep open."""
    day = after
    while day.weekday() != 2 or day.isoformat() in ("2026-12-23", "2026-12-24", "2026-12-25", "2027-01-01"):
        day += timedelta(days=1)
    return day


@pytest.mark.parametrize("cancels", [6, 0], ids=["cancels-and-moves", "moves-only"])
def test_four_workers_on_postgresql_change_one_booking_at_once(tmp_path, mailbox, cancels):
    """Twelve changes of one booking over real HTTP: one truth in the database, the emails end with it."""
    reset_postgres()
    app = make_app(tmp_path, POSTGRES_URL, SECRET_KEY=SECRET, MAIL_SERVER="127.0.0.1", MAIL_PORT=str(mailbox.port))
    app.extensions.pop("clock")  # the workers run on the real clock; so does this process
    day = _open_day(datetime.now(timezone.utc).astimezone(DENVER).date() + timedelta(days=3))
    start = datetime.combine(day, clock_time(9), tzinfo=DENVER).astimezone(timezone.utc)
    with app.app_context():
        booking, _ = bookings.book("massage-60", start, "Ada Client", "ada@example.com", "801-555-0101")
        booking_id, token = booking.id, links.manage_token(booking)
        db.engine.dispose()

    process, base = _gunicorn(
        4, DATABASE_URL=POSTGRES_URL, MAIL_SERVER="127.0.0.1", MAIL_PORT=str(mailbox.port), MAIL_USE_TLS="false"
    )
    try:
        _wait_ready(process, base)
        # Each form's own token, as a browser would have it from each page.
        cancel_token, move_token = (
            re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', requests.get(url, timeout=10).text).group(1)
            for url in (f"{base}/manage/{token}", f"{base}/manage/{token}/reschedule?date={day.isoformat()}")
        )
        targets = [start + timedelta(hours=4, minutes=15 * i) for i in range(12 - cancels)]
        calls = [("cancel", {"csrf_token": cancel_token})] * cancels + [
            ("reschedule", {"csrf_token": move_token, "start": target.isoformat()}) for target in targets
        ]
        barrier = threading.Barrier(len(calls))
        statuses = []

        def call(action, form):
            barrier.wait(timeout=30)
            answer = requests.post(f"{base}/manage/{token}/{action}", data=form, allow_redirects=False, timeout=60)
            statuses.append((action, answer.status_code))

        threads = [threading.Thread(target=call, args=call_args) for call_args in calls]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=90)
    finally:
        stop(process)

    assert len(statuses) == len(calls)
    # Every answer is one a person can act on: done (303), or the booking as it now is (409).
    assert {status for _, status in statuses} <= {303, 409}, statuses
    moves = [status for action, status in statuses if action == "reschedule" and status == 303]
    # Four workers take twelve requests a few at a time: a move that starts after another has
    # finished sees the new sequence and may move the booking again; racing ones may not.
    assert cancels or moves, statuses
    with app.app_context():
        for _ in range(30):
            if not db.session.scalar(select(func.count()).where(OutboxMessage.status == OutboxStatus.PENDING)):
                break
            time.sleep(0.2)
            outbox.deliver_due()
        booking = db.session.get(Booking, booking_id)
        final = BookingStatus.CANCELLED if cancels else BookingStatus.CONFIRMED
        assert booking.status == final and booking.sequence == len(moves) + (1 if cancels else 0)
    subjects = [str(message["Subject"]).strip().split(":")[0] for message in mailbox.received_by("ada@example.com")]
    assert subjects == ["Booked", *(["Moved"] * len(moves)), *(["Cancelled"] if cancels else [])], subjects
    if not cancels:
        when = booking.start_at.astimezone(DENVER)
        assert when.strftime("%-I:%M %p") in mailbox.received_by("ada@example.com")[-1]["Subject"]
