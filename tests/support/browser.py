"""What the browser tests share: Debian's Chromium, watching pages for errors, and servers on loopback addresses."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import NoReturn
from urllib.parse import urlsplit

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page
from werkzeug.serving import make_server

from tests.support import ROOT, services_required

CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
]
ARTIFACTS = Path(ROOT) / "test-artifacts"


def chromium_unavailable(reason: str) -> NoReturn:
    """Skip the test because Chromium cannot run, or fail it when REQUIRE_SERVICES=1."""
    message = f"Chromium (Debian package chromium) is not installed: {reason}"
    if services_required():
        pytest.fail(f"{message}; REQUIRE_SERVICES=1 makes this a failure")
    pytest.skip(f"{message}; install it with: apt-get install -y chromium")


# --- Watching pages --------------------------------------------------------------------------------------------------


def watch(page: Page, errors: list[str], frame_refusals_expected: bool = False) -> None:
    """Record the page's uncaught JavaScript errors and anything its Content-Security-Policy blocks.

    With ``frame_refusals_expected`` a frame refused by frame-ancestors is not recorded: the embedding
    tests provoke those refusals and assert them apart.
    """
    page.on("pageerror", lambda error: errors.append(f"{page.url}: {error}"))
    page.on(
        "console",
        lambda message: (
            "Content Security Policy" in message.text
            and not (frame_refusals_expected and "frame-ancestors" in message.text)
            and errors.append(f"{page.url}: {message.text}")
        ),
    )


def block_third_party_cookies(page: Page):
    """Make Chromium refuse third-party cookies in this page (and its frames); keep the session alive."""
    session = page.context.new_cdp_session(page)
    session.send("Network.enable")
    session.send("Network.setCookieControls", {"enableThirdPartyCookieRestriction": True})
    return session


class Pages:
    """The browser contexts one test opens, and the errors seen in their pages."""

    def __init__(
        self, browser: Browser, frame_refusals_expected: bool = False, third_party_cookies: bool = True, **defaults
    ):
        self.browser, self.defaults = browser, defaults
        self.frame_refusals_expected, self.third_party_cookies = frame_refusals_expected, third_party_cookies
        self.contexts, self.sessions, self.errors = [], [], []

    def open(self, width: int = 1280, **options) -> Page:
        """Open a page in a new browser context, ``width`` pixels wide, watched for errors."""
        options = {"viewport": {"width": width, "height": 900}, "locale": "en-US", **self.defaults, **options}
        context = self.browser.new_context(**options)
        context.set_default_timeout(10_000)
        self.contexts.append(context)
        page = context.new_page()
        watch(page, self.errors, self.frame_refusals_expected)
        if not self.third_party_cookies:
            self.sessions.append(block_third_party_cookies(page))
        return page

    def close(self) -> None:
        """Close every context; fail if any page had a JavaScript error or a Content-Security-Policy violation."""
        for context in self.contexts:
            context.close()
        assert not self.errors, f"JavaScript or Content-Security-Policy errors in the page: {self.errors}"


# --- Servers ---------------------------------------------------------------------------------------------------------


@dataclass
class LiveServer:
    app: Flask
    url: str


@contextmanager
def serving(*servers, name: str = "live-server") -> Iterator[None]:
    """Run each server in a thread of its own; shut them all down afterwards."""
    running = []
    for server in servers:
        thread = threading.Thread(target=server.serve_forever, args=(0.05,), name=name, daemon=True)
        thread.start()
        running.append((server, thread))
    try:
        yield
    finally:
        for server, thread in running:
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)


def app_server(app: Flask):
    """Return a threaded HTTP server of the app on a free port of 127.0.0.1 (not started)."""
    return make_server("127.0.0.1", 0, app, threaded=True)


class _PageHandler(BaseHTTPRequestHandler):
    """Serves the pages a test wrote into ``server.pages`` (path -> HTML)."""

    def do_GET(self):  # noqa: N802 - the name http.server calls
        path = urlsplit(self.path).path
        if path == "/favicon.ico":
            self.send_response(204)
            self.end_headers()
            return
        page = self.server.pages.get(path)
        if page is None:
            self.send_error(404)
            return
        body = page.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):  # noqa: A002 - the signature http.server calls
        pass


class PageServer(ThreadingHTTPServer):
    """A site of static pages on a free port of ``host``: ``pages`` maps paths to HTML."""

    daemon_threads = True

    def __init__(self, host: str):
        super().__init__((host, 0), _PageHandler)
        self.pages: dict[str, str] = {}


# --- The studio's site, which embeds the widget ----------------------------------------------------------------------


@dataclass
class Site:
    app: Flask
    widget: str  # http://127.0.0.1:<A>, the booking service
    host: str  # http://localhost:<B>, the studio's site, allowed to frame the widget
    foreign: str  # http://127.0.0.2:<C>, another site, not allowed
    host_pages: dict[str, str]  # path -> HTML served by the studio's site


# Records, before embed.js runs, what the host page receives: booked events and every message.
RECORDER = """<script>
window.bw = {booked: [], heights: [], messages: []};
document.addEventListener("bookingwidget:booked", function (event) {
  bw.booked.push({detail: event.detail, target: event.target.className});
});
window.addEventListener("message", function (event) {
  bw.messages.push({origin: event.origin, data: JSON.stringify(event.data)});
  var message = event.data && event.data.bookingWidget;
  if (event.origin === "%(widget)s" && message && message.type === "height") bw.heights.push(message.height);
});
</script>"""

HOST_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Why your shoulders tighten at the desk · Juniper Massage Studio</title>
<style>
  body { font: 17px/1.6 Georgia, serif; color: #222; margin: 0; background: #faf8f5; }
  header, main, footer { max-width: 44rem; margin: 0 auto; padding: 1rem 1.25rem; }
  .book { background: #fff; border: 1px solid #ddd; border-radius: 8px; padding: .5rem; margin: 2rem 0; }
</style>
%(recorder)s
</head>
<body>
<header><a href="#top" id="home">Juniper Massage Studio</a> %(header)s</header>
<main>
  <h1>Why your shoulders tighten at the desk</h1>
  <p>Long hours at a keyboard pull the shoulders forward. <a href="#tips" id="tips">Three quick tips</a>.</p>
  %(body)s
  <p><a href="#top" id="after">Back to top</a></p>
</main>
<footer>Juniper Massage Studio · 801-471-0877</footer>
</body>
</html>
"""

FOREIGN_MESSAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Ad</title></head><body>
<p>An advert from another site.</p>
<script>
  parent.postMessage({bookingWidget: {type: "height", height: 5}}, "*");
  parent.postMessage({bookingWidget: {type: "booked", service: "spoofed", start: "x", end: "y"}}, "*");
</script>
</body></html>"""


def host_page(widget: str, header: str = "", body: str = "") -> str:
    """Return an article page of the studio's site, recording what it receives, with ``header`` and ``body`` added."""
    return HOST_PAGE % {"recorder": RECORDER % {"widget": widget}, "header": header, "body": body}


def host_pages(widget: str) -> dict[str, str]:
    """Return the studio's pages embedding the widget: inline and as a popup."""
    script = f'<script src="{widget}/embed.js"'
    return {
        "/inline.html": host_page(
            widget, body=f'<div class="book" id="booking"></div>{script} data-target="#booking"></script>'
        ),
        "/popup.html": host_page(widget, header=f'{script} data-mode="popup"></script>'),
    }
