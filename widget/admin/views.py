"""The therapist's pages: sign-in, agenda, blocked time, cancelling."""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, session, url_for
from sqlalchemy import select
from werkzeug.security import check_password_hash

from .. import calendars, outbox
from ..booking import bookings, business, intake, waitlist
from ..calendars import Event
from ..comments import checks, moderation, queries
from ..extensions import begin_writing, db, limiter
from ..forms import ActionForm
from ..models import Booking, CalendarEvent, CommentStatus, Setting, new_id
from ..timezones import utc_now, zone_named
from .forms import BlockTimeForm, LoginForm

bp = Blueprint("admin", __name__, url_prefix="/admin")

PASSWORD_KEY = "admin_password_hash"  # noqa: S105 - the name of a setting, not a secret
SESSION_VERSION_KEY = "admin_session_version"


def password_hash() -> str | None:
    """Return the stored admin password hash, if one was set."""
    row = db.session.get(Setting, PASSWORD_KEY)
    return row.value if row else None


def _session_version() -> str:
    row = db.session.get(Setting, SESSION_VERSION_KEY)
    return row.value if row else ""


def end_sessions() -> None:
    """Sign every browser out: session cookies issued before now stop being accepted.

    Sessions live in a signed cookie the browser keeps, so forgetting one on the
    server is impossible; instead each cookie carries the version current when it
    was issued, and a fresh version (stored with the caller's next commit) makes
    every older cookie worthless, copies included.
    """
    row = db.session.get(Setting, SESSION_VERSION_KEY) or Setting(key=SESSION_VERSION_KEY)
    row.value = secrets.token_hex(16)
    db.session.add(row)


def _session_mark(stored_hash: str, version: str) -> str:
    # Bound to the password hash and the session version: a new password or a sign-out ends every session.
    message = f"{stored_hash}:{version}".encode()
    return hmac.new(current_app.config["SECRET_KEY"].encode(), message, hashlib.sha256).hexdigest()[:32]


def signed_in() -> bool:
    """Say whether this browser is signed in as the therapist."""
    stored = password_hash()
    mark = session.get("admin")
    return bool(stored and mark and hmac.compare_digest(mark, _session_mark(stored, _session_version())))


def sign_in_required(view):
    """Send visitors who are not signed in to the sign-in page."""

    @functools.wraps(view)
    def wrapped(**kwargs):
        if not signed_in():
            return redirect(url_for("admin.login", next=request.path))
        return view(**kwargs)

    return wrapped


def _admin_path(target: str) -> bool:
    """Say whether ``next=`` is a plain local path inside the admin, safe to redirect to."""
    # Browsers read a backslash as "/" and drop tabs and newlines, and a newline in a header is refused:
    # anything unusual goes to the agenda rather than becoming an open redirect or a 500.
    if any(ord(char) < 32 or ord(char) == 127 or char == "\\" for char in target) or "//" in target:
        return False
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return False
    return parts.path == bp.url_prefix or parts.path.startswith(bp.url_prefix + "/")


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["ADMIN_LOGIN_RATE_LIMIT"], methods=["POST"])
def login():
    """Sign the therapist in."""
    form = LoginForm()
    stored = password_hash()
    if form.validate_on_submit():
        if stored and check_password_hash(stored, form.password.data):
            session.clear()
            session["admin"] = _session_mark(stored, _session_version())
            target = request.args.get("next", "")
            return redirect(target if _admin_path(target) else url_for("admin.agenda"))
        form.password.errors.append("That password is not right.")
        return render_template("admin/login.html", form=form, configured=bool(stored)), 401
    return render_template("admin/login.html", form=form, configured=bool(stored))


@bp.post("/logout")
def logout():
    """Sign the therapist out, on every device."""
    # Only a signed-in browser may end the sessions: the sign-in page hands a CSRF token to anyone.
    if ActionForm().validate_on_submit() and signed_in():
        begin_writing()
        end_sessions()
        db.session.commit()
    session.clear()
    return redirect(url_for("admin.login"))


@bp.get("")
@sign_in_required
def agenda():
    """Show upcoming bookings and blocked time, day by day, in studio time."""
    studio_zone = zone_named(business.current().studio.timezone)
    now = utc_now()
    upcoming = bookings.upcoming(now)
    blocks = []
    calendar = calendars.current()
    if hasattr(calendar, "events"):
        blocks = [e for e in calendar.events(now, now + timedelta(days=60)) if e.booking_id is None]
    days: dict = {}
    for item in [*upcoming, *blocks]:
        days.setdefault(item.start_at.astimezone(studio_zone).date(), []).append(item)
    for items in days.values():
        items.sort(key=lambda item: item.start_at)
    return render_template(
        "admin/agenda.html",
        outbox_problems=outbox.problems(),
        days=dict(sorted(days.items())),
        zone=studio_zone,
        block_form=BlockTimeForm(),
        action_form=ActionForm(),
        services=business.current().services,
        answers_of=lambda booking: intake.shown(business.current().questions, booking.answers),
    )


@bp.post("/block")
@sign_in_required
def block_time():
    """Keep a stretch of time free of bookings on the local calendar."""
    form = BlockTimeForm()
    if not form.validate_on_submit():
        for field, messages in form.errors.items():
            label = getattr(form, field).label.text if hasattr(form, field) else field
            flash(f"{label}: {'; '.join(messages)}", "error")
        return redirect(url_for("admin.agenda"))
    zone = zone_named(business.current().studio.timezone)
    start = datetime.combine(form.day.data, form.start.data, tzinfo=zone)
    end = datetime.combine(form.day.data, form.end.data, tzinfo=zone)
    calendars.current().write_event(
        Event(
            id=new_id(),
            start=start,
            end=end,
            summary=form.reason.data or "Blocked",
            timezone=business.current().studio.timezone,
            description="",
        )
    )
    flash("Time blocked.", "success")
    return redirect(url_for("admin.agenda"))


@bp.post("/block/<event_id>/delete")
@sign_in_required
def unblock_time(event_id):
    """Free blocked time again."""
    if ActionForm().validate_on_submit():
        event = db.session.get(CalendarEvent, event_id)
        if event is not None and event.booking_id is None:
            start, end = event.start_at, event.end_at
            calendars.current().delete_event(event_id)
            bookings.free_time(start, end)
            flash("Blocked time removed.", "success")
    return redirect(url_for("admin.agenda"))


@bp.get("/bookings/<booking_id>")
@sign_in_required
def booking(booking_id):
    """Show one booking: the page a booking's calendar event links to."""
    found = db.session.get(Booking, booking_id)
    if found is None:
        abort(404)
    return render_template(
        "admin/booking.html",
        booking=found,
        service=business.current().services.get(found.service_id),
        zone=zone_named(business.current().studio.timezone),
        action_form=ActionForm(),
        answers=intake.shown(business.current().questions, found.answers),
    )


@bp.post("/bookings/<booking_id>/cancel")
@sign_in_required
def cancel_booking(booking_id):
    """Cancel a client's booking."""
    booking = db.session.scalar(select(Booking).where(Booking.id == booking_id))
    if booking is None:
        flash("That booking no longer exists.", "error")
    elif ActionForm().validate_on_submit():
        bookings.cancel(booking, by_studio=True)
        flash(f"Cancelled {booking.name}'s appointment.", "success")
    else:
        flash("The form expired; please try again.", "error")
    return redirect(url_for("admin.agenda"))


@bp.get("/waitlist")
@sign_in_required
def waitlist_list():
    """List the waitlist: who waits for which day, in the order they joined."""
    return render_template(
        "admin/waitlist.html",
        entries=waitlist.listing(),
        services=business.current().services,
        parts=waitlist.PART_LABELS,
        action_form=ActionForm(),
    )


@bp.post("/outbox/<int:row_id>/retry")
@sign_in_required
def retry_message(row_id):
    """Have a message that failed for good sent once more by the jobs runner."""
    if ActionForm().validate_on_submit() and outbox.retry(row_id):
        flash("Sending again.", "success")
    return redirect(url_for("admin.agenda"))


# --- Comments -------------------------------------------------------------------

COMMENT_ACTIONS = {"approve": "approved", "delete": "deleted", "spam": "marked as spam"}


@bp.get("/comments")
@sign_in_required
def comment_list():
    """List comments that are pending, published or taken for spam, newest first."""
    status = request.args.get("status", CommentStatus.PENDING)
    if status not in queries.STATUSES:
        abort(404)
    tallies = queries.status_counts()
    last_page = max(1, -(-tallies[status] // queries.LISTED_PER_PAGE))
    # Not a number, or more digits than Python converts: the first page.
    number = request.args.get("p", 1, type=int)
    # A page past the end would be empty, and a huge one overflows the database's integers.
    if not 1 <= number <= last_page:
        number = 1
    items, total = queries.listing(status, number)
    return render_template(
        "admin/comments.html",
        status=status,
        items=items,
        total=total,
        number=number,
        per_page=queries.LISTED_PER_PAGE,
        tallies=tallies,
        zone=zone_named(business.current().studio.timezone),
        action_form=ActionForm(),
    )


@bp.post("/comments")
@sign_in_required
def moderate_comments():
    """Approve, delete or mark as spam the chosen comments."""
    status = request.args.get("status", CommentStatus.PENDING)
    action = request.form.get("action", "")
    ids = [number for number in map(checks.comment_id, request.form.getlist("ids")) if number is not None]
    if not ActionForm().validate_on_submit():
        flash("The form expired; please try again.", "error")
    elif action not in COMMENT_ACTIONS:
        flash("Choose what to do with the comments.", "error")
    elif not ids:
        flash("Tick the comments first.", "error")
    else:
        changed = moderation.moderate(ids, action)
        flash(f"{changed} comment{'s' if changed != 1 else ''} {COMMENT_ACTIONS[action]}.", "success")
    return redirect(url_for("admin.comment_list", status=status if status in queries.STATUSES else None))
