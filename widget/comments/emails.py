"""Which emails comments send: the therapist's "waiting for you", the commenter's "someone replied".

Each function returns outbox entries ``(key, kind, payload)``, added by
comments/moderation.py in the transaction of the change.
"""

from __future__ import annotations

from flask import current_app

from ..booking import business
from ..extensions import db
from ..mail import compose
from ..models import Comment, CommentStatus
from .tokens import MODERATION_LINK_AGE, moderation_token, unsubscribe_token


def _comment_link(path: str) -> str:
    return f"{current_app.config['PUBLIC_URL']}{path}"


def comment_held(comment, occasion: str | None = None) -> list:
    """Return the therapist's email about a comment waiting for her, with approve and delete links."""
    therapist = current_app.config.get("THERAPIST_EMAIL")
    if not therapist:
        return []
    payload = compose(
        [therapist],
        f"Comment to approve: {comment.author} on {comment.page}",
        "comment_held",
        studio=business.current().studio,
        comment=comment,
        approve_url=_comment_link(f"/comments/approve/{moderation_token(comment, 'approve')}"),
        delete_url=_comment_link(f"/comments/delete/{moderation_token(comment, 'delete')}"),
        admin_url=_comment_link("/admin/comments"),
        link_days=MODERATION_LINK_AGE.days,
    )
    # One email when the comment is first held and one if it is edited while held (the link pages
    # always show the current text), so editing cannot flood the therapist; an edit that takes a
    # published comment back names its own ``occasion``, each following an approval of hers.
    occasion = occasion or ("edited" if comment.edited_at else "new")
    return [(f"comment-held:{comment.id}:{occasion}", "email", payload)]


def comment_reply(reply) -> list:
    """Return the email telling a commenter who asked for it that their comment was answered."""
    answered = db.session.get(Comment, reply.reply_to_id) if reply.reply_to_id else None
    if (
        answered is None
        or not answered.notify_replies
        or not answered.email
        or answered.email == reply.email
        or answered.status != CommentStatus.PUBLISHED
        or answered.deleted_at is not None
    ):
        return []
    payload = compose(
        [answered.email],
        f"{reply.author} replied to your comment",
        "comment_reply",
        studio=business.current().studio,
        answered=answered,
        reply=reply,
        unsubscribe_url=_comment_link(f"/comments/unsubscribe/{unsubscribe_token(answered)}"),
    )
    return [(f"comment-reply:{reply.id}", "email", payload)]
