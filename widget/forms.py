"""HTML forms (Flask-WTF).  JSON endpoints validate in widget/api.py instead."""

from __future__ import annotations

from flask import current_app
from flask_wtf import FlaskForm
from itsdangerous import BadData, SignatureExpired, URLSafeTimedSerializer
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    HiddenField,
    PasswordField,
    StringField,
    TelField,
    TextAreaField,
    TimeField,
)
from wtforms.csrf.core import CSRF
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError

from .comments.moderation import BODY_MAX, BODY_MIN, LIMITS
from .timezones import check_client_day


class SignedFormCSRF(CSRF):
    """A CSRF token that needs no cookie: the server's signature on a timestamp.

    The booking widget runs in an iframe on another site, where browsers may
    refuse third-party cookies, so a token tied to the session would break the
    form for those visitors.  The form has no ambient authority to protect
    (nobody is signed in), so what the token must prove is that the submission
    comes from a form we served recently; a signed, expiring token does that.
    Admin forms keep Flask-WTF's session-bound tokens.
    """

    def _serializer(self):
        return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="public-form")

    def setup_form(self, form):
        self.form_name = type(form).__name__
        return super().setup_form(form)

    def generate_csrf_token(self, csrf_token_field):
        return self._serializer().dumps(self.form_name)

    def validate_csrf_token(self, form, field):
        if not field.data:
            raise ValidationError("The form is missing its security token. Please reload the page and try again.")
        try:
            name = self._serializer().loads(field.data, max_age=current_app.config["BOOKING_FORM_MAX_AGE"])
        except SignatureExpired:
            raise ValidationError("This form has expired. Please reload the page and try again.") from None
        except BadData:
            raise ValidationError("The form's security token is not valid. Please reload the page.") from None
        if name != self.form_name:
            raise ValidationError("The form's security token is not valid. Please reload the page.")


class PublicForm(FlaskForm):
    """A form shown to the public, possibly inside a third-party iframe."""

    class Meta:
        csrf_class = SignedFormCSRF


class DetailsForm(PublicForm):
    """The client's details, the last step of booking."""

    service = HiddenField(validators=[InputRequired()])
    start = HiddenField(validators=[InputRequired()])
    tz = HiddenField()
    idempotency_key = HiddenField()
    name = StringField("Name", validators=[InputRequired(message="is required"), Length(max=100)])
    email = EmailField("Email", validators=[InputRequired(message="is required"), Length(max=254)])
    phone = TelField("Phone", validators=[InputRequired(message="is required"), Length(max=32)])
    notes = TextAreaField("Notes for the therapist", validators=[Optional(), Length(max=2000)])


class CancelForm(PublicForm):
    """The client's "cancel my appointment" button."""


class RescheduleForm(PublicForm):
    """The client's choice of a new time."""

    start = HiddenField(validators=[InputRequired(message="Please choose a time.")])


class CommentForm(FlaskForm):
    """A reader's comment under an article.

    widget.comments checks the fields (one set of rules for this form and the
    JSON API); the lengths here, taken from there, only become the inputs'
    minlength and maxlength for the browser.  There is no CSRF token:
    posting a comment needs no signed-in user, so a forged post could do
    nothing a visitor cannot do directly.  ``form_token`` is what the form
    carries instead: signed by the server with the time the form was shown,
    it proves the post comes from a form we served and how long it took to
    fill in (see widget.comments.form_age).  ``homepage`` is a trap for
    robots, hidden from people.
    """

    class Meta:
        csrf = False

    page = HiddenField()
    parent_id = HiddenField()
    form_token = HiddenField()
    name = StringField("Name", validators=[Length(max=LIMITS["name"])])
    email = EmailField("Email", validators=[Length(max=LIMITS["email"])])
    website = StringField("Website", validators=[Length(max=LIMITS["website"])])
    body = TextAreaField("Comment", validators=[Length(min=BODY_MIN, max=BODY_MAX)])
    notify = BooleanField("Email me when someone replies to this comment")
    homepage = StringField("Leave this field empty")


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


class ActionForm(FlaskForm):
    """A bare form carrying only a CSRF token, for buttons that change something."""
