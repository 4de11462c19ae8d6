"""One place that answers errors: JSON to API clients, HTML to browsers."""

import logging

from flask import jsonify, make_response, render_template, request
from werkzeug.exceptions import HTTPException, InternalServerError

log = logging.getLogger(__name__)

# Our bodies are flat objects; deeper nesting is refused, and nesting deep enough to exhaust the parser too.
MAX_JSON_DEPTH = 8


class BadRequest(Exception):
    """Input the API refuses; ``errors`` names each bad field."""

    def __init__(self, errors: dict[str, str], status: int = 422):
        super().__init__(errors)
        self.errors, self.status = errors, status


def wants_json() -> bool:
    """Say whether the client is an API client rather than a browser."""
    if request.path.startswith("/api/") or request.path == "/healthz":
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]


def field_errors(errors: dict, status: int = 422, **extra):
    """Answer ``{"errors": {field: message}}`` with a 4xx status."""
    return jsonify({"errors": errors, **extra}), status


def _lone_surrogate(text: str) -> str | None:
    """Return the first lone UTF-16 surrogate in ``text`` (JSON can escape one, "\\ud800"), or None."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        return text[error.start]
    return None


def _check_parts(body: dict) -> None:
    """Raise BadRequest if the body nests too deeply or a string in it is not text."""
    nested = f"nests deeper than {MAX_JSON_DEPTH} levels"
    # Walked with a stack, not recursion: the point is to survive hostile depth.
    stack = [(body, 1, None)]
    while stack:
        value, depth, field = stack.pop()
        if isinstance(value, (dict, list)) and depth > MAX_JSON_DEPTH:
            raise BadRequest({"body": nested}, 400)
        if isinstance(value, dict):
            for key, item in value.items():
                if _lone_surrogate(key) is not None:
                    raise BadRequest({"body": "has a field name that is not text (a lone surrogate)"})
                stack.append((item, depth + 1, field or key))
        elif isinstance(value, list):
            stack.extend((item, depth + 1, field) for item in value)
        elif isinstance(value, str) and (found := _lone_surrogate(value)) is not None:
            raise BadRequest({field: f"is not text: \\u{ord(found):04x} is half of a UTF-16 surrogate pair"})


def json_body() -> dict:
    """Return the request's JSON object, or raise BadRequest naming the problem."""
    if not request.is_json:
        raise BadRequest({"body": "must be JSON (Content-Type: application/json)"}, 415)
    try:
        body = request.get_json(silent=True)
    except RecursionError:
        raise BadRequest({"body": f"nests deeper than {MAX_JSON_DEPTH} levels"}, 400) from None
    if body is None:
        raise BadRequest({"body": "is not valid JSON"}, 400)
    if not isinstance(body, dict):
        raise BadRequest({"body": "must be a JSON object"}, 400)
    _check_parts(body)
    return body


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


def _unexpected(error: Exception):
    if isinstance(error, HTTPException):
        return _http_error(error)
    log.exception("unhandled error on %s %s", request.method, request.path)
    return _http_error(InternalServerError())


def init_app(app) -> None:
    """Register the handlers (features add their own, like booking's "book by phone")."""
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)
