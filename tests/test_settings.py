"""Settings are checked when the app starts: a bad one stops start-up with its name."""

from __future__ import annotations

import os
import stat

import pytest
from flask import Flask

from config import TestingConfig
from tests.support import COMMENT_ORIGINS, EXAMPLE_RULES, make_app
from widget import create_app
from widget.settings import SettingsError


@pytest.fixture(autouse=True)
def instance_dir(tmp_path, monkeypatch):
    """Give every app of these tests a fresh instance folder instead of the checkout's instance/."""
    path = tmp_path / "instance"
    monkeypatch.setattr(Flask, "auto_find_instance_path", lambda self: str(path))
    return path


def _create(tmp_path, **overrides):
    """Create an app with the test settings and overrides, without touching its database."""
    settings = {key: getattr(TestingConfig, key) for key in dir(TestingConfig) if key.isupper()}
    settings.update(
        DATABASE_URL=f"sqlite:///{tmp_path / 'widget.db'}",
        BUSINESS_CONFIG=EXAMPLE_RULES,
        PUBLIC_URL="http://widget.test",
    )
    settings.update(overrides)
    return create_app(settings)


def test_fixture_puts_the_instance_folder_in_tmp(tmp_path, instance_dir):
    app = _create(tmp_path)
    assert app.instance_path == str(instance_dir)
    assert instance_dir.is_dir()


@pytest.mark.parametrize(
    ("overrides", "name", "problem"),
    [
        pytest.param({"CALENDAR_BACKEND": "outlook"}, "CALENDAR_BACKEND", "'outlook'", id="calendar-outlook"),
        pytest.param({"GOOGLE_EVENT_DETAIL": "everything"}, "GOOGLE_EVENT_DETAIL", "'everything'", id="event-detail"),
        pytest.param(
            {"EMBED_ALLOWED_ORIGINS": "studio.example"}, "EMBED_ALLOWED_ORIGINS", "origin", id="origin-without-scheme"
        ),
        pytest.param(
            {"EMBED_ALLOWED_ORIGINS": "https://studio.example/path"},
            "EMBED_ALLOWED_ORIGINS",
            "origin",
            id="origin-with-path",
        ),
        pytest.param(
            {"EMBED_ALLOWED_ORIGINS": "https://ok.example https://studio.example?x=1"},
            "EMBED_ALLOWED_ORIGINS",
            "'https://studio.example?x=1'",
            id="second-origin-with-query",
        ),
        pytest.param({"PUBLIC_URL": "ftp://x"}, "PUBLIC_URL", "http(s) URL", id="public-url-ftp"),
        pytest.param(
            {"CALENDAR_SYNC_MINUTES": "0"}, "CALENDAR_SYNC_MINUTES", "between 1 and 1440", id="calendar-sync-zero"
        ),
        pytest.param(
            {"CALENDAR_SYNC_MINUTES": "often"}, "CALENDAR_SYNC_MINUTES", "whole number", id="calendar-sync-word"
        ),
        pytest.param({"PUBLIC_URL": ""}, "PUBLIC_URL", "http(s) URL", id="public-url-empty"),
        pytest.param({"MAIL_PORT": "abc"}, "MAIL_PORT", "whole number", id="mail-port-text"),
        pytest.param({"MAIL_PORT": "70000"}, "MAIL_PORT", "between", id="mail-port-too-big"),
        pytest.param({"MAIL_USE_TLS": "maybe"}, "MAIL_USE_TLS", "true or false", id="mail-tls-maybe"),
        pytest.param({"MAX_CONTENT_LENGTH": "10"}, "MAX_CONTENT_LENGTH", "between", id="max-content-tiny"),
        pytest.param({"BOOKING_FORM_MAX_AGE": "soon"}, "BOOKING_FORM_MAX_AGE", "whole number", id="form-age-text"),
        pytest.param({"DATABASE_URL": "mysql://x"}, "DATABASE_URL", "not supported", id="database-mysql"),
        pytest.param(
            {"DATABASE_URL": "sqlite3:///widget.db"}, "DATABASE_URL", "not supported", id="database-sqlite3-typo"
        ),
        pytest.param({"REDIS_URL": "http://x"}, "REDIS_URL", "redis://", id="redis-http"),
        pytest.param({"ENV": "staging"}, "WIDGET_ENV", "'staging'", id="env-staging"),
        pytest.param(
            {"ENV": "production", "SECRET_KEY": None}, "SECRET_KEY", "production", id="production-without-secret"
        ),
        pytest.param(
            {"ENV": "production", "SECRET_KEY": "too-short"}, "SECRET_KEY", "32", id="production-short-secret"
        ),
    ],
)
def test_bad_setting_stops_start_up(tmp_path, overrides, name, problem):
    """create_app raises SettingsError "setting NAME: problem"."""
    with pytest.raises(SettingsError) as raised:
        make_app(tmp_path, **overrides)
    message = str(raised.value)
    assert message.startswith(f"setting {name}: "), message
    assert problem in message, message


def test_production_without_secret_writes_no_key(tmp_path, instance_dir):
    """Production never invents a key: start-up stops and no instance/secret_key appears."""
    with pytest.raises(SettingsError, match="^setting SECRET_KEY: "):
        _create(tmp_path, ENV="production", SECRET_KEY=None)
    assert not (instance_dir / "secret_key").exists()


def test_generated_secret_key_is_written_once_and_reused(tmp_path, instance_dir):
    """Outside production a missing key is generated into instance/secret_key (0600) and read on the next start."""
    first = _create(tmp_path, SECRET_KEY=None)
    path = instance_dir / "secret_key"
    key = first.config["SECRET_KEY"]
    assert len(key) >= 32
    assert path.read_text(encoding="utf-8") == key
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600

    second = _create(tmp_path, SECRET_KEY=None)
    assert second.config["SECRET_KEY"] == key
    assert path.read_text(encoding="utf-8") == key


def test_production_reads_an_existing_secret_key_file(tmp_path, instance_dir):
    instance_dir.mkdir()
    key = "k" * 48
    (instance_dir / "secret_key").write_text(key + "\n", encoding="utf-8")
    app = _create(tmp_path, ENV="production", SECRET_KEY=None)
    assert app.config["SECRET_KEY"] == key
    assert app.config["SESSION_COOKIE_SECURE"] is True


@pytest.mark.parametrize("content", ["", "\n", "short"], ids=["empty", "blank-line", "short"])
def test_unusable_secret_key_file_stops_production(tmp_path, instance_dir, content):
    """A secret_key file too short to sign with is as bad in production as a short SECRET_KEY."""
    instance_dir.mkdir()
    (instance_dir / "secret_key").write_text(content, encoding="utf-8")
    with pytest.raises(SettingsError) as raised:
        _create(tmp_path, ENV="production", SECRET_KEY=None)
    assert str(raised.value).startswith("setting SECRET_KEY: ")


def test_empty_secret_key_file_never_leaves_the_app_without_a_key(tmp_path, instance_dir):
    """An empty instance/secret_key (e.g. a worker that crashed mid-write) must not give an empty SECRET_KEY."""
    instance_dir.mkdir()
    (instance_dir / "secret_key").write_text("", encoding="utf-8")
    try:
        app = _create(tmp_path, ENV="development", SECRET_KEY=None)
    except SettingsError as error:
        assert str(error).startswith("setting SECRET_KEY: ")
    else:
        assert app.config["SECRET_KEY"], "the app started with an empty SECRET_KEY"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://postgres@db.example:5432/widget", "postgresql+psycopg://postgres@db.example:5432/widget"),
        ("postgres://postgres@db.example/widget", "postgresql+psycopg://postgres@db.example/widget"),
        ("postgresql+psycopg://postgres@db.example/widget", "postgresql+psycopg://postgres@db.example/widget"),
    ],
)
def test_postgresql_urls_get_the_psycopg_driver(tmp_path, url, expected):
    app = _create(tmp_path, DATABASE_URL=url)
    assert app.config["DATABASE_URL"] == expected
    assert app.config["SQLALCHEMY_DATABASE_URI"] == expected


def test_default_database_is_sqlite_in_the_instance_folder(tmp_path, instance_dir):
    app = _create(tmp_path, DATABASE_URL=None)
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{instance_dir / 'widget.db'}"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("", []),
        (None, []),
        ("https://studio.example", ["https://studio.example"]),
        (
            "https://studio.example/  http://localhost:8080\thttps://[::1]:8443",
            ["https://studio.example", "http://localhost:8080", "https://[::1]:8443"],
        ),
    ],
)
def test_embed_allowed_origins_become_a_list(tmp_path, value, expected):
    app = _create(tmp_path, EMBED_ALLOWED_ORIGINS=value)
    assert app.config["EMBED_ALLOWED_ORIGINS"] == expected


def test_allowed_origins_may_frame_the_widget(tmp_path):
    """The parsed origins end up in the widget's frame-ancestors policy."""
    app = make_app(tmp_path, EMBED_ALLOWED_ORIGINS="https://studio.example http://localhost:8080/")
    response = app.test_client().get("/book")
    assert response.status_code == 200
    policy = response.headers["Content-Security-Policy"]
    assert policy.endswith("; frame-ancestors 'self' https://studio.example http://localhost:8080")


def test_settings_are_converted_to_their_types(tmp_path):
    app = _create(
        tmp_path,
        MAIL_PORT="587",
        MAIL_USE_TLS="yes",
        MAX_CONTENT_LENGTH="2048",
        PUBLIC_URL="https://book.example/",
        REDIS_URL=None,
    )
    assert app.config["MAIL_PORT"] == 587
    assert app.config["MAIL_USE_TLS"] is True
    assert app.config["MAX_CONTENT_LENGTH"] == 2048
    assert app.config["PUBLIC_URL"] == "https://book.example"
    assert app.config["PREFERRED_URL_SCHEME"] == "https"
    assert app.config["RATELIMIT_STORAGE_URI"] == "memory://"


def test_trusted_proxy_gives_each_reader_their_own_rate_limit(tmp_path):
    """Behind one trusted proxy, X-Forwarded-For names the client: readers do not share the proxy's limit."""
    app = make_app(
        tmp_path, TRUSTED_PROXIES="1", COMMENT_RATE_LIMIT="1 per minute", EMBED_ALLOWED_ORIGINS=COMMENT_ORIGINS
    )
    client = app.test_client()

    def post(reader: str):
        return client.post("/api/comments", json={}, headers={"X-Forwarded-For": reader})

    assert post("203.0.113.1").status_code == 422
    assert post("203.0.113.1").status_code == 429
    assert post("203.0.113.2").status_code == 422, "another reader behind the same proxy is not limited"


def test_untrusted_forwarded_for_is_ignored(tmp_path):
    """Without TRUSTED_PROXIES a client cannot dodge the limit by sending its own X-Forwarded-For."""
    app = make_app(tmp_path, COMMENT_RATE_LIMIT="1 per minute", EMBED_ALLOWED_ORIGINS=COMMENT_ORIGINS)
    client = app.test_client()
    assert client.post("/api/comments", json={}, headers={"X-Forwarded-For": "203.0.113.1"}).status_code == 422
    assert client.post("/api/comments", json={}, headers={"X-Forwarded-For": "203.0.113.2"}).status_code == 429
