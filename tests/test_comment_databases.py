"""The comment rules on both databases: the queries that differ between SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from tests.support import ARTICLE, COMMENT_ORIGINS, SITE
from widget.comments import moderation, queries, tokens
from widget.comments.limits import DuplicateComment
from widget.extensions import db
from widget.models import Comment, CommentStatus


def _post(app, body: str, email: str = "ada@reader.example", **fields):
    """Post as a person would (form shown, 5 s of typing); return the comment's id and status."""
    with app.app_context():
        token = tokens.form_token()
        app.extensions["clock"].now += timedelta(seconds=5)
        comment, _ = moderation.post({"page": ARTICLE, "name": "Ada", "email": email, "body": body, **fields}, token)
        result = comment.id, comment.status
        db.session.remove()
    return result


def test_lifecycle_on_each_database(any_db_app):
    """Held, approved, known, replies, repeats, counts, blanking and erasure behave alike on SQLite and PostgreSQL."""
    app = any_db_app
    app.config.update(EMBED_ALLOWED_ORIGINS=COMMENT_ORIGINS.split(), THERAPIST_EMAIL="")
    database = app.config["DATABASE_URL"].split(":", 1)[0]
    first, status = _post(app, "The first comment from Ada.")
    assert status == CommentStatus.PENDING, database
    with app.app_context():
        assert moderation.moderate([first], "approve") == 1
    reply, status = _post(app, "Ada again, known now: published.", parent_id=first)
    assert status == CommentStatus.PUBLISHED, database
    repeat, status = _post(app, "Ada again, known now: PUBLISHED.", "bot@spam.example")
    assert status == CommentStatus.SPAM, f"{database}: the same text from someone else is spam"
    with app.app_context():
        duplicate = None
        try:
            _post(app, "Ada again, known now: published.", parent_id=first)
        except DuplicateComment as error:
            duplicate = error
        assert duplicate is not None, database
        assert queries.counts([ARTICLE, f"{SITE}/other"]) == {ARTICLE: 2, f"{SITE}/other": 0}, database
        assert moderation.moderate([first], "delete") == 1
        blanked = db.session.get(Comment, first)
        assert blanked.deleted_at is not None and blanked.email is None, database
        assert queries.counts([ARTICLE]) == {ARTICLE: 1}, database
        # The address with a wildcard character matches only itself.
        assert moderation.erase_commenter("ada_reader.example") == 0, database
        assert moderation.erase_commenter("ADA@reader.example", remove=True) == 1, database
        left = db.session.scalars(select(Comment.id).order_by(Comment.id)).all()
        assert left == [repeat], f"{database}: the reply went, and the blanked comment with it"
        db.session.remove()
