"""The outbox: several run-jobs processes deliver each row once; leases of dead processes; backoff."""

from __future__ import annotations

import multiprocessing
import os
from collections import Counter
from datetime import timedelta
from itertools import pairwise

import pytest
from sqlalchemy import select

from tests.support import NOW, app_settings, make_app, process_app, shared_database
from widget import outbox
from widget.extensions import db
from widget.models import OutboxMessage, OutboxStatus

ROWS = 30


def _settings(url: str, mailbox) -> dict:
    """Return the settings of an app on this database that sends to the mailbox (as make_app builds them)."""
    return app_settings(url, MAIL_SERVER="127.0.0.1", MAIL_PORT=str(mailbox.port))


def _payload(index: int) -> dict:
    return {
        "to": [f"client{index}@example.com"],
        "subject": f"Outbox test {index:02d}",
        "text": "Hi.",
        "html": "<p>Hi.</p>",
        "attachments": [],
    }


def _enqueue(app, count: int) -> list[int]:
    """Add ``count`` pending email rows; return their ids."""
    with app.app_context():
        rows = [outbox.enqueue(f"test:{index}", "email", _payload(index)) for index in range(count)]
        db.session.commit()
        ids = [row.id for row in rows]
    # The children fork from this process: leave them no open connection to share.
    # (Disposed after the context ends: the session hands its connection back then.)
    with app.app_context():
        db.engine.dispose()
    return ids


def _rows(app) -> list[OutboxMessage]:
    with app.app_context():
        rows = db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
        db.session.expunge_all()
        return rows


def _run_jobs_process(settings, barrier, index, results):
    """Run in a child process: one run-jobs round (deliver what is due), started with the others."""
    app = process_app(settings)
    with app.app_context():
        try:
            barrier.wait(timeout=60)
            results.put((index, dict(outbox.deliver_due(worker=f"worker-{index}"))))
        except Exception as error:  # noqa: BLE001 - reported to the parent, which fails the test
            results.put((index, f"error: {error!r}"))


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_two_run_jobs_processes_deliver_each_row_once(kind, tmp_path, mailbox, record_property):
    url = shared_database(kind, tmp_path, "outbox.db")
    settings = _settings(url, mailbox)
    app = make_app(tmp_path, url, MAIL_SERVER="127.0.0.1", MAIL_PORT=str(mailbox.port))
    _enqueue(app, ROWS)
    mailbox.delay = 0.01  # a little latency, like a real server, so that the two rounds overlap

    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(2)
    results = context.Queue()
    processes = [context.Process(target=_run_jobs_process, args=(settings, barrier, i, results)) for i in range(2)]
    for process in processes:
        process.start()
    outcomes = dict(results.get(timeout=60) for _ in processes)
    for process in processes:
        process.join(timeout=30)
        assert process.exitcode == 0

    for outcome in outcomes.values():
        assert isinstance(outcome, dict), outcome
        assert set(outcome) <= {"sent", "claimed elsewhere"}, outcome
    assert sum(outcome.get("sent", 0) for outcome in outcomes.values()) == ROWS, outcomes
    subjects = Counter(message["Subject"] for message in mailbox.messages)
    assert subjects == Counter(f"Outbox test {index:02d}" for index in range(ROWS))
    assert sorted(mailbox.recipients) == sorted([f"client{index}@example.com"] for index in range(ROWS))
    rows = _rows(app)
    assert [(row.status, row.attempts, row.claimed_until) for row in rows] == [(OutboxStatus.SENT, 1, None)] * ROWS
    delivered_by = Counter(row.claimed_by for row in rows)
    assert set(delivered_by) <= {"worker-0", "worker-1"}
    # Both usually take a share; which one gets how many is up to the scheduler, so it is only reported
    # (shown by pytest -rP, and kept in the JUnit XML as a property).
    record_property("rows_delivered_per_process", dict(delivered_by))
    print(f"{kind}: rows delivered per process: {dict(delivered_by)}; outcomes: {outcomes}")


def _die_mid_delivery(settings, row_id):
    """Run in a child process: claim the row, then die while "sending" it, before anything is recorded."""
    app = process_app(settings)
    outbox.register(app, "email", lambda payload: os._exit(3))
    with app.app_context():
        outbox.deliver(row_id, worker="doomed")
    os._exit(0)  # not reached when the claim succeeded


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_row_of_a_dead_process_waits_for_its_lease_then_is_delivered_once(kind, tmp_path, mailbox):
    url = shared_database(kind, tmp_path, "outbox.db")
    app = make_app(tmp_path, url, MAIL_SERVER="127.0.0.1", MAIL_PORT=str(mailbox.port))
    (row_id,) = _enqueue(app, 1)
    process = multiprocessing.get_context("fork").Process(
        target=_die_mid_delivery, args=(_settings(url, mailbox), row_id)
    )
    process.start()
    process.join(timeout=60)
    assert process.exitcode == 3, "the child should have died while sending"

    (row,) = _rows(app)
    assert (row.status, row.attempts, row.claimed_by) == (OutboxStatus.PENDING, 0, "doomed")
    assert row.claimed_until == NOW + outbox.LEASE
    clock = app.extensions["clock"]
    for now in (NOW, NOW + timedelta(minutes=1), NOW + outbox.LEASE - timedelta(seconds=1)):
        clock.now = now
        with app.app_context():
            assert outbox.deliver_due() == Counter()
            assert outbox.deliver(row_id) is None
    assert mailbox.messages == []

    clock.now = NOW + outbox.LEASE + timedelta(seconds=1)
    with app.app_context():
        assert outbox.deliver_due() == Counter({"sent": 1})
        clock.now += timedelta(hours=1)
        assert outbox.deliver_due() == Counter()
    assert [message["Subject"] for message in mailbox.messages] == ["Outbox test 00"]
    (row,) = _rows(app)
    assert (row.status, row.attempts, row.claimed_until) == (OutboxStatus.SENT, 1, None)


def _expected(attempts: int) -> timedelta:
    return min(outbox.FIRST_RETRY * 2 ** (attempts - 1), outbox.LONGEST_WAIT)


def test_backoff_doubles_from_thirty_seconds_and_is_capped_at_six_hours(monkeypatch):
    monkeypatch.setattr(outbox.random, "uniform", lambda low, high: 1.0)
    waits = [outbox.backoff(attempts) for attempts in range(1, outbox.MAX_ATTEMPTS + 1)]
    assert waits[:4] == [timedelta(seconds=s) for s in (30, 60, 120, 240)]
    for earlier, later in pairwise(waits):
        assert later == min(earlier * 2, outbox.LONGEST_WAIT)
    assert max(waits) == outbox.LONGEST_WAIT == timedelta(hours=6)
    assert waits[-1] == outbox.LONGEST_WAIT


@pytest.mark.parametrize("attempts", [outbox.MAX_ATTEMPTS + 1, 42, 43, 100, 1000])
def test_backoff_stays_capped_for_any_number_of_attempts(attempts):
    """The cap holds past MAX_ATTEMPTS too (a raised MAX_ATTEMPTS must not make backoff overflow)."""
    assert outbox.LONGEST_WAIT * 0.8 <= outbox.backoff(attempts) <= outbox.LONGEST_WAIT * 1.2


def test_backoff_jitter_stays_within_twenty_percent():
    for attempts in (1, 2, 5, 10, outbox.MAX_ATTEMPTS):
        expected = _expected(attempts)
        waits = [outbox.backoff(attempts) for _ in range(300)]
        assert all(expected * 0.8 <= wait <= expected * 1.2 for wait in waits), (attempts, min(waits), max(waits))
        # It does spread: 300 draws cover most of the ±20 % band.
        assert min(waits) < expected * 0.9 and max(waits) > expected * 1.1, (attempts, min(waits), max(waits))


def test_backoff_extremes_of_the_jitter(monkeypatch):
    monkeypatch.setattr(outbox.random, "uniform", lambda low, high: low)
    assert outbox.backoff(1) == timedelta(seconds=24)
    assert outbox.backoff(outbox.MAX_ATTEMPTS) == outbox.LONGEST_WAIT * 0.8
    monkeypatch.setattr(outbox.random, "uniform", lambda low, high: high)
    assert outbox.backoff(1) == timedelta(seconds=36)
    assert outbox.backoff(outbox.MAX_ATTEMPTS) == outbox.LONGEST_WAIT * 1.2
