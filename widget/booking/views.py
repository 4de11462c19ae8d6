"""The booking widget: service, day, time, details, confirmation.

Every step is a server-rendered page reached by a plain link or form, so the
widget works with JavaScript off; static/widget.js only swaps steps in place.
State between steps travels in the query string, never in a cookie, because
browsers may refuse cookies to a widget framed by another site.
"""

from __future__ import annotations

import secrets
from datetime import date, timedelta
from urllib.parse import urlencode

from flask import Blueprint, abort, current_app, jsonify, redirect, render_template, request, url_for
from flask_limiter.errors import RateLimitExceeded
from jinja2 import pass_context

from .. import calendars
from ..errors import wants_json
from ..extensions import limiter
from ..timezones import day_start, days_range, parse_day, parse_instant, utc_now, viewer_zone, zone_named
from . import availability, bookings, business, free_times, intake, links
from .forms import details_form

bp = Blueprint("book", __name__)

DAYS_SHOWN = 14
PREFILL = ("name", "email", "phone")

# One budget per client address for making bookings, through the widget and the API alike.
booking_limit = limiter.shared_limit(
    lambda: current_app.config["BOOKING_RATE_LIMIT"], scope="bookings", methods=["POST"]
)


@bp.errorhandler(RateLimitExceeded)
def _too_many_requests(_error: RateLimitExceeded):
    message = bookings.RATE_LIMITED.format(phone=business.current().studio.phone)
    return render_template("book/paused.html", message=message), 429


@bp.app_errorhandler(calendars.CalendarUnavailable)
def _paused(_error: calendars.CalendarUnavailable):
    """Online booking is paused while the calendar cannot be read: say so, and give the phone."""
    phone = business.current().studio.phone
    message = f"Online booking is paused for a moment. Please call {phone} to book."
    if wants_json():
        return jsonify({"errors": {"calendar": message}, "phone": phone}), 503
    return render_template("book/paused.html", message=message), 503


def _zone():
    """Return (zone name, zone, problem) for the visitor's chosen time zone."""
    name, zone, unknown = viewer_zone(request.values.get("tz"), business.current().studio.timezone)
    problem = f"We don't know the time zone {unknown!r}; times are in studio time." if unknown else None
    return name, zone, problem


def _carry(**changes) -> dict:
    """Return the query parameters that travel from step to step, with changes."""
    base = request.environ.get("widget.carried")
    if base is None:
        # Read once per request: a day grid builds a link per day.
        keys = ("service", "tz", "embed", "accent", "again", *PREFILL)
        base = request.environ["widget.carried"] = {key: request.args[key] for key in keys if request.args.get(key)}
    params = {**base, **changes}
    return {key: value for key, value in params.items() if value is not None}


# What url_for leaves unescaped in a query string (WHATWG's percent-encode set), so both write the same address.
QUERY_SAFE = "!$'()*,/:;?@"


@bp.app_template_global("step_url")
@pass_context
def _step_url(context, **changes) -> str:
    """Return url_for("book.widget", **carry(**changes)), built without the router: a day grid has a link a day."""
    path = request.environ.get("widget.path")
    if path is None:
        path = request.environ["widget.path"] = url_for("book.widget")
    query = urlencode(list(context["carry"](**changes).items()), safe=QUERY_SAFE)
    return f"{path}?{query}" if query else path


def _prefill() -> dict:
    """Return the client's details to fill in: those of a "Book again" link's booking, else the query's."""
    values = {key: request.args.get(key, "") for key in PREFILL}
    try:
        earlier = links.booking_to_repeat(request.args["again"]) if request.args.get("again") else None
    except links.BadAgainLink:
        earlier = None  # the link's own page said so already; the visitor may still book
    if earlier is not None and earlier.anonymised_at is None:
        values = {key: getattr(earlier, key) for key in PREFILL}
    return values


@bp.get("/book/again/<token>")
def again(token):
    """Open the widget on the service of an earlier booking, the client's name, email and phone filled in."""
    try:
        earlier = links.booking_to_repeat(token)
    except links.BadAgainLink as bad:
        return render_template("book/again_invalid.html", message=str(bad)), 410 if bad.expired else 404
    service = earlier.service_id if earlier.service_id in business.current().services else None
    # The token travels on from step to step in place of the details themselves.
    return redirect(url_for("book.widget", **_carry(service=service, again=token)), 303)


def query_day(name: str) -> date | None:
    """Return the day the request names as ``name``, or None; ValueError with a sentence for the page if it is wrong."""
    raw = request.values.get(name)
    if not raw:
        return None
    try:
        return parse_day(raw)
    except ValueError as error:
        raise ValueError(f"The day {raw!r} {error}; here are the days from today.") from None


@bp.get("/book")
def widget():
    """Show the step of booking that the query string has reached."""
    zone_name, zone, zone_problem = _zone()
    rules = business.current().rules
    services = business.current().services
    context = {"zone_name": zone_name, "zone": zone, "zone_problem": zone_problem, "carry": _carry}

    if calendars.current().status() != "ok":
        raise calendars.CalendarUnavailable("the calendar is not connected")
    service = services.get(request.args.get("service", ""))
    if service is None:
        problem = "Please choose one of our services." if request.args.get("service") else None
        return render_template("book/services.html", problem=problem, **context)
    context["service"] = service

    if request.args.get("start"):
        try:
            start = parse_instant(request.args["start"])
        except ValueError as error:
            problem = f"The time {request.args['start']!r} {error}. Please pick again."
            return render_template("book/services.html", problem=problem, **context), 422
        form = _details_form(service)(
            formdata=None,
            service=service.id,
            start=start.isoformat(),
            tz=zone_name,
            # The form's own Idempotency-Key: sending it twice (a double click, a retry) books once.
            idempotency_key=secrets.token_urlsafe(24),
            **_prefill(),
        )
        return _details(form, service, start, context)

    today = utc_now().astimezone(zone).date()
    status = 200
    try:
        day, first_day = query_day("date"), max(query_day("from") or today, today)
    except ValueError as error:
        day, first_day, status, context["problem"] = None, today, 422, str(error)
    if day is not None:
        first, after = days_range(day, day, zone)

        def times_page(reading):
            slots = free_times.free_slots(service, first, after, zone, reading)
            return render_template("book/times.html", day=day, slots=slots, **context)

        # The page depends on the query alone (and on busy time and the clock, which ``kept`` watches).
        return free_times.kept(("book", request.full_path), zone, times_page)

    last_day = first_day + timedelta(days=DAYS_SHOWN - 1)
    horizon_end = day_start(today + timedelta(days=rules.horizon_days + 2), zone)

    def days_page(reading):
        return render_template(
            "book/days.html",
            per_day=free_times.free_days(service, first_day, DAYS_SHOWN, zone, reading),
            earlier=first_day - timedelta(days=DAYS_SHOWN) if first_day > today else None,
            later=last_day + timedelta(days=1) if day_start(last_day + timedelta(days=1), zone) < horizon_end else None,
            **context,
        )

    if status != 200:
        return days_page(free_times.Reading()), status
    return free_times.kept(("book", request.full_path), zone, days_page)


def _details_form(service):
    """Return the details form class for ``service``: the client's details and its intake questions."""
    return details_form(intake.asked(business.current().questions, service.id))


def _call_first(message: str):
    """Stop online booking for an answer that needs a conversation first: say so kindly, give the phone."""
    return render_template("book/call.html", message=message), 422


def _details(form, service, start, context, status=200, taken=None):
    """Render the details step, or the times around ``start`` if it is not free."""
    zone = context["zone"]
    if taken is None:
        problem = bookings.slot_problem(service, start)
        if problem is not None:
            taken = bookings.alternatives(service, start, zone)
            status = 409 if problem in (availability.BUSY, availability.FULL) else 422
    if taken is not None:
        return (
            render_template(
                "book/times.html",
                day=start.astimezone(zone).date(),
                slots=taken,
                unavailable=start,
                **context,
            ),
            status,
        )
    return render_template("book/details.html", form=form, start=start, **context), status


@bp.post("/book")
@booking_limit
def submit():
    """Book the appointment from the details form."""
    services = business.current().services
    service = services.get(request.form.get("service") or "")
    if service is None:
        abort(400, "The form names no service we offer.")
    form = _details_form(service)()
    zone_name, zone, zone_problem = _zone()
    try:
        start = parse_instant(form.start.data or "")
    except ValueError as error:
        abort(400, f"The form's start time {error}.")
    context = {"zone_name": zone_name, "zone": zone, "zone_problem": zone_problem, "carry": _carry, "service": service}
    valid = form.validate_on_submit()
    answers = form.answers()
    try:
        intake.check_answers(business.current().questions, service.id, answers, business.current().studio.phone)
    except intake.CallFirst as stop:
        return _call_first(stop.message)
    except intake.InvalidAnswers as invalid:
        valid = not form.show_answer_errors(invalid.errors) and valid
    if not valid:
        return _details(form, service, start, context, status=422)
    try:
        booking, _ = bookings.book(
            service.id,
            start,
            form.name.data,
            form.email.data,
            form.phone.data,
            form.notes.data or "",
            zone_name,
            idempotency_key=form.idempotency_key.data or None,
            answers=answers,
        )
    except intake.CallFirst as stop:
        return _call_first(stop.message)
    except bookings.TooManyBookings as too_many:
        message = f"This {too_many.field} {bookings.too_many_message(too_many)}"
        return render_template("book/paused.html", message=message), 429
    except bookings.SlotTaken as taken:
        return _details(form, service, start, context, status=409, taken=taken.alternatives)
    except bookings.InvalidBooking as invalid:
        form.show_answer_errors(invalid.errors)
        for field, message in invalid.errors.items():
            if field.startswith("answers"):
                continue
            target = getattr(form, field, None) if field in ("name", "email", "phone", "notes") else None
            if field == "Idempotency-Key":
                message = "This form was already used for another booking. Please reload the page."
            (target.errors if target is not None else form.form_errors).append(message)
        if "start" in invalid.errors:
            return _details(
                form, service, start, context, status=422, taken=bookings.alternatives(service, start, zone)
            )
        return _details(form, service, start, context, status=422)
    return redirect(url_for("book.done", token=links.manage_token(booking), **_carry(service=None, tz=zone_name)), 303)


@bp.get("/book/done/<token>")
def done(token):
    """Show the confirmation of a booking just made."""
    return booking_page("book/done.html", token)


def booking_page(template, token, status=200, **extra):
    """Render a page about the booking a manage token names, in the client's zone."""
    booking = links.booking_for_token(token)
    if booking is None:
        abort(404, "This booking link is not valid. Please check it was copied whole, or call us.")
    zone_name, zone, zone_problem = _zone()
    if not request.args.get("tz"):
        zone_name, zone = booking.client_timezone, zone_named(booking.client_timezone)
    service = business.current().services.get(booking.service_id)
    context = {
        "booking": booking,
        "service": service,
        "zone_name": zone_name,
        "zone": zone,
        "zone_problem": zone_problem,
        "token": token,
        "manage_url": links.manage_url(booking),
        "again_url": url_for("book.again", token=links.again_token(booking)),
        "is_over": booking.end_at <= utc_now(),
        "carry": _carry,
        **extra,
    }
    return render_template(template, **context), status
