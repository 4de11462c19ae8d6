"""What every HTML form shares (Flask-WTF); each feature keeps its own forms beside its views."""

from __future__ import annotations

from flask import current_app
from flask_wtf import FlaskForm
from itsdangerous import BadData, SignatureExpired, URLSafeTimedSerializer
from wtforms.csrf.core import CSRF
from wtforms.validators import ValidationError


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


class ActionForm(FlaskForm):
    """A bare form carrying only a CSRF token, for buttons that change something."""
