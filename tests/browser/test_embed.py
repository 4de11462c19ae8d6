"""End-to-end: the embedded widget on a host site of another origin, in Debian's Chromium via Playwright.

The app is served on http://127.0.0.1:<A> with EMBED_ALLOWED_ORIGINS="http://localhost:<B>"; the
studio's site is a tiny HTTP server on http://localhost:<B> whose pages include embed.js, so the
widget is a third-party frame ('localhost' and '127.0.0.1' are different sites).  A third server on
http://127.0.0.2:<C> plays a foreign site that is not allowed to frame the widget.

Third-party cookies are blocked in every page: Chromium 156 has no command-line switch that does it
(--test-third-party-cookie-phaseout is accepted but has no effect any more), so each page gets the
DevTools call Network.setCookieControls(enableThirdPartyCookieRestriction=true) before it loads;
test_third_party_cookies_are_really_blocked proves that this blocks a cookie a profile would allow.

The app's clock is fixed at Monday 2026-11-23 08:00 in Denver: the first free time is Tuesday 09:00 MST.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from axe_playwright_python.sync_playwright import Axe
from flask import Flask
from playwright.sync_api import Browser, FrameLocator, Locator, Page, expect
from sqlalchemy import select

from tests.support.browser import ARTIFACTS, CHROMIUM, LAUNCH_ARGS, Site, block_third_party_cookies, host_page
from widget.booking import bookings, links
from widget.comments import moderation, render
from widget.extensions import db
from widget.models import Comment

# Tuesday 2026-11-24 09:00 in Denver (MST) = 16:00 UTC: the first bookable slot.
TUESDAY_NINE = datetime(2026, 11, 24, 16, 0, tzinfo=timezone.utc)
FRAME = "iframe.bw-frame"
# A cookie a third-party frame may only set when third-party cookies are allowed.
COOKIE_PROBE = """() => {
  document.cookie = "bw_probe=1; SameSite=None; Secure; Path=/";
  return document.cookie;
}"""
CLIENT = {"name": "Ada Lovelace", "email": "ada@example.com", "phone": "801-555-0142"}


# --- Helpers ---------------------------------------------------------------------------------------------------------


def _frame(page: Page) -> FrameLocator:
    return page.frame_locator(FRAME)


def _expect_step(frame: FrameLocator | Page, step: str) -> None:
    expect(frame.locator("#main")).to_have_attribute("data-step", step)


def _wait_for(page: Page, check: Callable[[], object], what: str | Callable[[], str], timeout: float = 5.0):
    """Poll ``check`` until it returns something true; fail with ``what`` after ``timeout`` seconds.

    Waits with page.wait_for_timeout, not time.sleep: Playwright's sync API handles the browser's
    events (console messages, frame navigations) only while it is called.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what if isinstance(what, str) else what()}")
        page.wait_for_timeout(50)


def _assert_third_party_cookies_blocked(frame: FrameLocator) -> None:
    cookies = frame.locator("html").evaluate(COOKIE_PROBE)
    assert "bw_probe" not in cookies, f"the third-party widget frame could set a cookie: {cookies!r}"


def _book_tuesday_nine_with_the_mouse(frame: FrameLocator) -> None:
    """Choose the 60-minute massage, Tuesday, 9:00 AM, fill the details and book."""
    frame.get_by_role("link", name="60-minute massage").click()
    _expect_step(frame, "day")
    tuesday = frame.locator("a.day").first
    expect(tuesday).to_contain_text("Tue Nov 24")
    tuesday.click()
    _expect_step(frame, "time")
    nine = frame.locator("a.time").first
    expect(nine).to_have_text("9:00 AM MST")
    nine.click()
    _expect_step(frame, "details")
    frame.get_by_label("Name").fill(CLIENT["name"])
    frame.get_by_label("Email").fill(CLIENT["email"])
    frame.get_by_label("Phone").fill(CLIENT["phone"])
    frame.get_by_role("button", name="Book 9:00 AM").click()
    expect(frame.get_by_role("heading", name="You're booked")).to_be_visible()
    expect(frame.locator("dl.booking")).to_contain_text("Tuesday, November 24, 2026, 9:00 AM–10:00 AM MST")


def _assert_booked_event(page: Page) -> None:
    """The host page got exactly one bookingwidget:booked event, for Tuesday 9:00, without personal data."""
    booked = _wait_for(page, lambda: page.evaluate("bw.booked"), "the bookingwidget:booked event")
    assert len(booked) == 1, booked
    detail = booked[0]["detail"]
    assert booked[0]["target"].startswith("bw-frame"), "the event comes from the widget's iframe"
    assert set(detail) == {"service", "start", "end"}, detail
    assert detail["service"] == "massage-60"
    assert datetime.fromisoformat(detail["start"]) == TUESDAY_NINE
    assert datetime.fromisoformat(detail["end"]) == TUESDAY_NINE.replace(hour=17)
    # Nothing personal travelled in any message either.
    messages = json.dumps(page.evaluate("bw.messages"))
    for value in CLIENT.values():
        assert value not in messages


def _press_until(page: Page, key: str, target: Locator, limit: int = 40) -> None:
    """Press ``key`` until ``target`` has the focus; fail if it is not reached in ``limit`` presses."""
    for _ in range(limit):
        page.keyboard.press(key)
        if target.evaluate("element => element === document.activeElement && document.hasFocus()"):
            return
    pytest.fail(f"{target} is not reachable with {key} in {limit} presses")


FOCUS_IN_HOST = """() => {
  const active = document.activeElement, dialog = document.querySelector("dialog.bw-dialog");
  const where = !active || active === document.body ? "body" : dialog && dialog.contains(active) ? "dialog" : "page";
  return {where: where, element: active ? active.outerHTML.slice(0, 70) : ""};
}"""
FOCUS_IN_FRAME = """() => document.hasFocus() ? document.activeElement.outerHTML.slice(0, 70) : null"""


def _focus_trail(page: Page, key: str, presses: int) -> list[dict]:
    """Press ``key`` and say each time where the focus is: in the dialog, on the page behind, or nowhere (body)."""
    trail = []
    for _ in range(presses):
        page.keyboard.press(key)
        step = page.evaluate(FOCUS_IN_HOST)
        in_widget = _frame(page).locator("html").evaluate(FOCUS_IN_FRAME)
        if step["where"] == "body" and in_widget:
            # Chromium may leave the host's activeElement on <body> while the widget's document has the focus.
            step = {"where": "dialog", "element": f"(in the widget) {in_widget}"}
        trail.append(step)
    return trail


def _frame_geometry(page: Page) -> dict:
    """Measure the iframe on the host page and the document inside it."""
    outer = page.locator(FRAME).evaluate("frame => frame.getBoundingClientRect().height")
    inner = (
        _frame(page)
        .locator("html")
        .evaluate(
            """html => ({
          scrollHeight: html.scrollHeight, clientHeight: html.clientHeight,
          scrollWidth: html.scrollWidth, clientWidth: html.clientWidth,
          innerHeight: window.innerHeight,
          bottom: Math.max(...[...document.body.querySelectorAll("*")].map(e => e.getBoundingClientRect().bottom)),
        })"""
        )
    )
    return {"iframe": outer, **inner}


def _fits(geometry: dict) -> bool:
    return (
        abs(geometry["iframe"] - geometry["scrollHeight"]) <= 2
        and geometry["scrollHeight"] <= geometry["clientHeight"]
        and geometry["scrollWidth"] <= geometry["clientWidth"]
        and geometry["bottom"] <= geometry["innerHeight"] + 1
    )


def _assert_height_follows(page: Page, step: str, idle: bool = True) -> None:
    """The iframe fits its content exactly; with ``idle``, no height message comes while nothing changes."""
    last: dict = {}

    def settled():
        nonlocal last
        geometry = _frame_geometry(page)
        stable, last = geometry == last, geometry
        return stable and _fits(geometry)

    _wait_for(page, settled, lambda: f"the iframe to fit the {step} step; last measured: {last}")
    before = page.evaluate("bw.heights.length")
    if idle:
        page.wait_for_timeout(300)
    heights = page.evaluate("bw.heights")
    assert len(heights) == before, f"{step}: height messages while nothing changed: {heights[before:]}"
    repeats = [a for a, b in zip(heights, heights[1:], strict=False) if a == b]
    assert not repeats, f"{step}: the frame posted an unchanged height again: {heights}"


def _book_directly(app: Flask) -> str:
    """Book Tuesday 9:00 without the browser; return the manage token."""
    with app.app_context():
        booking, _ = bookings.book("massage-60", TUESDAY_NINE, *CLIENT.values(), client_timezone="America/Denver")
        token = links.manage_token(booking)
        db.session.remove()
    return token


def _child_frame_urls(page: Page) -> list[str]:
    return [frame.url for frame in page.main_frame.child_frames]


def _watch_refusals(page: Page) -> list[str]:
    """Collect Chromium's console reports of frames it refused to show because of frame-ancestors."""
    refusals: list[str] = []
    page.on("console", lambda message: "frame-ancestors" in message.text and refusals.append(message.text))
    return refusals


def _assert_not_rendered(page: Page, frame_selector: str, widget: str, heading: str) -> None:
    """The frame holds no page of the widget: no main content, no heading of that page."""
    framed = page.frame_locator(frame_selector)
    expect(framed.locator("#main, main, form")).to_have_count(0)
    expect(framed.get_by_role("heading", name=heading)).to_have_count(0)
    assert not [url for url in _child_frame_urls(page) if url.startswith(widget)], _child_frame_urls(page)


def _add_frame(page: Page, url: str, title: str) -> None:
    """Put an iframe of ``url`` into the page's main content."""
    page.evaluate(
        """([url, title]) => {
          const frame = document.createElement("iframe");
          frame.src = url;
          frame.title = title;
          document.querySelector("main").appendChild(frame);
        }""",
        [url, title],
    )


def frame_ancestors(policy: str) -> str:
    """Return the frame-ancestors directive of a Content-Security-Policy header."""
    [directive] = [part.strip() for part in policy.split(";") if part.strip().startswith("frame-ancestors ")]
    return directive


def _save_screenshot(page: Page, name: str, width: int, full_page: bool = True) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / f"{name}-{width}.png", full_page=full_page)


# --- Tests -----------------------------------------------------------------------------------------------------------


def test_third_party_cookies_are_really_blocked(browser: Browser, site: Site, tmp_path):
    """The cookie probe sees third-party cookies when a profile allows them, and none once the tests' blocking is on."""
    profile = tmp_path / "profile"
    (profile / "Default").mkdir(parents=True)
    # This Chromium blocks third-party cookies by default (profile.cookie_controls_mode = 1): allow them (0).
    (profile / "Default" / "Preferences").write_text(json.dumps({"profile": {"cookie_controls_mode": 0}}))
    context = browser.browser_type.launch_persistent_context(profile, executable_path=CHROMIUM, args=LAUNCH_ARGS)
    try:
        allowed = context.new_page()
        allowed.goto(f"{site.host}/inline.html")
        cookies = _frame(allowed).locator("html").evaluate(COOKIE_PROBE)
        assert "bw_probe=1" in cookies, "control: a profile allowing third-party cookies lets the frame set one"

        blocked = context.new_page()
        session = block_third_party_cookies(blocked)
        blocked.goto(f"{site.host}/inline.html")
        expect(_frame(blocked).get_by_role("heading", level=1)).to_have_text("Book an appointment")
        cookies = _frame(blocked).locator("html").evaluate(COOKIE_PROBE)
        assert cookies == "", f"with the tests' blocking the frame still sees cookies: {cookies!r}"
        session.detach()
    finally:
        context.close()


def test_inline_booking_from_another_site_without_third_party_cookies(open_page, site: Site):
    """The inline widget, a third-party frame without cookies, books Tuesday 9:00; the host gets a booked event."""
    page = open_page()
    page.goto(f"{site.host}/inline.html")
    iframe = page.locator(FRAME)
    expect(iframe).to_have_attribute("title", "Book an appointment")
    # The loader passes the visitor's zone (the context's, America/Denver) and the host's origin.
    expect(iframe).to_have_attribute("src", f"{site.widget}/book?tz=America%2FDenver&embed={quote(site.host, safe='')}")
    frame = _frame(page)
    expect(frame.get_by_role("heading", level=1)).to_have_text("Book an appointment")
    _assert_third_party_cookies_blocked(frame)

    _book_tuesday_nine_with_the_mouse(frame)

    _assert_booked_event(page)
    _assert_third_party_cookies_blocked(frame)
    assert page.context.cookies(site.widget) == [], "no cookie of the widget's site was stored"


def test_popup_focus_and_booking(open_page, site: Site):
    """Book now opens a modal dialog with focus on Close; Tab stays inside; Esc closes and restores focus; it books."""
    page = open_page()
    page.goto(f"{site.host}/popup.html")
    opener = page.get_by_role("button", name="Book now")
    opener.click()
    dialog = page.locator("dialog.bw-dialog")
    expect(dialog).to_be_visible()
    assert dialog.evaluate("d => d.open && d.matches(':modal')"), "the dialog is modal"
    close = dialog.get_by_role("button", name="Close")
    expect(close).to_be_focused()
    frame = _frame(page)
    expect(frame.get_by_role("heading", level=1)).to_have_text("Book an appointment")
    _assert_third_party_cookies_blocked(frame)

    forward = _focus_trail(page, "Tab", 10)
    assert [step for step in forward if step["where"] == "page"] == [], f"Tab reached the page behind: {forward}"
    first_out = next((i for i, step in enumerate(forward) if step["where"] == "body"), None)
    assert first_out is not None, f"Tab never left the widget's last link: {forward}"
    assert any(step["where"] == "dialog" for step in forward[first_out:]), f"Tab did not cycle back: {forward}"
    backward = _focus_trail(page, "Shift+Tab", 10)
    assert [step for step in backward if step["where"] == "page"] == [], f"Shift+Tab reached the page: {backward}"
    assert any("bw-close" in step["element"] for step in backward), f"Shift+Tab never reached Close: {backward}"

    close.focus()
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(opener).to_be_focused()

    opener.click()
    expect(close).to_be_focused()
    for width in (375, 1280):
        page.set_viewport_size({"width": width, "height": 900})
        page.wait_for_timeout(200)
        _save_screenshot(page, "embed-popup-open", width, full_page=False)
    _book_tuesday_nine_with_the_mouse(frame)
    _assert_booked_event(page)


@pytest.mark.parametrize("width", [375, 1280])
def test_iframe_height_follows_the_content(open_page, site: Site, width: int):
    """At each step the iframe is exactly as tall as its document, which never scrolls; heights are posted on change."""
    page = open_page(width=width)
    page.goto(f"{site.host}/inline.html")
    frame = _frame(page)
    expect(frame.get_by_role("heading", level=1)).to_have_text("Book an appointment")
    _assert_height_follows(page, "service")
    _save_screenshot(page, "embed-inline", width)

    frame.get_by_role("link", name="60-minute massage").click()
    _expect_step(frame, "day")
    _assert_height_follows(page, "day", idle=False)
    frame.locator("a.day").first.click()
    _expect_step(frame, "time")
    _assert_height_follows(page, "time", idle=False)
    frame.locator("a.time").first.click()
    _expect_step(frame, "details")
    _assert_height_follows(page, "details", idle=False)
    # Errors make the form taller.
    frame.get_by_role("button", name="Book 9:00 AM").click()
    expect(frame.locator("p.error").first).to_be_visible()
    _assert_height_follows(page, "details with errors")
    frame.get_by_label("Name").fill(CLIENT["name"])
    frame.get_by_label("Email").fill(CLIENT["email"])
    frame.get_by_label("Phone").fill(CLIENT["phone"])
    frame.get_by_role("button", name="Book 9:00 AM").click()
    expect(frame.get_by_role("heading", name="You're booked")).to_be_visible()
    _assert_height_follows(page, "done")
    # The host page's width changes: the frame reflows and reports its new height once.
    page.set_viewport_size({"width": 1280 if width == 375 else 375, "height": 900})
    _assert_height_follows(page, "done, after resizing the host page")


def test_messages_from_a_foreign_origin_change_nothing(open_page, site: Site):
    """A frame of another site posting widget-like messages to the host changes neither the height nor events."""
    page = open_page()
    page.goto(f"{site.host}/inline.html")
    expect(_frame(page).get_by_role("heading", level=1)).to_have_text("Book an appointment")
    _assert_height_follows(page, "service")
    height = page.locator(FRAME).evaluate("frame => [frame.style.height, frame.getBoundingClientRect().height]")

    _add_frame(page, f"{site.foreign}/foreign-message.html", "Advert")
    _wait_for(
        page,
        lambda: len([m for m in page.evaluate("bw.messages") if m["origin"] == site.foreign]) == 2,
        "the foreign frame's two messages to reach the host page",
    )
    page.wait_for_timeout(200)
    assert page.locator(FRAME).evaluate("frame => [frame.style.height, frame.getBoundingClientRect().height]") == height
    assert page.evaluate("bw.booked") == []


def test_other_sites_cannot_frame_the_widget(open_page, site: Site):
    """An origin not in EMBED_ALLOWED_ORIGINS gets a refused frame and no messages; pages name only allowed hosts."""
    page = open_page()
    refusals = _watch_refusals(page)
    with page.expect_response(lambda response: urlsplit(response.url).path == "/book") as widget_response:
        page.goto(f"{site.foreign}/inline.html")
    policy = widget_response.value.headers["content-security-policy"]
    assert frame_ancestors(policy) == f"frame-ancestors 'self' {site.host}"
    _wait_for(page, lambda: refusals, "Chromium to report that it refused the frame")
    assert "http://127.0.0.1" in refusals[0] and "frame-ancestors 'self' " in refusals[0], refusals
    _assert_not_rendered(page, FRAME, site.widget, "Book an appointment")
    assert page.evaluate("bw.messages") == []

    # The server does not take the foreign origin as a host to talk to.
    html = page.request.get(f"{site.widget}/book?embed={quote(site.foreign, safe='')}").text()
    assert "data-embed" not in html
    html = page.request.get(f"{site.widget}/book?embed={quote(site.host, safe='')}").text()
    assert f'data-embed="{site.host}"' in html


def test_manage_and_admin_pages_refuse_every_frame(open_page, site: Site):
    """Even the allowed origin cannot frame /manage/<token> or /admin: frame-ancestors 'none' and X-Frame-Options."""
    token = _book_directly(site.app)
    site.host_pages["/protected.html"] = host_page(
        site.widget,
        body=f'<iframe title="Manage" src="{site.widget}/manage/{token}"></iframe>'
        f'<iframe title="Admin" src="{site.widget}/admin"></iframe>',
    )
    page = open_page()
    refusals = _watch_refusals(page)
    responses = []
    page.on("response", lambda response: responses.append(response))
    page.goto(f"{site.host}/protected.html")
    _wait_for(page, lambda: len(refusals) >= 2, lambda: f"Chromium to refuse both frames (reports: {refusals})")
    assert all("frame-ancestors 'none'" in refusal for refusal in refusals), refusals
    framed = {urlsplit(r.url).path: r for r in responses if r.url.startswith(site.widget)}
    assert set(framed) >= {f"/manage/{token}", "/admin"}, list(framed)
    for path, response in framed.items():
        assert frame_ancestors(response.headers["content-security-policy"]) == "frame-ancestors 'none'", path
        assert response.headers["x-frame-options"] == "DENY", path
    for title, heading in (("Manage", "Your booking"), ("Admin", "Sign in")):
        _assert_not_rendered(page, f'iframe[title="{title}"]', site.widget, heading)


def test_manage_link_in_the_framed_confirmation_leaves_the_frame(open_page, site: Site):
    """The confirmation's "manage your booking" link opens the manage page outside the frame, where it can load."""
    token = _book_directly(site.app)
    done = f"{site.widget}/book/done/{token}?tz=America/Denver&embed={quote(site.host, safe='')}"
    site.host_pages["/done.html"] = host_page(
        site.widget, body=f'<iframe class="bw-frame" title="Book an appointment" src="{done}"></iframe>'
    )
    page = open_page()
    page.goto(f"{site.host}/done.html")
    frame = _frame(page)
    expect(frame.get_by_role("heading", name="You're booked")).to_be_visible()
    link = frame.get_by_role("link", name="manage your booking")
    target = link.get_attribute("target")
    link.click()

    shown = _wait_for(
        page,
        lambda: [p for p in page.context.pages if urlsplit(p.url).path.startswith("/manage/")],
        lambda: (
            f"the manage page to open in a tab or at the top (link target={target!r}); "
            f"the frame went to {_child_frame_urls(page)}"
        ),
        timeout=2,
    )
    expect(shown[0].get_by_role("heading", name="Your booking")).to_be_visible()


def test_inline_booking_with_the_keyboard_only(open_page, site: Site):
    """Tab from the host page into the iframe, Enter on links, type the details and Enter to book."""
    page = open_page()
    page.goto(f"{site.host}/inline.html")
    frame = _frame(page)
    heading = frame.get_by_role("heading", level=1)
    expect(heading).to_have_text("Book an appointment")

    _press_until(page, "Tab", frame.get_by_role("link", name="30-minute massage"))
    page.keyboard.press("Enter")
    _expect_step(frame, "day")
    expect(heading).to_be_focused()
    _press_until(page, "Tab", frame.locator("a.day").first)
    expect(frame.locator(":focus")).to_contain_text("Tue Nov 24")
    page.keyboard.press("Enter")
    _expect_step(frame, "time")
    expect(heading).to_be_focused()
    _press_until(page, "Tab", frame.locator("a.time").first)
    expect(frame.locator(":focus")).to_have_text("9:00 AM MST")
    page.keyboard.press("Enter")
    _expect_step(frame, "details")
    expect(heading).to_be_focused()
    _press_until(page, "Tab", frame.get_by_label("Name"))
    page.keyboard.type("Kay Board")
    page.keyboard.press("Tab")
    expect(frame.get_by_label("Email")).to_be_focused()
    page.keyboard.type("kay@example.com")
    page.keyboard.press("Tab")
    expect(frame.get_by_label("Phone")).to_be_focused()
    page.keyboard.type("801-555-0177")
    page.keyboard.press("Enter")

    _expect_step(frame, "done")
    expect(frame.get_by_role("heading", name="You're booked")).to_be_focused()
    expect(frame.locator("dl.booking")).to_contain_text("Tuesday, November 24, 2026, 9:00 AM–9:30 AM MST")
    booked = _wait_for(page, lambda: page.evaluate("bw.booked"), "the bookingwidget:booked event")
    assert booked[0]["detail"]["service"] == "massage-30"


def test_popup_booking_with_the_keyboard_only(open_page, site: Site):
    """Tab to Book now, Enter opens the dialog on Close, the widget books by keyboard, Close returns focus."""
    page = open_page()
    page.goto(f"{site.host}/popup.html")
    opener = page.get_by_role("button", name="Book now")
    _press_until(page, "Tab", opener)
    page.keyboard.press("Enter")
    close = page.locator("dialog.bw-dialog").get_by_role("button", name="Close")
    expect(close).to_be_focused()
    frame = _frame(page)
    heading = frame.get_by_role("heading", level=1)
    expect(heading).to_have_text("Book an appointment")

    page.keyboard.press("Tab")
    expect(frame.get_by_role("link", name="30-minute massage")).to_be_focused()
    page.keyboard.press("Enter")
    _expect_step(frame, "day")
    _press_until(page, "Tab", frame.locator("a.day").first)
    page.keyboard.press("Enter")
    _expect_step(frame, "time")
    _press_until(page, "Tab", frame.locator("a.time").first)
    page.keyboard.press("Enter")
    _expect_step(frame, "details")
    _press_until(page, "Tab", frame.get_by_label("Name"))
    page.keyboard.type("Kay Board")
    page.keyboard.press("Tab")
    page.keyboard.type("kay@example.com")
    page.keyboard.press("Tab")
    page.keyboard.type("801-555-0177")
    page.keyboard.press("Enter")
    expect(frame.get_by_role("heading", name="You're booked")).to_be_focused()

    _press_until(page, "Shift+Tab", close)
    page.keyboard.press("Enter")
    expect(page.locator("dialog.bw-dialog")).to_be_hidden()
    expect(opener).to_be_focused()


def test_escape_inside_the_popup_widget_closes_the_dialog(open_page, site: Site):
    """With focus on a link inside the widget (a cross-origin frame), Esc still closes the dialog and restores focus."""
    page = open_page()
    page.goto(f"{site.host}/popup.html")
    opener = page.get_by_role("button", name="Book now")
    opener.click()
    frame = _frame(page)
    expect(frame.get_by_role("heading", level=1)).to_have_text("Book an appointment")
    # The heading shows before the frame's deferred script has run; Esc is heard only once it has.
    inner = next(f for f in page.frames if f.parent_frame is not None and "/book" in f.url)
    inner.wait_for_load_state("domcontentloaded")
    page.keyboard.press("Tab")
    expect(frame.get_by_role("link", name="30-minute massage")).to_be_focused()
    page.keyboard.press("Escape")
    expect(page.locator("dialog.bw-dialog")).to_be_hidden(timeout=3000)
    expect(opener).to_be_focused()


def _serious_violations(page: Page, name: str, report: dict) -> list[str]:
    violations = Axe().run(page).response["violations"]
    report[name] = violations
    return [
        f"{name}: {v['id']} ({v['impact']}) {node['target']}: {node['failureSummary']}"
        for v in violations
        if v["impact"] in ("serious", "critical")
        for node in v["nodes"]
    ]


def _comment_page_violations(page: Page, site: Site, report: dict) -> list[str]:
    """Run axe on the comments page: empty, with a thread, and with the form's errors shown."""
    article = f"{site.host}/blog/axe"
    address = f"{site.widget}/comments?page={quote(article, safe='')}&embed={quote(site.host, safe='')}"
    page.goto(address)
    found = _serious_violations(page, "comments, empty", report)
    with site.app.app_context():
        for author, text in (("Kim", "First: see https://example.org/a."), ("Lee", "Second comment.")):
            posted, _ = moderation.post(
                {"page": article, "name": author, "email": f"{author.lower()}@example.org", "body": text}, "", ""
            )
            moderation.moderate([posted.id], "approve")
        reply = {"page": article, "name": "Kim", "email": "kim@example.org", "body": "A reply.", "parent_id": posted.id}
        answer, _ = moderation.post(reply, "", "")
        moderation.moderate([answer.id], "approve")
        db.session.remove()
    page.goto(address)
    expect(page.locator("#thread li")).to_have_count(3)
    found += _serious_violations(page, "comments, thread", report)
    page.get_by_role("textbox", name="Comment").fill("A comment with a bad website.")
    page.get_by_role("textbox", name="Name", exact=True).fill("Kim")
    page.get_by_role("textbox", name="Email", exact=True).fill("kim@example.org")
    page.get_by_label("Website").fill("ftp://nope")
    page.get_by_role("button", name="Post comment").click()
    expect(page.locator("p.error").first).to_be_visible()
    found += _serious_violations(page, "comments, form errors", report)
    return found


def test_widget_pages_have_no_serious_accessibility_violations(open_page, site: Site):
    """axe-core finds nothing serious or critical on the service, day, time, details, done, manage, comments pages."""
    page = open_page()
    found: list[str] = []
    report: dict = {}
    page.goto(f"{site.widget}/book?embed={quote(site.host, safe='')}")
    _expect_step(page, "service")
    found += _serious_violations(page, "service", report)
    page.get_by_role("link", name="60-minute massage").click()
    _expect_step(page, "day")
    found += _serious_violations(page, "day", report)
    page.locator("a.day").first.click()
    _expect_step(page, "time")
    found += _serious_violations(page, "time", report)
    page.locator("a.time").first.click()
    _expect_step(page, "details")
    found += _serious_violations(page, "details", report)
    page.get_by_role("button", name="Book 9:00 AM").click()
    expect(page.locator("p.error").first).to_be_visible()
    found += _serious_violations(page, "details with errors", report)
    page.get_by_label("Name").fill(CLIENT["name"])
    page.get_by_label("Email").fill(CLIENT["email"])
    page.get_by_label("Phone").fill(CLIENT["phone"])
    page.get_by_role("button", name="Book 9:00 AM").click()
    expect(page.get_by_role("heading", name="You're booked")).to_be_visible()
    found += _serious_violations(page, "done", report)
    page.goto(page.get_by_role("link", name="manage your booking").get_attribute("href"))
    expect(page.get_by_role("heading", name="Your booking")).to_be_visible()
    found += _serious_violations(page, "manage", report)
    found += _comment_page_violations(page, site, report)
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "axe-widget.json").write_text(json.dumps(report, indent=2))
    assert found == [], "axe-core violations:\n" + "\n".join(found)


def test_framed_widget_url_books_without_javascript(open_page, site: Site):
    """With JavaScript off, the widget's framed address (?embed=host) books through links and one form post."""
    page = open_page(java_script_enabled=False)
    policies = []
    page.on(
        "response",
        lambda r: r.request.is_navigation_request() and policies.append(r.headers.get("content-security-policy")),
    )
    embed = quote(site.host, safe="")
    page.goto(f"{site.widget}/book?embed={embed}")
    _expect_step(page, "service")
    page.get_by_role("link", name="60-minute massage").click()
    _expect_step(page, "day")
    page.get_by_role("link", name=re.compile(r"^Tue Nov 24 ")).click()
    _expect_step(page, "time")
    page.locator("a.time").first.click()
    _expect_step(page, "details")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Tuesday, November 24, 2026, 9:00 AM")
    for label, value in (("Name", CLIENT["name"]), ("Email", CLIENT["email"]), ("Phone", CLIENT["phone"])):
        page.get_by_label(label).fill(value)
    page.get_by_role("button", name="Book 9:00 AM").click()

    expect(page.get_by_role("heading", name="You're booked")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/book/done/[^?]+\?"))
    assert parse_qs(urlsplit(page.url).query)["embed"] == [site.host], "the host's origin travelled through every step"
    expect(page.locator("html")).to_have_attribute("data-embed", site.host)
    expect(page.locator("dl.booking")).to_contain_text("Tuesday, November 24, 2026, 9:00 AM–10:00 AM MST")
    assert len(policies) >= 5, policies
    assert {frame_ancestors(p) for p in policies} == {f"frame-ancestors 'self' {site.host}"}, "the host may frame each"
    with site.app.app_context():
        assert links.booking_for_token(urlsplit(page.url).path.rsplit("/", 1)[1]).name == CLIENT["name"]


# --- Comments --------------------------------------------------------------------------------------------------------
# The app's clock is fixed; a test moves it on by a few seconds before posting, as a reader typing
# would (a comment posted under 3 s after its form was shown is taken for spam).

READER = {"name": "Zoë Reader", "email": "zoe@reader.example"}
# Records what the host page receives from the comments frame.
COMMENT_RECORDER = """<script>
window.commented = [];
document.addEventListener("bookingwidget:commented", function (event) {
  commented.push({detail: event.detail, target: event.target.className});
});
</script>"""


def _article(site: Site) -> str:
    """Serve an article with the comments thread under it; return its address."""
    script = f'<script src="{site.widget}/embed.js" data-widget="comments" data-target="#comments"></script>'
    site.host_pages["/blog/shoulders.html"] = host_page(
        site.widget,
        body=f'<link rel="canonical" href="{site.host}/blog/shoulders.html">{COMMENT_RECORDER}'
        f'<section id="comments"></section>{script}',
    )
    return f"{site.host}/blog/shoulders.html"


def _later(site: Site, seconds: int = 5) -> None:
    site.app.extensions["clock"].now += timedelta(seconds=seconds)


def _fill(frame: FrameLocator, body: str, reader: dict = READER) -> None:
    frame.get_by_role("textbox", name="Comment").fill(body)
    frame.get_by_role("textbox", name="Name", exact=True).fill(reader["name"])
    frame.get_by_role("textbox", name="Email", exact=True).fill(reader["email"])


def _stored(site: Site) -> list[Comment]:
    with site.app.app_context():
        found = list(db.session.scalars(select(Comment).order_by(Comment.id)))
        db.session.expunge_all()
        db.session.remove()
    return found


def _approve(site: Site, comment_id: int) -> None:
    with site.app.app_context():
        moderation.moderate([comment_id], "approve")
        db.session.remove()


def _mark_frame(frame: FrameLocator) -> None:
    frame.locator("html").evaluate("() => { window.notReloaded = true; }")


def _assert_not_reloaded(frame: FrameLocator) -> None:
    assert frame.locator("html").evaluate("() => window.notReloaded === true"), "the frame reloaded"


def test_reader_comments_replies_and_edits_without_reloading(open_page, site: Site):
    """JS on, third-party cookies blocked: a first comment is held, the next shows at once, replies nest, edits work."""
    article = _article(site)
    page = open_page()
    page.goto(article)
    frame = _frame(page)
    expect(frame.get_by_role("heading", name="Leave a comment")).to_be_visible()
    expect(frame.get_by_text("Your email address will not be published. Required fields are marked *")).to_be_visible()
    _assert_third_party_cookies_blocked(frame)
    _assert_height_follows(page, "empty thread")
    _mark_frame(frame)

    # The first comment from a name and email waits for the therapist.
    _fill(frame, "Does the doorway stretch help with a stiff neck too?")
    _later(site)
    frame.get_by_role("button", name="Post comment").click()
    expect(frame.locator("#comments-notice")).to_have_text(
        "Thank you! Your comment will appear once the studio has approved it."
    )
    expect(frame.get_by_role("article", name="Your comment, awaiting approval")).to_contain_text("stiff neck")
    held = _stored(site)
    assert [(c.status, c.page, c.author) for c in held] == [("pending", article, READER["name"])]
    events = _wait_for(page, lambda: page.evaluate("commented"), "the bookingwidget:commented event")
    assert events[0]["detail"] == {"page": article, "status": "pending"}
    assert events[0]["target"].startswith("bw-frame")
    _assert_not_reloaded(frame)

    # Approved, the reader is known: the next comment is published at once and shows in the thread.
    _approve(site, held[0].id)
    _fill(frame, "Thanks, trying it this week.")
    _later(site)
    frame.get_by_role("button", name="Post comment").click()
    expect(frame.locator("#comments-notice")).to_have_text("Thank you! Your comment is published.")
    expect(frame.locator("#thread > li")).to_have_count(2)
    expect(frame.get_by_role("heading", level=1)).to_have_text("2 comments")
    _assert_not_reloaded(frame)
    _assert_height_follows(page, "two comments", idle=False)

    # Reply inline: the form moves under the comment, the reply nests there.
    first = frame.locator(f"#comment-{held[0].id}")
    first.get_by_role("link", name=f"Reply to {READER['name']}").click()
    expect(frame.get_by_role("heading", name=f"Reply to {READER['name']}")).to_be_visible()
    expect(first.locator("#comment-form")).to_have_count(1)
    _fill(frame, "Replying to myself: it did help.", {"name": "Ann Other", "email": "ann@reader.example"})
    _later(site)
    frame.get_by_role("button", name="Post comment").click()
    expect(frame.locator("#comments-notice")).to_contain_text("once the studio has approved it")
    reply = _stored(site)[-1]
    assert (reply.parent_id, reply.status) == (held[0].id, "pending")
    expect(first.locator("ol.replies li.pending")).to_contain_text("it did help")
    expect(frame.get_by_role("heading", name="Leave a comment")).to_be_visible()  # the form went back home

    # The reader's own published comment can be edited for a while, in place; an edit that adds
    # a link waits for the therapist again, and the reader is told so.
    own = frame.locator("#thread > li").nth(1)
    own.get_by_role("button", name="Edit").click()
    frame.get_by_label("Edit your comment").fill("Thanks, trying it this week. Update: see https://example.org/neck")
    frame.get_by_role("button", name="Save").click()
    expect(frame.locator("#comments-notice")).to_have_text("Your comment is updated and will appear once approved.")
    assert _stored(site)[1].status == "pending"
    link = own.locator(".comment-body a")
    expect(link).to_have_attribute("href", "https://example.org/neck")
    expect(link).to_have_attribute("rel", "nofollow ugc noopener")
    _assert_not_reloaded(frame)
    _save_screenshot(page, "comments", 1280)


def test_comments_work_without_javascript(open_page, site: Site):
    """With JavaScript off, the framed comments page posts through the form, shows errors inline and says thank you."""
    article = _article(site)
    page = open_page(java_script_enabled=False)
    page.goto(f"{site.widget}/comments?page={quote(article, safe='')}&embed={quote(site.host, safe='')}")
    _fill(page, "A comment with a bad website.")
    page.get_by_label("Website").fill("javascript:alert(1)")
    _later(site)
    page.get_by_role("button", name="Post comment").click()
    expect(page.locator("#website-error")).to_have_text("Website must start with http:// or https://")
    expect(page.get_by_role("textbox", name="Comment")).to_have_value("A comment with a bad website.")
    assert _stored(site) == []

    page.get_by_label("Website").fill("https://zoe.example")
    _later(site)
    page.get_by_role("button", name="Post comment").click()
    expect(page.locator("#comments-notice")).to_contain_text("once the studio has approved it")
    query = parse_qs(urlsplit(page.url).query)
    assert query["posted"] == ["pending"] and query["embed"] == [site.host] and query["page"] == [article]
    [held] = _stored(site)
    _approve(site, held.id)

    # A reply without JavaScript: the reply link reloads the page with the form set to answer.
    page.reload()
    page.get_by_role("link", name=f"Reply to {READER['name']}").click()
    expect(page.get_by_role("heading", name=f"Reply to {READER['name']}")).to_be_visible()
    _fill(page, "A reply, posted by the plain form.")
    _later(site)
    page.get_by_role("button", name="Post comment").click()
    expect(page.locator("#comments-notice")).to_have_text("Thank you! Your comment is published.")
    expect(page.locator(f"#comment-{held.id} ol.replies")).to_contain_text("posted by the plain form")
    author = page.locator(f"#comment-{held.id} .comment-author a").first
    expect(author).to_have_attribute("rel", "nofollow ugc noopener")


def test_other_sites_cannot_frame_the_comments(open_page, site: Site):
    """A site not in EMBED_ALLOWED_ORIGINS cannot show the thread: frame-ancestors refuses it."""
    article = _article(site)
    page = open_page()
    refusals = _watch_refusals(page)
    page.goto(f"{site.foreign}/popup.html")
    with page.expect_response(lambda response: urlsplit(response.url).path == "/comments") as framed:
        _add_frame(page, f"{site.widget}/comments?page={quote(article, safe='')}", "Comments")
    assert frame_ancestors(framed.value.headers["content-security-policy"]) == f"frame-ancestors 'self' {site.host}"
    _wait_for(page, lambda: refusals, "Chromium to report that it refused the frame")
    _assert_not_rendered(page, 'iframe[title="Comments"]', site.widget, "Leave a comment")


def test_comments_frame_fits_at_phone_width(open_page, site: Site):
    """At 375 px the thread with a long comment and a reply fits its frame: no inner scrollbar, nothing cut off."""
    article = _article(site)
    with site.app.app_context():
        first = Comment(
            page=article,
            status="published",
            author="Kim",
            email="kim@reader.example",
            body="x",
            body_html=render.render("A long comment. " * 40 + "https://example.org/" + "a" * 80),
            notify_replies=False,
            created_at=site.app.extensions["clock"].now,
        )
        db.session.add(first)
        db.session.flush()
        db.session.add(
            Comment(
                page=article,
                parent_id=first.id,
                status="published",
                author="Lee",
                body="y",
                body_html=render.render("A reply."),
                notify_replies=False,
                created_at=site.app.extensions["clock"].now,
            )
        )
        db.session.commit()
        db.session.remove()
    page = open_page(width=375)
    page.goto(article)
    expect(_frame(page).locator("#thread li")).to_have_count(2)
    _assert_height_follows(page, "thread at 375 px")
    _save_screenshot(page, "comments", 375)
    assert re.search(r"2 comments", _frame(page).get_by_role("heading", level=1).inner_text())
