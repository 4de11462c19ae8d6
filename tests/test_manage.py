"""The client's manage link: see, cancel and reschedule a booking without signing in."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from itsdangerous import URLSafeSerializer
from sqlalchemy import select

from tests.support import BOOKING, Clock, book, csrf_token, deliver_outbox
from widget.booking import bookings
from widget.extensions import db
from widget.models import Booking, BookingStatus, CalendarEvent


def _slots(client, day="2026-11-25"):
    response = client.get(f"/api/slots?service=massage-60&start={day}&end={day}")
    return [slot["start"] for slot in response.json["slots"]]


def _post(client, url, page_url, **data):
    page = client.get(page_url)
    return client.post(url, data={"csrf_token": csrf_token(page.text), **data})


def test_manage_page_shows_the_booking_and_the_deadline(client):
    _, url = book(client)
    page = client.get(url)
    assert page.status_code == 200
    assert "Wednesday, November 25, 2026, 9:00 AM–10:00 AM MST" in page.text
    # 24 hours before: Tuesday 09:00.
    assert "until Tuesday, November 24, 2026, 9:00 AM MST" in page.text
    assert "Cancel my appointment" in page.text and "Choose another time" in page.text


def test_manage_page_cannot_be_framed(client):
    _, url = book(client)
    assert "frame-ancestors 'none'" in client.get(url).headers["Content-Security-Policy"]


def test_cancel_before_the_cut_off_frees_the_time(app, client):
    booking, url = book(client)
    assert BOOKING["start"] not in _slots(client)
    response = _post(client, f"{url}/cancel", url)
    assert response.status_code == 303 and "done=cancelled" in response.headers["Location"]
    assert "This booking is cancelled" in client.get(response.headers["Location"]).text
    assert BOOKING["start"] in _slots(client)
    with app.app_context():
        assert db.session.get(Booking, booking["id"]).status == BookingStatus.CANCELLED
        assert db.session.get(CalendarEvent, booking["id"]) is None


def test_cancel_after_the_cut_off_explains_and_shows_the_phone(app, client):
    booking, url = book(client)
    app.extensions["clock"].now = datetime(2026, 11, 24, 17, 0, tzinfo=timezone.utc)  # 23 h before
    page = client.get(url)
    assert "too late to change or cancel" in page.text and "801-471-0877" in page.text
    assert "Cancel my appointment" not in page.text
    app.extensions["clock"].now -= timedelta(hours=1)
    form_page = client.get(url)
    app.extensions["clock"].now += timedelta(hours=1)
    response = client.post(f"{url}/cancel", data={"csrf_token": csrf_token(form_page.text)})
    assert response.status_code == 409 and "801-471-0877" in response.text
    with app.app_context():
        assert db.session.get(Booking, booking["id"]).status == BookingStatus.CONFIRMED


def test_cancel_without_the_form_token_changes_nothing(app, client):
    booking, url = book(client)
    response = client.post(f"{url}/cancel", data={})
    assert response.status_code == 422 and "security token" in response.text
    with app.app_context():
        assert db.session.get(Booking, booking["id"]).status == BookingStatus.CONFIRMED


def test_cancelled_booking_link_says_so(client):
    _, url = book(client)
    _post(client, f"{url}/cancel", url)
    page = client.get(url)
    assert "This booking is cancelled" in page.text
    assert "Cancel my appointment" not in page.text and "Book again" in page.text


@pytest.mark.parametrize(
    "token",
    ["not-a-token", "Ijk4ZjljYWNjMjZhOTQ5YWRiYTk2Y2M1OThjOTA0NGQ1Ig.CLbiZ9kITiJpk_04yTdq038oZXY"],
)
def test_tampered_or_foreign_token_is_refused_with_a_clear_page(client, token):
    book(client)
    for response in (client.get(f"/manage/{token}"), client.post(f"/manage/{token}/cancel")):
        assert response.status_code == 404
        assert "not valid" in response.text and "801-471-0877" in response.text


def test_token_for_one_booking_cannot_act_on_another(app, client):
    """A token is the signature of one booking's id: another id needs another signature."""
    first, first_url = book(client)
    second, _ = book(client, start="2026-11-25T13:00:00-07:00", email="bo@example.com")
    forged = URLSafeSerializer("not-our-key", salt="manage-booking").dumps(second["id"])
    assert client.get(f"/manage/{forged}").status_code == 404
    _post(client, f"{first_url}/cancel", first_url)
    with app.app_context():
        assert db.session.get(Booking, first["id"]).status == BookingStatus.CANCELLED
        assert db.session.get(Booking, second["id"]).status == BookingStatus.CONFIRMED


def test_reschedule_moves_the_booking_and_its_calendar_event_in_one_step(app, client):
    booking, url = book(client)
    page = client.get(f"{url}/reschedule?date=2026-11-26")
    assert page.status_code == 200 and 'value="2026-11-26T10:00:00-07:00"' in page.text
    response = _post(
        client, f"{url}/reschedule", f"{url}/reschedule?date=2026-11-26", start="2026-11-26T10:00:00-07:00"
    )
    assert response.status_code == 303 and "done=moved" in response.headers["Location"]
    deliver_outbox(app)
    assert "Thursday, November 26, 2026, 10:00 AM" in client.get(response.headers["Location"]).text
    assert BOOKING["start"] in _slots(client)
    assert "2026-11-26T10:00:00-07:00" not in _slots(client, "2026-11-26")
    with app.app_context():
        rows = db.session.scalars(select(Booking)).all()
        assert len(rows) == 1 and rows[0].id == booking["id"] and rows[0].sequence == 1
        event = db.session.get(CalendarEvent, booking["id"])
        assert event.start_at == datetime(2026, 11, 26, 17, 0, tzinfo=timezone.utc)
        assert len(db.session.scalars(select(CalendarEvent)).all()) == 1


def test_reschedule_within_its_own_time_is_allowed(client):
    """Moving 15 minutes later overlaps only the booking itself."""
    _, url = book(client)
    response = _post(
        client, f"{url}/reschedule", f"{url}/reschedule?date=2026-11-26", start="2026-11-25T09:15:00-07:00"
    )
    assert response.status_code == 303


def test_reschedule_into_a_taken_time_answers_409_with_alternatives(app, client):
    booking, url = book(client)
    book(client, start="2026-11-26T10:00:00-07:00", email="bo@example.com")
    response = _post(
        client, f"{url}/reschedule", f"{url}/reschedule?date=2026-11-26", start="2026-11-26T10:30:00-07:00"
    )
    assert response.status_code == 409
    assert "no longer free" in response.text and 'type="radio"' in response.text
    with app.app_context():
        assert db.session.get(Booking, booking["id"]).start_at == datetime(2026, 11, 25, 16, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("start", "words"),
    [
        ("2026-11-26T12:00:00-07:00", "outside opening hours"),
        ("2026-11-26T10:05:00-07:00", "not one of the offered start times"),
        ("yesterday", "date-time"),
    ],
)
def test_reschedule_to_an_impossible_time_is_refused(client, start, words):
    _, url = book(client)
    response = _post(client, f"{url}/reschedule", f"{url}/reschedule?date=2026-11-26", start=start)
    assert response.status_code == 422 and words in response.text


def test_reschedule_after_the_cut_off_is_refused(app, client):
    _, url = book(client)
    page = client.get(f"{url}/reschedule?date=2026-11-26")
    app.extensions["clock"] = Clock(datetime(2026, 11, 24, 17, 0, tzinfo=timezone.utc))
    response = client.post(
        f"{url}/reschedule", data={"csrf_token": csrf_token(page.text), "start": "2026-11-26T10:00:00-07:00"}
    )
    assert response.status_code == 409 and "too late" in response.text


def test_database_refuses_a_reschedule_onto_another_booking(any_db_app):
    """Even past the checks, two confirmed bookings never overlap after a move."""
    with any_db_app.app_context():
        first, _ = bookings.book(
            "massage-60",
            datetime(2026, 11, 25, 16, 0, tzinfo=timezone.utc),
            "Ada",
            "ada@example.com",
            "801-555-0101",
        )
        bookings.book(
            "massage-60", datetime(2026, 11, 25, 20, 0, tzinfo=timezone.utc), "Bo", "bo@example.com", "801-555-0102"
        )
        with pytest.raises(bookings.SlotTaken):
            bookings.reschedule(first, datetime(2026, 11, 25, 20, 30, tzinfo=timezone.utc))
        with pytest.raises(Exception, match="overlap|exclu|bookings_no_overlap"):
            first = db.session.get(Booking, first.id)
            first.start_at = datetime(2026, 11, 25, 20, 30, tzinfo=timezone.utc)
            first.blocked_start = first.start_at
            first.blocked_end = first.start_at + timedelta(minutes=75)
            first.end_at = first.start_at + timedelta(minutes=60)
            db.session.commit()
        db.session.rollback()
        assert db.session.get(Booking, first.id).start_at == datetime(2026, 11, 25, 16, 0, tzinfo=timezone.utc)
