"""Free times kept per service and studio day: right at once after every change, on every day, in every zone."""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.support import (
    BOOKING,
    EXAMPLE_RULES,
    NOW,
    POSTGRES_URL,
    Admin,
    book,
    csrf_token,
    deliver_outbox,
    make_app,
    reset_postgres,
)
from widget.booking import bookings, business, free_times
from widget.extensions import db
from widget.models import Booking
from widget.timezones import days_range, rfc3339, zone_named

# Bookings written straight into PostgreSQL by the tests of many rows; a SELECT follows.
INSERT_BOOKINGS = (
    "INSERT INTO bookings (id, service_id, status, start_at, end_at, blocked_start, blocked_end, name,"
    " email, phone, notes, client_timezone, phone_key, sequence, created_at, updated_at)"
)
SLOTS = "/api/slots?service=massage-60&start={first}&end={last}&tz={tz}"
DENVER = "America/Denver"


def slot_starts(client, first="2026-11-25", last=None, tz=DENVER) -> list[str]:
    """Return the starts the API offers for 60-minute massages on first..last."""
    response = client.get(SLOTS.format(first=first, last=last or first, tz=tz))
    assert response.status_code == 200, response.text
    return [slot["start"] for slot in response.json["slots"]]


def uncached(app, first: date, last: date, tz: str = DENVER) -> list[dict]:
    """Return the slots worked out afresh, without the cache, as the API writes them."""
    zone = zone_named(tz)
    with app.test_request_context():
        service = business.current().services["massage-60"]
        found = bookings.free_slots(service, *days_range(first, last, zone), zone)
        return [{"start": rfc3339(s.start, zone), "end": rfc3339(s.end, zone)} for s in found]


def no_working_out(monkeypatch):
    """Make any working out of slots fail: what is asked next must come from the cache."""

    def refuse(*_args, **_kwargs):
        raise AssertionError("slots were worked out again")

    monkeypatch.setattr(free_times, "_work_out", refuse)


def test_a_warm_read_works_nothing_out_and_answers_the_same(app, client, monkeypatch):
    """The second look at the same days comes from the cache, byte for byte."""
    first = client.get(SLOTS.format(first="2026-11-24", last="2026-11-30", tz=DENVER))
    assert first.status_code == 200 and first.json["slots"]
    assert first.json["slots"] == uncached(app, date(2026, 11, 24), date(2026, 11, 30))
    assert client.get("/book?service=massage-60").status_code == 200
    no_working_out(monkeypatch)
    again = client.get(SLOTS.format(first="2026-11-24", last="2026-11-30", tz=DENVER))
    assert again.data == first.data
    assert again.json == {"service": "massage-60", "timezone": DENVER, "slots": first.json["slots"]}
    # The day grid counts the same kept days.
    assert client.get("/book?service=massage-60").status_code == 200


def test_the_clock_cuts_kept_days_on_every_read(app, client):
    """Minimum notice is applied at read time: a kept day loses its starts as the time passes."""
    before = slot_starts(client, "2026-11-24")
    assert before[0] == "2026-11-24T09:00:00-07:00"
    app.extensions["clock"].now += timedelta(hours=19)  # 03:00 Denver: 12 hours' notice ends at 15:00
    after = slot_starts(client, "2026-11-24")
    assert after == [start for start in before if start >= "2026-11-24T15:00:00-07:00"]
    assert after == [slot["start"] for slot in uncached(app, date(2026, 11, 24), date(2026, 11, 24))]


def test_booking_cancelling_and_moving_change_the_answer_at_once(app, client):
    """Each change to a booking shows in the very next read, though the day was kept."""
    assert "2026-11-25T09:00:00-07:00" in slot_starts(client)
    made, manage = book(client)
    assert "2026-11-25T09:00:00-07:00" not in slot_starts(client)

    with app.app_context():
        bookings.reschedule(db.session.get(Booking, made["id"]), datetime(2026, 11, 25, 20, tzinfo=timezone.utc))
    starts = slot_starts(client)
    assert "2026-11-25T09:00:00-07:00" in starts and "2026-11-25T13:00:00-07:00" not in starts

    with app.app_context():
        bookings.cancel(db.session.get(Booking, made["id"]))
    assert "2026-11-25T13:00:00-07:00" in slot_starts(client)
    deliver_outbox(app)  # the calendar entries change nothing more
    assert "2026-11-25T13:00:00-07:00" in slot_starts(client)


def test_blocked_time_changes_the_answer_at_once(app, client):
    """Time the therapist blocks, and frees again, shows in the next read."""
    admin = Admin(app, client)
    admin.set_password()
    admin.login()
    assert "2026-11-25T14:00:00-07:00" in slot_starts(client)
    page = client.get("/admin")
    form = {"csrf_token": csrf_token(page.text), "day": "2026-11-25", "start": "14:00", "end": "15:00", "reason": ""}
    assert client.post("/admin/block", data=form).status_code == 302
    starts = slot_starts(client)
    assert "2026-11-25T14:00:00-07:00" not in starts and "2026-11-25T12:00:00-07:00" not in starts
    with app.app_context():
        [event_id] = db.session.scalars(text("SELECT id FROM calendar_events")).all()
    page = client.get("/admin")
    assert client.post(f"/admin/block/{event_id}/delete", data={"csrf_token": csrf_token(page.text)}).status_code == 302
    assert "2026-11-25T14:00:00-07:00" in slot_starts(client)


def test_two_apps_sharing_redis_and_postgresql_see_each_others_changes_at_once(tmp_path, redis_url):
    """A booking through one worker takes the time from the other's next read, though both kept the day."""
    reset_postgres()
    one = make_app(tmp_path / "one", POSTGRES_URL, REDIS_URL=redis_url)
    two = make_app(tmp_path / "two", POSTGRES_URL, REDIS_URL=redis_url)
    first, second = one.test_client(), two.test_client()
    assert slot_starts(first) == slot_starts(second)
    assert "2026-11-25T09:00:00-07:00" in slot_starts(second)

    made, _ = book(first)
    assert "2026-11-25T09:00:00-07:00" not in slot_starts(second)
    with two.app_context():
        bookings.cancel(db.session.get(Booking, made["id"]))
    assert "2026-11-25T09:00:00-07:00" in slot_starts(first)
    deliver_outbox(one)
    assert slot_starts(first) == slot_starts(second)


def test_two_processes_without_redis_see_each_others_changes_at_once(tmp_path):
    """Without Redis the version lives in the database: the jobs runner's or another worker's change shows at once."""
    database = f"sqlite:///{tmp_path / 'shared.db'}"
    web = make_app(tmp_path / "web", database)
    other = make_app(tmp_path / "other", database)  # the jobs runner, a command, or a second worker
    client = web.test_client()
    assert "2026-11-25T09:00:00-07:00" in slot_starts(client)  # the day is now kept in the web process

    made, _ = book(other.test_client())
    assert "2026-11-25T09:00:00-07:00" not in slot_starts(client)
    with other.app_context():
        bookings.cancel(db.session.get(Booking, made["id"]))
    assert "2026-11-25T09:00:00-07:00" in slot_starts(client)


@pytest.fixture
def dst_app(tmp_path):
    """Return an app whose studio opens on Sundays across both clock changes, the clock in late October."""
    rules = Path(EXAMPLE_RULES).read_text().replace("sunday = []", 'sunday = ["00:00-03:30", "09:00-12:00"]')
    path = tmp_path / "business.toml"
    path.write_text(rules)
    app = make_app(tmp_path, BUSINESS_CONFIG=str(path))
    app.extensions["clock"].now = datetime(2026, 10, 20, 15, tzinfo=timezone.utc)
    return app


@pytest.mark.parametrize("tz", [DENVER, "Europe/London", "Asia/Kolkata", "Pacific/Chatham"])
def test_clock_change_days_are_the_same_kept_or_not(dst_app, tz):
    """Both autumn changes (London 25 October, Denver 1 November) read the same from the cache as worked out afresh."""
    client = dst_app.test_client()
    for _ in range(2):  # cold, then warm
        answer = client.get(SLOTS.format(first="2026-10-23", last="2026-11-03", tz=tz))
        assert answer.status_code == 200
        assert answer.json["slots"] == uncached(dst_app, date(2026, 10, 23), date(2026, 11, 3), tz)
    starts = [slot["start"] for slot in answer.json["slots"]]
    if tz == DENVER:
        # 01:00-02:00 happens twice on 1 November: both hours are offered, each with its own offset.
        assert "2026-11-01T01:00:00-06:00" in starts and "2026-11-01T01:00:00-07:00" in starts


def test_the_day_grid_counts_match_the_slots(dst_app):
    """The day grid's counts are the slots of each day, also on a 25-hour day."""
    client = dst_app.test_client()
    zone = zone_named(DENVER)
    with dst_app.test_request_context():
        service = business.current().services["massage-60"]
        counts = free_times.free_days(service, date(2026, 10, 26), 14, zone)
        expected = bookings.free_days(service, date(2026, 10, 26), 14, zone)
    assert counts == expected
    assert counts[date(2026, 11, 1)] > 0
    page = client.get("/book?service=massage-60&from=2026-10-26")
    assert page.status_code == 200


def test_a_new_business_rules_file_is_never_answered_from_old_entries(tmp_path, redis_url):
    """Workers started with other rules do not read the entries made under the old ones."""
    reset_postgres()
    old = make_app(tmp_path / "old", POSTGRES_URL, REDIS_URL=redis_url)
    assert "2026-11-25T09:00:00-07:00" in slot_starts(old.test_client())
    wednesday = 'wednesday = ["09:00-12:00", "13:00-18:00"]'
    rules = Path(EXAMPLE_RULES).read_text().replace(wednesday, 'wednesday = ["13:00-18:00"]')
    path = tmp_path / "business.toml"
    path.write_text(rules)
    new = make_app(tmp_path / "new", POSTGRES_URL, REDIS_URL=redis_url, BUSINESS_CONFIG=str(path))
    assert slot_starts(new.test_client())[0] == "2026-11-25T13:00:00-07:00"


def test_busy_time_reads_use_an_index_on_postgresql_with_a_long_history(tmp_path):
    """With thousands of past bookings, the busy-time and the client-cap queries are index scans."""
    reset_postgres()
    app = make_app(tmp_path, POSTGRES_URL)
    with app.app_context():
        db.session.execute(
            text(
                INSERT_BOOKINGS
                + " SELECT 'past' || n, 'massage-60', CASE WHEN n % 5 = 0 THEN 'cancelled' ELSE 'confirmed' END,"
                " t, t + interval '1 hour', t, t + interval '75 minutes', 'Past Client', 'client' || n ||"
                " '@example.com', '801-555-0101', '', 'America/Denver', '8015550101', 0, t, t"
                " FROM (SELECT n, timestamptz '2020-01-01 16:00+00' + n * interval '2 hours' AS t"
                " FROM generate_series(1, 20000) AS n) AS history"
            )
        )
        db.session.commit()
        db.session.execute(text("ANALYZE bookings"))
        lo = NOW
        hi = NOW + timedelta(days=7)
        from sqlalchemy import select

        query = select(Booking.blocked_start, Booking.blocked_end).where(bookings._overlapping(lo, hi))
        compiled = query.compile(db.engine, compile_kwargs={"literal_binds": True})
        plan = "\n".join(db.session.execute(text(f"EXPLAIN {compiled}")).scalars())
        assert "bookings_no_overlap" in plan and "Seq Scan" not in plan, plan

        cap = text("EXPLAIN SELECT count(*) FROM bookings WHERE lower(email) = 'client7@example.com'")
        plan = "\n".join(db.session.execute(cap).scalars())
        assert "ix_bookings_lower_email" in plan and "Seq Scan" not in plan, plan
    # And the answers are still right: nothing from history is busy now.
    client = app.test_client()
    assert slot_starts(client)[0] == "2026-11-25T09:00:00-07:00"


def test_the_client_cap_reads_only_the_clients_own_bookings_however_many_are_upcoming(tmp_path):
    """The cap on a client's upcoming bookings counts over her email's and phone's indexes, never the whole agenda.

    One count over "email OR phone" let PostgreSQL walk every upcoming
    confirmed booking of every client: one more row with each booking made.
    """
    reset_postgres()
    app = make_app(tmp_path, POSTGRES_URL)
    with app.app_context():
        db.session.execute(
            text(
                INSERT_BOOKINGS + " SELECT 'soon' || n, 'massage-60', 'confirmed', t, t + interval '1 hour', t,"
                " t + interval '75 minutes', 'Client', 'client' || n || '@example.com', '801-555-0101', '',"
                " 'America/Denver', '801555' || n, 0, now(), now()"
                " FROM (SELECT n, timestamptz '2026-11-25 16:00+00' + n * interval '2 hours' AS t"
                " FROM generate_series(1, 5000) AS n) AS upcoming"
            )
        )
        db.session.commit()
        statement = bookings._UPCOMING_BY_CLIENT.compile(db.engine)
        params = {**statement.params, "email": "client7@example.com", "phone_key": "8015557", "now": NOW}
        explained = db.session.connection().exec_driver_sql(f"EXPLAIN {statement}", params).scalars()
        plan = "\n".join(explained)
        assert "ix_bookings_lower_email" in plan and "ix_bookings_phone_key_start" in plan, plan
        assert "bookings_no_overlap" not in plan and "Seq Scan" not in plan, plan
        assert db.session.execute(bookings._UPCOMING_BY_CLIENT, params).one() == (1, 1)


def test_busy_time_reads_on_sqlite_walk_only_what_is_still_to_end(app):
    """On SQLite the bookings and events queries use the end-column indexes."""
    with app.app_context():
        from sqlalchemy import select

        from widget.models import CalendarEvent

        lo, hi = NOW, NOW + timedelta(days=7)
        query = select(Booking.blocked_start, Booking.blocked_end, Booking.start_at).where(
            bookings._overlapping(lo, hi)
        )
        compiled = query.compile(db.engine, compile_kwargs={"literal_binds": True})
        plan = " ".join(str(row[-1]) for row in db.session.execute(text(f"EXPLAIN QUERY PLAN {compiled}")))
        assert "ix_bookings_status_blocked_end" in plan, plan
        events = select(CalendarEvent.start_at).where(CalendarEvent.end_at > lo, CalendarEvent.start_at < hi)
        compiled = events.compile(db.engine, compile_kwargs={"literal_binds": True})
        plan = " ".join(str(row[-1]) for row in db.session.execute(text(f"EXPLAIN QUERY PLAN {compiled}")))
        assert "ix_calendar_events_end" in plan, plan


def test_a_full_day_shows_no_slots_at_once(app, client):
    """The daily limit is part of what is kept: the sixth booking of a day empties it in the next read."""
    starts = slot_starts(client, "2026-11-25")
    taken = ["09:00", "10:15", "13:00", "14:15", "15:30"]
    for i, hour in enumerate(taken):
        book(client, start=f"2026-11-25T{hour}:00-07:00", email=f"c{i}@example.com", phone=f"801-555-01{i:02d}")
    assert slot_starts(client, "2026-11-25")
    book(client, start="2026-11-25T16:45:00-07:00", email="c9@example.com", phone="801-555-0199")
    assert slot_starts(client, "2026-11-25") == [] and starts
    assert BOOKING["service"] == "massage-60"


# Answers kept per process: given again only while everything they depend on is unchanged.


def counting_answer(reading_first_start: int | None = None):
    """Return an answer function that counts its calls and says it shows ``reading_first_start`` first."""
    calls = []

    def answer(reading):
        calls.append(reading)
        if reading_first_start is not None:
            reading.first_start = reading_first_start
        reading.worked_out = min(reading.worked_out, time.time())
        return f"answer {len(calls)}"

    return answer, calls


def test_a_repeated_read_is_answered_without_reading_the_kept_days(app, client, monkeypatch):
    """The API, the day grid and the times page are each worked out once, then given again byte for byte."""
    paths = [
        SLOTS.format(first="2026-11-24", last="2026-11-30", tz=DENVER),
        "/book?service=massage-60&tz=Europe/London",
        "/book?service=massage-60&date=2026-11-25",
    ]
    first = [client.get(path) for path in paths]
    assert [response.status_code for response in first] == [200, 200, 200]
    assert "3:00" in first[2].text and "Europe/London" in first[1].text

    reads = []
    days = free_times._days
    monkeypatch.setattr(free_times, "_days", lambda *args: reads.append(args) or days(*args))
    for path, earlier in zip(paths, first, strict=True):
        again = client.get(path)
        assert again.status_code == 200 and again.data == earlier.data
    assert reads == []
    # A query not asked before is worked out from the kept days.
    assert client.get("/book?service=massage-60&date=2026-11-27").status_code == 200
    assert len(reads) == 1


def read(key: tuple, zone, answer):
    """Call ``kept`` as a request would, ending the database session after it as a request does."""
    try:
        return free_times.kept(key, zone, answer)
    finally:
        db.session.remove()


def test_a_kept_answer_holds_until_the_notice_reaches_its_first_start(app):
    """12 hours' notice: a first start of 09:00 holds the answer until 21:00 the evening before, not a second more."""
    clock = app.extensions["clock"]
    nine = int(datetime(2026, 11, 24, 16, tzinfo=timezone.utc).timestamp())  # 09:00 Denver
    answer, calls = counting_answer(nine)
    zone = zone_named(DENVER)
    with app.test_request_context():
        assert read(("test",), zone, answer) == "answer 1"
        clock.now = datetime(2026, 11, 24, 4, tzinfo=timezone.utc)  # 21:00 Denver: 09:00 is still bookable
        assert read(("test",), zone, answer) == "answer 1"
        clock.now += timedelta(seconds=1)
        assert read(("test",), zone, answer) == "answer 2"
    assert len(calls) == 2


def test_a_kept_answer_ends_at_midnight_in_the_studio_and_in_its_own_zone(app):
    """ "Today", the horizon and the links move on at midnight: in the asked zone, and in Denver for the studio."""
    clock = app.extensions["clock"]
    answer, calls = counting_answer()  # shows no slot: only the days bound it
    london = zone_named("Europe/London")
    with app.test_request_context():
        read(("london",), london, answer)  # NOW: 15:00 in London, 08:00 in Denver
        clock.now = datetime(2026, 11, 23, 23, 59, 59, tzinfo=timezone.utc)
        read(("london",), london, answer)
        assert len(calls) == 1
        clock.now = datetime(2026, 11, 24, 0, 0, tzinfo=timezone.utc)  # midnight in London
        read(("london",), london, answer)
        assert len(calls) == 2
        clock.now = datetime(2026, 11, 24, 6, 59, 59, tzinfo=timezone.utc)
        read(("london",), london, answer)
        assert len(calls) == 2
        clock.now = datetime(2026, 11, 24, 7, 0, tzinfo=timezone.utc)  # midnight in Denver
        read(("london",), london, answer)
        assert len(calls) == 3


def test_a_kept_answer_is_dropped_by_any_change_to_busy_time_and_by_its_age(app, monkeypatch):
    """A new calendar version, or free times older than the cache keeps them, make the answer anew."""
    answer, calls = counting_answer()
    zone = zone_named(DENVER)
    with app.test_request_context():
        read(("test",), zone, answer)
        read(("test",), zone, answer)
        assert len(calls) == 1
        with db.engine.begin() as connection:  # what any booking change, blocked time or Google sync does
            free_times.cache.bump_version_in(connection)
        read(("test",), zone, answer)
        assert len(calls) == 2
        later = time.time() + app.config["SLOTS_CACHE_SECONDS"] + 1
        monkeypatch.setattr(free_times.time, "time", lambda: later)
        read(("test",), zone, answer)
        assert len(calls) == 3


def test_with_the_cache_off_nothing_is_kept_and_a_paused_calendar_is_never_hidden(tmp_path, monkeypatch):
    """SLOTS_CACHE_SECONDS=0 works every answer out; a calendar that is not connected stops even a kept answer."""
    app = make_app(tmp_path, SLOTS_CACHE_SECONDS="0")
    answer, calls = counting_answer()
    zone = zone_named(DENVER)
    with app.test_request_context():
        read(("test",), zone, answer)
        read(("test",), zone, answer)
    assert len(calls) == 2

    (tmp_path / "kept").mkdir()
    kept_app = make_app(tmp_path / "kept")
    with kept_app.test_request_context():
        read(("test",), zone, answer)
        monkeypatch.setattr(type(free_times.calendars.current()), "status", lambda _self: "lost")
        with pytest.raises(free_times.calendars.CalendarUnavailable):
            read(("test",), zone, answer)
    assert len(calls) == 3


def test_a_process_keeps_a_bounded_number_of_answers(app, monkeypatch):
    """Past ANSWERS_KEPT distinct queries the least recently used answer goes: a crawler cannot grow a worker."""
    monkeypatch.setattr(free_times, "ANSWERS_KEPT", 3)
    answer, calls = counting_answer()
    zone = zone_named(DENVER)
    with app.test_request_context():
        for key in ("a", "b", "c", "a", "d"):  # "b" is now the least recently used
            read((key,), zone, answer)
        assert len(calls) == 4
        read(("a",), zone, answer)
        assert len(calls) == 4
        read(("b",), zone, answer)
        assert len(calls) == 5
