"""Google Calendar: the therapist's own calendar as the truth.

The only module that imports googleapiclient and google.oauth2.  The rest of
the service speaks to it through the calendar interface (``busy``,
``write_event``, ``delete_event``, ``status``, ``watched``, ``changes``) and the connection steps the
admin uses (``authorization_url``, ``finish_connect``, ``calendars``,
``choose``, ``disconnect``).

Failures: rate limits (429, 403 rateLimitExceeded / userRateLimitExceeded),
server errors and timeouts are retried with exponential backoff and jitter
within GOOGLE_RETRY_SECONDS; every socket read is bounded by GOOGLE_TIMEOUT.
A revoked grant (invalid_grant) or an API that keeps answering 401 marks the
connection lost: booking pauses, the therapist gets one email, /healthz says
so, and nothing queued is lost: the outbox writes it after she reconnects.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import secrets
import threading
import time
from datetime import date, datetime, timedelta, timezone

import httplib2
import requests
from cryptography.fernet import Fernet, InvalidToken
from flask import current_app
from google.auth.exceptions import RefreshError, TransportError
from google.oauth2.credentials import Credentials
from google_auth_httplib2 import AuthorizedHttp
from google_auth_oauthlib.flow import Flow
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError
from oauthlib.oauth2.rfc6749.errors import OAuth2Error
from sqlalchemy import delete, update

from .. import cache, outbox, signals
from ..extensions import begin_writing, db
from ..models import GoogleConnection, OAuthState, OutboxMessage, OutboxStatus
from ..timezones import Interval, utc_now
from . import CalendarUnavailable, Change, Changes, Event

log = logging.getLogger(__name__)

_SCOPE = "https://www.googleapis.com/auth/"
# The least Google allows for what the service does (each method's accepted scopes are in the discovery document):
# free/busy of the chosen calendars, the calendar list to choose from, reading (listing, watching) events of
# every calendar that makes the therapist busy, and writing events in the calendar she owns that gets bookings.
SCOPES = [
    _SCOPE + "calendar.freebusy",
    _SCOPE + "calendar.calendarlist.readonly",
    _SCOPE + "calendar.events.readonly",
    _SCOPE + "calendar.events.owned",
]
FULL_SCOPE = _SCOPE + "calendar"  # what connections made before asked for; they keep working
# Google answers free/busy for a little over two months at a time: a 60-day view plus its edges is one call.
WINDOW = timedelta(days=62)
RATE_LIMITS = {"rateLimitExceeded", "userRateLimitExceeded"}
STATE_LIFETIME = timedelta(minutes=15)
WRITERS = {"owner", "writer"}
# A Google Cloud project in "Testing" publishing status issues refresh tokens that expire after 7 days.
TESTING_LIFETIME = (timedelta(days=6), timedelta(days=8))
TESTING_HINT = (
    "Google ended the access about 7 days after connecting: the Google Cloud project is probably still in "
    "'Testing' publishing status, whose grants last only 7 days. In Google Cloud Console, open 'OAuth consent "
    "screen' (Google Auth Platform > Audience), press 'Publish app' so it says 'In production' (unverified is "
    "fine for your own account), then connect again here."
)


class ConnectError(Exception):
    """Connecting to Google did not work; the message is for the therapist."""


class CalendarError(Exception):
    """Google refused a call for good (not a passing failure); the message says why."""


def _reason(error: HttpError) -> str:
    try:
        return json.loads(error.content)["error"]["errors"][0]["reason"]
    except (ValueError, KeyError, IndexError, TypeError):
        return ""


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(timezone.utc)


def _when(value: dict | None) -> datetime | None:
    """Return the start or end of an event; an all-day one's date counts from midnight UTC."""
    if not value:
        return None
    if value.get("dateTime"):
        return _parse(value["dateTime"])
    if value.get("date"):
        return datetime.fromisoformat(value["date"]).replace(tzinfo=timezone.utc)
    return None


def _utc_days(start: datetime, end: datetime) -> list[date]:
    """Return the UTC days that [start, end) touches (at least one)."""
    first = start.astimezone(timezone.utc).date()
    last = (end.astimezone(timezone.utc) - timedelta(microseconds=1)).date()
    return [first + timedelta(days=i) for i in range(max((last - first).days, 0) + 1)]


def _day_start(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=timezone.utc)


def _busy_prefix(ids: list[str]) -> str:
    """Return the cache key prefix of the free/busy days of these calendars."""
    return "freebusy:" + hashlib.sha256(json.dumps(sorted(ids)).encode()).hexdigest()[:16] + ":"


def _change(calendar_id: str, item: dict) -> Change:
    """Return one listed event in our terms."""
    private = (item.get("extendedProperties") or {}).get("private") or {}
    return Change(
        calendar_id=calendar_id,
        event_id=item["id"],
        cancelled=item.get("status") == "cancelled",
        start=_when(item.get("start")),
        end=_when(item.get("end")),
        booking_id=private.get("booking_id") or None,
        version=item.get("etag") or item.get("updated") or "",
    )


class GoogleCalendar:
    """The therapist's Google Calendar."""

    name = "google"

    def __init__(self, app):
        # httplib2 is not thread-safe: each thread keeps its own API client and connection, built once.
        self._clients = threading.local()
        self._token_lock = threading.Lock()
        self._access_token: tuple[str, datetime] | None = None
        self._revoke_uri = app.config["GOOGLE_TOKEN_URI"].rsplit("/", 1)[0] + "/revoke"

    # --- the stored connection ------------------------------------------------

    def connection(self) -> GoogleConnection | None:
        """Return the stored connection, if there ever was one."""
        return db.session.get(GoogleConnection, 1)

    def status(self) -> str:
        """Return "ok" when connected, else "disconnected"."""
        connection = self.connection()
        return "ok" if connection is not None and connection.status == "connected" else "disconnected"

    def _connected(self) -> GoogleConnection:
        connection = self.connection()
        if connection is None or connection.status != "connected" or not connection.refresh_token:
            raise CalendarUnavailable("Google Calendar is not connected")
        return connection

    @staticmethod
    def granted(connection: GoogleConnection) -> list[str]:
        """Return the scopes the connection holds (the full scope for one made before narrower ones were asked)."""
        return (connection.scopes or "").split() or [FULL_SCOPE]

    def broad_access(self) -> bool:
        """Say whether the connection holds full calendar access, more than the service needs."""
        connection = self.connection()
        return connection is not None and connection.status == "connected" and FULL_SCOPE in self.granted(connection)

    def writable_roles(self) -> set[str]:
        """Return the calendar access roles whose calendars can receive bookings under the granted scopes."""
        connection = self.connection()
        # calendar.events.owned writes only to calendars the therapist owns; full access also to shared ones.
        return WRITERS if connection is not None and FULL_SCOPE in self.granted(connection) else {"owner"}

    def _fernet(self) -> Fernet:
        return Fernet(current_app.config["GOOGLE_TOKEN_KEY"])

    def _refresh_token(self, connection: GoogleConnection) -> str:
        try:
            return self._fernet().decrypt(connection.refresh_token.encode()).decode()
        except InvalidToken:
            self._lose("The stored Google token cannot be read (GOOGLE_TOKEN_KEY changed?). Please connect again.")
            raise CalendarUnavailable("the stored Google token cannot be decrypted") from None

    def _service(self, connection: GoogleConnection):
        """Return this thread's API client and credentials, built once per connection and reused."""
        identity = (connection.refresh_token, connection.scopes, connection.connected_at)
        kept = getattr(self._clients, "kept", None)
        if kept is not None and kept[0] == identity:
            return kept[1], kept[2]
        config = current_app.config
        with self._token_lock:
            token, expiry = self._access_token or (None, None)
        credentials = Credentials(
            token=token,
            expiry=expiry,
            refresh_token=self._refresh_token(connection),
            token_uri=config["GOOGLE_TOKEN_URI"],
            client_id=config["GOOGLE_CLIENT_ID"],
            client_secret=config["GOOGLE_CLIENT_SECRET"],
            # What this grant holds: a refresh asking for other scopes than granted would be refused.
            scopes=self.granted(connection),
        )
        http = AuthorizedHttp(credentials, http=httplib2.Http(timeout=config["GOOGLE_TIMEOUT"]))
        service = build(
            "calendar",
            "v3",
            http=http,
            static_discovery=True,
            cache_discovery=False,
            client_options={"api_endpoint": config["GOOGLE_API_ENDPOINT"]},
        )
        self._clients.kept = (identity, service, credentials)
        return service, credentials

    def _drop_client(self) -> None:
        """Forget this thread's client: the next call builds a new one with a new connection."""
        self._clients.kept = None

    def _keep_token(self, credentials: Credentials) -> None:
        # google-auth keeps expiry naive in UTC; the next Credentials expects the same.
        if credentials.token and credentials.expiry:
            with self._token_lock:
                self._access_token = (credentials.token, credentials.expiry)

    def _execute(self, make_request):
        """Run one API call with bounded retries; return its answer."""
        connection = self._connected()
        deadline = time.monotonic() + current_app.config["GOOGLE_RETRY_SECONDS"]
        attempt = 0
        while True:
            attempt += 1
            service, credentials = self._service(connection)
            try:
                answer = make_request(service).execute(num_retries=0)
                self._keep_token(credentials)
                return answer
            except RefreshError as error:
                self._drop_client()
                problem = f"Google no longer accepts this service's access ({error}). Please connect again."
                age = utc_now() - connection.connected_at if connection.connected_at else None
                if "invalid_grant" in str(error) and age and TESTING_LIFETIME[0] <= age <= TESTING_LIFETIME[1]:
                    problem = f"{problem} {TESTING_HINT}"
                self._lose(problem)
                raise CalendarUnavailable("the Google grant was revoked") from None
            except HttpError as error:
                status, reason = error.resp.status, _reason(error)
                if status == 401:
                    self._lose("Google keeps refusing this service's access (401). Please connect again.")
                    raise CalendarUnavailable("Google answers 401") from None
                if not (status == 429 or status >= 500 or (status == 403 and reason in RATE_LIMITS)):
                    raise
                failure = error
            except (TimeoutError, OSError, httplib2.HttpLib2Error, TransportError) as error:
                self._drop_client()  # the connection may be half-used: start the next try on a new one
                failure = error
            wait = min(0.25 * 2 ** (attempt - 1), 4.0) * random.uniform(0.5, 1.5)
            if time.monotonic() + wait > deadline:
                raise CalendarUnavailable(f"Google did not answer well in time: {failure}") from failure
            log.info("Google call failed (%s); retrying in %.2f s", failure, wait)
            time.sleep(wait)

    def _lose(self, problem: str) -> None:
        """Mark the connection lost, once, and say so (signals.calendar_lost: the therapist gets an email)."""
        db.session.rollback()
        with outbox.unit_of_work() as work:
            connection = self.connection()
            if connection is None or connection.status != "connected":
                return
            connection.status, connection.problem, connection.disconnected_at = "disconnected", problem, utc_now()
            with self._token_lock:
                self._access_token = None
            self._drop_client()
            signals.calendar_lost.send(self, connected_at=connection.connected_at, problem=problem, work=work)
            log.error("Google Calendar connection lost: %s", problem)

    # --- the calendar interface -------------------------------------------------

    def busy(self, start: datetime, end: datetime, fresh: bool = False) -> list[Interval]:
        """Return the busy time of the chosen calendars in [start, end).

        Answers are kept per whole UTC day for FREEBUSY_CACHE_SECONDS, so
        nearby questions share them and a new event drops only its own days.
        Days nobody has cost one call that also fetches the days after them
        (a whole window: the next view's days are usually among them); split
        only past Google's longest range.  When kept days grow old, one
        process (the one that gets the lease) asks Google again while the
        others go on with the old answer (for at most another expiry, or 30
        seconds); the refresh then bumps the calendar version, so slots
        worked out from the old answer go too.
        ``fresh`` asks Google about exactly the range given, now, keeping nothing.
        """
        connection = self._connected()
        ids = json.loads(connection.busy_calendars) or ["primary"]
        if fresh:
            intervals = self._ask(ids, start, end)
            if intervals:
                # Google knows something our kept answers may not: let those days be asked again.
                self.forget_busy([(start, end)])
            return intervals
        seconds = current_app.config["FREEBUSY_CACHE_SECONDS"]
        days = _utc_days(start, end)
        if seconds <= 0:
            return self._ask(ids, _day_start(days[0]), _day_start(days[-1]) + timedelta(days=1))
        prefix = _busy_prefix(ids)
        entries = [json.loads(raw) if raw else None for raw in cache.get_many([prefix + d.isoformat() for d in days])]
        now = time.time()
        # How long past its expiry an answer may still be served while one process refreshes it.
        grace = max(seconds, 30)
        entries = [e if e is not None and now - e["at"] <= seconds + grace else None for e in entries]
        missing = [d for d, e in zip(days, entries, strict=True) if e is None]
        old = [d for d, e in zip(days, entries, strict=True) if e is not None and now - e["at"] > seconds]
        ask = missing
        if old and not missing and cache.claim(prefix + "refresh", seconds):
            ask = old
        if ask:
            first = _day_start(ask[0])
            last = max(_day_start(ask[-1]) + timedelta(days=1), first + WINDOW)
            fetched = self._ask(ids, first, last)
            kept = {}
            for day in _utc_days(first, last):
                day_lo, day_hi = _day_start(day), _day_start(day) + timedelta(days=1)
                spans = [[a.isoformat(), b.isoformat()] for a, b in fetched if a < day_hi and b > day_lo]
                kept[day] = {"at": now, "busy": spans}
            # Kept past their expiry: the old answer others serve while one process refreshes.
            entries_text = {prefix + day.isoformat(): json.dumps(entry) for day, entry in kept.items()}
            cache.set_many(entries_text, seconds + grace)
            entries = [kept.get(d, e) for d, e in zip(days, entries, strict=True)]
            if ask is old:
                cache.calendar_changed()
        found = {(a, b) for entry in entries for a, b in entry["busy"]}
        return sorted((_parse(a), _parse(b)) for a, b in found)

    def forget_busy(self, intervals: list[Interval] | None = None) -> None:
        """Drop the kept free/busy answers of the days these intervals touch (None: of every day)."""
        if intervals is None:
            cache.forget("freebusy:")
        else:
            try:
                ids = json.loads(self._connected().busy_calendars) or ["primary"]
            except CalendarUnavailable:
                ids = None
            if ids is None:
                cache.forget("freebusy:")
            else:
                prefix = _busy_prefix(ids)
                cache.drop([prefix + day.isoformat() for a, b in intervals for day in _utc_days(a, b)])
        cache.calendar_changed()

    def _ask(self, ids: list[str], start: datetime, end: datetime) -> list[Interval]:
        """Ask Google for the busy time of calendars in [start, end), in as few calls as its range limit allows."""
        intervals: list[Interval] = []
        errors: dict[str, str] = {}
        chunk_start = start
        while chunk_start < end:
            chunk_end = min(chunk_start + WINDOW, end)
            body = {
                "timeMin": _rfc3339(chunk_start),
                "timeMax": _rfc3339(chunk_end),
                "items": [{"id": calendar_id} for calendar_id in ids],
            }
            try:
                answer = self._execute(lambda service, body=body: service.freebusy().query(body=body))
            except HttpError as error:
                # Refused for good (a daily quota, a permission): no free time can be trusted.
                problem = f"Google refused to tell free/busy times: {error.resp.status} {_reason(error)}."
                self._note_problem(problem)
                raise CalendarUnavailable(problem) from error
            for calendar_id, result in answer.get("calendars", {}).items():
                if result.get("errors"):
                    errors[calendar_id] = ", ".join(e.get("reason", "error") for e in result["errors"])
                for period in result.get("busy", []):
                    intervals.append((_parse(period["start"]), _parse(period["end"])))
            chunk_start = chunk_end
        self._note_calendar_errors(errors)
        return intervals

    def _note_calendar_errors(self, errors: dict[str, str]) -> None:
        """Remember calendars Google could not read, for the admin (written only when it changes)."""
        connection = self.connection()
        if connection is None or json.loads(connection.calendar_errors or "{}") == errors:
            return
        if errors:
            log.warning("Google could not read calendars: %s", errors)
        begin_writing()
        connection = self.connection()
        connection.calendar_errors = json.dumps(errors)
        db.session.commit()

    def _note_problem(self, problem: str | None) -> None:
        """Set or clear the problem shown to the therapist (written only when it changes)."""
        connection = self.connection()
        if connection is None or connection.problem == problem:
            return
        begin_writing()
        connection = self.connection()
        connection.problem = problem
        db.session.commit()

    def _event_body(self, event: Event) -> dict:
        zone = event.timezone
        return {
            "id": event.id,
            "summary": event.summary,
            "description": event.description,
            "start": {"dateTime": event.start.astimezone(timezone.utc).isoformat(), "timeZone": zone},
            "end": {"dateTime": event.end.astimezone(timezone.utc).isoformat(), "timeZone": zone},
            "transparency": "opaque",
            # Stated either way, so a patch takes an event back out of private when the setting changes.
            "visibility": "private" if event.private else "default",
            "extendedProperties": {"private": {"booking_id": event.booking_id or ""}},
        }

    def write_event(self, event: Event) -> None:
        """Create the event with our id, or move it if it is already there."""
        connection = self._connected()
        calendar_id = connection.booking_calendar
        body = self._event_body(event)
        # A new event changes its own days; a moved one also where it was, which is not known here.
        changed: list[Interval] | None = [(event.start, event.end)]
        try:
            self._execute(lambda service: service.events().insert(calendarId=calendar_id, body=body))
        except HttpError as error:
            if error.resp.status == 409:
                changed = None
                # Ours already (a retried insert, or a booking that moved): bring it up to date.
                patch = {key: value for key, value in body.items() if key != "id"}
                patch["status"] = "confirmed"
                try:
                    self._execute(
                        lambda service: service.events().patch(calendarId=calendar_id, eventId=event.id, body=patch)
                    )
                except HttpError as patch_error:
                    self._refused(patch_error, calendar_id)
            else:
                self._refused(error, calendar_id)
        self._note_problem(None)
        self.forget_busy(changed)

    def delete_event(self, event_id: str, when: Interval | None = None) -> None:
        """Delete the event; one that is already gone (404, 410) is fine."""
        connection = self._connected()
        calendar_id = connection.booking_calendar
        try:
            self._execute(lambda service: service.events().delete(calendarId=calendar_id, eventId=event_id))
        except HttpError as error:
            if error.resp.status not in (404, 410):
                self._refused(error, calendar_id)
        self.forget_busy([when] if when else None)

    def _refused(self, error: HttpError, calendar_id: str):
        """Record a refusal the therapist must act on, and raise it."""
        reason = _reason(error) or str(error.resp.status)
        if error.resp.status == 403:
            problem = f"Google refused to write to the calendar {calendar_id!r} ({reason}): choose a calendar you own."
        elif error.resp.status == 404:
            problem = f"The booking calendar {calendar_id!r} no longer exists on Google ({reason}): choose another."
        else:
            problem = f"Google refused a write to {calendar_id!r}: {error.resp.status} {reason}."
        self._note_problem(problem)
        raise CalendarError(problem) from error

    # --- changes made in Google Calendar ------------------------------------------

    def watched(self) -> list[str]:
        """Return the calendars whose changes matter: the busy ones and the booking calendar."""
        connection = self._connected()
        ids = json.loads(connection.busy_calendars) or ["primary"]
        return list(dict.fromkeys([*ids, connection.booking_calendar]))

    def changes(self, calendar_id: str, sync_token: str | None, start: datetime, end: datetime) -> Changes:
        """Return what changed in a calendar since ``sync_token``.

        Without a token, or when Google no longer accepts it (410
        fullSyncRequired), every event of [start, end) is listed instead,
        deleted ones included, and ``full`` says so.  Raises CalendarError
        when Google refuses to list the calendar's events for good.
        """
        if sync_token:
            try:
                return self._list_changes(calendar_id, {"syncToken": sync_token}, full=False)
            except HttpError as error:
                if error.resp.status != 410:
                    self._refused_listing(error, calendar_id)
                log.info("Google wants a full sync of %s: %s", calendar_id, _reason(error) or error.resp.status)
        bounds = {"timeMin": _rfc3339(start), "timeMax": _rfc3339(end), "showDeleted": True}
        try:
            return self._list_changes(calendar_id, bounds, full=True)
        except HttpError as error:
            self._refused_listing(error, calendar_id)

    def _list_changes(self, calendar_id: str, query: dict, full: bool) -> Changes:
        found: list[Change] = []
        page = None
        while True:
            answer = self._execute(
                lambda service, page=page: service.events().list(
                    calendarId=calendar_id, pageToken=page, maxResults=250, **query
                )
            )
            found.extend(_change(calendar_id, item) for item in answer.get("items", []))
            page = answer.get("nextPageToken")
            if not page:
                # The token comes with the last page only.
                return Changes(events=found, sync_token=answer.get("nextSyncToken"), full=full)

    def _refused_listing(self, error: HttpError, calendar_id: str):
        raise CalendarError(
            f"Google refused to list the events of {calendar_id!r}: {error.resp.status} {_reason(error)}"
        ) from error

    # --- push notifications ------------------------------------------------------

    def watch(self, calendar_id: str, channel_id: str, token: str, address: str) -> tuple[str, datetime]:
        """Ask Google to notify ``address`` when the events of a calendar change; return its resource id and expiry.

        Raises CalendarError when Google refuses (an address that is not
        https, a calendar that is gone).
        """
        body = {"id": channel_id, "type": "web_hook", "address": address, "token": token}
        try:
            answer = self._execute(lambda service: service.events().watch(calendarId=calendar_id, body=body))
        except HttpError as error:
            raise CalendarError(
                f"Google refused to watch {calendar_id!r}: {error.resp.status} {_reason(error)}"
            ) from error
        expires = datetime.fromtimestamp(int(answer["expiration"]) / 1000, timezone.utc)
        return answer["resourceId"], expires

    def stop_watching(self, channel_id: str, resource_id: str) -> None:
        """Stop a push channel; one Google no longer knows (404) is stopped already."""
        body = {"id": channel_id, "resourceId": resource_id}
        try:
            self._execute(lambda service: service.channels().stop(body=body))
        except HttpError as error:
            if error.resp.status != 404:
                problem = f"Google refused to stop a channel: {error.resp.status} {_reason(error)}"
                raise CalendarError(problem) from error

    # --- connecting -------------------------------------------------------------

    def _flow(self, redirect_uri: str, code_verifier: str) -> Flow:
        config = current_app.config
        client = {
            "web": {
                "client_id": config["GOOGLE_CLIENT_ID"],
                "client_secret": config["GOOGLE_CLIENT_SECRET"],
                "auth_uri": config["GOOGLE_AUTH_URI"],
                "token_uri": config["GOOGLE_TOKEN_URI"],
            }
        }
        return Flow.from_client_config(
            client,
            scopes=SCOPES,
            redirect_uri=redirect_uri,
            code_verifier=code_verifier,
            autogenerate_code_verifier=False,
        )

    def authorization_url(self, redirect_uri: str) -> str:
        """Start connecting: remember a state and PKCE verifier, return Google's consent address."""
        state, verifier = secrets.token_urlsafe(32), secrets.token_urlsafe(72)[:96]
        begin_writing()
        db.session.execute(delete(OAuthState).where(OAuthState.created_at < utc_now() - STATE_LIFETIME))
        db.session.add(OAuthState(state=state, code_verifier=verifier, created_at=utc_now()))
        db.session.commit()
        url, _ = self._flow(redirect_uri, verifier).authorization_url(
            access_type="offline", prompt="consent", state=state
        )
        return url

    def finish_connect(self, redirect_uri: str, args) -> None:
        """Finish connecting from Google's redirect; raise ConnectError with a message for the therapist."""
        if args.get("error"):
            if args["error"] == "access_denied":
                raise ConnectError("Google Calendar was not connected: access was not allowed on Google's page.")
            raise ConnectError(f"Google Calendar was not connected: Google answered {args['error']!r}.")
        state, code = args.get("state", ""), args.get("code", "")
        begin_writing()
        row = db.session.get(OAuthState, state) if state else None
        if row is not None:
            db.session.delete(row)  # one use only, whatever happens next
        db.session.commit()
        if row is None or row.created_at < utc_now() - STATE_LIFETIME:
            raise ConnectError("This Google sign-in was not started here, was already used or has expired. Try again.")
        if not code:
            raise ConnectError("Google's answer carried no authorisation code. Try again.")
        flow = self._flow(redirect_uri, row.code_verifier)
        try:
            flow.fetch_token(code=code)
        except (OAuth2Error, requests.RequestException, ValueError) as error:
            raise ConnectError(f"Google did not accept the sign-in ({error}). Try again.") from None
        credentials = flow.credentials
        if not credentials.refresh_token:
            raise ConnectError(
                "Google did not hand over lasting access (no refresh token). Remove this service under "
                "'Third-party apps' in your Google account, then connect again."
            )
        granted = set(credentials.granted_scopes or credentials.scopes or SCOPES)
        if not set(SCOPES) <= granted:
            raise ConnectError(
                "Not all the calendar access the service needs was granted on Google's page (free/busy, the "
                "list of your calendars, seeing events, changing events in calendars you own). Connect again and "
                "allow all of it."
            )
        begin_writing()
        connection = self.connection() or GoogleConnection(
            id=1, busy_calendars='["primary"]', booking_calendar="primary"
        )
        connection.refresh_token = self._fernet().encrypt(credentials.refresh_token.encode()).decode()
        connection.status, connection.problem, connection.connected_at = "connected", None, utc_now()
        connection.calendar_errors, connection.scopes = "{}", " ".join(sorted(granted))
        db.session.add(connection)
        # Calendar writes that waited for the connection (even ones that gave up) are due now.
        db.session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.kind == "calendar", OutboxMessage.status.in_([OutboxStatus.PENDING, OutboxStatus.FAILED])
            )
            .values(status=OutboxStatus.PENDING, attempts=0, next_attempt_at=utc_now(), finished_at=None)
        )
        db.session.commit()
        with self._token_lock:
            self._access_token = (credentials.token, credentials.expiry) if credentials.expiry else None
        self.forget_busy()

    def calendars(self) -> list[dict]:
        """Return the therapist's calendars: id, summary, primary, access_role."""
        found, page = [], None
        while True:
            answer = self._execute(lambda service, page=page: service.calendarList().list(pageToken=page))
            for item in answer.get("items", []):
                found.append(
                    {
                        "id": item["id"],
                        "summary": item.get("summaryOverride") or item.get("summary") or item["id"],
                        "primary": bool(item.get("primary")),
                        "access_role": item.get("accessRole", ""),
                    }
                )
            page = answer.get("nextPageToken")
            if not page:
                return found

    def choose(self, busy_ids: list[str], booking_id: str) -> None:
        """Set which calendars count as busy and which receives bookings; ValueError if not allowed."""
        known = {calendar["id"]: calendar for calendar in self.calendars()}
        primary = next((c["id"] for c in known.values() if c["primary"]), None)
        aliases = {"primary": primary} if primary else {}
        busy_ids = [aliases.get(i, i) for i in busy_ids]
        booking_id = aliases.get(booking_id, booking_id)
        unknown = [i for i in [*busy_ids, booking_id] if i not in known]
        if unknown:
            raise ValueError(f"not among your calendars: {', '.join(unknown)}")
        if not busy_ids:
            raise ValueError("choose at least one calendar whose events make you busy")
        role, summary = known[booking_id]["access_role"], known[booking_id]["summary"]
        if role not in WRITERS:
            raise ValueError(f"{summary!r} is read-only for you: bookings cannot be written there")
        if role not in self.writable_roles():
            raise ValueError(f"{summary!r} is not your own calendar: bookings can only be written to one you own")
        begin_writing()
        connection = self._connected()
        connection.busy_calendars, connection.booking_calendar = json.dumps(busy_ids), booking_id
        connection.problem, connection.calendar_errors = None, "{}"
        db.session.commit()
        self.forget_busy()

    def disconnect(self) -> None:
        """Revoke the grant at Google and forget it."""
        connection = self.connection()
        if connection is None or not connection.refresh_token:
            return
        try:
            token = self._fernet().decrypt(connection.refresh_token.encode()).decode()
            requests.post(self._revoke_uri, data={"token": token}, timeout=current_app.config["GOOGLE_TIMEOUT"])
        except (InvalidToken, requests.RequestException) as error:
            log.warning("revoking the Google token failed (forgetting it anyway): %s", error)
        begin_writing()
        connection = self.connection()
        connection.refresh_token, connection.status, connection.problem = None, "disconnected", None
        connection.disconnected_at = utc_now()
        db.session.commit()
        with self._token_lock:
            self._access_token = None
        self.forget_busy()
