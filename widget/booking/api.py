"""The JSON API: services, free slots and bookings (see /api/openapi.json)."""

from __future__ import annotations

from datetime import date, timedelta

from flask import Blueprint, jsonify, request
from flask_limiter.errors import RateLimitExceeded

from ..errors import field_errors
from ..openapi import document
from ..timezones import days_range, parse_day, parse_instant, rfc3339, utc_now, zone_named
from . import rules as business
from . import service as bookings
from .views import booking_limit

bp = Blueprint("api", __name__, url_prefix="/api")

MAX_RANGE_DAYS = 62
BOOKING_FIELDS = {"service", "start", "name", "email", "phone", "notes", "timezone"}
# Our bodies are flat objects; deeper nesting is refused, and nesting deep enough to exhaust the parser too.
MAX_JSON_DEPTH = 8


class BadRequest(Exception):
    """Input the API refuses; ``errors`` names each bad field."""

    def __init__(self, errors: dict[str, str], status: int = 422):
        super().__init__(errors)
        self.errors, self.status = errors, status


@bp.errorhandler(BadRequest)
def _bad_request(error: BadRequest):
    return field_errors(error.errors, error.status)


@bp.errorhandler(bookings.InvalidBooking)
def _invalid_booking(error: bookings.InvalidBooking):
    return field_errors(error.errors)


def _limited(errors: dict[str, str]):
    """Answer 429 with what was limited and the phone number, where a person can still book."""
    phone = business.current().studio.phone
    return field_errors(errors, 429, phone=phone)


@bp.errorhandler(RateLimitExceeded)
def _too_many_requests(_error: RateLimitExceeded):
    # Flask-Limiter adds Retry-After to this answer (RATELIMIT_HEADERS_ENABLED).
    return _limited({"booking": bookings.RATE_LIMITED.format(phone=business.current().studio.phone)})


def _slot_json(slot, zone) -> dict:
    return {"start": rfc3339(slot.start, zone), "end": rfc3339(slot.end, zone)}


def _service_json(service) -> dict:
    return {
        "id": service.id,
        "name": service.name,
        "duration_minutes": int(service.duration.total_seconds() // 60),
        "price": str(service.price),
        "description": service.description,
    }


@bp.get("/services")
def services():
    """List the services clients can book."""
    return jsonify({"services": [_service_json(s) for s in business.current().services.values()]})


def _query_zone(name: str | None):
    try:
        return zone_named(name or business.current().studio.timezone)
    except ValueError as error:
        raise BadRequest({"tz": str(error)}) from None


def _query_date(name: str, default: date) -> date:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        return parse_day(raw)
    except ValueError as error:
        raise BadRequest({name: str(error)}) from None


@bp.get("/slots")
def slots():
    """List free slots for a service on the days start..end (inclusive) of zone tz."""
    errors = {}
    try:
        service = bookings.service_named(request.args.get("service"))
    except bookings.InvalidBooking as error:
        errors.update(error.errors)
    zone = None
    try:
        zone = _query_zone(request.args.get("tz"))
    except BadRequest as error:
        errors.update(error.errors)
    today = utc_now().astimezone(zone or zone_named("UTC")).date()
    try:
        first = _query_date("start", today)
        last = _query_date("end", first + timedelta(days=6))
        if last < first:
            errors["end"] = "must not be before start"
        elif (last - first).days >= MAX_RANGE_DAYS:
            errors["end"] = f"must be less than {MAX_RANGE_DAYS} days after start"
    except BadRequest as error:
        errors.update(error.errors)
    if errors:
        raise BadRequest(errors)
    start, end = days_range(first, last, zone)
    found = bookings.free_slots(service, start, end, zone)
    return jsonify({"service": service.id, "timezone": zone.key, "slots": [_slot_json(s, zone) for s in found]})


def _lone_surrogate(text: str) -> str | None:
    """Return the first lone UTF-16 surrogate in ``text`` (JSON can escape one, "\\ud800"), or None."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        return text[error.start]
    return None


def _check_parts(body: dict) -> None:
    """Raise BadRequest if the body nests too deeply or a string in it is not text."""
    nested = f"nests deeper than {MAX_JSON_DEPTH} levels"
    # Walked with a stack, not recursion: the point is to survive hostile depth.
    stack = [(body, 1, None)]
    while stack:
        value, depth, field = stack.pop()
        if isinstance(value, (dict, list)) and depth > MAX_JSON_DEPTH:
            raise BadRequest({"body": nested}, 400)
        if isinstance(value, dict):
            for key, item in value.items():
                if _lone_surrogate(key) is not None:
                    raise BadRequest({"body": "has a field name that is not text (a lone surrogate)"})
                stack.append((item, depth + 1, field or key))
        elif isinstance(value, list):
            stack.extend((item, depth + 1, field) for item in value)
        elif isinstance(value, str) and (found := _lone_surrogate(value)) is not None:
            raise BadRequest({field: f"is not text: \\u{ord(found):04x} is half of a UTF-16 surrogate pair"})


def json_body() -> dict:
    """Return the request's JSON object, or raise BadRequest naming the problem."""
    if not request.is_json:
        raise BadRequest({"body": "must be JSON (Content-Type: application/json)"}, 415)
    try:
        body = request.get_json(silent=True)
    except RecursionError:
        raise BadRequest({"body": f"nests deeper than {MAX_JSON_DEPTH} levels"}, 400) from None
    if body is None:
        raise BadRequest({"body": "is not valid JSON"}, 400)
    if not isinstance(body, dict):
        raise BadRequest({"body": "must be a JSON object"}, 400)
    _check_parts(body)
    return body


def booking_json(booking) -> dict:
    """Return the public view of a booking."""
    zone = zone_named(booking.client_timezone)
    return {
        "id": booking.id,
        "status": booking.status,
        "service": booking.service_id,
        "start": rfc3339(booking.start_at, zone),
        "end": rfc3339(booking.end_at, zone),
        "timezone": booking.client_timezone,
        "manage_url": bookings.manage_url(booking),
    }


@bp.post("/bookings")
@booking_limit
def create_booking():
    """Book an appointment; a repeat with the same Idempotency-Key header returns the same booking."""
    body = json_body()
    unknown = sorted(set(body) - BOOKING_FIELDS)
    errors = {name: "is not a field of a booking" for name in unknown}
    start = None
    if "start" not in body:
        errors["start"] = "is required"
    else:
        try:
            start = parse_instant(body["start"])
        except ValueError as error:
            errors["start"] = str(error)
    for name in ("service", "name", "email", "phone"):
        if name not in body:
            errors.setdefault(name, "is required")
    zone_name = body.get("timezone")
    if zone_name is not None:
        try:
            zone_named(zone_name if isinstance(zone_name, str) else "")
        except ValueError as error:
            errors["timezone"] = str(error)
    if errors:
        # Check the rest too, so one answer names every bad field.
        try:
            bookings.check_details(
                body.get("name", ""), body.get("email", ""), body.get("phone", ""), body.get("notes")
            )
        except bookings.InvalidBooking as error:
            errors = {**error.errors, **errors}
        raise BadRequest(errors)
    try:
        booking, created = bookings.book(
            body["service"],
            start,
            body["name"],
            body["email"],
            body["phone"],
            body.get("notes") or "",
            zone_name,
            idempotency_key=request.headers.get("Idempotency-Key"),
        )
    except bookings.TooManyBookings as too_many:
        return _limited({too_many.field: bookings.too_many_message(too_many)})
    except bookings.SlotTaken as taken:
        zone = zone_named(zone_name or business.current().studio.timezone)
        return field_errors(
            {"start": "is no longer free"},
            409,
            alternatives=[_slot_json(slot, zone) for slot in taken.alternatives],
        )
    return jsonify(booking_json(booking)), 201 if created else 200


@bp.get("/openapi.json")
def openapi():
    """Return the OpenAPI document of the public API."""
    return jsonify(document())
