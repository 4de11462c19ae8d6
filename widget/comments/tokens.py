"""Signed tokens and links: one purpose each, so an approve token cannot delete.

The comment form carries one (it proves the form is ours and tells when it
was shown); the therapist's approve and delete links, the commenter's edit
token and unsubscribe link name one comment each.  Their age is measured on
the app's clock (widget.timezones.utc_now).
"""

from __future__ import annotations

from datetime import timedelta

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer

from ..extensions import db
from ..models import Comment, CommentStatus
from ..timezones import utc_now

FORM_MAX_AGE = timedelta(days=2)
EDIT_WINDOW = timedelta(minutes=15)
MODERATION_LINK_AGE = timedelta(days=7)
GONE = "That comment has been deleted."


class BadToken(Exception):
    """A signed link or token is not valid: forged, for another purpose, or expired."""

    def __init__(self, message: str, expired: bool = False):
        super().__init__(message)
        self.expired = expired


def _serializer(purpose: str) -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=f"comments-{purpose}")


def sign(purpose: str, **data) -> str:
    """Return a token for one purpose carrying ``data`` and the time it was made."""
    return _serializer(purpose).dumps({**data, "t": round(utc_now().timestamp(), 3)})


def unsign(purpose: str, token: str, max_age: timedelta | None = None) -> dict:
    """Return the data of a token made for ``purpose``; raise BadToken if forged, misused or older than max_age."""
    try:
        data = _serializer(purpose).loads(token or "")
    except (BadSignature, UnicodeError):
        raise BadToken("This link is not valid. Check that it was copied whole.") from None
    if not isinstance(data, dict) or not isinstance(data.get("t"), (int, float)):
        raise BadToken("This link is not valid.")
    if max_age is not None and utc_now().timestamp() - data["t"] > max_age.total_seconds():
        raise BadToken("This link has expired.", expired=True)
    return data


def form_token() -> str:
    """Return the token a comment form carries: it proves the form is ours and tells when it was shown."""
    return sign("form")


def form_age(token: str | None) -> float | None:
    """Return how many seconds ago the form was shown, None when there is no valid token; raise BadToken if stale."""
    if not token:
        return None
    try:
        data = unsign("form", token)
    except BadToken:
        return None
    age = utc_now().timestamp() - data["t"]
    if age > FORM_MAX_AGE.total_seconds():
        raise BadToken("This form is too old. Please reload the page and post again.", expired=True)
    return age


def _birth(comment: Comment) -> int:
    """Return the comment's creation time in microseconds: with the id, it names one comment for good."""
    return int(comment.created_at.timestamp() * 1_000_000)


def _token_for(purpose: str, comment: Comment) -> str:
    # The creation time rides along with the id so that a token can never act on a later
    # comment that happens to get the id of a deleted one.
    return sign(purpose, c=comment.id, b=_birth(comment))


def edit_token(comment: Comment) -> str:
    """Return the token that lets a comment's author change or delete it for EDIT_WINDOW."""
    return _token_for("edit", comment)


def moderation_token(comment: Comment, action: str) -> str:
    """Return a link token that does one thing ("approve" or "delete") to one comment."""
    return _token_for(f"moderate-{action}", comment)


def unsubscribe_token(comment: Comment) -> str:
    """Return the token of the "stop telling me about replies" link."""
    return _token_for("unsubscribe", comment)


def comment_named(data: dict, lock: bool = False) -> Comment | None:
    """Return the comment a token's data names, or None if it is gone (its id reused)."""
    if not isinstance(data.get("c"), int):
        return None
    # Locked and read afresh: a change committed meanwhile (marked as spam) is seen, not overwritten.
    options = {"with_for_update": True, "populate_existing": True} if lock else {}
    comment = db.session.get(Comment, data["c"], **options)
    return comment if comment is not None and data.get("b") == _birth(comment) else None


def comment_for(purpose: str, token: str, max_age: timedelta | None, lock: bool = False) -> Comment:
    """Return the comment a token names (its row locked until the commit if ``lock``); raise BadToken if it is gone."""
    comment = comment_named(unsign(purpose, token, max_age), lock)
    if comment is None or comment.deleted_at is not None:
        raise BadToken(GONE)
    return comment


def linked_comment(action: str, token: str) -> Comment:
    """Return the comment a link from the therapist's email names; raise BadToken if the link no longer applies."""
    comment = comment_for(f"moderate-{action}", token, MODERATION_LINK_AGE)
    check_link(comment, action)
    return comment


def check_link(comment: Comment, action: str) -> None:
    """Raise BadToken if the therapist's link for ``action`` no longer applies to the comment."""
    # The email went out while the comment was held; her later "spam" outranks the link.
    # Deleting spam by the link is what she would do in the admin anyway, so it stays allowed.
    if action == "approve" and comment.status == CommentStatus.SPAM:
        raise BadToken(
            "This comment was marked as spam after the email was sent, so this link no longer applies. "
            "It is listed under Spam in the admin, where it can still be approved."
        )
