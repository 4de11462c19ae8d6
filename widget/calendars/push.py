"""Google push notifications: a channel per watched calendar, and the address Google posts to.

Google tells ``PUBLIC_URL/google/notifications`` that a calendar's events
changed (never what changed).  A notification counts only when it names a
channel we opened and carries that channel's secret token; it then queues
one "calendar-sync" outbox entry for the calendar, unless one is already
waiting, so a burst of notifications costs one sync.  run-jobs delivers it
(the handler is registered at app creation), and the request answers at
once.

``keep_watching`` opens a channel for each watched calendar, opens the next
one before the current one expires (the two overlap until the old one
ends), and stops the channels of calendars no longer watched; the admin
calls it after connecting and after choosing calendars, run-jobs every
round.  ``stop_all`` stops every channel before disconnecting.  Google
refuses addresses that are not https: with such a PUBLIC_URL push is off
and polling (CALENDAR_SYNC_MINUTES) carries the changes alone.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, request
from sqlalchemy import delete, or_, select

from .. import calendars, outbox
from ..extensions import begin_writing, db
from ..models import GoogleChannel, OutboxMessage, OutboxStatus
from ..timezones import utc_now

log = logging.getLogger(__name__)

bp = Blueprint("google_push", __name__)

SYNC_KIND = "calendar-sync"
RENEW_AHEAD = timedelta(hours=12)  # a new channel is opened this long before the current one expires


def enabled() -> bool:
    """Say whether push is on: the Google backend, and a PUBLIC_URL Google accepts (https)."""
    return calendars.current().name == "google" and urlsplit(current_app.config["PUBLIC_URL"]).scheme == "https"


def address() -> str:
    """Return the address Google posts notifications to."""
    return f"{current_app.config['PUBLIC_URL']}/google/notifications"


@dataclass(frozen=True)
class Channel:
    """A stored channel, as plain values."""

    id: str
    calendar_id: str
    resource_id: str
    expires_at: datetime


def _channels() -> list[Channel]:
    rows = db.session.scalars(select(GoogleChannel).order_by(GoogleChannel.created_at))
    found = [Channel(r.id, r.calendar_id, r.resource_id, r.expires_at) for r in rows]
    db.session.commit()
    return found


def _forget(channel_ids: list[str]) -> None:
    if channel_ids:
        begin_writing()
        db.session.execute(delete(GoogleChannel).where(GoogleChannel.id.in_(channel_ids)))
        db.session.commit()


def _stop(channel: Channel) -> bool:
    """Stop one channel at Google and forget it; say whether Google took the stop."""
    stopped = True
    try:
        calendars.current().stop_watching(channel.id, channel.resource_id)
    except Exception as error:  # noqa: BLE001 - a channel that cannot be stopped ends by itself when it expires
        log.warning("stopping push channel %s of %s failed: %s", channel.id, channel.calendar_id, error)
        stopped = False
    _forget([channel.id])
    return stopped


def _open(calendar_id: str, now: datetime) -> None:
    channel_id, token = secrets.token_urlsafe(24), secrets.token_urlsafe(32)
    resource_id, expires_at = calendars.current().watch(calendar_id, channel_id, token, address())
    begin_writing()
    db.session.add(
        GoogleChannel(
            id=channel_id,
            calendar_id=calendar_id,
            token=token,
            resource_id=resource_id,
            expires_at=expires_at,
            created_at=now,
        )
    )
    db.session.commit()


def keep_watching(now: datetime | None = None) -> dict[str, int]:
    """Give every watched calendar a live channel, renew those near expiry, stop the others; return counts."""
    now = now or utc_now()
    calendar = calendars.current()
    if calendar.name != "google" or calendar.status() != "ok":
        return {}
    channels = _channels()
    # Expired channels are over at Google's end too: nothing to stop.
    _forget([c.id for c in channels if c.expires_at <= now])
    live = [c for c in channels if c.expires_at > now]
    wanted = calendar.watched() if enabled() else []
    db.session.commit()
    counts: dict[str, int] = {}
    for channel in live:
        if channel.calendar_id not in wanted:
            _stop(channel)
            counts["push stopped"] = counts.get("push stopped", 0) + 1
    for calendar_id in wanted:
        latest = max((c.expires_at for c in live if c.calendar_id == calendar_id), default=None)
        if latest is not None and latest - now > RENEW_AHEAD:
            continue
        try:
            _open(calendar_id, now)
        except Exception as error:  # noqa: BLE001 - polling still covers the calendar; tried again next round
            db.session.rollback()
            log.warning("opening a push channel for %s failed: %s", calendar_id, error)
            counts["push failed"] = counts.get("push failed", 0) + 1
        else:
            counts["push opened"] = counts.get("push opened", 0) + 1
    return counts


def stop_all() -> None:
    """Stop every channel (before disconnecting: stopping needs the connection)."""
    if calendars.current().name != "google":
        return
    for channel in _channels():
        _stop(channel)


def _calendar_of(channel_id: str, token: str, resource_id: str) -> str | None:
    """Return the calendar a notification is about, or None unless it names our channel with its token."""
    row = db.session.get(GoogleChannel, channel_id) if channel_id else None
    known = (row.token, row.resource_id, row.calendar_id) if row is not None else None
    db.session.commit()
    if known is None:
        return None
    expected_token, expected_resource, calendar_id = known
    # Constant time: the answer tells nothing about how much of a guessed token was right.
    if not hmac.compare_digest(expected_token.encode(), token.encode()) or resource_id != expected_resource:
        return None
    return calendar_id


def queue_sync(calendar_id: str) -> None:
    """Queue a sync of one calendar for run-jobs, unless one is already waiting (a burst costs one sync)."""
    stream = f"{SYNC_KIND}:{calendar_id}"
    with outbox.unit_of_work() as work:
        now = utc_now()
        waiting = db.session.scalar(
            select(OutboxMessage.id)
            .where(
                OutboxMessage.kind == SYNC_KIND,
                OutboxMessage.stream == stream,
                OutboxMessage.status == OutboxStatus.PENDING,
                # One being delivered now may have read the calendar before this change: queue another.
                or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < now),
            )
            .limit(1)
        )
        if waiting is None:
            work.queue(f"{stream}:{secrets.token_hex(8)}", SYNC_KIND, {"calendar": calendar_id}, stream=stream)


@bp.post("/google/notifications")
def notification():
    """Take a push notification from Google: queue a sync of its calendar; 404 unless it is one of our channels."""
    headers = request.headers
    calendar_id = _calendar_of(
        headers.get("X-Goog-Channel-ID", ""),
        headers.get("X-Goog-Channel-Token", ""),
        headers.get("X-Goog-Resource-ID", ""),
    )
    if calendar_id is None:
        abort(404)
    # "sync" only says the channel is open; "exists" and "not_exists" say something changed.
    if headers.get("X-Goog-Resource-State") != "sync":
        queue_sync(calendar_id)
    return "", 200
