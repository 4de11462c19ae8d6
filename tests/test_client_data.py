"""The clients' data: "Book again" links, erase-client, the retention period and export-bookings."""

from __future__ import annotations

import csv
import html
import io
import multiprocessing
import re
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import inspect, select, text

from tests.support import (
    CLIENT,
    NOW,
    POSTGRES_URL,
    PUBLIC_URL,
    app_settings,
    book,
    deliver_outbox,
    make_app,
    process_app,
    reset_postgres,
    shared_database,
)
from tests.test_waitlist import join as join_waitlist
from widget.booking import bookings, client_data
from widget.extensions import db
from widget.models import Booking, BookingStatus, OutboxMessage, OutboxStatus, WaitlistEntry
from widget.settings import SettingsError

ADA = CLIENT["email"]
# Everything that names Ada: her address, full name, phone (as typed and as digits).
ADA_ANSWERS = {"conditions": "Herniated disc, L4", "areas_to_avoid": "Left knee", "first_visit": True}
ADA_TRACES = (ADA, CLIENT["name"], CLIENT["phone"], "8015550101", "Sore left shoulder", "Herniated disc", "Left knee")
BOB = {"name": "Bob Other", "email": "bob@example.com", "phone": "801-555-0199"}
THERAPIST = "therapist@studio.example"
UTC = timezone.utc


def denver(day: int, hour: int, month: int = 11) -> str:
    """Return an RFC 3339 start at a Denver wall time in November or early December 2026 (UTC-7)."""
    return f"2026-{month:02d}-{day:02d}T{hour:02d}:00:00-07:00"


def set_clock(app, moment: datetime) -> None:
    app.extensions["clock"].now = moment


@pytest.fixture(params=["sqlite", "postgresql"])
def data_app(request, tmp_path, mailbox):
    """Return an app sending mail to ``mailbox``, on SQLite, then on PostgreSQL."""
    url = None
    if request.param == "postgresql":
        reset_postgres()
        url = POSTGRES_URL
    return make_app(tmp_path, url, MAIL_SERVER="127.0.0.1", MAIL_PORT=str(mailbox.port))


@pytest.fixture
def mail_app(tmp_path, mailbox):
    """Return an app on SQLite sending mail to ``mailbox``."""
    return make_app(tmp_path, MAIL_SERVER="127.0.0.1", MAIL_PORT=str(mailbox.port))


def text_of(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def again_link(message) -> str:
    """Return the path of the "Book again" link in an email's text and check the HTML part carries it too."""
    match = re.search(re.escape(PUBLIC_URL) + r"(/book/again/[A-Za-z0-9_.\-]+)", text_of(message))
    assert match, text_of(message)
    body = message.get_body(preferencelist=("html",)).get_content()
    assert html.escape(PUBLIC_URL + match.group(1)) in body
    return match.group(1)


def details_form(client, location: str, start: str):
    """Follow the widget from a "Book again" redirect to the details step of ``start``; return the page."""
    parts = urlsplit(location)
    query = {key: values[0] for key, values in parse_qs(parts.query).items()}
    page = client.get(parts.path, query_string={**query, "start": start})
    assert page.status_code == 200, page.text
    return page


def field_value(page, name: str) -> str:
    match = re.search(rf'name="{name}"[^>]*value="([^"]*)"', page.text) or re.search(
        rf'value="([^"]*)"[^>]*name="{name}"', page.text
    )
    return html.unescape(match.group(1)) if match else ""


# --- Book again -------------------------------------------------------------------------------------------------------


def test_book_again_link_in_the_confirmation_prefills_the_widget_without_details_in_the_address(mail_app, mailbox):
    """The confirmation's "Book again" opens the same service with name, email and phone filled in."""
    client = mail_app.test_client()
    book(client, service="massage-90", start=denver(25, 9))
    deliver_outbox(mail_app)
    [confirmation] = mailbox.received_by(ADA)
    path = again_link(confirmation)
    for trace in (ADA, "ada", "Client", "555", "massage"):
        assert trace.lower() not in path.lower()

    response = client.get(path)
    assert response.status_code == 303
    location = response.headers["Location"]
    assert parse_qs(urlsplit(location).query)["service"] == ["massage-90"]
    assert "ada" not in location.lower() and "555" not in location

    # The widget's days and times carry the link on; the details step fills the form from it.
    days = client.get(location)
    assert days.status_code == 200 and "again=" in days.text
    page = details_form(client, location, denver(27, 9))
    assert field_value(page, "name") == CLIENT["name"]
    assert field_value(page, "email") == ADA
    assert field_value(page, "phone") == CLIENT["phone"]
    assert field_value(page, "service") == "massage-90"


def test_reminder_carries_book_again(mail_app, mailbox):
    """The reminder has the link too."""
    client = mail_app.test_client()
    book(client, start=denver(25, 9))
    set_clock(mail_app, datetime(2026, 11, 24, 17, 0, tzinfo=UTC))  # the day before, inside the 24 h window
    result = mail_app.test_cli_runner().invoke(args=["run-jobs", "--once"])
    assert result.exit_code == 0, result.output
    deliver_outbox(mail_app)
    [reminder] = [m for m in mailbox.received_by(ADA) if m["Subject"].strip().startswith("Reminder")]
    assert client.get(again_link(reminder)).status_code == 303


def test_book_again_link_expires_after_book_again_days(mail_app, mailbox):
    """An old link says it has expired, fills in nothing, and still lets the client book."""
    client = mail_app.test_client()
    book(client, start=denver(25, 9))
    deliver_outbox(mail_app)
    path = again_link(mailbox.received_by(ADA)[0])
    set_clock(mail_app, NOW + timedelta(days=89))
    assert client.get(path).status_code == 303
    set_clock(mail_app, NOW + timedelta(days=91))
    expired = client.get(path)
    assert expired.status_code == 410
    assert "This link has expired." in expired.text and 'href="/book"' in expired.text
    # Carried into the widget by hand, it fills in nothing either.
    token = path.rsplit("/", 1)[1]
    page = client.get(
        "/book", query_string={"service": "massage-60", "again": token, "start": "2027-02-24T09:00:00-07:00"}
    )
    assert page.status_code == 200 and field_value(page, "email") == ""


@pytest.mark.parametrize(
    "tamper",
    [
        lambda token: token[:-2] + ("AA" if not token.endswith("AA") else "BB"),
        lambda token: "x" + token,
        lambda token: "not-a-token",
        lambda token: token.split(".")[0],
    ],
    ids=["signature", "payload", "garbage", "unsigned"],
)
def test_tampered_book_again_link_is_refused(mail_app, mailbox, tamper):
    """An altered link is refused with a clear page, never a 500, and prefills nothing."""
    client = mail_app.test_client()
    book(client, start=denver(25, 9))
    deliver_outbox(mail_app)
    token = again_link(mailbox.received_by(ADA)[0]).rsplit("/", 1)[1]
    bad = tamper(token)
    response = client.get(f"/book/again/{bad}")
    assert response.status_code == 404
    assert "This link is not valid" in response.text
    page = client.get("/book", query_string={"service": "massage-60", "again": bad, "start": denver(27, 9)})
    assert page.status_code == 200 and field_value(page, "name") == ""


def test_a_manage_token_is_not_a_book_again_token(mail_app):
    """Tokens have one purpose each: the manage link's token opens nothing at /book/again."""
    client = mail_app.test_client()
    _, manage = book(client, start=denver(25, 9))
    assert client.get(f"/book/again/{manage.rsplit('/', 1)[1]}").status_code == 404


def test_manage_page_offers_book_again_once_past_or_cancelled(mail_app):
    """An upcoming booking's page offers changes; a cancelled or past one offers "Book again"."""
    client = mail_app.test_client()
    _, upcoming = book(client, start=denver(25, 9))
    _, cancelled = book(client, start=denver(25, 11))
    assert "Book again" not in client.get(upcoming).text
    with mail_app.app_context():
        booking = db.session.scalar(select(Booking).where(Booking.start_at == datetime(2026, 11, 25, 18, tzinfo=UTC)))
        bookings.cancel(booking)
    page = client.get(cancelled)
    assert "Book again" in page.text and "This booking is cancelled." in page.text
    set_clock(mail_app, datetime(2026, 11, 26, 12, 0, tzinfo=UTC))
    past = client.get(upcoming)
    assert "This appointment is over." in past.text
    link = re.search(r'href="(/book/again/[^"]+)"', past.text).group(1)
    assert client.get(link).status_code == 303


def test_book_again_of_an_erased_client_prefills_nothing(mail_app, mailbox):
    """Once the client is erased, her old link opens the service with empty details."""
    client = mail_app.test_client()
    book(client, start=denver(25, 9))
    deliver_outbox(mail_app)
    path = again_link(mailbox.received_by(ADA)[0])
    set_clock(mail_app, datetime(2026, 11, 26, 12, 0, tzinfo=UTC))
    with mail_app.app_context():
        client_data.erase_client(ADA)
    page = details_form(client, client.get(path).headers["Location"], denver(30, 9))
    assert field_value(page, "name") == "" and field_value(page, "email") == ""


# --- Erase a client ---------------------------------------------------------------------------------------------------


def every_value(app) -> list[tuple[str, str, str]]:
    """Return (table, column, text) for every non-empty value of every column of every table."""
    found = []
    with app.app_context():
        engine = db.engine
        for table in inspect(engine).get_table_names():
            columns = [column["name"] for column in inspect(engine).get_columns(table)]
            with engine.connect() as connection:
                for row in connection.execute(text(f'SELECT * FROM "{table}"')).mappings():
                    found.extend((table, column, str(row[column])) for column in columns if row[column] is not None)
    return found


def traces(app, needles=ADA_TRACES) -> list[tuple[str, str, str]]:
    """Return every stored value that contains one of ``needles`` (whatever the case)."""
    return [hit for hit in every_value(app) if any(needle.lower() in hit[2].lower() for needle in needles)]


def ada_and_bob(app, client) -> dict[str, str]:
    """Give Ada a finished booking, a cancelled one and an upcoming one, and Bob one; return their ids.

    The clock ends on Thursday 2026-11-26, noon in Denver.
    """
    notes = {"notes": "Sore left shoulder", "answers": ADA_ANSWERS}
    ids = {
        "past": book(client, start=denver(25, 9), **notes)[0]["id"],
        "cancelled": book(client, start=denver(25, 11), **notes)[0]["id"],
        "bob": book(client, start=denver(25, 13), **BOB)[0]["id"],
    }
    deliver_outbox(app)  # the events are written before one is cancelled
    with app.app_context():
        bookings.cancel(db.session.get(Booking, ids["cancelled"]))
    deliver_outbox(app)
    set_clock(app, datetime(2026, 11, 26, 19, 0, tzinfo=UTC))
    ids["future"] = book(client, start=denver(30, 9), **notes)[0]["id"]
    # She also waits for a time on another day (the sign-up and its confirmation email name her).
    assert join_waitlist(client, ADA, days=("2026-12-02",)).status_code == 200
    deliver_outbox(app)
    return ids


def test_erase_client_leaves_no_trace_of_her_in_any_table_and_cancels_what_is_to_come(data_app, mailbox):
    """Past bookings are anonymised, the upcoming one cancelled with the usual emails, then nothing names her."""
    client = data_app.test_client()
    ids = ada_and_bob(data_app, client)
    assert traces(data_app)  # the search finds her before
    before = len(mailbox.received_by(ADA))

    result = data_app.test_cli_runner().invoke(args=["erase-client", "  ADA@Example.com "])
    assert result.exit_code == 0, result.output
    assert "Cancelled 1 upcoming booking" in result.output and "anonymised 3 bookings" in result.output

    # The cancellation still reaches her and the therapist, sent before her emails leave the outbox.
    deliver_outbox(data_app)
    deliver_outbox(data_app)
    mine = mailbox.received_by(ADA)[before:]
    assert [m["Subject"].strip().split(":")[0] for m in mine] == ["Cancelled"]
    assert "Ada Client" in text_of(mine[0])
    assert any(m["Subject"].strip().startswith("Cancelled") for m in mailbox.received_by(THERAPIST))

    assert traces(data_app) == []
    assert "1 waitlist entr" in result.output
    with data_app.app_context():
        assert db.session.query(WaitlistEntry).count() == 0
        rows = {row.id: row for row in db.session.scalars(select(Booking))}
        for key in ("past", "cancelled", "future"):
            booking = rows[ids[key]]
            assert booking.anonymised_at is not None
            assert (booking.name, booking.email, booking.phone, booking.notes) == ("Erased client", "", "", "")
            assert booking.answers is None
        assert rows[ids["past"]].status == BookingStatus.CONFIRMED  # kept for the books, as it happened
        assert rows[ids["future"]].status == BookingStatus.CANCELLED
        assert (rows[ids["bob"]].name, rows[ids["bob"]].email, rows[ids["bob"]].anonymised_at) == (
            "Bob Other",
            "bob@example.com",
            None,
        )
        statuses = set(db.session.scalars(select(OutboxMessage.status)))
    assert statuses <= {OutboxStatus.SENT}
    assert traces(data_app, (BOB["email"],))  # Bob is untouched, his emails too

    again = data_app.test_cli_runner().invoke(args=["erase-client", ADA])
    assert again.exit_code == 0 and "No bookings have that email address" in again.output


def test_erase_client_keep_future_keeps_her_upcoming_booking(data_app, mailbox):
    """--keep-future cancels nothing: the upcoming booking keeps her details, the rest are anonymised."""
    client = data_app.test_client()
    ids = ada_and_bob(data_app, client)
    before = len(mailbox.received_by(ADA))
    result = data_app.test_cli_runner().invoke(args=["erase-client", ADA, "--keep-future"])
    assert result.exit_code == 0, result.output
    assert "kept 1 upcoming booking" in result.output
    deliver_outbox(data_app)
    assert mailbox.received_by(ADA)[before:] == []
    # Her address is left on the kept booking alone.
    assert {(table, column) for table, column, _ in traces(data_app, (ADA,))} == {("bookings", "email")}
    with data_app.app_context():
        kept = db.session.get(Booking, ids["future"])
        assert (kept.status, kept.email, kept.anonymised_at) == (BookingStatus.CONFIRMED, ADA, None)
        assert db.session.get(Booking, ids["past"]).anonymised_at is not None


def test_erase_client_refuses_a_malformed_address(app):
    """Bad input names the argument and changes nothing."""
    result = app.test_cli_runner().invoke(args=["erase-client", "not an address"])
    assert result.exit_code == 2 and "EMAIL" in result.output


def test_cancellation_emails_waiting_on_a_mail_server_outage_are_kept_until_sent(mail_app, mailbox):
    """With the mail server refusing for now, the erasure waits: the cancellation is sent later, then removed."""
    client = mail_app.test_client()
    ada_and_bob(mail_app, client)
    mailbox.reject(ADA, code=451, text="try later")
    with mail_app.app_context():
        client_data.erase_client(ADA)
    deliver_outbox(mail_app)
    with mail_app.app_context():
        waiting = db.session.scalars(
            select(OutboxMessage.kind).where(OutboxMessage.status == OutboxStatus.PENDING)
        ).all()
    assert "email" in waiting and client_data.ERASURE_KIND in waiting
    mailbox.accept(ADA)
    for _ in range(3):
        set_clock(mail_app, mail_app.extensions["clock"].now + timedelta(hours=1))
        deliver_outbox(mail_app)
    assert any(m["Subject"].strip().startswith("Cancelled") for m in mailbox.received_by(ADA))
    assert traces(mail_app) == []


def _racer(database_url, mail_port, barrier, action, results):
    """Run in a child process: erase Ada, or book for her, released with the others."""
    app = process_app(app_settings(database_url, MAIL_SERVER="127.0.0.1", MAIL_PORT=str(mail_port)))
    with app.app_context():
        barrier.wait(timeout=60)
        try:
            if action == "erase":
                results.put(("erased", client_data.erase_client(ADA)["cancelled"]))
            else:
                start = datetime(2026, 11, 27, 16, 0, tzinfo=UTC)
                booking, _ = bookings.book(
                    "massage-60", start, "Ada Client", ADA, CLIENT["phone"], "", "America/Denver"
                )
                results.put(("booked", booking.id))
        except Exception as error:  # noqa: BLE001 - reported to the parent, which fails the test
            results.put(("error", repr(error)))


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_erasures_and_a_booking_at_the_same_instant_leave_no_confirmed_anonymous_booking(kind, tmp_path, mailbox):
    """Two erasures and her new booking at once: each booking ends cancelled and erased, or untouched and hers.

    Every cancelled booking's email is sent once, and nothing of hers is left
    outside a booking she made after the erasure.
    """
    url = shared_database(kind, tmp_path, "race.db")
    app = make_app(tmp_path, url, MAIL_SERVER="127.0.0.1", MAIL_PORT=str(mailbox.port))
    client = app.test_client()
    for hour in (9, 11):
        book(client, start=denver(25, hour))
    deliver_outbox(app)
    with app.app_context():
        db.engine.dispose()  # the racers fork from here: leave them no connection to inherit
    context = multiprocessing.get_context("fork")
    actions = ["erase", "erase", "book"]
    barrier, results = context.Barrier(len(actions)), context.Queue()
    processes = [
        context.Process(target=_racer, args=(url, mailbox.port, barrier, action, results)) for action in actions
    ]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(timeout=30)
    assert not [outcome for outcome in outcomes if outcome[0] == "error"], outcomes
    for _ in range(4):
        set_clock(app, app.extensions["clock"].now + timedelta(minutes=30))
        deliver_outbox(app)

    with app.app_context():
        rows = list(db.session.scalars(select(Booking)))
        statuses = db.session.scalars(select(OutboxMessage.status)).all()
    erased = [row for row in rows if row.anonymised_at is not None]
    untouched = [row for row in rows if row.anonymised_at is None]
    assert all(row.status == BookingStatus.CANCELLED and row.email == "" for row in erased)
    assert all(row.status == BookingStatus.CONFIRMED and row.email == ADA for row in untouched)
    assert len(erased) >= 2 and len(rows) == 3
    # Each erasure saw the bookings to cancel; whichever got there first cancelled each one, once.
    assert all(count <= len(erased) for what, count in outcomes if what == "erased")
    cancellations = [m for m in mailbox.received_by(ADA) if m["Subject"].strip().startswith("Cancelled")]
    assert len(cancellations) == len(erased)
    assert OutboxStatus.PENDING not in statuses
    if not untouched:
        assert traces(app) == []


# --- Erase with Google Calendar ---------------------------------------------------------------------------------------


def test_erase_client_blanks_her_google_events_deleted_ones_too(tmp_path, mailbox, monkeypatch, standin):
    """No event in Google Calendar, current or deleted, keeps her name or phone; Bob's keeps his."""
    from tests.google_standin import DEFAULT_CALENDAR_ID
    from tests.test_google import connect, make_google_app

    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    monkeypatch.setenv("OAUTHLIB_RELAX_TOKEN_SCOPE", "1")
    app = make_google_app(tmp_path, standin, mailbox)
    client = app.test_client()
    connect(app, client, standin)
    ids = ada_and_bob(app, client)

    def events():
        return {event["id"]: event for event in standin.events(DEFAULT_CALENDAR_ID, include_deleted=True)}

    assert "Ada" in events()[ids["cancelled"]]["summary"]  # Google keeps what a deleted event said
    with app.app_context():
        client_data.erase_client(ADA)
    deliver_outbox(app)
    deliver_outbox(app)
    now = events()
    for key in ("past", "cancelled", "future"):
        event = now[ids[key]]
        shown = f"{event.get('summary')} {event.get('description')}"
        assert not any(trace.lower() in shown.lower() for trace in ("Ada", *ADA_TRACES)), shown
    assert now[ids["past"]]["status"] == "confirmed"
    assert now[ids["cancelled"]]["status"] == now[ids["future"]]["status"] == "cancelled"
    assert "Bob" in now[ids["bob"]]["summary"]
    assert traces(app) == []


# --- Retention --------------------------------------------------------------------------------------------------------


def test_retention_months_anonymises_bookings_that_ended_long_enough_ago(tmp_path):
    """run-jobs anonymises bookings older than RETENTION_MONTHS, and only those."""
    app = make_app(tmp_path, RETENTION_MONTHS="6")
    client = app.test_client()
    old = book(client, start=denver(25, 9))[0]["id"]
    recent = book(client, start=denver(27, 9), **BOB)[0]["id"]
    deliver_outbox(app)
    # 2027-05-26: six months after Ada's booking ended, not yet after Bob's.
    set_clock(app, datetime(2027, 5, 26, 12, 0, tzinfo=UTC))
    result = app.test_cli_runner().invoke(args=["run-jobs", "--once"])
    assert result.exit_code == 0, result.output
    assert "bookings_anonymised: 1" in result.output
    with app.app_context():
        assert db.session.get(Booking, old).anonymised_at == datetime(2027, 5, 26, 12, 0, tzinfo=UTC)
        assert db.session.get(Booking, recent).anonymised_at is None
    deliver_outbox(app)
    assert traces(app) == []
    assert traces(app, (BOB["email"],))
    again = app.test_cli_runner().invoke(args=["run-jobs", "--once"])
    assert "bookings_anonymised" not in again.output


def test_without_retention_months_bookings_are_kept(tmp_path):
    """Unset (the default), nothing is ever anonymised by the jobs."""
    app = make_app(tmp_path)
    book(app.test_client(), start=denver(25, 9))
    set_clock(app, datetime(2036, 1, 1, tzinfo=UTC))
    with app.app_context():
        assert app.config["RETENTION_MONTHS"] is None
        assert client_data.anonymise_expired() == 0
    assert traces(app)


@pytest.mark.parametrize(
    ("name", "value"), [("RETENTION_MONTHS", "soon"), ("RETENTION_MONTHS", "0"), ("BOOK_AGAIN_DAYS", "x")]
)
def test_bad_client_data_settings_stop_start_up(tmp_path, name, value):
    with pytest.raises(SettingsError, match=name):
        make_app(tmp_path, **{name: value})


@pytest.mark.parametrize(
    ("moment", "months", "expected"),
    [
        (datetime(2027, 5, 26, 12, tzinfo=UTC), 6, datetime(2026, 11, 26, 12, tzinfo=UTC)),
        (datetime(2027, 3, 31, tzinfo=UTC), 1, datetime(2027, 2, 28, tzinfo=UTC)),
        (datetime(2027, 1, 15, tzinfo=UTC), 13, datetime(2025, 12, 15, tzinfo=UTC)),
    ],
)
def test_months_before(moment, months, expected):
    assert client_data.months_before(moment, months) == expected


# --- Export -----------------------------------------------------------------------------------------------------------


def exported(app, *args) -> list[dict[str, str]]:
    result = app.test_cli_runner().invoke(args=["export-bookings", *args])
    assert result.exit_code == 0, result.output
    return list(csv.DictReader(io.StringIO(result.stdout_bytes.decode("utf-8"), newline="")))


def test_export_bookings_is_csv_in_studio_time_and_round_trips_non_ascii(data_app, tmp_path):
    """One row a booking, times in studio time, names and notes exactly as typed, whatever the script."""
    client = data_app.test_client()
    zoe = "Zoë Ñúñez-Nguyễn 李小龍"
    notes = 'Line one, with a comma\nand "quotes" — ✓'
    book(
        client, start=denver(25, 9), name=zoe, notes=notes, answers={"conditions": "Épaule gelée", "first_visit": True}
    )
    book(client, start=denver(27, 13), timezone="Europe/London", **BOB)
    book(client, start=denver(30, 9), name="=HYPERLINK(1)", email="eve@example.com", phone="801-555-0111")

    rows = exported(data_app)
    assert [row["name"] for row in rows] == [zoe, "Bob Other", "'=HYPERLINK(1)"]
    first = rows[0]
    assert (first["date"], first["start"], first["end"], first["notes"]) == ("2026-11-25", "09:00", "10:00", notes)
    assert (first["status"], first["service"], first["service_name"]) == (
        "confirmed",
        "massage-60",
        "60-minute massage",
    )
    assert (first["email"], first["phone"], first["booked_at"]) == (ADA, CLIENT["phone"], "2026-11-23 08:00")
    assert rows[1]["client_timezone"] == "Europe/London" and rows[1]["start"] == "13:00"
    assert list(rows[0])[: len(client_data.COLUMNS)] == list(client_data.COLUMNS)
    # Intake answers become one column per question any exported booking answered.
    assert (first["answer: conditions"], first["answer: first_visit"]) == ("Épaule gelée", "yes")
    assert (rows[1]["answer: conditions"], rows[1]["answer: first_visit"]) == ("", "")

    assert [row["date"] for row in exported(data_app, "--from", "2026-11-26", "--to", "2026-11-27")] == ["2026-11-27"]
    assert [row["date"] for row in exported(data_app, "--to", "2026-11-25")] == ["2026-11-25"]

    target = tmp_path / "bookings.csv"
    result = data_app.test_cli_runner().invoke(args=["export-bookings", "--output", str(target)])
    assert result.exit_code == 0 and "Exported 3 bookings" in result.output
    with open(target, encoding="utf-8", newline="") as file:
        assert [row["name"] for row in csv.DictReader(file)][0] == zoe


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "25/11/2026"], "--from"),
        (["--to", "2026-13-01"], "--to"),
        (["--from", "2026-11-27", "--to", "2026-11-25"], "--to"),
    ],
)
def test_export_bookings_refuses_bad_dates(app, args, message):
    result = app.test_cli_runner().invoke(args=["export-bookings", *args])
    assert result.exit_code == 2 and message in result.output


def test_answers_become_columns():
    """Intake answers, where a booking has them, are text: yes/no for booleans, lists joined."""
    booking = SimpleNamespace(answers={"pressure": "firm", "first_visit": True, "areas": ["neck", "feet"]})
    assert client_data.answers_of(booking) == {"pressure": "firm", "first_visit": "yes", "areas": "neck; feet"}
    assert client_data.answers_of(SimpleNamespace(answers=None)) == {}
