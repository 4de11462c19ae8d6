"""The waitlist: join with double opt-in, offers of freed times from every source, the race for one time, expiry.

Emails go to a real SMTP server (the mailbox fixture) and are read after deliver_outbox, as the jobs runner
would deliver them.  The race runs on PostgreSQL.
"""

from __future__ import annotations

import re
import threading
from datetime import date, datetime, timedelta, timezone
from html.parser import HTMLParser

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from tests.support import (
    NOW,
    POSTGRES_URL,
    PUBLIC_URL,
    Admin,
    book,
    csrf_token,
    deliver_outbox,
    make_app,
    reset_postgres,
)
from widget.booking import bookings, calendar_changes, waitlist
from widget.calendars import Change
from widget.cli import run_jobs_once
from widget.extensions import db
from widget.models import Booking, BookingStatus, DayPart, OutboxMessage, WaitlistEntry

UTC = timezone.utc
TUESDAY, WEDNESDAY = "2026-11-24", "2026-11-25"  # NOW is Monday 2026-11-23, 08:00 in Denver (UTC-7)
WEDNESDAY_9 = "2026-11-25T09:00:00-07:00"
BEA, CY = "bea@example.com", "cy@example.com"
OFFER = re.compile(re.escape(PUBLIC_URL) + r"(/book/waitlist/offer/[^\s\"<]+)")
CONFIRM = re.compile(re.escape(PUBLIC_URL) + r"(/book/waitlist/confirm/[^\s\"<]+)")
LEAVE = re.compile(re.escape(PUBLIC_URL) + r"(/book/waitlist/leave/[^\s\"<]+)")


@pytest.fixture
def app(tmp_path, mailbox):
    """Return an app on SQLite that sends its mail to ``mailbox``."""
    return make_app(tmp_path, MAIL_SERVER="127.0.0.1", MAIL_PORT=str(mailbox.port))


@pytest.fixture
def client(app):
    return app.test_client()


# --------------------------------------------------------------------------------------------------- helpers


def join(client, email, days=(WEDNESDAY,), part="any", service="massage-60"):
    """Fill in the no-JS waitlist form as a visitor would; return the answer."""
    page = client.get("/book/waitlist", query_string={"service": service, "date": days[0]})
    assert page.status_code == 200, page.text
    data = {"csrf_token": csrf_token(page.text), "service": service, "email": email, "days": list(days), "part": part}
    return client.post("/book/waitlist", data=data)


def text_of(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def emails_to(app, mailbox, address):
    """Deliver the outbox; return the messages ``address`` received, oldest first."""
    deliver_outbox(app)
    return mailbox.received_by(address)


def press(client, path):
    """Open a page with a button (confirm, leave) and press it; return the answer."""
    page = client.get(path)
    assert page.status_code == 200, page.text
    return client.post(path, data={"csrf_token": csrf_token(page.text)})


def waiting(app, client, mailbox, email, days=(WEDNESDAY,), part="any"):
    """Join and confirm through the emailed link."""
    assert join(client, email, days, part).status_code == 200
    [confirmation] = [m for m in emails_to(app, mailbox, email) if "Please confirm" in str(m["Subject"])][-1:]
    response = press(client, CONFIRM.search(text_of(confirmation)).group(1))
    assert response.status_code == 200 and "You are on the waitlist" in response.text


def offers_to(app, mailbox, address):
    return [m for m in emails_to(app, mailbox, address) if str(m["Subject"]).startswith("A time opened up")]


def entries(app):
    with app.app_context():
        found = db.session.scalars(select(WaitlistEntry).order_by(WaitlistEntry.id)).all()
        db.session.expunge_all()
        return found


def cancel_on_manage_page(client, manage_path):
    page = client.get(manage_path)
    response = client.post(f"{manage_path}/cancel", data={"csrf_token": csrf_token(page.text)})
    assert response.status_code == 303, response.text


def book_offer(client, offer_path, name="Bea Waiting", phone="801-555-0199"):
    """Open the offer link and send its details form; return the form page and the answer."""
    page = client.get(offer_path)
    assert page.status_code == 200, page.text
    return page, client.post("/book", data=details_from(page.text, name, phone))


class _Inputs(HTMLParser):
    """Collect the name and value of every input of a page."""

    def __init__(self):
        super().__init__()
        self.values = {}

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "input" and attributes.get("name"):
            self.values[attributes["name"]] = attributes.get("value") or ""


def details_from(html, name, phone):
    """Return the details form of a page as a browser would send it, with a name and a phone typed in."""
    inputs = _Inputs()
    inputs.feed(html)
    return inputs.values | {"name": name, "phone": phone}


# --------------------------------------------------------------------------------------------------- joining


def test_a_full_day_offers_the_waitlist(app, client):
    """A day with no free time, and the list of times, link to "Tell me if a time opens up"."""
    page = client.get("/book", query_string={"service": "massage-60", "date": "2026-11-29"})  # Sunday: closed
    assert "No free times on this day" in page.text
    assert (
        "Tell me if a time opens up" in page.text
        and "/book/waitlist?service=massage-60&amp;date=2026-11-29" in page.text
    )
    page = client.get("/book", query_string={"service": "massage-60", "date": WEDNESDAY})
    assert 'class="time"' in page.text and "Tell me if a time opens up" in page.text


def test_double_opt_in_only_confirmed_entries_hear_of_freed_times(app, client, mailbox):
    """Joining sends a confirmation link only; until it is pressed, a freed time is not offered."""
    assert join(client, BEA).status_code == 200
    [confirmation] = emails_to(app, mailbox, BEA)
    assert "Please confirm" in str(confirmation["Subject"])
    assert LEAVE.search(text_of(confirmation))
    [entry] = entries(app)
    assert entry.confirmed_at is None and entry.email_key == BEA

    _, manage = book(client)
    cancel_on_manage_page(client, manage)
    assert offers_to(app, mailbox, BEA) == []

    # The link alone (a mail scanner following it) changes nothing; the button confirms.
    path = CONFIRM.search(text_of(confirmation)).group(1)
    assert client.get(path).status_code == 200
    assert entries(app)[0].confirmed_at is None
    assert press(client, path).status_code == 200
    assert entries(app)[0].confirmed_at is not None

    _, manage = book(client)
    cancel_on_manage_page(client, manage)
    [offer] = offers_to(app, mailbox, BEA)
    assert "60-minute massage" in str(offer["Subject"]) and "November 25" in str(offer["Subject"])


def test_the_same_day_twice_is_refused_whatever_the_case_and_by_the_database(app, client, mailbox):
    first = join(client, BEA, days=(WEDNESDAY, TUESDAY))
    assert first.status_code == 200
    again = join(client, "Bea@Example.com", days=(WEDNESDAY,))
    assert len(entries(app)) == 2
    # Whoever fills in the form cannot tell a waiting address from a new one; only its owner is told.
    assert again.status_code == 200
    assert again.text.replace("Bea@Example.com", BEA) == first.text
    notice = [m for m in emails_to(app, mailbox, "Bea@example.com") if "already on the waitlist" in str(m["Subject"])]
    assert len(notice) == 1
    assert "Wednesday, November 25, 2026" in text_of(notice[0])
    assert LEAVE.search(text_of(notice[0]))
    with app.app_context(), pytest.raises(IntegrityError):
        db.session.add(
            WaitlistEntry(
                signup_id="x", email=BEA, email_key=BEA, service_id="massage-60", day=date(2026, 11, 25), part="any"
            )
        )
        db.session.commit()


@pytest.mark.parametrize(
    ("field", "data", "message"),
    [
        ("email", {"email": "not-an-address"}, "is not a valid email address"),
        ("email", {"email": ""}, "is required"),
        ("days", {"days": []}, "choose at least one day"),
        ("days", {"days": ["2026-11-20"]}, "must be between 2026-11-23 and 2027-01-22"),
        ("days", {"days": ["tomorrow"]}, "is not a date"),
        ("part", {"part": "midnight"}, ""),
        ("email", {"email": "bea@example.com\r\nBcc: all@example.com"}, "is not a valid email address"),
        ("email", {"email": "b" * 250 + "@example.com"}, ""),
        (
            "days",
            {"days": [(date(2026, 11, 24) + timedelta(days=i)).isoformat() for i in range(40)]},
            "at most 14 days",
        ),
    ],
)
def test_bad_sign_ups_are_refused_naming_the_field_and_write_nothing(app, client, mailbox, field, data, message):
    page = client.get("/book/waitlist", query_string={"service": "massage-60", "date": WEDNESDAY})
    form = {"csrf_token": csrf_token(page.text), "service": "massage-60", "email": BEA, "days": [WEDNESDAY]}
    response = client.post("/book/waitlist", data=form | {"part": "any"} | data)
    assert response.status_code == 422
    label = {"email": "Email", "days": "Days", "part": "Time of day"}[field]
    assert f"{label}: " in response.text or f"{label} " in response.text
    assert message in response.text
    assert entries(app) == []
    assert emails_to(app, mailbox, BEA) == []


def test_a_form_naming_no_service_is_a_400(client):
    page = client.get("/book/waitlist", query_string={"service": "massage-60"})
    response = client.post("/book/waitlist", data={"csrf_token": csrf_token(page.text), "service": "nope"})
    assert response.status_code == 400


def test_joining_is_rate_limited_and_entries_per_address_are_capped(tmp_path, mailbox):
    app = make_app(
        tmp_path,
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=str(mailbox.port),
        WAITLIST_RATE_LIMIT="3 per minute",
        WAITLIST_MAX_ENTRIES="2",
    )
    client = app.test_client()
    too_many = join(client, BEA, days=(TUESDAY, WEDNESDAY, "2026-11-26"))
    assert too_many.status_code == 422 and "at most 2 days at once" in too_many.text
    assert join(client, BEA, days=(TUESDAY, WEDNESDAY)).status_code == 200
    # A third day for the same address: nothing is added, the form answers as ever, the owner is told why.
    assert join(client, BEA, days=("2026-11-26",)).status_code == 200
    assert join(client, CY, days=(TUESDAY,)).status_code == 429
    assert len(entries(app)) == 2
    [notice] = [m for m in emails_to(app, mailbox, BEA) if "already on the waitlist" in str(m["Subject"])]
    assert "already waits for 2 days" in text_of(notice)


# --------------------------------------------------------------------------------------------------- freed times


def test_a_client_cancelling_offers_the_time_in_join_order_and_the_offer_books_it(app, client, mailbox):
    waiting(app, client, mailbox, BEA)
    waiting(app, client, mailbox, CY)
    _, manage = book(client)
    cancel_on_manage_page(client, manage)
    deliver_outbox(app)
    offered = [m for m in mailbox.messages if str(m["Subject"]).startswith("A time opened up")]
    assert [m["To"] for m in offered] == [BEA, CY]  # in the order they joined
    body = text_of(offered[0])
    assert LEAVE.search(body) and "the first to book gets it" in body

    page, answer = book_offer(client, OFFER.search(body).group(1))
    assert f'value="{BEA}"' in page.text and "Wednesday, November 25, 2026" in page.text
    # The offer's form is the widget's details step, the studio's intake questions included.
    assert 'name="answer_conditions"' in page.text and "Pressure preference" in page.text
    assert answer.status_code == 303, answer.text
    with app.app_context():
        taken = db.session.scalar(select(Booking).where(Booking.email == BEA))
        assert taken.start_at == datetime(2026, 11, 25, 16, 0, tzinfo=UTC) and taken.status == BookingStatus.CONFIRMED

    # The second sees a polite refusal and the nearest free times.
    late = client.get(OFFER.search(text_of(offered[1])).group(1))
    assert late.status_code == 409
    assert "is no longer available" in late.text and 'class="time"' in late.text

    # Another time freed that day: Bea, who booked, is not asked again; Cy is.
    _, manage = book(client, start="2026-11-25T13:00:00-07:00", email="dee@example.com")
    cancel_on_manage_page(client, manage)
    assert len(offers_to(app, mailbox, BEA)) == 1
    assert len(offers_to(app, mailbox, CY)) == 2


def test_a_client_moving_offers_the_old_time(app, client, mailbox):
    waiting(app, client, mailbox, BEA, part="morning")
    answer, manage = book(client)
    with app.app_context():
        bookings.reschedule(db.session.get(Booking, answer["id"]), datetime(2026, 11, 26, 16, 0, tzinfo=UTC))
    [offer] = offers_to(app, mailbox, BEA)
    assert "November 25" in str(offer["Subject"])


def test_the_studio_cancelling_in_the_admin_offers_the_time(app, client, mailbox):
    waiting(app, client, mailbox, BEA)
    answer, _ = book(client)
    admin = Admin(app, client)
    admin.set_password()
    admin.login()
    page = client.get("/admin")
    client.post(f"/admin/bookings/{answer['id']}/cancel", data={"csrf_token": csrf_token(page.text)})
    [offer] = offers_to(app, mailbox, BEA)
    assert "November 25" in str(offer["Subject"])


@pytest.mark.parametrize("how", ["deleted", "moved"])
def test_the_therapist_deleting_or_moving_the_event_in_her_calendar_offers_the_time(app, client, mailbox, how):
    waiting(app, client, mailbox, BEA)
    answer, _ = book(client)
    deliver_outbox(app)  # the booking's event is written
    with app.app_context():
        change = Change(calendar_id="primary", event_id=answer["id"], cancelled=how == "deleted")
        if how == "moved":
            change = Change(
                calendar_id="primary",
                event_id=answer["id"],
                cancelled=False,
                start=datetime(2026, 11, 26, 20, 0, tzinfo=UTC),
                end=datetime(2026, 11, 26, 21, 0, tzinfo=UTC),
            )
        assert calendar_changes.follow(change) == ("cancelled" if how == "deleted" else "moved")
    [offer] = offers_to(app, mailbox, BEA)
    assert "November 25" in str(offer["Subject"])


def test_removing_blocked_time_offers_a_time_in_the_entry_part_of_the_day(app, client, mailbox):
    admin = Admin(app, client)
    admin.set_password()
    admin.login()
    page = client.get("/admin")
    client.post(
        "/admin/block",
        data={"day": WEDNESDAY, "start": "13:00", "end": "18:00", "csrf_token": csrf_token(page.text)},
    )
    waiting(app, client, mailbox, BEA, part="afternoon")
    waiting(app, client, mailbox, CY, part="morning")
    agenda = client.get("/admin").text
    event_id = agenda.split("/admin/block/")[1].split("/delete")[0]
    client.post(f"/admin/block/{event_id}/delete", data={"csrf_token": csrf_token(agenda)})
    [offer] = offers_to(app, mailbox, BEA)
    assert "1:00" in str(offer["Subject"]) or "13:00" in str(offer["Subject"])
    assert offers_to(app, mailbox, CY) == []  # nothing freed in her morning


def test_nothing_is_offered_for_a_time_inside_the_minimum_notice(app, client, mailbox):
    waiting(app, client, mailbox, BEA, days=(TUESDAY,))
    answer, _ = book(client, start="2026-11-24T09:00:00-07:00")
    app.extensions["clock"].now = NOW + timedelta(hours=14)  # Monday 22:00: Tuesday 09:00 is 11 hours away
    with app.app_context():
        bookings.cancel(db.session.get(Booking, answer["id"]), by_studio=True)
        assert (
            db.session.scalars(select(OutboxMessage.key).where(OutboxMessage.key.startswith("waitlist-offer"))).all()
            == []
        )
    assert offers_to(app, mailbox, BEA) == []


def test_the_offer_link_refuses_tampering_and_other_links_too(app, client, mailbox):
    waiting(app, client, mailbox, BEA)
    _, manage = book(client)
    cancel_on_manage_page(client, manage)
    [offer] = offers_to(app, mailbox, BEA)
    path = OFFER.search(text_of(offer)).group(1)
    token = path.rsplit("/", 1)[1]
    payload, rest = token.split(".", 1)
    forged = payload[:-2] + ("AA" if payload[-2:] != "AA" else "BB") + "." + rest
    for bad in (f"/book/waitlist/offer/{forged}", f"/book/waitlist/offer/{token[:-3]}", "/book/waitlist/offer/x"):
        response = client.get(bad)
        assert response.status_code == 404 and "not valid" in response.text
    assert client.get("/book/waitlist/confirm/x.y.z").status_code == 404
    assert client.get("/book/waitlist/leave/x.y").status_code == 404
    # A manage or confirmation token is not an offer.
    assert client.get(f"/book/waitlist/offer/{manage.rsplit('/', 1)[1]}").status_code == 404
    # Expired after a week.
    app.extensions["clock"].now = NOW + timedelta(days=7, minutes=1)
    expired = client.get(path)
    assert expired.status_code == 404 and "has expired" in expired.text


def test_a_confirmation_link_expires_after_two_days(app, client, mailbox):
    assert join(client, BEA, days=("2026-12-01",)).status_code == 200
    [confirmation] = emails_to(app, mailbox, BEA)
    path = CONFIRM.search(text_of(confirmation)).group(1)
    app.extensions["clock"].now = NOW + timedelta(days=2, minutes=1)
    response = client.get(path)
    assert response.status_code == 404 and "has expired" in response.text
    assert entries(app)[0].confirmed_at is None


def test_the_leave_link_takes_the_address_off(app, client, mailbox):
    waiting(app, client, mailbox, BEA, days=(TUESDAY, WEDNESDAY))
    [confirmation] = emails_to(app, mailbox, BEA)
    path = LEAVE.search(text_of(confirmation)).group(1)
    assert client.get(path).status_code == 200 and len(entries(app)) == 2  # the link alone changes nothing
    response = press(client, path)
    assert response.status_code == 200 and "You have left the waitlist" in response.text
    assert entries(app) == []
    _, manage = book(client)
    cancel_on_manage_page(client, manage)
    assert offers_to(app, mailbox, BEA) == []


def test_entries_expire_after_their_day_and_unconfirmed_ones_after_two_days(app, client, mailbox):
    waiting(app, client, mailbox, BEA, days=(TUESDAY, WEDNESDAY))
    assert join(client, CY, days=("2026-11-30",)).status_code == 200  # never confirmed
    app.extensions["clock"].now = NOW + timedelta(days=1, hours=17)  # Wednesday 01:00 in Denver
    with app.app_context():
        outcome = run_jobs_once()
    assert outcome["waitlist_expired"] == 1
    assert [(e.email, e.day.isoformat()) for e in entries(app)] == [(BEA, WEDNESDAY), (CY, "2026-11-30")]
    app.extensions["clock"].now = NOW + timedelta(days=3)
    with app.app_context():
        assert waitlist.purge_expired() == 2
    assert entries(app) == []


def test_the_admin_lists_the_waitlist(app, client, mailbox):
    waiting(app, client, mailbox, BEA, part="evening")
    assert join(client, CY, days=(TUESDAY,)).status_code == 200
    admin = Admin(app, client)
    admin.set_password()
    admin.login()
    assert "/admin/waitlist" in client.get("/admin").text
    page = client.get("/admin/waitlist")
    assert page.status_code == 200
    assert BEA in page.text and CY in page.text and "Evening" in page.text and "not yet" in page.text
    assert page.text.index(CY) < page.text.index(BEA)  # Tuesday first


def test_erase_entries_removes_the_address_and_its_waitlist_emails(app, client, mailbox):
    waiting(app, client, mailbox, BEA, days=(TUESDAY, WEDNESDAY))
    waiting(app, client, mailbox, CY)
    with app.app_context():
        assert waitlist.erase_entries("BEA@example.com") == 2
        assert db.session.scalars(select(OutboxMessage).where(OutboxMessage.payload.contains(BEA))).all() == []
    assert [e.email for e in entries(app)] == [CY]


# --------------------------------------------------------------------------------------------------- races


def test_two_people_racing_for_one_freed_time_give_one_booking_and_one_polite_refusal(tmp_path, mailbox):
    reset_postgres()
    app = make_app(tmp_path, POSTGRES_URL, MAIL_SERVER="127.0.0.1", MAIL_PORT=str(mailbox.port))
    client = app.test_client()
    waiting(app, client, mailbox, BEA)
    waiting(app, client, mailbox, CY)
    _, manage = book(client)
    cancel_on_manage_page(client, manage)
    forms = []
    for address, name in ((BEA, "Bea Waiting"), (CY, "Cy Waiting")):
        [offer] = offers_to(app, mailbox, address)
        page = app.test_client().get(OFFER.search(text_of(offer)).group(1))
        assert page.status_code == 200
        forms.append(details_from(page.text, name, "801-555-01" + str(len(forms) + 10)))

    barrier = threading.Barrier(2)
    answers = [None, None]

    def race(index):
        racer = app.test_client()
        barrier.wait(timeout=10)
        answers[index] = racer.post("/book", data=forms[index])

    threads = [threading.Thread(target=race, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    codes = sorted(answer.status_code for answer in answers)
    assert codes == [303, 409], [a.text[:300] for a in answers]
    [refused] = [answer for answer in answers if answer.status_code == 409]
    assert "is no longer available" in refused.text
    with app.app_context():
        booked = db.session.scalars(
            select(Booking.email).where(
                Booking.status == BookingStatus.CONFIRMED, Booking.start_at == datetime(2026, 11, 25, 16, 0, tzinfo=UTC)
            )
        ).all()
        assert len(booked) == 1 and booked[0] in (BEA, CY)
        db.session.remove()


@pytest.mark.parametrize(
    "days",
    [
        [[WEDNESDAY], [WEDNESDAY]],  # the same day: the unique constraint
        [[TUESDAY, WEDNESDAY], ["2026-11-26", "2026-11-27"]],  # different days past the cap of 3: the address lock
    ],
)
def test_two_joins_at_once_on_postgresql_leave_one_sign_up(tmp_path, mailbox, days):
    reset_postgres()
    app = make_app(
        tmp_path, POSTGRES_URL, MAIL_SERVER="127.0.0.1", MAIL_PORT=str(mailbox.port), WAITLIST_MAX_ENTRIES="3"
    )
    barrier = threading.Barrier(2)
    outcomes = []

    def attempt(chosen):
        with app.app_context():
            barrier.wait(timeout=10)
            try:
                waitlist.join(BEA, "massage-60", chosen, DayPart.ANY)
                outcomes.append("joined")
            except waitlist.WaitlistProblem:
                outcomes.append("refused")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=attempt, args=(chosen,)) for chosen in days]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["joined", "refused"]
    assert len(entries(app)) == len(days[0])


# --------------------------------------------------------------------------------------------------- Google Calendar


def test_the_therapist_deleting_the_event_in_google_calendar_offers_the_time(tmp_path, mailbox, monkeypatch, standin):
    """The real sync against the Google stand-in: the deleted booking event frees the time for the waitlist."""
    from tests.test_google import connect, google_delete, make_google_app, sync

    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    monkeypatch.setenv("OAUTHLIB_RELAX_TOKEN_SCOPE", "1")
    app = make_google_app(tmp_path, standin, mailbox)
    client = app.test_client()
    connect(app, client, standin)
    waiting(app, client, mailbox, BEA)
    answer, _ = book(client)
    deliver_outbox(app)
    assert sync(app) == "sync-calendar: nothing changed\n"
    assert offers_to(app, mailbox, BEA) == []

    google_delete(standin, answer["id"])
    assert sync(app) == "sync-calendar: cancelled: 1\n"
    [offer] = offers_to(app, mailbox, BEA)
    assert "November 25" in str(offer["Subject"])
    page = client.get(OFFER.search(text_of(offer)).group(1))
    assert page.status_code == 200 and f'value="{BEA}"' in page.text
