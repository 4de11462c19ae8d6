"""Writing comments: post, edit and remove one's own, moderate, unsubscribe, erase a commenter.

Links for the therapist (approve, delete) and for the commenter (edit,
unsubscribe) are signed tokens, one purpose each (comments/tokens.py).  The
rules that decide whether a comment appears at once are in comments/spam.py.
"""

from __future__ import annotations

import uuid

from sqlalchemy import delete, func, inspect, select

from .. import outbox
from ..extensions import begin_writing, db
from ..models import Comment, CommentStatus, OutboxMessage
from ..timezones import utc_now
from . import emails
from .checks import Draft, check, clean_body
from .limits import DuplicateComment, InvalidComment
from .render import render
from .spam import edit_hold_reason, repeats, verdict
from .tokens import EDIT_WINDOW, GONE, BadToken, check_link, comment_for, comment_named, edit_token, form_age, unsign

# Replies nest this deep (0 is a comment on the article); deeper replies join the deepest level.
MAX_DEPTH = 2


def _parent(draft: Draft) -> tuple[int | None, int | None]:
    """Return (where to show a reply, the comment it answers), or raise InvalidComment."""
    if draft.parent_id is None:
        return None, None
    answered = db.session.get(Comment, draft.parent_id)
    if (
        answered is None
        or answered.page != draft.page
        or answered.status != CommentStatus.PUBLISHED
        or answered.deleted_at
    ):
        raise InvalidComment({"parent_id": "is not a published comment on this page"})
    shown, depth = answered, _depth(answered)
    while depth >= MAX_DEPTH and shown.parent_id is not None:
        shown, depth = db.session.get(Comment, shown.parent_id), depth - 1
    return shown.id, answered.id


def _depth(comment: Comment) -> int:
    depth, current = 0, comment
    while current.parent_id is not None and depth <= MAX_DEPTH:
        current = db.session.get(Comment, current.parent_id)
        if current is None:
            break
        depth += 1
    return depth


def post(values: dict, token: str | None, honeypot: str = "") -> tuple[Comment, str]:
    """Store a new comment after the spam and moderation checks; return it and its edit token.

    Raise InvalidComment for bad input, DuplicateComment when the same person
    already posted the same text on the page, BadToken when the form is stale.
    """
    draft = check(values)
    age = form_age(token)
    with outbox.unit_of_work() as work:
        parent_id, reply_to_id = _parent(draft)
        repeated = repeats(draft)
        if repeated == "duplicate":
            raise DuplicateComment({"body": "You already posted this comment here."})
        status, reason = verdict(draft, honeypot, age, repeated)
        now = utc_now()
        comment = Comment(
            page=draft.page,
            parent_id=parent_id,
            reply_to_id=reply_to_id,
            status=status,
            reason=reason,
            author=draft.name,
            email=draft.email,
            website=draft.website,
            body=draft.body,
            body_html=render(draft.body),
            notify_replies=draft.notify,
            created_at=now,
            published_at=now if status == CommentStatus.PUBLISHED else None,
        )
        db.session.add(comment)
        db.session.flush()
        _announce(work, comment)
        token = edit_token(comment)
        # Handed back as written: detached, its fields stay readable without a query after the commit.
        db.session.expunge(comment)
    return comment, token


def _announce(work: outbox.Work, comment: Comment, occasion: str | None = None) -> None:
    """Queue the emails a comment's new status calls for."""
    if comment.status == CommentStatus.PENDING:
        entries = emails.comment_held(comment, occasion)
    elif comment.status == CommentStatus.PUBLISHED:
        entries = emails.comment_reply(comment)
    else:
        entries = []
    for key, kind, payload in entries:
        work.queue(key, kind, payload)


def _own(comment_id: int, token: str) -> Comment:
    comment = comment_for("edit", token, EDIT_WINDOW, lock=True)
    if comment.id != comment_id:
        raise BadToken("This token is for another comment.")
    return comment


def edit(comment_id: int, token: str, body: object) -> Comment:
    """Change the text of one's own comment within EDIT_WINDOW of posting it."""
    text = clean_body(body)
    with outbox.unit_of_work() as work:
        comment = _own(comment_id, token)
        reason = edit_hold_reason(comment, text) if comment.status == CommentStatus.PUBLISHED else None
        comment.body, comment.body_html, comment.edited_at = text, render(text), utc_now()
        occasion = None
        if reason:
            comment.status, comment.reason, comment.published_at = CommentStatus.PENDING, reason, None
            # A new email each time: each return to her follows an approval of hers, so this cannot flood her.
            occasion = f"unpublished-{uuid.uuid4().hex}"
        db.session.flush()
        if comment.status == CommentStatus.PENDING:
            _announce(work, comment, occasion)
    return comment


def remove_own(comment_id: int, token: str) -> None:
    """Delete one's own comment within EDIT_WINDOW of posting it."""
    begin_writing()
    try:
        _remove(_own(comment_id, token))
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise


def _has_replies(comment_id: int) -> bool:
    return db.session.scalar(select(Comment.id).where(Comment.parent_id == comment_id).limit(1)) is not None


def _remove(comment: Comment) -> None:
    """Delete a comment; one with replies is blanked instead, keeping the conversation's shape."""
    if _has_replies(comment.id):
        comment.author, comment.email, comment.website = "", None, None
        comment.body, comment.body_html, comment.notify_replies = "", "", False
        comment.deleted_at = utc_now()
        return
    parent_id = comment.parent_id
    db.session.delete(comment)
    db.session.flush()
    # A blanked comment whose last reply goes has nothing left to hold up.
    parent = db.session.get(Comment, parent_id) if parent_id is not None else None
    if parent is not None and parent.deleted_at is not None:
        _remove(parent)


def moderate(ids: list[int], action: str, link: bool = False) -> int:
    """Approve, delete or mark as spam the comments with these ids; return how many changed.

    ``link``: the therapist follows a link from an email; raise BadToken when
    the link no longer applies (the comment was deleted or marked as spam since).
    """
    if action not in ("approve", "delete", "spam"):
        raise ValueError(f"unknown action {action!r}")
    changed = 0
    with outbox.unit_of_work() as work:
        # Locked and read afresh: a link followed while the admin marks the comment as spam sees her
        # decision instead of overwriting it.  Deepest first, so a blanked parent can go with its last reply.
        found = db.session.scalars(
            select(Comment)
            .where(Comment.id.in_(ids))
            .order_by(Comment.id.desc())
            .with_for_update()
            .execution_options(populate_existing=True)
        ).all()
        if link and (len(found) != len(set(ids)) or any(c.deleted_at is not None for c in found)):
            raise BadToken(GONE)
        for comment in found:
            if link:
                check_link(comment, action)
            if inspect(comment).deleted or inspect(comment).detached:
                continue  # gone with its last reply, earlier in this loop
            if comment.deleted_at is not None and action != "delete":
                continue
            if action == "approve" and comment.status != CommentStatus.PUBLISHED:
                comment.status, comment.reason, comment.published_at = CommentStatus.PUBLISHED, None, utc_now()
                db.session.flush()
                _announce(work, comment)
            elif action == "spam" and comment.status != CommentStatus.SPAM:
                comment.status, comment.published_at = CommentStatus.SPAM, None
                comment.reason = "marked as spam by the therapist"
            elif action == "delete":
                _remove(comment)
            else:
                continue
            changed += 1
    return changed


def unsubscribe(token: str) -> int:
    """Stop reply notifications to the address of the comment a token names; return how many comments it had."""
    data = unsign("unsubscribe", token)
    begin_writing()
    comment = comment_named(data)
    if comment is None or comment.email is None:
        db.session.commit()
        return 0
    changed = 0
    for own in db.session.scalars(select(Comment).where(Comment.email == comment.email, Comment.notify_replies)):
        own.notify_replies = False
        changed += 1
    db.session.commit()
    return changed


ANONYMOUS = "Anonymous"


def erase_commenter(email: str, remove: bool = False) -> int:
    """Forget an email address: its comments lose it and their name and website, or go (``remove``)."""
    address = email.strip().lower()
    begin_writing()
    try:
        own = db.session.scalars(
            select(Comment).where(func.lower(Comment.email) == address).order_by(Comment.id.desc())
        ).all()
        for comment in own:
            if inspect(comment).deleted or inspect(comment).detached:
                continue  # gone with its last reply, earlier in this loop
            if remove:
                _remove(comment)
            else:
                comment.email, comment.website, comment.notify_replies = None, None, False
                comment.author = ANONYMOUS
        # Nor in the comment emails kept in the outbox, sent or waiting.
        db.session.execute(
            delete(OutboxMessage).where(
                OutboxMessage.key.startswith("comment-"), OutboxMessage.payload.contains(address)
            )
        )
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return len(own)
