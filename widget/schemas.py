"""The JSON API's request bodies and answers, each declared once.

The API takes its allow-lists and required fields from the request models and
builds its answers with the answer models; the OpenAPI document is generated
from both (``components``).  So the document and what the API does cannot
drift apart.  The limits come from models.py, where the columns read them too.
Which values make sense (a real time zone, a free slot, a deliverable email
address) is the domain's to check, not these models'.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel
from pydantic.json_schema import GenerateJsonSchema, models_json_schema

from .models import BOOKING_LIMITS, COMMENT_BODY_MAX, COMMENT_BODY_MIN, COMMENT_LIMITS

REF_TEMPLATE = "#/components/schemas/{model}"

Instant = Annotated[str, Field(json_schema_extra={"format": "date-time"}, examples=["2026-12-01T09:00:00-07:00"])]
Address = Annotated[str, Field(json_schema_extra={"format": "uri"})]
Email = Annotated[str, Field(json_schema_extra={"format": "email"})]
Status = Literal["published", "pending"]


class Closed(BaseModel):
    """A JSON object with exactly the declared fields."""

    model_config = ConfigDict(extra="forbid")


class Open(BaseModel):
    """A JSON object that may grow fields (error answers)."""


# -- Requests -----------------------------------------------------------------------------------------------------


class BookingRequest(Closed):
    """The body of POST /api/bookings."""

    service: str = Field(examples=["massage-60"])
    start: Instant = Field(description="One of the slots /api/slots offers.")
    name: str = Field(max_length=BOOKING_LIMITS["name"])
    email: Email = Field(max_length=BOOKING_LIMITS["email"])
    phone: str = Field(max_length=BOOKING_LIMITS["phone"])
    notes: str | None = Field(None, max_length=BOOKING_LIMITS["notes"])
    timezone: str | None = Field(None, description="IANA zone the client sees times in.")
    answers: dict[str, str | bool] | None = Field(
        None,
        description=(
            "Answers to the service's intake questions, keyed by question id: text for short-text, long-text and "
            "one-of questions (one of its choices), true or false for yes-no ones. An unknown id, a wrong type or "
            "a required question left out is a 422 naming `answers.<id>`. An answer that needs a conversation "
            "first is a 422 whose message gives the studio's phone; nothing is stored. Answers are never returned."
        ),
        examples=[{"pressure": "Medium", "first_visit": True}],
    )


class CommentRequest(Closed):
    """The body of POST /api/comments."""

    page: Address = Field(max_length=COMMENT_LIMITS["page"])
    name: str = Field(max_length=COMMENT_LIMITS["name"])
    email: Email = Field(max_length=COMMENT_LIMITS["email"], description="Never published.")
    website: str | None = Field(None, max_length=COMMENT_LIMITS["website"], description="http(s) only.")
    body: str = Field(min_length=COMMENT_BODY_MIN, max_length=COMMENT_BODY_MAX, description="Plain text.")
    parent_id: int | None = Field(None, description="The comment answered.")
    notify: bool = Field(False, description="Email me when someone replies (after approval).")
    form_token: str | None = Field(
        None, description="The token of the comment form (from GET /comments); without one a post is spam."
    )
    homepage: str = Field("", description="The form's trap for robots: leave it empty.")


class CommentEdit(Closed):
    """The body of PATCH /api/comments/<id>."""

    body: str = Field(min_length=COMMENT_BODY_MIN, max_length=COMMENT_BODY_MAX, description="Plain text.")


REQUESTS = (BookingRequest, CommentRequest, CommentEdit)


def fields_of(request: type[Closed]) -> set[str]:
    """Return the fields a request body may have."""
    return set(request.model_fields)


def required_of(request: type[Closed]) -> list[str]:
    """Return the fields a request body must have, in their declared order."""
    return [name for name, field in request.model_fields.items() if field.is_required()]


# -- Answers ------------------------------------------------------------------------------------------------------


class Service(Closed):
    """A service clients can book."""

    id: str = Field(pattern="^[a-z0-9][a-z0-9-]*$")
    name: str
    duration_minutes: int = Field(ge=1)
    price: str = Field(pattern=r"^\d+\.\d{2}$", description="In the studio's currency.")
    description: str


class Services(Closed):
    """The answer of GET /api/services."""

    services: list[Service]


class Slot(Closed):
    """A free time, with the offset of the zone asked for."""

    start: Instant
    end: Instant


class Slots(Closed):
    """The answer of GET /api/slots."""

    service: str
    timezone: str
    slots: list[Slot]


class Booking(Closed):
    """A booking as its client sees it."""

    id: str
    status: Literal["confirmed", "cancelled"]
    service: str
    start: Instant
    end: Instant
    timezone: str
    manage_url: Address


class Comment(Closed):
    """A published comment. Never carries an email address or anything derived from one."""

    id: int
    parent_id: int | None = Field(description="The comment it is shown under.")
    author: str | None = Field(description="null when deleted.")
    website: Address | None
    body_html: str = Field(description="Sanitised HTML: p, br, and links (rel=nofollow ugc).")
    created_at: Instant
    edited_at: Instant | None
    deleted: bool = Field(description="Deleted but kept (blank) because it has replies.")


class Thread(Closed):
    """The answer of GET /api/comments."""

    page: Address = Field(description="The normalised address: the thread's key.")
    count: int = Field(description="Published comments, not counting deleted ones.")
    comments: list[Comment]


class CommentPosted(Closed):
    """The answer to a new comment."""

    id: int
    status: Status
    edit_token: str = Field(description="Send as X-Comment-Token to edit or delete.")
    editable_until: Instant
    editable_for: int = Field(description="Seconds left to edit (immune to clock skew).")
    body: str
    body_html: str


class CommentEdited(Closed):
    """The answer to an edit."""

    id: int
    status: Status
    body: str
    body_html: str


class Counts(RootModel[dict[str, int]]):
    """Each page address as given, with its number of published comments."""


class Health(Closed):
    """The answer of GET /healthz."""

    status: Literal["ok", "degraded"]
    database: str
    calendar: str
    ratelimits: Literal["shared", "per-process"] = Field(
        description="shared: counted in Redis for every worker; per-process: each worker counts alone."
    )


class FieldErrors(Open):
    """A refusal: each bad field (or ``body``) with what is wrong with it."""

    errors: dict[str, str] = Field(description="Each bad field (or `body`) with what is wrong with it.")


class Conflict(Closed):
    """The time is taken: the error and the nearest free times."""

    errors: dict[str, str]
    alternatives: list[Slot] = Field(description="The nearest free slots.")


class Paused(Open):
    """Booking online is not possible now: the error and the phone number."""

    errors: dict[str, str]
    phone: str = Field(description="The studio's phone, to book by instead.")


class Error(Open):
    """An HTTP error that is not about one field (too large, too many, not found)."""

    status: int
    error: str
    message: str


ANSWERS = (
    Services,
    Slots,
    Booking,
    Thread,
    CommentPosted,
    CommentEdited,
    Counts,
    Health,
    FieldErrors,
    Conflict,
    Paused,
    Error,
)


class _Untitled(GenerateJsonSchema):
    """Leave out the titles pydantic gives every field: the field's name says it."""

    def field_title_should_be_set(self, schema) -> bool:
        return False


def components() -> dict:
    """Return the JSON Schemas of every request and answer, keyed by name, for the OpenAPI document."""
    models = [(model, "validation") for model in REQUESTS] + [(model, "serialization") for model in ANSWERS]
    _, schemas = models_json_schema(models, ref_template=REF_TEMPLATE, schema_generator=_Untitled)
    return schemas["$defs"]


def answer(model: type[BaseModel], **fields) -> dict:
    """Return an answer's JSON, checked against its model."""
    return model(**fields).model_dump(mode="json")
