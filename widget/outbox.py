"""The outbox: side effects delivered after the change that caused them.

A change adds its emails and calendar writes to the outbox in the same
transaction as the change (``unit_of_work``), so they exist exactly when the
change does.  The request never delivers them: ``flask --app wsgi run-jobs``
does, woken at the commit (``widget.wakeup``), and retries whatever fails
with exponential backoff.  Each kind of row ("email", "calendar") is
delivered by the handler registered for it when the app is created: this
module knows no feature.

Several ``run-jobs`` processes may work the same outbox: a row is delivered by
the one process whose conditional UPDATE claimed it (one statement, atomic on
SQLite and PostgreSQL).  The claim is a lease: if a process dies mid-delivery
the row becomes due again when the lease ends, so a crash between sending and
recording can repeat that one delivery, but nothing is lost.
"""

from __future__ import annotations

import json
import logging
import os
import random
import socket
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import or_, select, update
from sqlalchemy.orm import aliased

from . import wakeup
from .extensions import begin_writing, db
from .mail import PermanentFailure
from .models import OutboxMessage, OutboxStatus
from .timezones import utc_now

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=5)
MAX_ATTEMPTS = 12  # about a day and a half of retries with the backoff below
FIRST_RETRY = timedelta(seconds=30)
LONGEST_WAIT = timedelta(hours=6)


def init_app(app) -> None:
    """Give the app its table of handlers, filled by ``register``."""
    app.extensions["outbox"] = {}


def register(app, kind: str, handler: Callable[[dict], None]) -> None:
    """Have rows of ``kind`` delivered by ``handler(payload)``, which raises to have the row retried."""
    app.extensions["outbox"][kind] = handler


def worker_name() -> str:
    """Return a name for this process, recorded on the rows it claims."""
    return f"{socket.gethostname()}:{os.getpid()}"[:64]


def enqueue(key: str, kind: str, payload: dict, stream: str | None = None) -> OutboxMessage | None:
    """Add a side effect to the current transaction; the caller commits it with the change.

    Rows of one ``stream`` are delivered in the order they were queued, never
    two at once: a later one waits until every earlier one is sent or failed.
    """
    if db.session.scalar(select(OutboxMessage.id).where(OutboxMessage.key == key)) is not None:
        return None
    row = _row(key, kind, payload, stream)
    db.session.add(row)
    return row


def _row(key: str, kind: str, payload: dict, stream: str | None) -> OutboxMessage:
    return OutboxMessage(
        key=key,
        kind=kind,
        stream=stream,
        payload=json.dumps(payload),
        status=OutboxStatus.PENDING,
        attempts=0,
        next_attempt_at=utc_now(),
    )


class Work:
    """The outbox rows of one unit of work; the jobs runner is woken for them at its commit."""

    def __init__(self):
        self.rows: list[OutboxMessage] = []
        self.woken = False

    def queue(self, key: str, kind: str, payload: dict, stream: str | None = None) -> OutboxMessage | None:
        """Add a side effect to the unit of work (see ``enqueue``); return its row, or None if already queued."""
        row = enqueue(key, kind, payload, stream)
        if row is not None:
            self.rows.append(row)
            self.woken = True
        return row

    def queue_all(self, entries: list[tuple[str, str, dict, str | None]], new: bool = False) -> list[OutboxMessage]:
        """Add several side effects (key, kind, payload, stream) at once; return the rows not already queued.

        One query finds the keys already queued and the new rows go out in one
        INSERT at the commit, where ``queue`` costs a query and an INSERT each.
        ``new``: the keys name something made in this very transaction, so none
        can be queued yet and the query is skipped.
        """
        keys = [key for key, _, _, _ in entries]
        known = set() if new else set(db.session.scalars(select(OutboxMessage.key).where(OutboxMessage.key.in_(keys))))
        rows = [_row(key, kind, payload, stream) for key, kind, payload, stream in entries if key not in known]
        db.session.add_all(rows)
        self.rows.extend(rows)
        self.woken = self.woken or bool(rows)
        return rows

    def wake(self) -> None:
        """Have the jobs runner woken at the commit, for a row made due again."""
        self.woken = True


@contextmanager
def unit_of_work(keep_loaded: bool = False, after_reads: bool = False) -> Iterator[Work]:
    """Write a change and its side effects in one transaction, and wake the jobs runner for them.

    The transaction is a writing one from its start (``begin_writing``); an
    exception inside the block rolls it back and goes on.  Nothing is
    delivered here: a request never waits on a mail server or a calendar.
    ``keep_loaded``: objects keep the values just written instead of being
    read again on next use (for rows the caller made and answers with).
    ``after_reads``: the session has only read so far, and on PostgreSQL the
    write goes on in that same transaction (under READ COMMITTED every
    statement reads afresh, so nothing is lost, and a COMMIT and a BEGIN are
    saved); SQLite still starts its writing transaction here.
    """
    if not after_reads:
        begin_writing()
    elif db.session.get_bind().dialect.name != "postgresql":
        db.session.rollback()  # it only read
        begin_writing()
    work = Work()
    session = db.session()
    try:
        yield work
        if work.woken:
            wakeup.announce(inserted=bool(work.rows))
        expiring, session.expire_on_commit = session.expire_on_commit, not keep_loaded
        try:
            session.commit()
        finally:
            session.expire_on_commit = expiring
    except BaseException:
        db.session.rollback()
        raise
    if work.woken:
        wakeup.announce_committed()


def backoff(attempts: int) -> timedelta:
    """Return how long to wait after the given number of failed attempts (with jitter)."""
    # The exponent is capped before the multiplication, which would overflow timedelta.
    wait = min(FIRST_RETRY * 2 ** min(max(attempts - 1, 0), 20), LONGEST_WAIT)
    # Jitter spreads the retries of many rows that failed together.
    return wait * random.uniform(0.8, 1.2)


def _claim(row_id: int, worker: str, now: datetime) -> bool:
    begin_writing()
    earlier = aliased(OutboxMessage)
    # The first pending row of its stream only: an earlier one, in flight or waiting
    # for a retry, holds the later ones back (one statement, so two workers agree).
    first_of_stream = ~(
        select(earlier.id)
        .where(
            earlier.stream == OutboxMessage.stream,
            earlier.status == OutboxStatus.PENDING,
            earlier.id < OutboxMessage.id,
        )
        .exists()
    )
    result = db.session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.id == row_id,
            OutboxMessage.status == OutboxStatus.PENDING,
            OutboxMessage.next_attempt_at <= now,
            or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < now),
            or_(OutboxMessage.stream.is_(None), first_of_stream),
        )
        .values(claimed_until=now + LEASE, claimed_by=worker)
    )
    db.session.commit()
    return result.rowcount == 1


def deliver(row_id: int, worker: str | None = None) -> str | None:
    """Deliver one outbox row if this process can claim it; return how it ended."""
    now = utc_now()
    worker = worker or worker_name()
    if not _claim(row_id, worker, now):
        return None
    kind, key, payload = db.session.execute(
        select(OutboxMessage.kind, OutboxMessage.key, OutboxMessage.payload).where(OutboxMessage.id == row_id)
    ).one()
    db.session.commit()  # hold no transaction while talking to the outside world
    handler = current_app.extensions["outbox"].get(kind)
    failure, permanent = None, False
    try:
        if handler is None:
            raise PermanentFailure(f"no handler for {kind!r}")
        handler(json.loads(payload))
    except PermanentFailure as error:
        failure, permanent = error, True
    except Exception as error:  # noqa: BLE001 - any other failure is worth retrying
        failure = error
    begin_writing()
    row = db.session.get(OutboxMessage, row_id)
    row.attempts += 1
    if permanent:
        row.status, row.last_error, row.finished_at = OutboxStatus.FAILED, str(failure)[:2000], utc_now()
        log.warning("outbox %s (%s) failed for good: %s", row_id, key, failure)
    elif failure is not None:
        error = failure
        row.last_error = f"{error.__class__.__name__}: {error}"[:2000]
        if row.attempts >= MAX_ATTEMPTS:
            row.status, row.finished_at = OutboxStatus.FAILED, utc_now()
            log.error("outbox %s (%s) gave up after %d attempts: %s", row.id, row.key, row.attempts, error)
        else:
            row.next_attempt_at = utc_now() + backoff(row.attempts)
            log.info("outbox %s (%s) will retry: %s", row.id, row.key, error)
    else:
        row.status, row.finished_at, row.last_error = OutboxStatus.SENT, utc_now(), None
    row.claimed_until = None
    db.session.commit()
    return row.status


def deliver_due(limit: int = 200, worker: str | None = None) -> Counter:
    """Deliver the rows that are due, oldest first; return a count per outcome."""
    now = utc_now()
    ids = db.session.scalars(
        select(OutboxMessage.id)
        .where(
            OutboxMessage.status == OutboxStatus.PENDING,
            OutboxMessage.next_attempt_at <= now,
            or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < now),
        )
        .order_by(OutboxMessage.id)
        .limit(limit)
    ).all()
    db.session.commit()
    outcomes = Counter()
    for row_id in ids:
        outcomes[deliver(row_id, worker) or "claimed elsewhere"] += 1
    return outcomes


def problems(limit: int = 100) -> list[OutboxMessage]:
    """Return failed rows and rows still retrying, newest first, for the admin."""
    return list(
        db.session.scalars(
            select(OutboxMessage)
            .where(
                or_(
                    OutboxMessage.status == OutboxStatus.FAILED,
                    (OutboxMessage.status == OutboxStatus.PENDING) & (OutboxMessage.attempts > 0),
                )
            )
            .order_by(OutboxMessage.id.desc())
            .limit(limit)
        )
    )


def retry(row_id: int) -> bool:
    """Make a failed row due again at once (the admin's "retry"); the jobs runner delivers it."""
    with unit_of_work() as work:
        row = db.session.get(OutboxMessage, row_id)
        if row is None or row.status != OutboxStatus.FAILED:
            return False
        row.status, row.attempts, row.next_attempt_at, row.finished_at = OutboxStatus.PENDING, 0, utc_now(), None
        work.wake()
    return True
