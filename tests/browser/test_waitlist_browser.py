"""End-to-end: joining the waitlist from a day with no free time, in Chromium, with JavaScript on and off."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from widget.extensions import db
from widget.models import WaitlistEntry

SUNDAY = "2026-11-29"  # closed: no free time


@pytest.mark.parametrize("javascript", [True, False])
def test_joining_the_waitlist_from_a_day_with_no_free_time(open_live_page, live, javascript):
    """The closed day offers the waitlist; the form, with its day already ticked, asks for a confirmation."""
    page = open_live_page(java_script_enabled=javascript)
    page.goto(f"/book?service=massage-60&date={SUNDAY}")
    expect(page.get_by_text("No free times on this day")).to_be_visible()
    page.get_by_role("link", name="Tell me if a time opens up").click()
    expect(page.locator("#main")).to_have_attribute("data-step", "waitlist")
    expect(page.get_by_label("Sunday, November 29, 2026")).to_be_checked()
    page.get_by_label("Email").fill("bea@example.com")
    page.get_by_label("Monday, November 30, 2026").check()
    page.get_by_label("Evening (after 5 pm)").check()
    page.get_by_role("button", name="Tell me if a time opens up").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your email")
    with live.app.app_context():
        found = db.session.execute(select(WaitlistEntry.day, WaitlistEntry.part, WaitlistEntry.confirmed_at)).all()
    assert sorted((day.isoformat(), part, confirmed) for day, part, confirmed in found) == [
        ("2026-11-29", "evening", None),
        ("2026-11-30", "evening", None),
    ]
