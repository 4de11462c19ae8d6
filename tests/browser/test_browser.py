"""End-to-end: the booking widget and the admin agenda in a real browser (Debian's Chromium via Playwright).

Each test gets its own app on a fresh SQLite database, served by a live Werkzeug server
in a thread; one Chromium serves the whole module.  The app's clock is fixed at Monday
2026-11-23 08:00 in Denver, so with 12 h notice the first free time is Tuesday 09:00 MST.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Locator, Page, expect
from sqlalchemy import select

from tests.support import Admin, post_comment
from tests.support.browser import ARTIFACTS, LiveServer, watch
from widget.cli import set_admin_password
from widget.extensions import db
from widget.models import Booking, BookingStatus

SLOTS_URL = "/api/slots?service=massage-60&start=2026-11-24&end=2026-11-24"
# Tuesday 2026-11-24 09:00 in Denver (MST): the first bookable slot, 16:00 in London.
FIRST_SLOT = "2026-11-24T09:00:00-07:00"
BOOKING = {"service": "massage-60", "name": "Grace London", "email": "grace@example.com", "phone": "801-555-0118"}


def _slot_starts(page: Page) -> list[str]:
    response = page.request.get(SLOTS_URL)
    assert response.ok, response.text()
    return [slot["start"] for slot in response.json()["slots"]]


def _save_screenshots(page: Page, step: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    original = page.viewport_size
    for width in (375, 1280):
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=ARTIFACTS / f"{step}-{width}.png", full_page=True)
    if original:
        page.set_viewport_size(original)


def _expect_step(page: Page, step: str) -> None:
    expect(page.locator("#main")).to_have_attribute("data-step", step)


def _tab_to(page: Page, target: Locator, limit: int = 40) -> None:
    """Press Tab until ``target`` has the focus; fail if it is not reached in ``limit`` presses."""
    trail = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        if target.evaluate("element => element === document.activeElement"):
            return
        trail.append(page.evaluate("() => document.activeElement && document.activeElement.outerHTML.slice(0, 80)"))
    pytest.fail(f"{target} is not reachable with Tab in {limit} presses; focus went through {trail}")


def test_booking_with_javascript_in_the_visitors_time_zone(open_live_page, live):
    """With JS on, a London visitor books in London time; the agenda and /api/slots show the booking."""
    page = open_live_page(timezone_id="Europe/London")
    assert FIRST_SLOT in _slot_starts(page)

    page.goto("/book")
    _expect_step(page, "service")
    page.get_by_role("link", name="60-minute massage").click()
    _expect_step(page, "day")
    # widget.js detected the zone with Intl and asked for the days in London time.
    expect(page).to_have_url(re.compile(r"[?&]tz=Europe%2FLondon(&|$)"))
    expect(page.get_by_label("Times shown in")).to_have_value("Europe/London")
    expect(page.locator(".day-none").first).to_contain_text("Nov 23")
    tuesday = page.locator("a.day").first
    expect(tuesday).to_contain_text("Tue Nov 24")
    _save_screenshots(page, "day")

    tuesday.click()
    _expect_step(page, "time")
    expect(page.get_by_role("heading", level=1)).to_have_text("Tuesday, November 24, 2026")
    first_time = page.locator("a.time").first
    expect(first_time).to_have_text("4:00 PM GMT")
    first_time.click()

    _expect_step(page, "details")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Tuesday, November 24, 2026, 4:00 PM")
    expect(page.get_by_text("That is 9:00 AM MST at the studio.")).to_be_visible()
    book_button = page.get_by_role("button", name=re.compile(r"^Book "))
    expect(book_button).to_have_text("Book 4:00 PM")
    _save_screenshots(page, "details")

    page.get_by_label("Name").fill("Grace London")
    page.get_by_label("Email").fill("grace@example.com")
    page.get_by_label("Phone").fill("+44 20 7946 0018")
    book_button.click()

    expect(page.get_by_role("heading", name="You're booked")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/book/done/[^?]+\?tz=Europe(/|%2F)London$"))
    expect(page.locator("dl.booking")).to_contain_text("Tuesday, November 24, 2026, 4:00 PM–5:00 PM GMT")
    assert FIRST_SLOT not in _slot_starts(page)

    with live.app.app_context():
        set_admin_password(Admin.PASSWORD)
    page.goto("/admin")
    expect(page).to_have_url(re.compile(r"/admin/login\?next=/admin$"))
    page.get_by_label("Password").fill(Admin.PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Agenda", level=1)).to_be_visible()
    booking = page.locator(".agenda-item.booking")
    expect(booking).to_have_count(1)
    expect(booking).to_contain_text("9:00 AM–10:00 AM")
    expect(booking).to_contain_text("60-minute massage — Grace London")
    expect(page.get_by_role("heading", name="Tuesday, November 24, 2026", level=2)).to_be_visible()


def test_a_click_during_the_first_zone_reload_is_not_undone_by_it(open_live_page):
    """A visitor who picks a day before the page has come back in her zone stays on the day she picked."""
    page = open_live_page(timezone_id="Europe/London")
    held = []

    def first_reload(url: str) -> bool:
        return "tz=Europe" in url and "date=" not in url and "service=massage-60" in url

    # The reload in her zone is held until her click has been answered.
    page.route(first_reload, lambda route: held.append(route))
    page.goto("/book?service=massage-60")
    _expect_step(page, "day")
    page.wait_for_function("() => document.body.classList.contains('loading')")
    assert len(held) == 1
    page.locator("a.day").first.click()
    _expect_step(page, "time")
    expect(page.get_by_role("heading", level=1)).to_have_text("Tuesday, November 24, 2026")

    held[0].continue_()
    page.wait_for_function("() => !document.body.classList.contains('loading')")
    page.wait_for_timeout(300)
    _expect_step(page, "time")  # the late answer of the first reload is dropped
    expect(page.locator("a.time").first).to_have_text("4:00 PM GMT")


def test_booking_without_javascript(open_live_page, live):
    """With JS off, plain links and a form post book the first free time in studio time."""
    page = open_live_page(java_script_enabled=False, timezone_id="Europe/London")

    page.goto("/book")
    page.get_by_role("link", name="60-minute massage").click()
    expect(page).to_have_url(re.compile(r"/book\?service=massage-60$"))
    _expect_step(page, "day")
    # No script, so no zone detection: times stay in studio time.
    expect(page.get_by_label("Times shown in")).to_have_value("America/Denver")
    page.get_by_role("link", name=re.compile(r"^Tue Nov 24 ")).click()

    expect(page).to_have_url(re.compile(r"/book\?service=massage-60&date=2026-11-24$"))
    _expect_step(page, "time")
    first_time = page.locator("a.time").first
    expect(first_time).to_have_text("9:00 AM MST")
    first_time.click()

    _expect_step(page, "details")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Tuesday, November 24, 2026, 9:00 AM")
    page.get_by_label("Name").fill("Nora Script")
    page.get_by_label("Email").fill("nora@example.com")
    page.get_by_label("Phone").fill("801-555-0142")
    page.get_by_role("button", name="Book 9:00 AM").click()

    expect(page).to_have_url(re.compile(r"/book/done/[^?]+\?tz=America(/|%2F)Denver$"))
    expect(page.get_by_role("heading", name="You're booked")).to_be_visible()
    expect(page.locator("dl.booking")).to_contain_text("Tuesday, November 24, 2026, 9:00 AM–10:00 AM MST")
    with live.app.app_context():
        stored = db.session.scalars(select(Booking)).all()
        assert [(b.name, b.email, b.service_id, b.status) for b in stored] == [
            ("Nora Script", "nora@example.com", "massage-60", BookingStatus.CONFIRMED)
        ]
        assert stored[0].start_at.isoformat().startswith("2026-11-24T16:00:00")
    assert FIRST_SLOT not in _slot_starts(page)


def test_booking_with_the_keyboard_only(open_live_page, live):
    """With JS on, every step is reachable with Tab and Enter, and typing plus Enter books."""
    page = open_live_page(timezone_id="America/Denver")
    heading = page.get_by_role("heading", level=1)

    page.goto("/book")
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="30-minute massage")).to_be_focused()
    page.keyboard.press("Enter")

    _expect_step(page, "day")
    expect(heading).to_have_text("Choose a day")
    expect(heading).to_be_focused()
    _tab_to(page, page.locator("a.day").first)
    expect(page.locator(":focus")).to_contain_text("Tue Nov 24")
    page.keyboard.press("Enter")

    _expect_step(page, "time")
    expect(heading).to_be_focused()
    _tab_to(page, page.locator("a.time").first)
    expect(page.locator(":focus")).to_have_text("9:00 AM MST")
    page.keyboard.press("Enter")

    _expect_step(page, "details")
    expect(heading).to_be_focused()
    _tab_to(page, page.get_by_label("Name"))
    page.keyboard.type("Kay Board")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Email")).to_be_focused()
    page.keyboard.type("kay@example.com")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Phone")).to_be_focused()
    page.keyboard.type("801-555-0177")
    page.keyboard.press("Enter")

    _expect_step(page, "done")
    expect(page.get_by_role("heading", name="You're booked")).to_be_focused()
    expect(page.locator("dl.booking")).to_contain_text("30-minute massage")
    expect(page.locator("dl.booking")).to_contain_text("Tuesday, November 24, 2026, 9:00 AM–9:30 AM MST")
    expect(page.locator("dl.booking")).to_contain_text("Kay Board")
    assert FIRST_SLOT not in _slot_starts(page)


def _answer_next_dialog(page: Page, accept: bool, asked: list[str]) -> None:
    def answer(dialog):
        asked.append(dialog.message)
        dialog.accept() if accept else dialog.dismiss()

    page.once("dialog", answer)


def test_admin_runs_under_its_script_policy_with_every_confirmation(browser: Browser, google_live: LiveServer):
    """Sign in, connect Google, cancel a booking, delete comments, disconnect: confirmations work, no CSP violation."""
    app = google_live.app
    with app.app_context():
        set_admin_password(Admin.PASSWORD)
    context = browser.new_context(base_url=google_live.url, viewport={"width": 1280, "height": 900}, locale="en-US")
    context.set_default_timeout(10_000)
    page, errors, asked = context.new_page(), [], []
    watch(page, errors)
    try:
        page.goto("/admin")
        policy = page.request.get("/admin/login").headers["content-security-policy"]
        assert "script-src 'self';" in policy and "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
        page.get_by_label("Password").fill(Admin.PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("heading", name="Agenda", level=1)).to_be_visible()

        # Connect: the form's answer redirects to Google's consent page, which the policy's form-action allows.
        page.get_by_role("link", name="Calendar connection").click()
        page.get_by_role("button", name="Connect Google Calendar").click()
        expect(page.get_by_text("Google Calendar is connected.")).to_be_visible()

        booked = page.request.post("/api/bookings", data={**BOOKING, "start": FIRST_SLOT})
        assert booked.status == 201, booked.text()
        page.goto("/admin")
        booking = page.locator(".agenda-item.booking")
        expect(booking).to_have_count(1)
        _answer_next_dialog(page, False, asked)
        booking.get_by_role("button", name="Cancel booking").click()
        assert asked == ["Cancel this appointment?"]
        expect(booking).to_have_count(1)  # dismissed: nothing was sent
        _answer_next_dialog(page, True, asked)
        booking.get_by_role("button", name="Cancel booking").click()
        expect(page.get_by_text("Cancelled Grace London's appointment.")).to_be_visible()
        expect(booking).to_have_count(0)

        client = app.test_client()
        for number in range(3):
            response = post_comment(client, app, f"Question number {number} about hot stones.")
            assert response.json["status"] == "pending", response.json
        page.goto("/admin/comments")
        rows = page.locator(".comment-row input[name=ids]")
        expect(rows).to_have_count(3)
        select_all = page.get_by_label("Select all")
        select_all.check()
        for index in range(3):
            expect(rows.nth(index)).to_be_checked()
        rows.nth(0).uncheck()
        expect(select_all).not_to_be_checked()
        select_all.check()
        _answer_next_dialog(page, False, asked)
        page.get_by_role("button", name="Delete").click()
        assert asked[-1] == "Delete the ticked comments?"
        expect(rows).to_have_count(3)
        _answer_next_dialog(page, True, asked)
        page.get_by_role("button", name="Delete").click()
        expect(page.get_by_text("3 comments deleted.")).to_be_visible()
        expect(page.locator(".comment-row")).to_have_count(0)

        page.goto("/admin/google")
        _answer_next_dialog(page, False, asked)
        page.get_by_role("button", name="Disconnect").click()
        assert asked[-1].startswith("Disconnect Google Calendar?")
        expect(page.get_by_role("button", name="Disconnect")).to_be_visible()
        _answer_next_dialog(page, True, asked)
        page.get_by_role("button", name="Disconnect").click()
        expect(page.get_by_text("Google Calendar is disconnected.")).to_be_visible()

        page.get_by_role("button", name="Sign out").click()
        expect(page.get_by_role("heading", name="Sign in", level=1)).to_be_visible()
        assert len(asked) == 6
    finally:
        context.close()
    assert not errors, f"JavaScript or Content-Security-Policy errors in the admin: {errors}"
