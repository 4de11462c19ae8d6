"""Fixtures of the plugin's tests: a real WordPress with the plugin, the service beside it, Debian's Chromium.

WordPress runs on http://localhost:<W> (its own MariaDB, see tests/support/wordpress.py) and the
service on http://127.0.0.1:<A> with EMBED_ALLOWED_ORIGINS="http://localhost:<W>": the widget is a
third-party frame of the blog, as on the studio's real site.  Both last for the test module.
"""

from __future__ import annotations

import os

import pytest
from playwright.sync_api import expect, sync_playwright

from tests.support import make_app
from tests.support.browser import CHROMIUM, LAUNCH_ARGS, Pages, app_server, chromium_unavailable, serving
from tests.support.wordpress import Blog, WordPress, build_plugin_zip, missing_programs, wordpress_unavailable

# The posts of the blog: an inline widget by shortcode, a popup button by block, an article for comments.
SHORTCODE_POST = '<p>Book your first massage below.</p>\n[booking_widget service="massage-60" title="Book a massage"]'
BLOCK_POST = (
    "<!-- wp:paragraph --><p>Tense shoulders? Book a session.</p><!-- /wp:paragraph -->\n"
    '<!-- wp:booking-widget/booking-widget {"mode":"popup","button":"Book a session","accent":"#7a3e9d"} /-->'
)
ARTICLE_POST = "<!-- wp:paragraph --><p>Long hours at a keyboard pull the shoulders forward.</p><!-- /wp:paragraph -->"


@pytest.fixture(scope="module")
def blog(tmp_path_factory):
    """Serve WordPress with the plugin active and configured, and the service it points at."""
    missing = missing_programs()
    if missing:
        wordpress_unavailable("missing " + ", ".join(missing))
    directory = tmp_path_factory.mktemp("wordpress")
    wordpress = WordPress(directory, build_plugin_zip(directory / "booking-widget.zip"))
    app = make_app(tmp_path_factory.mktemp("service"), EMBED_ALLOWED_ORIGINS=wordpress.url)
    server = app_server(app)
    widget = f"http://127.0.0.1:{server.server_port}"
    app.config["PUBLIC_URL"] = widget
    try:
        wordpress.start()
        wordpress.set_options(service_url=widget, accent="#2f5d50", comment_types=["post"])
        posts = {
            "shortcode": wordpress.create_post("Your first massage", SHORTCODE_POST, "first-massage"),
            "block": wordpress.create_post("Tense shoulders", BLOCK_POST, "tense-shoulders"),
            "article": wordpress.create_post("Why your shoulders tighten at the desk", ARTICLE_POST, "desk-shoulders"),
            "hello": wordpress.value("array('id' => 1, 'url' => get_permalink(1))"),
        }
        with serving(server, name="wordpress-service"):
            yield Blog(wordpress, app, widget, posts)
    finally:
        wordpress.stop()
    assert wordpress.plugin_notices() == [], "the plugin caused PHP errors, warnings or notices"


@pytest.fixture(scope="module")
def browser():
    """Return Debian's Chromium driven by Playwright, or skip/fail when it cannot run."""
    if not os.path.exists(CHROMIUM):
        chromium_unavailable(f"{CHROMIUM} does not exist")
    playwright = sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
    except Exception as error:  # noqa: BLE001 - any failure means "cannot run the browser"
        playwright.stop()
        chromium_unavailable(f"Playwright cannot launch {CHROMIUM} ({error.__class__.__name__})")
    yield chromium
    chromium.close()
    playwright.stop()


@pytest.fixture
def open_page(browser):
    """Return a function opening a page in a new context in Denver's time zone; no JavaScript errors allowed."""
    pages = Pages(browser, timezone_id="America/Denver")
    # A real WordPress on a busy machine can take more than Playwright's default 5 s to show a page.
    expect.set_options(timeout=15_000)
    try:
        yield pages.open
    finally:
        expect.set_options(timeout=5_000)
    pages.close()
