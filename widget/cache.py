"""A small shared cache: Google's free/busy answers and the free slots worked out from them.

With ``REDIS_URL`` set, entries live in Redis and every worker process sees
them; without it each process keeps its own, which only costs extra calls.

The calendar version is a number every change to busy time bumps (a booking
made, cancelled or moved, blocked time, a change synced from Google): answers
kept under an older version are never read again.  With Redis it lives there,
read in the same round trip as the entries.  Without Redis it lives in the
database (the ``settings`` row ``calendar-version``), so a change made by
another process (the jobs runner, a command, another worker) still reaches
every process's next read, at the cost of one small query per read.
"""

from __future__ import annotations

import json
import threading
import time

from flask import current_app
from sqlalchemy import text

PREFIX = "widget:"


class _Memory:
    """Entries in this process, each with its expiry time."""

    def __init__(self):
        self._entries: dict[str, tuple[float, str]] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> str | None:
        with self._lock:
            expires, value = self._entries.get(key, (0.0, None))
            if value is not None and expires > time.monotonic():
                return value
            self._entries.pop(key, None)
            return None

    def set(self, key: str, value: str, seconds: int) -> None:
        with self._lock:
            if len(self._entries) > 10_000:
                self._entries.clear()
            self._entries[key] = (time.monotonic() + seconds, value)

    def delete_prefix(self, prefix: str) -> None:
        with self._lock:
            for key in [k for k in self._entries if k.startswith(prefix)]:
                del self._entries[key]

    def get_many(self, keys: list[str]) -> list[str | None]:
        return [self.get(key) for key in keys]

    def set_many(self, values: dict[str, str], seconds: int) -> None:
        for key, value in values.items():
            self.set(key, value, seconds)

    def delete(self, keys: list[str]) -> None:
        with self._lock:
            for key in keys:
                self._entries.pop(key, None)

    def add(self, key: str, value: str, seconds: int) -> bool:
        with self._lock:
            expires, _ = self._entries.get(key, (0.0, None))
            if expires > time.monotonic():
                return False
            self._entries[key] = (time.monotonic() + seconds, value)
            return True

    # Counters live in the database, where every process of the service sees them.

    def counter(self, key: str) -> int:
        from .extensions import db

        value = db.session.execute(text("SELECT value FROM settings WHERE key = :key"), {"key": key}).scalar()
        return int(value or 0)

    def counted(self, counter: str, keys: list[str]) -> tuple[int, list[str | None]]:
        return self.counter(counter), self.get_many(keys)

    def increment(self, key: str) -> int:
        from .extensions import db

        # A connection of its own: a change outside the session's transaction (a Google answer refreshed).
        with db.engine.begin() as connection:
            return increment_in(connection, key)


_INCREMENT = text(
    "INSERT INTO settings (key, value) VALUES (:key, '1') ON CONFLICT (key) DO UPDATE "
    "SET value = CAST(CAST(settings.value AS INTEGER) + 1 AS VARCHAR(20)) RETURNING value"
)


def increment_in(connection, key: str) -> int:
    """Bump a counter kept in the database, in the transaction of ``connection``; return its new value."""
    return int(connection.execute(_INCREMENT, {"key": key}).scalar())


class _Redis:
    """Entries in Redis, shared by every process."""

    def __init__(self, url: str):
        # Deferred: the client library is loaded only when REDIS_URL is set.
        import redis

        self._client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)

    def get(self, key: str) -> str | None:
        value = self._client.get(key)
        return value.decode() if value is not None else None

    def set(self, key: str, value: str, seconds: int) -> None:
        self._client.set(key, value, ex=max(seconds, 1))

    def delete_prefix(self, prefix: str) -> None:
        for key in self._client.scan_iter(match=f"{prefix}*", count=500):
            self._client.delete(key)

    def get_many(self, keys: list[str]) -> list[str | None]:
        return [value.decode() if value is not None else None for value in self._client.mget(keys)]

    def set_many(self, values: dict[str, str], seconds: int) -> None:
        pipe = self._client.pipeline(transaction=False)
        for key, value in values.items():
            pipe.set(key, value, ex=max(seconds, 1))
        pipe.execute()

    def delete(self, keys: list[str]) -> None:
        if keys:
            self._client.delete(*keys)

    def add(self, key: str, value: str, seconds: int) -> bool:
        return bool(self._client.set(key, value, ex=max(seconds, 1), nx=True))

    def counter(self, key: str) -> int:
        return int(self._client.get(key) or 0)

    def counted(self, counter: str, keys: list[str]) -> tuple[int, list[str | None]]:
        # One round trip for both.
        found = self._client.mget([counter, *keys])
        return int(found[0] or 0), [value.decode() if value is not None else None for value in found[1:]]

    def increment(self, key: str) -> int:
        return int(self._client.incr(key))


def init_app(app) -> None:
    """Give the app its cache store."""
    url = app.config.get("REDIS_URL")
    app.extensions["cache"] = _Redis(url) if url else _Memory()


def get_json(key: str):
    """Return the cached value of ``key``, or None; a cache that fails is a miss."""
    try:
        value = current_app.extensions["cache"].get(PREFIX + key)
    except Exception:  # noqa: BLE001 - the cache only saves work; never let it break a request
        current_app.logger.warning("cache read failed", exc_info=True)
        return None
    return json.loads(value) if value is not None else None


def set_json(key: str, value, seconds: int) -> None:
    """Keep ``value`` under ``key`` for ``seconds``."""
    if seconds <= 0:
        return
    try:
        current_app.extensions["cache"].set(PREFIX + key, json.dumps(value), seconds)
    except Exception:  # noqa: BLE001 - see get_json
        current_app.logger.warning("cache write failed", exc_info=True)


def forget(prefix: str) -> None:
    """Drop every entry whose key starts with ``prefix``."""
    try:
        current_app.extensions["cache"].delete_prefix(PREFIX + prefix)
    except Exception:  # noqa: BLE001 - see get_json
        current_app.logger.warning("cache clear failed", exc_info=True)


def get_many(keys: list[str]) -> list[str | None]:
    """Return the raw cached text of each key (None where missing); a cache that fails misses."""
    try:
        return current_app.extensions["cache"].get_many([PREFIX + key for key in keys])
    except Exception:  # noqa: BLE001 - see get_json
        current_app.logger.warning("cache read failed", exc_info=True)
        return [None] * len(keys)


def set_many(values: dict[str, str], seconds: int) -> None:
    """Keep each raw text under its key for ``seconds``."""
    if seconds <= 0 or not values:
        return
    try:
        current_app.extensions["cache"].set_many({PREFIX + k: v for k, v in values.items()}, seconds)
    except Exception:  # noqa: BLE001 - see get_json
        current_app.logger.warning("cache write failed", exc_info=True)


def drop(keys: list[str]) -> None:
    """Drop these entries."""
    try:
        current_app.extensions["cache"].delete([PREFIX + key for key in keys])
    except Exception:  # noqa: BLE001 - see get_json
        current_app.logger.warning("cache clear failed", exc_info=True)


def claim(key: str, seconds: int) -> bool:
    """Take a short lease on ``key``: True for the one caller that gets it until it expires."""
    try:
        return current_app.extensions["cache"].add(PREFIX + key, "1", max(seconds, 1))
    except Exception:  # noqa: BLE001 - without the cache every caller does the work itself
        current_app.logger.warning("cache lease failed", exc_info=True)
        return True


VERSION = "calendar-version"


def versioned(keys: list[str]) -> tuple[int, list[str | None]]:
    """Return the calendar version and the raw cached text of each key, read together; (-1, misses) on failure."""
    try:
        return current_app.extensions["cache"].counted(PREFIX + VERSION, [PREFIX + key for key in keys])
    except Exception:  # noqa: BLE001 - see get_json
        current_app.logger.warning("cache read failed", exc_info=True)
        return -1, [None] * len(keys)


def version_in_database() -> bool:
    """Say whether the calendar version lives in the database (no Redis), to be bumped with the change itself."""
    return isinstance(current_app.extensions["cache"], _Memory)


def bump_version_in(connection) -> None:
    """Bump the calendar version kept in the database inside the change's own transaction."""
    increment_in(connection, PREFIX + VERSION)


def calendar_changed() -> None:
    """Bump the calendar version: every answer worked out from busy time is out of date."""
    try:
        current_app.extensions["cache"].increment(PREFIX + VERSION)
    except Exception:  # noqa: BLE001 - see get_json
        current_app.logger.warning("cache version bump failed", exc_info=True)
