"""Pages around the widget: the demo article, the embed loader, health."""

from __future__ import annotations

import os
import re

from flask import Blueprint, current_app, has_request_context, jsonify, render_template, request, send_from_directory
from sqlalchemy import text

from . import calendars
from .booking import business
from .extensions import db
from .schemas import Health, answer
from .settings import origin_of, public_url
from .timezones import clock, long_date, zone_abbreviation, zone_named

bp = Blueprint("pages", __name__)

EMBED_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "embed")
# Pages that show what the public typed (comments, names) run only our own scripts: a second
# line of defence should anything ever slip through the escaping and the sanitiser.  Styles may
# be inline (the accent colour is a style attribute).  The admin shows every comment, spam
# included, and runs only static/admin.js under the same policy.
LOCKED_DOWN = ("book", "manage", "comment_pages")
ADMIN = ("admin", "oauth")
PAGE_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'"
)
# Pages that carry a client's booking link or the therapist's data, and the answers to their forms:
# no browser or shared cache may keep a copy for the next person at the same computer or proxy.
PRIVATE = ("manage", "admin", "oauth")
PRIVATE_PAGES = ("book.submit", "book.done")
# Pages a host site may frame; every other page refuses to be framed at all.
FRAMEABLE = ("book.widget", "book.submit", "book.done", "comment_pages.thread", "comment_pages.submit")


@bp.get("/")
def demo():
    """Show a sample article page of the studio's site with the widget embedded."""
    return render_template("pages/demo.html")


@bp.get("/embed.js")
def embed_js():
    """Serve the loader script host sites include."""
    response = send_from_directory(EMBED_DIR, "embed.js", mimetype="text/javascript", max_age=300)
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@bp.get("/healthz")
def healthz():
    """Report whether the database and the calendar work."""
    try:
        db.session.execute(text("SELECT 1"))
        database = "ok"
    except Exception:
        db.session.rollback()
        database = "unavailable"
    try:
        calendar = calendars.current().status()
    except Exception:
        calendar = "unavailable"
    healthy = database == "ok" and calendar == "ok"
    body = answer(
        Health,
        status="ok" if healthy else "degraded",
        database=database,
        calendar=calendar,
        # Without Redis each worker process counts rate limits on its own.
        ratelimits="shared" if current_app.config.get("REDIS_URL") else "per-process",
    )
    return jsonify(body), 200 if healthy else 503


def _security_headers(response):
    """Add headers every response carries, and the framing policy."""
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    if request.endpoint in FRAMEABLE:
        ancestors = " ".join(["'self'", *current_app.config["EMBED_ALLOWED_ORIGINS"]])
    elif request.endpoint in ("pages.demo",):
        ancestors = "'self'"
    else:
        ancestors = "'none'"
        response.headers.setdefault("X-Frame-Options", "DENY")
    policy = f"frame-ancestors {ancestors}"
    if (request.blueprint or "") in LOCKED_DOWN:
        policy = f"{PAGE_POLICY}; {policy}"
    elif request.blueprint in ADMIN:
        # "Connect Google Calendar" is a form whose answer redirects to Google's consent page.
        google = origin_of(current_app.config["GOOGLE_AUTH_URI"])
        admin_policy = PAGE_POLICY.replace("form-action 'self'", f"form-action 'self' {google}")
        policy = f"{admin_policy}; {policy}"
    response.headers.setdefault("Content-Security-Policy", policy)
    if request.blueprint in PRIVATE or request.endpoint in PRIVATE_PAGES:
        response.headers["Cache-Control"] = "no-store"
    _share_with_allowed_sites(response)
    return response


def _share_with_allowed_sites(response) -> None:
    """Let the studio's own pages read public API answers from their scripts (comment counts on a blog index).

    Only reads, and only for EMBED_ALLOWED_ORIGINS: the origin is echoed, never "*", and no
    credentials are involved (no API answer depends on a cookie).
    """
    if request.method not in ("GET", "HEAD") or not request.path.startswith("/api/"):
        return
    response.vary.add("Origin")
    origin = request.headers.get("Origin", "")
    if origin and origin in current_app.config["EMBED_ALLOWED_ORIGINS"]:
        response.headers["Access-Control-Allow-Origin"] = origin


ACCENT = re.compile(r"#[0-9a-fA-F]{3}([0-9a-fA-F]{3})?")


def _embedding() -> dict:
    """Return what a framed page needs to know about its host: the origin to talk to, the accent colour.

    The host's origin arrives in the ``embed`` parameter (the loader sets it);
    it is used only when it is an allowed origin, so a page never posts its
    messages to a site that may not frame it.
    """
    if not has_request_context():
        return {"embed_origin": "", "accent": ""}
    host = request.args.get("embed", "")
    allowed = current_app.config["EMBED_ALLOWED_ORIGINS"]
    accent = request.args.get("accent", "")
    return {
        "embed_origin": host if host in allowed or host == origin_of(current_app.config["PUBLIC_URL"]) else "",
        "accent": accent if ACCENT.fullmatch(accent) else "",
    }


def init_app(app) -> None:
    """Register template helpers and the response headers."""
    app.after_request(_security_headers)
    app.add_template_filter(clock)
    app.add_template_filter(long_date)
    app.add_template_filter(zone_abbreviation)
    app.add_template_filter(zone_named, "tzinfo")
    app.add_template_global(public_url)
    app.context_processor(lambda: {"studio": business.current().studio, "services": business.current().services})
    app.context_processor(_embedding)
