"""Intake questions: the rules file, the details step without JavaScript, the API, and who may see the answers."""

from __future__ import annotations

import html
import json
import logging
import multiprocessing
import re
from datetime import datetime

import pytest
from sqlalchemy import func, select

from tests.google_standin import DEFAULT_CALENDAR_ID, GoogleStandIn
from tests.support import (
    BOOKING,
    EXAMPLE_RULES,
    POSTGRES_URL,
    app_settings,
    csrf_token,
    deliver_outbox,
    make_app,
    process_app,
    reset_postgres,
    shared_database,
)
from tests.test_business import VALID
from tests.test_google import CALLBACK, connect, make_google_app
from widget.booking import bookings, intake
from widget.booking.business import BusinessConfigError, load_business, parse_business
from widget.extensions import db
from widget.models import Booking, CalendarEvent, OutboxMessage

THERAPIST = "therapist@studio.example"
STUDIO_PHONE = "801-471-0877"
START = "2026-11-24T09:00:00-07:00"
# The example's questions, with pressure made required and one more question asked only for the 90-minute massage.
EXTRA = """
[[questions]]
id = "pregnant"
label = "Are you in your first trimester of pregnancy?"
type = "yes-no"
required = true
services = ["massage-90"]
stop_if = "yes"
"""
# One answer of each type, the values a client would give, and what the therapist reads for them.
ANSWERS = {
    "pressure": "Firm",
    "areas_to_avoid": "Feet — ticklish",
    "conditions": "Rotator cuff surgery in 2024.\nSome stiffness left.",
    "first_visit": True,
    "clotting_disorder": False,
}
SECRETS = ("Feet — ticklish", "Rotator cuff surgery", "Some stiffness left")


def intake_rules(tmp_path) -> str:
    """Write the example rules with pressure required and EXTRA added; return the file's path."""
    with open(EXAMPLE_RULES, encoding="utf-8") as file:
        text = file.read()
    assert text.count('type = "one-of"\n') == 1
    text = text.replace('type = "one-of"\n', 'type = "one-of"\nrequired = true\n') + EXTRA
    path = tmp_path / "business.toml"
    path.write_text(text, encoding="utf-8")
    return str(path)


@pytest.fixture
def intake_app(tmp_path, mailbox):
    """Return an app whose rules ask the intake questions above and whose mail goes to ``mailbox``."""
    return make_app(
        tmp_path,
        BUSINESS_CONFIG=intake_rules(tmp_path),
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=str(mailbox.port),
        THERAPIST_EMAIL=THERAPIST,
    )


@pytest.fixture
def intake_client(intake_app):
    return intake_app.test_client()


def _bookings(app) -> list[Booking]:
    with app.app_context():
        return list(db.session.scalars(select(Booking)))


def _nothing_stored(app) -> None:
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Booking)) == 0
        assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 0


# --- The rules file ----------------------------------------------------------------------------------------------


def test_example_rules_ship_a_massage_set_with_one_stop_question():
    questions = load_business(EXAMPLE_RULES).questions
    assert [(q.id, q.type) for q in questions] == [
        ("pressure", "one-of"),
        ("areas_to_avoid", "short-text"),
        ("conditions", "long-text"),
        ("first_visit", "yes-no"),
        ("clotting_disorder", "yes-no"),
    ]
    assert [q.id for q in questions if q.stop_if is not None] == ["clotting_disorder"]
    assert questions[-1].stop_if is True and "talk with you" in questions[-1].stop_message
    assert all(not q.services for q in questions), "the example asks every question for every service"


def test_questions_default_to_optional_for_every_service():
    business = parse_business(VALID + '\n[[questions]]\nid = "areas"\nlabel = "Areas to avoid"\ntype = "short-text"\n')
    [question] = business.questions
    assert (question.required, question.services, question.help, question.stop_if) == (False, (), "", None)


QUESTION = '\n[[questions]]\nid = "q"\nlabel = "A question"\n'


@pytest.mark.parametrize(
    ("extra", "key", "problem"),
    [
        ('type = "essay"\n', "questions[0].type", "must be one of short-text, long-text, yes-no, one-of"),
        ('type = "one-of"\n', "questions[0].choices", "at least two choices"),
        ('type = "one-of"\nchoices = ["Only"]\n', "questions[0].choices", "at least two choices"),
        ('type = "one-of"\nchoices = ["A", "A"]\n', "questions[0].choices", "lists a choice twice"),
        ('type = "one-of"\nchoices = ["A", ""]\n', "questions[0].choices[1]", "non-empty string"),
        ('type = "short-text"\nchoices = ["A", "B"]\n', "questions[0].choices", "only for one-of"),
        ('type = "short-text"\nstop_if = "yes"\n', "questions[0].stop_if", "only for yes-no"),
        ('type = "yes-no"\nstop_if = "maybe"\n', "questions[0].stop_if", 'must be "yes" or "no"'),
        ('type = "yes-no"\nstop_message = "Call us"\n', "questions[0].stop_message", "needs stop_if"),
        ('type = "yes-no"\nrequired = "yes"\n', "questions[0].required", "must be true or false"),
        ('type = "yes-no"\nservices = ["massage-45"]\n', "questions[0].services[0]", "'massage-45' is not a service"),
        ('type = "yes-no"\nservices = []\n', "questions[0].services", "non-empty list"),
        ('type = "yes-no"\nhint = "typo"\n', "questions[0].hint", "unknown key"),
        ('type = "yes-no"\nhelp = ""\n', "questions[0].help", "non-empty string"),
        ("", "questions[0].type", "is required"),
    ],
)
def test_bad_question_stops_start_up_naming_the_key(extra, key, problem):
    with pytest.raises(BusinessConfigError) as error:
        parse_business(VALID + QUESTION + extra, "rules.toml")
    assert f"rules.toml: {key}: " in str(error.value) and problem in str(error.value)


@pytest.mark.parametrize(
    ("text", "key", "problem"),
    [
        (QUESTION.replace('"q"', '"Pressure-Level"') + 'type = "yes-no"\n', "questions[0].id", "lower-case letter"),
        (QUESTION + 'type = "yes-no"\n' + QUESTION + 'type = "short-text"\n', "questions[1].id", "'q' is used twice"),
        ('\nquestions = "none"\n', "questions", "array of [[questions]]"),
    ],
)
def test_bad_question_ids_stop_start_up(text, key, problem):
    # A top-level key must come before the first table, so the plain key goes first.
    source = text + VALID if text.startswith("\nquestions =") else VALID + text
    with pytest.raises(BusinessConfigError) as error:
        parse_business(source, "rules.toml")
    assert f"rules.toml: {key}: " in str(error.value) and problem in str(error.value)


# --- The API -----------------------------------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def any_db_intake_app(request, tmp_path):
    """Return an app asking the intake questions, on SQLite, then on PostgreSQL."""
    if request.param == "postgresql":
        reset_postgres()
        return make_app(tmp_path, POSTGRES_URL, BUSINESS_CONFIG=intake_rules(tmp_path))
    return make_app(tmp_path, BUSINESS_CONFIG=intake_rules(tmp_path))


def test_api_stores_an_answer_of_each_type_and_never_returns_them(any_db_intake_app):
    """Each type is kept as sent (text tidied, yes-no as a boolean); no public answer carries them."""
    client = any_db_intake_app.test_client()
    sent = {**ANSWERS, "areas_to_avoid": "  Feet — ticklish  "}
    response = client.post("/api/bookings", json={**BOOKING, "start": START, "answers": sent})
    assert response.status_code == 201, response.json
    assert "answers" not in response.json
    [booking] = _bookings(any_db_intake_app)
    assert booking.answers == ANSWERS
    for path in (
        "/api/slots?service=massage-60&start=2026-11-24&end=2026-11-24",
        response.json["manage_url"].removeprefix("http://widget.test"),
    ):
        page = client.get(path).get_data(as_text=True)
        assert not any(secret in html.unescape(page) for secret in SECRETS), path
    again = client.post("/api/bookings", json={**BOOKING, "start": START, "answers": sent})
    assert again.status_code == 409 and not any(secret in again.get_data(as_text=True) for secret in SECRETS)


def test_api_without_answers_books_when_nothing_is_required(app, client):
    """The shipped rules ask only optional questions: a booking without answers keeps none."""
    response = client.post("/api/bookings", json={**BOOKING, "start": START})
    assert response.status_code == 201, response.json
    assert _bookings(app)[0].answers is None


@pytest.mark.parametrize(
    ("answers", "field", "message"),
    [
        ({**ANSWERS, "shoe_size": "9"}, "answers.shoe_size", "is not a question for this service"),
        ({**ANSWERS, "pregnant": False}, "answers.pregnant", "is not a question for this service"),
        ({**ANSWERS, "pressure": "Brutal"}, "answers.pressure", "must be one of: Light, Medium, Firm, Not sure yet"),
        ({**ANSWERS, "pressure": 3}, "answers.pressure", "must be text"),
        ({**ANSWERS, "first_visit": "yes"}, "answers.first_visit", "must be true (yes) or false (no)"),
        ({**ANSWERS, "first_visit": 1}, "answers.first_visit", "must be true (yes) or false (no)"),
        ({**ANSWERS, "areas_to_avoid": ["feet"]}, "answers.areas_to_avoid", "must be text"),
        ({**ANSWERS, "areas_to_avoid": "x" * 201}, "answers.areas_to_avoid", "must be at most 200 characters"),
        ({**ANSWERS, "areas_to_avoid": "feet\nface"}, "answers.areas_to_avoid", "must be on one line"),
        ({**ANSWERS, "conditions": "x" * 2001}, "answers.conditions", "must be at most 2000 characters"),
        ({k: v for k, v in ANSWERS.items() if k != "pressure"}, "answers.pressure", "is required"),
        ({**ANSWERS, "pressure": "  "}, "answers.pressure", "is required"),
        (["Firm"], "answers", "must be an object of question ids and answers"),
        ("Firm", "answers", "must be an object of question ids and answers"),
    ],
)
def test_api_refuses_bad_answers_naming_the_question(intake_app, intake_client, answers, field, message):
    response = intake_client.post("/api/bookings", json={**BOOKING, "start": START, "answers": answers})
    assert response.status_code == 422, response.json
    assert response.json["errors"] == {field: message}
    _nothing_stored(intake_app)


def test_many_made_up_answers_get_a_short_refusal(intake_app, intake_client):
    answers = {**ANSWERS, **{f"made_up_{i}": "x" for i in range(500)}}
    response = intake_client.post("/api/bookings", json={**BOOKING, "start": START, "answers": answers})
    assert response.status_code == 422
    assert len(response.json["errors"]) == 10
    assert all(message == "is not a question for this service" for message in response.json["errors"].values())
    _nothing_stored(intake_app)


def test_api_names_bad_answers_beside_other_bad_fields(intake_app, intake_client):
    body = {**BOOKING, "start": START, "email": "not an address", "answers": {"pressure": "Brutal"}}
    response = intake_client.post("/api/bookings", json=body)
    assert response.status_code == 422
    assert {"email", "answers.pressure"} <= set(response.json["errors"])
    body = {**BOOKING, "start": "tomorrow", "answers": {"first_visit": "no"}}
    response = intake_client.post("/api/bookings", json=body)
    assert {"start", "answers.first_visit", "answers.pressure"} <= set(response.json["errors"])


def test_question_for_one_service_is_asked_only_for_it(intake_app, intake_client):
    """The first-trimester question is asked (and required) for the 90-minute massage alone."""
    body = {**BOOKING, "service": "massage-90", "start": START, "answers": {"pressure": "Light"}}
    response = intake_client.post("/api/bookings", json=body)
    assert response.status_code == 422 and response.json["errors"] == {"answers.pregnant": "is required"}
    body["answers"]["pregnant"] = False
    assert intake_client.post("/api/bookings", json=body).status_code == 201


@pytest.mark.parametrize(
    ("service", "answers", "field", "words"),
    [
        ("massage-60", {**ANSWERS, "clotting_disorder": True}, "answers.clotting_disorder", "talk with you first"),
        ("massage-90", {"pressure": "Light", "pregnant": True}, "answers.pregnant", "talk with you before"),
    ],
)
def test_api_stop_answer_stores_nothing_and_gives_the_phone(intake_app, intake_client, service, answers, field, words):
    body = {**BOOKING, "service": service, "start": START, "answers": answers}
    response = intake_client.post("/api/bookings", json=body, headers={"Idempotency-Key": "stop-1"})
    assert response.status_code == 422
    assert list(response.json["errors"]) == [field]
    assert (
        words in response.json["errors"][field]
        and f"Please call us at {STUDIO_PHONE}" in response.json["errors"][field]
    )
    assert response.json["phone"] == STUDIO_PHONE
    _nothing_stored(intake_app)


def _racer(database_url, rules, barrier, number, results):
    """Run in a child process: one client booking Tuesday 9:00 with answers of her own, released with the others."""
    app = process_app(app_settings(database_url, BUSINESS_CONFIG=rules))
    answers = {"pressure": "Light", "areas_to_avoid": f"Client {number}'s left knee"}
    if number == 0:
        answers["clotting_disorder"] = True  # needs a call: never stored, whoever wins
    with app.app_context():
        barrier.wait(timeout=60)
        try:
            booking, _ = bookings.book(
                "massage-60",
                datetime.fromisoformat(START),
                f"Client {number}",
                f"client{number}@example.com",
                f"801-555-01{number:02d}",
                answers=answers,
            )
            results.put(("booked", number, booking.id))
        except intake.CallFirst:
            results.put(("call", number, None))
        except bookings.SlotTaken:
            results.put(("taken", number, None))
        except Exception as error:  # noqa: BLE001 - reported to the parent, which fails the test
            results.put(("error", number, repr(error)))


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_clients_racing_for_one_time_leave_one_booking_with_its_own_answers(tmp_path, kind):
    """Six clients book one time at the same instant: one booking, holding the winner's answers and no one else's."""
    url = shared_database(kind, tmp_path, "race.db")
    rules = intake_rules(tmp_path)
    app = make_app(tmp_path, url, BUSINESS_CONFIG=rules)
    context = multiprocessing.get_context("fork")
    callers = 6
    barrier, results = context.Barrier(callers), context.Queue()
    processes = [context.Process(target=_racer, args=(url, rules, barrier, n, results)) for n in range(callers)]
    for process in processes:
        process.start()
    outcomes = sorted(results.get(timeout=120) for _ in processes)
    for process in processes:
        process.join(timeout=30)
    assert [outcome[0] for outcome in outcomes].count("booked") == 1, outcomes
    assert ("call", 0, None) in outcomes and not [o for o in outcomes if o[0] == "error"], outcomes
    [(_, winner, booking_id)] = [outcome for outcome in outcomes if outcome[0] == "booked"]
    [booking] = _bookings(app)
    assert (booking.id, booking.name) == (booking_id, f"Client {winner}")
    assert booking.answers == {"pressure": "Light", "areas_to_avoid": f"Client {winner}'s left knee"}


def test_openapi_documents_answers(client):
    spec = client.get("/api/openapi.json").json
    request = spec["components"]["schemas"]["BookingRequest"]["properties"]["answers"]
    assert "answers.<id>" in request["description"]
    assert "answers" not in spec["components"]["schemas"]["Booking"]["properties"]


# --- The details step without JavaScript -------------------------------------------------------------------------


def _details(client, service="massage-60"):
    response = client.get("/book", query_string={"service": service, "start": START, "tz": "America/Denver"})
    assert response.status_code == 200, response.text
    return response


def _submit(client, page, answers: dict, service="massage-60"):
    form = {
        "csrf_token": csrf_token(page.text),
        "service": service,
        "start": START,
        "tz": "America/Denver",
        "idempotency_key": re.search(r'name="idempotency_key" type="hidden" value="([^"]+)"', page.text).group(1),
        "name": "Ada Client",
        "email": "ada@example.com",
        "phone": "801-555-0101",
        **{f"answer_{key}": value for key, value in answers.items()},
    }
    return client.post("/book?tz=America/Denver", data=form)


FORM_ANSWERS = {**ANSWERS, "first_visit": "yes", "clotting_disorder": "no"}


def test_details_step_asks_each_question_accessibly(intake_client):
    page = _details(intake_client).text
    # Text questions: a labelled input, help tied to it.
    assert re.search(r'<label for="answer_areas_to_avoid">Areas to avoid</label>', page)
    areas = re.search(r'<input[^>]*id="answer_areas_to_avoid"[^>]*>', page).group()
    assert 'aria-describedby="answer_areas_to_avoid-hint"' in areas and 'maxlength="200"' in areas
    assert "required" not in areas
    assert 'id="answer_areas_to_avoid-hint">For example feet, face or abdomen.</p>' in page
    conditions = re.search(r'<textarea[^>]*id="answer_conditions"[^>]*>', page).group()
    assert 'aria-describedby="answer_conditions-hint"' in conditions
    # Choices: a group named by its legend, one labelled radio per choice; required ones say so.
    pressure = re.search(r'<fieldset[^>]*id="answer_pressure".*?</fieldset>', page, re.S).group()
    assert 'role="radiogroup"' in pressure and 'aria-required="true"' in pressure
    assert "<legend>Pressure preference" in pressure and "(required)" in pressure
    assert 'aria-describedby="answer_pressure-hint"' in pressure
    assert re.findall(r'type="radio" value="([^"]+)"', pressure) == ["Light", "Medium", "Firm", "Not sure yet"]
    assert len(re.findall(r"<input[^>]*required", pressure)) == 4
    first_visit = re.search(r'<fieldset[^>]*id="answer_first_visit".*?</fieldset>', page, re.S).group()
    assert re.findall(r'type="radio" value="([^"]+)"', first_visit) == ["yes", "no"]
    assert "required" not in first_visit
    # The 90-minute massage's own question is not asked for the 60-minute one.
    assert "first trimester" not in page
    assert "first trimester" in _details(intake_client, "massage-90").text


def test_form_books_with_an_answer_of_each_type(intake_app, intake_client):
    done = _submit(intake_client, _details(intake_client), FORM_ANSWERS)
    assert done.status_code == 303, done.text
    [booking] = _bookings(intake_app)
    assert booking.answers == ANSWERS
    confirmation = intake_client.get(done.headers["Location"]).text
    assert "You're booked" in confirmation
    assert not any(secret in html.unescape(confirmation) for secret in SECRETS)
    # The host page's event says what was booked, never what was answered.
    marker = html.unescape(re.search(r'data-booked="([^"]+)"', confirmation).group(1))
    assert set(json.loads(marker)) == {"service", "start", "end"}


@pytest.mark.parametrize(
    ("changes", "field", "shown"),
    [
        ({"pressure": ""}, "answer_pressure", "Pressure preference is required"),
        ({"pressure": "Brutal"}, "answer_pressure", "Pressure preference must be one of: Light, Medium, Firm"),
        ({"first_visit": "maybe"}, "answer_first_visit", "must be true (yes) or false (no)"),
        ({"areas_to_avoid": "x" * 201}, "answer_areas_to_avoid", "Areas to avoid must be at most 200 characters"),
    ],
)
def test_form_shows_bad_answers_inline_and_books_nothing(intake_app, intake_client, changes, field, shown):
    page = _submit(intake_client, _details(intake_client), {**FORM_ANSWERS, **changes})
    assert page.status_code == 422
    text = html.unescape(page.text)
    assert f'<p class="error" id="{field}-error">' in text and shown in text
    assert re.search(rf'aria-describedby="{field}-error', text)
    assert _bookings(intake_app) == []


def test_form_shows_every_bad_field_at_once(intake_app, intake_client):
    page = _submit(intake_client, _details(intake_client), {"pressure": ""})
    text = html.unescape(page.text)
    assert page.status_code == 422 and "Pressure preference is required" in text
    page = intake_client.post(
        "/book?tz=America/Denver",
        data={
            "csrf_token": csrf_token(_details(intake_client).text),
            "service": "massage-60",
            "start": START,
            "name": "",
            "email": "ada@example.com",
            "phone": "801-555-0101",
        },
    )
    text = html.unescape(page.text)
    assert "Name is required" in text and "Pressure preference is required" in text
    assert _bookings(intake_app) == []


def test_form_stop_answer_shows_the_kind_message_and_stores_nothing(intake_app, intake_client):
    page = _submit(intake_client, _details(intake_client), {**FORM_ANSWERS, "clotting_disorder": "yes"})
    assert page.status_code == 422
    text = html.unescape(page.text)
    assert "Let's talk first" in text and "we'd like to talk with you first" in text
    assert f'href="tel:{STUDIO_PHONE}"' in text and f"Please call us at {STUDIO_PHONE} to book." in text
    assert 'data-step="call"' in text and "data-booked" not in text
    _nothing_stored(intake_app)


# --- Who sees the answers: the therapist --------------------------------------------------------------------------


def test_admin_agenda_and_booking_page_show_the_answers(intake_app, intake_client):
    from tests.support import Admin

    made = intake_client.post("/api/bookings", json={**BOOKING, "start": START, "answers": ANSWERS}).json
    admin = Admin(intake_app, intake_client)
    admin.set_password()
    admin.login()
    for path in ("/admin", f"/admin/bookings/{made['id']}"):
        page = html.unescape(intake_client.get(path).text)
        assert "<dt>Pressure preference</dt><dd" in page and ">Firm</dd>" in page, path
        assert "Feet — ticklish" in page and "Rotator cuff surgery in 2024.\nSome stiffness left." in page
        assert "<dt>Is this your first visit to the studio?</dt><dd" in page and ">Yes</dd>" in page
        assert "Do you have a blood clotting disorder, or take blood thinners?</dt><dd" in page and ">No</dd>" in page


def test_therapist_email_shows_the_answers_and_the_client_email_does_not(intake_app, intake_client, mailbox):
    intake_client.post("/api/bookings", json={**BOOKING, "start": START, "answers": ANSWERS})
    deliver_outbox(intake_app)
    [notice] = mailbox.received_by(THERAPIST)
    text = notice.get_body(preferencelist=("plain",)).get_content().replace("\r\n", "\n")
    assert "Intake answers:" in text
    assert "- Pressure preference: Firm" in text and "- Areas to avoid: Feet — ticklish" in text
    assert "- Injuries or health conditions: Rotator cuff surgery in 2024.\n  Some stiffness left." in text
    assert "- Is this your first visit to the studio? Yes" in text
    body = html.unescape(notice.get_body(preferencelist=("html",)).get_content())
    assert "Intake answers" in body and ">Firm</td>" in body and "Feet — ticklish" in body
    [confirmation] = mailbox.received_by("ada@example.com")
    for part in confirmation.walk():
        if part.get_content_maintype() == "text":
            content = part.get_content()
            assert not any(secret in html.unescape(content) for secret in SECRETS)
            assert "Intake answers" not in content


def test_answers_never_reach_the_logs(intake_app, intake_client, mailbox, caplog):
    """Neither a refusal nor a failed delivery of the therapist's notice logs an answer."""
    caplog.set_level(logging.DEBUG)
    mailbox.reject(THERAPIST, 451, "Try again later")
    intake_client.post("/api/bookings", json={**BOOKING, "start": START, "answers": {**ANSWERS, "pressure": "Hard"}})
    intake_client.post("/api/bookings", json={**BOOKING, "start": START, "answers": ANSWERS})
    deliver_outbox(intake_app)
    # The test's own SMTP server logs every line it receives ("mail.log"); the app's records are the rest.
    logged = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("mail.log"))
    assert "will retry" in logged, "the failed notice is logged"
    assert not any(secret in logged for secret in (*SECRETS, "Hard"))


def test_built_in_calendar_keeps_no_copy_of_the_answers(intake_app, intake_client):
    """The built-in calendar's event shows the booking in full, but the answers stay on the booking alone."""
    made = intake_client.post("/api/bookings", json={**BOOKING, "start": START, "answers": ANSWERS}).json
    deliver_outbox(intake_app)
    with intake_app.app_context():
        event = db.session.get(CalendarEvent, made["id"])
        assert event is not None and "Ada Client" in event.summary
        assert not any(secret in (event.description or "") for secret in (*SECRETS, "Pressure preference"))


# --- Google Calendar: only with GOOGLE_EVENT_DETAIL=full ----------------------------------------------------------


@pytest.mark.parametrize("detail", ["full", "minimal", "private"])
def test_google_event_shows_answers_only_in_full(tmp_path, mailbox, monkeypatch, detail):
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    monkeypatch.setenv("OAUTHLIB_RELAX_TOKEN_SCOPE", "1")
    with GoogleStandIn(redirect_uris=[CALLBACK]) as standin:
        app = make_google_app(
            tmp_path, standin, mailbox, GOOGLE_EVENT_DETAIL=detail, BUSINESS_CONFIG=intake_rules(tmp_path)
        )
        client = app.test_client()
        connect(app, client, standin)
        made = client.post("/api/bookings", json={**BOOKING, "start": START, "answers": ANSWERS})
        assert made.status_code == 201, made.json
        deliver_outbox(app)
        event = standin.event(DEFAULT_CALENDAR_ID, made.json["id"])
        described = f"{event.get('summary', '')}\n{event.get('description', '')}"
        if detail == "full":
            assert "Pressure preference: Firm" in described and "Areas to avoid: Feet — ticklish" in described
            assert "Injuries or health conditions: Rotator cuff surgery in 2024.\nSome stiffness left." in described
            assert "Is this your first visit to the studio? Yes" in described
        else:
            assert not any(secret in described for secret in (*SECRETS, "Firm", "Pressure preference"))
        assert standin.internal_errors == []
