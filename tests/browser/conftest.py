"""Fixtures of the browser tests: Debian's Chromium driven by Playwright, apps and sites served on loopback addresses.

Each test gets its own app on a fresh SQLite database, served by a live Werkzeug server in a
thread; one Chromium serves each test module.  Every page a test opens is watched: an uncaught
JavaScript error or anything a Content-Security-Policy blocks fails the test.
"""

from __future__ import annotations

import os

import pytest
from playwright.sync_api import Browser, sync_playwright

from tests.google_standin import GoogleStandIn
from tests.support import COMMENT_ORIGINS, make_app
from tests.support.browser import (
    CHROMIUM,
    FOREIGN_MESSAGE,
    LAUNCH_ARGS,
    LiveServer,
    Pages,
    PageServer,
    Site,
    app_server,
    chromium_unavailable,
    host_pages,
    serving,
)


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
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
        chromium_unavailable(f"Playwright cannot launch {CHROMIUM} ({error.__class__.__name__}: {first_line})")
    yield chromium
    chromium.close()
    playwright.stop()


# --- The widget's own pages ------------------------------------------------------------------------------------------


@pytest.fixture
def live(tmp_path):
    """Serve a fresh app over HTTP on a free local port for one test."""
    app = make_app(tmp_path)
    server = app_server(app)
    with serving(server):
        yield LiveServer(app, f"http://127.0.0.1:{server.server_port}")


@pytest.fixture
def open_live_page(browser: Browser, live: LiveServer):
    """Return a function opening a page in a new browser context on the live server; no JS errors allowed."""
    pages = Pages(browser, base_url=live.url)
    yield pages.open
    pages.close()


@pytest.fixture
def google_live(tmp_path, monkeypatch):
    """Serve an app on the Google backend (the stand-in over loopback HTTP), its PUBLIC_URL the live server."""
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")  # the stand-in is plain http
    monkeypatch.setenv("OAUTHLIB_RELAX_TOKEN_SCOPE", "1")
    with GoogleStandIn() as standin:
        app = make_app(
            tmp_path,
            CALENDAR_BACKEND="google",
            GOOGLE_CLIENT_ID=standin.client_id,
            GOOGLE_CLIENT_SECRET=standin.client_secret,
            GOOGLE_AUTH_URI=standin.auth_uri,
            GOOGLE_TOKEN_URI=standin.token_uri,
            GOOGLE_API_ENDPOINT=standin.api_endpoint,
            GOOGLE_RETRY_SECONDS="2",
            GOOGLE_TIMEOUT="2",
            EMBED_ALLOWED_ORIGINS=COMMENT_ORIGINS,
        )
        server = app_server(app)
        url = f"http://127.0.0.1:{server.server_port}"
        app.config["PUBLIC_URL"] = url  # Google sends the browser back to this server
        standin.redirect_uris.append(f"{url}/oauth2callback")
        with serving(server, name="google-live"):
            yield LiveServer(app, url)
        assert standin.internal_errors == []


# --- The widget embedded in the studio's site ------------------------------------------------------------------------


@pytest.fixture
def site(tmp_path):
    """Serve the app, the studio's site (allowed origin) and a foreign site, each on its own loopback origin."""
    host, foreign = PageServer("127.0.0.1"), PageServer("127.0.0.2")
    host_url = f"http://localhost:{host.server_port}"
    app = make_app(tmp_path, EMBED_ALLOWED_ORIGINS=host_url)
    server = app_server(app)
    widget = f"http://127.0.0.1:{server.server_port}"
    app.config["PUBLIC_URL"] = widget  # manage links in pages and emails point at the live server
    result = Site(app, widget, host_url, f"http://127.0.0.2:{foreign.server_port}", host.pages)
    for pages in (host.pages, foreign.pages):
        pages.update(host_pages(widget))
    foreign.pages["/foreign-message.html"] = FOREIGN_MESSAGE
    with serving(host, foreign, server, name="site"):
        yield result


@pytest.fixture
def open_page(browser: Browser):
    """Return a function opening a page in a new context, third-party cookies blocked; no JS errors allowed.

    Pages open in Denver's time zone unless told otherwise.  Frames refused by frame-ancestors are
    not errors here: the tests provoke those refusals and assert them apart.
    """
    pages = Pages(browser, frame_refusals_expected=True, third_party_cookies=False, timezone_id="America/Denver")
    yield pages.open
    pages.close()
