"""The JSON API: services, slots, bookings, and every kind of bad input."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from tests.support import Clock

BODY = {
    "service": "massage-60",
    "start": "2026-11-24T09:00:00-07:00",
    "name": "Ada Client",
    "email": "ada@example.com",
    "phone": "801-555-0101",
}


def _slots(client, **params):
    query = {"service": "massage-60", "start": "2026-11-24", "end": "2026-11-24", **params}
    response = client.get("/api/slots", query_string=query)
    assert response.status_code == 200, response.json
    return [slot["start"] for slot in response.json["slots"]]


def test_services_lists_the_studio_services(client):
    services = client.get("/api/services").json["services"]
    assert [(s["id"], s["duration_minutes"], s["price"]) for s in services] == [
        ("massage-30", 30, "55.00"),
        ("massage-60", 60, "95.00"),
        ("massage-90", 90, "135.00"),
    ]


def test_slots_of_a_weekday_in_studio_time(client):
    starts = _slots(client)
    assert starts[0] == "2026-11-24T09:00:00-07:00"
    assert starts[-1] == "2026-11-24T17:00:00-07:00"
    # The lunch break: nothing that would run past noon or start before 13:00.
    assert "2026-11-24T11:15:00-07:00" not in starts and "2026-11-24T12:00:00-07:00" not in starts
    assert "2026-11-24T11:00:00-07:00" in starts and "2026-11-24T13:00:00-07:00" in starts


def test_slots_in_the_client_zone_use_its_days_and_offset(client):
    """A London client's Nov 24 runs from 17:00 Nov 23 to 17:00 Nov 24 in Denver."""
    starts = _slots(client, tz="Europe/London")
    assert starts[0] == "2026-11-24T16:00:00+00:00"  # 09:00 in Denver
    # London's day ends at 17:00 in Denver, so the 17:00 slot belongs to Nov 25 there.
    assert starts[-1] == "2026-11-24T23:45:00+00:00"
    tokyo = _slots(client, tz="Asia/Tokyo", start="2026-11-25", end="2026-11-25")
    assert tokyo[0] == "2026-11-25T01:00:00+09:00"  # Tuesday 09:00 in Denver


def test_slots_on_both_daylight_saving_days(app, client):
    """Saturday after each change: the wall-clock hours stay 10:00-14:00 in Denver."""
    app.extensions["clock"] = Clock(datetime(2026, 2, 20, tzinfo=timezone.utc))
    spring = _slots(client, service="massage-60", start="2026-03-07", end="2026-03-09")
    assert spring[0] == "2026-03-07T10:00:00-07:00"  # Saturday, still MST
    assert "2026-03-09T09:00:00-06:00" in spring  # Monday, now MDT
    assert not [s for s in spring if s.startswith("2026-03-08")]  # closed Sunday
    app.extensions["clock"] = Clock(datetime(2026, 10, 20, tzinfo=timezone.utc))
    autumn = _slots(client, start="2026-10-31", end="2026-11-02", tz="UTC")
    assert autumn[0] == "2026-10-31T16:00:00+00:00"  # 10:00 MDT
    assert "2026-11-02T16:00:00+00:00" in autumn  # 09:00 MST


def test_booking_returns_201_and_its_time_disappears(client):
    assert BODY["start"] in _slots(client)
    response = client.post("/api/bookings", json=BODY)
    assert response.status_code == 201, response.json
    booking = response.json
    assert booking["status"] == "confirmed"
    assert (booking["start"], booking["end"]) == ("2026-11-24T09:00:00-07:00", "2026-11-24T10:00:00-07:00")
    assert booking["manage_url"].startswith("http://widget.test/manage/")
    assert BODY["start"] not in _slots(client)
    # 15 minutes of clean-up: the 10:00 start is gone for everyone, 10:15 is free.
    assert "2026-11-24T10:00:00-07:00" not in _slots(client)
    assert "2026-11-24T10:15:00-07:00" in _slots(client)


def test_same_booking_posted_twice_with_its_idempotency_key_is_one_booking(client):
    key = {"Idempotency-Key": "0b6f2c1e-9d43-4c2a-8d1e-5f7a3b9c2d10"}
    first = client.post("/api/bookings", json=BODY, headers=key)
    second = client.post("/api/bookings", json=BODY, headers=key)
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json["id"] == second.json["id"]
    assert first.json["manage_url"] == second.json["manage_url"]


# Was: the same service, start and email (in any case) answered 200 with the booking and its manage_url.
@pytest.mark.parametrize("headers", [{}, {"Idempotency-Key": "a-guess"}], ids=["without a key", "with another key"])
@pytest.mark.parametrize("email", ["ada@example.com", "ADA@EXAMPLE.COM"])
def test_a_stranger_who_knows_the_email_cannot_take_the_booking_over(client, headers, email):
    client.post("/api/bookings", json=BODY, headers={"Idempotency-Key": "ada-own-key"})
    response = client.post("/api/bookings", json={**BODY, "email": email}, headers=headers)
    assert response.status_code == 409
    assert set(response.json) == {"errors", "alternatives"}
    assert "manage" not in response.text and "ada" not in response.text.lower()


def test_an_idempotency_key_reused_for_another_booking_is_422(client):
    client.post("/api/bookings", json=BODY, headers={"Idempotency-Key": "k-1"})
    response = client.post(
        "/api/bookings", json={**BODY, "start": "2026-11-24T13:00:00-07:00"}, headers={"Idempotency-Key": "k-1"}
    )
    assert response.status_code == 422
    assert set(response.json["errors"]) == {"Idempotency-Key"}


def test_bookings_per_address_are_rate_limited_with_retry_after(tmp_path):
    from tests.support import make_app

    client = make_app(tmp_path, BOOKING_RATE_LIMIT="2 per hour").test_client()
    starts = ["2026-11-24T09:00:00-07:00", "2026-11-24T13:00:00-07:00", "2026-11-24T15:00:00-07:00"]
    answers = [
        client.post("/api/bookings", json={**BODY, "start": start, "email": f"c{i}@example.com"})
        for i, start in enumerate(starts)
    ]
    assert [answer.status_code for answer in answers] == [201, 201, 429]
    limited = answers[-1]
    assert int(limited.headers["Retry-After"]) > 0
    assert "801-471-0877" in limited.json["errors"]["booking"] and limited.json["phone"] == "801-471-0877"
    # The widget's form shares the same budget.
    page = client.post("/book", data={"service": "massage-60", "start": starts[2]})
    assert page.status_code == 429 and "801-471-0877" in page.text


def test_future_bookings_per_email_are_capped_with_429(tmp_path):
    from tests.support import make_app

    client = make_app(tmp_path, MAX_FUTURE_BOOKINGS="2").test_client()
    for day in ("24", "25"):
        assert client.post("/api/bookings", json={**BODY, "start": f"2026-11-{day}T09:00:00-07:00"}).status_code == 201
    response = client.post("/api/bookings", json={**BODY, "start": "2026-11-26T09:00:00-07:00"})
    assert response.status_code == 429
    assert "2 upcoming appointments" in response.json["errors"]["email"]
    assert response.json["phone"] == "801-471-0877"


def test_taken_time_answers_409_with_nearest_alternatives(client):
    client.post("/api/bookings", json=BODY)
    response = client.post("/api/bookings", json={**BODY, "email": "bo@example.com", "timezone": "Europe/London"})
    assert response.status_code == 409
    assert response.json["errors"] == {"start": "is no longer free"}
    alternatives = [slot["start"] for slot in response.json["alternatives"]]
    assert alternatives == ["2026-11-24T17:15:00+00:00", "2026-11-24T17:30:00+00:00", "2026-11-24T17:45:00+00:00"]


def test_booking_with_client_timezone_answers_in_that_zone(client):
    response = client.post("/api/bookings", json={**BODY, "timezone": "Asia/Kolkata"})
    assert response.status_code == 201
    assert response.json["start"] == "2026-11-24T21:30:00+05:30"


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"service": "hot-stones"}, "service", "not one of our services"),
        ({"service": 7}, "service", "not one of our services"),
        ({"start": "2026-11-24"}, "start", "date-time"),
        ({"start": "2026-02-30T09:00:00-07:00"}, "start", "date-time"),
        ({"start": "tomorrow"}, "start", "date-time"),
        ({"start": "2026-11-24T09:00:00"}, "start", "offset"),
        ({"start": "2026-11-20T09:00:00-07:00"}, "start", "in the past"),
        ({"start": "2026-11-23T19:00:00-07:00"}, "start", "too soon"),
        ({"start": "2026-11-24T07:00:00-07:00"}, "start", "outside opening hours"),
        ({"start": "2026-11-24T12:00:00-07:00"}, "start", "outside opening hours"),
        ({"start": "2026-11-29T10:00:00-07:00"}, "start", "outside opening hours"),
        ({"start": "2026-11-24T09:05:00-07:00"}, "start", "not one of the offered start times"),
        ({"start": "2027-03-01T09:00:00-07:00"}, "start", "too far ahead"),
        ({"name": ""}, "name", "required"),
        ({"name": "x" * 101}, "name", "at most 100"),
        ({"name": "Ada\r\nBcc: victim@example.com"}, "name", "one line"),
        ({"email": "not-an-email"}, "email", "not a valid email"),
        ({"email": "a@" + "b" * 250 + ".com"}, "email", "at most 254"),
        ({"phone": "call me"}, "phone", "phone number"),
        ({"phone": "1" * 40}, "phone", "at most 32"),
        ({"notes": "n" * 2001}, "notes", "at most 2000"),
        ({"notes": ["list"]}, "notes", "must be text"),
        ({"timezone": "Mars/Olympus"}, "timezone", "time zone"),
        ({"colour": "blue"}, "colour", "not a field"),
    ],
)
def test_bad_booking_field_answers_422_naming_it(client, change, field, words):
    response = client.post("/api/bookings", json={**BODY, **change})
    assert response.status_code == 422, response.json
    assert words in response.json["errors"][field]
    assert client.get("/api/slots", query_string={"service": "massage-60", "start": "2026-11-24"}).status_code == 200
    assert BODY["start"] in _slots(client), "nothing may be half-written"


def test_missing_fields_are_all_named(client):
    response = client.post("/api/bookings", json={"notes": "hi"})
    assert response.status_code == 422
    assert set(response.json["errors"]) == {"service", "start", "name", "email", "phone"}


def test_unusual_but_valid_email_is_accepted(client):
    response = client.post("/api/bookings", json={**BODY, "email": "o'brien+massage@sub.example.co.uk"})
    assert response.status_code == 201, response.json


@pytest.mark.parametrize(
    ("data", "content_type", "status", "words"),
    [
        ("service=massage-60", "application/x-www-form-urlencoded", 415, "must be JSON"),
        ("{not json", "application/json", 400, "not valid JSON"),
        ('["a", "list"]', "application/json", 400, "JSON object"),
        ("null", "application/json", 400, "not valid JSON"),
    ],
)
def test_non_json_body_is_refused(client, data, content_type, status, words):
    response = client.post("/api/bookings", data=data, content_type=content_type)
    assert response.status_code == status
    assert words in response.json["errors"]["body"]


def test_oversized_body_is_refused_with_413(client):
    response = client.post("/api/bookings", json={**BODY, "notes": "n" * 70_000})
    assert response.status_code == 413
    assert response.json["status"] == 413


@pytest.mark.parametrize(
    ("params", "field", "words"),
    [
        ({"service": "nope"}, "service", "not one of our services"),
        ({"service": None}, "service", "not one of our services"),
        ({"start": "2026-13-01"}, "start", "not a date"),
        ({"end": "24/11/2026"}, "end", "not a date"),
        ({"start": "2026-11-25", "end": "2026-11-24"}, "end", "not be before start"),
        ({"start": "2026-11-24", "end": "2027-02-01"}, "end", "less than 62 days"),
        ({"tz": "Not/AZone"}, "tz", "time zone"),
        ({"tz": "../../etc/passwd"}, "tz", "time zone"),
    ],
)
def test_bad_slot_query_answers_422_naming_it(client, params, field, words):
    query = {"service": "massage-60", **params}
    response = client.get("/api/slots", query_string={k: v for k, v in query.items() if v is not None})
    assert response.status_code == 422
    assert words in response.json["errors"][field]


def test_unknown_api_path_answers_json_404(client):
    response = client.get("/api/nothing-here")
    assert response.status_code == 404
    assert response.json["status"] == 404


def test_wrong_method_answers_json_405(client):
    response = client.delete("/api/bookings")
    assert response.status_code == 405
    assert json.loads(response.data)["status"] == 405


@pytest.mark.parametrize(
    ("method", "url", "allowed", "mimetype"),
    [
        ("delete", "/api/bookings", {"POST", "OPTIONS"}, "application/json"),
        ("patch", "/api/services", {"GET", "HEAD", "OPTIONS"}, "application/json"),
        ("post", "/healthz", {"GET", "HEAD", "OPTIONS"}, "application/json"),
        ("put", "/book", {"GET", "HEAD", "POST", "OPTIONS"}, "text/html"),
        ("delete", "/comments", {"GET", "HEAD", "POST", "OPTIONS"}, "text/html"),
    ],
)
def test_wrong_method_answer_keeps_its_allow_header(client, method, url, allowed, mimetype):
    """RFC 9110 requires Allow on a 405; the HTML error page dropped it."""
    response = getattr(client, method)(url)
    assert response.status_code == 405
    assert response.mimetype == mimetype
    assert {name.strip() for name in response.headers["Allow"].split(",")} == allowed


def test_healthz_reports_database_and_calendar(client):
    health = client.get("/healthz").json
    assert health == {"status": "ok", "database": "ok", "calendar": "ok", "ratelimits": "per-process"}
