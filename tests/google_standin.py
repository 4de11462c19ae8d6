"""An in-process stand-in for Google's OAuth 2.0 endpoints and the Calendar v3 REST API.

Tests start a :class:`GoogleStandIn` (a threaded HTTP server on 127.0.0.1, random free port) and point the
real client libraries at it: ``google.oauth2.credentials.Credentials(token_uri=standin.token_uri, ...)``,
``googleapiclient.discovery.build("calendar", "v3", static_discovery=True,
client_options={"api_endpoint": standin.api_endpoint})`` and ``google_auth_oauthlib.flow.Flow`` with
``auth_uri``/``token_uri`` from the stand-in. Nothing leaves the machine.

Faithful to Google (what product code may rely on):

* Wire format: JSON bodies, Calendar's error envelope ``{"error": {"code", "message", "errors": [{"domain",
  "reason", "message", ...}], "status"}}`` with Google's reasons, domains and messages (``notFound``,
  ``duplicate``, ``deleted``, ``conditionNotMet``, ``requiredAccessLevel``, ``timeRangeEmpty``,
  ``timeRangeTooLong``, ``authError``, ``insufficientPermissions``, ``rateLimitExceeded``, ``backendError``...).
  ``status`` is the canonical gRPC name and is left out for 410 and 412, which have none.
* OAuth: authorization-code grant with PKCE (S256 and plain), client authentication in the form body or with
  HTTP Basic, single-use codes, redirect_uri must match, ``invalid_grant`` / ``invalid_client`` /
  ``redirect_uri_mismatch`` / ``unsupported_grant_type`` errors, refresh grant (``invalid_grant: Token has
  been expired or revoked.`` after revocation), refresh tokens only for ``access_type=offline`` and, like
  Google, only on the first consent of a client unless ``prompt=consent``; ``expires_in`` 3599; revocation
  of either token revokes the whole grant. Denied consent redirects with ``error=access_denied``; a malformed
  authorization request (unknown client, unregistered redirect_uri, bad PKCE parameters) shows an error page
  instead of redirecting.
* Calendar: ``primary`` alias, per-calendar access roles (writes need writer/owner, ``none`` hides the
  calendar), OAuth scopes per method (from the discovery document), freeBusy merging/clipping/transparency/
  cancelled/all-day handling and per-calendar ``notFound`` errors, event ids in base32hex (5-1024 chars),
  deleted events kept as ``status: cancelled`` (GET returns them, DELETE again gives 410, inserting their id
  again gives 409), etags that change on every write and ``If-Match`` (412) / ``If-None-Match`` (304),
  ``sequence``, ``created``/``updated``, patch semantics (nested objects merged, ``null`` removes a field),
  ``privateExtendedProperty``/``sharedExtendedProperty`` filters, timeMin/timeMax list semantics, paging and
  sync tokens (410 ``fullSyncRequired`` once invalidated). Event times are returned in the calendar's time
  zone (or the ``timeZone`` query parameter), as Google does.
* Push: ``events.watch`` (``web_hook`` channels to https addresses only, unique channel ids, ``params.ttl``,
  a ``resourceId`` per watched calendar, ``expiration`` in milliseconds) and ``channels.stop`` (404 for an
  unknown channel or resource). Each channel gets a ``sync`` message first, then an ``exists`` message on every
  change of its calendar's events, until it expires or is stopped, with Google's ``X-Goog-Channel-ID``,
  ``X-Goog-Channel-Token`` (when the channel has one), ``X-Goog-Channel-Expiration``, ``X-Goog-Resource-ID``,
  ``X-Goog-Resource-URI``, ``X-Goog-Resource-State`` and ``X-Goog-Message-Number`` headers and an empty body.
  Google sends them a moment later; here they wait in ``notifications`` until the test calls
  :meth:`GoogleStandIn.deliver_notifications` (over HTTP, or through ``push_transport``).

Simplified (do not rely on these matching Google):

* One Google account and one registered OAuth client; no ID tokens, no ``include_granted_scopes``, no
  ``login_hint`` handling, no code expiry; ``calendar.app.created`` is treated as a plain events scope.
  ``calendar.events.owned`` / ``.owned.readonly`` cover only calendars whose access role is ``owner``; on any
  other calendar a call they alone would allow gets 403 ``insufficientPermissions`` (after the access-role
  check, so a reader calendar still answers ``requiredAccessLevel``).
* Recurring events are stored but never expanded (``singleEvents`` is ignored, freeBusy only sees the first
  instance); no attendees logic, notifications, reminders, conference data, ``fields`` partial responses,
  ``events.instances/move/import/quickAdd`` or ACLs.
* ``freeBusyReader`` gets 403 ``requiredAccessLevel`` on events reads (Google returns reduced events).
* freeBusy echoes timeMin/timeMax in UTC; busy times are UTC ("...Z") unless the request names a timeZone,
  then they carry that zone's offset. The range limit is ``freebusy_max_days`` (62 by default).
* Quotas never trigger by themselves: use :meth:`GoogleStandIn.fail_next` to inject rate limits and outages.
"""

from __future__ import annotations

import base64
import binascii
import copy
import hashlib
import json
import random
import re
import secrets
import sys
import threading
import traceback
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, unquote, unquote_plus, urlencode, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "ACCESS_TOKEN_LIFETIME",
    "CALENDAR_SCOPE",
    "DEFAULT_CALENDAR_ID",
    "Fault",
    "GoogleStandIn",
    "Notification",
    "RecordedRequest",
]

DEFAULT_CALENDAR_ID = "therapist@studio.example"
CALENDAR_SCOPE = "https://www.googleapis.com/auth/calendar"
ACCESS_TOKEN_LIFETIME = 3599
CALENDAR_PREFIX = "/calendar/v3/"

_SCOPE_PREFIX = "https://www.googleapis.com/auth/"
_OIDC_SCOPES = frozenset({"openid", "email", "profile"})
_EVENT_ID = re.compile(r"[a-v0-9]{5,1024}")
_PKCE_VALUE = re.compile(r"[A-Za-z0-9\-._~]{43,128}")
_ROLE_RANK = {"none": 0, "freeBusyReader": 1, "reader": 2, "writerWithoutPrivateAccess": 3, "writer": 4, "owner": 5}
_UTC = timezone.utc

# Scopes accepted per method, from the bundled calendar.v3 discovery document (suffixes of _SCOPE_PREFIX).
_READ_EVENTS = {
    "calendar",
    "calendar.app.created",
    "calendar.events",
    "calendar.events.freebusy",
    "calendar.events.owned",
    "calendar.events.owned.readonly",
    "calendar.events.public.readonly",
    "calendar.events.readonly",
    "calendar.readonly",
}
_METHOD_SCOPES = {
    "calendarList": {"calendar", "calendar.calendarlist", "calendar.calendarlist.readonly", "calendar.readonly"},
    "calendars.get": {
        "calendar",
        "calendar.app.created",
        "calendar.calendars",
        "calendar.calendars.readonly",
        "calendar.readonly",
    },
    "freebusy": {"calendar", "calendar.events.freebusy", "calendar.freebusy", "calendar.readonly"},
    "events.read": _READ_EVENTS,
    "events.write": {"calendar", "calendar.app.created", "calendar.events", "calendar.events.owned"},
}
# Scopes that reach only the events of calendars the account owns.
_OWNED_ONLY = {"calendar.events.owned", "calendar.events.owned.readonly"}

# Canonical google.rpc status names; HTTP 410 and 412 have none, so Google's envelope carries no "status".
_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ALREADY_EXISTS",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    501: "UNIMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
# reason -> (domain, message) as Google words them.
_REASONS = {
    "badRequest": ("global", "Bad Request"),
    "invalid": ("global", "Invalid Value"),
    "required": ("global", "Required"),
    "parseError": ("global", "Parse Error"),
    "authError": ("global", "Invalid Credentials"),
    "forbidden": ("global", "Forbidden"),
    "insufficientPermissions": ("global", "Insufficient Permission"),
    "requiredAccessLevel": ("calendar", "You need to have writer access to this calendar."),
    "notFound": ("global", "Not Found"),
    "duplicate": ("global", "The requested identifier already exists."),
    "deleted": ("global", "Resource has been deleted"),
    "fullSyncRequired": ("calendar", "Sync token is no longer valid, a full sync is required."),
    "conditionNotMet": ("global", "Precondition Failed"),
    "timeRangeEmpty": ("calendar", "The specified time range is empty."),
    "timeRangeTooLong": ("calendar", "The requested time range is too long."),
    "tooManyCalendarsRequested": ("calendar", "The number of calendars requested is too large for a single query."),
    "rateLimitExceeded": ("usageLimits", "Rate Limit Exceeded"),
    "userRateLimitExceeded": ("usageLimits", "User Rate Limit Exceeded"),
    "quotaExceeded": ("usageLimits", "Calendar usage limits exceeded."),
    "dailyLimitExceeded": ("usageLimits", "Daily Limit Exceeded"),
    "backendError": ("global", "Backend Error"),
    "internalError": ("global", "Internal Error"),
}
_DEFAULT_FAULT_REASON = {
    400: "badRequest",
    401: "authError",
    403: "rateLimitExceeded",
    404: "notFound",
    409: "duplicate",
    410: "deleted",
    412: "conditionNotMet",
    429: "rateLimitExceeded",
}
_UNAUTHENTICATED_MESSAGE = (
    "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid "
    "authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project."
)
_MISSING_CREDENTIAL_MESSAGE = (
    "Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other "
    "valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project."
)
# Fields of an event resource the server owns; clients cannot set them (id and iCalUID only on insert).
_SERVER_FIELDS = {"kind", "etag", "created", "updated", "htmlLink", "creator", "organizer", "hangoutLink"}
# Changes to these fields bump "sequence", as iCalendar (and Google) do for significant changes.
CHANNEL_TTL_SECONDS = 604800  # Google's default lifetime of an events.watch channel: a week
_SIGNIFICANT_FIELDS = ("start", "end", "summary", "description", "location", "recurrence", "status")


# --------------------------------------------------------------------------------------------------------------
# Small value types


@dataclass
class RecordedRequest:
    """One request the stand-in received (path is percent-decoded, query keeps repeated parameters)."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        """Return the body decoded as JSON (None when empty)."""
        return json.loads(self.body) if self.body else None

    def form(self) -> dict[str, str]:
        """Return the body decoded as an x-www-form-urlencoded form (first value of each field)."""
        return {key: values[0] for key, values in parse_qs(self.body.decode(), keep_blank_values=True).items()}


@dataclass
class Fault:
    """A queued failure (or slow answer) for the next ``remaining`` matching requests; see ``fail_next``."""

    remaining: int
    status: int | None
    reason: str | None = None
    message: str | None = None
    domain: str | None = None
    path_contains: str | None = None
    method: str | None = None
    delay: float = 0.0
    commit_then_fail: bool = False
    retry_after: int | None = None

    def matches(self, method: str, path: str) -> bool:
        """Say whether this fault applies to a request (default: any Calendar API request)."""
        if self.method and self.method.upper() != method:
            return False
        if self.path_contains is None:
            return path.startswith(CALENDAR_PREFIX)
        return self.path_contains in path


@dataclass
class _Response:
    status: int
    body: bytes = b""
    content_type: str | None = "application/json; charset=UTF-8"
    headers: dict[str, str] = field(default_factory=dict)


class _ApiError(Exception):
    """Raised inside request handling; carries the finished error response."""

    def __init__(self, response: _Response):
        super().__init__(response.status)
        self.response = response


@dataclass
class _Calendar:
    id: str
    summary: str
    access_role: str
    primary: bool
    time_zone: str
    etag: str
    events: dict[str, _Event] = field(default_factory=dict)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)


@dataclass
class _Event:
    resource: dict[str, Any]
    start: datetime
    end: datetime
    changed: int

    @property
    def cancelled(self) -> bool:
        return self.resource.get("status") == "cancelled"


@dataclass
class _Channel:
    id: str
    calendar_id: str
    resource_id: str
    address: str
    token: str | None
    expiration: datetime
    messages: int = 0
    stopped: bool = False


@dataclass
class Notification:
    """One push message the stand-in will POST to a channel's address."""

    address: str
    headers: dict[str, str]


@dataclass
class _Grant:
    client_id: str
    scopes: list[str]
    refresh_token: str | None
    offline: bool
    revoked: bool = False


@dataclass
class _AccessToken:
    grant: _Grant
    scopes: list[str]
    expires_at: datetime
    expired: bool = False


@dataclass
class _AuthCode:
    client_id: str
    redirect_uri: str
    scopes: list[str]
    access_type: str
    prompt: list[str]
    code_challenge: str | None
    code_challenge_method: str | None
    used: bool = False


# --------------------------------------------------------------------------------------------------------------
# Helpers


def _json_response(status: int, payload: Any, headers: dict[str, str] | None = None) -> _Response:
    return _Response(status, json.dumps(payload, indent=1).encode(), headers=headers or {})


def _google_error(
    code: int,
    reason: str,
    message: str | None = None,
    domain: str | None = None,
    *,
    location: str | None = None,
    location_type: str | None = None,
    top_message: str | None = None,
    headers: dict[str, str] | None = None,
) -> _ApiError:
    default_domain, default_message = _REASONS.get(reason, ("global", reason))
    item: dict[str, Any] = {"domain": domain or default_domain, "reason": reason, "message": message or default_message}
    if location:
        item["locationType"] = location_type or "parameter"
        item["location"] = location
    error: dict[str, Any] = {"code": code, "message": top_message or item["message"], "errors": [item]}
    if code in _STATUS_NAMES:
        error["status"] = _STATUS_NAMES[code]
    return _ApiError(_json_response(code, {"error": error}, headers))


def _oauth_error(status: int, error: str, description: str) -> _ApiError:
    headers = {"Cache-Control": "no-cache, no-store, max-age=0, must-revalidate", "Pragma": "no-cache"}
    return _ApiError(_json_response(status, {"error": error, "error_description": description}, headers))


def _auth_page(status: int, error: str, description: str) -> _Response:
    html = (
        "<!doctype html><html><head><title>Error</title></head><body>"
        f"<h1>Access blocked: authorization error</h1><p>Error {status}: {error}</p><p>{description}</p>"
        "</body></html>"
    )
    return _Response(status, html.encode(), content_type="text/html; charset=utf-8")


def _zone(name: Any) -> ZoneInfo | None:
    if not isinstance(name, str) or not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _parse_rfc3339(value: Any) -> datetime | None:
    """Parse an RFC 3339 timestamp; the result is naive when the text carried no offset."""
    if not isinstance(value, str) or "T" not in value.upper():
        return None
    try:
        return datetime.fromisoformat(value.upper())
    except ValueError:
        return None


def _format(moment: datetime, tz: Any = _UTC) -> str:
    """Format like Google: seconds precision, "Z" for UTC, otherwise the zone's offset."""
    text = moment.astimezone(tz).replace(microsecond=0).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _format_millis(moment: datetime) -> str:
    moment = moment.astimezone(_UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _pkce_s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")


def _encode_token(prefix: str, value: int) -> str:
    return base64.urlsafe_b64encode(f"{prefix}:{value}".encode()).decode().rstrip("=")


def _decode_token(prefix: str, token: str) -> int | None:
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    name, _, number = text.partition(":")
    return int(number) if name == prefix and number.isdigit() else None


def _basic_auth(header: str | None) -> tuple[str, str] | None:
    if not header or not header.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:].strip()).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, _, password = decoded.partition(":")
    return unquote_plus(user), unquote_plus(password)


def _bool_param(query: dict[str, list[str]], name: str) -> bool | None:
    values = query.get(name)
    if not values:
        return None
    return values[0].lower() == "true"


def _merge_patch(target: dict[str, Any], patch: dict[str, Any]) -> None:
    """Apply Google's patch semantics: nested objects merge, arrays and scalars replace, null removes."""
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict) and isinstance(target.get(key), dict) and key not in ("start", "end"):
            _merge_patch(target[key], value)
        elif key in ("start", "end") and isinstance(value, dict) and isinstance(target.get(key), dict):
            merged = dict(target[key])
            if "dateTime" in value:
                merged.pop("date", None)
            if "date" in value:
                merged.pop("dateTime", None)
            _merge_patch(merged, value)
            target[key] = merged
        else:
            target[key] = copy.deepcopy(value)


def _event_time(obj: Any, which: str, calendar_tz: ZoneInfo) -> tuple[datetime, bool]:
    """Turn an EventDateTime into an aware datetime; all-day dates start at midnight in the calendar's zone."""
    if not isinstance(obj, dict) or (obj.get("dateTime") is None and obj.get("date") is None):
        raise _google_error(400, "required", f"Missing {which} time.")
    tz = None
    if obj.get("timeZone") is not None:
        tz = _zone(obj["timeZone"])
        if tz is None:
            raise _google_error(400, "invalid", f"Invalid time zone definition for {which} time.")
    if obj.get("dateTime") is not None:
        moment = _parse_rfc3339(obj["dateTime"])
        if moment is None:
            raise _google_error(400, "invalid", f"Invalid {which} time.")
        if moment.tzinfo is None:
            if tz is None:
                raise _google_error(400, "required", f"Missing time zone definition for {which} time.")
            moment = moment.replace(tzinfo=tz)
        return moment, False
    try:
        day = date.fromisoformat(obj["date"])
    except (TypeError, ValueError):
        raise _google_error(400, "invalid", f"Invalid {which} time.") from None
    return datetime.combine(day, time(0), tzinfo=calendar_tz), True


def _event_interval(resource: dict[str, Any], calendar_tz: ZoneInfo) -> tuple[datetime, datetime]:
    start, start_all_day = _event_time(resource.get("start"), "start", calendar_tz)
    end, end_all_day = _event_time(resource.get("end"), "end", calendar_tz)
    if start_all_day != end_all_day:
        raise _google_error(400, "invalid", "Start and end times must either both be date or both be dateTime.")
    if end < start or (start_all_day and end == start):
        raise _google_error(400, "timeRangeEmpty")
    for name in ("transparency", "status"):
        allowed = ("opaque", "transparent") if name == "transparency" else ("confirmed", "tentative", "cancelled")
        if name in resource and resource[name] not in allowed:
            raise _google_error(400, "invalid", f"Invalid value for: {name}")
    return start, end


# --------------------------------------------------------------------------------------------------------------
# HTTP plumbing


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "ESF"
    sys_version = ""

    def _handle(self) -> None:
        standin: GoogleStandIn = self.server.standin  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {key: value for key, value in self.headers.items()}
        response, delay = standin._dispatch(self.command, self.path, headers, body)
        if delay > 0:
            standin._stopping.wait(delay)
        try:
            self.send_response(response.status)
            if response.content_type:
                self.send_header("Content-Type", response.content_type)
            for key, value in response.headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(response.body)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(response.body)
            self.wfile.flush()
        except OSError:
            pass  # the client gave up (socket timeout tests); nothing to answer
        self.close_connection = True

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output quiet."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    standin: GoogleStandIn

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Ignore connections the client dropped; report anything else."""
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


# --------------------------------------------------------------------------------------------------------------
# The stand-in


class GoogleStandIn:
    """A threaded local server answering like Google's OAuth 2.0 endpoints and the Calendar v3 API.

    Use it as a context manager (``with GoogleStandIn() as google:``) or call :meth:`start`/:meth:`stop`.
    All state lives in memory behind one lock; tests read and change it through the attributes and helpers
    below. The defaults: one registered OAuth client (``client_id``/``client_secret``), automatic consent,
    and one primary calendar ``therapist@studio.example`` (time zone America/Denver, owner access).

    Faithful: the wire format the real clients see (paths, methods, JSON field names, status codes, Google's
    error envelope and reasons), the OAuth code/PKCE/refresh/revoke rules, calendar access roles and scopes,
    event ids/etags/sequence/soft deletion, and freeBusy's merge/clip/transparency rules. Simplified: a single
    account and client, no recurrence expansion, no attendees/notifications/ACLs/partial responses, no real
    quotas (inject them with :meth:`fail_next`). The module docstring has the full list.

    Public API for tests:

    * lifecycle: ``start()``, ``stop()``, context manager; ``base_url``, ``port``, ``auth_uri``, ``token_uri``,
      ``revoke_uri``, ``api_endpoint``, ``client_config()``.
    * OAuth knobs: ``client_id``, ``client_secret``, ``redirect_uris``, ``consent`` ("allow"/"deny"),
      ``grant_scopes``, ``omit_refresh_token``, ``require_pkce``; helpers ``issue_tokens()``,
      ``expire_access_tokens()``, ``revoke_all()``, ``is_revoked()``, ``active_refresh_tokens()``.
    * Calendar data: ``add_calendar()``, ``delete_calendar()``, ``set_access_role()``, ``add_event()``,
      ``events()``, ``event()``, ``invalidate_sync_tokens()``, ``freebusy_max_days``, ``clock``.
    * Faults: ``fail_next()``, ``slow_next()``, ``fail_randomly()``, ``clear_faults()``, ``delay``, ``faults``,
      ``random_faults``.
    * Observation: ``calls``, ``call_count()``, ``requests``, ``token_requests``, ``auth_requests``,
      ``last_auth_request``, ``revoke_requests``, ``internal_errors``, ``reset_calls()``.
    """

    def __init__(
        self,
        *,
        client_id: str = "test-client.apps.googleusercontent.com",
        client_secret: str = "test-secret",  # noqa: S107 - a fake client's secret
        redirect_uris: list[str] | None = None,
        clock: Callable[[], datetime] | None = None,
    ):
        self.client_id = client_id
        self.client_secret = client_secret
        self.redirect_uris: list[str] = list(redirect_uris or [])
        # Consent screen behaviour: "allow" or "deny"; grant_scopes limits what the user ticks (None: all).
        self.consent = "allow"
        self.grant_scopes: list[str] | None = None
        self.omit_refresh_token = False
        self.require_pkce = False
        self.freebusy_max_days = 62
        self.delay = 0.0
        self.clock: Callable[[], datetime] = clock or (lambda: datetime.now(_UTC))
        # Observations for tests.
        self.calls: list[tuple[str, str]] = []
        self.requests: list[RecordedRequest] = []
        self.token_requests: list[str] = []
        self.auth_requests: list[dict[str, str]] = []
        self.last_auth_request: dict[str, str] | None = None
        self.revoke_requests: list[str] = []
        self.faults: list[Fault] = []
        self._random_faults: tuple[float, random.Random, float, str | None] | None = None
        self.random_faults: dict[str, int] = {}
        self.internal_errors: list[str] = []

        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._calendars: dict[str, _Calendar] = {}
        self._codes: dict[str, _AuthCode] = {}
        self._grants: list[_Grant] = []
        self._refresh_tokens: dict[str, _Grant] = {}
        self._access_tokens: dict[str, _AccessToken] = {}
        self._last_etag = 0
        self._change = 0
        self._sync_floor = 0
        # Push: channels by id, the resource id of each watched calendar, messages waiting to be sent.
        self._channels: dict[str, _Channel] = {}
        self._resource_ids: dict[str, str] = {}
        self.notifications: list[Notification] = []
        self.delivered: list[tuple[Notification, int]] = []
        # Where messages go: None posts them over HTTP; a callable(address, headers) -> status takes them instead.
        self.push_transport: Callable[[str, dict[str, str]], int] | None = None
        self.add_calendar(DEFAULT_CALENDAR_ID, "Therapist", primary=True)

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> GoogleStandIn:
        """Start serving on 127.0.0.1 at a random free port; return self."""
        if self._server is not None:
            return self
        self._stopping.clear()
        server = _Server(("127.0.0.1", 0), _Handler)
        server.standin = self
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; slow responses still pending are cut short."""
        if self._server is None:
            return
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> GoogleStandIn:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The port the server listens on."""
        if self._server is None:
            raise RuntimeError("GoogleStandIn is not started")
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        """E.g. http://127.0.0.1:PORT (no trailing slash)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def auth_uri(self) -> str:
        """Authorization endpoint (Google: https://accounts.google.com/o/oauth2/auth)."""
        return self.base_url + "/o/oauth2/auth"

    @property
    def token_uri(self) -> str:
        """Token endpoint (Google: https://oauth2.googleapis.com/token)."""
        return self.base_url + "/token"

    @property
    def revoke_uri(self) -> str:
        """Revocation endpoint (Google: https://oauth2.googleapis.com/revoke)."""
        return self.base_url + "/revoke"

    @property
    def api_endpoint(self) -> str:
        """Calendar API root for client_options={"api_endpoint": ...} (Google: .../calendar/v3/)."""
        return self.base_url + CALENDAR_PREFIX

    def client_config(self) -> dict[str, Any]:
        """Return a "web" client secrets dict for google_auth_oauthlib.flow.Flow.from_client_config."""
        return {
            "web": {
                "client_id": self.client_id,
                "client_secret": self.client_secret,
                "auth_uri": self.auth_uri,
                "token_uri": self.token_uri,
                "redirect_uris": list(self.redirect_uris),
            }
        }

    # ---------------------------------------------------------------- test helpers: OAuth

    def issue_tokens(self, scopes: list[str] | None = None) -> tuple[str, str]:
        """Create a ready offline grant without the browser flow; return (access_token, refresh_token)."""
        with self._lock:
            grant = self._new_grant(self.client_id, list(scopes or [CALENDAR_SCOPE]), offline=True)
            assert grant.refresh_token is not None
            return self._mint_access_token(grant, grant.scopes), grant.refresh_token

    def expire_access_tokens(self) -> None:
        """Make every access token issued so far invalid (as if an hour passed); refresh tokens keep working."""
        with self._lock:
            for token in self._access_tokens.values():
                token.expired = True

    def revoke_all(self) -> None:
        """Revoke every grant from Google's side (user removed the app's access, password change...)."""
        with self._lock:
            for grant in self._grants:
                grant.revoked = True

    def is_revoked(self, token: str) -> bool:
        """Say whether an access or refresh token belongs to a revoked grant (unknown tokens count as revoked)."""
        with self._lock:
            grant = self._grant_for_token(token)
            return grant is None or grant.revoked

    def active_refresh_tokens(self) -> list[str]:
        """Return the refresh tokens that still work."""
        with self._lock:
            return [token for token, grant in self._refresh_tokens.items() if not grant.revoked]

    # ---------------------------------------------------------------- test helpers: calendars and events

    def add_calendar(
        self,
        calendar_id: str,
        summary: str,
        access_role: str = "owner",
        primary: bool = False,
        time_zone: str = "America/Denver",
    ) -> None:
        """Add (or replace) a calendar on the account's calendar list."""
        if access_role not in _ROLE_RANK:
            raise ValueError(f"unknown access role {access_role!r}")
        if _zone(time_zone) is None:
            raise ValueError(f"unknown time zone {time_zone!r}")
        with self._lock:
            if primary:
                for calendar in self._calendars.values():
                    calendar.primary = False
            self._calendars[calendar_id] = _Calendar(
                calendar_id, summary, access_role, primary, time_zone, self._next_etag()
            )

    def delete_calendar(self, calendar_id: str) -> None:
        """Remove a calendar and its events (API calls for it then get 404 notFound)."""
        with self._lock:
            self._calendars.pop(calendar_id, None)

    def set_access_role(self, calendar_id: str, access_role: str) -> None:
        """Change the account's role on a calendar: owner, writer, reader, freeBusyReader or none (hidden)."""
        if access_role not in _ROLE_RANK:
            raise ValueError(f"unknown access role {access_role!r}")
        with self._lock:
            calendar = self._calendars[calendar_id]
            calendar.access_role = access_role
            calendar.etag = self._next_etag()

    def add_event(
        self,
        calendar_id: str,
        start: datetime | date,
        end: datetime | date,
        summary: str = "Busy",
        transparency: str = "opaque",
        status: str = "confirmed",
        event_id: str | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        """Store an event directly (no auth, no role check); dates make an all-day event. Return it as Google would."""

        def when(value: datetime | date) -> dict[str, str]:
            if isinstance(value, datetime):
                if value.tzinfo is None:
                    raise ValueError("add_event needs aware datetimes")
                return {"dateTime": value.isoformat()}
            return {"date": value.isoformat()}

        body = {"summary": summary, "start": when(start), "end": when(end), "status": status, **fields}
        if transparency != "opaque":
            body["transparency"] = transparency
        if event_id is not None:
            body["id"] = event_id
        with self._lock:
            calendar = self._calendars[self._resolve_id(calendar_id)]
            try:
                event = self._insert_event(calendar, body)
            except _ApiError as error:
                raise ValueError(error.response.body.decode()) from None
            return self._render_event(calendar, event)

    def events(self, calendar_id: str, include_deleted: bool = False) -> list[dict[str, Any]]:
        """Return the stored events of a calendar as Google would render them (deleted ones only if asked)."""
        with self._lock:
            calendar = self._calendars[self._resolve_id(calendar_id)]
            return [
                self._render_event(calendar, event)
                for event in calendar.events.values()
                if include_deleted or not event.cancelled
            ]

    def event(self, calendar_id: str, event_id: str) -> dict[str, Any] | None:
        """Return one stored event (deleted ones have status "cancelled"), or None."""
        with self._lock:
            calendar = self._calendars[self._resolve_id(calendar_id)]
            event = calendar.events.get(event_id)
            return None if event is None else self._render_event(calendar, event)

    def invalidate_sync_tokens(self) -> None:
        """Make every sync token issued so far answer 410 fullSyncRequired."""
        with self._lock:
            self._sync_floor = self._change + 1

    def channels(self, include_stopped: bool = False) -> list[dict[str, Any]]:
        """Return the watch channels (id, calendar, resourceId, address, token, expiration, stopped)."""
        with self._lock:
            return [
                {
                    "id": channel.id,
                    "calendar": channel.calendar_id,
                    "resourceId": channel.resource_id,
                    "address": channel.address,
                    "token": channel.token,
                    "expiration": channel.expiration,
                    "stopped": channel.stopped,
                }
                for channel in self._channels.values()
                if include_stopped or not channel.stopped
            ]

    def deliver_notifications(self) -> list[int]:
        """Send the waiting push messages in order, as Google would a moment after the change; return the answers."""
        with self._lock:
            waiting, self.notifications = self.notifications, []
        statuses = []
        for notification in waiting:
            if self.push_transport is not None:
                status = self.push_transport(notification.address, dict(notification.headers))
            else:
                # The address is the one the app registered (https, or a test's own server).
                request = urllib.request.Request(  # noqa: S310
                    notification.address, data=b"", headers=notification.headers, method="POST"
                )
                try:
                    with urllib.request.urlopen(request, timeout=5) as answer:  # noqa: S310
                        status = answer.status
                except urllib.error.HTTPError as error:
                    status = error.code
            with self._lock:
                self.delivered.append((notification, status))
            statuses.append(status)
        return statuses

    # ---------------------------------------------------------------- test helpers: faults and observation

    def fail_next(
        self,
        n: int = 1,
        status: int = 503,
        reason: str | None = None,
        path_contains: str | None = None,
        delay: float = 0,
        *,
        method: str | None = None,
        message: str | None = None,
        domain: str | None = None,
        commit_then_fail: bool = False,
        retry_after: int | None = None,
    ) -> Fault:
        """Answer the next ``n`` matching requests with an error in Google's envelope.

        Matching: ``path_contains`` is a substring of the request path (e.g. "/freeBusy", "/events", "/token");
        without it only Calendar API requests match. ``method`` narrows further. ``reason`` defaults per status
        (403/429 rateLimitExceeded with domain usageLimits, 5xx backendError...). ``delay`` sleeps before the
        answer. ``commit_then_fail`` performs the request first (an insert is stored) and then answers the error,
        like a write whose response was lost. Faults are consumed in the order they were queued.
        """
        fault = Fault(n, status, reason, message, domain, path_contains, method, delay, commit_then_fail, retry_after)
        with self._lock:
            self.faults.append(fault)
        return fault

    def slow_next(
        self, n: int = 1, seconds: float = 1.0, path_contains: str | None = None, *, method: str | None = None
    ) -> Fault:
        """Hold back the answer of the next ``n`` matching requests; the request itself is performed first."""
        fault = Fault(n, None, path_contains=path_contains, method=method, delay=seconds, commit_then_fail=True)
        with self._lock:
            self.faults.append(fault)
        return fault

    def fail_randomly(
        self, rate: float, *, seed: int = 0, slow_seconds: float = 0.5, path_contains: str | None = None
    ) -> None:
        """Answer a share ``rate`` of the matching requests (default: Calendar API ones) badly, chosen by ``seed``.

        Each unlucky request gets, with equal chances: 429 rateLimitExceeded, 503 backendError before
        anything happens, 503 after the request was performed (a write whose answer was lost), or its
        answer held back ``slow_seconds``.  Queued faults (``fail_next``) come first; ``clear_faults``
        stops this too.  ``random_faults`` counts what was served, by kind.
        """
        with self._lock:
            self._random_faults = (rate, random.Random(seed), slow_seconds, path_contains)

    def _random_fault(self, method: str, path: str) -> Fault | None:
        """Draw the fault of one request under ``fail_randomly``; call it holding the lock."""
        if self._random_faults is None:
            return None
        rate, draw, slow_seconds, path_contains = self._random_faults
        if not Fault(1, None, path_contains=path_contains).matches(method, path) or draw.random() >= rate:
            return None
        kind = draw.choice(("429", "503", "503 after", "slow"))
        self.random_faults[kind] = self.random_faults.get(kind, 0) + 1
        if kind == "429":
            return Fault(1, 429)
        if kind == "503":
            return Fault(1, 503)
        if kind == "503 after":
            return Fault(1, 503, commit_then_fail=True)
        return Fault(1, None, delay=slow_seconds, commit_then_fail=True)

    def clear_faults(self) -> None:
        """Drop every queued fault and slow answer, and stop random ones."""
        with self._lock:
            self.faults.clear()
            self._random_faults = None

    def call_count(self, method: str | None = None, path_contains: str | None = None) -> int:
        """Count recorded requests by method and/or path substring, e.g. call_count("POST", "/freeBusy")."""
        with self._lock:
            return sum(
                1
                for call_method, path in self.calls
                if (method is None or call_method == method.upper())
                and (path_contains is None or path_contains in path)
            )

    def reset_calls(self) -> None:
        """Forget the recorded requests (calls, requests, token_requests, auth and revoke requests)."""
        with self._lock:
            self.calls.clear()
            self.requests.clear()
            self.token_requests.clear()
            self.auth_requests.clear()
            self.revoke_requests.clear()

    # ---------------------------------------------------------------- dispatch

    def _dispatch(self, method: str, raw_path: str, headers: dict[str, str], body: bytes) -> tuple[_Response, float]:
        parts = urlsplit(raw_path)
        path = unquote(parts.path)
        query = parse_qs(parts.query, keep_blank_values=True)
        override = next((v for k, v in headers.items() if k.lower() == "x-http-method-override"), None)
        if method == "POST" and override:
            method = override.upper()
            if method == "GET" and body:
                query.update(parse_qs(body.decode(), keep_blank_values=True))
                body = b""
        with self._lock:
            self.calls.append((method, path))
            self.requests.append(RecordedRequest(method, path, query, dict(headers), body))
            fault = next((f for f in self.faults if f.remaining > 0 and f.matches(method, path)), None)
            if fault is not None:
                fault.remaining -= 1
                self.faults = [f for f in self.faults if f.remaining > 0]
            else:
                fault = self._random_fault(method, path)
        delay = self.delay + (fault.delay if fault else 0)
        if fault is not None and fault.status is not None and not fault.commit_then_fail:
            return self._fault_response(fault, path), delay
        try:
            with self._lock:
                response = self._route(method, parts.path, path, query, headers, body)
        except _ApiError as error:
            response = error.response
        except Exception as error:  # a bug in the stand-in: answer 500 and keep the traceback for the test
            self.internal_errors.append(traceback.format_exc())
            response = _google_error(500, "internalError", f"GoogleStandIn bug: {error!r}").response
        if fault is not None and fault.status is not None:
            response = self._fault_response(fault, path)
        return response, delay

    def _fault_response(self, fault: Fault, path: str) -> _Response:
        status = fault.status or 503
        headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
        if not path.startswith(CALENDAR_PREFIX):
            error = fault.reason or ("internal_failure" if status >= 500 else "invalid_request")
            payload = {"error": error, "error_description": fault.message or "Backend Error"}
            return _json_response(status, payload, headers)
        reason = fault.reason or _DEFAULT_FAULT_REASON.get(status, "backendError")
        message = fault.message
        if message is None and status == 503 and reason == "backendError":
            message = "The service is currently unavailable."
        return _google_error(status, reason, message, fault.domain, headers=headers).response

    def _route(
        self,
        method: str,
        raw_path: str,
        path: str,
        query: dict[str, list[str]],
        headers: dict[str, str],
        body: bytes,
    ) -> _Response:
        if path in ("/o/oauth2/auth", "/o/oauth2/v2/auth") and method == "GET":
            return self._authorize(query)
        if path in ("/token", "/o/oauth2/token") and method == "POST":
            return self._token(headers, body, query)
        if path in ("/revoke", "/o/oauth2/revoke") and method in ("POST", "GET"):
            return self._revoke(headers, body, query)
        if raw_path.startswith(CALENDAR_PREFIX):
            segments = [unquote(segment) for segment in raw_path[len(CALENDAR_PREFIX) :].split("/")]
            return self._calendar_api(method, segments, query, headers, body)
        return _Response(404, b"Not Found", content_type="text/plain")

    # ---------------------------------------------------------------- OAuth endpoints

    def _authorize(self, query: dict[str, list[str]]) -> _Response:
        params = {key: values[0] for key, values in query.items()}
        self.last_auth_request = dict(params)
        self.auth_requests.append(dict(params))
        client_id = params.get("client_id")
        if not client_id:
            return _auth_page(400, "invalid_request", "Missing required parameter: client_id")
        if client_id != self.client_id:
            return _auth_page(401, "invalid_client", "The OAuth client was not found.")
        redirect_uri = params.get("redirect_uri")
        if not redirect_uri:
            return _auth_page(400, "invalid_request", "Missing required parameter: redirect_uri")
        if redirect_uri not in self.redirect_uris:
            return _auth_page(
                400,
                "redirect_uri_mismatch",
                "You can't sign in to this app because it doesn't comply with Google's OAuth 2.0 policy. "
                f"Request details: redirect_uri={redirect_uri}",
            )
        response_type = params.get("response_type")
        if not response_type:
            return _auth_page(400, "invalid_request", "Required parameter is missing: response_type")
        if response_type != "code":
            return _auth_page(400, "unsupported_response_type", f"Invalid response_type: {response_type}")
        scopes = params.get("scope", "").split()
        if not scopes:
            return _auth_page(400, "invalid_request", "Missing required parameter: scope")
        invalid = [s for s in scopes if not (s.startswith(_SCOPE_PREFIX) or s in _OIDC_SCOPES)]
        if invalid:
            return _auth_page(400, "invalid_scope", f"Some requested scopes were invalid. {{invalid={invalid}}}")
        access_type = params.get("access_type", "online")
        if access_type not in ("online", "offline"):
            return _auth_page(400, "invalid_request", f"Invalid access_type: {access_type}")
        prompt = params.get("prompt", "").split()
        if not set(prompt) <= {"none", "consent", "select_account"} or ("none" in prompt and len(prompt) > 1):
            return _auth_page(400, "invalid_request", f"Invalid prompt: {params.get('prompt')}")
        challenge = params.get("code_challenge")
        challenge_method = params.get("code_challenge_method")
        if challenge:
            challenge_method = challenge_method or "plain"
            if challenge_method not in ("S256", "plain"):
                return _auth_page(400, "invalid_request", f"Invalid code_challenge_method: {challenge_method}")
            if not _PKCE_VALUE.fullmatch(challenge):
                return _auth_page(400, "invalid_request", "Invalid code_challenge.")
        elif challenge_method or self.require_pkce:
            return _auth_page(400, "invalid_request", "Missing required parameter: code_challenge")

        state = params.get("state")
        if self.consent == "deny":
            return self._redirect(redirect_uri, {"error": "access_denied", "state": state})
        if "none" in prompt and not any(g.client_id == client_id and not g.revoked for g in self._grants):
            return self._redirect(redirect_uri, {"error": "consent_required", "state": state})
        granted = scopes if self.grant_scopes is None else [s for s in scopes if s in self.grant_scopes]
        code = "4/0A" + secrets.token_urlsafe(48)
        self._codes[code] = _AuthCode(
            client_id, redirect_uri, granted, access_type, prompt, challenge, challenge_method if challenge else None
        )
        return self._redirect(redirect_uri, {"state": state, "code": code, "scope": " ".join(granted)})

    @staticmethod
    def _redirect(redirect_uri: str, params: dict[str, str | None]) -> _Response:
        query = urlencode({k: v for k, v in params.items() if v is not None}, quote_via=quote, safe=":/")
        location = redirect_uri + ("&" if "?" in redirect_uri else "?") + query
        return _Response(302, b"", content_type="text/html; charset=UTF-8", headers={"Location": location})

    @staticmethod
    def _form(headers: dict[str, str], body: bytes) -> dict[str, str]:
        content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
        if "json" in content_type:
            try:
                payload = json.loads(body or b"{}")
            except ValueError:
                raise _oauth_error(400, "invalid_request", "Invalid JSON payload received.") from None
            return {str(k): str(v) for k, v in payload.items()} if isinstance(payload, dict) else {}
        return {key: values[0] for key, values in parse_qs(body.decode(), keep_blank_values=True).items()}

    def _token(self, headers: dict[str, str], body: bytes, query: dict[str, list[str]]) -> _Response:
        params = self._form(headers, body)
        grant_type = params.get("grant_type", "")
        self.token_requests.append(grant_type)
        client_id = params.get("client_id")
        client_secret = params.get("client_secret")
        basic = _basic_auth(next((v for k, v in headers.items() if k.lower() == "authorization"), None))
        if basic is not None:
            client_id = client_id or basic[0]
            client_secret = client_secret if client_secret is not None else basic[1]
        if not client_id:
            raise _oauth_error(400, "invalid_request", "Could not determine client ID from request.")
        if client_id != self.client_id:
            raise _oauth_error(401, "invalid_client", "The OAuth client was not found.")
        if client_secret != self.client_secret:
            raise _oauth_error(401, "invalid_client", "Unauthorized")
        if grant_type == "authorization_code":
            return self._exchange_code(params, client_id)
        if grant_type == "refresh_token":
            return self._refresh(params, client_id)
        raise _oauth_error(400, "unsupported_grant_type", f"Invalid grant_type: {grant_type}")

    def _exchange_code(self, params: dict[str, str], client_id: str) -> _Response:
        code = params.get("code")
        if not code:
            raise _oauth_error(400, "invalid_request", "Missing required parameter: code")
        auth = self._codes.get(code)
        if auth is None:
            raise _oauth_error(400, "invalid_grant", "Malformed auth code.")
        if auth.used or auth.client_id != client_id:
            raise _oauth_error(400, "invalid_grant", "Bad Request")
        if params.get("redirect_uri") != auth.redirect_uri:
            raise _oauth_error(400, "redirect_uri_mismatch", "Bad Request")
        verifier = params.get("code_verifier")
        if auth.code_challenge:
            if not verifier:
                raise _oauth_error(400, "invalid_grant", "Missing code verifier.")
            computed = _pkce_s256(verifier) if auth.code_challenge_method == "S256" else verifier
            if not _PKCE_VALUE.fullmatch(verifier) or computed != auth.code_challenge:
                raise _oauth_error(400, "invalid_grant", "Invalid code verifier.")
        elif verifier:
            raise _oauth_error(400, "invalid_request", "code_verifier or verifier is not needed.")
        auth.used = True
        offline = auth.access_type == "offline"
        first_offline = not any(g.client_id == client_id and g.offline and not g.revoked for g in self._grants)
        issue_refresh = offline and not self.omit_refresh_token and ("consent" in auth.prompt or first_offline)
        grant = self._new_grant(client_id, auth.scopes, offline=offline, with_refresh_token=issue_refresh)
        payload: dict[str, Any] = {
            "access_token": self._mint_access_token(grant, grant.scopes),
            "expires_in": ACCESS_TOKEN_LIFETIME,
        }
        if grant.refresh_token:
            payload["refresh_token"] = grant.refresh_token
        payload.update({"scope": " ".join(grant.scopes), "token_type": "Bearer"})
        return _json_response(200, payload, {"Cache-Control": "no-cache, no-store, max-age=0, must-revalidate"})

    def _refresh(self, params: dict[str, str], client_id: str) -> _Response:
        refresh_token = params.get("refresh_token")
        if not refresh_token:
            raise _oauth_error(400, "invalid_request", "Missing required parameter: refresh_token")
        grant = self._refresh_tokens.get(refresh_token)
        if grant is None or grant.revoked:
            raise _oauth_error(400, "invalid_grant", "Token has been expired or revoked.")
        if grant.client_id != client_id:
            raise _oauth_error(400, "unauthorized_client", "Unauthorized")
        requested = params.get("scope", "").split()
        if requested and not set(requested) <= set(grant.scopes):
            invalid = sorted(set(requested) - set(grant.scopes))
            raise _oauth_error(400, "invalid_scope", f"Some requested scopes were invalid. {{invalid={invalid}}}")
        scopes = requested or list(grant.scopes)
        payload = {
            "access_token": self._mint_access_token(grant, scopes),
            "expires_in": ACCESS_TOKEN_LIFETIME,
            "scope": " ".join(scopes),
            "token_type": "Bearer",
        }
        return _json_response(200, payload, {"Cache-Control": "no-cache, no-store, max-age=0, must-revalidate"})

    def _revoke(self, headers: dict[str, str], body: bytes, query: dict[str, list[str]]) -> _Response:
        params = {key: values[0] for key, values in query.items()}
        params.update(self._form(headers, body))
        token = params.get("token", "")
        self.revoke_requests.append(token)
        if not token:
            raise _oauth_error(400, "invalid_request", "Missing required parameter: token")
        grant = self._grant_for_token(token)
        if grant is None:
            raise _oauth_error(400, "invalid_token", "Bad Request")
        if grant.revoked:
            raise _oauth_error(400, "invalid_token", "Token expired or revoked")
        grant.revoked = True
        return _json_response(200, {})

    def _new_grant(
        self, client_id: str, scopes: list[str], *, offline: bool, with_refresh_token: bool = True
    ) -> _Grant:
        refresh_token = "1//" + secrets.token_urlsafe(64) if offline and with_refresh_token else None
        grant = _Grant(client_id, list(scopes), refresh_token, offline)
        self._grants.append(grant)
        if refresh_token:
            self._refresh_tokens[refresh_token] = grant
        return grant

    def _mint_access_token(self, grant: _Grant, scopes: list[str]) -> str:
        token = "ya29." + secrets.token_urlsafe(96)
        expires_at = self.clock() + timedelta(seconds=ACCESS_TOKEN_LIFETIME)
        self._access_tokens[token] = _AccessToken(grant, list(scopes), expires_at)
        return token

    def _grant_for_token(self, token: str) -> _Grant | None:
        if token in self._refresh_tokens:
            return self._refresh_tokens[token]
        access = self._access_tokens.get(token)
        return access.grant if access is not None else None

    # ---------------------------------------------------------------- Calendar API: routing and auth

    def _calendar_api(
        self,
        method: str,
        segments: list[str],
        query: dict[str, list[str]],
        headers: dict[str, str],
        body: bytes,
    ) -> _Response:
        n = len(segments)
        if segments[:3] == ["users", "me", "calendarList"] and method == "GET" and n in (3, 4):
            self._authenticate(headers, query, "calendarList")
            if n == 3:
                return self._calendar_list(query)
            return _json_response(200, self._calendar_list_entry(self._calendar(segments[3])))
        if segments == ["channels", "stop"] and method == "POST":
            self._authenticate(headers, query, "events.read")
            return self._stop_channel(self._json_body(body))
        if n == 4 and segments[0] == "calendars" and segments[2:] == ["events", "watch"] and method == "POST":
            self._authenticate(headers, query, "events.read")
            calendar = self._calendar(segments[1])
            self._require_role(calendar, "reader")
            return self._watch(calendar, self._json_body(body))
        if segments == ["freeBusy"] and method == "POST":
            self._authenticate(headers, query, "freebusy")
            return self._freebusy(self._json_body(body))
        if n >= 2 and segments[0] == "calendars":
            if n == 2 and method == "GET":
                self._authenticate(headers, query, "calendars.get")
                return self._calendar_resource(self._calendar(segments[1]))
            if n in (3, 4) and segments[2] == "events" and method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
                write = method != "GET"
                method_key = "events.write" if write else "events.read"
                access = self._authenticate(headers, query, method_key)
                calendar = self._calendar(segments[1])
                self._require_role(calendar, "writer" if write else "reader")
                if calendar.access_role != "owner":
                    self._require_scope(access, _METHOD_SCOPES[method_key] - _OWNED_ONLY)
                if n == 3 and method == "GET":
                    return self._list_events(calendar, query)
                if n == 3 and method == "POST":
                    event = self._insert_event(calendar, self._json_body(body))
                    return _json_response(200, self._render_event(calendar, event))
                if n == 4:
                    return self._event_by_id(method, calendar, segments[3], query, headers, body)
        raise _google_error(404, "notFound")

    def _authenticate(self, headers: dict[str, str], query: dict[str, list[str]], method_key: str) -> _AccessToken:
        header = next((v for k, v in headers.items() if k.lower() == "authorization"), None)
        token = None
        if header is not None:
            scheme, _, value = header.partition(" ")
            token = value.strip() if scheme.lower() == "bearer" else ""
        elif query.get("access_token") or query.get("oauth_token"):
            token = (query.get("access_token") or query.get("oauth_token") or [""])[0]
        if token is None:
            raise _google_error(
                401,
                "required",
                "Login Required.",
                location="Authorization",
                location_type="header",
                top_message=_MISSING_CREDENTIAL_MESSAGE,
                headers={"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/"'},
            )
        access = self._access_tokens.get(token)
        if access is None or access.expired or access.grant.revoked or self.clock() >= access.expires_at:
            raise _google_error(
                401,
                "authError",
                "Invalid Credentials",
                location="Authorization",
                location_type="header",
                top_message=_UNAUTHENTICATED_MESSAGE,
                headers={"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/", error="invalid_token"'},
            )
        self._require_scope(access, _METHOD_SCOPES[method_key])
        return access

    @staticmethod
    def _require_scope(access: _AccessToken, allowed: set[str]) -> None:
        if not any(scope.removeprefix(_SCOPE_PREFIX) in allowed for scope in access.scopes):
            raise _google_error(
                403,
                "insufficientPermissions",
                top_message="Request had insufficient authentication scopes.",
                headers={
                    "WWW-Authenticate": 'Bearer realm="https://accounts.google.com/", error="insufficient_scope", '
                    f'scope="{" ".join(_SCOPE_PREFIX + s for s in sorted(allowed))}"'
                },
            )

    @staticmethod
    def _json_body(body: bytes) -> dict[str, Any]:
        try:
            payload = json.loads(body or b"{}")
        except ValueError:
            raise _google_error(400, "parseError") from None
        if not isinstance(payload, dict):
            raise _google_error(400, "parseError")
        return payload

    def _resolve_id(self, calendar_id: str) -> str:
        if calendar_id == "primary":
            return next((c.id for c in self._calendars.values() if c.primary), calendar_id)
        return calendar_id

    def _calendar(self, calendar_id: str) -> _Calendar:
        calendar = self._calendars.get(self._resolve_id(calendar_id))
        if calendar is None or calendar.access_role == "none":
            raise _google_error(404, "notFound")
        return calendar

    @staticmethod
    def _require_role(calendar: _Calendar, role: str) -> None:
        if _ROLE_RANK[calendar.access_role] < _ROLE_RANK[role]:
            raise _google_error(403, "requiredAccessLevel", f"You need to have {role} access to this calendar.")

    def _next_etag(self) -> str:
        self._last_etag = max(self._last_etag + 1000, int(self.clock().timestamp() * 1_000_000) * 2)
        return f'"{self._last_etag}"'

    # ---------------------------------------------------------------- calendarList and calendars

    def _calendar_list_entry(self, calendar: _Calendar) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "kind": "calendar#calendarListEntry",
            "etag": calendar.etag,
            "id": calendar.id,
            "summary": calendar.summary,
            "timeZone": calendar.time_zone,
            "colorId": "14",
            "backgroundColor": "#9fe1e7",
            "foregroundColor": "#000000",
            "selected": True,
            "accessRole": calendar.access_role,
            "defaultReminders": [],
            "conferenceProperties": {"allowedConferenceSolutionTypes": ["hangoutsMeet"]},
        }
        if calendar.primary:
            entry["primary"] = True
        return entry

    def _calendar_list(self, query: dict[str, list[str]]) -> _Response:
        minimum = (query.get("minAccessRole") or ["freeBusyReader"])[0]
        if minimum not in _ROLE_RANK or minimum == "none":
            raise _google_error(
                400, "invalid", f"Invalid value for: minAccessRole: {minimum}", location="minAccessRole"
            )
        entries = [
            self._calendar_list_entry(c)
            for c in self._calendars.values()
            if c.access_role != "none" and _ROLE_RANK[c.access_role] >= _ROLE_RANK[minimum]
        ]
        page, next_token = self._page(entries, query, default_size=100, max_size=250)
        payload: dict[str, Any] = {"kind": "calendar#calendarList", "etag": self._next_etag()}
        if next_token:
            payload["nextPageToken"] = next_token
        else:
            payload["nextSyncToken"] = _encode_token("calendarList", self._change)
        payload["items"] = page
        return _json_response(200, payload)

    @staticmethod
    def _calendar_resource(calendar: _Calendar) -> _Response:
        return _json_response(
            200,
            {
                "kind": "calendar#calendar",
                "etag": calendar.etag,
                "id": calendar.id,
                "summary": calendar.summary,
                "timeZone": calendar.time_zone,
                "conferenceProperties": {"allowedConferenceSolutionTypes": ["hangoutsMeet"]},
            },
        )

    @staticmethod
    def _page(
        items: list[Any], query: dict[str, list[str]], *, default_size: int, max_size: int
    ) -> tuple[list[Any], str | None]:
        raw_size = (query.get("maxResults") or [str(default_size)])[0]
        if not raw_size.isdigit() or int(raw_size) < 1:
            raise _google_error(
                400, "invalid", f"Invalid value '{raw_size}'. Values must be within the range: [1, {max_size}]"
            )
        size = min(int(raw_size), max_size)
        offset = 0
        if query.get("pageToken"):
            decoded = _decode_token("page", query["pageToken"][0])
            if decoded is None:
                raise _google_error(400, "invalid", "Invalid page token value.", location="pageToken")
            offset = decoded
        page = items[offset : offset + size]
        more = offset + size < len(items)
        return page, _encode_token("page", offset + size) if more else None

    # ---------------------------------------------------------------- freeBusy

    def _freebusy(self, body: dict[str, Any]) -> _Response:
        bounds = []
        for name in ("timeMin", "timeMax"):
            if not body.get(name):
                raise _google_error(400, "required", f"Missing {name} parameter.", location=name)
            moment = _parse_rfc3339(body[name])
            if moment is None or moment.tzinfo is None:
                raise _google_error(400, "invalid", f"Invalid value for: {name}", location=name)
            bounds.append(moment.astimezone(_UTC))
        time_min, time_max = bounds
        if time_max <= time_min:
            raise _google_error(400, "timeRangeEmpty", location="timeMax")
        if time_max - time_min > timedelta(days=self.freebusy_max_days):
            raise _google_error(400, "timeRangeTooLong", location="timeMax")
        output_tz: Any = _UTC
        if body.get("timeZone") not in (None, "", "UTC"):
            output_tz = _zone(body["timeZone"])
            if output_tz is None:
                raise _google_error(400, "invalid", "Invalid time zone definition.", location="timeZone")
        items = body.get("items") or []
        if not isinstance(items, list) or len(items) > 50:
            raise _google_error(400, "tooManyCalendarsRequested", location="items")
        calendars: dict[str, Any] = {}
        for item in items:
            calendar_id = item.get("id") if isinstance(item, dict) else None
            if not calendar_id:
                continue
            calendar = self._calendars.get(self._resolve_id(calendar_id))
            if calendar is None or calendar.access_role == "none":
                calendars[calendar_id] = {"errors": [{"domain": "global", "reason": "notFound"}], "busy": []}
                continue
            busy = self._busy(calendar, time_min, time_max)
            calendars[calendar_id] = {
                "busy": [{"start": _format(start, output_tz), "end": _format(end, output_tz)} for start, end in busy]
            }
        payload = {
            "kind": "calendar#freeBusy",
            "timeMin": _format_millis(time_min),
            "timeMax": _format_millis(time_max),
            "calendars": calendars,
        }
        return _json_response(200, payload)

    @staticmethod
    def _busy(calendar: _Calendar, time_min: datetime, time_max: datetime) -> list[tuple[datetime, datetime]]:
        intervals = sorted(
            (max(event.start, time_min), min(event.end, time_max))
            for event in calendar.events.values()
            if not event.cancelled
            and event.resource.get("transparency") != "transparent"
            and event.end > time_min
            and event.start < time_max
            and event.end > event.start
        )
        merged: list[tuple[datetime, datetime]] = []
        for start, end in intervals:
            if merged and start <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], end))
            else:
                merged.append((start, end))
        return merged

    # ---------------------------------------------------------------- events

    def _insert_event(self, calendar: _Calendar, body: dict[str, Any]) -> _Event:
        event_id = body.get("id")
        if event_id is not None:
            if not isinstance(event_id, str) or not _EVENT_ID.fullmatch(event_id):
                raise _google_error(400, "invalid", "Invalid resource id value.")
            if event_id in calendar.events:
                raise _google_error(409, "duplicate")
        else:
            event_id = "".join(secrets.choice("abcdefghijklmnopqrstuv0123456789") for _ in range(26))
        resource = {key: copy.deepcopy(value) for key, value in body.items() if key not in _SERVER_FIELDS}
        start, end = _event_interval(resource, calendar.tz)
        now = _format_millis(self.clock())
        person = {"email": calendar.id, "self": True}
        if not calendar.primary:
            person = {"email": calendar.id, "displayName": calendar.summary, "self": True}
        eid = base64.b64encode(f"{event_id} {calendar.id}".encode()).decode().rstrip("=")
        resource.update(
            {
                "kind": "calendar#event",
                "etag": self._next_etag(),
                "id": event_id,
                "status": resource.get("status", "confirmed"),
                "htmlLink": f"https://www.google.com/calendar/event?eid={eid}",
                "created": now,
                "updated": now,
                "creator": person,
                "organizer": dict(person),
                "iCalUID": resource.get("iCalUID") or f"{event_id}@google.com",
                "sequence": int(resource.get("sequence") or 0),
                "reminders": resource.get("reminders") or {"useDefault": True},
                "eventType": resource.get("eventType") or "default",
            }
        )
        self._change += 1
        event = _Event(resource, start.astimezone(_UTC), end.astimezone(_UTC), self._change)
        calendar.events[event_id] = event
        self._notify(calendar, "exists")
        return event

    def _event_by_id(
        self,
        method: str,
        calendar: _Calendar,
        event_id: str,
        query: dict[str, list[str]],
        headers: dict[str, str],
        body: bytes,
    ) -> _Response:
        event = calendar.events.get(event_id)
        if event is None:
            raise _google_error(404, "notFound")
        lowered = {key.lower(): value for key, value in headers.items()}
        if method == "GET":
            if_none_match = lowered.get("if-none-match")
            if if_none_match and self._etag_matches(if_none_match, event):
                return _Response(304, b"", content_type=None, headers={"ETag": event.resource["etag"]})
            return _json_response(200, self._render_event(calendar, event, self._tz_param(query)))
        if_match = lowered.get("if-match")
        if if_match and not self._etag_matches(if_match, event):
            raise _google_error(412, "conditionNotMet", location="If-Match", location_type="header")
        if method == "DELETE":
            if event.cancelled:
                raise _google_error(410, "deleted")
            self._write_event(event, {**event.resource, "status": "cancelled"}, calendar)
            return _Response(204, b"", content_type=None)
        patch = self._json_body(body)
        if method == "PATCH":
            resource = copy.deepcopy(event.resource)
            _merge_patch(resource, {k: v for k, v in patch.items() if k not in _SERVER_FIELDS | {"id", "iCalUID"}})
        else:  # PUT replaces everything the client may set
            resource = {k: copy.deepcopy(v) for k, v in patch.items() if k not in _SERVER_FIELDS | {"id", "iCalUID"}}
            for key in ("kind", "etag", "id", "htmlLink", "created", "creator", "organizer", "iCalUID", "eventType"):
                resource[key] = event.resource[key]
            resource.setdefault("status", "confirmed")
            resource.setdefault("reminders", {"useDefault": True})
        self._write_event(event, resource, calendar, client_sequence=patch.get("sequence"))
        return _json_response(200, self._render_event(calendar, event))

    @staticmethod
    def _etag_matches(header: str, event: _Event) -> bool:
        candidates = [value.strip().removeprefix("W/") for value in header.split(",")]
        return "*" in candidates or event.resource["etag"] in candidates

    def _write_event(
        self, event: _Event, resource: dict[str, Any], calendar: _Calendar, client_sequence: Any = None
    ) -> None:
        start, end = _event_interval(resource, calendar.tz)
        current = int(event.resource.get("sequence") or 0)
        if client_sequence is not None and (not isinstance(client_sequence, int) or client_sequence < current):
            raise _google_error(
                400,
                "invalid",
                "Invalid sequence value. The specified sequence number is below the current sequence number "
                "of the resource.",
            )
        significant = any(resource.get(name) != event.resource.get(name) for name in _SIGNIFICANT_FIELDS)
        sequence = max(current + 1 if significant else current, client_sequence or 0)
        resource.update({"sequence": sequence, "etag": self._next_etag(), "updated": _format_millis(self.clock())})
        self._change += 1
        event.resource = resource
        event.start, event.end, event.changed = start.astimezone(_UTC), end.astimezone(_UTC), self._change
        self._notify(calendar, "exists")

    @staticmethod
    def _tz_param(query: dict[str, list[str]]) -> ZoneInfo | None:
        if query.get("timeZone"):
            zone = _zone(query["timeZone"][0])
            if zone is None:
                raise _google_error(400, "invalid", "Invalid time zone definition.", location="timeZone")
            return zone
        return None

    @staticmethod
    def _render_event(calendar: _Calendar, event: _Event, tz: ZoneInfo | None = None) -> dict[str, Any]:
        rendered = copy.deepcopy(event.resource)
        for name, moment in (("start", event.start), ("end", event.end)):
            original = event.resource.get(name) or {}
            if original.get("dateTime") is not None:
                value = {"dateTime": _format(moment, tz or calendar.tz)}
                if original.get("timeZone"):
                    value["timeZone"] = original["timeZone"]
                rendered[name] = value
        order = ["kind", "etag", "id", "status", "htmlLink", "created", "updated", "summary"]
        return {key: rendered[key] for key in order if key in rendered} | rendered

    def _list_events(self, calendar: _Calendar, query: dict[str, list[str]]) -> _Response:
        def first(name: str) -> str | None:
            values = query.get(name)
            return values[0] if values else None

        sync_token = first("syncToken")
        since = 0
        if sync_token is not None:
            forbidden = [
                name
                for name in (
                    "timeMin",
                    "timeMax",
                    "privateExtendedProperty",
                    "sharedExtendedProperty",
                    "q",
                    "orderBy",
                    "iCalUID",
                    "updatedMin",
                )
                if name in query
            ]
            if forbidden:
                raise _google_error(
                    400, "invalid", f"Sync token cannot be used with {forbidden[0]}.", location=forbidden[0]
                )
            decoded = _decode_token("events", sync_token)
            if decoded is None or decoded < self._sync_floor:
                raise _google_error(410, "fullSyncRequired", location="syncToken")
            since = decoded
        bounds: dict[str, datetime] = {}
        for name in ("timeMin", "timeMax", "updatedMin"):
            if first(name) is not None:
                moment = _parse_rfc3339(first(name))
                if moment is None or moment.tzinfo is None:
                    raise _google_error(400, "invalid", f"Invalid value for: {name}", location=name)
                bounds[name] = moment.astimezone(_UTC)
        if "timeMin" in bounds and "timeMax" in bounds and bounds["timeMax"] <= bounds["timeMin"]:
            raise _google_error(400, "timeRangeEmpty", location="timeMax")
        order_by = first("orderBy")
        if order_by not in (None, "startTime", "updated"):
            raise _google_error(400, "invalid", f"Invalid value for: orderBy: {order_by}", location="orderBy")
        if order_by == "startTime" and _bool_param(query, "singleEvents") is not True:
            raise _google_error(400, "badRequest", "The requested ordering is not available for the particular query.")
        constraints = []
        for kind in ("private", "shared"):
            for constraint in query.get(f"{kind}ExtendedProperty", []):
                name, sep, value = constraint.partition("=")
                if not sep or not name:
                    raise _google_error(400, "invalid", f"Invalid value for: {kind}ExtendedProperty")
                constraints.append((kind, name, value))
        show_deleted = _bool_param(query, "showDeleted") is True or sync_token is not None or "updatedMin" in bounds
        text = (first("q") or "").lower()
        ical_uid = first("iCalUID")

        selected = []
        for event in calendar.events.values():
            resource = event.resource
            if sync_token is not None and event.changed <= since:
                continue
            if event.cancelled and not show_deleted:
                continue
            if "timeMin" in bounds and event.end <= bounds["timeMin"]:
                continue
            if "timeMax" in bounds and event.start >= bounds["timeMax"]:
                continue
            if "updatedMin" in bounds and datetime.fromisoformat(resource["updated"]) < bounds["updatedMin"]:
                continue
            if ical_uid is not None and resource.get("iCalUID") != ical_uid:
                continue
            properties = resource.get("extendedProperties") or {}
            if any((properties.get(kind) or {}).get(name) != value for kind, name, value in constraints):
                continue
            haystack = " ".join(str(resource.get(k) or "") for k in ("summary", "description", "location")).lower()
            if text and text not in haystack:
                continue
            selected.append(event)
        if order_by == "startTime":
            selected.sort(key=lambda e: e.start)
        elif order_by == "updated":
            selected.sort(key=lambda e: e.resource["updated"])
        tz = self._tz_param(query)
        page, next_token = self._page(selected, query, default_size=250, max_size=2500)
        payload: dict[str, Any] = {
            "kind": "calendar#events",
            "etag": self._next_etag(),
            "summary": calendar.summary,
            "description": "",
            "updated": _format_millis(self.clock()),
            "timeZone": calendar.time_zone,
            "accessRole": calendar.access_role,
            "defaultReminders": [],
        }
        if next_token:
            payload["nextPageToken"] = next_token
        else:
            payload["nextSyncToken"] = _encode_token("events", self._change)
        payload["items"] = [self._render_event(calendar, event, tz) for event in page]
        return _json_response(200, payload)

    # ---------------------------------------------------------------- push: events.watch and channels.stop

    def _watch(self, calendar: _Calendar, body: dict[str, Any]) -> _Response:
        channel_id, address = body.get("id"), body.get("address")
        if not isinstance(channel_id, str) or not channel_id:
            raise _google_error(400, "required", "Required", location="id")
        if body.get("type") not in ("web_hook", "webhook"):
            raise _google_error(400, "invalid", f"Invalid value for: type: {body.get('type')}", location="type")
        if not isinstance(address, str) or not address:
            raise _google_error(400, "required", "Required", location="address")
        if urlsplit(address).scheme != "https":
            raise _google_error(400, "push.webhookUrlNotHttps", f"WebHook callback must be HTTPS: {address}", "push")
        if channel_id in self._channels:
            raise _google_error(400, "channelIdNotUnique", f"Channel id {channel_id} not unique", "push")
        ttl = CHANNEL_TTL_SECONDS
        params = body.get("params") or {}
        if "ttl" in params:
            try:
                ttl = int(params["ttl"])
            except (TypeError, ValueError):
                raise _google_error(400, "invalid", "Invalid value for: ttl", location="params.ttl") from None
        now = self.clock()
        expiration = now + timedelta(seconds=max(ttl, 1))
        resource_id = self._resource_ids.setdefault(calendar.id, secrets.token_urlsafe(20))
        token = body.get("token")
        channel = _Channel(channel_id, calendar.id, resource_id, address, token or None, expiration)
        self._channels[channel_id] = channel
        self._send(channel, "sync")
        answer = {
            "kind": "api#channel",
            "id": channel_id,
            "resourceId": resource_id,
            "resourceUri": self._resource_uri(calendar),
            "expiration": str(int(expiration.timestamp() * 1000)),
        }
        if token:
            answer["token"] = token
        return _json_response(200, answer)

    def _stop_channel(self, body: dict[str, Any]) -> _Response:
        channel = self._channels.get(body.get("id") or "")
        if channel is None or channel.stopped or channel.resource_id != body.get("resourceId"):
            raise _google_error(404, "notFound", f"Channel '{body.get('id')}' not found for project '{self.client_id}'")
        channel.stopped = True
        return _Response(204, b"", content_type=None)

    def _resource_uri(self, calendar: _Calendar) -> str:
        return f"https://www.googleapis.com{CALENDAR_PREFIX}calendars/{quote(calendar.id, safe='')}/events?alt=json"

    def _notify(self, calendar: _Calendar, state: str) -> None:
        now = self.clock()
        for channel in self._channels.values():
            if channel.calendar_id == calendar.id and not channel.stopped and now < channel.expiration:
                self._send(channel, state)

    def _send(self, channel: _Channel, state: str) -> None:
        channel.messages += 1
        headers = {
            "X-Goog-Channel-ID": channel.id,
            "X-Goog-Channel-Expiration": format_datetime(channel.expiration.astimezone(_UTC), usegmt=True),
            "X-Goog-Resource-ID": channel.resource_id,
            "X-Goog-Resource-URI": self._resource_uri(self._calendars[channel.calendar_id]),
            "X-Goog-Resource-State": state,
            "X-Goog-Message-Number": str(channel.messages),
        }
        if channel.token is not None:
            headers["X-Goog-Channel-Token"] = channel.token
        self.notifications.append(Notification(channel.address, headers))
