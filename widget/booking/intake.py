"""Intake questions: what the therapist asks before an appointment, and checking the answers.

The questions come from the business rules file (``[[questions]]``).  An
answer is kept on the booking as ``{question id: value}``: text for short-text,
long-text and one-of questions, true or false for yes-no ones.  Some answers
need a conversation before a first appointment (a yes-no question with
``stop_if``): such an answer stops online booking with a kind message and the
studio's phone, and nothing is stored.

Answers are health details: they are shown to the therapist (admin, her
notification email, a "full" calendar event) and never to anyone else, never
in an API answer and never in a log line.  Error messages here never repeat
the value given.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

SHORT_TEXT, LONG_TEXT, YES_NO, ONE_OF = "short-text", "long-text", "yes-no", "one-of"
TYPES = (SHORT_TEXT, LONG_TEXT, YES_NO, ONE_OF)
QUESTION_ID = re.compile(r"[a-z][a-z0-9_]{0,63}")
# The longest answer of each text type; the form fields and the checks read them.
ANSWER_LIMITS = {SHORT_TEXT: 200, LONG_TEXT: 2000}
MAX_UNKNOWN_REPORTED = 10
DEFAULT_STOP_MESSAGE = (
    "Thank you for telling us. We'd like to talk with you before your appointment, "
    "to make sure massage is right for you today."
)


@dataclass(frozen=True)
class Question:
    """One intake question of the rules file."""

    id: str
    label: str
    type: str
    required: bool = False
    help: str = ""
    choices: tuple[str, ...] = ()
    services: tuple[str, ...] = ()  # empty: every service
    stop_if: bool | None = None  # the yes-no answer that needs a conversation first
    stop_message: str = DEFAULT_STOP_MESSAGE

    def asked_for(self, service_id: str) -> bool:
        """Say whether this question is asked when booking ``service_id``."""
        return not self.services or service_id in self.services


class InvalidAnswers(ValueError):
    """Some answers are wrong; ``errors`` maps ``answers.<id>`` (or ``answers``) to a message."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(errors))  # the keys only: never an answer in a message or a log
        self.errors = errors


class CallFirst(InvalidAnswers):
    """An answer needs a conversation first: online booking stops; ``message`` says so, with the phone."""

    def __init__(self, errors: dict[str, str], message: str):
        super().__init__(errors)
        self.message = message


def asked(questions, service_id: str) -> list[Question]:
    """Return the questions asked when booking ``service_id``, in the file's order."""
    return [question for question in questions if question.asked_for(service_id)]


def error_key(question_id: str) -> str:
    """Return the name an answer's error is reported under."""
    return f"answers.{question_id}"


def _has_control_characters(value: str, multiline: bool) -> bool:
    allowed = "\n\t" if multiline else ""
    return any(unicodedata.category(ch) in ("Cc", "Cf") and ch not in allowed for ch in value if ch != "\r")


def _check_one(question: Question, value) -> tuple[object, str | None]:
    """Return (tidied value or None for no answer, problem or None) for one answer."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None, "is required" if question.required else None
    if question.type == YES_NO:
        if not isinstance(value, bool):
            return None, "must be true (yes) or false (no)"
        return value, None
    if not isinstance(value, str):
        return None, "must be text"
    value = value.strip().replace("\r\n", "\n")
    if question.type == ONE_OF:
        if value not in question.choices:
            return None, f"must be one of: {', '.join(question.choices)}"
        return value, None
    limit = ANSWER_LIMITS[question.type]
    if len(value) > limit:
        return None, f"must be at most {limit} characters"
    if _has_control_characters(value, multiline=question.type == LONG_TEXT):
        return None, "must be on one line" if question.type == SHORT_TEXT else "must not contain control characters"
    return value, None


def check_answers(questions, service_id: str, answers, phone: str) -> dict:
    """Check the answers to the questions of a service; return them tidied, unanswered ones left out.

    Raises InvalidAnswers naming each bad answer (an unknown question, a
    wrong type, a required one missing), and CallFirst when an answer needs a
    conversation before booking.
    """
    if answers is None:
        answers = {}
    if not isinstance(answers, dict):
        raise InvalidAnswers({"answers": "must be an object of question ids and answers"})
    mine = {question.id: question for question in asked(questions, service_id)}
    errors, tidy, stops = {}, {}, []
    unknown = [question_id for question_id in answers if question_id not in mine]
    # A few are enough to show the mistake; a body of a thousand made-up ids gets no thousand-line answer.
    for question_id in unknown[:MAX_UNKNOWN_REPORTED]:
        errors[error_key(str(question_id)[:64])] = "is not a question for this service"
    for question in mine.values():
        value, problem = _check_one(question, answers.get(question.id))
        if problem:
            errors[error_key(question.id)] = problem
        elif value is not None:
            tidy[question.id] = value
            if question.stop_if is not None and value == question.stop_if:
                stops.append(question)
    if stops:
        message = f"{stops[0].stop_message} Please call us at {phone} to book."
        for question in stops:
            errors[error_key(question.id)] = message
        raise CallFirst(errors, message)
    if errors:
        raise InvalidAnswers(errors)
    return tidy


def shown(questions, answers) -> list[tuple[str, str]]:
    """Return a booking's answers as (question, answer) lines for the therapist, in the file's order."""
    if not answers:
        return []
    labels = {question.id: question.label for question in questions}
    order = [question.id for question in questions if question.id in answers]
    order += [question_id for question_id in answers if question_id not in labels]
    lines = []
    for question_id in order:
        value = answers[question_id]
        text = ("Yes" if value else "No") if isinstance(value, bool) else str(value)
        lines.append((labels.get(question_id, question_id), text))
    return lines
