"""End-to-end: intake questions through the embedded JavaScript widget, in Debian's Chromium via Playwright.

The studio's site on http://localhost:<B> embeds the widget served on http://127.0.0.1:<A>, as in
test_embed.py, with rules that ask the example's questions (pressure preference required).  The app's
clock is fixed at Monday 2026-11-23 08:00 in Denver: the first free time is Tuesday 09:00 MST.
"""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import FrameLocator, Page, expect
from sqlalchemy import func, select

from tests.support import make_app
from tests.support.browser import PageServer, Site, app_server, host_pages, serving
from tests.test_intake import intake_rules
from widget.extensions import db
from widget.models import Booking, OutboxMessage

FRAME = "iframe.bw-frame"
CLIENT = {"name": "Ada Lovelace", "email": "ada@example.com", "phone": "801-555-0142"}


@pytest.fixture
def intake_site(tmp_path):
    """Serve an app asking the intake questions and the studio's site that embeds it."""
    host, foreign = PageServer("127.0.0.1"), PageServer("127.0.0.2")
    host_url = f"http://localhost:{host.server_port}"
    app = make_app(tmp_path, EMBED_ALLOWED_ORIGINS=host_url, BUSINESS_CONFIG=intake_rules(tmp_path))
    server = app_server(app)
    widget = f"http://127.0.0.1:{server.server_port}"
    app.config["PUBLIC_URL"] = widget
    host.pages.update(host_pages(widget))
    with serving(host, foreign, server, name="intake-site"):
        yield Site(app, widget, host_url, f"http://127.0.0.2:{foreign.server_port}", host.pages)


def _to_details(page: Page, site: Site) -> FrameLocator:
    """Open the inline widget on the studio's page and go to Tuesday 9:00's details step."""
    page.goto(f"{site.host}/inline.html")
    frame = page.frame_locator(FRAME)
    frame.get_by_role("link", name="60-minute massage").click()
    expect(frame.locator("#main")).to_have_attribute("data-step", "day")
    frame.locator("a.day").first.click()
    expect(frame.locator("#main")).to_have_attribute("data-step", "time")
    frame.locator("a.time").first.click()
    expect(frame.locator("#main")).to_have_attribute("data-step", "details")
    frame.get_by_label("Name").fill(CLIENT["name"])
    frame.get_by_label("Email").fill(CLIENT["email"])
    frame.get_by_label("Phone").fill(CLIENT["phone"])
    return frame


def _group(frame: FrameLocator, name: str):
    return frame.get_by_role("radiogroup", name=name)


def _stored(app) -> tuple[list[Booking], int]:
    with app.app_context():
        return list(db.session.scalars(select(Booking))), db.session.scalar(
            select(func.count()).select_from(OutboxMessage)
        )


def test_each_question_type_through_the_js_widget(open_page, intake_site: Site):
    """A missing required answer is shown in place; then one answer of each type books, and the host hears no answer."""
    page = open_page()
    frame = _to_details(page, intake_site)
    book = frame.get_by_role("button", name="Book 9:00 AM")
    areas = frame.get_by_label("Areas to avoid")
    expect(areas).to_have_accessible_description("For example feet, face or abdomen.")
    areas.fill("Feet, ticklish")
    book.click()

    # Answered in place, no reload: the required question says what is missing, the typed answers are kept.
    pressure = _group(frame, "Pressure preference (required)")
    expect(pressure).to_have_accessible_description(
        "Pressure preference is required You can always change it during the session."
    )
    expect(pressure).to_have_attribute("aria-invalid", "true")
    expect(frame.get_by_label("Areas to avoid")).to_have_value("Feet, ticklish")
    assert _stored(intake_site.app) == ([], 0)

    pressure.get_by_role("radio", name="Firm").check()
    frame.get_by_label("Injuries or health conditions").fill("Rotator cuff surgery in 2024.\nSome stiffness left.")
    _group(frame, "Is this your first visit to the studio?").get_by_role("radio", name="Yes").check()
    _group(frame, "Do you have a blood clotting disorder, or take blood thinners?").get_by_role(
        "radio", name="No"
    ).check()
    frame.get_by_role("button", name="Book 9:00 AM").click()
    expect(frame.get_by_role("heading", name="You're booked")).to_be_visible()

    [booking], _ = _stored(intake_site.app)
    assert booking.answers == {
        "pressure": "Firm",
        "areas_to_avoid": "Feet, ticklish",
        "conditions": "Rotator cuff surgery in 2024.\nSome stiffness left.",
        "first_visit": True,
        "clotting_disorder": False,
    }
    page.wait_for_function("() => window.bw.booked.length === 1")
    [booked] = page.evaluate("bw.booked")
    assert set(booked["detail"]) == {"service", "start", "end"}
    messages = json.dumps(page.evaluate("bw.messages"))
    for secret in ("Firm", "ticklish", "Rotator", "first_visit", "answers"):
        assert secret not in messages, secret


def test_stop_answer_in_the_js_widget_asks_to_call_and_books_nothing(open_page, intake_site: Site):
    page = open_page()
    frame = _to_details(page, intake_site)
    _group(frame, "Pressure preference (required)").get_by_role("radio", name="Medium").check()
    _group(frame, "Do you have a blood clotting disorder, or take blood thinners?").get_by_role(
        "radio", name="Yes"
    ).check()
    frame.get_by_role("button", name="Book 9:00 AM").click()

    expect(frame.locator("#main")).to_have_attribute("data-step", "call")
    expect(frame.get_by_role("heading", name="Let's talk first")).to_be_focused()
    expect(frame.get_by_role("status")).to_contain_text("we'd like to talk with you first")
    expect(frame.locator(".phone-large a")).to_have_attribute("href", "tel:801-471-0877")
    assert _stored(intake_site.app) == ([], 0)
    assert page.evaluate("bw.booked") == []
