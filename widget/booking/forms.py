"""The booking widget's forms: the client's details, cancel, reschedule, the waitlist."""

from __future__ import annotations

from wtforms import EmailField, HiddenField, RadioField, SelectMultipleField, StringField, TelField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, Optional

from ..forms import PublicForm
from ..models import BOOKING_LIMITS
from .waitlist import PART_LABELS


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


class WaitlistForm(PublicForm):
    """An address asking to hear when a time opens up on some days."""

    service = HiddenField()
    email = EmailField("Email", validators=[InputRequired(message="is required"), Length(max=BOOKING_LIMITS["email"])])
    days = SelectMultipleField("Days", validate_choice=False)
    part = RadioField(
        "Time of day", choices=[SelectChoice(part.value, label) for part, label in PART_LABELS.items()], default="any"
    )


class WaitlistButtonForm(PublicForm):
    """The button that confirms a waitlist sign-up, or leaves the waitlist."""
