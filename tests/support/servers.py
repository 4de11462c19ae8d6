"""The service as an operator runs it, on 127.0.0.1: gunicorn, the jobs runner, and a mail server that hangs."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import requests

from . import EXAMPLE_RULES, ROOT

SECRET = "production-run-secret-key-of-enough-length"
DENVER = ZoneInfo("America/Denver")
CLOSED = ("2026-12-23", "2026-12-24", "2026-12-25", "2027-01-01")


def free_port() -> int:
    """Return a TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def environment(**settings) -> dict:
    """Return the environment of a production process of the service with ``settings``."""
    env = {
        **os.environ,
        "WIDGET_ENV": "production",
        "SECRET_KEY": SECRET,
        "BUSINESS_CONFIG": EXAMPLE_RULES,
        "PUBLIC_URL": "http://widget.test",
        "MAIL_USE_TLS": "false",
    }
    for name in ("REDIS_URL", "DATABASE_URL", "MAIL_SERVER", "MAIL_PORT"):
        env.pop(name, None)
    env.update(settings)
    return env


def start_gunicorn(workers: int, app: str = "wsgi:app", **settings) -> tuple[subprocess.Popen, str]:
    """Start gunicorn from the project folder (it reads gunicorn.conf.py); return it and its base URL."""
    port = free_port()
    command = [sys.executable, "-m", "gunicorn", "--workers", str(workers), "--bind", f"127.0.0.1:{port}", app]
    process = subprocess.Popen(
        command, cwd=ROOT, env=environment(**settings), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"gunicorn stopped: {process.stderr.read()}")
        try:
            requests.get(f"{base}/healthz", timeout=10)
            return process, base
        except (requests.ConnectionError, requests.Timeout):  # workers still starting
            time.sleep(0.2)
    stop(process)
    raise AssertionError("gunicorn did not answer within 60 s")


def start_jobs_runner(**settings) -> subprocess.Popen:
    """Start ``flask --app wsgi run-jobs`` as a loop, as an operator's service does."""
    command = [sys.executable, "-m", "flask", "--app", "wsgi", "run-jobs"]
    return subprocess.Popen(
        command, cwd=ROOT, env=environment(**settings), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )


def stop(process: subprocess.Popen) -> str:
    """Stop a process started here; return what it wrote on stderr."""
    process.terminate()
    try:
        _, stderr = process.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        _, stderr = process.communicate()
    return stderr or ""


def open_day(days_ahead: int = 3) -> date:
    """Return the first Wednesday at least ``days_ahead`` days from today (real clock) that the example rules open."""
    day = datetime.now(timezone.utc).astimezone(DENVER).date() + timedelta(days=days_ahead)
    while day.weekday() != 2 or day.isoformat() in CLOSED:
        day += timedelta(days=1)
    return day


def together(calls: list, worker) -> list:
    """Run ``worker(*call)`` for every call in its own thread, all released at once; return the results in order."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def run(index, call):
        barrier.wait(timeout=60)
        try:
            results[index] = worker(*call)
        except Exception as error:  # noqa: BLE001 - reported to the test as a result
            results[index] = error

    threads = [threading.Thread(target=run, args=(index, call)) for index, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=180)
    return results


class HangingMailServer:
    """A TCP server on 127.0.0.1 that accepts connections and never says a word, like a mail server that hangs."""

    def __init__(self, port: int = 0):
        self._socket = socket.socket()
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind(("127.0.0.1", port))
        self._socket.listen(64)
        self.port = self._socket.getsockname()[1]
        self._held: list[socket.socket] = []
        self._stopped = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                connection, _ = self._socket.accept()
            except OSError:
                return
            self._held.append(connection)

    def close(self) -> None:
        """Stop listening and drop every held connection (the port is free again)."""
        self._stopped.set()
        with contextlib.suppress(OSError):  # not connected: nothing to shut down
            self._socket.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread
        for connection in [self._socket, *self._held]:
            with contextlib.suppress(OSError):  # already closed by the other side
                connection.close()
