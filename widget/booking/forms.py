"""The booking widget's forms: the client's details, cancel, reschedule."""

from __future__ import annotations

from wtforms import EmailField, HiddenField, StringField, TelField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional

from ..forms import PublicForm
from ..models import BOOKING_LIMITS


class DetailsForm(PublicForm):
    """The client's details, the last step of booking."""

    service = HiddenField(validators=[InputRequired()])
    start = HiddenField(validators=[InputRequired()])
    tz = HiddenField()
    idempotency_key = HiddenField()
    name = StringField("Name", validators=[InputRequired(message="is required"), Length(max=BOOKING_LIMITS["name"])])
    email = EmailField("Email", validators=[InputRequired(message="is required"), Length(max=BOOKING_LIMITS["email"])])
    phone = TelField("Phone", validators=[InputRequired(message="is required"), Length(max=BOOKING_LIMITS["phone"])])
    notes = TextAreaField("Notes for the therapist", validators=[Optional(), Length(max=BOOKING_LIMITS["notes"])])


class CancelForm(PublicForm):
    """The client's "cancel my appointment" button."""


class RescheduleForm(PublicForm):
    """The client's choice of a new time."""

    start = HiddenField(validators=[InputRequired(message="Please choose a time.")])
