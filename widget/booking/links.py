"""The links a booking's emails and pages carry: the manage link and the "Book again" link.

Each is a signed token naming one booking; it needs no sign-in and no cookie.
"""

from __future__ import annotations

from datetime import timedelta

from flask import current_app
from itsdangerous import BadData, URLSafeSerializer

from ..extensions import db
from ..models import Booking
from ..timezones import utc_now


def _signer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="manage-booking")


def manage_token(booking: Booking) -> str:
    """Return the unguessable token of a booking's manage link."""
    return _signer().dumps(booking.id)


def booking_for_token(token: str) -> Booking | None:
    """Return the booking a manage token names, or None if the token is not ours."""
    try:
        booking_id = _signer().loads(token)
    except BadData:
        return None
    return db.session.get(Booking, booking_id) if isinstance(booking_id, str) else None


def manage_url(booking: Booking) -> str:
    """Return the external address of a booking's manage page."""
    return f"{current_app.config['PUBLIC_URL']}/manage/{manage_token(booking)}"


class BadAgainLink(Exception):
    """A "Book again" link that is not ours, was altered, or is too old; ``expired`` tells which."""

    def __init__(self, message: str, expired: bool = False):
        super().__init__(message)
        self.expired = expired


def _again_signer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="book-again")


def again_token(booking: Booking) -> str:
    """Return the token of a booking's "Book again" link: the booking's id and when the link was made, signed."""
    # Only a reference travels: the client's details stay in the database, out of
    # addresses, browser histories and server logs.
    return _again_signer().dumps({"b": booking.id, "t": int(utc_now().timestamp())})


def booking_to_repeat(token: str | None) -> Booking:
    """Return the booking a "Book again" token names; raise BadAgainLink if it is forged or expired."""
    try:
        data = _again_signer().loads(token or "")
    except (BadData, UnicodeError):
        raise BadAgainLink("This link is not valid. Please check it was copied whole.") from None
    if not isinstance(data, dict) or not isinstance(data.get("b"), str) or not isinstance(data.get("t"), int):
        raise BadAgainLink("This link is not valid.")
    max_age = timedelta(days=current_app.config["BOOK_AGAIN_DAYS"])
    if utc_now().timestamp() - data["t"] > max_age.total_seconds():
        raise BadAgainLink("This link has expired.", expired=True)
    booking = db.session.get(Booking, data["b"])
    if booking is None:
        raise BadAgainLink("This link is not valid.")
    return booking


def again_url(booking: Booking) -> str:
    """Return the external address of a booking's "Book again" link."""
    return f"{current_app.config['PUBLIC_URL']}/book/again/{again_token(booking)}"
