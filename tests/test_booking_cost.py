"""What one booking costs the database: statements and commits of one POST /api/bookings, counted."""

from __future__ import annotations

import pytest
from sqlalchemy import event, select

from tests.support import BOOKING, make_app, shared_database
from widget.extensions import db
from widget.models import OutboxMessage

# What this code takes (the limits are its measured counts): on PostgreSQL two reads (bookings, the calendar),
# the locks, the daily limit and the client's cap under them, the booking and its three outbox rows in one
# INSERT, all in one transaction (the outbox's trigger wakes the jobs runner); SQLite has three BEGINs of its own
# and no locks, but inserts rows one at a time.
# The request sends nothing itself.  (Before: about 37 statements and 21 commits, sending in the request.)
# Without Redis (one process, or `make run`'s two) the calendar version lives in the database, bumped in the
# booking's own transaction so that the jobs runner and every other process see the change: one statement more.
MOST_STATEMENTS = {"postgresql": 7, "sqlite": 10}
VERSION_IN_DATABASE = 1
MOST_COMMITS = 1


class Counter:
    """Counts the statements and commits an engine runs while it is attached."""

    def __init__(self, engine):
        self.engine, self.statements, self.commits = engine, [], 0

    def _statement(self, conn, cursor, statement, params, context, executemany):
        self.statements.append(" ".join(statement.split()))

    def _commit(self, conn):
        self.commits += 1

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self._statement)
        event.listen(self.engine, "commit", self._commit)
        return self

    def __exit__(self, *exc):
        event.remove(self.engine, "before_cursor_execute", self._statement)
        event.remove(self.engine, "commit", self._commit)


@pytest.fixture(params=["sqlite", "postgresql", "postgresql+redis"])
def cost_app(request, tmp_path):
    """Return an app on a fresh database of each kind, and on PostgreSQL with Redis, as deployed."""
    dialect, _, store = request.param.partition("+")
    overrides = {"REDIS_URL": request.getfixturevalue("redis_url")} if store else {}
    app = make_app(tmp_path, shared_database(dialect, tmp_path), **overrides)
    app.config["DIALECT"] = dialect
    app.config["MOST_STATEMENTS"] = MOST_STATEMENTS[dialect] + (0 if store else VERSION_IN_DATABASE)
    return app


def test_one_booking_takes_few_statements_and_one_commit(cost_app):
    client = cost_app.test_client()
    # Warm: the first request loads the business rules and the like.
    assert client.get("/api/slots?service=massage-60&start=2026-11-25&end=2026-11-25").status_code == 200
    with cost_app.app_context():
        engine = db.engine
    with Counter(engine) as counted:
        response = client.post("/api/bookings", json=BOOKING)
    assert response.status_code == 201, response.json
    listing = "\n".join(counted.statements)
    assert len(counted.statements) <= cost_app.config["MOST_STATEMENTS"], listing
    assert counted.commits == MOST_COMMITS, listing
    # The side effects are queued, not sent: the three outbox rows wait for the jobs runner.
    assert not [s for s in counted.statements if s.startswith("UPDATE outbox")], listing
    with cost_app.app_context():
        statuses = db.session.scalars(select(OutboxMessage.status)).all()
    assert sorted(statuses) == ["pending"] * 3


def test_a_refused_booking_commits_nothing(cost_app):
    client = cost_app.test_client()
    assert client.post("/api/bookings", json=BOOKING).status_code == 201
    with cost_app.app_context():
        engine = db.engine
    with Counter(engine) as counted:
        response = client.post("/api/bookings", json={**BOOKING, "email": "bea@example.com", "phone": "801-555-0102"})
    assert response.status_code == 409
    assert counted.commits == 0, "\n".join(counted.statements)
