"""No input makes a 500: far-off dates, deep JSON and lone surrogates get a 4xx naming what is wrong."""

from __future__ import annotations

import json

import pytest

from tests.support import ARTICLE, BOOKING, book, csrf_token, form_token, post_comment

# NOW is 2026-11-23: the client window is five years either side of it.
WINDOW = "must be between 2021-11-23 and 2031-11-23"
FAR_DAYS = ["0001-01-01", "9999-12-31"]
FAR_INSTANTS = ["0001-01-01T00:00:00+00:00", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00"]


def _deep_list(depth: int) -> str:
    return "[" * depth + "]" * depth


def _deep_object(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


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
    url = book(client)[1]
    response = client.get(f"{url}/reschedule", query_string={name: day})
    assert response.status_code == 422
    assert f"The day &#39;{day}&#39; {WINDOW}" in response.text
    assert "date=2026-11-26" in response.text, "the days from today are still offered"
    assert f"from={day}" not in response.text, "links must not carry the bad day on"


@pytest.mark.parametrize("start", FAR_INSTANTS)
def test_far_off_start_in_reschedule_form_answers_422_naming_it(client, start):
    url = book(client)[1]
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


# --- JSON nested too deeply ------------------------------------------------------------------------------------------

DEEP_BODIES = [
    pytest.param(_deep_list(1000), id="list-1000"),
    pytest.param(_deep_object(1000), id="object-1000"),
    pytest.param(_deep_list(20_000), id="list-20000"),
    pytest.param('{"name": ' + _deep_list(20) + "}", id="field-20"),
]


@pytest.mark.parametrize("body", DEEP_BODIES)
def test_deeply_nested_booking_answers_400(client, body):
    response = client.post("/api/bookings", data=body, content_type="application/json")
    assert response.status_code == 400
    assert response.json["errors"] == {"body": "nests deeper than 8 levels"}


@pytest.mark.parametrize("body", DEEP_BODIES)
def test_deeply_nested_comment_answers_400(comment_client, body):
    response = comment_client.post("/api/comments", data=body, content_type="application/json")
    assert response.status_code == 400
    assert response.json["errors"] == {"body": "nests deeper than 8 levels"}


@pytest.mark.parametrize("body", DEEP_BODIES)
def test_deeply_nested_comment_edit_answers_400(comment_app, comment_client, body):
    posted = post_comment(comment_client, comment_app).json
    response = comment_client.patch(
        f"/api/comments/{posted['id']}",
        data=body,
        content_type="application/json",
        headers={"X-Comment-Token": posted["edit_token"]},
    )
    assert response.status_code == 400
    assert response.json["errors"] == {"body": "nests deeper than 8 levels"}


def test_body_nested_as_deep_as_allowed_is_read(client):
    """Eight levels of arrays and objects pass the reading; the booking rules then say what is wrong."""
    response = client.post("/api/bookings", json={**BOOKING, "notes": [[[[[[["deep"]]]]]]]})
    assert response.status_code == 422
    assert response.json["errors"] == {"notes": "must be text"}


# --- Lone surrogates -------------------------------------------------------------------------------------------------

SURROGATE_MESSAGE = "is not text: \\ud800 is half of a UTF-16 surrogate pair"


def _with_surrogate(body: dict, field: str) -> str:
    """Return ``body`` as JSON text with ``field`` holding a lone surrogate, escaped as JSON allows."""
    return json.dumps({**body, field: "Ada \ud800"})


@pytest.mark.parametrize("field", sorted(BOOKING) + ["notes", "timezone"])
def test_lone_surrogate_in_booking_field_answers_422_naming_it(client, field):
    response = client.post("/api/bookings", data=_with_surrogate(BOOKING, field), content_type="application/json")
    assert response.status_code == 422
    assert response.json["errors"] == {field: SURROGATE_MESSAGE}
    assert client.post("/api/bookings", json=BOOKING).status_code == 201, "nothing may be half-written"


def test_lone_surrogate_in_field_name_answers_422(client):
    body = json.dumps({**BOOKING, "colour\udfff": "blue"})
    response = client.post("/api/bookings", data=body, content_type="application/json")
    assert response.status_code == 422
    assert "lone surrogate" in response.json["errors"]["body"]


@pytest.mark.parametrize("field", ["page", "name", "email", "website", "body", "form_token", "homepage"])
def test_lone_surrogate_in_comment_field_answers_422_naming_it(comment_app, comment_client, field):
    fields = {"page": ARTICLE, "name": "Ada Reader", "email": "ada@reader.example", "body": "Lovely, thank you."}
    fields["form_token"] = form_token(comment_client)
    response = comment_client.post(
        "/api/comments", data=_with_surrogate(fields, field), content_type="application/json"
    )
    assert response.status_code == 422
    assert response.json["errors"] == {field: SURROGATE_MESSAGE}


def test_lone_surrogate_in_comment_edit_answers_422_naming_it(comment_app, comment_client):
    posted = post_comment(comment_client, comment_app).json
    response = comment_client.patch(
        f"/api/comments/{posted['id']}",
        data=_with_surrogate({}, "body"),
        content_type="application/json",
        headers={"X-Comment-Token": posted["edit_token"]},
    )
    assert response.status_code == 422
    assert response.json["errors"] == {"body": SURROGATE_MESSAGE}


@pytest.mark.parametrize(
    ("url", "fields"),
    [
        ("/book", {"service": "massage-60", "start": BOOKING["start"], "name": "%ED%A0%80"}),
        ("/comments", {"page": ARTICLE, "name": "%ED%A0%80", "email": "ada@reader.example", "body": "Hi %ED%A0%80"}),
    ],
)
def test_surrogate_bytes_in_form_post_arrive_as_replacement_characters(comment_client, url, fields):
    """A form can only send bytes; a surrogate's UTF-8 form is not valid UTF-8, so it is read as U+FFFD."""
    data = "&".join(f"{key}={value}" for key, value in fields.items())
    response = comment_client.post(url, data=data, content_type="application/x-www-form-urlencoded")
    assert response.status_code < 500
    assert "\ud800" not in response.text
