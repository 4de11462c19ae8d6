"""The Google Calendar backend end to end: the admin's connect flow, free/busy, event writes, faults, lost grants.

Everything runs against tests/google_standin.py on 127.0.0.1 with the real client libraries; the app runs on
SQLite (make_app) and sends its mail to a real SMTP server (the mailbox fixture).
"""

from __future__ import annotations

import html
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import pytest

pytest.importorskip("googleapiclient")
pytest.importorskip("google_auth_oauthlib")

import requests  # noqa: E402
from cryptography.fernet import Fernet  # noqa: E402
from icalendar import Calendar  # noqa: E402
from sqlalchemy import func, select, text  # noqa: E402

from tests.google_standin import DEFAULT_CALENDAR_ID  # noqa: E402
from tests.support import GOOGLE_CALLBACK, Admin, csrf_token, deliver_outbox, make_app  # noqa: E402
from widget import calendars  # noqa: E402
from widget.booking import (
    bookings,  # noqa: E402
    business,
)
from widget.extensions import db  # noqa: E402
from widget.models import Booking, OAuthState, OutboxMessage, OutboxStatus  # noqa: E402

UTC = timezone.utc
CALLBACK = GOOGLE_CALLBACK
PHONE = "801-471-0877"
LOST_SUBJECT = "Online booking is paused: reconnect Google Calendar"
THERAPIST = "therapist@studio.example"
PERSONAL = "personal@group.calendar.google.com"
WEDNESDAY = "2026-11-25"  # two days after NOW (Monday 2026-11-23 08:00 in Denver, UTC-7)
THURSDAY = "2026-11-26"
API = "/calendar/v3/"
SCOPE = "https://www.googleapis.com/auth/"
FULL_SCOPE = SCOPE + "calendar"
NARROW_SCOPES = {
    SCOPE + "calendar.freebusy",
    SCOPE + "calendar.calendarlist.readonly",
    SCOPE + "calendar.events.readonly",
    SCOPE + "calendar.events.owned",
}
TEAM = "team@group.calendar.google.com"


# --------------------------------------------------------------------------------------------------- fixtures


def make_google_app(tmp_path, standin, mailbox, **overrides):
    """Create an app on the Google backend, pointed at the stand-in and the mailbox."""
    settings = {
        "CALENDAR_BACKEND": "google",
        "GOOGLE_CLIENT_ID": standin.client_id,
        "GOOGLE_CLIENT_SECRET": standin.client_secret,
        "GOOGLE_AUTH_URI": standin.auth_uri,
        "GOOGLE_TOKEN_URI": standin.token_uri,
        "GOOGLE_API_ENDPOINT": standin.api_endpoint,
        "GOOGLE_RETRY_SECONDS": "2",
        "GOOGLE_TIMEOUT": "2",
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": str(mailbox.port),
    }
    return make_app(tmp_path, **(settings | overrides))


@pytest.fixture
def google_app(tmp_path, mailbox, monkeypatch, standin):
    """Return an app on the Google backend (not connected yet); the stand-in is plain http, so oauthlib is told."""
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    monkeypatch.setenv("OAUTHLIB_RELAX_TOKEN_SCOPE", "1")
    return make_google_app(tmp_path, standin, mailbox)


@pytest.fixture
def client(google_app):
    """Return a test client of google_app."""
    return google_app.test_client()


# --------------------------------------------------------------------------------------------------- helpers


def start_consent(app, client) -> str:
    """Sign in, open /admin/google and press Connect; return the consent address the app redirects to."""
    admin = Admin(app, client)
    admin.set_password()
    assert admin.login().status_code == 302
    page = client.get("/admin/google")
    assert page.status_code == 200
    response = client.post("/admin/google/connect", data={"csrf_token": csrf_token(page.text)})
    assert response.status_code == 302
    return response.headers["Location"]


def consent(url: str, callback: str = CALLBACK) -> str:
    """Open Google's consent page like a browser; return where Google sends the browser back to."""
    response = requests.get(url, allow_redirects=False, timeout=5)
    assert response.status_code == 302, response.text
    location = response.headers["Location"]
    assert location.startswith(callback + "?")
    return location


def come_back(client, location: str):
    """Open Google's redirect in the app; return the /admin/google page it lands on."""
    parts = urlsplit(location)
    response = client.get(f"{parts.path}?{parts.query}")
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/admin/google"
    page = client.get("/admin/google")
    assert page.status_code == 200
    return page


def connect(app, client, standin) -> str:
    """Connect Google Calendar through the real admin pages; return the callback address used."""
    location = consent(start_consent(app, client))
    page = come_back(client, location)
    assert "Google Calendar is connected. Choose your calendars below." in page.text
    return location


def choose(client, busy: list[str], booking: str) -> str:
    """Save the calendar choice on /admin/google; return the text of the page it lands on."""
    page = client.get("/admin/google")
    data = {"csrf_token": csrf_token(page.text), "busy": busy, "booking": booking}
    response = client.post("/admin/google/calendars", data=data)
    assert response.status_code == 302
    return text_of(client.get("/admin/google"))


def text_of(response) -> str:
    """Return a page's text with HTML entities decoded."""
    return html.unescape(response.text)


def local(day: int, hour: int, minute: int = 0) -> datetime:
    """Return 2026-11-<day> at a Denver wall time (UTC-7 in November), in UTC."""
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC) + timedelta(hours=7)


def book(client, start: str = f"{WEDNESDAY}T09:00:00-07:00", key: str | None = None, deliver=True, **changes):
    """Book a 60-minute massage through the API (with an Idempotency-Key if given); return the response.

    Then, unless ``deliver`` is False, the outbox is delivered as the jobs runner would right after.
    """
    body = {
        "service": "massage-60",
        "start": start,
        "name": "Ada Client",
        "email": "ada@example.com",
        "phone": "801-555-0101",
        "notes": "Left shoulder is sore.",
    }
    response = client.post("/api/bookings", json=body | changes, headers={"Idempotency-Key": key} if key else {})
    if deliver:
        deliver_outbox(client.application)
    return response


def slots(client, day: str = WEDNESDAY):
    """Ask the API for the free 60-minute slots of one studio day; return the response."""
    return client.get(f"/api/slots?service=massage-60&start={day}&end={day}")


def slot_starts(client, day: str = WEDNESDAY) -> list[str]:
    """Return the start times (HH:MM, Denver) of the free 60-minute slots of one day."""
    response = slots(client, day)
    assert response.status_code == 200, response.json
    return [slot["start"][11:16] for slot in response.json["slots"]]


def calendar_calls(standin) -> list[tuple[str, str]]:
    """Return the Calendar API requests the stand-in received (token requests are not among them)."""
    return [(method, path) for method, path in standin.calls if path.startswith(API)]


@dataclass
class Row:
    """An outbox row, as plain values."""

    key: str
    status: str
    attempts: int
    last_error: str | None
    next_attempt_at: datetime


def calendar_rows(app) -> dict[str, Row]:
    """Return the outbox's calendar entries by key."""
    with app.app_context():
        rows = db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "calendar")).all()
        return {r.key: Row(r.key, r.status, r.attempts, r.last_error, r.next_attempt_at) for r in rows}


def run_jobs(app, minutes: int = 10) -> str:
    """Move the app's clock past the retry waits and run ``run-jobs --once``; return its output."""
    app.extensions["clock"].now += timedelta(minutes=minutes)
    result = app.test_cli_runner().invoke(args=["run-jobs", "--once"])
    assert result.exit_code == 0, result.output
    return result.output


def connection_row(app) -> dict | None:
    """Return the stored google_connection row as a dict of its columns, or None."""
    with app.app_context():
        row = db.session.execute(text("SELECT * FROM google_connection")).mappings().one_or_none()
        return dict(row) if row is not None else None


def booking_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Booking))


def lost_emails(app, mailbox) -> list:
    """Return the "booking is paused" emails the therapist received."""
    deliver_outbox(app)  # as the jobs runner would
    return [m for m in mailbox.received_by(THERAPIST) if m["Subject"] == LOST_SUBJECT]


def google_delete(standin, event_id: str) -> None:
    """Delete an event on Google's side, as the therapist would in Google Calendar."""
    token, _ = standin.issue_tokens()
    url = f"{standin.api_endpoint}calendars/{DEFAULT_CALENDAR_ID}/events/{event_id}"
    response = requests.delete(url, headers={"Authorization": f"Bearer {token}"}, timeout=5)
    assert response.status_code == 204


def event_ids(standin, calendar_id: str = DEFAULT_CALENDAR_ID, include_deleted: bool = True) -> list[str]:
    return [event["id"] for event in standin.events(calendar_id, include_deleted=include_deleted)]


# --------------------------------------------------------------------------------------------------- 1. connect


def test_connect_through_the_admin_stores_an_encrypted_offline_grant(google_app, client, standin):
    """Connecting asks for offline access with consent, PKCE and a state, and keeps the refresh token encrypted."""
    standin.add_calendar("team@group.calendar.google.com", "Team", access_role="reader")
    assert client.get("/healthz").json["calendar"] == "disconnected"

    location = connect(google_app, client, standin)

    sent = standin.last_auth_request
    assert sent["access_type"] == "offline"
    assert sent["prompt"] == "consent"
    assert sent["code_challenge_method"] == "S256" and sent["code_challenge"]
    assert sent["redirect_uri"] == CALLBACK
    assert sent["response_type"] == "code"
    assert set(sent["scope"].split()) == NARROW_SCOPES
    returned = parse_qs(urlsplit(location).query)
    assert sent["state"] and returned["state"] == [sent["state"]]
    exchange = next(r for r in standin.requests if r.path == "/token")
    assert exchange.form()["grant_type"] == "authorization_code" and exchange.form()["code_verifier"]
    with google_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(OAuthState)) == 0  # the state is single-use

    [refresh_token] = standin.active_refresh_tokens()
    row = connection_row(google_app)
    assert row["status"] == "connected"
    assert all(refresh_token not in str(value) for value in row.values())
    key = google_app.config["GOOGLE_TOKEN_KEY"]
    assert Fernet(key).decrypt(row["refresh_token"].encode()).decode() == refresh_token

    health = client.get("/healthz")
    assert (health.status_code, health.json["calendar"]) == (200, "ok")

    page = text_of(client.get("/admin/google"))
    assert "Connected. Free times come from the calendars ticked below" in page
    assert "Therapist (primary)" in page
    assert 'Team <span class="muted">read-only</span>' in page
    assert f'value="{DEFAULT_CALENDAR_ID}"' in page and 'value="team@group.calendar.google.com"' in page


def test_only_the_narrow_scopes_are_asked_and_every_call_works_under_them(google_app, client, standin):
    """Free/busy, the calendar list, event writes, moves and deletes, and reading a busy calendar she does not own
    all succeed with the narrow grant; the stand-in refuses any call those scopes do not allow."""
    standin.add_calendar(TEAM, "Team", access_role="reader")
    connect(google_app, client, standin)
    assert set(standin.last_auth_request["scope"].split()) == NARROW_SCOPES
    assert FULL_SCOPE not in standin.last_auth_request["scope"].split()
    assert set(connection_row(google_app)["scopes"].split()) == NARROW_SCOPES
    assert "full access to your calendars" not in text_of(client.get("/admin/google"))

    assert "Calendars saved." in choose(client, [DEFAULT_CALENDAR_ID, TEAM], DEFAULT_CALENDAR_ID)  # calendarList
    standin.add_event(TEAM, local(25, 13), local(25, 14), summary="Team meeting")
    assert "13:00" not in slot_starts(client)  # freeBusy over both calendars
    made = book(client).json  # events.insert
    assert standin.event(DEFAULT_CALENDAR_ID, made["id"])["status"] == "confirmed"
    url = made["manage_url"].replace("http://widget.test", "")
    page = client.get(f"{url}/reschedule?date={THURSDAY}")
    moved = client.post(
        f"{url}/reschedule", data={"csrf_token": csrf_token(page.text), "start": f"{THURSDAY}T10:00:00-07:00"}
    )
    deliver_outbox(google_app)
    assert moved.status_code == 303  # events.insert answers 409, then events.patch
    assert standin.event(DEFAULT_CALENDAR_ID, made["id"])["start"]["dateTime"] == f"{THURSDAY}T10:00:00-07:00"
    cancelled = client.post(f"{url}/cancel", data={"csrf_token": csrf_token(client.get(url).text)})
    deliver_outbox(google_app)
    assert cancelled.status_code == 303  # events.delete
    assert standin.event(DEFAULT_CALENDAR_ID, made["id"])["status"] == "cancelled"
    assert {row.status for row in calendar_rows(google_app).values()} == {OutboxStatus.SENT}

    # What syncing the busy calendars needs: reading the events of one she may only read, under the same grant.
    [refresh_token] = standin.active_refresh_tokens()
    answer = requests.post(
        standin.token_uri,
        data={
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "client_id": standin.client_id,
            "client_secret": standin.client_secret,
        },
        timeout=5,
    ).json()
    assert set(answer["scope"].split()) == NARROW_SCOPES
    listed = requests.get(
        f"{standin.api_endpoint}calendars/{TEAM}/events",
        headers={"Authorization": f"Bearer {answer['access_token']}"},
        timeout=5,
    )
    assert listed.status_code == 200 and [e["summary"] for e in listed.json()["items"]] == ["Team meeting"]
    assert client.get("/healthz").json["calendar"] == "ok"


def test_a_full_scope_connection_made_earlier_keeps_working_and_is_offered_a_narrow_reconnect(
    google_app, client, standin
):
    """A connection stored before the narrow scopes (full calendar scope, no scopes recorded) books as before,
    refreshing with the scope it holds; the admin page offers to reconnect, and reconnecting narrows it."""
    standin.add_calendar("shared@group.calendar.google.com", "Shared studio", access_role="writer")
    Admin(google_app, client).set_password()
    assert Admin(google_app, client).login().status_code == 302
    _, refresh_token = standin.issue_tokens(scopes=[FULL_SCOPE])
    with google_app.app_context():
        key = google_app.config["GOOGLE_TOKEN_KEY"]
        db.session.execute(
            text(
                "INSERT INTO google_connection (id, refresh_token, status, busy_calendars, booking_calendar,"
                " calendar_errors, connected_at) VALUES (1, :token, 'connected', '[\"primary\"]', 'primary', '{}',"
                " :connected_at)"
            ),
            {"token": Fernet(key).encrypt(refresh_token.encode()).decode(), "connected_at": "2026-11-01 12:00:00"},
        )
        db.session.commit()

    made = book(client)
    assert made.status_code == 201, made.json
    assert event_ids(standin) == [made.json["id"]]
    refresh = next(r for r in standin.requests if r.path == "/token").form()
    assert refresh["grant_type"] == "refresh_token" and refresh.get("scope", FULL_SCOPE) == FULL_SCOPE
    page = text_of(client.get("/admin/google"))
    assert "This connection was made with full access to your calendars" in page
    # Full access may still write to a calendar shared with her, as it always could.
    assert "Calendars saved." in choose(client, ["primary"], "shared@group.calendar.google.com")

    connect(google_app, client, standin)
    assert set(connection_row(google_app)["scopes"].split()) == NARROW_SCOPES
    page = text_of(client.get("/admin/google"))
    assert "full access to your calendars" not in page
    assert "Calendars saved." in choose(client, ["primary"], DEFAULT_CALENDAR_ID)
    assert book(client, f"{THURSDAY}T10:00:00-07:00").status_code == 201
    assert len(event_ids(standin)) == 2


def test_the_narrow_grant_sends_bookings_only_to_a_calendar_she_owns(google_app, client, standin):
    """calendar.events.owned cannot write to a calendar shared with her: the admin refuses to choose one."""
    standin.add_calendar("shared@group.calendar.google.com", "Shared studio", access_role="writer")
    connect(google_app, client, standin)
    page = choose(client, [DEFAULT_CALENDAR_ID], "shared@group.calendar.google.com")
    assert "Not saved: 'Shared studio' is not your own calendar: bookings can only be written to one you own." in page
    assert connection_row(google_app)["booking_calendar"] == "primary"
    assert 'value="shared@group.calendar.google.com" aria-label="Shared studio receives bookings" disabled' in page


# --------------------------------------------------------------------------------------------------- 2. choose


def test_chosen_busy_calendars_remove_slots_but_free_and_cancelled_events_do_not(google_app, client, standin):
    """Events of every ticked calendar take slots away; transparent, cancelled and unticked ones do not."""
    connect(google_app, client, standin)
    standin.add_calendar(PERSONAL, "Personal")
    standin.add_calendar("holidays@group.calendar.google.com", "Holidays")
    assert "Personal" in client.get("/admin/google").text
    assert "Calendars saved." in choose(client, [DEFAULT_CALENDAR_ID, PERSONAL], DEFAULT_CALENDAR_ID)
    row = connection_row(google_app)
    assert (row["busy_calendars"], row["booking_calendar"]) == (
        f'["{DEFAULT_CALENDAR_ID}", "{PERSONAL}"]',
        DEFAULT_CALENDAR_ID,
    )

    standin.add_event(PERSONAL, local(25, 10), local(25, 11), summary="Dentist")
    standin.add_event(DEFAULT_CALENDAR_ID, local(25, 13), local(25, 14), summary="Supervision")
    standin.add_event(DEFAULT_CALENDAR_ID, local(25, 14, 30), local(25, 15), transparency="transparent")
    standin.add_event(DEFAULT_CALENDAR_ID, local(25, 16), local(25, 17), status="cancelled")
    standin.add_event("holidays@group.calendar.google.com", local(25, 11), local(25, 12))

    free = slot_starts(client)
    # Personal 10-11 takes 09:00-10:45 (a slot blocks 75 minutes), primary 13-14 takes 13:00-13:45.
    afternoon = [f"{hour}:{minute:02d}" for hour in range(14, 18) for minute in (0, 15, 30, 45)][:13]
    assert free == ["11:00", *afternoon]  # 14:00-17:00: the transparent and the cancelled events leave them free
    unbusy = slot_starts(client, THURSDAY)
    assert {"09:00", "10:00", "13:00"} <= set(unbusy)  # the same hours on a day without events
    freebusy = next(r for r in standin.requests if r.path.endswith("/freeBusy"))
    assert sorted(item["id"] for item in freebusy.json()["items"]) == sorted([DEFAULT_CALENDAR_ID, PERSONAL])


def test_choosing_a_read_only_booking_calendar_is_refused(google_app, client, standin):
    """The admin cannot send bookings to a calendar she may not write to."""
    connect(google_app, client, standin)
    standin.add_calendar("team@group.calendar.google.com", "Team", access_role="reader")
    page = choose(client, ["team@group.calendar.google.com"], "team@group.calendar.google.com")
    assert "Not saved: 'Team' is read-only for you: bookings cannot be written there." in page
    assert connection_row(google_app)["booking_calendar"] == "primary"


# --------------------------------------------------------------------------------------------------- 3. book


def test_booking_writes_one_event_with_the_booking_details(google_app, client, standin):
    """A booking becomes one opaque event with the booking's id, times, first name, phone and admin link.

    GOOGLE_EVENT_DETAIL is "minimal" by default: no notes, no surname, and never the client's manage link.
    """
    connect(google_app, client, standin)
    after_connect = list(standin.token_requests)
    assert slots(client).status_code == 200  # warms the free/busy cache
    first_call_tokens = standin.token_requests[len(after_connect) :]
    standin.reset_calls()

    started = time.monotonic()
    response = book(client, key="first-try")
    assert response.status_code == 201, response.json
    booking_id, manage_url = response.json["id"], response.json["manage_url"]

    assert calendar_calls(standin) == [
        ("POST", f"{API}freeBusy"),
        ("POST", f"{API}calendars/primary/events"),
    ]
    # No token refresh at all: the access token from connecting is used from the first call on.
    assert standin.token_requests == [] and first_call_tokens == []
    check = standin.requests[0].json()
    assert (check["timeMin"], check["timeMax"]) == ("2026-11-25T16:00:00Z", "2026-11-25T17:15:00Z")  # the blocked range
    assert time.monotonic() - started < 2

    [event] = standin.events(DEFAULT_CALENDAR_ID, include_deleted=True)
    assert event["id"] == booking_id
    assert event["status"] == "confirmed"
    assert event["summary"] == "60-minute massage — Ada"
    assert event["description"] == f"Phone: 801-555-0101\nBooking: http://widget.test/admin/bookings/{booking_id}"
    assert "Left shoulder is sore." not in event["description"] and manage_url not in event["description"]
    assert event.get("visibility", "default") == "default"
    assert event["extendedProperties"] == {"private": {"booking_id": booking_id}}
    assert event["transparency"] == "opaque"
    assert event["start"] == {"dateTime": "2026-11-25T09:00:00-07:00", "timeZone": "America/Denver"}
    assert event["end"] == {"dateTime": "2026-11-25T10:00:00-07:00", "timeZone": "America/Denver"}
    assert calendar_rows(google_app)[f"calendar-write:{booking_id}:0"].status == OutboxStatus.SENT
    with google_app.app_context():
        assert db.session.get(Booking, booking_id).calendar_event_id == booking_id

    # The write forgot the cached free/busy: the booked time is gone from the slots at once.
    assert "09:00" not in slot_starts(client)
    again = book(client, key="first-try")  # the same request again: the same booking, no second event
    assert (again.status_code, again.json["id"]) == (200, booking_id)
    assert event_ids(standin) == [booking_id]


@pytest.mark.parametrize(
    ("detail", "summary", "description", "visibility"),
    [
        ("full", "60-minute massage — Ada Client", "Phone: 801-555-0101\nNotes: Left shoulder is sore.\n", "default"),
        ("minimal", "60-minute massage — Ada", "Phone: 801-555-0101\n", "default"),
        ("private", "60-minute massage", "", "private"),
    ],
)
def test_event_detail_decides_what_the_calendar_shows(
    tmp_path, mailbox, monkeypatch, standin, detail, summary, description, visibility
):
    """GOOGLE_EVENT_DETAIL: full shows name, phone and notes; minimal the first name and phone; private only the
    service, as a private event. Notes never reach Google otherwise, and the link is the admin's, never the
    client's manage link."""
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    monkeypatch.setenv("OAUTHLIB_RELAX_TOKEN_SCOPE", "1")
    app = make_google_app(tmp_path, standin, mailbox, GOOGLE_EVENT_DETAIL=detail)
    client = app.test_client()
    connect(app, client, standin)
    made = book(client).json
    event = standin.event(DEFAULT_CALENDAR_ID, made["id"])
    assert event["summary"] == summary
    assert event["description"] == f"{description}Booking: http://widget.test/admin/bookings/{made['id']}"
    assert event.get("visibility", "default") == visibility
    assert made["manage_url"] not in event["description"] and "/manage/" not in event["description"]

    # The link opens the booking in the admin, for the signed-in therapist only.
    path = f"/admin/bookings/{made['id']}"
    page = text_of(client.get(path))
    assert "60-minute massage — Ada Client" in page and "Left shoulder is sore." in page and "801-555-0101" in page
    client.post("/admin/logout", data={"csrf_token": csrf_token(client.get("/admin").text)})
    signed_out = app.test_client().get(path)
    assert signed_out.status_code == 302 and "/admin/login" in signed_out.headers["Location"]


def test_a_booking_moved_after_the_detail_changed_is_rewritten_with_the_new_detail(
    tmp_path, mailbox, monkeypatch, standin
):
    """An event first written in full loses its notes and becomes private when patched under "private"."""
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    monkeypatch.setenv("OAUTHLIB_RELAX_TOKEN_SCOPE", "1")
    app = make_google_app(tmp_path, standin, mailbox, GOOGLE_EVENT_DETAIL="full")
    client = app.test_client()
    connect(app, client, standin)
    made = book(client).json
    assert "Left shoulder is sore." in standin.event(DEFAULT_CALENDAR_ID, made["id"])["description"]
    app.config["GOOGLE_EVENT_DETAIL"] = "private"
    url = made["manage_url"].replace("http://widget.test", "")
    page = client.get(f"{url}/reschedule?date={THURSDAY}")
    moved = client.post(
        f"{url}/reschedule", data={"csrf_token": csrf_token(page.text), "start": f"{THURSDAY}T10:00:00-07:00"}
    )
    assert moved.status_code == 303
    deliver_outbox(app)
    event = standin.event(DEFAULT_CALENDAR_ID, made["id"])
    assert (event["summary"], event["visibility"]) == ("60-minute massage", "private")
    assert event["description"] == f"Booking: http://widget.test/admin/bookings/{made['id']}"


def test_booking_through_the_widget_writes_the_event(google_app, client, standin):
    """The widget's details form books too, and the event carries what the client typed."""
    connect(google_app, client, standin)
    start = f"{WEDNESDAY}T10:00:00-07:00"
    page = client.get(f"/book?service=massage-60&start={start}")
    assert page.status_code == 200
    response = client.post(
        "/book",
        data={
            "csrf_token": csrf_token(page.text),
            "service": "massage-60",
            "start": start,
            "tz": "America/Denver",
            "name": "Bea Client",
            "email": "bea@example.com",
            "phone": "801-555-0102",
            "notes": "Prefers firm pressure.",
        },
    )
    assert response.status_code == 303, response.text
    deliver_outbox(google_app)
    [event] = standin.events(DEFAULT_CALENDAR_ID)
    assert event["summary"] == "60-minute massage — Bea"
    assert "801-555-0102" in event["description"] and "Prefers firm pressure." not in event["description"]
    assert "http://widget.test/manage/" not in event["description"]
    assert "http://widget.test/admin/bookings/" in event["description"]


def test_booking_checks_google_afresh_even_when_the_cache_says_free(google_app, client, standin):
    """A time taken in Google after the slots were cached is refused (409) by the booking's own fresh check."""
    connect(google_app, client, standin)
    assert "09:00" in slot_starts(client)  # cached: free
    standin.add_event(DEFAULT_CALENDAR_ID, local(25, 9), local(25, 10), summary="Added on the phone")
    response = book(client)
    assert response.status_code == 409
    assert response.json["errors"] == {"start": "is no longer free"}
    assert response.json["alternatives"] and all(
        not slot["start"].startswith(f"{WEDNESDAY}T09:") for slot in response.json["alternatives"]
    )
    assert booking_count(google_app) == 0
    assert [event["summary"] for event in standin.events(DEFAULT_CALENDAR_ID)] == ["Added on the phone"]


def test_rescheduling_moves_the_same_event(google_app, client, standin):
    """Moving a booking on the manage page moves its one event (same id) instead of adding another."""
    connect(google_app, client, standin)
    made = book(client).json
    url = made["manage_url"].replace("http://widget.test", "")
    page = client.get(f"{url}/reschedule?date={THURSDAY}")
    response = client.post(
        f"{url}/reschedule", data={"csrf_token": csrf_token(page.text), "start": f"{THURSDAY}T10:00:00-07:00"}
    )
    deliver_outbox(google_app)
    assert response.status_code == 303
    [event] = standin.events(DEFAULT_CALENDAR_ID, include_deleted=True)
    assert event["id"] == made["id"] and event["status"] == "confirmed"
    assert event["start"]["dateTime"] == f"{THURSDAY}T10:00:00-07:00"
    assert event["end"]["dateTime"] == f"{THURSDAY}T11:00:00-07:00"
    assert calendar_rows(google_app)[f"calendar-write:{made['id']}:1"].status == OutboxStatus.SENT


# --------------------------------------------------------------------------------------------------- 4. cancel


def test_cancelling_deletes_the_event_and_a_gone_event_counts_as_deleted(google_app, client, standin):
    """Cancelling removes the event; an event already deleted (410) or never written (404) counts as done."""
    connect(google_app, client, standin)

    # Cancelled on the manage page: the event is deleted.
    first = book(client).json
    url = first["manage_url"].replace("http://widget.test", "")
    response = client.post(f"{url}/cancel", data={"csrf_token": csrf_token(client.get(url).text)})
    deliver_outbox(google_app)
    assert response.status_code == 303
    assert standin.event(DEFAULT_CALENDAR_ID, first["id"])["status"] == "cancelled"
    assert calendar_rows(google_app)[f"calendar-delete:{first['id']}:1"].status == OutboxStatus.SENT

    # Deleted in Google by the therapist first: the delete answers 410, which is fine.
    second = book(client, f"{WEDNESDAY}T11:00:00-07:00").json
    google_delete(standin, second["id"])
    standin.reset_calls()
    with google_app.app_context():
        bookings.cancel(db.session.get(Booking, second["id"]))
    deliver_outbox(google_app)
    assert standin.call_count("DELETE", second["id"]) == 1
    assert calendar_rows(google_app)[f"calendar-delete:{second['id']}:1"].status == OutboxStatus.SENT

    # Never written (Google refused the insert): the delete answers 404, which is fine too.
    standin.fail_next(1, 400, path_contains="/events", method="POST")
    third = book(client, f"{WEDNESDAY}T13:00:00-07:00").json
    assert calendar_rows(google_app)[f"calendar-write:{third['id']}:0"].status == OutboxStatus.PENDING
    with google_app.app_context():
        bookings.cancel(db.session.get(Booking, third["id"]))
    deliver_outbox(google_app)
    # The delete waits behind the booking's earlier write: one calendar entry of a booking at a time.
    assert calendar_rows(google_app)[f"calendar-delete:{third['id']}:1"].status == OutboxStatus.PENDING
    run_jobs(google_app)  # the late write entry of a cancelled booking deletes instead of writing
    assert calendar_rows(google_app)[f"calendar-write:{third['id']}:0"].status == OutboxStatus.SENT
    assert calendar_rows(google_app)[f"calendar-delete:{third['id']}:1"].status == OutboxStatus.SENT
    assert standin.event(DEFAULT_CALENDAR_ID, third["id"]) is None
    assert standin.events(DEFAULT_CALENDAR_ID) == []


# --------------------------------------------------------------------------------------------------- 5. faults


def test_insert_is_retried_after_503s(google_app, client, standin):
    """Two 503 answers to the insert are retried within GOOGLE_RETRY_SECONDS and the event is written once."""
    connect(google_app, client, standin)
    standin.fail_next(2, 503, path_contains="/events", method="POST")
    response = book(client)
    assert response.status_code == 201
    assert standin.call_count("POST", "/events") == 3
    assert event_ids(standin) == [response.json["id"]]
    assert calendar_rows(google_app)[f"calendar-write:{response.json['id']}:0"].status == OutboxStatus.SENT


def test_insert_whose_answer_was_lost_counts_as_written(google_app, client, standin):
    """An insert Google stored but answered 503 meets 409 on retry, which counts as written: one event."""
    connect(google_app, client, standin)
    standin.fail_next(1, 503, path_contains="/events", method="POST", commit_then_fail=True)
    response = book(client)
    assert response.status_code == 201
    assert standin.call_count("POST", "/events") == 2
    assert event_ids(standin) == [response.json["id"]]
    assert standin.event(DEFAULT_CALENDAR_ID, response.json["id"])["summary"] == "60-minute massage — Ada"
    assert calendar_rows(google_app)[f"calendar-write:{response.json['id']}:0"].status == OutboxStatus.SENT


def test_persistent_server_errors_leave_the_write_to_run_jobs(google_app, client, standin):
    """When Google keeps failing the booking is still confirmed; run-jobs writes the event later, once."""
    connect(google_app, client, standin)
    standin.fail_next(1000, 500, path_contains="/events", method="POST")
    started = time.monotonic()
    response = book(client, deliver=False)
    assert time.monotonic() - started < 1.5  # the request writes nothing to Google
    assert response.status_code == 201 and response.json["status"] == "confirmed"
    started = time.monotonic()
    deliver_outbox(google_app)
    assert time.monotonic() - started < 2 + 1.5  # GOOGLE_RETRY_SECONDS, and some slack
    assert standin.call_count("POST", "/events") >= 2  # retried before giving up
    row = calendar_rows(google_app)[f"calendar-write:{response.json['id']}:0"]
    assert (row.status, row.attempts) == (OutboxStatus.PENDING, 1)
    assert "500" in row.last_error
    assert standin.events(DEFAULT_CALENDAR_ID) == []
    assert client.get("/healthz").json["calendar"] == "ok"  # failing calls are not a lost connection

    standin.clear_faults()
    assert run_jobs(google_app, minutes=0) == "run-jobs: nothing to do\n"  # not due yet
    assert row.next_attempt_at > google_app.extensions["clock"].now
    output = run_jobs(google_app)
    assert "sent: 1" in output
    assert event_ids(standin) == [response.json["id"]]
    assert calendar_rows(google_app)[row.key].status == OutboxStatus.SENT
    assert run_jobs(google_app) == "run-jobs: nothing to do\n"
    assert event_ids(standin) == [response.json["id"]]


def test_rate_limits_are_retried(google_app, client, standin):
    """429 and 403 rateLimitExceeded / userRateLimitExceeded are retried, for free/busy and for the insert."""
    connect(google_app, client, standin)
    standin.fail_next(1, 429, path_contains="/freeBusy")
    standin.fail_next(1, 403, "rateLimitExceeded", path_contains="/freeBusy")
    assert slots(client).status_code == 200
    assert standin.call_count("POST", "/freeBusy") == 3

    standin.fail_next(1, 403, "userRateLimitExceeded", path_contains="/events", method="POST")
    standin.fail_next(1, 429, path_contains="/events", method="POST")
    response = book(client)
    assert response.status_code == 201
    assert standin.call_count("POST", "/events") == 3
    assert event_ids(standin) == [response.json["id"]]
    assert calendar_rows(google_app)[f"calendar-write:{response.json['id']}:0"].status == OutboxStatus.SENT


def test_slow_answers_do_not_hang_requests(google_app, client, standin):
    """An answer slower than GOOGLE_TIMEOUT ends the request in bounded time; the write is finished later, once."""
    connect(google_app, client, standin)
    bound = 2 + 2 + 1  # GOOGLE_TIMEOUT + GOOGLE_RETRY_SECONDS + slack

    standin.slow_next(1, 4.0, path_contains="/freeBusy")
    started = time.monotonic()
    response = slots(client)
    assert time.monotonic() - started < bound
    assert response.status_code == 503 and response.json["phone"] == PHONE
    assert client.get("/healthz").json["calendar"] == "ok"  # slowness is not a lost connection
    assert slots(client).status_code == 200

    standin.slow_next(1, 4.0, path_contains="/events", method="POST")
    started = time.monotonic()
    response = book(client, deliver=False)
    assert time.monotonic() - started < bound
    assert response.status_code == 201
    started = time.monotonic()
    deliver_outbox(google_app)  # the jobs runner's try: bounded too
    assert time.monotonic() - started < bound
    assert calendar_rows(google_app)[f"calendar-write:{response.json['id']}:0"].status == OutboxStatus.PENDING
    run_jobs(google_app)
    assert event_ids(standin) == [response.json["id"]]
    assert calendar_rows(google_app)[f"calendar-write:{response.json['id']}:0"].status == OutboxStatus.SENT


@pytest.mark.parametrize("reason", ["dailyLimitExceeded", "insufficientPermissions"])
def test_free_busy_refused_for_good_pauses_booking_instead_of_failing(google_app, client, standin, reason):
    """A free/busy refusal that is not worth retrying (403) answers 503 with the phone, never a 500."""
    connect(google_app, client, standin)
    standin.fail_next(2, 403, reason, path_contains="/freeBusy")
    response = slots(client)
    assert response.status_code == 503, response.json
    assert response.json["phone"] == PHONE
    refused = book(client)
    assert refused.status_code == 503, refused.json
    assert booking_count(google_app) == 0


# --------------------------------------------------------------------------------------------------- 6. burst


def test_a_burst_of_faults_still_ends_with_one_event_per_booking(google_app, client, standin):
    """Five bookings made through mixed failures each end as exactly one event after run-jobs."""
    connect(google_app, client, standin)
    google_app.config["GOOGLE_RETRY_SECONDS"] = 1
    standin.fail_next(1, 503, path_contains="/freeBusy")
    standin.fail_next(2, 503, path_contains="/events", method="POST", commit_then_fail=True)
    standin.fail_next(1, 429, path_contains="/events")
    standin.fail_next(3, 500, path_contains="/events", method="POST", commit_then_fail=True)
    standin.fail_next(1, 503, path_contains="/events", method="PATCH")
    standin.fail_next(1, 403, "rateLimitExceeded", path_contains="/events")
    standin.fail_next(2, 502, path_contains="/events", method="POST")

    made = []
    for index, hour in enumerate((9, 11, 13, 15, 17)):
        response = book(client, f"{WEDNESDAY}T{hour:02d}:00:00-07:00", email=f"client{index}@example.com")
        assert response.status_code == 201, response.json
        made.append(response.json["id"])
    standin.clear_faults()
    assert OutboxStatus.PENDING in {row.status for row in calendar_rows(google_app).values()}  # some gave up for now
    run_jobs(google_app)

    assert sorted(event_ids(standin)) == sorted(made)
    for event in standin.events(DEFAULT_CALENDAR_ID):
        assert event["extendedProperties"]["private"]["booking_id"] == event["id"]
        assert event["status"] == "confirmed"
    assert {row.status for row in calendar_rows(google_app).values()} == {OutboxStatus.SENT}
    standin.reset_calls()
    run_jobs(google_app)
    # Nothing is written again; the one call is the periodic sync reading what changed.
    assert calendar_calls(standin) == [("GET", f"{API}calendars/primary/events")]


# --------------------------------------------------------------------------------------------------- 7. lost grant


def test_revoked_grant_pauses_booking_until_reconnected(google_app, client, standin, mailbox):
    """A revoked grant pauses booking everywhere, tells the therapist once, and reconnecting resumes it all."""
    connect(google_app, client, standin)
    kept = book(client).json
    assert event_ids(standin) == [kept["id"]]
    count = booking_count(google_app)

    standin.revoke_all()
    standin.expire_access_tokens()
    response = slots(client, THURSDAY)
    assert response.status_code == 503
    assert response.json["phone"] == PHONE and PHONE in response.json["errors"]["calendar"]
    widget = client.get("/book")
    assert widget.status_code == 503
    assert "Online booking is paused" in widget.text and PHONE in widget.text
    health = client.get("/healthz")
    assert (health.status_code, health.json["calendar"]) == (503, "disconnected")

    standin.reset_calls()
    for _ in range(3):
        assert slots(client, THURSDAY).status_code == 503
        assert client.get("/book?service=massage-60").status_code == 503
    refused = book(client, f"{THURSDAY}T10:00:00-07:00")
    assert refused.status_code == 503 and refused.json["phone"] == PHONE
    assert booking_count(google_app) == count
    assert calendar_calls(standin) == [] and standin.token_requests == []  # nothing more was asked of Google
    [email] = lost_emails(google_app, mailbox)
    assert "/admin/google" in email.get_body(("plain",)).get_content()
    page = text_of(client.get("/admin/google"))
    assert "Not connected: online booking is paused" in page
    assert "Google no longer accepts this service's access" in page

    # Cancelled while disconnected: the delete waits in the outbox.
    with google_app.app_context():
        bookings.cancel(db.session.get(Booking, kept["id"]))
    deliver_outbox(google_app)
    assert calendar_rows(google_app)[f"calendar-delete:{kept['id']}:1"].status == OutboxStatus.PENDING
    assert standin.event(DEFAULT_CALENDAR_ID, kept["id"])["status"] == "confirmed"

    google_app.extensions["clock"].now += timedelta(minutes=5)
    connect(google_app, client, standin)
    assert client.get("/healthz").json["calendar"] == "ok"
    assert slots(client, THURSDAY).status_code == 200
    assert client.get("/book?service=massage-60").status_code == 200
    run_jobs(google_app)
    assert standin.event(DEFAULT_CALENDAR_ID, kept["id"])["status"] == "cancelled"
    assert {row.status for row in calendar_rows(google_app).values()} == {OutboxStatus.SENT}

    made = book(client, f"{THURSDAY}T10:00:00-07:00")
    assert made.status_code == 201
    assert event_ids(standin, include_deleted=False) == [made.json["id"]]
    assert len(lost_emails(google_app, mailbox)) == 1

    standin.revoke_all()  # lost again, after reconnecting: a new email for the new connection
    # A booking asks Google afresh (the free times shown may come from kept answers).
    assert book(client, f"{THURSDAY}T14:00:00-07:00").status_code == 503
    assert len(lost_emails(google_app, mailbox)) == 2


@pytest.mark.parametrize(("days", "testing"), [(7, True), (2, False)])
def test_a_grant_ending_about_7_days_after_connecting_points_at_the_testing_status(
    google_app, client, standin, mailbox, days, testing
):
    """The admin page says when the connection was made; invalid_grant about 7 days after connecting (what a
    project left in "Testing" does) names that status and how to publish, in the page and the email."""
    connect(google_app, client, standin)
    page = text_of(client.get("/admin/google"))
    assert "Connected on Monday, November 23, 2026 at 8:00 AM (America/Denver)." in page

    google_app.extensions["clock"].now += timedelta(days=days, minutes=5)
    standin.revoke_all()  # what Google does to a Testing project's grant after 7 days
    standin.expire_access_tokens()
    assert slots(client, "2026-12-08").status_code == 503

    page = text_of(client.get("/admin/google"))
    assert "Not connected: online booking is paused" in page and "invalid_grant" in page
    assert "Last connected on Monday, November 23, 2026 at 8:00 AM (America/Denver)." in page
    hint = "the Google Cloud project is probably still in 'Testing' publishing status"
    assert (hint in page) is testing
    assert ("press 'Publish app' so it says 'In production'" in page) is testing
    [email] = lost_emails(google_app, mailbox)
    assert (hint in " ".join(email.get_body(("plain",)).get_content().split())) is testing


def test_revocation_first_noticed_by_a_booking_writes_nothing(google_app, client, standin, mailbox):
    """When a booking is the first request to meet the revoked grant, it answers 503 and nothing is booked."""
    connect(google_app, client, standin)
    standin.revoke_all()
    standin.expire_access_tokens()
    response = book(client)
    assert response.status_code == 503 and response.json["phone"] == PHONE
    assert booking_count(google_app) == 0
    assert calendar_rows(google_app) == {}
    assert standin.events(DEFAULT_CALENDAR_ID) == []
    assert len(lost_emails(google_app, mailbox)) == 1
    assert [m["Subject"] for m in mailbox.messages] == [LOST_SUBJECT]  # no confirmation went out


def test_grant_lost_during_a_write_is_written_after_reconnecting(google_app, client, standin, mailbox):
    """A grant revoked between the free/busy check and the insert loses no booking: it is written once later."""
    connect(google_app, client, standin)
    assert slots(client).status_code == 200
    # The insert is refused (401) and the refresh it causes says the grant is gone.
    standin.fail_next(1, 401, path_contains="/events", method="POST")
    standin.fail_next(1, 400, "invalid_grant", path_contains="/token", message="Token has been expired or revoked.")
    response = book(client)
    assert response.status_code == 201 and response.json["status"] == "confirmed"
    standin.revoke_all()  # what the failures stood for
    row = calendar_rows(google_app)[f"calendar-write:{response.json['id']}:0"]
    assert row.status == OutboxStatus.PENDING
    assert client.get("/healthz").json["calendar"] == "disconnected"
    assert len(lost_emails(google_app, mailbox)) == 1
    assert standin.events(DEFAULT_CALENDAR_ID) == []

    run_jobs(google_app)  # still disconnected: the entry waits, nothing is lost
    assert calendar_rows(google_app)[row.key].status == OutboxStatus.PENDING

    connect(google_app, client, standin)
    run_jobs(google_app, minutes=60)
    assert event_ids(standin) == [response.json["id"]]
    assert calendar_rows(google_app)[row.key].status == OutboxStatus.SENT
    run_jobs(google_app, minutes=60)
    assert event_ids(standin) == [response.json["id"]]
    assert len(lost_emails(google_app, mailbox)) == 1


def test_expired_access_token_is_refreshed_without_losing_the_connection(google_app, client, standin, mailbox):
    """An access token Google no longer takes is refreshed once and kept; the connection is not lost."""
    connect(google_app, client, standin)
    standin.expire_access_tokens()
    standin.reset_calls()
    assert slots(client).status_code == 200
    assert standin.token_requests == ["refresh_token"]
    assert calendar_calls(standin) == [("POST", f"{API}freeBusy")] * 2  # 401, then the retry with the new token
    standin.reset_calls()
    assert slots(client, THURSDAY).status_code == 200
    assert standin.token_requests == []  # the new token was kept
    assert client.get("/healthz").json["calendar"] == "ok"
    assert lost_emails(google_app, mailbox) == []


def test_disconnecting_revokes_the_grant_and_pauses_booking(google_app, client, standin, mailbox):
    """Disconnect revokes the token at Google, forgets it and pauses booking, without the "lost" email."""
    connect(google_app, client, standin)
    page = client.get("/admin/google")
    response = client.post("/admin/google/disconnect", data={"csrf_token": csrf_token(page.text)})
    assert response.status_code == 302
    assert "Google Calendar is disconnected." in client.get("/admin/google").text
    assert len(standin.revoke_requests) == 1 and standin.active_refresh_tokens() == []
    row = connection_row(google_app)
    assert (row["status"], row["refresh_token"]) == ("disconnected", None)
    assert slots(client).status_code == 503
    assert client.get("/healthz").status_code == 503
    assert lost_emails(google_app, mailbox) == []
    connect(google_app, client, standin)
    assert slots(client).status_code == 200


# --------------------------------------------------------------------------------------------------- 8. edge cases


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("wrong state", "This Google sign-in was not started here, was already used or has expired. Try again."),
        ("access denied", "Google Calendar was not connected: access was not allowed on Google's page."),
        ("no refresh token", "Google did not hand over lasting access (no refresh token)."),
    ],
)
def test_failed_connect_stores_nothing(google_app, client, standin, case, message):
    """A callback with a foreign state, a refusal or no refresh token ends at /admin/google with a clear message."""
    if case == "access denied":
        standin.consent = "deny"
    if case == "no refresh token":
        standin.omit_refresh_token = True
    location = consent(start_consent(google_app, client))
    if case == "wrong state":
        location = location.replace("state=", "state=forged")
    if case == "access denied":
        assert "error=access_denied" in location

    page = come_back(client, location)
    assert '<p class="flash flash-error" role="status">' in page.text and message in text_of(page)
    assert "Not connected: online booking is paused" in text_of(page)
    row = connection_row(google_app)
    assert row is None or (row["status"], row["refresh_token"]) == ("disconnected", None)
    assert client.get("/healthz").json["calendar"] == "disconnected"
    if case == "wrong state":
        assert "authorization_code" not in standin.token_requests  # the code was never exchanged


def test_failed_reconnects_keep_the_previous_connection(google_app, client, standin):
    """A replayed callback, a refusal or a grant without refresh token leaves the working connection alone."""
    location = connect(google_app, client, standin)
    before = connection_row(google_app)

    replay = text_of(come_back(client, location))
    assert "was not started here, was already used or has expired" in replay

    standin.consent = "deny"
    denied = text_of(come_back(client, consent(start_consent(google_app, client))))
    assert "access was not allowed on Google's page" in denied

    standin.consent, standin.omit_refresh_token = "allow", True
    no_refresh = text_of(come_back(client, consent(start_consent(google_app, client))))
    assert "no refresh token" in no_refresh

    assert connection_row(google_app) == before
    assert client.get("/healthz").json["calendar"] == "ok"
    assert book(client).status_code == 201
    assert len(standin.events(DEFAULT_CALENDAR_ID)) == 1


def test_read_only_booking_calendar_keeps_the_write_pending_and_tells_the_admin(google_app, client, standin):
    """Losing write access to the booking calendar confirms the booking, keeps retrying, and shows the problem."""
    connect(google_app, client, standin)
    standin.set_access_role(DEFAULT_CALENDAR_ID, "reader")
    response = book(client)
    assert response.status_code == 201 and response.json["status"] == "confirmed"
    key = f"calendar-write:{response.json['id']}:0"
    row = calendar_rows(google_app)[key]
    assert (row.status, row.attempts) == (OutboxStatus.PENDING, 1)
    assert "requiredAccessLevel" in row.last_error

    run_jobs(google_app)
    row = calendar_rows(google_app)[key]
    assert (row.status, row.attempts) == (OutboxStatus.PENDING, 2)
    page = text_of(client.get("/admin/google"))
    assert "Google refused to write to the calendar 'primary' (requiredAccessLevel): choose a calendar you own." in page
    agenda = text_of(client.get("/admin"))
    assert "<strong>Retrying</strong> · calendar-write · 2 attempts" in agenda and "requiredAccessLevel" in agenda

    standin.set_access_role(DEFAULT_CALENDAR_ID, "owner")
    run_jobs(google_app, minutes=120)
    assert calendar_rows(google_app)[key].status == OutboxStatus.SENT
    assert event_ids(standin) == [response.json["id"]]


def test_deleted_busy_calendar_is_reported_on_the_admin_page(google_app, client, standin):
    """A ticked calendar deleted on Google's side is named on the admin page; its siblings still count."""
    connect(google_app, client, standin)
    standin.add_calendar(PERSONAL, "Personal")
    assert "Calendars saved." in choose(client, [DEFAULT_CALENDAR_ID, PERSONAL], DEFAULT_CALENDAR_ID)
    standin.add_event(DEFAULT_CALENDAR_ID, local(25, 13), local(25, 14))
    standin.delete_calendar(PERSONAL)

    free = slot_starts(client)
    assert "13:00" not in free and "09:00" in free
    page = text_of(client.get("/admin/google"))
    assert f"Google could not read the calendar {PERSONAL} (notFound): its events are not counted." in page


# --------------------------------------------------------------------------------------------------- 9. cache


def test_free_busy_answers_are_cached(google_app, client, standin):
    """A second look at the same days is answered from the cache, without calling Google."""
    connect(google_app, client, standin)
    first = slot_starts(client)
    standin.reset_calls()
    assert slot_starts(client) == first
    assert standin.calls == []


def test_two_app_instances_share_the_cache_through_redis(tmp_path, mailbox, monkeypatch, standin, redis_url):
    """With REDIS_URL, a second worker's first look at the same days costs no Google call."""
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    monkeypatch.setenv("OAUTHLIB_RELAX_TOKEN_SCOPE", "1")
    first_app = make_google_app(tmp_path, standin, mailbox, REDIS_URL=redis_url)
    second_app = make_google_app(tmp_path, standin, mailbox, REDIS_URL=redis_url)  # same database: two workers
    first_client, second_client = first_app.test_client(), second_app.test_client()
    connect(first_app, first_client, standin)
    first = slot_starts(first_client)
    assert standin.call_count("POST", "/freeBusy") == 1

    standin.reset_calls()
    assert slot_starts(second_client) == first
    assert standin.calls == []

    # A booking through one worker forgets the shared answer: the other sees the time taken.
    assert book(first_client).status_code == 201
    assert "09:00" not in slot_starts(second_client)


def test_a_range_longer_than_google_accepts_is_asked_in_windows(google_app, client, standin):
    """Free/busy over 70 days is split into windows Google accepts (62 days), and busy time from each is kept."""
    connect(google_app, client, standin)
    start = local(24, 0)
    late = start + timedelta(days=65, hours=10)
    standin.add_event(DEFAULT_CALENDAR_ID, start + timedelta(hours=10), start + timedelta(hours=11))
    standin.add_event(DEFAULT_CALENDAR_ID, late, late + timedelta(hours=1))
    standin.reset_calls()
    with google_app.app_context():
        busy = calendars.current().busy(start, start + timedelta(days=70))
        assert standin.call_count("POST", "/freeBusy") == 2
        service = business.current().services["massage-60"]
        found = bookings.free_slots(service, start, start + timedelta(days=70))
    assert standin.call_count("POST", "/freeBusy") == 4  # free_slots looks two days further each way: 74 days
    ranges = [(r.json()["timeMin"], r.json()["timeMax"]) for r in standin.requests]
    assert ranges[0][0] == "2026-11-24T00:00:00Z" and ranges[1][1] == "2027-02-03T00:00:00Z"  # whole UTC days
    for time_min, time_max in ranges:
        span = datetime.fromisoformat(time_max) - datetime.fromisoformat(time_min)
        assert timedelta(0) < span <= timedelta(days=standin.freebusy_max_days)
    assert (start + timedelta(hours=10), start + timedelta(hours=11)) in busy
    assert (late, late + timedelta(hours=1)) in busy
    taken = (start + timedelta(hours=10), start + timedelta(hours=11))
    assert found and not any(slot.start < taken[1] and taken[0] < slot.end for slot in found)


# --------------------------------------------------------------------------------------------------- 9. calendar-first


@pytest.fixture
def synced_app(tmp_path, mailbox, monkeypatch, standin):
    """Return an app on the Google backend that tells the therapist by email too."""
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    monkeypatch.setenv("OAUTHLIB_RELAX_TOKEN_SCOPE", "1")
    return make_google_app(tmp_path, standin, mailbox, THERAPIST_EMAIL=THERAPIST)


@pytest.fixture
def synced_client(synced_app):
    return synced_app.test_client()


def sync(app) -> str:
    """Run ``flask sync-calendar`` once, then deliver what it queued as the jobs runner would; return its output."""
    result = app.test_cli_runner().invoke(args=["sync-calendar"])
    assert result.exit_code == 0, result.output
    deliver_outbox(app)
    return result.output


def google_patch(standin, event_id: str, body: dict) -> None:
    """Change an event on Google's side, as the therapist would by dragging or editing it in Google Calendar."""
    token, _ = standin.issue_tokens()
    url = f"{standin.api_endpoint}calendars/{DEFAULT_CALENDAR_ID}/events/{event_id}"
    response = requests.patch(url, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=5)
    assert response.status_code == 200, response.text


def move_event(standin, event_id: str, start: datetime, end: datetime) -> None:
    google_patch(standin, event_id, {"start": {"dateTime": start.isoformat()}, "end": {"dateTime": end.isoformat()}})


def booked_and_synced(app, client, standin, mailbox, *starts: str) -> list[str]:
    """Connect, book one appointment per start (a client each), sync once; return the booking ids."""
    connect(app, client, standin)
    made = []
    for index, start in enumerate(starts or (f"{WEDNESDAY}T09:00:00-07:00",)):
        response = book(client, start, email=f"client{index}@example.com")
        assert response.status_code == 201, response.json
        made.append(response.json["id"])
    mailbox.wait_for(2 * len(made))
    assert sync(app) == "sync-calendar: nothing changed\n"  # our own events coming back change nothing
    return made


def calendar_file(message, filename: str, method: str):
    """Return the one VEVENT of the .ics attached as ``filename``, checking its METHOD."""
    [part] = [part for part in message.iter_attachments() if part.get_filename() == filename]
    assert part.get_param("method") == method
    [event] = Calendar.from_ical(part.get_content()).walk("VEVENT")
    return event


def stored(app, booking_id: str) -> Booking:
    with app.app_context():
        booking = db.session.get(Booking, booking_id)
        db.session.expunge(booking)
        return booking


def test_deleting_a_booking_event_in_google_cancels_it_and_tells_the_client_once(
    synced_app, synced_client, standin, mailbox
):
    """The therapist deletes the event: the booking is cancelled by the studio, the client told once, the time freed."""
    [booking_id] = booked_and_synced(synced_app, synced_client, standin, mailbox)
    assert "09:00" not in slot_starts(synced_client)
    first = calendar_file(mailbox.received_by("client0@example.com")[0], "invite.ics", "PUBLISH")

    google_delete(standin, booking_id)
    assert sync(synced_app) == "sync-calendar: cancelled: 1\n"

    booking = stored(synced_app, booking_id)
    assert booking.status == "cancelled" and booking.sequence == 1
    [_, cancelled] = mailbox.received_by("client0@example.com")
    assert str(cancelled["Subject"]).strip().startswith("Cancelled: 60-minute massage")
    body = cancelled.get_body(preferencelist=("plain",)).get_content()
    assert "the studio had to cancel your appointment" in body
    assert "801-471-0877" in body and "/book?service=massage-60" in body
    event = calendar_file(cancelled, "cancelled.ics", "CANCEL")
    assert str(event["uid"]) == str(first["uid"]) and int(event["sequence"]) > int(first["sequence"])
    assert "09:00" in slot_starts(synced_client)

    # Seen again (polling after push, a second run): nothing more happens.
    assert sync(synced_app) == "sync-calendar: nothing changed\n"
    run_jobs(synced_app)
    assert len(mailbox.received_by("client0@example.com")) == 2


@pytest.mark.parametrize(
    ("start", "end", "day"),
    [
        (local(25, 13), local(25, 14), WEDNESDAY),  # later the same day
        (local(26, 10), local(26, 11, 30), THURSDAY),  # another day, and longer
    ],
)
def test_moving_a_booking_event_in_google_moves_the_booking(
    synced_app, synced_client, standin, mailbox, start, end, day
):
    """The therapist drags the event: the booking takes its times, the client gets them with an updated .ics."""
    [booking_id] = booked_and_synced(synced_app, synced_client, standin, mailbox)
    first = calendar_file(mailbox.received_by("client0@example.com")[0], "invite.ics", "PUBLISH")
    wall = (start - timedelta(hours=7)).strftime("%H:%M")  # Denver in November
    assert wall in slot_starts(synced_client, day)

    move_event(standin, booking_id, start, end)
    assert sync(synced_app) == "sync-calendar: moved: 1\n"

    booking = stored(synced_app, booking_id)
    assert (booking.status, booking.start_at, booking.end_at, booking.service_id) == (
        "confirmed",
        start,
        end,
        "massage-60",
    )
    assert booking.sequence == 1 and booking.reminder_queued_at is None
    [_, moved] = mailbox.received_by("client0@example.com")
    assert str(moved["Subject"]).strip().startswith("Moved: 60-minute massage, now")
    event = calendar_file(moved, "invite.ics", "PUBLISH")
    assert str(event["uid"]) == str(first["uid"]) and int(event["sequence"]) == int(first["sequence"]) + 1
    assert event.decoded("dtstart").astimezone(UTC) == start and event.decoded("dtend").astimezone(UTC) == end
    assert "09:00" in slot_starts(synced_client)  # the old time is free
    assert wall not in slot_starts(synced_client, day)
    [google_event] = standin.events(DEFAULT_CALENDAR_ID)
    assert google_event["start"]["dateTime"] == f"{day}T{wall}:00-07:00"  # left where she put it

    assert sync(synced_app) == "sync-calendar: nothing changed\n"
    run_jobs(synced_app)
    assert len(mailbox.received_by("client0@example.com")) == 2


@pytest.mark.parametrize(
    ("start", "end", "problem"),
    [
        (local(25, 11), local(25, 12), "that overlaps Ada Client's 60-minute massage at Wednesday, November 25, 2026"),
        (local(22, 9), local(22, 10), "the new time is in the past"),
    ],
)
def test_a_move_onto_another_booking_or_into_the_past_is_refused_and_told_once(
    synced_app, synced_client, standin, mailbox, start, end, problem
):
    """The booking stays, the therapist gets one email saying why, the admin shows it, the event goes back."""
    first, _ = booked_and_synced(
        synced_app, synced_client, standin, mailbox, f"{WEDNESDAY}T09:00:00-07:00", f"{WEDNESDAY}T11:00:00-07:00"
    )
    move_event(standin, first, start, end)
    assert sync(synced_app) == "sync-calendar: refused: 1\n"

    booking = stored(synced_app, first)
    assert (booking.status, booking.start_at, booking.sequence) == ("confirmed", local(25, 9), 0)
    assert problem in booking.calendar_conflict
    [notice] = [m for m in mailbox.received_by(THERAPIST) if str(m["Subject"]).strip().startswith("Not moved")]
    text_body = notice.get_body(preferencelist=("plain",)).get_content()
    assert problem in text_body and "The booking stays at Wednesday, November 25, 2026, 9:00 AM MST" in text_body
    assert len(mailbox.received_by("client0@example.com")) == 1  # the client hears nothing
    assert standin.event(DEFAULT_CALENDAR_ID, first)["start"]["dateTime"] == f"{WEDNESDAY}T09:00:00-07:00"
    admin = Admin(synced_app, synced_client)
    admin.set_password()
    admin.login()
    assert problem in text_of(synced_client.get("/admin"))

    # The restored event coming back, and the same change seen again, send nothing more.
    assert sync(synced_app) == "sync-calendar: nothing changed\n"
    run_jobs(synced_app)
    assert len([m for m in mailbox.received_by(THERAPIST) if "Not moved" in str(m["Subject"])]) == 1


def test_a_title_edit_of_a_booking_event_changes_nothing(synced_app, synced_client, standin, mailbox):
    """Renaming the event in Google moves and cancels nothing, and emails no one."""
    [booking_id] = booked_and_synced(synced_app, synced_client, standin, mailbox)
    google_patch(standin, booking_id, {"summary": "Ada — bring the hot stones"})
    assert sync(synced_app) == "sync-calendar: nothing changed\n"
    booking = stored(synced_app, booking_id)
    assert (booking.status, booking.start_at, booking.sequence) == ("confirmed", local(25, 9), 0)
    assert len(mailbox.messages) == 2


def test_other_events_in_a_busy_calendar_change_the_free_times_after_a_sync(
    synced_app, synced_client, standin, mailbox
):
    """An event added or removed in a busy calendar shows in the widget at the next sync, before the cache ends."""
    booked_and_synced(synced_app, synced_client, standin, mailbox)
    standin.add_calendar(PERSONAL, "Personal")
    choose(synced_client, [DEFAULT_CALENDAR_ID, PERSONAL], DEFAULT_CALENDAR_ID)
    sync(synced_app)
    assert "14:00" in slot_starts(synced_client)  # cached from here on

    dentist = standin.add_event(PERSONAL, local(25, 14), local(25, 15), summary="Dentist")
    assert "14:00" in slot_starts(synced_client)  # the cache does not know yet
    assert sync(synced_app) == "sync-calendar: other: 1\n"
    assert "14:00" not in slot_starts(synced_client)

    token, _ = standin.issue_tokens()
    url = f"{standin.api_endpoint}calendars/{PERSONAL}/events/{dentist['id']}"
    assert requests.delete(url, headers={"Authorization": f"Bearer {token}"}, timeout=5).status_code == 204
    assert sync(synced_app) == "sync-calendar: other: 1\n"
    assert "14:00" in slot_starts(synced_client)
    assert len(mailbox.messages) == 2  # the confirmation and the therapist's notice, nothing since


def test_a_refused_sync_token_leads_to_a_full_resync_without_a_second_email(
    synced_app, synced_client, standin, mailbox
):
    """After 410 fullSyncRequired the calendar is listed again; changes already followed are not followed twice."""
    first, second = booked_and_synced(
        synced_app, synced_client, standin, mailbox, f"{WEDNESDAY}T09:00:00-07:00", f"{WEDNESDAY}T11:00:00-07:00"
    )
    google_delete(standin, first)
    assert sync(synced_app) == "sync-calendar: cancelled: 1\n"
    move_event(standin, second, local(26, 10), local(26, 11))
    standin.invalidate_sync_tokens()
    standin.reset_calls()

    assert sync(synced_app) == "sync-calendar: moved: 1\n"
    listings = [r for r in standin.requests if r.path.endswith("/events") and r.method == "GET"]
    assert "syncToken" in listings[0].query and "timeMin" in listings[-1].query  # refused, then listed in full
    assert stored(synced_app, first).status == "cancelled"
    assert stored(synced_app, second).start_at == local(26, 10)
    assert len(mailbox.received_by("client0@example.com")) == 2  # booked, cancelled: once
    assert len(mailbox.received_by("client1@example.com")) == 2  # booked, moved
    assert sync(synced_app) == "sync-calendar: nothing changed\n"
    with synced_app.app_context():
        state = db.session.execute(text("SELECT sync_token, full_synced_at FROM calendar_sync")).all()
    assert all(token for token, _ in state)


def test_run_jobs_syncs_the_calendar_once_per_interval(synced_app, synced_client, standin, mailbox):
    """run-jobs follows a deleted event by itself; rounds within CALENDAR_SYNC_MINUTES (any process) read nothing."""
    [booking_id] = booked_and_synced(synced_app, synced_client, standin, mailbox)
    google_delete(standin, booking_id)
    assert "calendar cancelled: 1" in run_jobs(synced_app, minutes=10)
    assert stored(synced_app, booking_id).status == "cancelled"

    standin.reset_calls()
    for _ in range(3):  # another run-jobs, or the next round, within the interval
        result = synced_app.test_cli_runner().invoke(args=["run-jobs", "--once"])
        assert result.exit_code == 0, result.output
    assert calendar_calls(standin) == []
    run_jobs(synced_app, minutes=5)
    assert calendar_calls(standin) == [("GET", f"{API}calendars/primary/events")]
    assert len(mailbox.received_by("client0@example.com")) == 2


# --------------------------------------------------------------------------------------------------- 10. push

HTTPS = "https://widget.test"
NOTIFICATIONS = f"{HTTPS}/google/notifications"
PUSH_OFF = "not within seconds: Google sends its notifications only to an https address, and PUBLIC_URL is not one"


@pytest.fixture
def push_app(tmp_path, mailbox, monkeypatch, standin):
    """Return an app on the Google backend with an https PUBLIC_URL (push on); the stand-in shares its clock."""
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    monkeypatch.setenv("OAUTHLIB_RELAX_TOKEN_SCOPE", "1")
    standin.redirect_uris.append(f"{HTTPS}/oauth2callback")
    app = make_google_app(tmp_path, standin, mailbox, THERAPIST_EMAIL=THERAPIST, PUBLIC_URL=HTTPS)
    standin.clock = app.extensions["clock"]
    return app


@pytest.fixture
def push_client(push_app, standin):
    """Return a test client of push_app; the stand-in's notifications to PUBLIC_URL arrive through it."""
    client = push_app.test_client()

    def post(address: str, headers: dict[str, str]) -> int:
        parts = urlsplit(address)
        assert f"{parts.scheme}://{parts.netloc}" == HTTPS
        return client.post(parts.path, headers=headers).status_code

    standin.push_transport = post
    return client


def listings(standin) -> int:
    return len([call for call in calendar_calls(standin) if call[0] == "GET" and call[1].endswith("/events")])


def sync_rows(app) -> list[tuple[str, str]]:
    """Return the queued push syncs (key, status)."""
    with app.app_context():
        rows = db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "calendar-sync")).all()
        return [(row.key, row.status) for row in rows]


def run_jobs_now(app) -> str:
    """Run ``run-jobs --once`` without moving the clock (the polling round is not due); return its output."""
    result = app.test_cli_runner().invoke(args=["run-jobs", "--once"])
    assert result.exit_code == 0, result.output
    return result.output


def pushed_and_booked(app, client, standin, mailbox) -> str:
    """Connect with push on, book one appointment, and let run-jobs settle; return the booking id.

    run-jobs takes its polling round here, so for the next CALENDAR_SYNC_MINUTES only push makes it sync.
    """
    page = come_back(client, consent(start_consent(app, client), callback=f"{HTTPS}/oauth2callback"))
    assert "Google Calendar is connected" in text_of(page)
    assert PUSH_OFF not in text_of(page)
    [channel] = standin.channels()
    assert (channel["calendar"], channel["address"]) == (DEFAULT_CALENDAR_ID, NOTIFICATIONS)
    assert len(channel["token"]) >= 32 and len(channel["id"]) >= 16
    response = book(client, email="client0@example.com")
    assert response.status_code == 201, response.json
    mailbox.wait_for(2)
    run_jobs(app)
    assert standin.deliver_notifications() == [200, 200]  # "sync", then our own event
    run_jobs_now(app)
    standin.reset_calls()
    return response.json["id"]


def test_a_booking_event_deleted_in_google_is_followed_by_push_with_one_email(push_app, push_client, standin, mailbox):
    """The therapist deletes the event: Google's notification queues a sync run-jobs does at once; one email."""
    booking_id = pushed_and_booked(push_app, push_client, standin, mailbox)
    google_delete(standin, booking_id)
    [message] = standin.notifications
    assert message.headers["X-Goog-Resource-State"] == "exists"

    assert standin.deliver_notifications() == [200]
    assert calendar_calls(standin) == [("DELETE", f"{API}calendars/{DEFAULT_CALENDAR_ID}/events/{booking_id}")]
    assert stored(push_app, booking_id).status == "confirmed"  # the request only queued the sync

    run_jobs_now(push_app)
    assert stored(push_app, booking_id).status == "cancelled"
    assert listings(standin) == 1
    deliver_outbox(push_app)  # the email the sync queued: the runner's next wake-up
    [_, cancelled] = mailbox.received_by("client0@example.com")
    assert str(cancelled["Subject"]).strip().startswith("Cancelled: 60-minute massage")

    # Polling later sees the same change: nothing more.
    run_jobs(push_app)
    standin.deliver_notifications()
    run_jobs_now(push_app)
    assert len(mailbox.received_by("client0@example.com")) == 2


def test_a_booking_event_moved_in_google_is_followed_by_push_with_one_email(push_app, push_client, standin, mailbox):
    """The therapist drags the event: after the notification and one run-jobs round the booking has moved."""
    booking_id = pushed_and_booked(push_app, push_client, standin, mailbox)
    move_event(standin, booking_id, local(26, 10), local(26, 11))
    assert standin.deliver_notifications() == [200]
    run_jobs_now(push_app)

    booking = stored(push_app, booking_id)
    assert (booking.status, booking.start_at, booking.end_at) == ("confirmed", local(26, 10), local(26, 11))
    deliver_outbox(push_app)  # the email the sync queued: the runner's next wake-up
    [_, moved] = mailbox.received_by("client0@example.com")
    assert str(moved["Subject"]).strip().startswith("Moved: 60-minute massage, now")
    run_jobs(push_app)
    standin.deliver_notifications()
    run_jobs_now(push_app)
    assert len(mailbox.received_by("client0@example.com")) == 2


def test_forged_notifications_answer_404_and_change_nothing(push_app, push_client, standin, mailbox, caplog):
    """An unknown channel, a wrong or missing token, or another resource: 404, nothing queued, nothing logged."""
    booking_id = pushed_and_booked(push_app, push_client, standin, mailbox)
    google_delete(standin, booking_id)
    [real] = standin.notifications
    standin.notifications.clear()
    forged = [
        real.headers | {"X-Goog-Channel-ID": "made-up-channel"},
        real.headers | {"X-Goog-Channel-Token": real.headers["X-Goog-Channel-Token"][:-1] + "x"},
        {k: v for k, v in real.headers.items() if k != "X-Goog-Channel-Token"},
        real.headers | {"X-Goog-Resource-ID": "another-resource"},
        {},
    ]
    before = sync_rows(push_app)
    caplog.set_level(logging.INFO)
    for headers in forged:
        assert push_client.post("/google/notifications", headers=headers).status_code == 404
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert sync_rows(push_app) == before
    run_jobs_now(push_app)
    assert listings(standin) == 0
    assert stored(push_app, booking_id).status == "confirmed"
    assert len(mailbox.received_by("client0@example.com")) == 1


def test_a_burst_of_50_notifications_costs_at_most_two_listings(push_app, push_client, standin, mailbox):
    """Fifty changes in a row, fifty notifications: one sync is queued, and run-jobs lists the calendar once."""
    pushed_and_booked(push_app, push_client, standin, mailbox)
    for index in range(50):
        standin.add_event(DEFAULT_CALENDAR_ID, local(27, 9) + timedelta(minutes=index), local(27, 10), summary="Busy")
    statuses = standin.deliver_notifications()
    assert statuses == [200] * 50
    assert calendar_calls(standin) == []  # every notification answered without asking Google anything
    assert [status for _, status in sync_rows(push_app) if status == "pending"] == ["pending"]
    run_jobs_now(push_app)
    assert 1 <= listings(standin) <= 2
    assert sync_rows(push_app)[-1][1] == "sent"


def test_channels_are_renewed_before_they_expire_and_overlap(push_app, push_client, standin, mailbox):
    """Before a channel expires run-jobs opens another (new id); the old one works until it ends, then is dropped."""
    pushed_and_booked(push_app, push_client, standin, mailbox)
    [old] = standin.channels()
    clock = push_app.extensions["clock"]
    clock.now = old["expiration"] - timedelta(hours=6)
    run_jobs_now(push_app)
    channels = {channel["id"]: channel for channel in standin.channels()}
    assert old["id"] in channels and len(channels) == 2
    [new] = [channel for channel in channels.values() if channel["id"] != old["id"]]
    assert new["token"] != old["token"] and new["expiration"] > old["expiration"]

    standin.add_event(DEFAULT_CALENDAR_ID, local(27, 9), local(27, 10))
    assert standin.deliver_notifications() == [200, 200, 200]  # the new one's "sync"; then "exists" on both

    clock.now = old["expiration"] + timedelta(minutes=1)
    run_jobs_now(push_app)
    headers = {
        "X-Goog-Channel-ID": old["id"],
        "X-Goog-Channel-Token": old["token"],
        "X-Goog-Resource-ID": old["resourceId"],
        "X-Goog-Resource-State": "exists",
        "X-Goog-Message-Number": "9",
    }
    assert push_client.post("/google/notifications", headers=headers).status_code == 404
    assert [channel["id"] for channel in standin.channels() if channel["expiration"] > clock.now] == [new["id"]]


def test_unticked_calendars_and_disconnecting_stop_their_channels(push_app, push_client, standin, mailbox):
    """Ticking a calendar opens a channel for it, unticking stops it (channels.stop), disconnecting stops them all."""
    pushed_and_booked(push_app, push_client, standin, mailbox)
    standin.add_calendar(PERSONAL, "Personal")
    choose(push_client, [DEFAULT_CALENDAR_ID, PERSONAL], DEFAULT_CALENDAR_ID)
    assert sorted(channel["calendar"] for channel in standin.channels()) == sorted([DEFAULT_CALENDAR_ID, PERSONAL])

    choose(push_client, [DEFAULT_CALENDAR_ID], DEFAULT_CALENDAR_ID)
    assert [channel["calendar"] for channel in standin.channels()] == [DEFAULT_CALENDAR_ID]
    assert PERSONAL in [c["calendar"] for c in standin.channels(include_stopped=True) if c["stopped"]]

    page = push_client.get("/admin/google")
    assert push_client.post("/admin/google/disconnect", data={"csrf_token": csrf_token(page.text)}).status_code == 302
    assert standin.channels() == []
    with push_app.app_context():
        assert db.session.execute(text("SELECT count(*) FROM google_channels")).scalar() == 0


def test_without_an_https_public_url_push_is_off_and_the_admin_says_so(google_app, client, standin):
    """Google refuses http addresses: no channel is asked for, polling does the work, and the admin says so."""
    connect(google_app, client, standin)
    assert standin.channels() == []
    assert not [call for call in calendar_calls(standin) if call[1].endswith("/watch")]
    page = text_of(client.get("/admin/google"))
    assert "Changes you make in Google Calendar are picked up every 5 minutes, " + PUSH_OFF + "." in page
    run_jobs(google_app)
    assert standin.channels() == []
