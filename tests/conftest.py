"""Shared fixtures: apps on SQLite and PostgreSQL, clients, a fixed clock, services."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from datetime import datetime, timedelta, timezone

import pytest
from flask_migrate import upgrade
from sqlalchemy import create_engine, text

from config import TestingConfig
from widget import create_app

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLE_RULES = os.path.join(ROOT, "business.example.toml")
# Overridable so that two test runs on one machine can each have a database of their own.
POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
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


# --- A real SMTP server for the email tests --------------------------------------------------------------------------
# Imported here, not at the top, so that this section stands alone at the end of the file.

import asyncio  # noqa: E402
import email.policy  # noqa: E402
import threading  # noqa: E402
from email.message import EmailMessage  # noqa: E402
from email.parser import BytesParser  # noqa: E402

from aiosmtpd.controller import Controller  # noqa: E402


class _Controller(Controller):
    """aiosmtpd's Controller, able to listen on a free port chosen by the system (port=0)."""

    def _trigger_server(self):
        # 1.4.6 keeps port=0 as given and then fails to connect to it: read the bound port back first.
        if self.port == 0:
            self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class _MailboxHandler:
    """The aiosmtpd handler of a Mailbox: refuses rejected recipients, keeps every message."""

    def __init__(self, mailbox: Mailbox):
        self.mailbox = mailbox

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        reply = self.mailbox.rejected.get(address.lower())
        if reply is not None:
            return reply
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.mailbox.delay:
            await asyncio.sleep(self.mailbox.delay)
        raw = envelope.original_content or envelope.content
        message = BytesParser(policy=email.policy.default).parsebytes(raw)
        self.mailbox._received(message, list(envelope.rcpt_tos))
        return "250 2.0.0 Message accepted for delivery"


class Mailbox:
    """A real SMTP server on 127.0.0.1 that keeps what it receives.

    ``messages[i]`` is an EmailMessage and ``recipients[i]`` its envelope
    recipients (RCPT TO).  ``stop()`` and ``start()`` take the server down and
    bring it back on the same port; ``delay`` makes each DATA answer that many
    seconds late, like a real server's latency.
    """

    def __init__(self):
        self.port = 0
        self.messages: list[EmailMessage] = []
        self.recipients: list[list[str]] = []
        self.rejected: dict[str, str] = {}
        self.delay = 0.0
        self._controller: _Controller | None = None
        self._changed = threading.Condition()

    def start(self) -> None:
        if self._controller is not None:
            return
        handler = _MailboxHandler(self)
        controller = _Controller(handler, hostname="127.0.0.1", port=self.port, server_hostname="mailbox.test")
        controller.start()
        self.port, self._controller = controller.port, controller

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def reject(self, address: str, code: int = 550, text: str | None = None) -> None:
        """Answer RCPT TO for this address with an error (5xx: for good, 4xx: try later)."""
        if text is None:
            text = "5.1.1 no such user" if code >= 500 else "4.2.1 mailbox busy, try again later"
        self.rejected[address.lower()] = f"{code} {text}"

    def accept(self, address: str) -> None:
        """Stop rejecting an address."""
        self.rejected.pop(address.lower(), None)

    def _received(self, message: EmailMessage, recipients: list[str]) -> None:
        with self._changed:
            self.messages.append(message)
            self.recipients.append(recipients)
            self._changed.notify_all()

    def received_by(self, address: str) -> list[EmailMessage]:
        """Return the messages whose envelope named this recipient."""
        with self._changed:
            return [m for m, to in zip(self.messages, self.recipients, strict=True) if address in to]

    def wait_for(self, count: int, timeout: float = 5) -> list[EmailMessage]:
        """Wait until at least ``count`` messages arrived; return them all."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self.messages) >= count, timeout):
                subjects = [m["Subject"] for m in self.messages]
                raise AssertionError(f"expected {count} messages within {timeout} s, got {subjects}")
            return list(self.messages)


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

SITE = "https://studio.example"
ARTICLE = f"{SITE}/blog/first-massage"
COMMENT_ORIGINS = f"{SITE} http://localhost:8000"


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
