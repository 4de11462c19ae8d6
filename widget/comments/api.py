"""The comments JSON API (see /api/openapi.json).  No answer ever carries an email address."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from ..errors import ApiError, json_body
from ..models import CommentStatus
from ..schemas import (
    Comment,
    CommentEdit,
    CommentEdited,
    CommentPosted,
    CommentRequest,
    Counts,
    Thread,
    answer,
    fields_of,
)
from ..timezones import rfc3339, zone_named
from . import moderation, queries, tokens, urls
from .limits import DuplicateComment, InvalidComment
from .views import comment_limit

bp = Blueprint("comment_api", __name__, url_prefix="/api/comments")

# What a client may send, and nothing else.  "form_token" and "homepage" come from the comment form.
POST_FIELDS = fields_of(CommentRequest)
EDIT_FIELDS = fields_of(CommentEdit)
TOKEN_HEADER = "X-Comment-Token"  # noqa: S105 - a header name, not a secret
MAX_COUNTED_PAGES = 100
UTC = zone_named("UTC")


@bp.errorhandler(InvalidComment)
def _invalid(error: InvalidComment):
    return ApiError(409 if isinstance(error, DuplicateComment) else 422, error.errors).response()


def comment_json(node: queries.Node) -> dict:
    """Return the public view of a shown comment: no email, nothing derived from one."""
    comment = node.comment
    return answer(
        Comment,
        id=comment.id,
        parent_id=node.parent_id,
        author=comment.author if not node.deleted else None,
        website=comment.website if not node.deleted else None,
        body_html=comment.body_html,
        created_at=rfc3339(comment.created_at, UTC),
        edited_at=rfc3339(comment.edited_at, UTC) if comment.edited_at else None,
        deleted=node.deleted,
    )


def _page(raw) -> str:
    try:
        return urls.normalise_page(raw)
    except InvalidComment as error:
        raise ApiError(422, error.errors) from None


@bp.get("")
def thread():
    """List an article's published comments, oldest first (``order=newest`` for newest first)."""
    page = _page(request.args.get("page"))
    order = request.args.get("order", "oldest")
    if order not in ("oldest", "newest"):
        raise ApiError(422, {"order": "must be oldest or newest"})
    nodes = queries.visible(page)
    if order == "newest":
        nodes.sort(key=lambda node: (node.comment.created_at, node.comment.id), reverse=True)
    count = sum(1 for node in nodes if not node.deleted)
    return jsonify(answer(Thread, page=page, count=count, comments=[comment_json(node) for node in nodes]))


@bp.post("")
@comment_limit
def create():
    """Post a comment; it is published at once or held for the therapist."""
    body = json_body()
    unknown = sorted(set(body) - POST_FIELDS)
    if unknown:
        raise ApiError(422, {name: "is not a field of a comment" for name in unknown})
    token, honeypot = body.get("form_token"), body.get("homepage") or ""
    if not isinstance(token, (str, type(None))):
        raise ApiError(422, {"form_token": "must be text"})
    if not isinstance(honeypot, str):
        raise ApiError(422, {"homepage": "must be text"})
    try:
        comment, edit_token = moderation.post(body, token, honeypot)
    except tokens.BadToken as stale:
        raise ApiError(422, {"form_token": str(stale)}) from None
    # Spam is answered exactly like a held comment: the robot learns nothing.
    status = "published" if comment.status == CommentStatus.PUBLISHED else "pending"
    posted = answer(
        CommentPosted,
        id=comment.id,
        status=status,
        edit_token=edit_token,
        editable_until=rfc3339(comment.created_at + tokens.EDIT_WINDOW, UTC),
        # Seconds left, for clients whose own clock may differ from the server's.
        editable_for=int(tokens.EDIT_WINDOW.total_seconds()),
        body=comment.body,
        body_html=comment.body_html,
    )
    return jsonify(posted), 201


def _token() -> str:
    token = request.headers.get(TOKEN_HEADER, "")
    if not token:
        raise ApiError(401, {"token": f"is required: send the edit token in the {TOKEN_HEADER} header"})
    return token


def _refused(error: tokens.BadToken) -> ApiError:
    return ApiError(403, {"token": str(error)})


@bp.patch("/<int:comment_id>")
@comment_limit
def edit(comment_id):
    """Change one's own comment, within 15 minutes of posting it."""
    token = _token()
    body = json_body()
    unknown = sorted(set(body) - EDIT_FIELDS)
    if unknown:
        raise ApiError(422, {name: "cannot be changed" for name in unknown})
    try:
        comment = moderation.edit(comment_id, token, body.get("body"))
    except tokens.BadToken as error:
        raise _refused(error) from None
    status = "published" if comment.status == CommentStatus.PUBLISHED else "pending"
    return jsonify(answer(CommentEdited, id=comment.id, status=status, body=comment.body, body_html=comment.body_html))


@bp.delete("/<int:comment_id>")
@comment_limit
def remove(comment_id):
    """Delete one's own comment, within 15 minutes of posting it."""
    try:
        moderation.remove_own(comment_id, _token())
    except tokens.BadToken as error:
        raise _refused(error) from None
    return "", 204


@bp.get("/counts")
def counts():
    """Count the published comments of many articles in one call: ``?page=A&page=B``."""
    raw = request.args.getlist("page")
    if not raw:
        raise ApiError(422, {"page": "is required: one or more article addresses"})
    if len(raw) > MAX_COUNTED_PAGES:
        raise ApiError(422, {"page": f"at most {MAX_COUNTED_PAGES} pages per call"})
    keys, errors = {}, {}
    for address in raw:
        try:
            keys[address] = urls.normalise_page(address)
        except InvalidComment as error:
            errors[address] = error.errors["page"]
    if errors:
        raise ApiError(422, {"page": "; ".join(f"{address}: {problem}" for address, problem in errors.items())})
    found = queries.counts(sorted(set(keys.values())))
    return jsonify(Counts({address: found[key] for address, key in keys.items()}).model_dump(mode="json"))
