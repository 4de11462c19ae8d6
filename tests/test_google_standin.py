"""Prove the Google stand-in against the real client libraries (googleapiclient, google-auth, google-auth-oauthlib).

Nothing is faked between the libraries and the stand-in: every call below goes over HTTP to 127.0.0.1.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import date, datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import pytest

pytest.importorskip("googleapiclient")
pytest.importorskip("google_auth_oauthlib")

import httplib2  # noqa: E402
import requests  # noqa: E402
from google.auth.exceptions import RefreshError  # noqa: E402
from google.oauth2.credentials import Credentials  # noqa: E402
from google_auth_httplib2 import AuthorizedHttp  # noqa: E402
from google_auth_oauthlib.flow import Flow  # noqa: E402
from googleapiclient.discovery import build  # noqa: E402
from googleapiclient.errors import HttpError  # noqa: E402
from oauthlib.oauth2.rfc6749.errors import InvalidGrantError  # noqa: E402

from tests.google_standin import CALENDAR_SCOPE, DEFAULT_CALENDAR_ID, GoogleStandIn  # noqa: E402

REDIRECT_URI = "http://localhost:5000/settings/google/callback"
UTC = timezone.utc
# Tuesday 2026-11-24 in Denver (UTC-7): 09:00 local is 16:00Z.
DAY_START = datetime(2026, 11, 24, 7, 0, tzinfo=UTC)
DAY_END = datetime(2026, 11, 25, 7, 0, tzinfo=UTC)


def at(hour: int, minute: int = 0) -> datetime:
    """Return 2026-11-24 at the given UTC time."""
    return datetime(2026, 11, 24, hour, minute, tzinfo=UTC)


def reason_of(error: HttpError) -> str:
    """Return errors[0].reason from Google's error envelope."""
    return json.loads(error.content)["error"]["errors"][0]["reason"]


def no_backoff(request):
    """Make googleapiclient's retry loop skip its randomized sleeps (keeps the tests fast)."""
    request._sleep = lambda _seconds: None
    return request


@pytest.fixture
def google():
    with GoogleStandIn(redirect_uris=[REDIRECT_URI]) as standin:
        yield standin
    assert standin.internal_errors == []


@pytest.fixture
def credentials(google):
    access_token, refresh_token = google.issue_tokens()
    return Credentials(
        token=access_token,
        refresh_token=refresh_token,
        token_uri=google.token_uri,
        client_id=google.client_id,
        client_secret=google.client_secret,
    )


def calendar_service(google, credentials=None, http=None):
    return build(
        "calendar",
        "v3",
        credentials=credentials,
        http=http,
        static_discovery=True,
        cache_discovery=False,
        client_options={"api_endpoint": google.api_endpoint},
    )


@pytest.fixture
def service(google, credentials):
    return calendar_service(google, credentials)


def event_body(event_id=None, start=None, end=None, **fields):
    start, end = start or at(16), end or at(17)
    body = {"summary": "Session", "start": {"dateTime": start.isoformat()}, "end": {"dateTime": end.isoformat()}}
    if event_id:
        body["id"] = event_id
    return body | fields


# ------------------------------------------------------------------------------------------------ calendars


def test_calendar_list_pages_and_reports_roles(google, service):
    google.add_calendar("shared@group.calendar.google.com", "Shared", access_role="reader", time_zone="UTC")
    google.add_calendar("hidden@group.calendar.google.com", "Hidden", access_role="none")

    listing = service.calendarList().list().execute()
    assert listing["kind"] == "calendar#calendarList"
    entries = {item["id"]: item for item in listing["items"]}
    assert set(entries) == {DEFAULT_CALENDAR_ID, "shared@group.calendar.google.com"}
    primary = entries[DEFAULT_CALENDAR_ID]
    assert primary["primary"] is True
    assert primary["accessRole"] == "owner"
    assert primary["timeZone"] == "America/Denver"
    assert "primary" not in entries["shared@group.calendar.google.com"]

    first = service.calendarList().list(maxResults=1).execute()
    assert len(first["items"]) == 1 and "nextPageToken" in first
    second = service.calendarList().list(maxResults=1, pageToken=first["nextPageToken"]).execute()
    assert len(second["items"]) == 1 and "nextPageToken" not in second and "nextSyncToken" in second

    writable = service.calendarList().list(minAccessRole="writer").execute()
    assert [item["id"] for item in writable["items"]] == [DEFAULT_CALENDAR_ID]


# ------------------------------------------------------------------------------------------------ freeBusy


def test_freebusy_merges_clips_and_skips_free_time(google, service):
    google.add_event("primary", at(5), at(8))  # starts before timeMin: clipped
    google.add_event("primary", at(16), at(17))
    google.add_event("primary", at(16, 30), at(17, 30))  # overlaps: merged
    google.add_event("primary", at(17, 30), at(18))  # touches: merged
    google.add_event("primary", at(19), at(20), transparency="transparent")  # free
    google.add_event("primary", at(21), at(22), status="cancelled")  # free
    google.add_event("primary", at(22), at(22))  # zero length: not busy
    google.add_event("primary", datetime(2026, 11, 25, 6, tzinfo=UTC), datetime(2026, 11, 25, 9, tzinfo=UTC))
    google.add_calendar("home@studio.example", "Home", time_zone="America/Denver")
    google.add_event("home@studio.example", date(2026, 11, 24), date(2026, 11, 25), summary="Holiday")

    result = (
        service.freebusy()
        .query(
            body={
                "timeMin": DAY_START.isoformat(),
                "timeMax": DAY_END.isoformat(),
                "items": [{"id": "primary"}, {"id": "home@studio.example"}, {"id": "missing@studio.example"}],
            }
        )
        .execute()
    )

    assert result["kind"] == "calendar#freeBusy"
    assert result["timeMin"] == "2026-11-24T07:00:00.000Z"
    assert result["calendars"]["primary"] == {
        "busy": [
            {"start": "2026-11-24T07:00:00Z", "end": "2026-11-24T08:00:00Z"},
            {"start": "2026-11-24T16:00:00Z", "end": "2026-11-24T18:00:00Z"},
            {"start": "2026-11-25T06:00:00Z", "end": "2026-11-25T07:00:00Z"},
        ]
    }
    # An all-day event is busy from local midnight to local midnight (America/Denver, UTC-7).
    assert result["calendars"]["home@studio.example"]["busy"] == [
        {"start": "2026-11-24T07:00:00Z", "end": "2026-11-25T07:00:00Z"}
    ]
    assert result["calendars"]["missing@studio.example"] == {
        "errors": [{"domain": "global", "reason": "notFound"}],
        "busy": [],
    }
    assert google.call_count("POST", "/calendar/v3/freeBusy") == 1


def test_freebusy_answers_in_the_requested_time_zone(google, service):
    google.add_event("primary", at(16), at(17))
    body = {"timeMin": DAY_START.isoformat(), "timeMax": DAY_END.isoformat(), "timeZone": "America/Denver"}
    result = service.freebusy().query(body=body | {"items": [{"id": DEFAULT_CALENDAR_ID}]}).execute()
    assert result["calendars"][DEFAULT_CALENDAR_ID]["busy"] == [
        {"start": "2026-11-24T09:00:00-07:00", "end": "2026-11-24T10:00:00-07:00"}
    ]


@pytest.mark.parametrize(
    ("time_min", "time_max", "reason"),
    [
        (DAY_START, DAY_START + timedelta(days=63), "timeRangeTooLong"),
        (DAY_END, DAY_START, "timeRangeEmpty"),
    ],
)
def test_freebusy_rejects_bad_ranges(service, time_min, time_max, reason):
    body = {"timeMin": time_min.isoformat(), "timeMax": time_max.isoformat(), "items": [{"id": "primary"}]}
    with pytest.raises(HttpError) as caught:
        service.freebusy().query(body=body).execute()
    assert caught.value.status_code == 400
    assert reason_of(caught.value) == reason
    assert json.loads(caught.value.content)["error"]["errors"][0]["domain"] == "calendar"


# ------------------------------------------------------------------------------------------------ events


def test_event_lifecycle(google, service):
    events = service.events()
    body = event_body("booking0001", extendedProperties={"private": {"booking_id": "42"}})
    created = events.insert(calendarId="primary", body=body).execute()
    assert created["id"] == "booking0001"
    assert created["status"] == "confirmed"
    assert created["sequence"] == 0
    assert created["start"] == {"dateTime": "2026-11-24T09:00:00-07:00"}  # rendered in the calendar's zone
    assert created["iCalUID"] == "booking0001@google.com"

    fetched = events.get(calendarId=DEFAULT_CALENDAR_ID, eventId="booking0001").execute()
    assert fetched["etag"] == created["etag"]

    found = events.list(calendarId="primary", privateExtendedProperty="booking_id=42").execute()
    assert [item["id"] for item in found["items"]] == ["booking0001"]
    assert events.list(calendarId="primary", privateExtendedProperty="booking_id=43").execute()["items"] == []
    window = events.list(calendarId="primary", timeMin=at(17).isoformat(), timeMax=at(18).isoformat()).execute()
    assert window["items"] == []  # timeMin is an exclusive bound on the event's end

    moved = events.patch(
        calendarId="primary",
        eventId="booking0001",
        body={"start": {"dateTime": "2026-11-24T17:00:00Z"}, "end": {"dateTime": "2026-11-24T18:00:00Z"}},
    ).execute()
    assert moved["etag"] != created["etag"]
    assert moved["sequence"] == 1
    assert moved["extendedProperties"] == {"private": {"booking_id": "42"}}  # patch keeps what it did not name

    stale = events.patch(calendarId="primary", eventId="booking0001", body={"summary": "Renamed"})
    stale.headers["If-Match"] = created["etag"]
    with pytest.raises(HttpError) as caught:
        stale.execute()
    assert caught.value.status_code == 412
    assert reason_of(caught.value) == "conditionNotMet"

    fresh = events.patch(calendarId="primary", eventId="booking0001", body={"summary": "Renamed"})
    fresh.headers["If-Match"] = moved["etag"]
    assert fresh.execute()["summary"] == "Renamed"

    assert events.delete(calendarId="primary", eventId="booking0001").execute() in ("", {})
    gone = events.get(calendarId="primary", eventId="booking0001").execute()
    assert gone["status"] == "cancelled"
    assert events.list(calendarId="primary").execute()["items"] == []
    assert [e["id"] for e in events.list(calendarId="primary", showDeleted=True).execute()["items"]] == ["booking0001"]

    with pytest.raises(HttpError) as caught:
        events.delete(calendarId="primary", eventId="booking0001").execute()
    assert (caught.value.status_code, reason_of(caught.value)) == (410, "deleted")

    with pytest.raises(HttpError) as caught:
        events.insert(calendarId="primary", body=event_body("booking0001")).execute()
    assert (caught.value.status_code, reason_of(caught.value)) == (409, "duplicate")

    with pytest.raises(HttpError) as caught:
        events.get(calendarId="primary", eventId="unknown0001").execute()
    assert (caught.value.status_code, reason_of(caught.value)) == (404, "notFound")
    assert google.events("primary") == []
    assert google.events("primary", include_deleted=True)[0]["summary"] == "Renamed"


def test_update_replaces_the_event(google, service):
    created = service.events().insert(calendarId="primary", body=event_body("booking0005", location="Room 1")).execute()
    replaced = (
        service.events()
        .update(calendarId="primary", eventId="booking0005", body=event_body(start=at(18), end=at(19), summary="Moved"))
        .execute()
    )
    assert "location" not in replaced  # PUT drops what the body leaves out
    assert (replaced["summary"], replaced["sequence"], replaced["created"]) == ("Moved", 1, created["created"])
    assert replaced["end"] == {"dateTime": "2026-11-24T12:00:00-07:00"}

    stale = service.events().update(calendarId="primary", eventId="booking0005", body=event_body())
    stale.headers["If-Match"] = created["etag"]
    with pytest.raises(HttpError) as caught:
        stale.execute()
    assert (caught.value.status_code, reason_of(caught.value)) == (412, "conditionNotMet")
    assert google.event("primary", "booking0005")["summary"] == "Moved"


@pytest.mark.parametrize("event_id", ["abc", "Booking0001", "booking-0001", "wxyz12345"])
def test_invalid_event_ids_are_rejected(service, event_id):
    with pytest.raises(HttpError) as caught:
        service.events().insert(calendarId="primary", body=event_body(event_id)).execute()
    assert caught.value.status_code == 400
    assert reason_of(caught.value) == "invalid"
    assert caught.value.reason == "Invalid resource id value."


def test_event_validation_matches_google(service):
    with pytest.raises(HttpError) as caught:
        service.events().insert(calendarId="primary", body=event_body(start=at(17), end=at(16))).execute()
    assert reason_of(caught.value) == "timeRangeEmpty"
    naive = {"start": {"dateTime": "2026-11-24T09:00:00"}, "end": {"dateTime": "2026-11-24T10:00:00"}}
    with pytest.raises(HttpError) as caught:
        service.events().insert(calendarId="primary", body=naive).execute()
    assert caught.value.reason == "Missing time zone definition for start time."
    with_zone = {key: value | {"timeZone": "America/Denver"} for key, value in naive.items()}
    created = service.events().insert(calendarId="primary", body=with_zone).execute()
    assert created["start"] == {"dateTime": "2026-11-24T09:00:00-07:00", "timeZone": "America/Denver"}


def test_access_roles_and_missing_calendars(google, service):
    google.set_access_role(DEFAULT_CALENDAR_ID, "reader")
    with pytest.raises(HttpError) as caught:
        service.events().insert(calendarId="primary", body=event_body()).execute()
    assert caught.value.status_code == 403
    assert reason_of(caught.value) == "requiredAccessLevel"
    assert caught.value.reason == "You need to have writer access to this calendar."
    assert service.events().list(calendarId="primary").execute()["accessRole"] == "reader"

    google.delete_calendar(DEFAULT_CALENDAR_ID)
    with pytest.raises(HttpError) as caught:
        service.events().list(calendarId=DEFAULT_CALENDAR_ID).execute()
    assert (caught.value.status_code, reason_of(caught.value)) == (404, "notFound")


def test_sync_tokens(google, service):
    google.add_event("primary", at(16), at(17), event_id="first0001")
    full = service.events().list(calendarId="primary").execute()
    assert [e["id"] for e in full["items"]] == ["first0001"]
    service.events().insert(calendarId="primary", body=event_body("second001")).execute()
    service.events().delete(calendarId="primary", eventId="first0001").execute()

    changes = service.events().list(calendarId="primary", syncToken=full["nextSyncToken"]).execute()
    assert {e["id"]: e["status"] for e in changes["items"]} == {"first0001": "cancelled", "second001": "confirmed"}

    google.invalidate_sync_tokens()
    with pytest.raises(HttpError) as caught:
        service.events().list(calendarId="primary", syncToken=changes["nextSyncToken"]).execute()
    assert (caught.value.status_code, reason_of(caught.value)) == (410, "fullSyncRequired")


# ------------------------------------------------------------------------------------------------ tokens


def test_expired_access_token_is_refreshed_transparently(google, credentials, service):
    old_token = credentials.token
    google.expire_access_tokens()
    assert service.calendarList().list().execute()["items"]
    assert credentials.token != old_token
    assert google.token_requests == ["refresh_token"]
    assert google.call_count(path_contains="/calendar/v3/users/me/calendarList") == 2  # 401, then the retry


def test_revoked_grant_raises_refresh_error(google, service):
    google.revoke_all()
    with pytest.raises(RefreshError) as caught:
        service.calendarList().list().execute()
    assert "invalid_grant" in str(caught.value)
    assert "Token has been expired or revoked." in str(caught.value)


def test_revoke_endpoint(google, credentials):
    response = requests.post(google.revoke_uri, data={"token": credentials.refresh_token}, timeout=5)
    assert (response.status_code, response.json()) == (200, {})
    assert google.is_revoked(credentials.token)
    again = requests.post(google.revoke_uri, data={"token": credentials.refresh_token}, timeout=5)
    assert (again.status_code, again.json()["error"]) == (400, "invalid_token")
    unknown = requests.post(google.revoke_uri, data={"token": "nope"}, timeout=5)
    assert (unknown.status_code, unknown.json()["error"]) == (400, "invalid_token")
    refresh = requests.post(
        google.token_uri,
        data={
            "grant_type": "refresh_token",
            "refresh_token": credentials.refresh_token,
            "client_id": google.client_id,
            "client_secret": google.client_secret,
        },
        timeout=5,
    )
    assert refresh.status_code == 400
    assert refresh.json() == {"error": "invalid_grant", "error_description": "Token has been expired or revoked."}


def test_missing_bad_and_underscoped_tokens(google):
    url = google.api_endpoint + "users/me/calendarList"
    missing = requests.get(url, timeout=5)
    assert missing.status_code == 401
    assert missing.json()["error"]["errors"][0]["reason"] == "required"
    bad = requests.get(url, headers={"Authorization": "Bearer ya29.nope"}, timeout=5)
    assert bad.status_code == 401
    assert bad.json()["error"]["status"] == "UNAUTHENTICATED"
    assert bad.json()["error"]["errors"][0] == {
        "domain": "global",
        "reason": "authError",
        "message": "Invalid Credentials",
        "locationType": "header",
        "location": "Authorization",
    }
    readonly, _ = google.issue_tokens(scopes=["https://www.googleapis.com/auth/calendar.readonly"])
    insert = requests.post(
        google.api_endpoint + "calendars/primary/events",
        json=event_body(),
        headers={"Authorization": f"Bearer {readonly}"},
        timeout=5,
    )
    assert insert.status_code == 403
    assert insert.json()["error"]["errors"][0]["reason"] == "insufficientPermissions"


def test_owned_events_scope_reaches_only_calendars_the_account_owns(google):
    """calendar.events.owned writes to owned calendars only; calendar.events.readonly reads every calendar."""
    scope = "https://www.googleapis.com/auth/"
    shared, team = "shared@group.calendar.google.com", "team@group.calendar.google.com"
    google.add_calendar(shared, "Shared studio", access_role="writer")
    google.add_calendar(team, "Team", access_role="reader")
    owned_only, _ = google.issue_tokens(scopes=[scope + "calendar.events.owned"])
    narrow, _ = google.issue_tokens(scopes=[scope + "calendar.events.owned", scope + "calendar.events.readonly"])

    def call(token, method, calendar_id, **kwargs):
        url = f"{google.api_endpoint}calendars/{calendar_id}/events"
        return requests.request(method, url, headers={"Authorization": f"Bearer {token}"}, timeout=5, **kwargs)

    assert call(owned_only, "POST", "primary", json=event_body()).status_code == 200
    refused = call(owned_only, "POST", shared, json=event_body())
    assert refused.status_code == 403
    assert refused.json()["error"]["errors"][0]["reason"] == "insufficientPermissions"
    assert call(owned_only, "GET", team).status_code == 403
    # The access role is checked first: a calendar she may only read says so, whatever the scope.
    reader = call(narrow, "POST", team, json=event_body())
    assert reader.json()["error"]["errors"][0]["reason"] == "requiredAccessLevel"
    assert call(narrow, "GET", team).status_code == 200
    assert call(narrow, "GET", shared).status_code == 200
    assert call(narrow, "POST", shared, json=event_body()).status_code == 403


# ------------------------------------------------------------------------------------------------ OAuth flow


def make_flow(google, **kwargs):
    return Flow.from_client_config(google.client_config(), scopes=[CALENDAR_SCOPE], redirect_uri=REDIRECT_URI, **kwargs)


def authorize(url):
    response = requests.get(url, allow_redirects=False, timeout=5)
    assert response.status_code == 302, response.text
    location = response.headers["Location"]
    assert location.startswith(REDIRECT_URI + "?")
    return location, {key: values[0] for key, values in parse_qs(urlsplit(location).query).items()}


@pytest.fixture
def insecure_oauthlib(monkeypatch):
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    monkeypatch.setenv("OAUTHLIB_RELAX_TOKEN_SCOPE", "1")


def test_authorization_code_flow_with_pkce(google, insecure_oauthlib):
    flow = make_flow(google, autogenerate_code_verifier=True)
    url, state = flow.authorization_url(access_type="offline", prompt="consent")
    location, params = authorize(url)

    assert params["state"] == state
    assert params["scope"] == CALENDAR_SCOPE
    sent = google.last_auth_request
    assert sent["access_type"] == "offline"
    assert sent["prompt"] == "consent"
    assert sent["code_challenge_method"] == "S256"
    assert sent["response_type"] == "code"

    token = flow.fetch_token(code=params["code"])
    assert token["refresh_token"]
    assert token["expires_in"] == 3599
    assert token["token_type"] == "Bearer"
    assert google.token_requests == ["authorization_code"]
    assert google.requests[-1].headers["Authorization"].startswith("Basic ")  # requests-oauthlib's client auth

    service = calendar_service(google, flow.credentials)
    assert service.calendarList().list().execute()["items"][0]["id"] == DEFAULT_CALENDAR_ID
    google.expire_access_tokens()
    assert service.calendarList().list().execute()["items"]
    assert google.token_requests == ["authorization_code", "refresh_token"]

    with pytest.raises(InvalidGrantError):  # codes are single-use
        make_flow(google, code_verifier=flow.code_verifier).fetch_token(code=params["code"])


def test_wrong_code_verifier_is_rejected(google, insecure_oauthlib):
    flow = make_flow(google, code_verifier="a" * 64)
    url, _ = flow.authorization_url(access_type="offline", prompt="consent")
    _, params = authorize(url)
    with pytest.raises(InvalidGrantError) as caught:
        make_flow(google, code_verifier="b" * 64).fetch_token(code=params["code"])
    assert "Invalid code verifier." in str(caught.value)
    assert make_flow(google, code_verifier="a" * 64).fetch_token(code=params["code"])["access_token"]


def test_denied_consent_redirects_with_access_denied(google, insecure_oauthlib):
    google.consent = "deny"
    url, state = make_flow(google).authorization_url(access_type="offline", prompt="consent")
    _, params = authorize(url)
    assert params == {"error": "access_denied", "state": state}


def test_refresh_token_only_on_first_consent_unless_prompted(google, insecure_oauthlib):
    for prompt, expect_refresh_token in ((None, True), (None, False), ("consent", True)):
        flow = make_flow(google)
        extra = {"prompt": prompt} if prompt else {}
        url, _ = flow.authorization_url(access_type="offline", **extra)
        _, params = authorize(url)
        assert ("refresh_token" in flow.fetch_token(code=params["code"])) is expect_refresh_token
    google.omit_refresh_token = True
    flow = make_flow(google)
    _, params = authorize(flow.authorization_url(access_type="offline", prompt="consent")[0])
    assert "refresh_token" not in flow.fetch_token(code=params["code"])


def test_unregistered_redirect_uri_shows_an_error_page(google, insecure_oauthlib):
    flow = Flow.from_client_config(google.client_config(), scopes=[CALENDAR_SCOPE], redirect_uri="http://evil/cb")
    response = requests.get(flow.authorization_url()[0], allow_redirects=False, timeout=5)
    assert response.status_code == 400
    assert "redirect_uri_mismatch" in response.text


# ------------------------------------------------------------------------------------------------ faults


def test_503_then_success_with_client_retries(google, service):
    google.fail_next(1, 503)
    google.fail_next(1, 403, "rateLimitExceeded", path_contains="/freeBusy")
    listing = no_backoff(service.calendarList().list()).execute(num_retries=2)
    assert listing["items"]
    body = {"timeMin": DAY_START.isoformat(), "timeMax": DAY_END.isoformat(), "items": [{"id": "primary"}]}
    assert no_backoff(service.freebusy().query(body=body)).execute(num_retries=1)["calendars"]
    assert google.call_count("GET", "calendarList") == 2
    assert google.call_count("POST", "/freeBusy") == 2


def test_faults_use_googles_envelope(google, service):
    google.fail_next(1, 429)
    with pytest.raises(HttpError) as caught:
        service.calendarList().list().execute()
    error = json.loads(caught.value.content)["error"]
    assert error["code"] == 429
    assert error["status"] == "RESOURCE_EXHAUSTED"
    assert error["errors"] == [
        {"domain": "usageLimits", "reason": "rateLimitExceeded", "message": "Rate Limit Exceeded"}
    ]


def test_commit_then_fail_makes_a_retried_insert_a_duplicate(google, service):
    google.fail_next(1, 503, path_contains="/events", method="POST", commit_then_fail=True)
    request = no_backoff(service.events().insert(calendarId="primary", body=event_body("booking0002")))
    with pytest.raises(HttpError) as caught:
        request.execute(num_retries=1)
    assert (caught.value.status_code, reason_of(caught.value)) == (409, "duplicate")
    assert [event["id"] for event in google.events("primary")] == ["booking0002"]


def test_slow_response_hits_the_client_socket_timeout(google, credentials):
    google.slow_next(2, 2.0, path_contains="/events")
    slow_http = AuthorizedHttp(credentials, http=httplib2.Http(timeout=0.3))
    service = calendar_service(google, http=slow_http)
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        service.events().insert(calendarId="primary", body=event_body("booking0003")).execute()
    assert time.monotonic() - started < 1.5
    assert [event["id"] for event in google.events("primary")] == ["booking0003"]  # the write went through

    # googleapiclient retries socket timeouts by itself; the retry of a committed insert meets 409 duplicate.
    request = no_backoff(service.events().insert(calendarId="primary", body=event_body("booking0004")))
    with pytest.raises(HttpError) as caught:
        request.execute(num_retries=1)
    assert (caught.value.status_code, reason_of(caught.value)) == (409, "duplicate")
    assert google.call_count("POST", "/events") == 3


def test_server_is_threaded(google, service, credentials):
    google.slow_next(1, 0.6, path_contains="/freeBusy")
    body = {"timeMin": DAY_START.isoformat(), "timeMax": DAY_END.isoformat(), "items": [{"id": "primary"}]}
    slow_service = calendar_service(google, credentials)
    results = []
    worker = threading.Thread(target=lambda: results.append(slow_service.freebusy().query(body=body).execute()))
    worker.start()
    time.sleep(0.1)
    started = time.monotonic()
    assert service.calendarList().list().execute()["items"]
    assert time.monotonic() - started < 0.4  # answered while the freeBusy request is still being held back
    worker.join(timeout=5)
    assert results and results[0]["kind"] == "calendar#freeBusy"


# ---------------------------------------------------------------------------------------------- push channels


def test_watch_sends_sync_then_exists_with_googles_headers(google, service):
    """events.watch answers an api#channel; messages carry the channel's headers, numbered, "sync" first."""
    received = []
    google.push_transport = lambda address, headers: received.append((address, headers)) or 200
    body = {"id": "chan-1", "type": "web_hook", "address": "https://app.example/hook", "token": "secret"}
    channel = service.events().watch(calendarId="primary", body=body).execute()
    assert channel["kind"] == "api#channel" and channel["id"] == "chan-1" and channel["token"] == "secret"
    expiration = datetime.fromtimestamp(int(channel["expiration"]) / 1000, timezone.utc)
    assert timedelta(days=6) < expiration - datetime.now(timezone.utc) <= timedelta(days=7)
    service.events().insert(calendarId="primary", body=event_body()).execute()
    assert google.deliver_notifications() == [200, 200]
    states = [(h["X-Goog-Resource-State"], h["X-Goog-Message-Number"]) for _, h in received]
    assert states == [("sync", "1"), ("exists", "2")]
    address, headers = received[1]
    assert address == "https://app.example/hook"
    assert headers["X-Goog-Channel-ID"] == "chan-1" and headers["X-Goog-Channel-Token"] == "secret"
    assert headers["X-Goog-Resource-ID"] == channel["resourceId"]
    assert headers["X-Goog-Resource-URI"] == channel["resourceUri"]
    assert headers["X-Goog-Channel-Expiration"].endswith(" GMT")


def test_watch_refuses_http_addresses_and_duplicate_ids(google, service):
    body = {"id": "chan-1", "type": "web_hook", "address": "http://app.example/hook"}
    with pytest.raises(HttpError) as refused:
        service.events().watch(calendarId="primary", body=body).execute()
    assert refused.value.resp.status == 400 and reason_of(refused.value) == "push.webhookUrlNotHttps"
    body["address"] = "https://app.example/hook"
    service.events().watch(calendarId="primary", body=body).execute()
    with pytest.raises(HttpError) as duplicate:
        service.events().watch(calendarId="primary", body=body).execute()
    assert reason_of(duplicate.value) == "channelIdNotUnique"


def test_a_stopped_channel_sends_nothing_and_cannot_be_stopped_twice(google, service):
    body = {"id": "chan-1", "type": "web_hook", "address": "https://app.example/hook"}
    channel = service.events().watch(calendarId="primary", body=body).execute()
    google.notifications.clear()
    service.channels().stop(body={"id": "chan-1", "resourceId": channel["resourceId"]}).execute()
    service.events().insert(calendarId="primary", body=event_body()).execute()
    assert google.notifications == []
    with pytest.raises(HttpError) as again:
        service.channels().stop(body={"id": "chan-1", "resourceId": channel["resourceId"]}).execute()
    assert again.value.resp.status == 404
