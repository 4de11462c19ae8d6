"""Measure what the widget's reads cost, side by side with a bare route on the same stack.

Starts our app under gunicorn (2 sync workers, WIDGET_ENV=production, PostgreSQL, Redis), four
times at once: on a database with no history and on one holding 10,000 past bookings (a fifth of
them cancelled), each with the free-times cache on and off (SLOTS_CACHE_SECONDS=0: every read
queries the database, which shows what history costs the queries themselves).  Both databases
hold the same upcoming bookings (two on every weekday of the next 60 days).  Each app is this
repository's ``create_app()`` plus one route the shipped app does not have, ``GET /bench/bare``,
which answers "ok": the floor of the stack (gunicorn, Flask, the app's request hooks).

Measured, the loads taking turns round after round (so the ratios hold even when the machine is
busy with other work): the bare route; ``GET /api/slots`` over 7 days and over 60 days; the day
grid (``/book?service=…``); the times page (``/book?service=…&date=…``); and the same reads on the
other servers.  Where the cache is on it is warm, as it is for every visitor but the first after a
change.  Each ratio is the median over rounds of the two figures measured in the same round, each
read against the bare route of its own server.  Printed: requests/s, latency, and the ratios with
the goals from the issue, and the resident memory (VmRSS from /proc/<pid>/status) of each gunicorn
worker of the server without history, after the warm reads.  Written: bench/results/reads.json.

Run from the repository root (PostgreSQL and Redis must be running):

    .venv/bin/python bench/reads.py [--postgres URL] [--redis URL] [--rounds N] [--seconds S]

The PostgreSQL databases ``<name>`` and ``<name>_history`` of --postgres are emptied and created
as needed; the Redis database of --redis is flushed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from contextlib import ExitStack
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import comments as load_tools  # noqa: E402 - bench/comments.py: the servers and the load generator
from sqlalchemy import text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

GUNICORN = ROOT / ".venv" / "bin" / "gunicorn"
RESULTS = ROOT / "bench" / "results" / "reads.json"
HISTORY = 10_000
DENVER = "America/Denver"

# The app gunicorn loads: the shipped factory, plus the bare route.
APP_MODULE = """
from widget import create_app

app = create_app()


@app.get("/bench/bare")
def bare():
    return "ok"
"""


def environment(database: str, redis: str) -> dict[str, str]:
    """Return the environment of one server: production settings, none inherited from the shell."""
    from config import Config

    settings = {name for name in vars(Config) if name.isupper()} | {"WIDGET_ENV"}
    env = {name: value for name, value in os.environ.items() if name not in settings}
    env.update(
        {
            "WIDGET_ENV": "production",
            "SECRET_KEY": "reads-bench-" + "k" * 40,
            "DATABASE_URL": database,
            "REDIS_URL": redis,
            "PUBLIC_URL": "http://127.0.0.1:5000",
            "MAIL_SERVER": load_tools.LOOPBACK,
            "MAIL_PORT": "1",
        }
    )
    return env


BOOKING_COLUMNS = (
    "id, service_id, status, start_at, end_at, blocked_start, blocked_end, name, email, phone, notes,"
    " client_timezone, phone_key, sequence, created_at, updated_at"
)


def seed(url: str, redis: str, history: int) -> None:
    """Migrate an empty database and add the upcoming bookings, and ``history`` past ones."""
    from flask_migrate import upgrade

    from widget import create_app

    load_tools.empty_postgres(url)
    app = create_app({"DATABASE_URL": url, "REDIS_URL": redis, "SECRET_KEY": "reads-bench-" + "k" * 40})
    with app.app_context():
        upgrade()
        from widget.extensions import db

        # Two bookings every weekday of the next 60 days, at 10:00 and 15:00 in Denver (17:00, 22:00 UTC).
        db.session.execute(
            text(
                f"INSERT INTO bookings ({BOOKING_COLUMNS})"
                " SELECT 'soon' || n, 'massage-60', 'confirmed', t, t + interval '1 hour', t,"
                " t + interval '75 minutes', 'Soon Client', 'soon' || n || '@example.com', '801-555-0101', '',"
                " 'America/Denver', '8015550101', 0, now(), now()"
                " FROM (SELECT n, date_trunc('day', now()) + (n / 2 + 1) * interval '1 day'"
                " + CASE WHEN n % 2 = 0 THEN interval '17 hours' ELSE interval '22 hours' END AS t"
                " FROM generate_series(0, 119) AS n) AS upcoming"
                " WHERE extract(isodow FROM t AT TIME ZONE 'America/Denver') < 6"
            )
        )
        if history:
            db.session.execute(
                text(
                    f"INSERT INTO bookings ({BOOKING_COLUMNS})"
                    " SELECT 'past' || n, 'massage-60', CASE WHEN n % 5 = 0 THEN 'cancelled' ELSE 'confirmed' END,"
                    " t, t + interval '1 hour', t, t + interval '75 minutes', 'Past Client',"
                    " 'client' || n || '@example.com', '801-555-0101', '', 'America/Denver', '8015550101', 0, t, t"
                    " FROM (SELECT n, date_trunc('day', now()) - interval '3 days' - n * interval '3 hours' AS t"
                    " FROM generate_series(1, :history) AS n) AS past"
                ),
                {"history": history},
            )
        db.session.commit()
        db.session.execute(text("ANALYZE"))
        db.session.commit()


def next_weekday(today: date) -> date:
    day = today + timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


SERVERS = {
    # name: (database, free-times cache on)
    "none": ("empty", True),
    "10k": ("history", True),
    "none, cache off": ("empty", False),
    "10k, cache off": ("history", False),
}


def loads(ports: dict[str, int]) -> list:
    """Return what is measured, in the order the table shows it; each load's ``server`` names its server."""
    from zoneinfo import ZoneInfo

    today = datetime.now(timezone.utc).astimezone(ZoneInfo(DENVER)).date()
    slots = f"/api/slots?service=massage-60&tz={DENVER}&start={today}&end="
    paths = {
        "bare route": "/bench/bare",
        "GET /api/slots, 7 days": f"{slots}{today + timedelta(days=6)}",
        "GET /api/slots, 60 days": f"{slots}{today + timedelta(days=59)}",
        "day grid": "/book?service=massage-60",
        "times page": f"/book?service=massage-60&date={next_weekday(today)}",
    }
    measured = {
        "none": list(paths),
        "10k": ["bare route", "GET /api/slots, 7 days", "GET /api/slots, 60 days", "day grid"],
        "none, cache off": ["bare route", "GET /api/slots, 7 days", "day grid"],
        "10k, cache off": ["bare route", "GET /api/slots, 7 days", "day grid"],
    }
    return [
        load_tools.Load(f"{what} [{server}]", server, ports[server], "GET", paths[what])
        for server, whats in measured.items()
        for what in whats
    ]


def ratio(results: dict, label: str, floor: str) -> float:
    """Return the median over rounds of one load's requests/s over another's, measured in the same round."""
    return statistics.median(a / b for a, b in zip(results[label].rounds, results[floor].rounds, strict=True))


def rows(results: list) -> list[dict]:
    """Return the figures against the goals, as bench/results/*.json rows."""
    by = {result.load.label: result for result in results}

    def row(measure: str, value: float, goal: float) -> dict:
        return {"measure": measure, "figure": f"{value:.2f}x", "goal": f">= {goal}x", "ok": value >= goal}

    found = [
        {
            "measure": "bare route, req/s (gunicorn, 2 sync workers)",
            "figure": f"{by['bare route [none]'].rate:.0f}",
            "goal": "(reference)",
            "ok": True,
        }
    ]
    for what, goal in (
        ("GET /api/slots, 7 days", 0.5),
        ("GET /api/slots, 60 days", 0.3),
        ("day grid", 0.4),
        ("times page", 0.4),
    ):
        found.append(row(f"{what}, warm, vs bare route", ratio(by, f"{what} [none]", "bare route [none]"), goal))
    # History: each read against its own server's bare route, then the server with history against the one without.
    for what, servers in (
        ("GET /api/slots, 7 days", ("none", "10k")),
        ("GET /api/slots, 60 days", ("none", "10k")),
        ("day grid", ("none", "10k")),
        ("GET /api/slots, 7 days", ("none, cache off", "10k, cache off")),
        ("day grid", ("none, cache off", "10k, cache off")),
    ):
        empty, history = servers
        value = ratio(by, f"{what} [{history}]", f"bare route [{history}]") / ratio(
            by, f"{what} [{empty}]", f"bare route [{empty}]"
        )
        off = ", free-times cache off" if "off" in empty else ", warm"
        found.append(row(f"{what}{off}, at 10,000 past bookings vs none", value, 0.9))
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--postgres",
        default=os.environ.get("BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/bench_reads"),
        help="PostgreSQL database for the app without history; <name>_history holds the other",
    )
    parser.add_argument("--redis", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14"))
    parser.add_argument("--rounds", type=int, default=3, help="turns each load takes (default 3)")
    parser.add_argument("--seconds", type=float, default=3.0, help="seconds measured per turn (default 3)")
    parser.add_argument("--concurrency", type=int, default=8, help="requests kept in flight (default 8)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers per server (default 2)")
    args = parser.parse_args()

    import redis

    redis.Redis.from_url(args.redis).flushdb()
    history_url = make_url(args.postgres).set(database=make_url(args.postgres).database + "_history")
    history_url = history_url.render_as_string(hide_password=False)
    print("seeding the databases ...", flush=True)
    seed(args.postgres, args.redis, 0)
    seed(history_url, args.redis, HISTORY)

    with tempfile.TemporaryDirectory(prefix="reads-bench-") as folder, ExitStack() as stack:
        folder = Path(folder)
        (folder / "reads_bench_app.py").write_text(APP_MODULE)
        ports = {name: load_tools.free_port() for name in SERVERS}
        masters = {}
        for name, (database, cached) in SERVERS.items():
            env = environment(history_url if database == "history" else args.postgres, args.redis)
            env["PYTHONPATH"] = f"{folder}{os.pathsep}{ROOT}"
            if not cached:
                env["SLOTS_CACHE_SECONDS"] = "0"
            log = folder / f"{name.replace(' ', '-').replace(',', '')}.log"
            app = "reads_bench_app:app"
            port = ports[name]
            process = stack.enter_context(load_tools.gunicorn(GUNICORN, app, port, args.workers, env, ROOT, log))
            load_tools.wait_ready("our app", process, port, "/bench/bare", log)
            masters[name] = process.pid
        measured = loads(ports)
        for load in measured:  # warm the free-times cache, and check every read answers 200
            status, body = load_tools.request(load.port, "GET", load.path)
            if status != 200:
                raise SystemExit(f"reads bench: {load.path} answered {status}: {body[:300]!r}")
        busy = load_tools.cpu_busy()
        results = load_tools.in_rounds(measured, args.rounds, args.concurrency, 1.0, args.seconds)
        memory = load_tools.worker_memory(masters["none"])

    print(f"\nreads under gunicorn, {args.workers} sync workers each, PostgreSQL + Redis, {args.concurrency} in flight")
    if busy > 0.1:
        print(f"  (warning: the CPU was {busy:.0%} busy with other work before the run: absolute figures are low)")
    load_tools.table(results)
    found = rows(results)
    found.append(
        {
            "measure": f"resident memory per gunicorn worker (VmRSS after warm reads), {args.workers} workers",
            "figure": ", ".join(f"{mib:.0f} MiB" for mib in memory),
            "goal": "reported",
            "ok": bool(memory),
        }
    )
    print()
    for row in found:
        mark = "ok" if row["ok"] else "MISSED"
        print(f"  {row['measure']:<78} {row['figure']:>8}  goal {row['goal']:<12} {mark}")
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(found, indent=2) + "\n")
    print(f"\nwritten: {RESULTS.relative_to(ROOT)}")
    return 0 if all(row["ok"] for row in found) else 1


if __name__ == "__main__":
    sys.exit(main())
