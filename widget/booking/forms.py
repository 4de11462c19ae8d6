"""The booking widget's forms: the client's details, cancel, reschedule, the waitlist."""

from __future__ import annotations

import functools

from wtforms import EmailField, HiddenField, RadioField, SelectMultipleField, StringField, TelField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, Optional

from ..forms import PublicForm
from ..models import BOOKING_LIMITS
from .intake import ANSWER_LIMITS, LONG_TEXT, SHORT_TEXT, YES_NO, Question, error_key
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

    # The intake questions this form asks, with their fields' names; details_form fills them in.
    questions: tuple[tuple[Question, str], ...] = ()

    def answers(self) -> dict:
        """Return the answers typed, keyed by question id, in the API's terms (yes-no as true or false)."""
        answers = {}
        for question, name in self.questions:
            value = self[name].data
            if question.type == YES_NO and value in ("yes", "no"):
                value = value == "yes"
            if value not in (None, ""):
                answers[question.id] = value
        return answers

    def show_answer_errors(self, errors: dict[str, str]) -> bool:
        """Put each ``answers.<id>`` error under its question's field; return whether there were any."""
        found = False
        for question, name in self.questions:
            if error_key(question.id) in errors:
                self[name].errors = [*self[name].errors, errors[error_key(question.id)]]
                found = True
        if "answers" in errors:
            self.form_errors.append(f"Answers {errors['answers']}")
            found = True
        return found


def _answer_field(question: Question):
    """Return the form field that asks ``question``; intake.check_answers checks what it gets."""
    if question.type == SHORT_TEXT:
        return StringField(question.label, render_kw={"maxlength": ANSWER_LIMITS[SHORT_TEXT]})
    if question.type == LONG_TEXT:
        return TextAreaField(question.label, render_kw={"maxlength": ANSWER_LIMITS[LONG_TEXT]})
    options = [("yes", "Yes"), ("no", "No")] if question.type == YES_NO else [(c, c) for c in question.choices]
    choices = [SelectChoice(value, label) for value, label in options]
    return RadioField(question.label, choices=choices, validate_choice=False)


def details_form(questions) -> type[DetailsForm]:
    """Return the details form with a field for each intake question asked."""
    return _details_form_for(tuple(questions))


@functools.lru_cache(maxsize=64)
def _details_form_for(questions: tuple[Question, ...]) -> type[DetailsForm]:
    # One class per set of questions, made once: building a form class on every request costs for nothing.
    fields = {f"answer_{question.id}": _answer_field(question) for question in questions}
    # The same class name as the plain form: its signed token names the form by it.
    form = type("DetailsForm", (DetailsForm,), fields)
    form.questions = tuple((question, f"answer_{question.id}") for question in questions)
    return form


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
