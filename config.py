"""Every setting of the service, read from the environment.

No other module reads ``os.environ``.  Values are checked in ``create_app``
(``widget.settings.check``), so a bad one stops start-up with its name.
"""

import os

BASE_DIR = os.path.dirname(os.path.abspath(__file__))


def _env(name, default=None):
    value = os.environ.get(name)
    return default if value is None or value == "" else value


class Config:
    """Settings for running the service."""

    # "production" makes missing secrets fatal and cookies Secure; anything else is development.
    ENV = _env("WIDGET_ENV", "development")
    # Signs sessions, CSRF tokens and links; generated into instance/ on first run outside production.
    SECRET_KEY = _env("SECRET_KEY")
    # SQLAlchemy URL; default is a SQLite file in instance/.  postgresql:// uses psycopg 3.
    DATABASE_URL = _env("DATABASE_URL")
    # The business rules file (services, hours, rules, phone).
    BUSINESS_CONFIG = _env("BUSINESS_CONFIG", os.path.join(BASE_DIR, "business.example.toml"))
    # Which calendar holds busy time and receives bookings: "local" or "google".
    CALENDAR_BACKEND = _env("CALENDAR_BACKEND", "local")
    # Google OAuth web client id and secret (used by the google calendar backend).
    GOOGLE_CLIENT_ID = _env("GOOGLE_CLIENT_ID")
    GOOGLE_CLIENT_SECRET = _env("GOOGLE_CLIENT_SECRET")
    # Google's OAuth consent page, token endpoint and Calendar API base (ends in /calendar/v3/).
    GOOGLE_AUTH_URI = _env("GOOGLE_AUTH_URI", "https://accounts.google.com/o/oauth2/auth")
    GOOGLE_TOKEN_URI = _env("GOOGLE_TOKEN_URI", "https://oauth2.googleapis.com/token")
    GOOGLE_API_ENDPOINT = _env("GOOGLE_API_ENDPOINT", "https://www.googleapis.com/calendar/v3/")
    # What a booking's Google event shows: "full" (with notes), "minimal" (first name, phone) or "private".
    GOOGLE_EVENT_DETAIL = _env("GOOGLE_EVENT_DETAIL", "minimal")
    # Fernet key that encrypts the Google refresh token at rest; default: derived from SECRET_KEY.
    GOOGLE_TOKEN_KEY = _env("GOOGLE_TOKEN_KEY")
    # Seconds a Google free/busy answer is reused before asking Google again.
    FREEBUSY_CACHE_SECONDS = _env("FREEBUSY_CACHE_SECONDS", "60")
    # Seconds worked-out free slots are kept (any change to busy time makes them stale at once; 0: never kept).
    SLOTS_CACHE_SECONDS = _env("SLOTS_CACHE_SECONDS", "300")
    # Seconds to wait for any one answer from Google before giving up on it.
    GOOGLE_TIMEOUT = _env("GOOGLE_TIMEOUT", "10")
    # Seconds, at most, spent retrying one Google call that hit a rate limit or a server error.
    GOOGLE_RETRY_SECONDS = _env("GOOGLE_RETRY_SECONDS", "8")
    # Space-separated origins (scheme://host[:port]) allowed to frame the widget and comments.
    EMBED_ALLOWED_ORIGINS = _env("EMBED_ALLOWED_ORIGINS", "")
    # External base URL used in emails and push-notification addresses (no trailing slash).
    PUBLIC_URL = _env("PUBLIC_URL", "http://127.0.0.1:5000")
    # Optional shared store (redis://...) for rate limits and caches across processes.
    REDIS_URL = _env("REDIS_URL")
    # Outgoing mail (Flask-Mail's names).  MAIL_SERVER unset: localhost, except in development, where
    # messages are written to instance/mail/ as .eml files and listed in the admin instead.
    MAIL_SERVER = _env("MAIL_SERVER")
    MAIL_PORT = _env("MAIL_PORT", "25")
    MAIL_USE_TLS = _env("MAIL_USE_TLS", "false")
    MAIL_USERNAME = _env("MAIL_USERNAME")
    MAIL_PASSWORD = _env("MAIL_PASSWORD")
    MAIL_DEFAULT_SENDER = _env("MAIL_DEFAULT_SENDER", "bookings@localhost")
    # Where booking and comment notifications go.
    THERAPIST_EMAIL = _env("THERAPIST_EMAIL")
    # Clients may cancel or reschedule online until this many hours before the appointment.
    CANCEL_CUTOFF_HOURS = _env("CANCEL_CUTOFF_HOURS", "24")
    # The reminder email goes out this many hours before the appointment.
    REMINDER_HOURS_BEFORE = _env("REMINDER_HOURS_BEFORE", "24")
    # Days a "Book again" link (in emails and on the manage page) keeps working.
    BOOK_AGAIN_DAYS = _env("BOOK_AGAIN_DAYS", "90")
    # Months after its end a booking's client details are erased by `run-jobs` (unset: kept).
    RETENTION_MONTHS = _env("RETENTION_MONTHS")
    # Seconds `run-jobs` sleeps between rounds when it runs as a loop.
    JOBS_INTERVAL = _env("JOBS_INTERVAL", "30")
    # Seconds, at most, between `run-jobs` looks at the outbox when nothing wakes it (PostgreSQL or Redis do).
    JOBS_POLL_SECONDS = _env("JOBS_POLL_SECONDS", "1")
    # Minutes between the calendar syncs `run-jobs` does (the safety net for changes made in Google Calendar).
    CALENDAR_SYNC_MINUTES = _env("CALENDAR_SYNC_MINUTES", "5")
    # Admin sign-in attempts allowed per client address (Flask-Limiter syntax).
    ADMIN_LOGIN_RATE_LIMIT = _env("ADMIN_LOGIN_RATE_LIMIT", "5 per minute; 30 per hour")
    # Comments (and edits) one client address may post (Flask-Limiter syntax; shared through REDIS_URL).
    COMMENT_RATE_LIMIT = _env("COMMENT_RATE_LIMIT", "5 per minute; 30 per hour; 100 per day")
    # Bookings one client address may attempt, form and API together (Flask-Limiter syntax; shared through REDIS_URL).
    BOOKING_RATE_LIMIT = _env("BOOKING_RATE_LIMIT", "10 per hour; 20 per day")
    # Upcoming confirmed bookings one email address, or one phone number, may hold at once.
    MAX_FUTURE_BOOKINGS = _env("MAX_FUTURE_BOOKINGS", "4")
    # Waitlist sign-ups one client address may send (Flask-Limiter syntax; shared through REDIS_URL).
    WAITLIST_RATE_LIMIT = _env("WAITLIST_RATE_LIMIT", "5 per hour; 20 per day")
    # Waitlist days one email address may hold at once (confirmed or awaiting confirmation).
    WAITLIST_MAX_ENTRIES = _env("WAITLIST_MAX_ENTRIES", "14")
    # Reverse proxies in front of the app whose X-Forwarded-For/-Proto to trust (0: none; 1 behind one proxy).
    TRUSTED_PROXIES = _env("TRUSTED_PROXIES", "0")
    # Largest request body accepted, in bytes.
    MAX_CONTENT_LENGTH = _env("MAX_CONTENT_LENGTH", "65536")
    # Seconds a booking form stays valid after it is shown (its CSRF token's lifetime).
    BOOKING_FORM_MAX_AGE = _env("BOOKING_FORM_MAX_AGE", "21600")


class TestingConfig(Config):
    """Settings for the test suite; tests pass further overrides to create_app."""

    ENV = "testing"
    TESTING = True
    SECRET_KEY = "test-secret-key"  # noqa: S105 - tests only; never used to run the service
    ADMIN_LOGIN_RATE_LIMIT = "1000 per minute"
    COMMENT_RATE_LIMIT = "1000 per minute"
    BOOKING_RATE_LIMIT = "1000 per minute"
    WAITLIST_RATE_LIMIT = "1000 per minute"
    MAX_FUTURE_BOOKINGS = "100"
    MAIL_SERVER = "127.0.0.1"
    MAIL_PORT = "1"  # nothing listens there: a test that sends mail starts its own SMTP server
    THERAPIST_EMAIL = "therapist@studio.example"
