"""The client's own page for a booking: see it, cancel it, move it.

The link in every email carries a signed token naming one booking; it needs
no sign-in and no cookie.  A token acts only on the booking it names.
"""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, abort, redirect, request, url_for

from ..models import BookingStatus
from ..timezones import days_range, parse_instant, utc_now, viewer_zone
from . import bookings, business, free_times, links
from .forms import CancelForm, RescheduleForm
from .views import booking_page, query_day

bp = Blueprint("manage", __name__, url_prefix="/manage")

DAYS_SHOWN = 14


def _booking(token):
    booking = links.booking_for_token(token)
    if booking is None:
        abort(404, "This booking link is not valid. Please check it was copied whole, or call us.")
    return booking


@bp.get("/<token>")
def show(token):
    """Show a client their booking and what they may still do with it."""
    booking = _booking(token)
    return booking_page(
        "book/manage.html",
        token,
        can_change=bookings.can_change(booking),
        deadline=bookings.change_deadline(booking),
        cancel_form=CancelForm(formdata=None),
        done=request.args.get("done"),
    )


def _manage_page(token, booking, status, form):
    """Render the manage page of a booking as it is now, with the cancel form as posted."""
    return booking_page(
        "book/manage.html",
        token,
        status=status,
        can_change=bookings.can_change(booking),
        deadline=bookings.change_deadline(booking),
        cancel_form=form,
    )


@bp.post("/<token>/cancel")
def cancel(token):
    """Cancel the booking, if it is not too late."""
    booking = _booking(token)
    form = CancelForm()
    if not form.validate_on_submit():
        return _manage_page(token, booking, 422, form)
    if booking.status == BookingStatus.CANCELLED:
        return redirect(url_for("manage.show", token=token, done="cancelled"), 303)
    if not bookings.can_change(booking):
        return _manage_page(token, booking, 409, form)
    try:
        bookings.cancel(booking)
    except bookings.BookingChanged:
        # Moved past the deadline a moment ago: show it as it is now.
        return _manage_page(token, _booking(token), 409, form)
    return redirect(url_for("manage.show", token=token, done="cancelled"), 303)


def _reschedule_page(token, booking, status=200, form=None, taken=None, problem=None):
    _, zone, _ = viewer_zone(request.values.get("tz"), booking.client_timezone)
    service = business.current().services[booking.service_id]
    today = utc_now().astimezone(zone).date()
    try:
        day, first_day = query_day("date"), max(query_day("from") or today, today)
    except ValueError as error:
        # A page that already says something worse (too late, time taken) keeps its status.
        day, first_day, problem = None, today, problem or str(error)
        status = 422 if status == 200 else status
    per_day = free_times.free_days(service, first_day, DAYS_SHOWN, zone)
    slots = []
    if taken is not None:
        slots = taken
    elif day is not None:
        slots = free_times.free_slots(service, *days_range(day, day, zone), zone)
    return booking_page(
        "book/reschedule.html",
        token,
        status=status,
        zone=zone,
        zone_name=zone.key,
        per_day=per_day,
        day=day,
        slots=slots,
        taken=taken is not None,
        problem=problem,
        form=form or RescheduleForm(formdata=None),
        can_change=bookings.can_change(booking),
        deadline=bookings.change_deadline(booking),
        first_day=first_day,
        later=first_day + timedelta(days=DAYS_SHOWN),
        earlier=first_day - timedelta(days=DAYS_SHOWN) if first_day > today else None,
    )


@bp.get("/<token>/reschedule")
def reschedule_form(token):
    """Offer the free times the booking could move to."""
    booking = _booking(token)
    return _reschedule_page(token, booking, status=200 if bookings.can_change(booking) else 409)


@bp.post("/<token>/reschedule")
def reschedule(token):
    """Move the booking to the chosen time."""
    booking = _booking(token)
    form = RescheduleForm()
    if not bookings.can_change(booking):
        return _reschedule_page(token, booking, status=409, form=form)
    if not form.validate_on_submit():
        return _reschedule_page(token, booking, status=422, form=form)
    try:
        start = parse_instant(form.start.data)
    except ValueError as error:
        return _reschedule_page(token, booking, status=422, form=form, problem=f"The new time {error}.")
    try:
        bookings.reschedule(booking, start)
    except bookings.SlotTaken as taken:
        return _reschedule_page(token, booking, status=409, form=form, taken=taken.alternatives)
    except bookings.BookingChanged:
        problem = "This booking was changed a moment ago; here it is as it is now. Please choose again."
        return _reschedule_page(token, _booking(token), status=409, form=form, problem=problem)
    except bookings.InvalidBooking as invalid:
        message = "; ".join(f"{field} {text}" for field, text in invalid.errors.items())
        return _reschedule_page(
            token, booking, status=422, form=form, problem=f"That time cannot be booked: {message}."
        )
    return redirect(url_for("manage.show", token=token, done="moved", tz=request.args.get("tz")), 303)
