"""Which emails a booking change sends, to whom, saying what.

Each function returns outbox entries ``(key, kind, payload)``; the key names
the change (booking, sequence, recipient) so the same email is never queued
twice.  widget.bookings adds them in the transaction of the change.
"""

from __future__ import annotations

from datetime import datetime

from flask import current_app

from ..comments.moderation import MODERATION_LINK_AGE, moderation_token, unsubscribe_token
from ..extensions import db
from ..mail import compose
from ..models import PUBLISHED, Comment
from ..timezones import clock, long_date, zone_abbreviation, zone_named
from . import rules as business
from .ics import booking_ics, google_calendar_link

ICS = "text/calendar; method={method}; charset=utf-8"


def _when(moment: datetime, zone_name: str) -> str:
    zone = zone_named(zone_name)
    return f"{long_date(moment, zone)}, {clock(moment, zone)} {zone_abbreviation(moment, zone)}"


def _context(booking, manage_url: str) -> dict:
    studio = business.current().studio
    service = business.current().services.get(booking.service_id)
    service_name = service.name if service else booking.service_id
    when_client = _when(booking.start_at, booking.client_timezone)
    when_studio = _when(booking.start_at, studio.timezone)
    return {
        "booking": booking,
        "service_name": service_name,
        "studio": studio,
        "manage_url": manage_url,
        "when_client": when_client,
        "when_studio": when_studio,
        "same_zone": when_client == when_studio,
        "cutoff_hours": current_app.config["CANCEL_CUTOFF_HOURS"],
        "book_url": f"{current_app.config['PUBLIC_URL']}/book?service={booking.service_id}",
        "google_link": google_calendar_link(booking, service_name, studio, manage_url),
    }


def _ics(booking, context, cancelled=False):
    data = booking_ics(booking, context["service_name"], context["studio"], context["manage_url"], cancelled)
    method = "CANCEL" if cancelled else "PUBLISH"
    return [("invite.ics" if not cancelled else "cancelled.ics", ICS.format(method=method), data)]


def _therapist(booking, event: str, context: dict, previous_start: datetime | None = None):
    therapist = current_app.config.get("THERAPIST_EMAIL")
    if not therapist:
        return []
    titles = {"booked": "New booking", "cancelled": "Cancelled", "rescheduled": "Moved"}
    subject = f"{titles[event]}: {context['service_name']} — {booking.name}, {context['when_studio']}"
    payload = compose(
        [therapist],
        subject,
        "therapist_notice",
        event=event,
        previous_when=_when(previous_start, context["studio"].timezone) if previous_start else None,
        **context,
    )
    return [(f"{event}:{booking.id}:{booking.sequence}:therapist", "email", payload)]


def booked(booking, manage_url: str) -> list:
    """Return the emails a new booking sends: the client's confirmation and the therapist's notice."""
    context = _context(booking, manage_url)
    client = compose(
        [booking.email],
        f"Booked: {context['service_name']}, {context['when_client']}",
        "booking_confirmed",
        attachments=_ics(booking, context),
        **context,
    )
    return [
        (f"booked:{booking.id}:{booking.sequence}:client", "email", client),
        *_therapist(booking, "booked", context),
    ]


def cancelled(booking, manage_url: str, by_studio: bool = False) -> list:
    """Return the emails a cancellation sends."""
    context = _context(booking, manage_url)
    client = compose(
        [booking.email],
        f"Cancelled: {context['service_name']}, {context['when_client']}",
        "booking_cancelled",
        attachments=_ics(booking, context, cancelled=True),
        by_studio=by_studio,
        **context,
    )
    return [
        (f"cancelled:{booking.id}:{booking.sequence}:client", "email", client),
        *_therapist(booking, "cancelled", context),
    ]


def rescheduled(booking, manage_url: str, previous_start: datetime) -> list:
    """Return the emails a reschedule sends, with the new calendar file."""
    context = _context(booking, manage_url)
    client = compose(
        [booking.email],
        f"Moved: {context['service_name']}, now {context['when_client']}",
        "booking_rescheduled",
        attachments=_ics(booking, context),
        previous_when=_when(previous_start, booking.client_timezone),
        **context,
    )
    return [
        (f"rescheduled:{booking.id}:{booking.sequence}:client", "email", client),
        *_therapist(booking, "rescheduled", context, previous_start),
    ]


def reminder(booking) -> list:
    """Return the reminder email of a booking."""
    from .service import manage_url

    context = _context(booking, manage_url(booking))
    payload = compose(
        [booking.email], f"Reminder: {context['service_name']}, {context['when_client']}", "reminder", **context
    )
    return [(f"reminder:{booking.id}:{booking.sequence}:client", "email", payload)]


def calendar_lost(connection, problem: str) -> list:
    """Return the one email telling the therapist that the Google connection was lost."""
    therapist = current_app.config.get("THERAPIST_EMAIL")
    if not therapist:
        return []
    studio = business.current().studio
    payload = compose(
        [therapist],
        "Online booking is paused: reconnect Google Calendar",
        "calendar_lost",
        studio=studio,
        problem=problem,
        admin_url=f"{current_app.config['PUBLIC_URL']}/admin/google",
    )
    # One email per lost connection, however many requests notice it.
    stamp = connection.connected_at.isoformat() if connection.connected_at else "never"
    return [(f"calendar-lost:{stamp}", "email", payload)]


def _comment_link(path: str) -> str:
    return f"{current_app.config['PUBLIC_URL']}{path}"


def comment_held(comment, occasion: str | None = None) -> list:
    """Return the therapist's email about a comment waiting for her, with approve and delete links."""
    therapist = current_app.config.get("THERAPIST_EMAIL")
    if not therapist:
        return []
    payload = compose(
        [therapist],
        f"Comment to approve: {comment.author} on {comment.page}",
        "comment_held",
        studio=business.current().studio,
        comment=comment,
        approve_url=_comment_link(f"/comments/approve/{moderation_token(comment, 'approve')}"),
        delete_url=_comment_link(f"/comments/delete/{moderation_token(comment, 'delete')}"),
        admin_url=_comment_link("/admin/comments"),
        link_days=MODERATION_LINK_AGE.days,
    )
    # One email when the comment is first held and one if it is edited while held (the link pages
    # always show the current text), so editing cannot flood the therapist; an edit that takes a
    # published comment back names its own ``occasion``, each following an approval of hers.
    occasion = occasion or ("edited" if comment.edited_at else "new")
    return [(f"comment-held:{comment.id}:{occasion}", "email", payload)]


def comment_reply(reply) -> list:
    """Return the email telling a commenter who asked for it that their comment was answered."""
    answered = db.session.get(Comment, reply.reply_to_id) if reply.reply_to_id else None
    if (
        answered is None
        or not answered.notify_replies
        or not answered.email
        or answered.email == reply.email
        or answered.status != PUBLISHED
        or answered.deleted_at is not None
    ):
        return []
    payload = compose(
        [answered.email],
        f"{reply.author} replied to your comment",
        "comment_reply",
        studio=business.current().studio,
        answered=answered,
        reply=reply,
        unsubscribe_url=_comment_link(f"/comments/unsubscribe/{unsubscribe_token(answered)}"),
    )
    return [(f"comment-reply:{reply.id}", "email", payload)]
