"""The server-rendered widget: every step works as plain links and one form post."""

from __future__ import annotations

import re
from html import unescape

import pytest
from markupsafe import escape

from tests.support import csrf_token

START = "2026-11-24T09:00:00-07:00"
DETAILS = {"name": "Ada Client", "email": "ada@example.com", "phone": "801-555-0101", "notes": ""}


def _links(html: str) -> list[str]:
    return [unescape(href) for href in re.findall(r'href="([^"]+)"', html)]


def _details_page(client, start=START, tz="America/Denver"):
    return client.get("/book", query_string={"service": "massage-60", "start": start, "tz": tz})


def _submit(client, page, **changes):
    form = {
        "csrf_token": csrf_token(page.text),
        "service": "massage-60",
        "start": re.search(r'name="start" type="hidden" value="([^"]+)"', page.text).group(1),
        "tz": "America/Denver",
        "idempotency_key": re.search(r'name="idempotency_key" type="hidden" value="([^"]+)"', page.text).group(1),
        **DETAILS,
        **changes,
    }
    return client.post("/book?tz=America/Denver", data={k: v for k, v in form.items() if v is not None})


def test_full_flow_by_following_links(client):
    """Service, day, time, details, confirmation, manage page: no JavaScript needed."""
    services = client.get("/book")
    assert services.status_code == 200
    assert "801-471-0877" in services.text, "the phone is always offered"
    day_link = next(link for link in _links(services.text) if "service=massage-60" in link)

    days = client.get(day_link)
    assert "Choose a day" in days.text
    tuesday = next(link for link in _links(days.text) if "date=2026-11-24" in link)

    times = client.get(tuesday)
    assert "Tuesday, November 24, 2026" in times.text
    first_time = next(link for link in _links(times.text) if "start=" in link)
    assert "9:00 AM" in times.text and "MST" in times.text

    details = client.get(first_time)
    assert "Required fields are marked" in details.text
    done = _submit(client, details)
    assert done.status_code == 303
    confirmation = client.get(done.headers["Location"])
    assert "You're booked" in confirmation.text
    assert "Tuesday, November 24, 2026, 9:00 AM–10:00 AM MST" in confirmation.text
    manage = next(link for link in _links(confirmation.text) if "/manage/" in link)
    assert "Your booking" in client.get(manage.replace("http://widget.test", "")).text

    # The booked time is gone from the widget and from the API.
    assert "9:00 AM" not in client.get(tuesday).text.split('<ul class="times">')[1].split("</ul>")[0]


def test_times_follow_the_chosen_zone(client):
    page = client.get("/book", query_string={"service": "massage-60", "date": "2026-11-24", "tz": "Europe/London"})
    assert "4:00 PM" in page.text and "GMT" in page.text
    assert 'value="Europe/London" selected' in page.text


def test_unknown_zone_falls_back_to_studio_time_and_says_so(client):
    page = client.get("/book", query_string={"service": "massage-60", "tz": "Nowhere/Land"})
    assert page.status_code == 200
    assert "don&#39;t know the time zone" in page.text


def test_days_step_lists_two_weeks_and_pages_forward(client):
    page = client.get("/book", query_string={"service": "massage-60"})
    assert len(re.findall(r'class="day( day-none)?"', page.text)) == 14
    assert "No times" in page.text  # Sunday
    later = next(link for link in _links(page.text) if "from=" in link)
    assert "from=2026-12-07" in later
    assert client.get(later).status_code == 200


def test_missing_csrf_token_is_refused_and_nothing_booked(client):
    page = _details_page(client)
    response = _submit(client, page, csrf_token=None)
    assert response.status_code == 422
    assert "security token" in response.text
    assert START in client.get("/api/slots?service=massage-60&start=2026-11-24").json["slots"][0]["start"]


def test_tampered_csrf_token_is_refused(client):
    page = _details_page(client)
    token = csrf_token(page.text)
    # Change the first character: the last one of a base64 signature may carry ignored bits.
    response = _submit(client, page, csrf_token=("A" if token[0] != "A" else "B") + token[1:])
    assert response.status_code == 422
    assert "security token" in response.text


def test_form_token_needs_no_cookie(app):
    """Browsers may refuse third-party cookies: the form must still work without any."""
    client = app.test_client(use_cookies=False)
    page = _details_page(client)
    assert "Set-Cookie" not in page.headers
    assert _submit(client, page).status_code == 303


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"name": ""}, "Name is required"),
        ({"email": "nope"}, "Email is not a valid email address"),
        ({"phone": "abc"}, "Phone must be a phone number"),
        ({"name": "Ada\nBcc: x@example.com"}, "must be on one line"),
    ],
)
def test_bad_details_are_shown_inline(client, changes, message):
    response = _submit(client, _details_page(client), **changes)
    assert response.status_code == 422
    assert message in unescape(response.text)
    assert 'aria-invalid="true"' in response.text


def test_time_taken_meanwhile_shows_alternatives(client):
    first = _details_page(client)
    second = _details_page(client)
    assert _submit(client, first).status_code == 303
    response = _submit(client, second, email="bo@example.com")
    assert response.status_code == 409
    assert "no longer available" in response.text
    assert "10:15 AM" in response.text


def test_same_form_submitted_twice_makes_one_booking(client):
    page = _details_page(client)
    first, second = _submit(client, page), _submit(client, page)
    assert first.headers["Location"] == second.headers["Location"]


# Was: another visitor's form with the same time and email was redirected to the client's booking.
def test_another_form_for_a_booked_time_does_not_lead_to_the_booking(client):
    mine, theirs = _details_page(client), _details_page(client)
    first = _submit(client, mine)
    stranger = _submit(client, theirs)
    assert stranger.status_code == 409
    assert "/book/done/" not in stranger.text and first.headers["Location"] not in stranger.text
    assert "/manage/" not in stranger.text


def test_details_step_for_a_time_not_free_offers_others(client):
    page = _details_page(client, start="2026-11-24T12:00:00-07:00")
    assert page.status_code == 422
    assert "no longer available" in page.text


def test_prefill_from_query(client):
    page = client.get(
        "/book", query_string={"service": "massage-30", "start": START, "name": "Ada", "email": "a@example.com"}
    )
    assert 'value="Ada"' in page.text and 'value="a@example.com"' in page.text


def test_tampered_manage_link_is_refused_with_a_clear_page(client):
    response = client.get("/manage/not-a-real-token")
    assert response.status_code == 404
    assert "not valid" in response.text and "801-471-0877" in response.text


def test_widget_page_may_be_framed_only_by_allowed_origins(app, client):
    assert "frame-ancestors 'self'" in client.get("/book").headers["Content-Security-Policy"]
    assert client.get("/admin/login").headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in client.get("/admin/login").headers["Content-Security-Policy"]


def test_demo_page_embeds_the_widget(client):
    page = client.get("/")
    assert page.status_code == 200
    assert 'src="/embed.js"' in page.text
    script = client.get("/embed.js")
    assert script.status_code == 200 and "currentScript" in script.text


def test_unknown_page_answers_html_404(client):
    response = client.get("/no-such-page", headers={"Accept": "text/html"})
    assert response.status_code == 404
    assert response.mimetype == "text/html"


@pytest.mark.parametrize("path", ["/book", "/book?service=massage-60", "/manage/not-a-token"])
def test_public_pages_run_only_their_own_scripts(client, path):
    """Pages that show what visitors typed allow scripts from the service only, and no plugins or base tricks."""
    policy = client.get(path).headers["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["script-src"] == "'self'"
    assert directives["default-src"] == "'none'" and directives["base-uri"] == "'none'"
    assert "unsafe-inline" not in directives["script-src"] and "unsafe-eval" not in policy


def test_optional_notes_field_is_not_marked_required(client):
    """A boolean attribute holding "None" still counts: the optional notes field must carry no required at all."""
    notes = re.search(r"<textarea[^>]*>", _details_page(client).text).group()
    assert 'id="notes"' in notes
    assert "required" not in notes
    assert "autocomplete" not in notes


@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("/", 200),
        ("/book", 200),
        ("/book?service=massage-60", 200),
        ("/book?service=massage-60&date=2026-11-24", 200),
        ("/book?service=massage-60&start=2026-11-24T09:00:00-07:00", 200),
        ("/book?service=massage-60&start=2026-11-23T09:00:00-07:00", 422),
        ("/book/done/not-a-token", 404),
        ("/manage/not-a-token", 404),
        ("/admin/login", 200),
    ],
)
def test_pages_answer_html_with_their_status(client, url, status):
    response = client.get(url)
    assert response.status_code == status
    assert response.mimetype == "text/html"


def test_loader_script_is_javascript(client):
    response = client.get("/embed.js")
    assert response.status_code == 200
    assert response.mimetype == "text/javascript"


def test_form_post_without_service_is_400_html(client):
    response = client.post("/book", data={})
    assert response.status_code == 400
    assert response.mimetype == "text/html"


@pytest.mark.parametrize(
    "query",
    [
        "service=massage-60",
        "service=massage-60&tz=Asia/Kolkata&embed=http://localhost:8000&accent=%23aa3355",
        "service=massage-60&name=Zo%C3%AB+A%26B&email=z%2Bx@example.com&phone=%2B1+801&again=a.b-c_d",
    ],
)
def test_day_and_time_links_are_the_addresses_url_for_writes(app, query):
    """The grid's links are built without the router; they must be byte for byte what url_for gives."""
    from flask import render_template_string, url_for

    from widget.booking.views import _carry

    with app.test_request_context(f"/book?{query}"):
        for changes in ({"date": "2026-11-26"}, {"start": "2026-11-25T01:30:00+05:30"}, {"service": None}):
            fast = render_template_string("{{ step_url(**changes) }}", carry=_carry, changes=changes)
            assert fast == str(escape(url_for("book.widget", **_carry(**changes))))
