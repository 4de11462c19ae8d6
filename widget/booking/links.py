"""The manage link of a booking: a signed token naming it, and its address."""

from __future__ import annotations

from flask import current_app
from itsdangerous import BadData, URLSafeSerializer

from ..extensions import db
from ..models import Booking


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
