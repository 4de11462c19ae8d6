"""Check and normalise the settings from config.py when the app starts."""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import logging
import os
import secrets
import tempfile
from urllib.parse import urlsplit

from flask import current_app
from limits import parse_many
from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)

PER_PROCESS_LIMITS = (
    "REDIS_URL is not set: every worker process counts rate limits (bookings, comments, sign-in attempts) "
    "on its own, so a client gets the limits once per worker. Set REDIS_URL when running more than one worker."
)


class SettingsError(RuntimeError):
    """A setting is missing or invalid; the message names it."""


def _fail(name: str, problem: str):
    raise SettingsError(f"setting {name}: {problem}")


def _integer(config, name: str, low: int, high: int) -> int:
    raw = config.get(name)
    try:
        value = int(raw)
    except (TypeError, ValueError):
        _fail(name, f"{raw!r} is not a whole number")
    if not low <= value <= high:
        _fail(name, f"must be between {low} and {high}, not {value}")
    return value


def _boolean(config, name: str) -> bool:
    raw = config.get(name)
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", "", "none"):
        return False
    _fail(name, f"{raw!r} is not true or false")


def origin_of(url: str) -> str | None:
    """Return scheme://host[:port] of an http(s) URL, or None if it is not one."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname or "@" in parts.netloc:
        return None
    try:
        port = parts.port
    except ValueError:
        return None
    default = {"http": 80, "https": 443}[parts.scheme]
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    return f"{parts.scheme}://{host}" + (f":{port}" if port and port != default else "")


def public_url(endpoint: str, **values) -> str:
    """Return the absolute address of an endpoint under PUBLIC_URL, whatever Host a request named."""
    # Flask's url_for(_external=True) takes the host from the request, which any client may forge.
    parts = urlsplit(current_app.config["PUBLIC_URL"])
    adapter = current_app.url_map.bind(parts.netloc, script_name=parts.path or "/", url_scheme=parts.scheme)
    return adapter.build(endpoint, values, force_external=True)


def _create_private_sqlite_file(url: str) -> None:
    """Create a missing SQLite database file readable and writable by its owner only."""
    # SQLite would create it under the umask, usually readable by every local user; its -wal
    # and -shm files take the database file's mode, so they are private too.
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    # Already there (left as its owner set it), or SQLite will say why it cannot open it.
    with contextlib.suppress(OSError):
        os.close(os.open(database, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


MIN_SECRET = 32
EVENT_DETAILS = ("full", "minimal", "private")  # what GOOGLE_EVENT_DETAIL may choose


def _token_key(config) -> bytes:
    """Return the Fernet key for the Google refresh token: GOOGLE_TOKEN_KEY, or one derived from SECRET_KEY."""
    raw = config.get("GOOGLE_TOKEN_KEY")
    if isinstance(raw, bytes):
        raw = raw.decode()
    if raw:
        try:
            if len(base64.urlsafe_b64decode(raw.encode())) != 32:
                raise ValueError
        except (ValueError, binascii.Error):
            _fail("GOOGLE_TOKEN_KEY", "is not a Fernet key (32 bytes, URL-safe base64)")
        return raw.encode()
    digest = hashlib.sha256(b"google-token-key:" + str(config["SECRET_KEY"]).encode()).digest()
    return base64.urlsafe_b64encode(digest)


def _secret_key(app) -> str:
    """Return the signing key, creating instance/secret_key on first run outside production."""
    path = os.path.join(app.instance_path, "secret_key")
    if os.path.exists(path):
        with open(path, encoding="utf-8") as file:
            key = file.read().strip()
        if len(key) < MIN_SECRET:
            _fail("SECRET_KEY", f"{path} holds fewer than {MIN_SECRET} characters; delete it or set SECRET_KEY")
        return key
    if app.config["ENV"] == "production":
        _fail("SECRET_KEY", "must be set in production")
    key = secrets.token_urlsafe(48)
    # Write a private temporary file, then link it into place: the key file
    # appears whole or not at all, and when several workers start at once the
    # first link wins and the others read its key.
    fd, temporary = tempfile.mkstemp(dir=app.instance_path, prefix=".secret_key.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(key)
        try:
            os.link(temporary, path)
        except FileExistsError:
            return _secret_key(app)
    finally:
        os.unlink(temporary)
    return key


def check(app) -> None:
    """Validate every setting, convert it to its type, and derive dependent ones."""
    config = app.config
    os.makedirs(app.instance_path, exist_ok=True)

    if config["ENV"] not in ("development", "production", "testing"):
        _fail("WIDGET_ENV", f"{config['ENV']!r} is not development, production or testing")
    if not config.get("SECRET_KEY"):
        config["SECRET_KEY"] = _secret_key(app)
    elif config["ENV"] == "production" and len(config["SECRET_KEY"]) < MIN_SECRET:
        _fail("SECRET_KEY", f"must be at least {MIN_SECRET} characters in production")

    url = config.get("DATABASE_URL") or "sqlite:///" + os.path.join(app.instance_path, "widget.db")
    scheme = url.split(":", 1)[0]
    if scheme in ("postgres", "postgresql", "postgresql+psycopg"):
        # psycopg 3 is the driver we ship; name it so SQLAlchemy does not look for psycopg2.
        url = "postgresql+psycopg:" + url.split(":", 1)[1]
    elif scheme not in ("sqlite", "sqlite+pysqlite"):
        _fail("DATABASE_URL", f"{scheme!r} databases are not supported (use sqlite:/// or postgresql://)")
    if url.startswith("sqlite"):
        _create_private_sqlite_file(url)
    config["DATABASE_URL"] = url
    config["SQLALCHEMY_DATABASE_URI"] = url
    config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {"pool_pre_ping": True})

    if config["CALENDAR_BACKEND"] not in ("local", "google"):
        _fail("CALENDAR_BACKEND", f"{config['CALENDAR_BACKEND']!r} is not local or google")
    config["GOOGLE_EVENT_DETAIL"] = str(config.get("GOOGLE_EVENT_DETAIL") or "minimal").strip().lower()
    if config["GOOGLE_EVENT_DETAIL"] not in EVENT_DETAILS:
        _fail("GOOGLE_EVENT_DETAIL", f"{config['GOOGLE_EVENT_DETAIL']!r} is not {', '.join(EVENT_DETAILS)}")

    origins = []
    for item in str(config.get("EMBED_ALLOWED_ORIGINS") or "").split():
        origin = origin_of(item)
        parts = urlsplit(item)
        if origin is None or parts.path not in ("", "/") or parts.query or parts.fragment:
            _fail("EMBED_ALLOWED_ORIGINS", f"{item!r} is not an origin like https://studio.example")
        origins.append(origin)
    config["EMBED_ALLOWED_ORIGINS"] = origins

    public = str(config.get("PUBLIC_URL") or "").rstrip("/")
    if origin_of(public) is None or urlsplit(public).query or urlsplit(public).fragment:
        _fail("PUBLIC_URL", f"{public!r} is not an http(s) URL without query or fragment")
    config["PUBLIC_URL"] = public

    redis_url = config.get("REDIS_URL")
    if redis_url and not str(redis_url).startswith(("redis://", "rediss://", "unix://")):
        _fail("REDIS_URL", f"{redis_url!r} is not a redis:// URL")
    config["RATELIMIT_STORAGE_URI"] = redis_url or "memory://"
    if config["ENV"] == "production" and not redis_url:
        log.warning(PER_PROCESS_LIMITS)
    config.setdefault("RATELIMIT_HEADERS_ENABLED", True)

    for name in ("ADMIN_LOGIN_RATE_LIMIT", "COMMENT_RATE_LIMIT", "BOOKING_RATE_LIMIT", "WAITLIST_RATE_LIMIT"):
        try:
            parse_many(str(config.get(name) or ""))
        except ValueError:
            _fail(name, f"{config.get(name)!r} is not a rate limit like '5 per minute; 30 per hour'")

    # A newcomer's `make run` shows every email without a mail server; production never writes mail to disk.
    config["MAIL_TO_FILES"] = config["ENV"] == "development" and not config.get("MAIL_SERVER")
    config["MAIL_SERVER"] = config.get("MAIL_SERVER") or "localhost"
    config["MAIL_PORT"] = _integer(config, "MAIL_PORT", 1, 65535)
    config["MAIL_USE_TLS"] = _boolean(config, "MAIL_USE_TLS")
    config["TRUSTED_PROXIES"] = _integer(config, "TRUSTED_PROXIES", 0, 5)
    config["MAX_CONTENT_LENGTH"] = _integer(config, "MAX_CONTENT_LENGTH", 1024, 100 * 1024 * 1024)
    config["BOOKING_FORM_MAX_AGE"] = _integer(config, "BOOKING_FORM_MAX_AGE", 60, 7 * 86400)
    config["MAX_FUTURE_BOOKINGS"] = _integer(config, "MAX_FUTURE_BOOKINGS", 1, 1000)
    config["WAITLIST_MAX_ENTRIES"] = _integer(config, "WAITLIST_MAX_ENTRIES", 1, 366)
    config["CANCEL_CUTOFF_HOURS"] = _integer(config, "CANCEL_CUTOFF_HOURS", 0, 24 * 30)
    config["REMINDER_HOURS_BEFORE"] = _integer(config, "REMINDER_HOURS_BEFORE", 1, 24 * 14)
    config["BOOK_AGAIN_DAYS"] = _integer(config, "BOOK_AGAIN_DAYS", 1, 3660)
    if config.get("RETENTION_MONTHS") in (None, ""):
        config["RETENTION_MONTHS"] = None
    else:
        config["RETENTION_MONTHS"] = _integer(config, "RETENTION_MONTHS", 1, 1200)
    config["JOBS_INTERVAL"] = _integer(config, "JOBS_INTERVAL", 1, 3600)
    config["JOBS_POLL_SECONDS"] = _integer(config, "JOBS_POLL_SECONDS", 1, 3600)
    config["CALENDAR_SYNC_MINUTES"] = _integer(config, "CALENDAR_SYNC_MINUTES", 1, 24 * 60)
    config["FREEBUSY_CACHE_SECONDS"] = _integer(config, "FREEBUSY_CACHE_SECONDS", 0, 3600)
    config["SLOTS_CACHE_SECONDS"] = _integer(config, "SLOTS_CACHE_SECONDS", 0, 86400)
    config["GOOGLE_TIMEOUT"] = _integer(config, "GOOGLE_TIMEOUT", 1, 120)
    config["GOOGLE_RETRY_SECONDS"] = _integer(config, "GOOGLE_RETRY_SECONDS", 0, 300)
    config["GOOGLE_TOKEN_KEY"] = _token_key(config)
    for name in ("GOOGLE_AUTH_URI", "GOOGLE_TOKEN_URI", "GOOGLE_API_ENDPOINT"):
        if origin_of(str(config.get(name) or "")) is None:
            _fail(name, f"{config.get(name)!r} is not an http(s) URL")
    if not str(config["GOOGLE_API_ENDPOINT"]).rstrip("/").endswith("/calendar/v3"):
        _fail("GOOGLE_API_ENDPOINT", "must end in /calendar/v3/ (for example https://www.googleapis.com/calendar/v3/)")
    if config["CALENDAR_BACKEND"] == "google":
        for name in ("GOOGLE_CLIENT_ID", "GOOGLE_CLIENT_SECRET"):
            if not config.get(name):
                _fail(name, "is required when CALENDAR_BACKEND is google")
    therapist = config.get("THERAPIST_EMAIL")
    if therapist and "@" not in str(therapist):
        _fail("THERAPIST_EMAIL", f"{therapist!r} is not an email address")

    production = config["ENV"] == "production"
    config["SESSION_COOKIE_HTTPONLY"] = True
    config["SESSION_COOKIE_SAMESITE"] = "Lax"
    config["SESSION_COOKIE_SECURE"] = production
    config["PREFERRED_URL_SCHEME"] = urlsplit(public).scheme


def check_workers(config, workers: int) -> None:
    """Refuse to serve production from several workers that would each count rate limits alone."""
    if config.get("ENV") == "production" and workers > 1 and not config.get("REDIS_URL"):
        _fail("REDIS_URL", f"is required in production with {workers} workers. {PER_PROCESS_LIMITS}")
