"""End-to-end: a "Book again" link in Chromium, with JavaScript on and off, books the same service again."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from tests.support import CLIENT, book
from widget.booking import links
from widget.extensions import db
from widget.models import Booking


@pytest.mark.parametrize("script", [True, False], ids=["javascript", "no-javascript"])
def test_book_again_books_the_same_service_with_the_details_filled_in(open_live_page, live, script):
    """The link opens the earlier service; after a day and a time the form is filled in; one click books."""
    first, _ = book(live.app.test_client(), service="massage-90", start="2026-11-25T09:00:00-07:00")
    with live.app.app_context():
        path = f"/book/again/{links.again_token(db.session.get(Booking, first['id']))}"
    page = open_live_page(java_script_enabled=script)

    page.goto(path)
    expect(page.locator("#main")).to_have_attribute("data-step", "day")
    assert "ada" not in page.url.lower() and "555" not in page.url
    page.locator("a.day").first.click()
    expect(page.locator("#main")).to_have_attribute("data-step", "time")
    page.locator("a.time").first.click()
    expect(page.locator("#main")).to_have_attribute("data-step", "details")
    expect(page.get_by_label("Name")).to_have_value(CLIENT["name"])
    expect(page.get_by_label("Email")).to_have_value(CLIENT["email"])
    expect(page.get_by_label("Phone")).to_have_value(CLIENT["phone"])
    page.get_by_role("button", name=re.compile(r"^Book ")).click()

    expect(page.get_by_role("heading", name="You're booked")).to_be_visible()
    with live.app.app_context():
        stored = db.session.scalars(select(Booking).order_by(Booking.created_at, Booking.start_at)).all()
        assert [(b.service_id, b.name, b.email, b.phone) for b in stored] == [
            ("massage-90", CLIENT["name"], CLIENT["email"], CLIENT["phone"])
        ] * 2
