"""What an attacker tries against a production-mode instance: caches, forged Host headers, the database file."""

from __future__ import annotations

import os
import re
import stat

import pytest

from tests.support import ARTICLE, BOOKING, Admin, book, csrf_token, deliver_outbox, make_app, post_comment
from widget.extensions import db


def _post_form(client, page_path: str, target: str, **data):
    page = client.get(page_path)
    assert page.status_code == 200, page.text[:300]
    return client.post(target, data={"csrf_token": csrf_token(page.text), **data})


def _book_through_the_form(client, **changes):
    page = client.get(
        "/book", query_string={"service": "massage-60", "start": BOOKING["start"], "tz": "America/Denver"}
    )
    start = re.search(r'name="start" type="hidden" value="([^"]+)"', page.text).group(1)
    data = {
        "csrf_token": csrf_token(page.text),
        "service": "massage-60",
        "start": start,
        "tz": "America/Denver",
        "name": BOOKING["name"],
        "email": BOOKING["email"],
        "phone": BOOKING["phone"],
        **changes,
    }
    return client.post("/book?tz=America/Denver", data=data)


# --- Pages with a client's link or the therapist's data are never stored by a cache ---------------------------------


def _no_store(response) -> bool:
    return "no-store" in response.headers.get("Cache-Control", "")


def test_manage_pages_and_their_answers_are_not_stored(client):
    """The manage page, its reschedule step, a bad link and the cancel/reschedule answers send no-store."""
    path = book(client)[1]
    assert _no_store(client.get(path))
    assert _no_store(client.get(f"{path}/reschedule?date=2026-11-26"))
    assert _no_store(client.get("/manage/not-a-token"))
    moved = _post_form(
        client, f"{path}/reschedule?date=2026-11-26", f"{path}/reschedule", start="2026-11-26T10:00:00-07:00"
    )
    assert moved.status_code in (302, 303) and _no_store(moved), moved.text[:300]
    cancelled = _post_form(client, path, f"{path}/cancel")
    assert cancelled.status_code == 303 and _no_store(cancelled)
    assert _no_store(client.post(f"{path}/cancel", data={}))


def test_booking_confirmation_and_the_form_answers_are_not_stored(client):
    """The redirect to /book/done/<token>, the confirmation itself and a refused form send no-store."""
    refused = _book_through_the_form(client, email="not an address")
    assert refused.status_code == 422 and _no_store(refused)
    booked = _book_through_the_form(client)
    assert booked.status_code == 303 and "/book/done/" in booked.headers["Location"]
    assert _no_store(booked)
    done = client.get(booked.headers["Location"])
    assert done.status_code == 200 and "booked" in done.text and _no_store(done)


@pytest.mark.parametrize(
    "path", ["/admin", "/admin/login", "/admin/comments", "/admin/comments?status=spam", "/admin/google"]
)
def test_admin_pages_are_not_stored(admin, client, path):
    admin.login()
    response = client.get(path)
    assert response.status_code == 200 and _no_store(response)


def test_admin_answers_and_redirects_are_not_stored(app, admin, client):
    """Sign-in, the redirect to it, the admin's form posts and sign-out all send no-store."""
    assert _no_store(client.get("/admin"))  # the redirect to the sign-in page
    assert _no_store(admin.login("not the password"))
    signed_in = admin.login()
    assert signed_in.status_code == 302 and _no_store(signed_in)
    blocked = _post_form(client, "/admin", "/admin/block", day="2026-11-24", start="12:00", end="13:00", reason="x")
    assert blocked.status_code == 302 and _no_store(blocked)
    moderated = _post_form(client, "/admin/comments", "/admin/comments", action="approve")
    assert moderated.status_code == 302 and _no_store(moderated)
    signed_out = _post_form(client, "/admin", "/admin/logout")
    assert signed_out.status_code == 302 and _no_store(signed_out)
    assert _no_store(client.get("/oauth2callback"))


def test_public_pages_stay_cacheable(client):
    """Only private pages give up caching: the loader script keeps its max-age."""
    assert not _no_store(client.get("/embed.js"))
    assert not _no_store(client.get("/api/services"))


# --- Absolute addresses come from PUBLIC_URL, never from the Host header ----------------------------------------------

FORGED = "evil.example"
PUBLIC = "http://widget.test"


def _forged_client(app):
    """Return a client whose every request names a Host the service does not own."""
    client = app.test_client()
    opened = client.open

    def open_with_forged_host(*args, **kwargs):
        kwargs["headers"] = {**dict(kwargs.get("headers") or {}), "Host": FORGED}
        return opened(*args, **kwargs)

    client.open = open_with_forged_host
    return client


def _assert_untouched(response) -> None:
    assert response.request.host == FORGED, "the request did not carry the forged Host"
    assert FORGED not in response.get_data(as_text=True), response.get_data(as_text=True)[:500]
    assert not [value for value in response.headers.values() if FORGED in value], dict(response.headers)


def test_feed_self_link_ignores_a_forged_host(comment_app):
    forged = _forged_client(comment_app)
    feed = forged.get("/comments/feed.atom", query_string={"page": ARTICLE})
    assert feed.status_code == 200
    self_link = re.search(r'<link rel="self" href="([^"]+)"', feed.text).group(1)
    assert self_link.startswith(f"{PUBLIC}/comments/feed.atom?page="), self_link
    _assert_untouched(feed)


def test_widget_accepts_no_forged_host_as_its_embedding_origin(app):
    """A page framed with embed=<the forged Host> must not post its messages there."""
    forged = _forged_client(app)
    page = forged.get("/book", query_string={"embed": f"http://{FORGED}"})
    assert page.status_code == 200 and "data-embed" not in page.text
    own = forged.get("/book", query_string={"embed": PUBLIC})
    assert f'data-embed="{PUBLIC}"' in own.text, "the service's own demo page may still embed it"


def test_demo_page_canonical_link_ignores_a_forged_host(app):
    page = _forged_client(app).get("/")
    assert f'<link rel="canonical" href="{PUBLIC}/">' in page.text
    _assert_untouched(page)


def test_no_page_or_answer_hands_out_a_forged_host(comment_app, mailbox):
    """Walk the public pages, a booking, its manage pages, the comments and the admin with a forged Host."""
    forged = _forged_client(comment_app)
    for path in ("/", "/book", "/book?service=massage-60", "/api/openapi.json", "/no-such-page", "/healthz"):
        _assert_untouched(forged.get(path))
    booked = _book_through_the_form(forged)
    assert booked.status_code == 303
    _assert_untouched(booked)
    _assert_untouched(forged.get(booked.headers["Location"]))
    api = forged.post("/api/bookings", json={**BOOKING, "start": "2026-11-25T11:00:00-07:00"})
    assert api.status_code == 201 and api.json["manage_url"].startswith(f"{PUBLIC}/manage/")
    _assert_untouched(api)
    manage = api.json["manage_url"].replace(PUBLIC, "")
    _assert_untouched(forged.get(manage))
    _assert_untouched(forged.get(f"{manage}/reschedule?date=2026-11-26"))
    for path in ("/comments", "/api/comments", "/comments/feed.atom"):
        _assert_untouched(forged.get(path, query_string={"page": ARTICLE}))
    _assert_untouched(forged.get("/admin"))
    helper = Admin(comment_app, forged)
    helper.set_password()
    _assert_untouched(helper.login())
    for path in ("/admin", "/admin/comments", "/admin/google"):
        _assert_untouched(forged.get(path))


def test_emails_link_to_the_public_url_whatever_host_the_request_named(comment_app, mailbox):
    """Booking emails and the therapist's comment email carry PUBLIC_URL links only."""
    forged = _forged_client(comment_app)
    assert _book_through_the_form(forged).status_code == 303
    response = post_comment(forged, comment_app, "Is the hot-stone massage safe in pregnancy?")
    assert response.status_code == 201 and response.json["status"] == "pending", response.text
    deliver_outbox(comment_app)
    messages = mailbox.wait_for(3)
    for message in messages:
        for part in message.walk():
            if part.get_content_maintype() != "text":
                continue
            text = part.get_content()
            assert FORGED not in text, (message["Subject"], text)
            links = re.findall(r"https?://[^\s\"<>]+", text)
            ours = [link for link in links if "/manage/" in link or "/comments/approve/" in link]
            assert all(link.startswith(f"{PUBLIC}/") for link in ours), ours
    assert any(
        "/manage/" in part.get_content() for m in messages for part in m.walk() if part.get_content_maintype() == "text"
    )


# --- The database file ------------------------------------------------------------------------------------------------


def test_sqlite_database_files_are_readable_by_their_owner_only(tmp_path):
    """A fresh start creates the database (and SQLite its -wal and -shm files) with mode 0600, whatever the umask."""
    previous = os.umask(0o022)
    try:
        app = make_app(tmp_path)
        helper = Admin(app, app.test_client())
        helper.set_password()  # a write, so that the write-ahead log exists
        with app.app_context():
            connection = db.engine.raw_connection()  # keeps the -wal and -shm files open while we look
            try:
                connection.cursor().execute("SELECT count(*) FROM settings").fetchall()
                modes = {path.name: stat.S_IMODE(path.stat().st_mode) for path in tmp_path.glob("widget.db*")}
            finally:
                connection.close()
    finally:
        os.umask(previous)
    assert {"widget.db", "widget.db-wal", "widget.db-shm"} <= set(modes), modes
    assert all(mode == 0o600 for mode in modes.values()), {name: oct(mode) for name, mode in modes.items()}
