"""Waking the jobs runner the moment a change queues side effects.

On PostgreSQL every insert into the outbox raises a NOTIFY inside its own
transaction (a trigger, migration 0013), so the runner hears of the rows
exactly when they become visible (and never if the change rolls back), at
no cost of a statement; a unit of work that only makes rows due again calls
``announce`` before its commit for the same NOTIFY.  Elsewhere, with
``REDIS_URL`` set, a message is published on a Redis channel right after
the commit.  With neither, nothing is sent and the runner finds the rows by
polling every ``JOBS_POLL_SECONDS``.

The runner holds one ``Listener``; its ``wait`` returns early when woken and
after the poll interval otherwise, so retries that fall due are found too.
"""

from __future__ import annotations

import contextlib
import logging
import time

from flask import current_app
from sqlalchemy import text

from .extensions import db

log = logging.getLogger(__name__)

CHANNEL = "widget_outbox"


def _source(app) -> str:
    """Say what wakes the runner in this app: "postgresql", "redis" or "poll"."""
    if db.engine.dialect.name == "postgresql":
        return "postgresql"
    if app.config.get("REDIS_URL"):
        return "redis"
    return "poll"


def _redis(app):
    """Return this app's Redis client for wake-ups, made on first use."""
    client = app.extensions.get("wakeup_redis")
    if client is None:
        import redis

        client = redis.Redis.from_url(app.config["REDIS_URL"], socket_timeout=2, socket_connect_timeout=2)
        app.extensions["wakeup_redis"] = client
    return client


def announce(inserted: bool = False) -> None:
    """Say, inside the transaction of a change, that the runner has work.

    ``inserted``: the change queued new outbox rows, for which PostgreSQL's
    trigger has already said so; otherwise it made rows due again.
    """
    if not inserted and db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SELECT pg_notify(:channel, '')"), {"channel": CHANNEL})


def announce_committed() -> None:
    """Say, after that transaction committed, that the runner has work (Redis only)."""
    app = current_app._get_current_object()
    if _source(app) != "redis":
        return
    try:
        _redis(app).publish(_redis_channel(app), b"")
    except Exception:  # noqa: BLE001 - the change is saved; the runner's polling finds its rows
        log.warning("could not wake the jobs runner through Redis", exc_info=True)


def _redis_channel(app) -> str:
    # Redis channels span every database number; the URL keeps two apps on one server apart.
    return f"{CHANNEL}:{app.config['REDIS_URL']}"


class Listener:
    """What the jobs runner waits on between rounds."""

    def __init__(self, app):
        self.app = app
        self.poll = app.config["JOBS_POLL_SECONDS"]
        self.source = _source(app)
        self._connection = None
        self._pubsub = None

    def _open(self) -> None:
        if self.source == "postgresql":
            import psycopg

            url = db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
            self._connection = psycopg.connect(url, autocommit=True, connect_timeout=5)
            self._connection.execute(f"LISTEN {CHANNEL}")
        elif self.source == "redis":
            self._pubsub = _redis(self.app).pubsub(ignore_subscribe_messages=True)
            self._pubsub.subscribe(_redis_channel(self.app))

    def wait(self) -> bool:
        """Wait until woken or the poll interval has passed; return whether woken."""
        try:
            if self._connection is None and self._pubsub is None:
                self._open()
            if self.source == "postgresql":
                return self._wait_postgresql()
            if self.source == "redis":
                return self._pubsub.get_message(timeout=self.poll) is not None
        except Exception:  # noqa: BLE001 - a lost listener falls back to polling until it reconnects
            log.warning("the jobs runner's wake-up failed; polling", exc_info=True)
            self.close()
        time.sleep(self.poll)
        return False

    def _wait_postgresql(self) -> bool:
        woken = False
        for _ in self._connection.notifies(timeout=self.poll, stop_after=1):
            woken = True
        # Drain the rest: many commits in a moment wake the runner once.
        for _ in self._connection.notifies(timeout=0):
            pass
        return woken

    def close(self) -> None:
        """Stop listening."""
        for resource in (self._connection, self._pubsub):
            if resource is None:
                continue
            # A broken connection may fail to close; it is dropped either way.
            with contextlib.suppress(Exception):
                resource.close()
        self._connection = self._pubsub = None
