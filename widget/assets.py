"""Static files and the loader: compressed on the wire, cached by browsers for as long as they cannot change.

A page names each static file with a hash of its content (``?v=<12 hex>``), so a
browser may keep it for a year and still never run an old script after a
release: a changed file gets a new address.  A request without the current hash
(an old page, a hand-typed address) gets five minutes.  ``/embed.js`` keeps one
address forever (host sites include it by name), so it carries a short lifetime
and an ETag: a browser revalidates it cheaply and gets ``304 Not Modified``.

Responses are compressed (Brotli or gzip, as the browser asks) by Flask-Compress,
except the pages that carry a client's booking link or the therapist's data:
compressing a secret beside text an attacker can influence leaks the secret
through the response size (BREACH), and those pages are small and few.
"""

from __future__ import annotations

import hashlib
import os

from flask import current_app, request, url_for
from flask_compress import Compress

YEAR = 365 * 24 * 3600
SHORT = 300  # seconds: unhashed static addresses and the loader
# Blueprints whose pages are never compressed (see above); the same set is never cached (pages.PRIVATE).
UNCOMPRESSED = ("manage", "admin", "oauth")
MIMETYPES = [
    "text/html",
    "text/css",
    "text/plain",
    "text/javascript",
    "text/calendar",
    "application/javascript",
    "application/json",
    "application/atom+xml",
    "image/svg+xml",
]

compress = Compress()


def content_hash(filename: str) -> str:
    """Return the first 12 hex digits of the SHA-256 of a static file, computed once per process."""
    hashes = current_app.extensions["static_hashes"]
    found = hashes.get(filename)
    if found is None or current_app.debug:
        path = os.path.join(current_app.static_folder, filename)
        with open(path, "rb") as handle:
            found = hashlib.sha256(handle.read()).hexdigest()[:12]
        hashes[filename] = found
    return found


def static_url(filename: str) -> str:
    """Return the address of a static file with its content hash, for a year-long browser cache."""
    return url_for("static", filename=filename, v=content_hash(filename))


def _cache_lifetime(response):
    """Give static files a year when asked for by their current hash, five minutes otherwise."""
    if request.endpoint != "static" or response.status_code not in (200, 304):
        return response
    filename = (request.view_args or {}).get("filename", "")
    try:
        current = content_hash(filename)
    except OSError:
        return response
    if request.args.get("v") == current:
        response.cache_control.max_age = YEAR
        response.cache_control.public = True
        response.cache_control.immutable = True
        response.cache_control.no_cache = None
    else:
        response.cache_control.max_age = SHORT
        response.cache_control.public = True
        response.cache_control.no_cache = None
    return response


def _compress(response):
    """Compress the answer unless it belongs to a private page."""
    if request.blueprint in UNCOMPRESSED:
        return response
    return compress.after_request(response)


def init_app(app) -> None:
    """Set up compression and the static files' cache headers."""
    app.config.setdefault("COMPRESS_REGISTER", False)
    app.config.setdefault("COMPRESS_MIMETYPES", MIMETYPES)
    app.config.setdefault("COMPRESS_ALGORITHM", ["br", "gzip"])
    app.config.setdefault("COMPRESS_ALGORITHM_STREAMING", ["br", "gzip"])
    app.config.setdefault("COMPRESS_STREAMING_ENDPOINT_CONDITIONAL", ["static", "pages.embed_js"])
    app.config.setdefault("COMPRESS_BR_LEVEL", 5)
    compress.init_app(app)
    app.extensions["static_hashes"] = {}
    app.add_template_global(static_url)
    # after_request functions run last-registered first: registering compression first makes it run
    # after every other header (cache lifetime, security headers) is set.
    app.after_request(_compress)
    app.after_request(_cache_lifetime)
