"""The therapist's admin: sign-in, agenda, blocked time, cancelling."""

from __future__ import annotations

import multiprocessing
import os
import re

import pytest

from tests.support import Admin, csrf_token, deliver_outbox, make_app

BODY = {
    "service": "massage-60",
    "start": "2026-11-24T09:00:00-07:00",
    "name": "Ada Client",
    "email": "ada@example.com",
    "phone": "801-555-0101",
    "notes": "Left shoulder",
}


def _tuesday_slots(client):
    response = client.get("/api/slots?service=massage-60&start=2026-11-24&end=2026-11-24")
    return [slot["start"] for slot in response.json["slots"]]


def test_admin_requires_sign_in(client):
    response = client.get("/admin")
    assert response.status_code == 302 and "/admin/login" in response.headers["Location"]


def test_sign_in_with_the_right_password_only(admin, client):
    wrong = admin.login("not the password")
    assert wrong.status_code == 401 and "not right" in wrong.text
    right = admin.login()
    assert right.status_code == 302
    cookie = right.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert client.get("/admin").status_code == 200


def test_sign_in_without_a_password_set_explains_the_command(client):
    page = client.get("/admin/login")
    assert "set-admin-password" in page.text
    response = client.post("/admin/login", data={"password": "anything", "csrf_token": csrf_token(page.text)})
    assert response.status_code == 401


def test_sign_in_refuses_missing_csrf_token(admin, client):
    response = client.post("/admin/login", data={"password": Admin.PASSWORD})
    assert response.status_code == 200 and "expired" in response.text
    assert client.get("/admin").status_code == 302


def test_next_parameter_cannot_redirect_off_site(admin, client):
    page = client.get("/admin/login?next=//evil.example/")
    response = client.post(
        "/admin/login?next=//evil.example/", data={"password": Admin.PASSWORD, "csrf_token": csrf_token(page.text)}
    )
    assert response.headers["Location"] == "/admin"


def test_new_password_signs_other_sessions_out(admin, client):
    admin.login()
    admin.set_password("a brand new passphrase")
    assert client.get("/admin").status_code == 302


def test_agenda_lists_a_booking_made_through_the_api(admin, client):
    client.post("/api/bookings", json=BODY)
    admin.login()
    agenda = client.get("/admin").text
    assert "Tuesday, November 24, 2026" in agenda
    assert "9:00 AM–10:00 AM" in agenda and "Ada Client" in agenda and "Left shoulder" in agenda


def test_blocking_time_removes_its_slots_and_unblocking_restores_them(admin, client):
    admin.login()
    assert "2026-11-24T14:00:00-07:00" in _tuesday_slots(client)
    page = client.get("/admin")
    response = client.post(
        "/admin/block",
        data={
            "day": "2026-11-24",
            "start": "14:00",
            "end": "15:30",
            "reason": "Dentist",
            "csrf_token": csrf_token(page.text),
        },
    )
    assert response.status_code == 302
    slots = _tuesday_slots(client)
    # 60 minutes plus 15 of clean-up must end by 14:00 and may start at 15:30.
    assert "2026-11-24T12:45:00-07:00" not in slots  # (lunch anyway)
    assert "2026-11-24T13:00:00-07:00" not in slots and "2026-11-24T14:45:00-07:00" not in slots
    assert "2026-11-24T15:30:00-07:00" in slots
    agenda = client.get("/admin").text
    assert "Blocked: Dentist" in agenda
    event_id = agenda.split("/admin/block/")[1].split("/delete")[0]
    client.post(f"/admin/block/{event_id}/delete", data={"csrf_token": csrf_token(agenda)})
    assert "2026-11-24T14:00:00-07:00" in _tuesday_slots(client)


def test_block_form_with_end_before_start_is_refused(admin, client):
    admin.login()
    page = client.get("/admin")
    client.post(
        "/admin/block",
        data={"day": "2026-11-24", "start": "15:00", "end": "14:00", "csrf_token": csrf_token(page.text)},
    )
    assert "must be after the start time" in client.get("/admin").text
    assert "2026-11-24T14:00:00-07:00" in _tuesday_slots(client)


def test_cancelling_from_the_agenda_frees_the_time(admin, client):
    booking = client.post("/api/bookings", json=BODY).json
    assert BODY["start"] not in _tuesday_slots(client)
    admin.login()
    page = client.get("/admin")
    client.post(f"/admin/bookings/{booking['id']}/cancel", data={"csrf_token": csrf_token(page.text)})
    assert BODY["start"] in _tuesday_slots(client)
    assert "Cancelled Ada Client" in client.get("/admin").text
    assert "Ada Client" not in client.get("/admin").text


def test_cancel_without_csrf_token_changes_nothing(admin, client):
    booking = client.post("/api/bookings", json=BODY).json
    admin.login()
    client.post(f"/admin/bookings/{booking['id']}/cancel")
    assert BODY["start"] not in _tuesday_slots(client)


def test_set_admin_password_command(runner, app):
    short = runner.invoke(args=["set-admin-password", "--password", "short"])
    assert short.exit_code != 0 and "at least 10" in short.output
    done = runner.invoke(args=["set-admin-password"], input="a long enough one\na long enough one\n")
    assert done.exit_code == 0, done.output
    helper = Admin(app, app.test_client())
    assert helper.login("a long enough one").status_code == 302


def test_sign_in_attempts_are_rate_limited(tmp_path):
    app = make_app(tmp_path, ADMIN_LOGIN_RATE_LIMIT="3 per minute")
    helper = Admin(app, app.test_client())
    helper.set_password()
    codes = [helper.login("wrong password").status_code for _ in range(4)]
    assert codes == [401, 401, 401, 429]
    assert helper.login().status_code == 429, "even the right password waits"


def _wrong_logins_in_another_process(tmp_path, redis_url, count):
    """Fail to sign in ``count`` times from a separate process (another worker)."""
    context = multiprocessing.get_context("fork")

    def attempt():
        app = make_app(tmp_path, REDIS_URL=redis_url, ADMIN_LOGIN_RATE_LIMIT="3 per minute")
        helper = Admin(app, app.test_client())
        os._exit(0 if all(helper.login("wrong password").status_code == 401 for _ in range(count)) else 1)

    process = context.Process(target=attempt)
    process.start()
    process.join(timeout=60)
    assert process.exitcode == 0


def test_rate_limit_is_shared_between_processes_through_redis(tmp_path, redis_url):
    """Attempts made through another worker process count here too."""
    app = make_app(tmp_path, REDIS_URL=redis_url, ADMIN_LOGIN_RATE_LIMIT="3 per minute")
    helper = Admin(app, app.test_client())
    helper.set_password()
    _wrong_logins_in_another_process(tmp_path, redis_url, 2)
    assert [helper.login("wrong password").status_code for _ in range(2)] == [401, 429]


def test_undelivered_messages_are_listed_and_can_be_retried(app, admin, client):
    """With no mail server the emails wait, shown to the therapist; a failed one can be retried."""
    from widget.extensions import db
    from widget.models import OutboxMessage, OutboxStatus

    client.post("/api/bookings", json=BODY)
    deliver_outbox(app)
    admin.login()
    agenda = client.get("/admin").text
    assert "Messages that could not be sent" in agenda and "Retrying" in agenda
    assert "Connection refused" in agenda or "ConnectionRefusedError" in agenda
    with app.app_context():
        row = db.session.scalars(
            db.select(OutboxMessage).where(OutboxMessage.kind == "email").order_by(OutboxMessage.id)
        ).first()
        row.status = OutboxStatus.FAILED
        db.session.commit()
        row_id = row.id
    agenda = client.get("/admin").text
    assert "Failed" in agenda
    client.post(f"/admin/outbox/{row_id}/retry", data={"csrf_token": csrf_token(agenda)})
    deliver_outbox(app)
    with app.app_context():
        row = db.session.get(OutboxMessage, row_id)
        # Due again at once and tried (still no mail server): pending, with a fresh count of attempts.
        assert row.status == OutboxStatus.PENDING and row.attempts == 1


# --- Hostile clients: sessions ----------------------------------------------------------------------------------------


def _sign_out(client) -> None:
    agenda = client.get("/admin")
    assert agenda.status_code == 200
    client.post("/admin/logout", data={"csrf_token": csrf_token(agenda.text)})


def _replay(app, cookie: str):
    """Ask for the agenda from a fresh client that carries only a copied session cookie."""
    thief = app.test_client()
    thief.set_cookie("session", cookie)
    return thief.get("/admin")


def test_signing_out_ends_a_copied_session_cookie(app, admin, client):
    """A session cookie copied before sign-out no longer signs anyone in afterwards."""
    admin.login()
    copy = client.get_cookie("session").value
    assert _replay(app, copy).status_code == 200, "the copy works while the session is alive"
    _sign_out(client)
    assert client.get("/admin").status_code == 302
    replayed = _replay(app, copy)
    assert replayed.status_code == 302 and "/admin/login" in replayed.headers["Location"]


def test_signing_out_signs_every_browser_out(app, admin, client):
    """Signing out on one device ends the session of a second browser too."""
    admin.login()
    laptop = Admin(app, app.test_client())
    laptop.login()
    assert laptop.client.get("/admin").status_code == 200
    _sign_out(client)
    assert laptop.client.get("/admin").status_code == 302


def test_password_change_ends_a_copied_session_cookie_even_with_the_same_password(app, admin, client):
    """set-admin-password ends every session, also when the new password equals the old one."""
    admin.login()
    copy = client.get_cookie("session").value
    admin.set_password(Admin.PASSWORD)
    assert _replay(app, copy).status_code == 302
    assert client.get("/admin").status_code == 302
    assert admin.login().status_code == 302 and client.get("/admin").status_code == 200


def test_sign_out_from_a_stranger_ends_no_session(app, admin, client):
    """The sign-in page's CSRF token lets anyone post to /admin/logout: that must not sign the therapist out."""
    admin.login()
    stranger = app.test_client()
    login_page = stranger.get("/admin/login")
    stranger.post("/admin/logout", data={"csrf_token": csrf_token(login_page.text)})
    assert client.get("/admin").status_code == 200


# --- Hostile clients: the sign-in page's next= and the comment list's p= ----------------------------------------------


def _sign_in_to(client, target: str):
    page = client.get("/admin/login", query_string={"next": target})
    assert page.status_code == 200
    return client.post(
        "/admin/login",
        query_string={"next": target},
        data={"password": Admin.PASSWORD, "csrf_token": csrf_token(page.text)},
    )


@pytest.mark.parametrize(
    "target",
    [
        pytest.param("/admin\r\nSet-Cookie: x=1", id="crlf"),
        pytest.param("/admin\nLocation: https://evil.example/", id="lf"),
        pytest.param("/admin\x00", id="nul"),
        pytest.param("/admin\t/x", id="tab"),
        pytest.param("/admin//evil.example/", id="double-slash-inside"),
        pytest.param("//evil.example/admin", id="protocol-relative"),
        pytest.param("/\\evil.example/admin", id="backslash-host"),
        pytest.param("/admin\\..\\..\\evil", id="backslash-path"),
        pytest.param("https://evil.example/admin", id="scheme"),
        pytest.param("javascript:alert(1)//admin", id="javascript"),
        pytest.param("/admin.evil.example", id="not-the-admin"),
        pytest.param("/book", id="outside-the-admin"),
        pytest.param("", id="empty"),
    ],
)
def test_next_parameter_only_takes_a_plain_admin_path(admin, client, target):
    """Anything but a plain local path inside the admin sends the therapist to the agenda, never a 500."""
    response = _sign_in_to(client, target)
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin"


@pytest.mark.parametrize("target", ["/admin/comments?status=spam", "/admin/google"])
def test_next_parameter_returns_to_the_admin_page_asked_for(admin, client, target):
    response = _sign_in_to(client, target)
    assert response.status_code == 302 and response.headers["Location"] == target


@pytest.mark.parametrize("number", ["9" * 30, "9" * 5000, "-3", "0", "two", "1.5", ""])
def test_comment_list_page_number_out_of_range_shows_the_first_page(admin, client, number):
    """A huge, negative or non-numeric p= shows page 1, never a 500."""
    admin.login()
    response = client.get("/admin/comments", query_string={"status": "published", "p": number})
    assert response.status_code == 200, response.text[:300]
    assert "<h1>Comments</h1>" in response.text


# --- Hostile clients: the admin's script policy -----------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/admin/login", "/admin", "/admin/comments", "/admin/google"])
def test_admin_pages_run_only_the_services_own_scripts(admin, client, path):
    """The admin shows what the public typed (comments, names, notes): no inline script may run there."""
    admin.login()
    response = client.get(path)
    assert response.status_code == 200
    directives = dict(part.strip().split(" ", 1) for part in response.headers["Content-Security-Policy"].split(";"))
    assert directives["script-src"] == "'self'" and directives["default-src"] == "'none'"
    assert directives["form-action"].startswith("'self'") and directives["frame-ancestors"] == "'none'"
    assert not re.search(r"<script(?![^>]*\bsrc=)|\son[a-z]+=", response.text), "an inline script or handler"


def test_sign_in_answers_without_token_wrong_and_right(client, admin):
    """A form without its CSRF token shows the form again; a wrong password is 401; the right one signs in."""
    no_token = client.post("/admin/login", data={"password": admin.PASSWORD})
    assert no_token.status_code == 200 and no_token.mimetype == "text/html"

    wrong = admin.login("not the password")
    assert wrong.status_code == 401 and wrong.mimetype == "text/html"

    right = admin.login()
    assert right.status_code == 302
    assert client.get("/admin").status_code == 200
