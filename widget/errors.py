"""One place that answers errors: JSON to API clients, HTML to browsers."""

import logging

from flask import jsonify, make_response, render_template, request
from werkzeug.exceptions import HTTPException, InternalServerError

log = logging.getLogger(__name__)


def wants_json() -> bool:
    """Say whether the client is an API client rather than a browser."""
    if request.path.startswith("/api/") or request.path == "/healthz":
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]


def field_errors(errors: dict, status: int = 422, **extra):
    """Answer ``{"errors": {field: message}}`` with a 4xx status."""
    return jsonify({"errors": errors, **extra}), status


def _http_error(error: HTTPException):
    if wants_json():
        response = jsonify({"status": error.code, "error": error.name, "message": error.description})
    else:
        response = make_response(render_template("error.html", error=error))
    response.status_code = error.code
    # Werkzeug's own answer carries these, and clients rely on them: when to retry, which methods work.
    standard = error.get_response().headers
    for name in ("Retry-After", "Allow"):
        if standard.get(name):
            response.headers[name] = standard[name]
    return response


def _paused(error: Exception):
    """Online booking is paused while the calendar cannot be read: say so, and give the phone."""
    from .booking import rules as business

    phone = business.current().studio.phone
    message = f"Online booking is paused for a moment. Please call {phone} to book."
    if wants_json():
        return jsonify({"errors": {"calendar": message}, "phone": phone}), 503
    return render_template("book/paused.html", message=message), 503


def _unexpected(error: Exception):
    if isinstance(error, HTTPException):
        return _http_error(error)
    log.exception("unhandled error on %s %s", request.method, request.path)
    return _http_error(InternalServerError())


def init_app(app) -> None:
    """Register the handlers."""
    from .calendars import CalendarUnavailable

    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(CalendarUnavailable, _paused)
    app.register_error_handler(Exception, _unexpected)
