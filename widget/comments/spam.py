"""Spam defences and the rules that hold a comment for the therapist.

The rules follow WordPress's defaults: a comment is held unless a comment by
the same name and email was approved before, a comment with two or more links
is held, and an edit is held again when it adds a link or when its author
would be held with a new comment.  Spam that the defences catch (the hidden
field, a form filled too fast or without its token, one text pasted by
several people) is stored as spam, never dropped, so the therapist can rescue
a mistake.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from ..extensions import db
from ..models import Comment, CommentStatus
from ..timezones import utc_now
from .checks import Draft
from .render import links_in

# A comment with this many links or more waits for the therapist.
HOLD_LINKS = 2
MIN_FILL = timedelta(seconds=3)
# The same text from someone else within this time is taken for spam (bots paste one text everywhere).
REPEAT_WINDOW = timedelta(days=30)
REPEAT_MIN_LENGTH = 20


def _person(name: str | None) -> str:
    """Return the form of a commenter's name that says whether two comments are by one person."""
    return (name or "").strip().casefold()


def repeats(draft: Draft) -> str | None:
    """Return "duplicate" if this person said this here already, "spam" if others posted it recently."""
    since = utc_now() - REPEAT_WINDOW
    earlier = db.session.execute(
        select(Comment.page, Comment.author, Comment.email).where(
            Comment.text_key == Comment.text_key_of(draft.body), Comment.created_at >= since
        )
    ).all()
    person = (_person(draft.name), draft.email)
    # Name and email together, as for a known commenter: the email alone would let anyone
    # holding a reader's address learn from the answer what that reader wrote here.
    if any((_person(author), email) == person and page == draft.page for page, author, email in earlier):
        return "duplicate"
    long_enough = len(" ".join(draft.body.split())) >= REPEAT_MIN_LENGTH
    return "spam" if long_enough and any((_person(a), e) != person for _, a, e in earlier) else None


def known_commenter(name: str, email: str | None, besides: int | None = None) -> bool:
    """Say whether the therapist let another comment by this name and email appear (WordPress's check_comment)."""
    if not email:
        return False
    authors = db.session.scalars(
        select(Comment.author)
        .where(Comment.email == email, Comment.status == CommentStatus.PUBLISHED, Comment.id != (besides or 0))
        .distinct()
    )
    return any(_person(author) == _person(name) for author in authors)


def hold_reason(name: str, email: str | None, body: str, besides: int | None = None) -> str | None:
    """Return why a text by this name and email waits for the therapist, or None when it may appear at once."""
    links = len(links_in(body))
    if links >= HOLD_LINKS:
        return f"has {links} links"
    if not known_commenter(name, email, besides):
        return "no other approved comment by this name and email"
    return None


def verdict(draft: Draft, honeypot: str, age: float | None, repeated: str | None) -> tuple[str, str | None]:
    """Return (status, reason) for a new comment."""
    if honeypot:
        return CommentStatus.SPAM, "filled in the hidden field only robots see"
    if age is None:
        return CommentStatus.SPAM, "posted without the comment form's token"
    if age < MIN_FILL.total_seconds():
        return CommentStatus.SPAM, f"posted {age:.1f} s after the form was shown"
    if repeated == "spam":
        return CommentStatus.SPAM, "the same text was posted by someone else"
    reason = hold_reason(draft.name, draft.email, draft.body)
    return (CommentStatus.PENDING, reason) if reason else (CommentStatus.PUBLISHED, None)


def edit_hold_reason(comment: Comment, text: str) -> str | None:
    """Return why an edit takes a published comment back to the therapist, or None when it stays published."""
    if text == comment.body:
        return None  # nothing she has not seen
    added = set(links_in(text)) - set(links_in(comment.body))
    if added:
        return f"edited to add {'a link' if len(added) == 1 else f'{len(added)} links'}"
    # Otherwise the edit is treated as a new comment by its author, the comment itself not counting:
    # a first comment approved by the therapist and then rewritten goes back to her.
    reason = hold_reason(comment.author, comment.email, text, besides=comment.id)
    return f"edited after publication: {reason}" if reason else None
