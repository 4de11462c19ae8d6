"""Measure what the first render of the embedded booking widget costs a visitor of the studio's site.

Serves the app on http://127.0.0.1:<A> (a temporary SQLite database, migrations applied) and a host
page on http://localhost:<B> that includes embed.js in inline mode, opens it in Chromium (Playwright,
/usr/bin/chromium, third-party cookies blocked) and records every request until the widget has
rendered and the network is idle: how many requests the widget made (embed.js, the iframe document
and its sub-resources), the bytes transferred, what gzip would make of them if the server does not
compress, and whether any request left 127.0.0.1/localhost.

Goals: first render at most 10 KB on the wire (the server compresses) and at most 4 requests, no
third-party request, embed.js at most 3 KB gzipped.  KB here is 1024 bytes.  Beside ours, the peers'
published figures: Cal.com's embed loader alone is 17,228 B gzipped before its booking app loads;
Isso's embed script is 20,452 B gzipped.  The figures are also written to bench/results/page_weight.json
for bench/report.py.

Run from the repository root:

    .venv/bin/python bench/page_weight.py
"""

from __future__ import annotations

import argparse
import gzip
import json
import logging
import sys
import tempfile
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

# Run as a script, Python puts bench/ on the path, not the repository root.
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flask_migrate import upgrade  # noqa: E402
from playwright.sync_api import Request, expect, sync_playwright  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

from widget import create_app  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
]
LOOPBACK = {"127.0.0.1", "localhost"}
KB = 1024
GOAL_BYTES, GOAL_REQUESTS, GOAL_EMBED_GZIP = 10 * KB, 4, 3 * KB
PEERS = (("Cal.com's embed loader (gzipped)", 17_228), ("Isso's embed script (gzipped)", 20_452))
RESULTS = ROOT / "bench" / "results" / "page_weight.json"

HOST_PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Juniper Massage Studio</title></head>
<body>
<h1>Why your shoulders tighten at the desk</h1>
<p>Long hours at a keyboard pull the shoulders forward.</p>
<div id="booking"></div>
<script src="%(widget)s/embed.js" data-target="#booking"%(attributes)s></script>
</body>
</html>
"""


def gzip9(data: bytes) -> int:
    """Return the size of ``data`` compressed like ``gzip -9n`` (no file name or time in the header)."""
    return len(gzip.compress(data, compresslevel=9, mtime=0))


@dataclass
class Fetched:
    url: str
    status: int
    kind: str
    encoding: str
    headers: int  # response header bytes on the wire
    body: int  # response body bytes on the wire (compressed if the server compressed)
    raw: int  # body bytes once decoded
    gzipped: int  # the decoded body through gzip -9

    @property
    def transferred(self) -> int:
        return self.headers + self.body

    @property
    def if_gzipped(self) -> int:
        """What the response would weigh if the server gzipped it (when it did not, already)."""
        return self.headers + (self.body if self.encoding else self.gzipped)


class _HostHandler(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - the name http.server calls
        if urlsplit(self.path).path != "/":
            self.send_response(204)
            self.end_headers()
            return
        body = self.server.page.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):  # noqa: A002 - the signature http.server calls
        pass


def _start(server) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    return thread


def _measure(browser, widget: str, host_server, host: str, attributes: str, zone: str):
    """Open the host page and return (widget's requests, all request URLs) up to the widget's first render."""
    host_server.page = HOST_PAGE % {"widget": widget, "attributes": attributes}
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US", timezone_id=zone)
    page = context.new_page()
    session = context.new_cdp_session(page)
    session.send("Network.enable")
    session.send("Network.setCookieControls", {"enableThirdPartyCookieRestriction": True})
    every: list[str] = []
    finished: list[Request] = []
    context.on("request", lambda request: every.append(request.url))
    context.on("requestfinished", lambda request: finished.append(request))
    page.goto(f"{host}/")
    frame = page.frame_locator("iframe.bw-frame")
    expect(frame.locator("h1")).to_be_visible(timeout=10_000)
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(500)  # widget.js may fetch the step again in the visitor's zone
    page.wait_for_load_state("networkidle")
    fetched = []
    for request in list(finished):
        if not request.url.startswith(widget):
            continue
        response = request.response()
        sizes = request.sizes()
        body = response.body() if response else b""
        fetched.append(
            Fetched(
                url=request.url.removeprefix(widget),
                status=response.status if response else 0,
                kind=request.resource_type,
                encoding=(response.headers.get("content-encoding", "") if response else ""),
                headers=sizes["responseHeadersSize"],
                body=sizes["responseBodySize"],
                raw=len(body),
                gzipped=gzip9(body),
            )
        )
    context.close()
    return fetched, every


def _table(rows: list[Fetched]) -> None:
    print(f"  {'request':<58} {'status':>6} {'enc':>5} {'wire':>7} {'body':>7} {'gzip-9':>7} {'if gz':>7}")
    for row in rows:
        url = row.url if len(row.url) <= 58 else row.url[:55] + "..."
        print(
            f"  {url:<58} {row.status:>6} {row.encoding or '-':>5} {row.transferred:>7} {row.raw:>7}"
            f" {row.gzipped:>7} {row.if_gzipped:>7}"
        )
    wire, raw = sum(r.transferred for r in rows), sum(r.raw for r in rows)
    gz, if_gz = sum(r.gzipped for r in rows), sum(r.if_gzipped for r in rows)
    print(f"  {'total: ' + str(len(rows)) + ' requests':<58} {'':>6} {'':>5} {wire:>7} {raw:>7} {gz:>7} {if_gz:>7}")


def _verdict(ok: bool) -> str:
    return "ok" if ok else "OVER GOAL"


def main() -> int:
    """Serve, measure, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_args()
    logging.disable(logging.INFO)  # alembic's and werkzeug's request lines

    with tempfile.TemporaryDirectory() as tmp:
        host_server = ThreadingHTTPServer(("127.0.0.1", 0), _HostHandler)
        host_server.page = ""
        host = f"http://localhost:{host_server.server_port}"
        app = create_app(
            {
                "SECRET_KEY": "page-weight-bench",
                "DATABASE_URL": f"sqlite:///{Path(tmp) / 'widget.db'}",
                "BUSINESS_CONFIG": str(ROOT / "business.example.toml"),
                "EMBED_ALLOWED_ORIGINS": host,
                "MAIL_SERVER": "127.0.0.1",
                "MAIL_PORT": "1",
            }
        )
        app.instance_path = tmp
        with app.app_context():
            upgrade()
        app_server = make_server("127.0.0.1", 0, app, threaded=True)
        widget = f"http://127.0.0.1:{app_server.server_port}"
        app.config["PUBLIC_URL"] = widget
        threads = [(server, _start(server)) for server in (host_server, app_server)]

        embed = (ROOT / "embed" / "embed.js").read_bytes()
        scenarios = [
            ("inline, first step (choose a service)", "", "America/Denver"),
            (
                'inline, data-service="massage-60" (days), visitor in studio time',
                ' data-service="massage-60"',
                "America/Denver",
            ),
            (
                'inline, data-service="massage-60" (days), visitor in New York',
                ' data-service="massage-60"',
                "America/New_York",
            ),
        ]
        results = []
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
                for label, attributes, zone in scenarios:
                    results.append((label, *_measure(browser, widget, host_server, host, attributes, zone)))
                browser.close()
        finally:
            for server, thread in threads:
                server.shutdown()
                server.server_close()
                thread.join(timeout=5)

    print(f"Page weight of the embedded widget's first render (Chromium, host {host}, widget {widget})\n")
    embed_fetched = None
    first_ok = True
    first = {"requests": 0, "wire": 0}
    for index, (label, rows, every) in enumerate(results):
        print(f"{label}:")
        _table(rows)
        third_party = sorted({url for url in every if urlsplit(url).hostname not in LOOPBACK})
        wire, if_gz = sum(r.transferred for r in rows), sum(r.if_gzipped for r in rows)
        compressed = any(r.encoding for r in rows)
        print(
            f"  requests {len(rows)} (goal <= {GOAL_REQUESTS}: {_verdict(len(rows) <= GOAL_REQUESTS)}); "
            f"transferred {wire / KB:.1f} KB{' (compressed by the server)' if compressed else ' (not compressed)'} "
            f"(goal <= {GOAL_BYTES // KB} KB: {_verdict(wire <= GOAL_BYTES)}), {if_gz / KB:.1f} KB had every "
            f"answer been gzipped; third-party requests: {len(third_party) or 'none'}"
        )
        for url in third_party:
            print(f"    third party: {url}")
        print()
        if index == 0:
            first_ok = len(rows) <= GOAL_REQUESTS and wire <= GOAL_BYTES and not third_party
            first = {"requests": len(rows), "wire": wire}
        embed_fetched = embed_fetched or next((r for r in rows if r.url.startswith("/embed.js")), None)

    embed_gzip = gzip9(embed)
    print("embed.js:")
    verdict = _verdict(embed_gzip <= GOAL_EMBED_GZIP)
    print(f"  file {len(embed)} B raw, {embed_gzip} B gzip -9 (goal <= {GOAL_EMBED_GZIP} B: {verdict})")
    if embed_fetched is not None:
        how = f"Content-Encoding {embed_fetched.encoding}" if embed_fetched.encoding else "not compressed by the server"
        print(f"  as served: {embed_fetched.body} B body + {embed_fetched.headers} B headers, {how}")
    print("\nPeers' published figures, for comparison with our whole first render above:")
    for name, size in PEERS:
        print(f"  {name}: {size:,} B")
    _write_results(first, embed_gzip)
    return 0 if first_ok and embed_gzip <= GOAL_EMBED_GZIP else 1


def _write_results(first: dict, embed_gzip: int) -> None:
    """Write the figures as rows for bench/report.py."""
    rows = [
        {
            "measure": "first render, bytes on the wire (compressed)",
            "figure": f"{first['wire']:,} B in {first['requests']} requests",
            "goal": f"<= {GOAL_BYTES:,} B, <= {GOAL_REQUESTS} requests",
            "ok": first["wire"] <= GOAL_BYTES and first["requests"] <= GOAL_REQUESTS,
        },
        {
            "measure": "embed.js, gzip -9",
            "figure": f"{embed_gzip:,} B",
            "goal": f"<= {GOAL_EMBED_GZIP:,} B",
            "ok": embed_gzip <= GOAL_EMBED_GZIP,
        },
    ]
    rows += [
        {"measure": f"peer: {name}", "figure": f"{size:,} B", "goal": "published figure", "ok": True}
        for name, size in PEERS
    ]
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    sys.exit(main())
