"""The OpenAPI 3.1 document of the JSON API (/api/...) and /healthz, served at /api/openapi.json.

The HTML pages, the admin and the loader script are not an API and are left
out.  tests/test_openapi.py keeps it true: the document must validate, list
every API route the app serves, and describe what those routes really answer.
"""

from __future__ import annotations

from .models import BOOKING_LIMITS, COMMENT_BODY_MAX, COMMENT_BODY_MIN, COMMENT_LIMITS
from .timezones import CLIENT_YEARS

RFC3339 = {"type": "string", "format": "date-time", "examples": ["2026-12-01T09:00:00-07:00"]}
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


SCHEMAS = {
    "Service": {
        "type": "object",
        "required": ["id", "name", "duration_minutes", "price", "description"],
        "additionalProperties": False,
        "properties": {
            "id": {"type": "string", "pattern": "^[a-z0-9][a-z0-9-]*$"},
            "name": {"type": "string"},
            "duration_minutes": {"type": "integer", "minimum": 1},
            "price": {"type": "string", "pattern": r"^\d+\.\d{2}$", "description": "In the studio's currency."},
            "description": {"type": "string"},
        },
    },
    "Slot": {
        "type": "object",
        "required": ["start", "end"],
        "additionalProperties": False,
        "properties": {"start": RFC3339, "end": RFC3339},
    },
    "BookingRequest": {
        "type": "object",
        "required": ["service", "start", "name", "email", "phone"],
        "additionalProperties": False,
        "properties": {
            "service": SERVICE_ID,
            "start": {**RFC3339, "description": "One of the slots /api/slots offers."},
            "name": {"type": "string", "maxLength": BOOKING_LIMITS["name"]},
            "email": {"type": "string", "format": "email", "maxLength": BOOKING_LIMITS["email"]},
            "phone": {"type": "string", "maxLength": BOOKING_LIMITS["phone"]},
            "notes": {"type": "string", "maxLength": BOOKING_LIMITS["notes"]},
            "timezone": {"type": "string", "description": "IANA zone the client sees times in."},
        },
    },
    "Booking": {
        "type": "object",
        "required": ["id", "status", "service", "start", "end", "timezone", "manage_url"],
        "additionalProperties": False,
        "properties": {
            "id": {"type": "string"},
            "status": {"type": "string", "enum": ["confirmed", "cancelled"]},
            "service": {"type": "string"},
            "start": RFC3339,
            "end": RFC3339,
            "timezone": {"type": "string"},
            "manage_url": {"type": "string", "format": "uri"},
        },
    },
    "FieldErrors": {
        "type": "object",
        "required": ["errors"],
        "properties": {
            "errors": {
                "type": "object",
                "description": "Each bad field (or `body`) with what is wrong with it.",
                "additionalProperties": {"type": "string"},
            },
        },
    },
    "Conflict": {
        "type": "object",
        "required": ["errors", "alternatives"],
        "additionalProperties": False,
        "properties": {
            "errors": {"type": "object", "additionalProperties": {"type": "string"}},
            "alternatives": {"type": "array", "items": _ref("Slot"), "description": "The nearest free slots."},
        },
    },
    "Error": {
        "type": "object",
        "required": ["status", "error", "message"],
        "properties": {"status": {"type": "integer"}, "error": {"type": "string"}, "message": {"type": "string"}},
    },
    "Paused": {
        "type": "object",
        "required": ["errors", "phone"],
        "properties": {
            "errors": {"type": "object", "additionalProperties": {"type": "string"}},
            "phone": {"type": "string", "description": "The studio's phone, to book by instead."},
        },
    },
    "Health": {
        "type": "object",
        "required": ["status", "database", "calendar"],
        "additionalProperties": False,
        "properties": {
            "status": {"type": "string", "enum": ["ok", "degraded"]},
            "database": {"type": "string"},
            "calendar": {"type": "string"},
            "ratelimits": {
                "type": "string",
                "enum": ["shared", "per-process"],
                "description": "shared: counted in Redis for every worker; per-process: each worker counts alone.",
            },
        },
    },
}

PATHS = {
    "/api/services": {
        "get": {
            "summary": "List the services clients can book.",
            "responses": {
                "200": _json(
                    {
                        "type": "object",
                        "required": ["services"],
                        "additionalProperties": False,
                        "properties": {"services": {"type": "array", "items": _ref("Service")}},
                    },
                    "The services, in the studio's order.",
                )
            },
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
                "200": _json(
                    {
                        "type": "object",
                        "required": ["service", "timezone", "slots"],
                        "additionalProperties": False,
                        "properties": {
                            "service": {"type": "string"},
                            "timezone": {"type": "string"},
                            "slots": {"type": "array", "items": _ref("Slot")},
                        },
                    },
                    "Free slots, earliest first, with the offset of tz.",
                ),
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
COMMENT_SCHEMAS = {
    "Comment": {
        "type": "object",
        "required": ["id", "parent_id", "author", "website", "body_html", "created_at", "edited_at", "deleted"],
        "additionalProperties": False,
        "description": "A published comment. Never carries an email address or anything derived from one.",
        "properties": {
            "id": {"type": "integer"},
            "parent_id": {"type": ["integer", "null"], "description": "The comment it is shown under."},
            "author": {"type": ["string", "null"], "description": "null when deleted."},
            "website": {"type": ["string", "null"], "format": "uri"},
            "body_html": {"type": "string", "description": "Sanitised HTML: p, br, and links (rel=nofollow ugc)."},
            "created_at": RFC3339,
            "edited_at": {"type": ["string", "null"], "format": "date-time"},
            "deleted": {"type": "boolean", "description": "Deleted but kept (blank) because it has replies."},
        },
    },
    "Thread": {
        "type": "object",
        "required": ["page", "count", "comments"],
        "additionalProperties": False,
        "properties": {
            "page": {"type": "string", "format": "uri", "description": "The normalised address: the thread's key."},
            "count": {"type": "integer", "description": "Published comments, not counting deleted ones."},
            "comments": {"type": "array", "items": _ref("Comment")},
        },
    },
    "CommentRequest": {
        "type": "object",
        "required": ["page", "name", "email", "body"],
        "additionalProperties": False,
        "properties": {
            "page": {"type": "string", "format": "uri", "maxLength": COMMENT_LIMITS["page"]},
            "name": {"type": "string", "maxLength": COMMENT_LIMITS["name"]},
            "email": {
                "type": "string",
                "format": "email",
                "maxLength": COMMENT_LIMITS["email"],
                "description": "Never published.",
            },
            "website": {
                "type": ["string", "null"],
                "maxLength": COMMENT_LIMITS["website"],
                "description": "http(s) only.",
            },
            "body": {
                "type": "string",
                "minLength": COMMENT_BODY_MIN,
                "maxLength": COMMENT_BODY_MAX,
                "description": "Plain text.",
            },
            "parent_id": {"type": ["integer", "null"], "description": "The comment answered."},
            "notify": {"type": "boolean", "description": "Email me when someone replies (after approval)."},
            "form_token": {
                "type": "string",
                "description": "The token of the comment form (from GET /comments); without one a post is spam.",
            },
            "homepage": {"type": "string", "description": "The form's trap for robots: leave it empty."},
        },
    },
    "CommentPosted": {
        "type": "object",
        "required": ["id", "status", "edit_token", "editable_until", "editable_for", "body", "body_html"],
        "additionalProperties": False,
        "properties": {
            "id": {"type": "integer"},
            "status": {"type": "string", "enum": ["published", "pending"]},
            "edit_token": {"type": "string", "description": "Send as X-Comment-Token to edit or delete."},
            "editable_until": RFC3339,
            "editable_for": {"type": "integer", "description": "Seconds left to edit (immune to clock skew)."},
            "body": {"type": "string"},
            "body_html": {"type": "string"},
        },
    },
    "CommentEdited": {
        "type": "object",
        "required": ["id", "status", "body", "body_html"],
        "additionalProperties": False,
        "properties": {
            "id": {"type": "integer"},
            "status": {"type": "string", "enum": ["published", "pending"]},
            "body": {"type": "string"},
            "body_html": {"type": "string"},
        },
    },
    "Counts": {
        "type": "object",
        "description": "Each page address as given, with its number of published comments.",
        "additionalProperties": {"type": "integer"},
    },
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
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "required": ["body"],
                            "additionalProperties": False,
                            "properties": {
                                "body": {"type": "string", "minLength": COMMENT_BODY_MIN, "maxLength": COMMENT_BODY_MAX}
                            },
                        }
                    }
                },
            },
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
        "components": {"schemas": {**SCHEMAS, **COMMENT_SCHEMAS}},
    }
