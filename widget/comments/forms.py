"""The comment form."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, HiddenField, StringField, TextAreaField
from wtforms.validators import Length

from .limits import BODY_MAX, BODY_MIN, LIMITS


class CommentForm(FlaskForm):
    """A reader's comment under an article.

    comments/checks.py checks the fields (one set of rules for this form and the
    JSON API); the lengths here, taken from there, only become the inputs'
    minlength and maxlength for the browser.  There is no CSRF token:
    posting a comment needs no signed-in user, so a forged post could do
    nothing a visitor cannot do directly.  ``form_token`` is what the form
    carries instead: signed by the server with the time the form was shown,
    it proves the post comes from a form we served and how long it took to
    fill in (see comments/tokens.py, form_age).  ``homepage`` is a trap for
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
