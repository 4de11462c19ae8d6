"""The admin's forms: signing in, blocking time."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import DateField, PasswordField, StringField, TimeField
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError

from ..timezones import check_client_day


class LoginForm(FlaskForm):
    """The therapist's sign-in."""

    password = PasswordField("Password", validators=[DataRequired()])


class BlockTimeForm(FlaskForm):
    """Time the therapist keeps free of bookings."""

    day = DateField("Date", validators=[InputRequired(message="is required")])
    start = TimeField("From", validators=[InputRequired(message="is required")])
    end = TimeField("Until", validators=[InputRequired(message="is required")])
    reason = StringField("Note (only you see it)", validators=[Optional(), Length(max=200)])

    def validate_day(self, field):
        if field.data is not None:
            try:
                check_client_day(field.data)
            except ValueError as error:
                raise ValidationError(str(error)) from None

    def validate_end(self, field):
        if self.start.data and field.data and field.data <= self.start.data:
            raise ValidationError("must be after the start time")
