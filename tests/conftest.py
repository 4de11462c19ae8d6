"""Shared fixtures: apps on SQLite and PostgreSQL, clients, Redis, the admin, a real SMTP server, comments.

The helpers they build on (make_app, the clock, Admin, Mailbox, ...) live in tests/support.
"""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest

from tests.google_standin import GoogleStandIn
from tests.support import (
    COMMENT_ORIGINS,
    GOOGLE_CALLBACK,
    POSTGRES_URL,
    REDIS_URL,
    Admin,
    make_app,
    reset_postgres,
    unavailable,
)
from tests.support.mailbox import Mailbox


def pytest_configure(config):
    """Keep Hypothesis's files (example database, caches) in a temporary folder, not in the checkout."""
    # Before collection: schemathesis builds its strategies while collecting.
    from hypothesis.configuration import set_hypothesis_home_dir

    if not os.environ.get("HYPOTHESIS_STORAGE_DIRECTORY"):
        config._hypothesis_home = tempfile.mkdtemp(prefix="hypothesis-")
        set_hypothesis_home_dir(config._hypothesis_home)


def pytest_unconfigure(config):
    """Remove the temporary folder Hypothesis used."""
    if getattr(config, "_hypothesis_home", None):
        shutil.rmtree(config._hypothesis_home, ignore_errors=True)


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
def redis_url():
    """Return the URL of a flushed Redis test database, or skip/fail when it is not there."""
    try:
        import redis

        connection = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3)
        connection.flushdb()
        connection.close()
    except Exception as error:  # noqa: BLE001 - any failure means "not available"
        unavailable("Redis at 127.0.0.1:6379", error)
    return REDIS_URL


@pytest.fixture
def client(app):
    """Return a test client of the app."""
    return app.test_client()


@pytest.fixture
def runner(app):
    """Return a CLI runner of the app."""
    return app.test_cli_runner()


@pytest.fixture
def admin(app, client):
    """Return an Admin with its password set."""
    helper = Admin(app, client)
    helper.set_password()
    return helper


@pytest.fixture
def standin():
    """Return a started Google stand-in that knows the app's redirect address; it must end without internal errors."""
    with GoogleStandIn(redirect_uris=[GOOGLE_CALLBACK]) as google:
        yield google
    assert google.internal_errors == []


# --- A real SMTP server for the email tests --------------------------------------------------------------------------


@pytest.fixture
def mailbox():
    """Return a started SMTP server on 127.0.0.1; it is stopped at teardown."""
    box = Mailbox()
    box.start()
    yield box
    box.stop()


@pytest.fixture
def mail_app(tmp_path, mailbox):
    """Return an app on a fresh SQLite database that sends its mail to ``mailbox``."""
    return make_app(tmp_path, MAIL_SERVER="127.0.0.1", MAIL_PORT=str(mailbox.port))


@pytest.fixture
def mail_client(mail_app):
    """Return a test client of mail_app."""
    return mail_app.test_client()


# --- Comments ---------------------------------------------------------------------------------------------------------


@pytest.fixture
def comment_app(tmp_path, mailbox):
    """Return an app whose comments are open for SITE, sending its mail to ``mailbox``."""
    return make_app(
        tmp_path, EMBED_ALLOWED_ORIGINS=COMMENT_ORIGINS, MAIL_SERVER="127.0.0.1", MAIL_PORT=str(mailbox.port)
    )


@pytest.fixture
def comment_client(comment_app):
    """Return a test client of comment_app."""
    return comment_app.test_client()
