"""Booking emails through a real SMTP server: what they say, their calendar files, and delivery when mail fails."""

from __future__ import annotations

import contextlib
import html
import json
import re
import time
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import pytest
from icalendar import Calendar
from sqlalchemy import select, update

from tests.support import Clock, book, deliver_outbox
from widget import mail, outbox
from widget.booking import bookings
from widget.extensions import db
from widget.models import Booking, OutboxMessage, OutboxStatus

CLIENT = "ada@example.com"
THERAPIST = "therapist@studio.example"
VICTIM = "victim@example.com"
ADDRESS = "2150 S 1300 E, Suite 210, Salt Lake City, UT 84106"
STUDIO_PHONE = "801-471-0877"
POLICY = "Please cancel or reschedule at least 24 hours before your appointment. For anything later, call us."
# Wednesday 2026-11-25, 09:00 in Denver (MST, UTC-7) = 16:00 UTC = 4:00 PM in London (GMT).
START = "2026-11-25T09:00:00-07:00"
START_UTC = datetime(2026, 11, 25, 16, 0, tzinfo=timezone.utc)
WHEN_LONDON = "Wednesday, November 25, 2026, 4:00 PM GMT"
WHEN_DENVER = "Wednesday, November 25, 2026, 9:00 AM MST"
SERVICE = "60-minute massage"


def _book(client, **changes) -> dict:
    """Book through the API (as a London client by default) and return the booking's JSON."""
    return book(client, **{"start": START, "email": CLIENT, "timezone": "Europe/London", **changes})[0]


def _one_for(mailbox, address: str):
    """Return the one message delivered to an address."""
    received = mailbox.received_by(address)
    assert len(received) == 1, [_subject(m) for m in received]
    return received[0]


def _subject(message) -> str:
    """Return the Subject, unfolded (a long one is folded after "Subject:", leaving a leading space)."""
    return message["Subject"].strip()


def _text(message) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert body is not None and body.get_content_type() == "text/plain"
    return body.get_content()


def _html(message) -> str:
    body = message.get_body(preferencelist=("html",))
    assert body is not None and body.get_content_type() == "text/html"
    return body.get_content()


def _calendar(message, filename: str, method: str):
    """Return the one VEVENT of the .ics attached as ``filename``, checking its MIME type and METHOD."""
    parts = [part for part in message.iter_attachments() if part.get_filename() == filename]
    assert len(parts) == 1, [part.get_filename() for part in message.iter_attachments()]
    part = parts[0]
    assert part.get_content_type() == "text/calendar"
    assert part.get_param("method") == method
    calendar = Calendar.from_ical(part.get_content())
    assert str(calendar["method"]) == method
    events = calendar.walk("VEVENT")
    assert len(events) == 1
    return events[0]


def _utc(event, name: str) -> datetime:
    return event.decoded(name).astimezone(timezone.utc)


def _outbox(app) -> dict[str, SimpleNamespace]:
    """Return the outbox's email rows by key, as plain values (calendar entries are tested elsewhere)."""
    fields = ("id", "key", "status", "attempts", "last_error", "next_attempt_at", "finished_at")
    with app.app_context():
        rows = db.session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "email").order_by(OutboxMessage.id)
        ).all()
        return {row.key: SimpleNamespace(**{name: getattr(row, name) for name in fields}) for row in rows}


def _run_jobs(app, times: int = 1) -> None:
    """Run ``flask run-jobs --once`` the given number of times."""
    runner = app.test_cli_runner()
    for _ in range(times):
        result = runner.invoke(args=["run-jobs", "--once"])
        assert result.exit_code == 0, result.output
        assert "error" not in result.output, result.output


def _google_link(text: str) -> dict:
    """Return the query of the "add to Google Calendar" link found in a text."""
    match = re.search(r"https://calendar\.google\.com/[^\s\"<>]+", text)
    assert match, "no Google Calendar link"
    link = urlsplit(match.group(0))
    assert link.path == "/calendar/render"
    return {key: values[0] for key, values in parse_qs(link.query).items()}


# --- What a booking sends ------------------------------------------------------------------------------------------


def test_booking_sends_the_client_and_the_therapist_one_email_each(mail_app, mail_client, mailbox):
    _book(mail_client)
    deliver_outbox(mail_app)
    messages = mailbox.wait_for(2)
    assert len(messages) == 2
    assert sorted(mailbox.recipients) == [[CLIENT], [THERAPIST]]

    client_message = _one_for(mailbox, CLIENT)
    assert [address.addr_spec for address in client_message["To"].addresses] == [CLIENT]
    assert _subject(client_message) == f"Booked: {SERVICE}, {WHEN_LONDON}"
    therapist_message = _one_for(mailbox, THERAPIST)
    assert [address.addr_spec for address in therapist_message["To"].addresses] == [THERAPIST]
    assert _subject(therapist_message) == f"New booking: {SERVICE} — Ada Client, {WHEN_DENVER}"
    for message in messages:
        assert _text(message) and _html(message)


def test_client_confirmation_says_everything_in_text_and_html(mail_app, mail_client, mailbox):
    booking = _book(mail_client)
    deliver_outbox(mail_app)
    message = _one_for(mailbox, CLIENT)
    manage_url = booking["manage_url"]
    assert manage_url.startswith("http://widget.test/manage/")
    for body in (_text(message), html.unescape(_html(message))):
        for words in (SERVICE, WHEN_LONDON, WHEN_DENVER, ADDRESS, STUDIO_PHONE, POLICY, manage_url):
            assert words in body, words
        assert "add it to google calendar" in body.lower()
        google = _google_link(body)
        assert google["action"] == "TEMPLATE"
        assert google["dates"] == "20261125T160000Z/20261125T170000Z"
        assert google["location"] == ADDRESS
        assert SERVICE in google["text"]
        assert manage_url in google["details"]


def test_client_confirmation_carries_a_publish_calendar_file(mail_app, mail_client, mailbox):
    booking = _book(mail_client)
    deliver_outbox(mail_app)
    event = _calendar(_one_for(mailbox, CLIENT), "invite.ics", "PUBLISH")
    assert str(event["uid"]) == f"{booking['id']}@widget.test"
    assert int(event["sequence"]) == 0
    assert _utc(event, "dtstart") == START_UTC
    assert _utc(event, "dtend") == START_UTC + timedelta(hours=1)
    assert str(event["status"]) == "CONFIRMED"
    assert str(event["location"]) == ADDRESS
    assert str(event["url"]) == booking["manage_url"]


def test_therapist_notice_names_the_client_and_how_to_reach_them(mail_app, mail_client, mailbox):
    _book(mail_client)
    deliver_outbox(mail_app)
    message = _one_for(mailbox, THERAPIST)
    for body in (_text(message), html.unescape(_html(message))):
        for words in ("New booking", SERVICE, "Ada Client", WHEN_DENVER, "801-555-0101", CLIENT):
            assert words in body, words
    assert list(message.iter_attachments()) == []


@pytest.mark.parametrize(
    ("now", "start", "start_utc", "when_client", "when_studio"),
    [
        # The first Monday after the spring change (Sunday 2026-03-08): Denver is on MDT, London still on GMT.
        (
            datetime(2026, 2, 23, 15, 0, tzinfo=timezone.utc),
            "2026-03-09T09:00:00-06:00",
            datetime(2026, 3, 9, 15, 0, tzinfo=timezone.utc),
            "Monday, March 9, 2026, 3:00 PM GMT",
            "Monday, March 9, 2026, 9:00 AM MDT",
        ),
        # The first Monday after the autumn change (Sunday 2026-11-01): Denver is back on MST.
        (
            datetime(2026, 10, 19, 15, 0, tzinfo=timezone.utc),
            "2026-11-02T09:00:00-07:00",
            datetime(2026, 11, 2, 16, 0, tzinfo=timezone.utc),
            "Monday, November 2, 2026, 4:00 PM GMT",
            "Monday, November 2, 2026, 9:00 AM MST",
        ),
    ],
    ids=["spring", "autumn"],
)
def test_emails_on_both_daylight_saving_days(
    mail_app, mail_client, mailbox, now, start, start_utc, when_client, when_studio
):
    mail_app.extensions["clock"] = Clock(now)
    _book(mail_client, start=start)
    deliver_outbox(mail_app)
    client_message = _one_for(mailbox, CLIENT)
    event = _calendar(client_message, "invite.ics", "PUBLISH")
    assert _utc(event, "dtstart") == start_utc
    assert _utc(event, "dtend") == start_utc + timedelta(hours=1)
    assert _subject(client_message) == f"Booked: {SERVICE}, {when_client}"
    text = _text(client_message)
    assert when_client in text and when_studio in text
    stamp = f"{start_utc:%Y%m%dT%H%M%SZ}/{start_utc + timedelta(hours=1):%Y%m%dT%H%M%SZ}"
    assert _google_link(text)["dates"] == stamp
    therapist_message = _one_for(mailbox, THERAPIST)
    assert _subject(therapist_message).endswith(when_studio)
    assert when_studio in _text(therapist_message)


# --- Changes: cancel and reschedule ---------------------------------------------------------------------------------


@pytest.mark.parametrize("by_studio", [False, True], ids=["by-client", "by-studio"])
def test_cancel_sends_a_cancel_calendar_file_with_the_same_uid(mail_app, mail_client, mailbox, by_studio):
    booking = _book(mail_client)
    deliver_outbox(mail_app)
    first = _calendar(_one_for(mailbox, CLIENT), "invite.ics", "PUBLISH")
    with mail_app.app_context():
        bookings.cancel(db.session.get(Booking, booking["id"]), by_studio=by_studio)
    deliver_outbox(mail_app)
    mailbox.wait_for(4)
    assert len(mailbox.messages) == 4

    client_messages = mailbox.received_by(CLIENT)
    assert len(client_messages) == 2
    cancelled = client_messages[1]
    assert _subject(cancelled) == f"Cancelled: {SERVICE}, {WHEN_LONDON}"
    event = _calendar(cancelled, "cancelled.ics", "CANCEL")
    assert str(event["uid"]) == str(first["uid"])
    assert int(event["sequence"]) > int(first["sequence"])
    assert str(event["status"]) == "CANCELLED"
    assert _utc(event, "dtstart") == START_UTC
    text = _text(cancelled)
    assert WHEN_LONDON in text and STUDIO_PHONE in text
    apology = "the studio had to cancel your appointment"
    if by_studio:
        assert apology in text and apology in _html(cancelled)
    else:
        assert apology not in text
        assert "Your appointment is cancelled." in text

    therapist_messages = mailbox.received_by(THERAPIST)
    assert len(therapist_messages) == 2
    notice = therapist_messages[1]
    assert _subject(notice) == f"Cancelled: {SERVICE} — Ada Client, {WHEN_DENVER}"
    assert "Cancelled booking" in _text(notice)


def test_reschedule_sends_a_new_publish_file_and_names_the_old_time(mail_app, mail_client, mailbox):
    booking = _book(mail_client)
    deliver_outbox(mail_app)
    first = _calendar(_one_for(mailbox, CLIENT), "invite.ics", "PUBLISH")
    new_start = datetime(2026, 11, 25, 20, 0, tzinfo=timezone.utc)  # 13:00 in Denver, 8:00 PM in London
    with mail_app.app_context():
        bookings.reschedule(db.session.get(Booking, booking["id"]), new_start)
    deliver_outbox(mail_app)
    mailbox.wait_for(4)
    assert len(mailbox.messages) == 4

    moved = mailbox.received_by(CLIENT)[1]
    new_when = "Wednesday, November 25, 2026, 8:00 PM GMT"
    assert _subject(moved) == f"Moved: {SERVICE}, now {new_when}"
    event = _calendar(moved, "invite.ics", "PUBLISH")
    assert str(event["uid"]) == str(first["uid"])
    assert int(event["sequence"]) == int(first["sequence"]) + 1
    assert str(event["status"]) == "CONFIRMED"
    assert _utc(event, "dtstart") == new_start
    assert _utc(event, "dtend") == new_start + timedelta(hours=1)
    for body in (_text(moved), html.unescape(_html(moved))):
        assert WHEN_LONDON in body  # the old time
        assert new_when in body and "1:00 PM MST" in body
        assert booking["manage_url"] in body

    notice = mailbox.received_by(THERAPIST)[1]
    assert _subject(notice) == f"Moved: {SERVICE} — Ada Client, Wednesday, November 25, 2026, 1:00 PM MST"
    assert f"(was {WHEN_DENVER})" in _text(notice)


# --- Delivery when the mail server fails ----------------------------------------------------------------------------


def test_mail_server_down_books_at_once_and_run_jobs_delivers_later(mail_app, mail_client, mailbox):
    port = mailbox.port
    mailbox.stop()
    started = time.monotonic()
    booking = _book(mail_client)
    assert time.monotonic() - started < 5
    deliver_outbox(mail_app)
    assert mailbox.messages == []
    rows = _outbox(mail_app)
    assert sorted(rows) == sorted([f"booked:{booking['id']}:0:client", f"booked:{booking['id']}:0:therapist"])
    for row in rows.values():
        assert (row.status, row.attempts) == (OutboxStatus.PENDING, 1)
        assert "refused" in row.last_error.lower(), row.last_error
        assert row.next_attempt_at > mail_app.extensions["clock"].now

    mailbox.start()
    assert mailbox.port == port
    _run_jobs(mail_app)  # not due yet: nothing is tried
    assert mailbox.messages == []
    mail_app.extensions["clock"].now += timedelta(hours=1)
    _run_jobs(mail_app)
    mailbox.wait_for(2)
    assert sorted(mailbox.recipients) == [[CLIENT], [THERAPIST]]
    _run_jobs(mail_app)
    mail_app.extensions["clock"].now += timedelta(hours=1)
    _run_jobs(mail_app)
    assert len(mailbox.messages) == 2
    for row in _outbox(mail_app).values():
        assert (row.status, row.attempts, row.last_error) == (OutboxStatus.SENT, 2, None)


def test_permanent_refusal_fails_at_once_and_admin_can_retry(mail_app, mail_client, mailbox):
    mailbox.reject(CLIENT, 550)
    booking = _book(mail_client)
    deliver_outbox(mail_app)
    client_key, therapist_key = (f"booked:{booking['id']}:0:{who}" for who in ("client", "therapist"))
    rows = _outbox(mail_app)
    assert (rows[client_key].status, rows[client_key].attempts) == (OutboxStatus.FAILED, 1)
    assert "550" in rows[client_key].last_error and "no such user" in rows[client_key].last_error
    assert rows[client_key].finished_at is not None
    assert (rows[therapist_key].status, rows[therapist_key].attempts) == (OutboxStatus.SENT, 1)
    assert len(mailbox.received_by(THERAPIST)) == 1

    for _ in range(3):
        mail_app.extensions["clock"].now += timedelta(hours=8)
        _run_jobs(mail_app)
    assert (_outbox(mail_app)[client_key].status, _outbox(mail_app)[client_key].attempts) == (OutboxStatus.FAILED, 1)
    assert mailbox.received_by(CLIENT) == []
    assert len(mailbox.messages) == 1

    client_id = rows[client_key].id
    with mail_app.app_context():
        assert [row.id for row in outbox.problems()] == [client_id]
        assert outbox.retry(rows[therapist_key].id) is False  # a sent row is not retried
        assert outbox.retry(client_id) is True
    row = _outbox(mail_app)[client_key]
    assert (row.status, row.attempts, row.finished_at) == (OutboxStatus.PENDING, 0, None)
    assert row.next_attempt_at <= mail_app.extensions["clock"].now

    mailbox.accept(CLIENT)  # the client fixed their mailbox
    _run_jobs(mail_app)
    assert len(mailbox.received_by(CLIENT)) == 1
    assert _outbox(mail_app)[client_key].status == OutboxStatus.SENT
    with mail_app.app_context():
        assert outbox.problems() == []


def test_transient_failure_gives_up_after_max_attempts_and_keeps_the_row(mail_app, mail_client, mailbox):
    mailbox.reject(CLIENT, 451)
    # Three weeks ahead, so that no reminder falls into the day and a half of retries.
    booking = _book(mail_client, start="2026-12-15T09:00:00-07:00")
    deliver_outbox(mail_app)
    key = f"booked:{booking['id']}:0:client"
    clock = mail_app.extensions["clock"]
    row = _outbox(mail_app)[key]
    assert (row.status, row.attempts) == (OutboxStatus.PENDING, 1)
    assert "451" in row.last_error
    for attempts in range(2, outbox.MAX_ATTEMPTS + 1):
        wait = row.next_attempt_at - clock.now
        expected = min(outbox.FIRST_RETRY * 2 ** (attempts - 2), outbox.LONGEST_WAIT)
        assert expected * 0.8 <= wait <= expected * 1.2, (attempts, wait)
        clock.now = row.next_attempt_at + timedelta(seconds=1)
        _run_jobs(mail_app)
        row = _outbox(mail_app)[key]
        assert row.attempts == attempts
    assert row.status == OutboxStatus.FAILED
    assert row.finished_at is not None and "451" in row.last_error

    clock.now += timedelta(days=2)
    _run_jobs(mail_app, times=2)
    row = _outbox(mail_app)[key]
    assert (row.status, row.attempts) == (OutboxStatus.FAILED, outbox.MAX_ATTEMPTS)
    with mail_app.app_context():
        assert [problem.id for problem in outbox.problems()] == [row.id]
    assert mailbox.received_by(CLIENT) == []
    assert len(mailbox.received_by(THERAPIST)) == 1


# --- Reminders ------------------------------------------------------------------------------------------------------


def _reminders(mailbox) -> list:
    return [m for m in mailbox.messages if _subject(m).startswith("Reminder:")]


def test_reminder_goes_out_once_when_the_appointment_is_a_day_away(mail_app, mail_client, mailbox):
    # Thursday 2026-11-26 10:00 in Denver = 17:00 UTC, booked on Monday (NOW): 74 hours ahead.
    booking = _book(mail_client, start="2026-11-26T10:00:00-07:00", timezone="America/Denver")
    clock = mail_app.extensions["clock"]
    _run_jobs(mail_app)
    clock.now = datetime(2026, 11, 25, 16, 59, tzinfo=timezone.utc)  # 24 h 1 min before
    _run_jobs(mail_app)
    assert _reminders(mailbox) == []
    assert len(mailbox.messages) == 2

    clock.now = datetime(2026, 11, 25, 17, 30, tzinfo=timezone.utc)
    _run_jobs(mail_app, times=3)
    clock.now = datetime(2026, 11, 26, 9, 0, tzinfo=timezone.utc)
    _run_jobs(mail_app)
    reminders = _reminders(mailbox)
    assert len(reminders) == 1
    reminder = reminders[0]
    assert mailbox.received_by(CLIENT)[-1] is reminder
    assert _subject(reminder) == f"Reminder: {SERVICE}, Thursday, November 26, 2026, 10:00 AM MST"
    for body in (_text(reminder), html.unescape(_html(reminder))):
        for words in (SERVICE, "Thursday, November 26, 2026, 10:00 AM MST", ADDRESS, STUDIO_PHONE):
            assert words in body, words
        assert booking["manage_url"] in body
    assert len(mailbox.messages) == 3


def test_booking_made_inside_the_reminder_window_gets_no_reminder(mail_app, mail_client, mailbox):
    clock = mail_app.extensions["clock"]
    clock.now = datetime(2026, 11, 23, 18, 0, tzinfo=timezone.utc)
    # Tuesday 2026-11-24 10:00 in Denver = 17:00 UTC: 23 hours ahead when booked.
    booking = _book(mail_client, start="2026-11-24T10:00:00-07:00")
    _run_jobs(mail_app, times=3)
    clock.now = datetime(2026, 11, 24, 8, 0, tzinfo=timezone.utc)
    _run_jobs(mail_app)
    assert _reminders(mailbox) == []
    assert len(mailbox.messages) == 2
    assert not [key for key in _outbox(mail_app) if key.startswith("reminder:")]
    with mail_app.app_context():
        assert db.session.get(Booking, booking["id"]).status == "confirmed"


# --- Addresses and headers ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("address", ["o'brien+massage@sub.example.co.uk", "user.name+tag@example-domain.com"])
def test_unusual_but_valid_address_is_delivered(mail_app, mail_client, mailbox, address):
    booking = _book(mail_client, email=address)
    deliver_outbox(mail_app)
    message = _one_for(mailbox, address)
    assert [a.addr_spec for a in message["To"].addresses] == [address]
    assert _outbox(mail_app)[f"booked:{booking['id']}:0:client"].status == OutboxStatus.SENT


def test_quoted_local_part_is_refused_by_the_address_check(mail_client, mailbox):
    """email_validator refuses quoted local parts ("john..doe"@example.org): a clean 422, no mail."""
    response = mail_client.post(
        "/api/bookings",
        json={
            "service": "massage-60",
            "start": START,
            "name": "John",
            "email": '"john..doe"@example.org',
            "phone": "801-555-0101",
        },
    )
    assert response.status_code == 422
    assert "email" in response.json["errors"]
    assert mailbox.messages == []


def test_internationalised_domain_is_delivered(mail_app, mail_client, mailbox):
    """The domain travels in its IDNA (xn--) form, which every SMTP server accepts."""
    booking = _book(mail_client, email="jose@exämple.com")
    deliver_outbox(mail_app)
    assert _outbox(mail_app)[f"booked:{booking['id']}:0:client"].status == OutboxStatus.SENT
    received = mailbox.received_by("jose@xn--exmple-cua.com")
    assert len(received) == 1


def test_non_ascii_local_part_is_refused_up_front(mail_client, mailbox):
    """Such an address cannot be written into the confirmation's headers: say so before booking."""
    response = mail_client.post(
        "/api/bookings",
        json={
            "service": "massage-60",
            "start": "2026-11-24T09:00:00-07:00",
            "name": "José",
            "email": "josé@example.com",
            "phone": "801-555-0101",
        },
    )
    assert response.status_code == 422 and "email" in response.json["errors"]
    assert mailbox.messages == []


@pytest.mark.parametrize(
    ("field", "value"),
    [("name", "Ada\r\nBcc: victim@example.com"), ("email", "ada@example.com\r\nBcc: victim@example.com")],
)
def test_api_refuses_header_injection(mail_app, mail_client, mailbox, field, value):
    response = mail_client.post(
        "/api/bookings",
        json={
            "service": "massage-60",
            "start": START,
            "name": "Ada",
            "email": CLIENT,
            "phone": "801-555-0101",
            field: value,
        },
    )
    assert response.status_code == 422
    assert field in response.json["errors"]
    assert mailbox.messages == []
    assert _outbox(mail_app) == {}


def _payload(**changes) -> dict:
    return {"to": [CLIENT], "subject": "Hello", "text": "Hi.", "html": "<p>Hi.</p>", "attachments": [], **changes}


def _assert_nothing_for_the_victim(mailbox) -> None:
    assert mailbox.received_by(VICTIM) == []
    for message, recipients in zip(mailbox.messages, mailbox.recipients, strict=True):
        assert recipients == [CLIENT]
        assert message["Bcc"] is None and message["Cc"] is None
        assert VICTIM not in str(message["To"])


@pytest.mark.parametrize(
    "subject",
    ["Hello\r\nBcc: victim@example.com", "Hello\nBcc: victim@example.com", "Hello\rBcc: victim@example.com"],
    ids=["crlf", "lf", "cr"],
)
def test_mail_layer_refuses_a_line_break_in_the_subject(mail_app, mailbox, subject):
    with mail_app.app_context(), pytest.raises(mail.PermanentFailure):
        mail.send(_payload(subject=subject))
    assert mailbox.messages == []


def test_mail_layer_folded_subject_adds_no_recipient(mail_app, mailbox):
    """A CRLF followed by a space folds the header (RFC 5322): sent or refused, it never reaches anyone else."""
    with mail_app.app_context(), contextlib.suppress(mail.PermanentFailure):
        mail.send(_payload(subject="Hello\r\n Bcc: victim@example.com"))
    _assert_nothing_for_the_victim(mailbox)


def test_mail_layer_refuses_a_line_break_in_a_recipient(mail_app, mailbox):
    with mail_app.app_context(), pytest.raises(mail.PermanentFailure):
        mail.send(_payload(to=["ada@example.com\r\nBcc: victim@example.com"]))
    assert mailbox.messages == []


def test_outbox_row_with_a_bad_header_fails_for_good_without_retrying(mail_app, mailbox):
    with mail_app.app_context():
        row = outbox.enqueue("test:injection", "email", _payload(subject="Hello\r\nBcc: victim@example.com"))
        db.session.commit()
        assert outbox.deliver(row.id) == OutboxStatus.FAILED
    mail_app.extensions["clock"].now += timedelta(hours=1)
    _run_jobs(mail_app)
    row = _outbox(mail_app)["test:injection"]
    assert (row.status, row.attempts) == (OutboxStatus.FAILED, 1)
    assert "line break" in row.last_error
    assert mailbox.messages == []


# --- Written when sent, from the booking as it was when queued -------------------------------------------------------


def test_a_booking_request_renders_no_email_and_queues_what_each_one_is_written_from(mail_app, mail_client, mailbox):
    """The outbox rows carry a copy of the booking, not a rendered email; the client's copy has no intake answers."""
    booking = _book(mail_client, answers={"areas_to_avoid": "Shoulders, please"})
    with mail_app.app_context():
        rows = {row.key: row for row in db.session.scalars(select(OutboxMessage)).all()}
        client_row, therapist_row = (rows[f"booked:{booking['id']}:0:{who}"] for who in ("client", "therapist"))
        for row in (client_row, therapist_row):
            payload = json.loads(row.payload)
            assert payload["writer"] == "booking" and not {"subject", "text", "html", "attachments"} & set(payload)
        assert json.loads(client_row.payload)["to"] == [CLIENT]
        assert json.loads(therapist_row.payload)["to"] == [THERAPIST]
        assert "Shoulders" not in client_row.payload and "answers" not in json.loads(client_row.payload)["booking"]
        assert json.loads(therapist_row.payload)["booking"]["answers"]["areas_to_avoid"] == "Shoulders, please"
    deliver_outbox(mail_app)
    assert "Shoulders, please" in _text(_one_for(mailbox, THERAPIST))
    assert "Shoulders" not in _one_for(mailbox, CLIENT).as_string()


def test_an_email_sent_late_still_says_what_was_true_when_it_was_queued(mail_app, mail_client, mailbox):
    """A confirmation held back until after a move still names the first time; the next email names the new one."""
    booking = _book(mail_client)
    new_start = datetime(2026, 11, 25, 20, 0, tzinfo=timezone.utc)  # 8:00 PM in London
    with mail_app.app_context():
        bookings.reschedule(db.session.get(Booking, booking["id"]), new_start)
        db.session.execute(update(Booking).values(name="Renamed Since"))  # what the booking says now is not used
        db.session.commit()
    deliver_outbox(mail_app)
    mailbox.wait_for(4)
    confirmed, moved = mailbox.received_by(CLIENT)
    assert _subject(confirmed) == f"Booked: {SERVICE}, {WHEN_LONDON}"
    assert _utc(_calendar(confirmed, "invite.ics", "PUBLISH"), "dtstart") == START_UTC
    assert _subject(moved) == f"Moved: {SERVICE}, now Wednesday, November 25, 2026, 8:00 PM GMT"
    assert _utc(_calendar(moved, "invite.ics", "PUBLISH"), "dtstart") == new_start
    notices = mailbox.received_by(THERAPIST)
    assert [_subject(m).split(" — ")[1].split(",")[0] for m in notices] == ["Ada Client", "Ada Client"]


def test_an_email_for_a_writer_nobody_registered_fails_for_good(mail_app, mailbox):
    with mail_app.app_context():
        row = outbox.enqueue("test:unknown-writer", "email", {"writer": "nobody", "to": [CLIENT]})
        db.session.commit()
        assert outbox.deliver(row.id) == OutboxStatus.FAILED
        assert "no writer for 'nobody'" in db.session.get(OutboxMessage, row.id).last_error
    assert mailbox.messages == []
