"""What a booking costs under production load, and what a mail server that hangs does to it.

One gunicorn (2 sync workers, ``WIDGET_ENV=production``) serves ``bench/bare_insert.py``: the app
itself plus one bare route, ``POST /bench/bare-insert``, that inserts one row and commits on the same
PostgreSQL database, so the two are measured on the same stack side by side.  Redis backs the rate
limits (set out of reach here).  The business rules are the example's without its daily limit, so
that a round has a few hundred free non-overlapping 30-minute slots to book; every round starts from
empty tables.

1. Throughput: 8 client threads keep requests in flight for ROUND seconds; ``POST /api/bookings``
   (each a new client and a free slot, the slots shuffled over eight weeks: every answer a 201) and
   the bare insert take turns, round after round, so whatever else the machine does falls on both
   alike.  The ratio is the median of each booking round's rate over the bare round right after it.
   A booking round that books every free slot (about 450) before ROUND seconds ends there, and its
   rate is taken over the time it ran.  Goal: bookings ≥ 0.3× the bare route.
2. Booking latency with a mail server that accepts connections and never answers (and the jobs runner
   running against it): sequential bookings, p95.  Goal: < 0.5 s, all 201.
3. Statements and commits of one booking, counted in-process with SQLAlchemy's events on the same
   database (as tests/test_booking_cost.py does).

Run from the repository root (PostgreSQL and Redis as for the tests; TEST_POSTGRES_URL and
TEST_REDIS_URL choose them; the database is emptied):

    .venv/bin/python bench/bookings.py [--round 3] [--rounds 3]

Writes bench/results/bookings.json: a list of {"measure", "figure", "goal", "ok"}.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import statistics
import sys
import tempfile
import threading
import time
from datetime import date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402
from sqlalchemy import event, text  # noqa: E402

from tests.support import BOOKING, EXAMPLE_RULES, POSTGRES_URL, REDIS_URL, make_app, reset_postgres  # noqa: E402
from tests.support.servers import (  # noqa: E402
    DENVER,
    SECRET,
    HangingMailServer,
    start_gunicorn,
    start_jobs_runner,
    stop,
)
from widget.extensions import db  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "bookings.json"
THREADS = 8
TABLES = "bookings, outbox, calendar_events"


def rules_without_daily_limit(folder: Path) -> Path:
    """Write the example rules without their daily limit; return the file."""
    lines = [line for line in Path(EXAMPLE_RULES).read_text().splitlines() if not line.startswith("daily_limit")]
    path = folder / "business.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def free_starts(first: date, days: int) -> list[datetime]:
    """Return non-overlapping 30-minute starts (45 minutes apart, clean-up included) on the open days ahead."""
    hours = {0: [(9, 12), (13, 18)], 1: [(9, 12), (13, 18)], 2: [(9, 12), (13, 18)], 3: [(9, 12), (13, 18)]}
    hours |= {4: [(9, 12), (13, 18)], 5: [(10, 14)]}
    starts = []
    for offset in range(days):
        day = first + timedelta(days=offset)
        if day.isoformat() in ("2026-12-24", "2026-12-25", "2027-01-01"):
            continue
        for opens, closes in hours.get(day.weekday(), []):
            start = datetime(day.year, day.month, day.day, opens, tzinfo=DENVER)
            while start + timedelta(minutes=30) <= datetime(day.year, day.month, day.day, closes, tzinfo=DENVER):
                starts.append(start)
                start += timedelta(minutes=45)
    return starts


def empty(app) -> None:
    """Remove every booking and outbox row, so that the next round finds every slot free."""
    with app.app_context():
        db.session.execute(text(f"TRUNCATE {TABLES}, bench_rows"))
        db.session.commit()


def load(url: str, bodies, seconds: float) -> tuple[float, list[int]]:
    """Keep THREADS requests in flight for ``seconds``; return 2xx answers per second, and the other statuses.

    A round that runs out of bodies (every free slot booked) ends early: its rate is over the time it took.
    """
    started = time.monotonic()
    stop_at = started + seconds
    done, others, lock = [0], [], threading.Lock()

    def client():
        session = requests.Session()
        while time.monotonic() < stop_at:
            with lock:
                body = next(bodies, None)
            if body is None:
                return
            status = session.post(url, json=body, timeout=60).status_code
            with lock:
                if 200 <= status < 300:
                    done[0] += 1
                else:
                    others.append(status)

    threads = [threading.Thread(target=client) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return done[0] / (time.monotonic() - started), others


def bodies_for(starts: list[datetime], tag: str):
    """Yield one booking request per free start, each from a new client."""
    for index, start in enumerate(starts):
        yield {
            "service": "massage-30",
            "start": start.isoformat(),
            "name": f"Client {tag}{index}",
            "email": f"client-{tag}-{index}@example.com",
            "phone": f"801-555-{index % 10000:04d}",
        }


def statements_per_booking(app) -> tuple[int, int]:
    """Count the statements and commits of one POST /api/bookings, in-process on the same database."""
    client = app.test_client()
    client.get("/api/slots?service=massage-60&start=2026-11-25&end=2026-11-25")
    counted = {"statements": 0, "commits": 0}
    with app.app_context():
        engine = db.engine

    def on_statement(*_):
        counted["statements"] += 1

    def on_commit(*_):
        counted["commits"] += 1

    event.listen(engine, "before_cursor_execute", on_statement)
    event.listen(engine, "commit", on_commit)
    try:
        response = client.post("/api/bookings", json=BOOKING)
    finally:
        event.remove(engine, "before_cursor_execute", on_statement)
        event.remove(engine, "commit", on_commit)
    assert response.status_code == 201, response.json
    return counted["statements"], counted["commits"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--round", type=float, default=3.0, help="seconds of load per round (default 3)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of each kind, interleaved (default 3)")
    parser.add_argument("--hanging", type=int, default=40, help="bookings timed with a hanging mail server")
    options = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="bench-bookings-"))
    rules = rules_without_daily_limit(folder)
    reset_postgres()
    app = make_app(folder, POSTGRES_URL, SECRET_KEY=SECRET, BUSINESS_CONFIG=str(rules))
    with app.app_context():
        db.session.execute(text("CREATE TABLE bench_rows (id serial PRIMARY KEY, created_at timestamptz)"))
        db.session.commit()
    statements, commits = statements_per_booking(app)
    empty(app)
    app.extensions.pop("clock")  # the servers run on the real clock; so does this process
    with app.app_context():
        db.engine.dispose()

    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()
    hanging = HangingMailServer()
    settings = {
        "DATABASE_URL": POSTGRES_URL,
        "REDIS_URL": REDIS_URL,
        "BUSINESS_CONFIG": str(rules),
        "BOOKING_RATE_LIMIT": "1000000 per hour",
        "MAX_FUTURE_BOOKINGS": "1000",
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": str(hanging.port),
        "THERAPIST_EMAIL": "therapist@studio.example",
    }
    first = datetime.now(DENVER).date() + timedelta(days=2)
    starts = free_starts(first, 56)
    # Spread over the weeks, as real bookings are: two at once rarely wait on one studio day's lock.
    random.Random(1).shuffle(starts)
    server, base = start_gunicorn(2, "bench.bare_insert:app", **settings)
    runner = start_jobs_runner(**settings)
    booking_rates, bare_rates, failures = [], [], []
    latencies = []
    try:
        for round_number in range(options.rounds):
            empty(app)
            rate, others = load(f"{base}/api/bookings", bodies_for(starts, f"r{round_number}"), options.round)
            booking_rates.append(rate)
            failures.extend(others)
            rate, others = load(f"{base}/bench/bare-insert", itertools.repeat({}), options.round)
            bare_rates.append(rate)
            failures.extend(others)
        empty(app)
        session = requests.Session()
        statuses = []
        for body in itertools.islice(bodies_for(starts, "hang"), options.hanging):
            started = time.monotonic()
            statuses.append(session.post(f"{base}/api/bookings", json=body, timeout=60).status_code)
            latencies.append(time.monotonic() - started)
    finally:
        stop(server)
        stop(runner)
        hanging.close()

    bookings_per_second = statistics.median(booking_rates)
    bare_per_second = statistics.median(bare_rates)
    ratios = [booked / bare for booked, bare in zip(booking_rates, bare_rates, strict=True) if bare]
    ratio = statistics.median(ratios) if ratios else 0.0
    p95 = statistics.quantiles(latencies, n=20)[-1]
    rows = [
        {
            "measure": "POST /api/bookings, requests/s (gunicorn 2 workers, PostgreSQL, 8 in flight)",
            "figure": f"{bookings_per_second:.1f} (rounds: {', '.join(f'{r:.1f}' for r in booking_rates)})",
            "goal": "",
            "ok": not failures,
        },
        {
            "measure": "bare route inserting one row and committing, requests/s (same stack, same database)",
            "figure": f"{bare_per_second:.1f} (rounds: {', '.join(f'{r:.1f}' for r in bare_rates)})",
            "goal": "",
            "ok": True,
        },
        {
            "measure": "POST /api/bookings vs bare insert route",
            "figure": f"{ratio:.2f}x (rounds: {', '.join(f'{r:.2f}' for r in ratios)})",
            "goal": ">= 0.3x",
            "ok": ratio >= 0.3,
        },
        {
            "measure": f"booking p95 with a mail server that hangs ({len(latencies)} bookings, jobs runner on)",
            "figure": f"{p95 * 1000:.0f} ms, statuses {sorted(set(statuses))}",
            "goal": "< 500 ms, all 201",
            "ok": p95 < 0.5 and set(statuses) == {201},
        },
        {
            "measure": "SQL statements per booking (PostgreSQL, counted in-process)",
            "figure": str(statements),
            "goal": "as few as it needs (was about 37)",
            "ok": statements <= 8,
        },
        {
            "measure": "commits per booking",
            "figure": str(commits),
            "goal": "1 (was 21)",
            "ok": commits == 1,
        },
    ]
    if failures:
        unexpected = str(sorted(set(failures)))
        rows.append({"measure": "unexpected answers", "figure": unexpected, "goal": "none", "ok": False})
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(rows, indent=2) + "\n")
    width = max(len(row["measure"]) for row in rows)
    for row in rows:
        mark = "ok" if row["ok"] else "MISSED"
        print(f"{row['measure']:<{width}}  {row['figure']:<40}  {row['goal']:<35}  {mark}")
    return 0 if all(row["ok"] for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
