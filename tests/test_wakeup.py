"""The jobs runner is woken by a commit that queues side effects: NOTIFY on PostgreSQL, Redis elsewhere."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import event, text

from tests.support import make_app, shared_database
from widget import outbox, wakeup
from widget.extensions import db


def _queue_in_thread(app, key: str, delay: float = 0.3) -> threading.Thread:
    """Commit one outbox row from another thread after ``delay`` seconds, as a web worker would."""

    def queue():
        time.sleep(delay)
        with app.app_context(), outbox.unit_of_work() as work:
            work.queue(key, "email", {"to": ["ada@example.com"]})

    thread = threading.Thread(target=queue)
    thread.start()
    return thread


@pytest.mark.parametrize("source", ["postgresql", "redis"])
def test_a_commit_that_queues_rows_wakes_the_runner_at_once(tmp_path, request, source):
    if source == "postgresql":
        app = make_app(tmp_path, shared_database("postgresql", tmp_path), JOBS_POLL_SECONDS="3")
    else:
        app = make_app(tmp_path, REDIS_URL=request.getfixturevalue("redis_url"), JOBS_POLL_SECONDS="3")
    with app.app_context():
        listener = wakeup.Listener(app)
        assert listener.source == source
        try:
            assert listener.wait() is False  # nothing queued: it waits the whole poll interval...
            thread = _queue_in_thread(app, "first")
            started = time.monotonic()
            assert listener.wait() is True  # ...and wakes at the commit, long before the 3 s
            assert time.monotonic() - started < 1.5
            thread.join()
        finally:
            listener.close()
            db.engine.dispose()


def test_without_postgresql_or_redis_the_runner_polls(tmp_path):
    app = make_app(tmp_path, JOBS_POLL_SECONDS="1")
    with app.app_context():
        listener = wakeup.Listener(app)
        assert listener.source == "poll"
        started = time.monotonic()
        assert listener.wait() is False
        assert 0.9 <= time.monotonic() - started < 3


def test_on_postgresql_any_insert_into_the_outbox_wakes_the_runner_in_no_statement_of_its_own(tmp_path):
    """The outbox's trigger sends the NOTIFY: a plain INSERT wakes the runner, a rolled-back one does not."""
    app = make_app(tmp_path, shared_database("postgresql", tmp_path), JOBS_POLL_SECONDS="2")
    with app.app_context():
        listener = wakeup.Listener(app)
        try:
            with db.engine.connect() as connection:
                transaction = connection.begin()
                connection.execute(text(INSERT), {"key": "rolled-back"})
                transaction.rollback()
            assert listener.wait() is False  # the whole poll interval: nothing was committed

            statements = []
            with db.engine.connect() as connection:
                event.listen(connection, "before_cursor_execute", lambda *args: statements.append(args[2]))
                with connection.begin():
                    connection.execute(text(INSERT), {"key": "plain"})
            started = time.monotonic()
            assert listener.wait() is True
            assert time.monotonic() - started < 1
            assert not [statement for statement in statements if "notify" in statement.lower()], statements
        finally:
            listener.close()
            db.engine.dispose()


INSERT = (
    "INSERT INTO outbox (key, kind, payload, status, attempts, next_attempt_at, created_at)"
    " VALUES (:key, 'email', '{}', 'pending', 0, now(), now())"
)
