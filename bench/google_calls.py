"""Count Google freeBusy calls per 1,000 widget views, with one gunicorn worker and with four sharing Redis.

The test suite's Google stand-in (tests/google_standin.py: OAuth and Calendar v3) is served on
127.0.0.1 from this process, and counts every request it gets.  Our app runs under gunicorn as
deployed (sync workers, WIDGET_ENV=production, PostgreSQL, Redis, CALENDAR_BACKEND=google,
FREEBUSY_CACHE_SECONDS=60, the real google-api-python-client talking to the stand-in).  The calendar
is connected first through the admin pages and the stand-in's consent redirect, by an app in this
process on the same database; then gunicorn starts, and the stand-in's count starts from zero.

A widget view is what a visitor's browser asks for when the widget opens on a service: the day grid
(``GET /book?service=massage-60``) and the next seven days' times (``GET /api/slots``, 7 days).  The
views (1,000 by default) are spread evenly over a stretch of real time (75 s by default, so that the
60-second answers expire along the way), 8 at a time at most.  Every answer must be a 200.

Goal (issue 13): at most one freeBusy call per expiry in all, whatever the number of workers: the
first answer, then one refresh per 60 seconds that passed (1 + whole expiries within the run).

Also measured, on each server after its views: the resident memory (VmRSS, /proc/<pid>/status) of
every gunicorn worker, reported.

Run from the repository root (PostgreSQL and Redis must be running):

    .venv/bin/python bench/google_calls.py [--views 1000] [--seconds 75] [--postgres URL] [--redis URL]

The PostgreSQL database ``<name>_google`` of --postgres (default BENCH_POSTGRES_URL, else bench) is
emptied and created as needed; the Redis database of --redis (default BENCH_REDIS_URL, else db 14) is
flushed before each run.  Written: bench/results/google_calls.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# The stand-in speaks plain http on 127.0.0.1: oauthlib must be told that is fine.
os.environ.setdefault("OAUTHLIB_INSECURE_TRANSPORT", "1")
os.environ.setdefault("OAUTHLIB_RELAX_TOKEN_SCOPE", "1")

import calendar_sync  # noqa: E402 - bench/calendar_sync.py: connecting Google through the admin pages
import comments as load_tools  # noqa: E402 - bench/comments.py: the servers and their helpers
from sqlalchemy.engine import make_url  # noqa: E402

from tests.google_standin import GoogleStandIn  # noqa: E402

GUNICORN = ROOT / ".venv" / "bin" / "gunicorn"
RESULTS = ROOT / "bench" / "results" / "google_calls.json"
SECRET = "google-calls-bench-" + "k" * 40
PUBLIC_URL = "http://widget.test"
EXPIRY = 60
DENVER = "America/Denver"
IN_FLIGHT = 8


def settings(standin: GoogleStandIn, database: str, redis: str) -> dict[str, str]:
    """Return the settings both the connecting app and the servers run with."""
    return {
        "SECRET_KEY": SECRET,
        "DATABASE_URL": database,
        "REDIS_URL": redis,
        "PUBLIC_URL": PUBLIC_URL,
        "CALENDAR_BACKEND": "google",
        "GOOGLE_CLIENT_ID": standin.client_id,
        "GOOGLE_CLIENT_SECRET": standin.client_secret,
        "GOOGLE_AUTH_URI": standin.auth_uri,
        "GOOGLE_TOKEN_URI": standin.token_uri,
        "GOOGLE_API_ENDPOINT": standin.api_endpoint,
        "FREEBUSY_CACHE_SECONDS": str(EXPIRY),
        "MAIL_SERVER": load_tools.LOOPBACK,
        "MAIL_PORT": "1",
    }


def connect(standin: GoogleStandIn, database: str, redis: str) -> None:
    """Migrate the empty database and connect Google Calendar through the admin pages, in this process."""
    from flask_migrate import upgrade

    from widget import create_app

    standin.redirect_uris.append(f"{PUBLIC_URL}/oauth2callback")
    logging.disable(logging.INFO)  # the migrations' log lines
    app = create_app(settings(standin, database, redis))
    with app.app_context():
        upgrade()
    logging.disable(logging.NOTSET)
    calendar_sync.connect(app, PUBLIC_URL)
    with app.app_context():
        from widget.extensions import db

        db.engine.dispose()


def environment(standin: GoogleStandIn, database: str, redis: str) -> dict[str, str]:
    """Return a server's environment: production settings, none inherited from the shell."""
    from config import Config

    names = {name for name in vars(Config) if name.isupper()} | {"WIDGET_ENV"}
    env = {name: value for name, value in os.environ.items() if name not in names}
    env.update(settings(standin, database, redis))
    env["WIDGET_ENV"] = "production"
    return env


def view_paths() -> list[str]:
    """Return the requests of one widget view: the day grid, then the next seven days' times."""
    from zoneinfo import ZoneInfo

    today = datetime.now(timezone.utc).astimezone(ZoneInfo(DENVER)).date()
    slots = f"/api/slots?service=massage-60&tz={DENVER}&start={today}&end={today + timedelta(days=6)}"
    return ["/book?service=massage-60", slots]


class TimedCalls(list):
    """The stand-in's list of calls, noting when each came (time.monotonic())."""

    def __init__(self):
        super().__init__()
        self.at: list[float] = []

    def append(self, call) -> None:
        super().append(call)
        self.at.append(time.monotonic())


def freebusy_calls(standin: GoogleStandIn, start: float) -> list[str]:
    """Describe each freeBusy call: seconds into the views, and the range asked."""
    moments = [at - start for (_, path), at in zip(standin.calls, standin.calls.at, strict=True) if "freeBusy" in path]
    asked = [r.json() or {} for r in standin.requests if r.path.endswith("/freeBusy")]
    return [
        f"{moment:.1f} s: {body.get('timeMin', '?')[:10]} to {body.get('timeMax', '?')[:10]}"
        for moment, body in zip(moments, asked, strict=False)
    ]


def views(port: int, count: int, seconds: float) -> tuple[Counter, float]:
    """Make ``count`` views spread evenly over ``seconds``; return the answers by status and the seconds taken."""
    paths = view_paths()
    statuses: Counter = Counter()
    lock = threading.Lock()
    next_view = iter(range(count))
    start = time.monotonic()

    def worker() -> None:
        while True:
            with lock:
                number = next(next_view, None)
            if number is None:
                return
            time.sleep(max(0.0, start + number * seconds / count - time.monotonic()))
            for path in paths:
                try:
                    status = load_tools.request(port, "GET", path)[0]
                except OSError as error:
                    status = type(error).__name__
                with lock:
                    statuses[status] += 1

    threads = [threading.Thread(target=worker) for _ in range(IN_FLIGHT)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses, time.monotonic() - start


def run(workers: int, database: str, redis_url: str, count: int, seconds: float) -> dict:
    """Serve the app with ``workers`` workers against a fresh stand-in; return what the views cost."""
    import redis

    load_tools.empty_postgres(database)
    redis.Redis.from_url(redis_url).flushdb()
    with GoogleStandIn() as standin, tempfile.TemporaryDirectory(prefix="google-calls-bench-") as folder:
        connect(standin, database, redis_url)
        port = load_tools.free_port()
        log = Path(folder) / "gunicorn.log"
        env = environment(standin, database, redis_url)
        with load_tools.gunicorn(GUNICORN, "wsgi:app", port, workers, env, ROOT, log) as process:
            load_tools.wait_ready("our app", process, port, "/api/services", log)
            standin.reset_calls()
            standin.calls = TimedCalls()
            begun = time.monotonic()
            statuses, taken = views(port, count, seconds)
            described = freebusy_calls(standin, begun)
            calls = Counter(
                "freeBusy" if path.endswith("/freeBusy") else "token" if "token" in path else f"{method} {path}"
                for method, path in list(standin.calls)
            )
            memory = load_tools.worker_memory(process.pid)
        errors = list(standin.internal_errors)
    if errors or set(statuses) != {200}:
        raise SystemExit(f"google calls bench: answers {dict(statuses)}; stand-in errors {errors[:3]}")
    return {
        "workers": workers,
        "calls": calls,
        "seconds": taken,
        "statuses": statuses,
        "memory": memory,
        "freebusy": described,
    }


def rows(found: dict, count: int) -> list[dict]:
    """Return one run's figures as bench/results rows."""
    workers = found["workers"]
    allowed = 1 + int(found["seconds"] // EXPIRY)
    calls = found["calls"]["freeBusy"]
    per_thousand = calls * 1000 / count
    memory = found["memory"]
    return [
        {
            "measure": f"Google freeBusy calls per 1,000 widget views, {workers} worker{'s' * (workers > 1)},"
            f" cache {EXPIRY} s, {found['seconds']:.0f} s of views",
            "figure": f"{per_thousand:g} ({calls} calls for {count} views; at most {allowed} allowed)",
            "goal": "<= 1 per expiry in all",
            "ok": calls <= allowed,
        },
        {
            "measure": f"resident memory per gunicorn worker (VmRSS after warm reads), {workers} worker"
            f"{'s' * (workers > 1)}, Google backend",
            "figure": ", ".join(f"{mib:.0f} MiB" for mib in memory),
            "goal": "reported",
            "ok": bool(memory),
        },
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--views", type=int, default=1000, help="widget views per run (default 1000)")
    parser.add_argument("--seconds", type=float, default=75.0, help="seconds the views are spread over (default 75)")
    parser.add_argument(
        "--postgres",
        default=os.environ.get("BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/bench"),
        help="PostgreSQL server and base name: <name>_google is emptied and used",
    )
    parser.add_argument("--redis", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14"))
    args = parser.parse_args()
    # A TERM unwinds through the blocks that stop the servers and the stand-in.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    base = make_url(args.postgres)
    database = base.set(database=f"{base.database}_google").render_as_string(hide_password=False)
    print(f"Google freeBusy calls, {args.views} widget views over {args.seconds:g} s, FREEBUSY_CACHE_SECONDS={EXPIRY}")
    print(f"  a view: {' then '.join(view_paths())}; at most {IN_FLIGHT} at a time")
    found = []
    for workers in (1, 4):
        result = run(workers, database, args.redis, args.views, args.seconds)
        kinds = ", ".join(f"{kind} {n}" for kind, n in sorted(result["calls"].items()))
        memory = ", ".join(f"{mib:.1f}" for mib in result["memory"])
        print(f"  {workers} worker(s): {result['seconds']:.1f} s, Google calls: {kinds or 'none'}")
        print(f"    answers: {dict(result['statuses'])}; worker VmRSS, MiB: {memory}")
        for line in result["freebusy"]:
            print(f"    freeBusy at {line}")
        found += rows(result, args.views)
    print()
    for row in found:
        print(f"  {row['measure']:<100} {row['figure']:<40} goal {row['goal']:<24} {'ok' if row['ok'] else 'MISSED'}")
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(found, indent=2) + "\n")
    print(f"\nwritten: {RESULTS.relative_to(ROOT)}")
    return 0 if all(row["ok"] for row in found) else 1


if __name__ == "__main__":
    sys.exit(main())
