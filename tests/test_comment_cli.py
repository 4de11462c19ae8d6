"""The operator's comment commands: export-comments and erase-commenter."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from sqlalchemy import func, select

from tests.support import ARTICLE, COMMENT_ORIGINS, make_app, post_comment
from widget.comments import moderation
from widget.extensions import db
from widget.models import Comment, CommentStatus, OutboxMessage

ADA = "ada@reader.example"
FIELDS = {
    "id",
    "page",
    "parent_id",
    "reply_to_id",
    "status",
    "author",
    "email",
    "website",
    "body",
    "body_html",
    "notify_replies",
    "reason",
    "source",
    "created_at",
    "edited_at",
    "published_at",
    "deleted_at",
}
# Everything that would give Ada away.
ADA_TRACES = (ADA, "Ada Reader", "ada.example", "Ada's first thoughts", "Another thought entirely")


@pytest.fixture(scope="module")
def empty_app(tmp_path_factory):
    """Return an app without comments, for commands that must change nothing."""
    return make_app(tmp_path_factory.mktemp("empty"), EMBED_ALLOWED_ORIGINS=COMMENT_ORIGINS)


def discussion(client, app) -> dict[str, int]:
    """Post Ada's comment, Bob's reply to it and a second comment of Ada's, all published; return their ids."""
    first = post_comment(
        client,
        app,
        "Ada's first thoughts: lovely studio, Zoë was great. Привет 🌸",
        website="https://ada.example",
        notify=True,
    )
    assert first.status_code == 201, first.text
    with app.app_context():
        moderation.moderate([first.json["id"]], "approve")
    reply = post_comment(
        client, app, "Glad you liked it, Ada!", name="Bob", email="bob@reader.example", parent_id=first.json["id"]
    )
    assert reply.status_code == 201, reply.text
    with app.app_context():
        moderation.moderate([reply.json["id"]], "approve")
    second = post_comment(client, app, "Another thought entirely, on a second visit.")
    assert second.status_code == 201, second.text
    ids = {"ada": first.json["id"], "bob": reply.json["id"], "ada_again": second.json["id"]}
    with app.app_context():
        statuses = {name: db.session.get(Comment, number).status for name, number in ids.items()}
    assert statuses == {
        "ada": CommentStatus.PUBLISHED,
        "bob": CommentStatus.PUBLISHED,
        "ada_again": CommentStatus.PUBLISHED,
    }
    return ids


def everything_shown(client, app) -> dict[str, str]:
    """Return every public view of the article's comments, and the operator's export."""
    return {
        "api": client.get("/api/comments", query_string={"page": ARTICLE}).text,
        "feed": client.get("/comments/feed.atom", query_string={"page": ARTICLE}).text,
        "page": client.get("/comments", query_string={"page": ARTICLE}).text,
        "export": app.test_cli_runner().invoke(args=["export-comments"]).stdout,
    }


# -- export-comments ----------------------------------------------------------------------------------------------


def test_export_writes_every_comment_with_its_fields(comment_app, comment_client):
    ids = discussion(comment_client, comment_app)
    result = comment_app.test_cli_runner().invoke(args=["export-comments"])
    assert result.exit_code == 0, result.output
    # UTF-8 as written, not \\u escapes.
    assert "Zoë was great. Привет 🌸" in result.stdout
    export = json.loads(result.stdout)
    assert set(export) == {"exported_at", "comments"}
    assert datetime.fromisoformat(export["exported_at"]).tzinfo is not None
    assert [c["id"] for c in export["comments"]] == sorted(ids.values())
    assert all(set(c) == FIELDS for c in export["comments"])
    by_id = {c["id"]: c for c in export["comments"]}
    ada, bob = by_id[ids["ada"]], by_id[ids["bob"]]
    assert (ada["email"], ada["author"], ada["website"], ada["notify_replies"]) == (
        ADA,
        "Ada Reader",
        "https://ada.example",
        True,
    )
    assert (bob["parent_id"], bob["reply_to_id"], bob["email"]) == (ids["ada"], ids["ada"], "bob@reader.example")
    assert ada["page"] == ARTICLE and ada["status"] == CommentStatus.PUBLISHED
    assert ada["body"].startswith("Ada's first thoughts")
    assert ada["body_html"].startswith("<p>") and "first thoughts: lovely studio" in ada["body_html"]
    with comment_app.app_context():
        stored = db.session.get(Comment, ids["ada"])
        assert ada["created_at"] == stored.created_at.isoformat()
        assert ada["published_at"] == stored.published_at.isoformat()
        assert ada["deleted_at"] is None


def test_export_to_a_file(comment_app, comment_client, tmp_path):
    discussion(comment_client, comment_app)
    target = tmp_path / "backup" / "comments.json"
    target.parent.mkdir()
    runner = comment_app.test_cli_runner()
    result = runner.invoke(args=["export-comments", "--output", str(target)])
    assert result.exit_code == 0, result.output
    assert result.stdout == f"Exported 3 comments to {target}.\n"
    written = target.read_text(encoding="utf-8")
    assert "Привет 🌸" in written
    assert json.loads(written) == json.loads(runner.invoke(args=["export-comments"]).stdout)


def test_export_of_no_comments(empty_app):
    result = empty_app.test_cli_runner().invoke(args=["export-comments"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["comments"] == []


# -- erase-commenter ----------------------------------------------------------------------------------------------


def test_erase_anonymises_and_keeps_the_comments(comment_app, comment_client):
    ids = discussion(comment_client, comment_app)
    result = comment_app.test_cli_runner().invoke(args=["erase-commenter", " ADA@Reader.example "])
    assert result.exit_code == 0, result.output
    assert result.output == "Anonymised 2 comments: the address, name and website are gone.\n"
    with comment_app.app_context():
        for name in ("ada", "ada_again"):
            comment = db.session.get(Comment, ids[name])
            assert (comment.author, comment.email, comment.website, comment.notify_replies) == (
                "Anonymous",
                None,
                None,
                False,
            )
            assert comment.status == CommentStatus.PUBLISHED and comment.deleted_at is None
        assert db.session.get(Comment, ids["bob"]).email == "bob@reader.example"
    api = comment_client.get("/api/comments", query_string={"page": ARTICLE}).json
    assert [c["author"] for c in api["comments"]] == ["Anonymous", "Bob", "Anonymous"]
    for where, text in everything_shown(comment_client, comment_app).items():
        for trace in (ADA, "Ada Reader", "ada.example"):
            assert trace not in text, f"{trace!r} is still in the {where}"


def test_erase_with_remove_deletes_and_blanks_what_has_replies(comment_app, comment_client):
    ids = discussion(comment_client, comment_app)
    with comment_app.app_context():
        # Bob's reply told Ada by email: the queued message names her address.
        assert db.session.scalar(select(func.count(OutboxMessage.id)).where(OutboxMessage.payload.contains(ADA)))
    result = comment_app.test_cli_runner().invoke(args=["erase-commenter", ADA, "--remove"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Removed 2 comments")
    with comment_app.app_context():
        blanked = db.session.get(Comment, ids["ada"])
        assert blanked.deleted_at is not None
        assert (blanked.author, blanked.email, blanked.website, blanked.body, blanked.body_html) == (
            "",
            None,
            None,
            "",
            "",
        )
        assert db.session.get(Comment, ids["ada_again"]) is None
        reply = db.session.get(Comment, ids["bob"])
        assert (reply.parent_id, reply.author, reply.status) == (ids["ada"], "Bob", CommentStatus.PUBLISHED)
        assert not db.session.scalar(select(func.count(OutboxMessage.id)).where(OutboxMessage.payload.contains(ADA)))
    api = comment_client.get("/api/comments", query_string={"page": ARTICLE}).json
    assert [(c["id"], c["deleted"], c["author"]) for c in api["comments"]] == [
        (ids["ada"], True, None),
        (ids["bob"], False, "Bob"),
    ]
    shown = everything_shown(comment_client, comment_app)
    assert "Glad you liked it" in shown["page"]
    for where, text in shown.items():
        for trace in ADA_TRACES:
            assert trace not in text, f"{trace!r} is still in the {where}"


def test_erase_of_an_unknown_address_changes_nothing(comment_app, comment_client):
    ids = discussion(comment_client, comment_app)
    result = comment_app.test_cli_runner().invoke(args=["erase-commenter", "nobody@reader.example", "--remove"])
    assert result.exit_code == 0, result.output
    assert result.output == "No comments have that email address; nothing changed.\n"
    with comment_app.app_context():
        assert db.session.get(Comment, ids["ada"]).email == ADA
        assert db.session.scalar(select(func.count(Comment.id))) == 3


@pytest.mark.parametrize("email", ["ada.reader.example", "ada@", "@reader.example", "ada @reader.example"])
def test_erase_refuses_what_is_not_an_address(empty_app, email):
    result = empty_app.test_cli_runner().invoke(args=["erase-commenter", email, "--remove"])
    assert result.exit_code == 2
    assert "Invalid value for 'EMAIL'" in result.output
    assert "is not an email address (like ada@example.com)" in result.output
