"""The admin's "Sent mail (development)": the messages a development server wrote instead of sending."""

from __future__ import annotations

from flask import abort, current_app, render_template

from ..booking import business
from ..mail import sent_message, sent_messages
from ..timezones import zone_named
from .views import bp, sign_in_required


def _development_mail_only() -> None:
    """Answer 404 unless this server writes its mail to instance/mail/."""
    if not current_app.config["MAIL_TO_FILES"]:
        abort(404)


@bp.get("/mail")
@sign_in_required
def sent_mail():
    """List the messages written instead of sent, newest first."""
    _development_mail_only()
    return render_template(
        "admin/mail.html",
        messages=sent_messages(),
        zone=zone_named(business.current().studio.timezone),
        shown=None,
    )


@bp.get("/mail/<name>")
@sign_in_required
def sent_mail_message(name):
    """Show one written message's text."""
    _development_mail_only()
    try:
        shown = sent_message(name)
    except FileNotFoundError:
        abort(404)
    return render_template(
        "admin/mail.html",
        messages=sent_messages(),
        zone=zone_named(business.current().studio.timezone),
        shown=shown,
    )
