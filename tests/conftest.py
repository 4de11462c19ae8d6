"""Shared fixtures: apps on SQLite and PostgreSQL, clients, a fixed clock, services."""

from __future__ import annotations

import os
import re
from datetime import datetime, timezone

import pytest
from flask_migrate import upgrade
from sqlalchemy import create_engine, text

from config import TestingConfig
from widget import create_app

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLE_RULES = os.path.join(ROOT, "business.example.toml")
POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
REDIS_URL = "redis://127.0.0.1:6379/15"
# Monday 2026-11-23, 08:00 in Denver: the first bookable slot (12 h notice) is Tuesday 09:00.
NOW = datetime(2026, 11, 23, 15, 0, tzinfo=timezone.utc)


def services_required() -> bool:
    """Say whether missing PostgreSQL or Redis must fail the run instead of skipping."""
    return os.environ.get("REQUIRE_SERVICES") == "1"


def _unavailable(what: str, error: Exception):
    message = f"{what} is not reachable ({error.__class__.__name__}: {error})"
    if services_required():
        pytest.fail(f"{message}; REQUIRE_SERVICES=1 makes this a failure")
    pytest.skip(f"{message}; set it up to run this test")


class Clock:
    """A settable clock the app reads instead of the system time."""

    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def make_app(tmp_path, database_url: str | None = None, **overrides):
    """Create an app on a fresh database with migrations applied and the clock fixed."""
    settings = {key: getattr(TestingConfig, key) for key in dir(TestingConfig) if key.isupper()}
    settings.update(
        DATABASE_URL=database_url or f"sqlite:///{tmp_path / 'widget.db'}",
        BUSINESS_CONFIG=EXAMPLE_RULES,
        PUBLIC_URL="http://widget.test",
    )
    settings.update(overrides)
    app = create_app(settings)
    app.instance_path = str(tmp_path)
    app.extensions["clock"] = Clock(NOW)
    with app.app_context():
        upgrade()
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
        _unavailable("PostgreSQL at 127.0.0.1:5432 (database test, user postgres)", error)


@pytest.fixture
def app(tmp_path):
    """Return an app on a fresh SQLite database."""
    return make_app(tmp_path)


@pytest.fixture(params=["sqlite", "postgresql"])
def any_db_app(request, tmp_path):
    """Return an app on SQLite, then on PostgreSQL."""
    if request.param == "postgresql":
        reset_postgres()
        return make_app(tmp_path, POSTGRES_URL)
    return make_app(tmp_path)


@pytest.fixture
def pg_app(tmp_path):
    """Return an app on a fresh PostgreSQL database."""
    reset_postgres()
    return make_app(tmp_path, POSTGRES_URL)


@pytest.fixture
def redis_url():
    """Return the URL of a flushed Redis test database, or skip/fail when it is not there."""
    try:
        import redis

        connection = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3)
        connection.flushdb()
        connection.close()
    except Exception as error:  # noqa: BLE001 - any failure means "not available"
        _unavailable("Redis at 127.0.0.1:6379", error)
    return REDIS_URL


@pytest.fixture
def client(app):
    """Return a test client of the app."""
    return app.test_client()


@pytest.fixture
def runner(app):
    """Return a CLI runner of the app."""
    return app.test_cli_runner()


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


@pytest.fixture
def admin(app, client):
    """Return an Admin with its password set."""
    helper = Admin(app, client)
    helper.set_password()
    return helper
