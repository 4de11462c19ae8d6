"""The waitlist's pages: join, confirm, leave, and the offer of a freed time.

Like the rest of the widget they work with JavaScript off: plain links and
forms.  Confirming and leaving are buttons (POST) behind the emailed links,
so a mail scanner that follows every link changes nothing.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from flask import Blueprint, abort, current_app, render_template, request, url_for
from flask_limiter.errors import RateLimitExceeded

from ..extensions import limiter
from ..timezones import parse_day, utc_now, zone_named
from . import bookings, business, intake, waitlist
from .forms import WaitlistButtonForm, WaitlistForm, details_form

bp = Blueprint("waitlist", __name__, url_prefix="/book/waitlist")

DAYS_SHOWN = 14

# One budget per client address for joining the waitlist (each join sends an email).
join_limit = limiter.shared_limit(lambda: current_app.config["WAITLIST_RATE_LIMIT"], scope="waitlist", methods=["POST"])


@bp.errorhandler(RateLimitExceeded)
def _too_many_requests(_error: RateLimitExceeded):
    phone = business.current().studio.phone
    message = f"Too many waitlist requests from your connection. Please try again later, or call {phone}."
    return render_template("book/paused.html", message=message), 429


def _context(service=None) -> dict:
    """Return what the widget's layout needs: the studio's zone, and links that keep the service."""
    zone_name = business.current().studio.timezone

    def carry(**changes):
        params = {"service": service.id if service else None, "tz": zone_name, **changes}
        return {key: value for key, value in params.items() if value is not None}

    return {"zone_name": zone_name, "zone": zone_named(zone_name), "zone_problem": None, "carry": carry}


def _days(first):
    """Return the days offered on the form: DAYS_SHOWN days from ``first``, inside the booking horizon."""
    today = utc_now().astimezone(business.current().rules.timezone).date()
    last = today + timedelta(days=business.current().rules.horizon_days)
    first = min(max(first or today, today), last)
    return [first + timedelta(days=i) for i in range(DAYS_SHOWN) if first + timedelta(days=i) <= last]


def _form_page(form, service, status=200):
    first = None
    chosen = form.days.data or []
    for raw in [request.values.get("date"), *chosen]:
        try:
            first = parse_day(raw) if raw else None
        except ValueError:
            first = None
        if first is not None:
            break
    return (
        render_template(
            "book/waitlist.html", form=form, service=service, days=_days(first), chosen=set(chosen), **_context(service)
        ),
        status,
    )


@bp.get("")
def form():
    """Show the form that asks to hear when a time opens up."""
    service = business.current().services.get(request.args.get("service", ""))
    if service is None:
        abort(404, "Please choose one of our services first.")
    day = request.args.get("date")
    page = WaitlistForm(formdata=None, service=service.id, email=request.args.get("email", ""))
    page.days.data = [day] if day else []
    return _form_page(page, service)


@bp.post("")
@join_limit
def join():
    """Put the address on the waitlist, unconfirmed, and email the link that confirms it."""
    page = WaitlistForm()
    service = business.current().services.get(page.service.data or "")
    if service is None:
        abort(400, "The form names no service we offer.")
    if not page.validate_on_submit():
        return _form_page(page, service, 422)
    try:
        waitlist.join(page.email.data, service.id, page.days.data, page.part.data)
    except waitlist.AlreadyWaiting as problem:
        # The same answer as a new sign-up: only the address's owner, by email, learns it already waits.
        waitlist.tell_already_waiting(problem)
    except waitlist.WaitlistProblem as problem:
        for field, message in problem.errors.items():
            target = getattr(page, field, None) if field in ("email", "days", "part") else None
            (target.errors if target is not None else page.form_errors).append(message)
        return _form_page(page, service, 422)
    return render_template(
        "book/waitlist_done.html",
        title="Check your email",
        message=f"We sent an email to {page.email.data.strip()}. Follow its link to confirm, and we will tell you "
        "as soon as a time opens up on the days you chose.",
        **_context(service),
    )


@bp.route("/confirm/<token>", methods=["GET", "POST"])
def confirm(token):
    """Confirm a waitlist sign-up (the emailed link shows a button; the button confirms)."""
    signup = waitlist.signup_for_token(token)
    if signup is None:
        abort(404, "This confirmation link is not valid or has expired. Please join the waitlist again.")
    button = WaitlistButtonForm()
    if request.method == "POST" and button.validate_on_submit():
        entries = waitlist.confirm(signup)
        if not entries:
            abort(404, "These waitlist entries are no longer there. Please join the waitlist again.")
        days = ", ".join(entry.day.strftime("%a %b %-d") for entry in entries)
        return render_template(
            "book/waitlist_done.html",
            title="You are on the waitlist",
            message=f"We will email you when a time opens up on {days}. Each email has a link to leave the list.",
            **_context(),
        )
    return render_template(
        "book/waitlist_done.html",
        title="Confirm your place on the waitlist",
        message="Press the button to be told by email when a time opens up on the days you chose.",
        button=button,
        action=url_for("waitlist.confirm", token=token),
        label="Yes, tell me",
        **_context(),
    ), (422 if request.method == "POST" else 200)


@bp.route("/leave/<token>", methods=["GET", "POST"])
def leave(token):
    """Take an address off the waitlist (the emailed link shows a button; the button leaves)."""
    email = waitlist.email_for_leave_token(token)
    if email is None:
        abort(404, "This link is not valid. Please check it was copied whole, or call us.")
    button = WaitlistButtonForm()
    if request.method == "POST" and button.validate_on_submit():
        waitlist.erase_entries(email)
        return render_template(
            "book/waitlist_done.html",
            title="You have left the waitlist",
            message="We will not email you about freed times any more.",
            **_context(),
        )
    return render_template(
        "book/waitlist_done.html",
        title="Leave the waitlist?",
        message="Press the button and we will stop telling you about freed times.",
        button=button,
        action=url_for("waitlist.leave", token=token),
        label="Leave the waitlist",
        **_context(),
    ), (422 if request.method == "POST" else 200)


@bp.get("/offer/<token>")
def offer(token):
    """Show a freed time offered by email, ready to book in one step; or, if it went, the nearest free times."""
    found = waitlist.offer_for_token(token)
    if found is None:
        abort(404, "This link is not valid or has expired. Please check it was copied whole, or call us.")
    service = business.current().services[found.service_id]
    context = {**_context(service), "service": service}
    if bookings.slot_problem(service, found.start) is not None:
        taken = bookings.alternatives(service, found.start, context["zone"])
        return render_template(
            "book/times.html",
            day=found.start.astimezone(context["zone"]).date(),
            slots=taken,
            unavailable=found.start,
            **context,
        ), 409
    # The same form as the widget's details step, intake questions included.
    details = details_form(intake.asked(business.current().questions, service.id))(
        formdata=None,
        service=service.id,
        start=found.start.isoformat(),
        tz=context["zone_name"],
        idempotency_key=secrets.token_urlsafe(24),
        email=found.email,
    )
    return render_template("book/details.html", form=details, start=found.start, **context)
