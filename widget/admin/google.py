"""The therapist's Google Calendar connection: connect, choose calendars, disconnect.

The pages sit in the admin blueprint (``admin.google``, ...); Google's OAuth
redirect target ``/oauth2callback`` has a blueprint of its own, outside ``/admin``.
"""

from __future__ import annotations

import json

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for

from .. import calendars
from ..booking import business
from ..calendars import push
from ..forms import ActionForm
from ..timezones import zone_named
from .views import bp, sign_in_required

oauth_bp = Blueprint("oauth", __name__)


def _google():
    """Return the Google backend, or None when the service runs on the local calendar."""
    calendar = calendars.current()
    return calendar if calendar.name == "google" else None


def _redirect_uri() -> str:
    return f"{current_app.config['PUBLIC_URL']}/oauth2callback"


@bp.get("/google")
@sign_in_required
def google():
    """Show the Google Calendar connection and the calendar choice."""
    backend = _google()
    connection = backend.connection() if backend else None
    found, listing_problem = [], None
    if backend and backend.status() == "ok":
        try:
            found = backend.calendars()
        except calendars.CalendarUnavailable as error:
            listing_problem = f"Your calendars could not be listed: {error}."
        except Exception as error:  # noqa: BLE001 - shown to the therapist rather than a 500
            listing_problem = f"Your calendars could not be listed: {error}."
    return render_template(
        "admin/google.html",
        backend=backend,
        connection=connection,
        connected=bool(backend and backend.status() == "ok"),
        calendars_found=found,
        busy_ids=json.loads(connection.busy_calendars) if connection else ["primary"],
        booking_id=connection.booking_calendar if connection else "primary",
        calendar_errors=json.loads(connection.calendar_errors or "{}") if connection else {},
        broad_access=bool(backend and backend.broad_access()),
        zone=zone_named(business.current().studio.timezone),
        writable_roles=backend.writable_roles() if backend else set(),
        listing_problem=listing_problem,
        push_off=bool(backend) and not push.enabled(),
        sync_minutes=current_app.config["CALENDAR_SYNC_MINUTES"],
        action_form=ActionForm(),
    )


@bp.post("/google/connect")
@sign_in_required
def google_connect():
    """Send the therapist to Google's consent page."""
    backend = _google()
    if backend is None or not ActionForm().validate_on_submit():
        flash("Google Calendar is not enabled here (CALENDAR_BACKEND is not google).", "error")
        return redirect(url_for("admin.google"))
    return redirect(backend.authorization_url(_redirect_uri()))


@oauth_bp.get("/oauth2callback")
@sign_in_required
def oauth2callback():
    """Finish connecting Google Calendar after the consent page."""
    # Deferred: it loads Google's client libraries, which a studio on the local calendar never needs.
    from ..calendars.google import ConnectError

    backend = _google()
    if backend is None:
        abort(404)
    try:
        backend.finish_connect(_redirect_uri(), request.args)
    except ConnectError as error:
        flash(str(error), "error")
        return redirect(url_for("admin.google"))
    push.keep_watching()
    flash("Google Calendar is connected. Choose your calendars below.", "success")
    return redirect(url_for("admin.google"))


@bp.post("/google/calendars")
@sign_in_required
def google_calendars():
    """Save which calendars count as busy and which receives bookings."""
    backend = _google()
    if backend is None or not ActionForm().validate_on_submit():
        return redirect(url_for("admin.google"))
    try:
        backend.choose(request.form.getlist("busy"), request.form.get("booking", ""))
    except (ValueError, calendars.CalendarUnavailable) as error:
        flash(f"Not saved: {error}.", "error")
    else:
        push.keep_watching()  # a channel for each newly ticked calendar, none for the unticked ones
        flash("Calendars saved.", "success")
    return redirect(url_for("admin.google"))


@bp.post("/google/disconnect")
@sign_in_required
def google_disconnect():
    """Revoke and forget the Google connection."""
    backend = _google()
    if backend is not None and ActionForm().validate_on_submit():
        push.stop_all()  # while the grant still works: stopping a channel is a call to Google
        backend.disconnect()
        flash("Google Calendar is disconnected. Online booking is paused until you connect again.", "success")
    return redirect(url_for("admin.google"))
