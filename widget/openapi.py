"""The OpenAPI 3.1 document of the JSON API (/api/...) and /healthz, served at /api/openapi.json.

The HTML pages, the admin and the loader script are not an API and are left
out.  tests/test_openapi.py keeps it true: the document must validate, list
every API route the app serves, and describe what those routes really answer.
"""

from __future__ import annotations

from .models import COMMENT_LIMITS
from .schemas import components
from .timezones import CLIENT_YEARS

DAY = {"type": "string", "format": "date", "examples": ["2026-12-01"]}
SERVICE_ID = {"type": "string", "examples": ["massage-60"]}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(description: str) -> dict:
    return _json(_ref("FieldErrors"), description)


def _query(name: str, schema: dict, description: str, required: bool = False) -> dict:
    return {"name": name, "in": "query", "required": required, "schema": schema, "description": description}


PATHS = {
    "/api/services": {
        "get": {
            "summary": "List the services clients can book.",
            "responses": {"200": _json(_ref("Services"), "The services, in the studio's order.")},
        }
    },
    "/api/slots": {
        "get": {
            "summary": "List free slots for a service on a range of days in a time zone.",
            "parameters": [
                _query("service", SERVICE_ID, "Service id.", required=True),
                _query("start", DAY, "First day, in zone tz (default: today)."),
                _query(
                    "end", DAY, "Last day, inclusive, in zone tz (default: start + 6 days; at most 61 after start)."
                ),
                _query("tz", {"type": "string"}, "IANA time zone of the days and the answer (default: the studio's)."),
            ],
            "responses": {
                "200": _json(_ref("Slots"), "Free slots, earliest first, with the offset of tz."),
                "422": _errors(f"A parameter is missing or wrong (days must be within {CLIENT_YEARS} years of today)."),
                "503": _json(_ref("Paused"), "Online booking is paused: the calendar cannot be read."),
            },
        }
    },
    "/api/bookings": {
        "post": {
            "summary": "Book an appointment.",
            "description": (
                "Send an `Idempotency-Key` header to make retrying safe: the same request with the same key "
                "returns the booking it made (200). Without the key, a request for a time already booked is a "
                "409, whoever it names. Booking attempts per client address are limited, and so are upcoming "
                "bookings per email and per phone (429)."
            ),
            "parameters": [
                {
                    "name": "Idempotency-Key",
                    "in": "header",
                    "required": False,
                    "schema": {"type": "string", "pattern": "^[!-~]{1,255}$"},
                    "description": "A value unique to this booking attempt (a UUID, say); resend it on retries.",
                }
            ],
            "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("BookingRequest")}}},
            "responses": {
                "201": _json(_ref("Booking"), "Booked."),
                "200": _json(_ref("Booking"), "The booking this Idempotency-Key made; nothing new was made."),
                "400": _errors("The body is not a JSON object, or it nests too deeply."),
                "409": _json(_ref("Conflict"), "The time is no longer free; here are the nearest free ones."),
                "413": _json(_ref("Error"), "The body is too large."),
                "415": _errors("The body is not JSON."),
                "422": _errors("A field (or the Idempotency-Key) is missing or wrong."),
                "429": _json(
                    _ref("Paused"),
                    "Too many booking attempts from this address (Retry-After says when to try again), or the "
                    "email or phone already holds the most upcoming bookings taken online; `phone` to call instead.",
                ),
                "503": _json(_ref("Paused"), "Online booking is paused: the calendar cannot be read."),
            },
        }
    },
    "/api/openapi.json": {
        "get": {
            "summary": "This document.",
            "responses": {"200": _json({"type": "object"}, "The OpenAPI document.")},
        }
    },
    "/healthz": {
        "get": {
            "summary": "Report whether the database and the calendar work.",
            "responses": {
                "200": _json(_ref("Health"), "All is well."),
                "503": _json(_ref("Health"), "Something does not work; the fields say what."),
            },
        }
    },
}


PAGE = _query(
    "page",
    {"type": "string", "format": "uri", "maxLength": COMMENT_LIMITS["page"]},
    "The article's address; its origin must be one of EMBED_ALLOWED_ORIGINS. Query and fragment are ignored.",
    required=True,
)
# An id that is not a whole number matches no route.
NOT_A_NUMBER = "The id in the path is not a whole number."
COMMENT_ID = {"name": "comment_id", "in": "path", "required": True, "schema": {"type": "integer"}}
EDIT_TOKEN = {
    "name": "X-Comment-Token",
    "in": "header",
    "required": True,
    "schema": {"type": "string"},
    "description": "The edit_token the POST returned; valid for 15 minutes.",
}
COMMENT_PATHS = {
    "/api/comments": {
        "get": {
            "summary": "List an article's published comments.",
            "parameters": [
                PAGE,
                _query("order", {"type": "string", "enum": ["oldest", "newest"]}, "Default: oldest first."),
            ],
            "responses": {
                "200": _json(_ref("Thread"), "The thread."),
                "422": _errors("The page is missing or not on an allowed site."),
            },
        },
        "post": {
            "summary": "Post a comment (published at once, or held for the therapist).",
            "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("CommentRequest")}}},
            "responses": {
                "201": _json(_ref("CommentPosted"), "Stored. status says whether it shows yet."),
                "400": _errors("The body is not a JSON object, or it nests too deeply."),
                "409": _errors("The same person already posted this text here."),
                "413": _json(_ref("Error"), "The body is too large."),
                "415": _errors("The body is not JSON."),
                "422": _errors("A field is missing or wrong."),
                "429": _json(_ref("Error"), "Too many comments from this address; Retry-After says when."),
            },
        },
    },
    "/api/comments/{comment_id}": {
        "patch": {
            "summary": "Change one's own comment, within 15 minutes of posting it.",
            "parameters": [COMMENT_ID, EDIT_TOKEN],
            "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("CommentEdit")}}},
            "responses": {
                "200": _json(_ref("CommentEdited"), "Changed (two links or more send it back for approval)."),
                "400": _errors("The body is not a JSON object, or it nests too deeply."),
                "401": _errors("No X-Comment-Token header."),
                "403": _errors("The token is not valid for this comment, or 15 minutes have passed."),
                "404": _json(_ref("Error"), NOT_A_NUMBER),
                "413": _json(_ref("Error"), "The body is too large."),
                "415": _errors("The body is not JSON."),
                "422": _errors("The text is missing or wrong."),
            },
        },
        "delete": {
            "summary": "Delete one's own comment, within 15 minutes (one with replies is blanked).",
            "parameters": [COMMENT_ID, EDIT_TOKEN],
            "responses": {
                "204": {"description": "Deleted."},
                "401": _errors("No X-Comment-Token header."),
                "403": _errors("The token is not valid for this comment, or 15 minutes have passed."),
                "404": _json(_ref("Error"), NOT_A_NUMBER),
            },
        },
    },
    "/api/comments/counts": {
        "get": {
            "summary": "Count the published comments of several articles in one call.",
            "parameters": [
                {
                    "name": "page",
                    "in": "query",
                    "required": True,
                    "schema": {"type": "array", "items": {"type": "string"}, "maxItems": 100},
                    "style": "form",
                    "explode": True,
                    "description": "An article address; repeat for each (at most 100).",
                }
            ],
            "responses": {
                "200": _json(_ref("Counts"), "The counts."),
                "422": _errors("A page is missing or not on an allowed site."),
            },
        }
    },
}


def document() -> dict:
    """Return the OpenAPI document."""
    paths = {**PATHS, **COMMENT_PATHS}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Booking widget",
            "version": "1.0.0",
            "description": "Booking and article comments for a small therapy practice.",
        },
        "paths": paths,
        "components": {"schemas": components()},
    }
