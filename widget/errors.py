"""One place that answers errors: JSON to API clients, HTML to browsers."""

import logging

from flask import jsonify, make_response, render_template, request
from werkzeug.exceptions import HTTPException, InternalServerError

log = logging.getLogger(__name__)

# Our bodies are flat objects; deeper nesting is refused, and nesting deep enough to exhaust the parser too.
MAX_JSON_DEPTH = 8


class ApiError(Exception):
    """The JSON API refuses a request: a 4xx ``status`` and ``errors``, each bad field with what is wrong.

    Answered ``{"errors": {field: message}, **extra}``; ``extra`` carries what helps the client on
    (the nearest free times, the phone number to call).
    """

    def __init__(self, status: int, errors: dict[str, str], **extra):
        super().__init__(errors)
        self.status, self.errors, self.extra = status, errors, extra

    def response(self):
        """Return the answer to send."""
        return jsonify({"errors": self.errors, **self.extra}), self.status


def wants_json() -> bool:
    """Say whether the client is an API client rather than a browser."""
    if request.path.startswith("/api/") or request.path == "/healthz":
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]


def _lone_surrogate(text: str) -> str | None:
    """Return the first lone UTF-16 surrogate in ``text`` (JSON can escape one, "\\ud800"), or None."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        return text[error.start]
    return None


def _check_parts(body: dict) -> None:
    """Raise ApiError if the body nests too deeply or a string in it is not text."""
    nested = f"nests deeper than {MAX_JSON_DEPTH} levels"
    # Walked with a stack, not recursion: the point is to survive hostile depth.
    stack = [(body, 1, None)]
    while stack:
        value, depth, field = stack.pop()
        if isinstance(value, (dict, list)) and depth > MAX_JSON_DEPTH:
            raise ApiError(400, {"body": nested})
        if isinstance(value, dict):
            for key, item in value.items():
                if _lone_surrogate(key) is not None:
                    raise ApiError(422, {"body": "has a field name that is not text (a lone surrogate)"})
                stack.append((item, depth + 1, field or key))
        elif isinstance(value, list):
            stack.extend((item, depth + 1, field) for item in value)
        elif isinstance(value, str) and (found := _lone_surrogate(value)) is not None:
            raise ApiError(422, {field: f"is not text: \\u{ord(found):04x} is half of a UTF-16 surrogate pair"})


def json_body() -> dict:
    """Return the request's JSON object, or raise ApiError naming the problem."""
    if not request.is_json:
        raise ApiError(415, {"body": "must be JSON (Content-Type: application/json)"})
    try:
        body = request.get_json(silent=True)
    except RecursionError:
        raise ApiError(400, {"body": f"nests deeper than {MAX_JSON_DEPTH} levels"}) from None
    if body is None:
        raise ApiError(400, {"body": "is not valid JSON"})
    if not isinstance(body, dict):
        raise ApiError(400, {"body": "must be a JSON object"})
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
    app.register_error_handler(ApiError, ApiError.response)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)
