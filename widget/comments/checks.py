"""The checks a new comment's fields pass: each bad field named with what is wrong with it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from email_validator import EmailNotValidError, validate_email

from .limits import BODY_MAX, BODY_MIN, CONTROL, LIMITS, SURROGATE, InvalidComment
from .urls import normalise_page

ID = re.compile(r"[0-9]{1,18}")


@dataclass
class Draft:
    """A comment's fields, checked and cleaned."""

    page: str
    name: str
    email: str
    website: str | None
    body: str
    parent_id: int | None
    notify: bool


def comment_id(value: object) -> int | None:
    """Return a comment id given as a number or as ASCII digits, or None if it cannot be one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and ID.fullmatch(value):
        value = int(value)
    return value if isinstance(value, int) and 0 < value < 2**63 else None


def _text(values: dict, name: str) -> str:
    value = values.get(name)
    if value is None:
        return ""
    if not isinstance(value, str) or SURROGATE.search(value):
        raise TypeError
    return value


def line_problem(name: str, value: str) -> str | None:
    """Return how a trimmed name, email or website breaks the comment rules (length, control characters), or None."""
    if len(value) > LIMITS[name]:
        return f"must be at most {LIMITS[name]} characters"
    if CONTROL.search(value) or "\n" in value or "\r" in value:
        return "must be on one line, without control characters"
    return None


def clean_body(body: object) -> str:
    """Return a comment's text with line endings unified and control characters removed, or raise InvalidComment."""
    if not isinstance(body, str) or SURROGATE.search(body):
        raise InvalidComment({"body": "must be text"})
    body = CONTROL.sub("", body.replace("\r\n", "\n").replace("\r", "\n")).strip()
    if len(body) < BODY_MIN:
        raise InvalidComment({"body": "is required" if not body else f"must be at least {BODY_MIN} characters"})
    if len(body) > BODY_MAX:
        raise InvalidComment({"body": f"must be at most {BODY_MAX:,} characters (it has {len(body):,})"})
    return body


def website(raw: str) -> str | None:
    raw = raw.strip()
    if not raw:
        return None
    if "://" not in raw and ":" not in raw.split("/", 1)[0]:
        raw = "https://" + raw.lstrip("/")  # "studio.example" means a web site
    problem = line_problem("website", raw)
    if problem:
        raise ValueError(problem)
    if any(ch.isspace() for ch in raw):
        raise ValueError("must be a web address without spaces")
    try:
        parts = urlsplit(raw)
    except ValueError:
        raise ValueError("is not a web address") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise ValueError("must start with http:// or https://")
    if not parts.hostname or "." not in parts.hostname and parts.hostname != "localhost":
        raise ValueError("is not a web address")
    return raw


def check(values: dict) -> Draft:
    """Check a new comment's fields; raise InvalidComment naming every bad one."""
    errors: dict[str, str] = {}
    cleaned: dict = {}
    try:
        cleaned["page"] = normalise_page(values.get("page"))
    except InvalidComment as error:
        errors.update(error.errors)
    for name in ("name", "email", "website"):
        try:
            cleaned[name] = _text(values, name).strip()
        except TypeError:
            errors[name] = "must be text"
    name = cleaned.get("name")
    if name is not None:
        if not name:
            errors["name"] = "is required"
        elif problem := line_problem("name", name):
            errors["name"] = problem
    email = cleaned.get("email")
    if email is not None:
        if not email:
            errors["email"] = "is required (it is never published)"
        elif problem := line_problem("email", email):
            errors["email"] = problem
        else:
            try:
                # ASCII local parts only: a reply notification must be able to reach it.
                checked = validate_email(email, check_deliverability=False, allow_smtputf8=False)
                cleaned["email"] = checked.normalized.lower()
            except EmailNotValidError as error:
                errors["email"] = f"is not a valid email address ({error})"
    if "website" in cleaned:
        try:
            cleaned["website"] = website(cleaned["website"])
        except ValueError as error:
            errors["website"] = str(error)
    try:
        cleaned["body"] = clean_body(values.get("body"))
    except InvalidComment as error:
        errors.update(error.errors)
    parent = values.get("parent_id")
    if parent in (None, ""):
        cleaned["parent_id"] = None
    elif comment_id(parent) is None:
        errors["parent_id"] = "must be the id of the comment answered"
    else:
        cleaned["parent_id"] = comment_id(parent)
    notify = values.get("notify", False)
    if notify in (None, "", "0", "false"):
        notify = False
    elif notify in ("1", "on", "true", "y"):
        notify = True
    if not isinstance(notify, bool):
        errors["notify"] = "must be true or false"
    cleaned["notify"] = notify
    if errors:
        raise InvalidComment(errors)
    return Draft(**cleaned)
