"""What several test modules share: apps on fresh databases, the fixed clock, sign-in, bookings and comments."""

from __future__ import annotations

import os
import re
from datetime import datetime, timedelta, timezone

import pytest
from flask_migrate import upgrade
from sqlalchemy import create_engine, text

from config import TestingConfig
from widget import create_app

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLE_RULES = os.path.join(ROOT, "business.example.toml")
PUBLIC_URL = "http://widget.test"
# Where Google sends the therapist back after consent: the stand-in must know it.
GOOGLE_CALLBACK = f"{PUBLIC_URL}/oauth2callback"
# Overridable so that two test runs on one machine can each have a database of their own.
POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
# Monday 2026-11-23, 08:00 in Denver: the first bookable slot (12 h notice) is Tuesday 09:00.
NOW = datetime(2026, 11, 23, 15, 0, tzinfo=timezone.utc)


def services_required() -> bool:
    """Say whether missing PostgreSQL, Redis or Chromium must fail the run instead of skipping."""
    return os.environ.get("REQUIRE_SERVICES") == "1"


def unavailable(what: str, error: Exception):
    """Skip the test because ``what`` cannot be used, or fail it when REQUIRE_SERVICES=1."""
    message = f"{what} is not reachable ({error.__class__.__name__}: {error})"
    if services_required():
        pytest.fail(f"{message}; REQUIRE_SERVICES=1 makes this a failure")
    pytest.skip(f"{message}; set it up to run this test")


# --- Apps and databases ----------------------------------------------------------------------------------------------


class Clock:
    """A settable clock the app reads instead of the system time."""

    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def app_settings(database_url: str, **overrides) -> dict:
    """Return the settings of a test app on this database: TestingConfig, the example rules, ``overrides``."""
    settings = {key: getattr(TestingConfig, key) for key in dir(TestingConfig) if key.isupper()}
    settings.update(DATABASE_URL=database_url, BUSINESS_CONFIG=EXAMPLE_RULES, PUBLIC_URL=PUBLIC_URL)
    settings.update(overrides)
    return settings


def make_app(tmp_path, database_url: str | None = None, **overrides):
    """Create an app on a fresh database with migrations applied and the clock fixed."""
    app = create_app(app_settings(database_url or f"sqlite:///{tmp_path / 'widget.db'}", **overrides))
    app.instance_path = str(tmp_path)
    app.extensions["clock"] = Clock(NOW)
    with app.app_context():
        upgrade()
    return app


def process_app(settings: dict):
    """Create an app in a child process from ``settings``, the clock fixed; the parent has migrated the database."""
    app = create_app(settings)
    app.extensions["clock"] = Clock(NOW)
    return app


def reset_postgres() -> None:
    """Empty the PostgreSQL test database, or skip/fail when it is not there."""
    try:
        engine = create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
        engine.dispose()
    except Exception as error:  # noqa: BLE001 - any failure means "not available"
        unavailable("PostgreSQL at 127.0.0.1:5432 (database test, user postgres)", error)


def shared_database(kind: str, tmp_path, name: str = "widget.db") -> str:
    """Return the URL of an empty file database that child processes can share: ``sqlite`` or ``postgresql``."""
    if kind == "postgresql":
        reset_postgres()
        return POSTGRES_URL
    return f"sqlite:///{tmp_path / name}"


# --- Pages and the admin ---------------------------------------------------------------------------------------------


def csrf_token(html: str) -> str:
    """Return the CSRF token embedded in a page."""
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html)
    assert match, "the page has no CSRF token"
    return match.group(1)


class Admin:
    """Signs the therapist in and out through the real pages."""

    PASSWORD = "correct horse battery"

    def __init__(self, app, client):
        self.app, self.client = app, client

    def set_password(self, password: str = PASSWORD) -> None:
        from widget.cli import set_admin_password

        with self.app.app_context():
            set_admin_password(password)

    def login(self, password: str = PASSWORD):
        page = self.client.get("/admin/login")
        return self.client.post("/admin/login", data={"password": password, "csrf_token": csrf_token(page.text)})


# --- Bookings --------------------------------------------------------------------------------------------------------

# The sample client.
CLIENT = {"name": "Ada Client", "email": "ada@example.com", "phone": "801-555-0101"}
# Her booking: Wednesday 2026-11-25, 09:00 in Denver, 49 hours after NOW, so still changeable online.
BOOKING = {"service": "massage-60", "start": "2026-11-25T09:00:00-07:00", **CLIENT}


def book(client, **changes) -> tuple[dict, str]:
    """Book through the API (BOOKING with ``changes``); return the answer and the path of the manage page."""
    response = client.post("/api/bookings", json={**BOOKING, **changes})
    assert response.status_code == 201, response.json
    return response.json, response.json["manage_url"].removeprefix(PUBLIC_URL)


def deliver_outbox(app) -> dict:
    """Deliver whatever the outbox holds that is due, as the jobs runner would; return a count per outcome.

    Tests that read emails or the calendar after a change call this first, so they
    hold whether a change's side effects are tried in the request or only by the runner.
    """
    from widget import outbox

    with app.app_context():
        return dict(outbox.deliver_due())


# --- Comments --------------------------------------------------------------------------------------------------------

SITE = "https://studio.example"
ARTICLE = f"{SITE}/blog/first-massage"
COMMENT_ORIGINS = f"{SITE} http://localhost:8000"


def form_token(client, page: str = ARTICLE) -> str:
    """Return the form token the comments page of ``page`` hands out."""
    response = client.get("/comments", query_string={"page": page})
    assert response.status_code == 200, response.text
    match = re.search(r'name="form_token" type="hidden" value="([^"]+)"', response.text)
    assert match, "the comments page has no form token"
    return match.group(1)


def post_comment(client, app, body: str = "Lovely article, thank you.", **fields):
    """Post a comment through the JSON API as a person would: the form shown, 5 s of typing, then the post."""
    token = fields.pop("form_token", None) or form_token(client, fields.get("page", ARTICLE))
    app.extensions["clock"].now += timedelta(seconds=5)
    payload = {"page": ARTICLE, "name": "Ada Reader", "email": "ada@reader.example", "body": body, **fields}
    return client.post("/api/comments", json={**payload, "form_token": token})
