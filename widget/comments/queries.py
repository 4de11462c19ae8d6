"""Reading comments: a page's thread, counts, the admin's lists, the feed's date, the export."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select

from ..extensions import db
from ..models import Comment, CommentStatus

STATUSES = tuple(CommentStatus)
THREADS_PER_PAGE = 50
LISTED_PER_PAGE = 50  # in the admin's lists


@dataclass
class Node:
    """A comment as shown, with the replies shown under it."""

    comment: Comment
    parent_id: int | None
    replies: list[Node] = field(default_factory=list)

    @property
    def deleted(self) -> bool:
        return self.comment.deleted_at is not None


def visible(page: str) -> list[Node]:
    """Return the shown comments of a page, oldest first, each with its shown parent.

    A blanked comment is shown only while it has a shown reply; a reply whose
    parent is not shown (taken for spam after the reply) is shown at the top.
    """
    comments = db.session.scalars(
        select(Comment)
        .where(Comment.page == page, Comment.status == CommentStatus.PUBLISHED)
        .order_by(Comment.created_at, Comment.id)
    ).all()
    ids = {comment.id for comment in comments}
    nodes = {c.id: Node(c, c.parent_id if c.parent_id in ids else None) for c in comments}
    for node in nodes.values():
        if node.parent_id is not None:
            nodes[node.parent_id].replies.append(node)

    def alive(node: Node) -> bool:
        node.replies = [reply for reply in node.replies if alive(reply)]
        return not node.deleted or bool(node.replies)

    roots = [node for node in nodes.values() if node.parent_id is None and alive(node)]
    shown: list[Node] = []

    def walk(node: Node) -> None:
        shown.append(node)
        for reply in node.replies:
            walk(reply)

    for root in roots:
        walk(root)
    return shown


def roots_of(nodes: list[Node]) -> list[Node]:
    """Return the comments on the article itself, in order."""
    return [node for node in nodes if node.parent_id is None]


def thread(page: str, newest_first: bool = False, number: int = 1) -> tuple[list[Node], int, int]:
    """Return one page of a thread (top comments with their replies), the number of pages and the comment count."""
    nodes = visible(page)
    roots = roots_of(nodes)
    if newest_first:
        roots.reverse()
    pages = max(1, math.ceil(len(roots) / THREADS_PER_PAGE))
    number = min(max(number, 1), pages)
    start = (number - 1) * THREADS_PER_PAGE
    count = sum(1 for node in nodes if not node.deleted)
    return roots[start : start + THREADS_PER_PAGE], pages, count


def counts(pages: list[str]) -> dict[str, int]:
    """Return how many published comments each (normalised) page has."""
    found = dict(
        db.session.execute(
            select(Comment.page, func.count(Comment.id))
            .where(Comment.page.in_(pages), Comment.status == CommentStatus.PUBLISHED, Comment.deleted_at.is_(None))
            .group_by(Comment.page)
        ).all()
    )
    return {page: found.get(page, 0) for page in pages}


def listing(status: str, number: int = 1, per_page: int = LISTED_PER_PAGE) -> tuple[list[Comment], int]:
    """Return one page of the comments with a status, newest first, and the total, for the admin."""
    found = db.paginate(
        select(Comment).where(Comment.status == status).order_by(Comment.created_at.desc(), Comment.id.desc()),
        page=max(number, 1),
        per_page=per_page,
        max_per_page=per_page,
        error_out=False,
    )
    return list(found.items), found.total or 0


def status_counts() -> dict[str, int]:
    """Return how many comments have each status."""
    found = dict(db.session.execute(select(Comment.status, func.count(Comment.id)).group_by(Comment.status)).all())
    return {status: found.get(status, 0) for status in STATUSES}


def last_change(page: str) -> datetime | None:
    """Return when the thread last changed (for the feed's updated element)."""
    return db.session.scalar(
        select(func.max(func.coalesce(Comment.edited_at, Comment.published_at, Comment.created_at))).where(
            Comment.page == page, Comment.status == CommentStatus.PUBLISHED
        )
    )


def export_all() -> list[dict]:
    """Return every comment, with everything stored about it, for a backup or a move."""
    return [
        {
            "id": c.id,
            "page": c.page,
            "parent_id": c.parent_id,
            "reply_to_id": c.reply_to_id,
            "status": c.status,
            "author": c.author,
            "email": c.email,
            "website": c.website,
            "body": c.body,
            "body_html": c.body_html,
            "notify_replies": c.notify_replies,
            "reason": c.reason,
            "source": c.source,
            "created_at": c.created_at.isoformat(),
            "edited_at": c.edited_at.isoformat() if c.edited_at else None,
            "published_at": c.published_at.isoformat() if c.published_at else None,
            "deleted_at": c.deleted_at.isoformat() if c.deleted_at else None,
        }
        for c in db.session.scalars(select(Comment).order_by(Comment.id))
    ]
