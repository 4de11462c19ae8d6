"""A small shared cache for answers from outside services (Google's free/busy).

With ``REDIS_URL`` set, entries live in Redis and every worker process sees
them; without it each process keeps its own, which only costs extra calls.
"""

from __future__ import annotations

import json
import threading
import time

from flask import current_app

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
