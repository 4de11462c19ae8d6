"""Free times on Google Calendar: few freeBusy calls whatever the traffic, never a stale answer after a change."""

from __future__ import annotations

import threading
import time

import pytest

from tests.support import deliver_outbox
from tests.test_google import DEFAULT_CALENDAR_ID, book, connect, local, make_google_app, slot_starts
from widget import calendars


@pytest.fixture
def google_app(tmp_path, mailbox, monkeypatch, standin):
    """Return an app on the Google backend, not connected yet."""
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    monkeypatch.setenv("OAUTHLIB_RELAX_TOKEN_SCOPE", "1")
    return make_google_app(tmp_path, standin, mailbox)


@pytest.fixture
def client(google_app):
    """Return a test client of google_app."""
    return google_app.test_client()


WEEK = "/api/slots?service=massage-60&start=2026-11-24&end=2026-11-30"


def freebusy_calls(standin) -> int:
    return standin.call_count("POST", "/freeBusy")


def widget_views(clients, rounds: int) -> None:
    """Look at the widget as visitors do: the day grid, a week of slots, a day's times, in turn on each worker."""
    for _ in range(rounds):
        for web in clients:
            for path in ("/book?service=massage-60", WEEK, "/book?service=massage-60&date=2026-11-25"):
                assert web.get(path).status_code == 200, path


def two_workers(tmp_path, standin, mailbox, monkeypatch, redis_url, seconds: int):
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    monkeypatch.setenv("OAUTHLIB_RELAX_TOKEN_SCOPE", "1")
    settings = {"REDIS_URL": redis_url, "FREEBUSY_CACHE_SECONDS": str(seconds)}
    one = make_google_app(tmp_path, standin, mailbox, **settings)
    two = make_google_app(tmp_path, standin, mailbox, **settings)  # same database: two workers
    connect(one, one.test_client(), standin)
    return one, two


def test_many_views_on_two_workers_cost_one_freebusy_call_per_expiry(
    tmp_path, mailbox, monkeypatch, standin, redis_url
):
    """However many widget views two workers serve, Google is asked once, and once again per expiry."""
    one, two = two_workers(tmp_path, standin, mailbox, monkeypatch, redis_url, seconds=3)
    clients = [one.test_client(), two.test_client()]
    standin.reset_calls()
    started = time.monotonic()
    widget_views(clients, rounds=20)
    elapsed = time.monotonic() - started
    assert freebusy_calls(standin) <= 1 + int(elapsed // 3)
    assert freebusy_calls(standin) >= 1

    # Past the expiry, eight visitors at once on both workers: one of them asks Google, the others are served.
    time.sleep(3.2)
    standin.reset_calls()
    barrier = threading.Barrier(8)
    failures = []

    def visit(web):
        barrier.wait()
        for path in ("/book?service=massage-60", WEEK):
            if web.get(path).status_code != 200:
                failures.append(path)

    threads = [threading.Thread(target=visit, args=(clients[i % 2],)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert freebusy_calls(standin) == 1


def test_an_event_added_in_google_shows_once_the_answer_expires(tmp_path, mailbox, monkeypatch, standin, redis_url):
    """The refresh after an expiry replaces the slots worked out from the old answer, on every worker."""
    one, two = two_workers(tmp_path, standin, mailbox, monkeypatch, redis_url, seconds=1)
    first, second = one.test_client(), two.test_client()
    assert "09:00" in slot_starts(first) and "09:00" in slot_starts(second)
    standin.add_event(DEFAULT_CALENDAR_ID, local(25, 9), local(25, 10))
    time.sleep(1.2)
    slot_starts(first)  # this one refreshes
    assert "09:00" not in slot_starts(second)
    assert "09:00" not in slot_starts(first)


def test_sixty_days_of_slots_cost_one_freebusy_call(google_app, client, standin):
    """The longest range the widget asks (60 days with its edges) is one call, not two."""
    connect(google_app, client, standin)
    standin.reset_calls()
    answer = client.get("/api/slots?service=massage-60&start=2026-11-23&end=2027-01-21")
    assert answer.status_code == 200 and answer.json["slots"]
    assert freebusy_calls(standin) == 1


def test_a_booking_drops_only_the_days_it_touches(google_app, client, standin):
    """After a booking's event is written, other days are served without asking Google; its own day is asked."""
    connect(google_app, client, standin)
    assert client.get("/book?service=massage-60").status_code == 200
    assert slot_starts(client, "2026-12-02")
    assert book(client).status_code == 201  # Wednesday 25 November, 09:00
    deliver_outbox(google_app)
    standin.reset_calls()
    assert slot_starts(client, "2026-12-02")
    assert client.get("/api/slots?service=massage-60&start=2026-11-30&end=2026-12-04").status_code == 200
    assert freebusy_calls(standin) == 0
    assert "09:00" not in slot_starts(client, "2026-11-25")
    [asked] = [r.json() for r in standin.requests if r.path.endswith("/freeBusy")]
    assert asked["timeMin"] == "2026-11-25T00:00:00Z"


def test_a_cancelled_booking_frees_its_time_at_once(google_app, client, standin):
    """Cancelling drops the kept answer of the booking's days: the time is offered again in the next read."""
    connect(google_app, client, standin)
    made = book(client)
    deliver_outbox(google_app)
    assert "09:00" not in slot_starts(client)
    manage = made.json["manage_url"].split("://", 1)[1].split("/", 1)[1]
    page = client.get(f"/{manage}")
    assert page.status_code == 200
    with google_app.app_context():
        from widget.booking import bookings
        from widget.extensions import db
        from widget.models import Booking

        bookings.cancel(db.session.get(Booking, made.json["id"]))
    deliver_outbox(google_app)
    assert "09:00" in slot_starts(client)


def test_each_thread_keeps_its_own_api_client(google_app, client, standin):
    """The API client (and its connection) is built once per thread and reused, never shared between threads."""
    connect(google_app, client, standin)
    with google_app.app_context():
        calendar = calendars.current()
        connection = calendar.connection()
        first, _ = calendar._service(connection)
        again, _ = calendar._service(connection)
        assert first is again
        other = {}

        def build_in_thread():
            with google_app.app_context():
                other["service"], _ = calendar._service(calendar.connection())

        thread = threading.Thread(target=build_in_thread)
        thread.start()
        thread.join()
        assert other["service"] is not first
        # Calls made meanwhile go through the kept client: no new one is built for them.
        standin.reset_calls()
        calendar.busy(local(24, 0), local(25, 0), fresh=True)
        calendar.busy(local(26, 0), local(27, 0), fresh=True)
        assert freebusy_calls(standin) == 2
        assert calendar._service(calendar.connection())[0] is first
