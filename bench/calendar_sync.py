"""How fast changes in Google Calendar reach the widget, and what an idle connection costs in Google calls.

Everything runs against the Google stand-in of the test suite (tests/google_standin.py: OAuth and
Calendar v3 on 127.0.0.1, a random free port), which the real google-api-python-client talks to.  The
app (CALENDAR_BACKEND=google, a temporary SQLite database with the migrations applied) is connected
through its real admin pages and consent redirect; it watches the primary calendar.  No request leaves
127.0.0.1.

1. Latency, on the real clock.  A busy event is added in the stand-in's primary calendar over a slot
   ``GET /api/slots`` offers; the figure is the seconds from that change until ``GET /api/slots`` (the
   app's test client, asked every 50 ms) no longer offers the slot.  The run-jobs loop runs in a thread
   of the same process, as ``flask run-jobs`` does (one round, then sleep JOBS_INTERVAL), so it shares
   the web side's free/busy cache (as it does with REDIS_URL; see bench/README.md).

   - push: PUBLIC_URL is https, so the app opens a channel; the stand-in's notifications are posted
     to ``POST /google/notifications`` (through a test client) every 50 ms, i.e. without Google's
     own delay; JOBS_INTERVAL=1, CALENDAR_SYNC_MINUTES=5 (the default).
   - polling only: PUBLIC_URL is http (push off), CALENDAR_SYNC_MINUTES=1 (the smallest allowed),
     JOBS_INTERVAL=1.  The changes are made at evenly spread moments of the sync period
     ((i + 0.5) / n of a minute after the last sync round), so the figures cover the whole period.

2. Idle calls, on a simulated clock (the app's clock, shared by the stand-in).  Connected, nothing
   changing, no visitors: ``run-jobs`` rounds are run back to back with the clock moved JOBS_INTERVAL
   on before each, over the simulated hours asked for, after one settling round.  The stand-in counts
   every request it gets, by kind (events.list, events.watch, channels.stop, freeBusy, calendarList,
   token refreshes...); the table gives them per simulated hour, with push on (JOBS_INTERVAL=5) and
   push off (JOBS_INTERVAL=60), both CALENDAR_SYNC_MINUTES=5.  google-auth's own clock (when an
   access token is due for a refresh) follows the simulated clock too.  Goal: only the periodic sync
   (events.list) and channel renewals (events.watch); the token refresh those calls need (an access
   token lasts an hour, so about one an hour) is counted and shown, and allowed.

Run from the repository root:

    .venv/bin/python bench/calendar_sync.py [--push-repeat 5] [--poll-repeat 3] [--idle-hours 3]

Written: bench/results/calendar_sync.json (the latency medians, reported, and the idle goal).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlsplit

# Run as a script, Python puts bench/ on the path, not the repository root.
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# The stand-in speaks plain http on 127.0.0.1: oauthlib must be told that is fine.
os.environ.setdefault("OAUTHLIB_INSECURE_TRANSPORT", "1")
os.environ.setdefault("OAUTHLIB_RELAX_TOKEN_SCOPE", "1")

import google.auth._helpers  # noqa: E402
import requests  # noqa: E402

from tests.google_standin import DEFAULT_CALENDAR_ID, GoogleStandIn  # noqa: E402
from tests.support import Admin, csrf_token, make_app  # noqa: E402
from widget import outbox  # noqa: E402
from widget.booking.calendar_changes import LAST_ROUND  # noqa: E402
from widget.cli import run_jobs_once  # noqa: E402
from widget.extensions import db  # noqa: E402
from widget.models import Setting  # noqa: E402

UTC = timezone.utc
HTTPS = "https://widget.test"
HTTP = "http://widget.test"
POLL = 0.05  # seconds between two looks at the slots, and between two deliveries of push messages
GIVE_UP = 150.0  # seconds: a change not seen by then counts as missed
RESULTS = ROOT / "bench" / "results" / "calendar_sync.json"


def new_app(directory: str, standin: GoogleStandIn, public_url: str, **settings):
    """Create an app on the Google backend, pointed at the stand-in, on a fresh SQLite database."""
    standin.redirect_uris.append(f"{public_url}/oauth2callback")
    logging.disable(logging.INFO)  # the migrations' log lines
    app = make_app(
        Path(directory),
        CALENDAR_BACKEND="google",
        GOOGLE_CLIENT_ID=standin.client_id,
        GOOGLE_CLIENT_SECRET=standin.client_secret,
        GOOGLE_AUTH_URI=standin.auth_uri,
        GOOGLE_TOKEN_URI=standin.token_uri,
        GOOGLE_API_ENDPOINT=standin.api_endpoint,
        PUBLIC_URL=public_url,
        MAIL_SERVER="127.0.0.1",
        **settings,
    )
    logging.disable(logging.NOTSET)
    return app


def connect(app, public_url: str) -> None:
    """Connect Google Calendar through the admin pages and the stand-in's consent page."""
    client = app.test_client()
    admin = Admin(app, client)
    admin.set_password()
    admin.login()
    page = client.get("/admin/google")
    consent = client.post("/admin/google/connect", data={"csrf_token": csrf_token(page.text)}).headers["Location"]
    back = requests.get(consent, allow_redirects=False, timeout=5).headers["Location"]
    assert back.startswith(f"{public_url}/oauth2callback?"), back
    parts = urlsplit(back)
    client.get(f"{parts.path}?{parts.query}")
    assert "Google Calendar is connected" in client.get("/admin/google").text


def deliver_push(app, standin: GoogleStandIn) -> None:
    """Send the stand-in's push messages through a test client of the app (its PUBLIC_URL is not served)."""

    def post(address: str, headers: dict[str, str]) -> int:
        return app.test_client().post(urlsplit(address).path, headers=headers).status_code

    standin.push_transport = post


def first_free_slot(client, today) -> tuple[str, str, datetime]:
    """Return (day, start as the API writes it, start) of the first slot offered three or more days ahead."""
    for ahead in range(3, 30):
        day = (today + timedelta(days=ahead)).isoformat()
        answer = client.get(f"/api/slots?service=massage-60&start={day}&end={day}")
        slots = answer.json["slots"]
        if slots:
            return day, slots[0]["start"], datetime.fromisoformat(slots[0]["start"])
    raise RuntimeError("no free slot in the next 30 days")


def offered(client, day: str, start: str) -> bool:
    answer = client.get(f"/api/slots?service=massage-60&start={day}&end={day}")
    return start in [slot["start"] for slot in answer.json["slots"]]


class JobsLoop:
    """``flask run-jobs`` in a thread: a round, then JOBS_INTERVAL seconds of sleep, until stopped."""

    def __init__(self, app, standin: GoogleStandIn, push: bool):
        self.app, self.standin, self.push = app, standin, push
        self.stopping = threading.Event()
        self.errors: list[str] = []
        self.threads = [threading.Thread(target=self._jobs, daemon=True)]
        if push:
            self.threads.append(threading.Thread(target=self._deliver, daemon=True))

    def _jobs(self) -> None:
        interval = self.app.config["JOBS_INTERVAL"]
        with self.app.app_context():
            worker = outbox.worker_name()
            while not self.stopping.is_set():
                try:
                    run_jobs_once(worker)
                except Exception as error:  # noqa: BLE001 - recorded and printed, like run-jobs logs it
                    db.session.rollback()
                    self.errors.append(repr(error))
                self.stopping.wait(interval)

    def _deliver(self) -> None:
        while not self.stopping.wait(POLL):
            self.standin.deliver_notifications()

    def __enter__(self) -> JobsLoop:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=30)


def last_sync_round(app) -> datetime | None:
    """Return when run-jobs last took a polling round (its claim in the settings table)."""
    with app.app_context():
        row = db.session.get(Setting, LAST_ROUND)
        value = row.value if row is not None else None
        db.session.commit()
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC) if value else None


def latency_run(standin: GoogleStandIn, push: bool, repeat: int) -> tuple[list[float], list[str]]:
    """Measure ``repeat`` changes; return the seconds each took to leave the slots (inf if never), and notes."""
    with tempfile.TemporaryDirectory(prefix="widget-bench-") as directory:
        if push:
            app = new_app(directory, standin, HTTPS, JOBS_INTERVAL="1")
            deliver_push(app, standin)
        else:
            app = new_app(directory, standin, HTTP, JOBS_INTERVAL="1", CALENDAR_SYNC_MINUTES="1")
        del app.extensions["clock"]  # the real clock
        connect(app, HTTPS if push else HTTP)
        channels = len(standin.channels())
        client = app.test_client()
        period = app.config["CALENDAR_SYNC_MINUTES"] * 60
        seconds: list[float] = []
        with JobsLoop(app, standin, push) as loop:
            time.sleep(1.5)  # the first round: the first sync, the channel's "sync" message
            for index in range(repeat):
                day, start, begins = first_free_slot(client, datetime.now(UTC).date())
                if not push:
                    # Change at (index + 0.5) / repeat of the sync period after the last round.
                    wait_until = last_sync_round(app) + timedelta(seconds=(index + 0.5) / repeat * period)
                    while datetime.now(UTC) < wait_until:
                        time.sleep(0.05)
                changed = time.monotonic()
                standin.add_event(DEFAULT_CALENDAR_ID, begins, begins + timedelta(minutes=60), summary="Busy")
                while offered(client, day, start) and time.monotonic() - changed < GIVE_UP:
                    time.sleep(POLL)
                seconds.append(time.monotonic() - changed if not offered(client, day, start) else float("inf"))
        notes = [f"channels open: {channels}"] + [f"run-jobs round failed: {error}" for error in loop.errors]
        return seconds, notes


def kind_of(method: str, path: str) -> str:
    """Name a request to the stand-in by the API method it is."""
    if path in ("/token", "/o/oauth2/token"):
        return "token refresh"
    if path.endswith("/events/watch"):
        return "events.watch"
    if path.endswith("/channels/stop"):
        return "channels.stop"
    if path.endswith("/freeBusy"):
        return "freeBusy"
    if path.endswith("/events") and method == "GET":
        return "events.list"
    if "/users/me/calendarList" in path:
        return "calendarList"
    return f"{method} {path}"


def idle_run(standin: GoogleStandIn, push: bool, hours: float) -> tuple[Counter, int, list[str]]:
    """Run run-jobs rounds over ``hours`` simulated hours with nothing changing; return calls by kind, rounds, notes."""
    with tempfile.TemporaryDirectory(prefix="widget-bench-") as directory:
        interval = 5 if push else 60
        app = new_app(directory, standin, HTTPS if push else HTTP, JOBS_INTERVAL=str(interval))
        clock = app.extensions["clock"]
        standin.clock = clock
        # google-auth decides when the access token is due for a refresh by its own clock: the simulated one too.
        real_utcnow = google.auth._helpers.utcnow
        google.auth._helpers.utcnow = lambda: clock.now.astimezone(UTC).replace(tzinfo=None)
        deliver_push(app, standin)
        connect(app, HTTPS if push else HTTP)
        notes: list[str] = []
        with app.app_context():
            worker = outbox.worker_name()
            run_jobs_once(worker)  # settle: the first sync and (push) the channel, then count from here
            standin.deliver_notifications()
            standin.reset_calls()
            end = clock.now + timedelta(hours=hours)
            rounds = 0
            while clock.now + timedelta(seconds=interval) <= end:
                clock.now += timedelta(seconds=interval)
                outcome = run_jobs_once(worker)
                standin.deliver_notifications()  # a renewal's "sync" message, if any
                rounds += 1
                if outcome.get("error") or any("failed" in key for key in outcome):
                    notes.append(f"round {rounds}: {outcome}")
        google.auth._helpers.utcnow = real_utcnow
        calls = Counter(kind_of(method, path) for method, path in standin.calls)
        return calls, rounds, notes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--push-repeat", type=int, default=5, help="changes measured with push (default 5)")
    parser.add_argument("--poll-repeat", type=int, default=3, help="changes measured by polling, ~1 min each (3)")
    parser.add_argument("--idle-hours", type=float, default=3.0, help="simulated idle hours per run (default 3)")
    args = parser.parse_args()

    print("Google Calendar changes reaching the widget (stand-in on 127.0.0.1, real client libraries)")
    print("\nLatency, real clock: busy event added in Google -> GET /api/slots no longer offers the slot")
    runs = [
        ("push (https PUBLIC_URL), JOBS_INTERVAL=1", True, args.push_repeat),
        ("polling only (http), CALENDAR_SYNC_MINUTES=1, JOBS_INTERVAL=1", False, args.poll_repeat),
    ]
    found = []
    for label, push, repeat in runs:
        with GoogleStandIn() as standin:
            seconds, notes = latency_run(standin, push, repeat)
            errors = standin.internal_errors
        shown = " ".join("missed" if s == float("inf") else f"{s:.2f}" for s in seconds)
        seen = all(s != float("inf") for s in seconds)
        found.append(
            {
                "measure": f"Google change -> slots, {'push' if push else 'polling only, every minute'}, median (max)",
                "figure": f"{statistics.median(seconds):.2f} s ({max(seconds):.2f} s)",
                "goal": "reported; every change seen",
                "ok": seen,
            }
        )
        print(f"  {label}")
        print(f"    median {statistics.median(seconds):.2f} s, max {max(seconds):.2f} s  (each, s: {shown})")
        for note in notes + [f"stand-in error: {e}" for e in errors]:
            print(f"    {note}")

    print(f"\nIdle calls, simulated clock: {args.idle_hours:g} h, nothing changing, no visitors; per hour by kind")
    goal_met = True
    for label, push in (("push on, JOBS_INTERVAL=5", True), ("push off, JOBS_INTERVAL=60", False)):
        with GoogleStandIn() as standin:
            calls, rounds, notes = idle_run(standin, push, args.idle_hours)
        total = sum(calls.values()) / args.idle_hours
        kinds = ", ".join(f"{kind} {count / args.idle_hours:g}" for kind, count in sorted(calls.items())) or "none"
        print(f"  {label}, CALENDAR_SYNC_MINUTES=5: {rounds} rounds, {total:g} calls/h: {kinds}")
        for note in notes:
            print(f"    {note}")
        # An access token lasts an hour: the periodic sync needs a refresh an hour, and that is part of it.
        extra = set(calls) - {"events.list", "events.watch", "token refresh"}
        if calls["token refresh"] > args.idle_hours + 1:
            extra.add("token refresh (more than one an hour)")
        if extra:
            goal_met = False
            print(f"    beyond the periodic sync and channel renewals: {', '.join(sorted(extra))}")
        found.append(
            {
                "measure": f"Google calls per idle hour, {label.split(',')[0]}",
                "figure": f"{total:g} ({kinds})",
                "goal": "periodic sync and renewals only",
                "ok": not extra,
            }
        )
    print(f"\nGoal (idle: only the periodic sync and channel renewals): {'met' if goal_met else 'missed'}")
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(found, indent=2) + "\n")
    print(f"written: {RESULTS.relative_to(ROOT)}")
    return 0 if goal_met else 1


if __name__ == "__main__":
    sys.exit(main())
