"""Read the studio's business rules file (TOML) into plain data.

The file is checked completely at start-up: an unknown key, a wrong type or an
impossible value stops the service with the file, the key and what is wrong.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from datetime import date, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from flask import current_app

from ..timezones import zone_named
from .availability import Rules, Service, Window
from .intake import DEFAULT_STOP_MESSAGE, QUESTION_ID, TYPES, YES_NO, Question

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
SERVICE_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
MAX_PRICE = Decimal(1_000_000)
RANGE = re.compile(r"^(\d{2}):(\d{2})-(\d{2}):(\d{2})$")


class BusinessConfigError(ValueError):
    """The business rules file is missing or wrong."""


@dataclass(frozen=True)
class Studio:
    """Who the studio is and how to reach it."""

    name: str
    address: str
    phone: str
    timezone: str
    cancellation_policy: str


@dataclass(frozen=True)
class Business:
    """Everything the rules file says."""

    studio: Studio
    rules: Rules
    services: dict[str, Service]  # in the order the file lists them
    questions: tuple[Question, ...] = ()  # intake questions, in the order the file lists them


class _Reader:
    """Walk the parsed file, naming the key in every error."""

    def __init__(self, path: str):
        self.path = path

    def fail(self, key: str, problem: str):
        raise BusinessConfigError(f"{self.path}: {key}: {problem}")

    def table(self, data: dict, key: str, allowed: set[str] | None, required: set[str] = frozenset()) -> dict:
        value = data.get(key, {}) if key else data
        if not isinstance(value, dict):
            self.fail(key, "must be a table")
        for name in value:
            if allowed is not None and name not in allowed:
                self.fail(f"{key}.{name}" if key else name, f"unknown key (allowed: {', '.join(sorted(allowed))})")
        for name in required:
            if name not in value:
                self.fail(f"{key}.{name}" if key else name, "is required")
        return value

    def text(self, data: dict, key: str, name: str, default: str | None = None, max_length: int = 500) -> str:
        value = data.get(name, default)
        if not isinstance(value, str) or not value.strip():
            self.fail(f"{key}.{name}", "must be a non-empty string")
        if len(value) > max_length:
            self.fail(f"{key}.{name}", f"must be at most {max_length} characters")
        return value.strip()

    def integer(self, data: dict, key: str, name: str, default: int | None, low: int, high: int) -> int | None:
        value = data.get(name, default)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(f"{key}.{name}", "must be a whole number")
        if not low <= value <= high:
            self.fail(f"{key}.{name}", f"must be between {low} and {high}, not {value}")
        return value

    def windows(self, value: Any, key: str) -> tuple[Window, ...]:
        if not isinstance(value, list):
            self.fail(key, 'must be a list of "HH:MM-HH:MM" strings ([] means closed)')
        windows = []
        for i, item in enumerate(value):
            match = RANGE.match(item) if isinstance(item, str) else None
            if not match:
                self.fail(f"{key}[{i}]", f'{item!r} is not a time range like "09:00-12:00"')
            h0, m0, h1, m1 = (int(part) for part in match.groups())
            if h0 > 23 or h1 > 23 or m0 > 59 or m1 > 59:
                self.fail(f"{key}[{i}]", f"{item!r} is not a real time of day")
            if (h1, m1) <= (h0, m0):
                self.fail(f"{key}[{i}]", f"{item!r} ends before it starts")
            windows.append(Window(time(h0, m0), time(h1, m1)))
        windows.sort(key=lambda w: w.start)
        for a, b in zip(windows, windows[1:], strict=False):
            if b.start < a.end:
                self.fail(key, f"windows {a.start:%H:%M}-{a.end:%H:%M} and {b.start:%H:%M}-{b.end:%H:%M} overlap")
        return tuple(windows)


def parse_business(text: str, path: str = "<business rules>") -> Business:
    """Check and convert the text of a business rules file."""
    reader = _Reader(path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        reader.fail("(file)", f"is not valid TOML: {error}")
    reader.table(
        data,
        "",
        {"studio", "booking", "opening_hours", "date_overrides", "services", "questions"},
        {"studio", "opening_hours", "services"},
    )

    s = reader.table(
        data,
        "studio",
        {"name", "address", "phone", "timezone", "cancellation_policy"},
        {"name", "address", "phone", "timezone"},
    )
    timezone_name = reader.text(s, "studio", "timezone")
    try:
        zone = zone_named(timezone_name)
    except ValueError:
        reader.fail("studio.timezone", f"{timezone_name!r} is not an IANA time zone name")
    studio = Studio(
        name=reader.text(s, "studio", "name", max_length=200),
        address=reader.text(s, "studio", "address"),
        phone=reader.text(s, "studio", "phone", max_length=40),
        timezone=timezone_name,
        cancellation_policy=reader.text(
            s, "studio", "cancellation_policy", "Please cancel or reschedule at least 24 hours ahead.", 1000
        ),
    )

    b = reader.table(
        data,
        "booking",
        {
            "slot_step_minutes",
            "minimum_notice_hours",
            "horizon_days",
            "daily_limit",
            "buffer_before_minutes",
            "buffer_after_minutes",
        },
    )
    step = reader.integer(b, "booking", "slot_step_minutes", 15, 5, 240)
    buffer_before = reader.integer(b, "booking", "buffer_before_minutes", 0, 0, 240)
    buffer_after = reader.integer(b, "booking", "buffer_after_minutes", 0, 0, 240)

    hours = reader.table(data, "opening_hours", set(WEEKDAYS))
    opening_hours = {i: reader.windows(hours.get(name, []), f"opening_hours.{name}") for i, name in enumerate(WEEKDAYS)}

    overrides = {}
    for key, value in reader.table(data, "date_overrides", None).items():
        try:
            day = date.fromisoformat(str(key))
        except ValueError:
            reader.fail(f"date_overrides.{key}", "is not a date like 2026-12-25")
        overrides[day] = reader.windows(value, f"date_overrides.{key}")

    rules = Rules(
        timezone=zone,
        opening_hours=opening_hours,
        date_overrides=overrides,
        slot_step=timedelta(minutes=step),
        minimum_notice=timedelta(hours=reader.integer(b, "booking", "minimum_notice_hours", 0, 0, 24 * 90)),
        horizon_days=reader.integer(b, "booking", "horizon_days", 60, 0, 730),
        daily_limit=reader.integer(b, "booking", "daily_limit", None, 1, 100),
    )

    entries = data["services"]
    if not isinstance(entries, list) or not entries:
        reader.fail("services", "must be a non-empty array of [[services]] tables")
    services: dict[str, Service] = {}
    for i, entry in enumerate(entries):
        key = f"services[{i}]"
        if not isinstance(entry, dict):
            reader.fail(key, "must be a table")
        reader.table(
            {key: entry},
            key,
            {"id", "name", "duration_minutes", "price", "description", "buffer_before_minutes", "buffer_after_minutes"},
            {"id", "name", "duration_minutes", "price"},
        )
        service_id = entry["id"]
        if not isinstance(service_id, str) or not SERVICE_ID.fullmatch(service_id):
            reader.fail(f"{key}.id", "must be lower-case letters, digits and hyphens, at most 64")
        if service_id in services:
            reader.fail(f"{key}.id", f"{service_id!r} is used twice")
        try:
            price = Decimal(str(entry["price"]))
        except InvalidOperation:
            price = Decimal(-1)
        if (
            isinstance(entry["price"], bool)
            or not price.is_finite()
            or not 0 <= price < MAX_PRICE
            or price.as_tuple().exponent < -2
        ):
            reader.fail(f"{key}.price", f'{entry["price"]!r} is not a price like "95.00"')
        services[service_id] = Service(
            id=service_id,
            name=reader.text(entry, key, "name", max_length=100),
            duration=timedelta(minutes=reader.integer(entry, key, "duration_minutes", None, 5, 8 * 60)),
            price=price.quantize(Decimal("0.01")),
            description=reader.text(entry, key, "description", "", 1000) if entry.get("description") else "",
            buffer_before=timedelta(minutes=reader.integer(entry, key, "buffer_before_minutes", buffer_before, 0, 240)),
            buffer_after=timedelta(minutes=reader.integer(entry, key, "buffer_after_minutes", buffer_after, 0, 240)),
        )
    questions = _questions(reader, data.get("questions", []), services)
    return Business(studio=studio, rules=rules, services=services, questions=questions)


QUESTION_KEYS = {"id", "label", "type", "required", "help", "choices", "services", "stop_if", "stop_message"}


def _questions(reader: _Reader, entries: Any, services: dict[str, Service]) -> tuple[Question, ...]:
    """Check the [[questions]] tables: the intake questions clients answer when booking."""
    if not isinstance(entries, list):
        reader.fail("questions", "must be an array of [[questions]] tables")
    questions: dict[str, Question] = {}
    for i, entry in enumerate(entries):
        key = f"questions[{i}]"
        if not isinstance(entry, dict):
            reader.fail(key, "must be a table")
        reader.table({key: entry}, key, QUESTION_KEYS, {"id", "label", "type"})
        question_id = entry["id"]
        if not isinstance(question_id, str) or not QUESTION_ID.fullmatch(question_id):
            reader.fail(f"{key}.id", "must start with a lower-case letter, then letters, digits or _, at most 64")
        if question_id in questions:
            reader.fail(f"{key}.id", f"{question_id!r} is used twice")
        kind = entry["type"]
        if not isinstance(kind, str) or kind not in TYPES:
            reader.fail(f"{key}.type", f"must be one of {', '.join(TYPES)}, not {kind!r}")
        required = entry.get("required", False)
        if not isinstance(required, bool):
            reader.fail(f"{key}.required", "must be true or false")
        choices = entry.get("choices")
        if kind == "one-of":
            if not isinstance(choices, list) or len(choices) < 2:
                reader.fail(f"{key}.choices", "must list at least two choices for a one-of question")
            for j, choice in enumerate(choices):
                if not isinstance(choice, str) or not choice.strip() or len(choice) > 100:
                    reader.fail(f"{key}.choices[{j}]", "must be a non-empty string of at most 100 characters")
            choices = [choice.strip() for choice in choices]
            if len(set(choices)) != len(choices):
                reader.fail(f"{key}.choices", "lists a choice twice")
        elif choices is not None:
            reader.fail(f"{key}.choices", "is only for one-of questions")
        asked_for = entry.get("services", [])
        if not isinstance(asked_for, list) or (not asked_for and "services" in entry):
            reader.fail(f"{key}.services", "must be a non-empty list of service ids (leave it out for every service)")
        for j, service_id in enumerate(asked_for):
            if not isinstance(service_id, str) or service_id not in services:
                reader.fail(f"{key}.services[{j}]", f"{service_id!r} is not a service ({', '.join(services)})")
        stop_if = entry.get("stop_if")
        if stop_if is not None:
            if kind != YES_NO:
                reader.fail(f"{key}.stop_if", "is only for yes-no questions")
            if stop_if not in ("yes", "no"):
                reader.fail(f"{key}.stop_if", f'must be "yes" or "no", not {stop_if!r}')
        if "stop_message" in entry and stop_if is None:
            reader.fail(f"{key}.stop_message", "needs stop_if (the answer that stops online booking)")
        questions[question_id] = Question(
            id=question_id,
            label=reader.text(entry, key, "label", max_length=200),
            type=kind,
            required=required,
            help=reader.text(entry, key, "help", max_length=500) if "help" in entry else "",
            choices=tuple(choices or ()),
            services=tuple(dict.fromkeys(asked_for)),
            stop_if=None if stop_if is None else stop_if == "yes",
            stop_message=reader.text(entry, key, "stop_message", DEFAULT_STOP_MESSAGE, 1000),
        )
    return tuple(questions.values())


def load_business(path: str) -> Business:
    """Read and check the business rules file at ``path``."""
    try:
        with open(path, encoding="utf-8") as file:
            text = file.read()
    except OSError as error:
        raise BusinessConfigError(f"{path}: cannot be read: {error.strerror}") from None
    return parse_business(text, path)


def current() -> Business:
    """Return the business rules of the running app."""
    return current_app.extensions["business"]
