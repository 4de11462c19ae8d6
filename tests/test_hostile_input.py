"""No input makes a 500: far-off dates, deep JSON and lone surrogates get a 4xx naming what is wrong."""

from __future__ import annotations

import pytest

from tests.conftest import csrf_token

BOOKING = {
    "service": "massage-60",
    "start": "2026-11-25T09:00:00-07:00",
    "name": "Ada Client",
    "email": "ada@example.com",
    "phone": "801-555-0101",
}
# NOW is 2026-11-23: the client window is five years either side of it.
WINDOW = "must be between 2021-11-23 and 2031-11-23"
FAR_DAYS = ["0001-01-01", "9999-12-31"]
FAR_INSTANTS = ["0001-01-01T00:00:00+00:00", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00"]


def _manage_url(client) -> str:
    response = client.post("/api/bookings", json=BOOKING)
    assert response.status_code == 201, response.json
    return response.json["manage_url"].removeprefix("http://widget.test")


# --- Dates outside the client window ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "field"),
    [
        *[({"start": day}, "start") for day in FAR_DAYS],
        ({"start": "2026-11-24", "end": "9999-12-31"}, "end"),
        ({"start": "9999-12-25", "end": "9999-12-31"}, "start"),
        ({"end": "0001-01-01"}, "end"),
    ],
)
def test_far_off_day_in_slot_query_answers_422_naming_it(client, query, field):
    response = client.get("/api/slots", query_string={"service": "massage-60", **query})
    assert response.status_code == 422, response.text
    assert response.json["errors"][field] == WINDOW


@pytest.mark.parametrize("start", FAR_INSTANTS)
def test_far_off_booking_start_answers_422_naming_it(client, start):
    response = client.post("/api/bookings", json={**BOOKING, "start": start})
    assert response.status_code == 422, response.text
    assert response.json["errors"] == {"start": WINDOW}


@pytest.mark.parametrize("name", ["date", "from"])
@pytest.mark.parametrize("day", FAR_DAYS)
def test_far_off_day_on_booking_page_answers_422_page_that_still_offers_days(client, name, day):
    response = client.get("/book", query_string={"service": "massage-60", name: day})
    assert response.status_code == 422
    assert response.mimetype == "text/html"
    assert f"The day &#39;{day}&#39; {WINDOW}" in response.text
    assert "date=2026-11-24" in response.text, "the days from today are still offered"


@pytest.mark.parametrize("start", FAR_INSTANTS)
def test_far_off_start_on_booking_page_answers_422_page_naming_it(client, start):
    response = client.get("/book", query_string={"service": "massage-60", "start": start})
    assert response.status_code == 422
    assert WINDOW in response.text
    assert "service=massage-60" in response.text, "the services are still offered"


@pytest.mark.parametrize("start", FAR_INSTANTS)
def test_far_off_start_in_booking_form_answers_400_naming_it(client, start):
    page = client.get("/book", query_string={"service": "massage-60", "start": BOOKING["start"]})
    form = {"csrf_token": csrf_token(page.text), "service": "massage-60", "start": start, "name": "Ada"}
    response = client.post("/book", data={**form, "email": "ada@example.com", "phone": "801-555-0101"})
    assert response.status_code == 400
    assert WINDOW in response.text


@pytest.mark.parametrize("name", ["date", "from"])
@pytest.mark.parametrize("day", FAR_DAYS)
def test_far_off_day_on_reschedule_page_answers_422_page_that_still_offers_days(client, name, day):
    url = _manage_url(client)
    response = client.get(f"{url}/reschedule", query_string={name: day})
    assert response.status_code == 422
    assert f"The day &#39;{day}&#39; {WINDOW}" in response.text
    assert "date=2026-11-26" in response.text, "the days from today are still offered"
    assert f"from={day}" not in response.text, "links must not carry the bad day on"


@pytest.mark.parametrize("start", FAR_INSTANTS)
def test_far_off_start_in_reschedule_form_answers_422_naming_it(client, start):
    url = _manage_url(client)
    page = client.get(f"{url}/reschedule?date=2026-11-26")
    response = client.post(f"{url}/reschedule", data={"csrf_token": csrf_token(page.text), "start": start})
    assert response.status_code == 422
    assert f"The new time {WINDOW}" in response.text
    assert client.get(url).text.count("November 25, 2026") >= 1, "the booking has not moved"


@pytest.mark.parametrize("day", FAR_DAYS)
def test_far_off_day_of_blocked_time_is_refused_naming_it(admin, client, day):
    admin.login()
    page = client.get("/admin")
    form = {"day": day, "start": "09:00", "end": "10:00", "csrf_token": csrf_token(page.text)}
    response = client.post("/admin/block", data=form)
    assert response.status_code == 302
    assert WINDOW in client.get("/admin").text
