"""The JSON API: services, free slots and bookings (see /api/openapi.json)."""

from __future__ import annotations

from datetime import date, timedelta

from flask import Blueprint, current_app, jsonify, request
from flask_limiter.errors import RateLimitExceeded

from ..errors import ApiError, json_body
from ..openapi import document
from ..schemas import Booking, BookingRequest, Services, answer, fields_of, required_of
from ..timezones import days_range, parse_day, parse_instant, rfc3339, utc_now, zone_named
from . import bookings, business, free_times, intake, links
from .views import booking_limit

bp = Blueprint("api", __name__, url_prefix="/api")

MAX_RANGE_DAYS = 62
# What a client may send and must send: the request schema the document shows.
BOOKING_FIELDS = fields_of(BookingRequest)
REQUIRED_FIELDS = required_of(BookingRequest)


@bp.errorhandler(bookings.InvalidBooking)
def _invalid_booking(error: bookings.InvalidBooking):
    return ApiError(422, error.errors).response()


@bp.errorhandler(intake.CallFirst)
def _call_first(error: intake.CallFirst):
    # An answer that needs a conversation first: nothing was stored; the phone is where to book.
    return ApiError(422, error.errors, phone=business.current().studio.phone).response()


def _limited(errors: dict[str, str]) -> ApiError:
    """Return the 429 refusal: what was limited, and the phone number, where a person can still book."""
    return ApiError(429, errors, phone=business.current().studio.phone)


@bp.errorhandler(RateLimitExceeded)
def _too_many_requests(_error: RateLimitExceeded):
    # Flask-Limiter adds Retry-After to this answer (RATELIMIT_HEADERS_ENABLED).
    return _limited({"booking": bookings.RATE_LIMITED.format(phone=business.current().studio.phone)}).response()


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
    return jsonify(answer(Services, services=[_service_json(s) for s in business.current().services.values()]))


def _query_zone(name: str | None):
    try:
        return zone_named(name or business.current().studio.timezone)
    except ValueError as error:
        raise ApiError(422, {"tz": str(error)}) from None


def _query_date(name: str, default: date) -> date:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        return parse_day(raw)
    except ValueError as error:
        raise ApiError(422, {name: str(error)}) from None


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
    except ApiError as error:
        errors.update(error.errors)
    today = utc_now().astimezone(zone or zone_named("UTC")).date()
    try:
        first = _query_date("start", today)
        last = _query_date("end", first + timedelta(days=6))
        if last < first:
            errors["end"] = "must not be before start"
        elif (last - first).days >= MAX_RANGE_DAYS:
            errors["end"] = f"must be less than {MAX_RANGE_DAYS} days after start"
    except ApiError as error:
        errors.update(error.errors)
    if errors:
        raise ApiError(422, errors)
    start, end = days_range(first, last, zone)
    # Written from slots kept as JSON (see free_times): the same answer the Slots schema describes.
    text = free_times.kept(
        ("slots", service.id, zone.key, first, last),
        zone,
        lambda reading: free_times.slots_json(service, start, end, zone, reading),
    )
    return current_app.response_class(text, mimetype="application/json")


def booking_json(booking) -> dict:
    """Return the public view of a booking."""
    zone = zone_named(booking.client_timezone)
    return answer(
        Booking,
        id=booking.id,
        status=booking.status,
        service=booking.service_id,
        start=rfc3339(booking.start_at, zone),
        end=rfc3339(booking.end_at, zone),
        timezone=booking.client_timezone,
        manage_url=links.manage_url(booking),
    )


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
    for name in REQUIRED_FIELDS:
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
        if isinstance(body.get("service"), str) and body["service"] in business.current().services:
            try:
                intake.check_answers(
                    business.current().questions, body["service"], body.get("answers"), business.current().studio.phone
                )
            except intake.InvalidAnswers as error:
                errors = {**error.errors, **errors}
        raise ApiError(422, errors)
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
            answers=body.get("answers"),
        )
    except bookings.TooManyBookings as too_many:
        raise _limited({too_many.field: bookings.too_many_message(too_many)}) from None
    except bookings.SlotTaken as taken:
        zone = zone_named(zone_name or business.current().studio.timezone)
        alternatives = [_slot_json(slot, zone) for slot in taken.alternatives]
        raise ApiError(409, {"start": "is no longer free"}, alternatives=alternatives) from None
    return jsonify(booking_json(booking)), 201 if created else 200


@bp.get("/openapi.json")
def openapi():
    """Return the OpenAPI document of the public API."""
    return jsonify(document())
