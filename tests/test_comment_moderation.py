"""Comment moderation and spam defences, end to end: real emails, signed links, the admin, rate and size limits."""

from __future__ import annotations

import html
import re
import threading
import time
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from sqlalchemy import create_engine, select, text

from tests.support import (
    ARTICLE,
    COMMENT_ORIGINS,
    POSTGRES_URL,
    SITE,
    Admin,
    csrf_token,
    deliver_outbox,
    form_token,
    make_app,
    post_comment,
    reset_postgres,
)
from widget.comments import moderation, tokens
from widget.extensions import db
from widget.models import Comment, OutboxMessage

THERAPIST = "therapist@studio.example"
PUBLIC_URL = "http://widget.test"
OTHER_ARTICLE = f"{SITE}/blog/after-care"
ADA = {"name": "Ada Reader", "email": "ada@reader.example"}
BOB = {"name": "Bob Answer", "email": "bob@reader.example"}
CAROL = {"name": "Carol New", "email": "carol@reader.example"}
TWO_LINKS = "See https://one.example/a and https://two.example/b for more."
PASTED = "Cheap massage oils here, best prices in town!"


# --- Helpers ---------------------------------------------------------------------------------------------------------


def _text(message) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert body is not None and body.get_content_type() == "text/plain"
    return body.get_content()


def _link(message, kind: str) -> str:
    """Return the path of the one ``kind`` link (approve, delete, unsubscribe) in an email's text part."""
    found = re.findall(rf"{re.escape(PUBLIC_URL)}/comments/{kind}/[^\s<>\"]+", _text(message))
    assert len(found) == 1, (kind, _text(message))
    return urlsplit(found[0]).path


def _token(path: str) -> str:
    return path.rsplit("/", 1)[1]


def _tampered(token: str) -> str:
    """Return the token with one character of its signature changed (a middle one: every bit of it counts)."""
    position = len(token) - 10
    return token[:position] + ("A" if token[position] != "A" else "B") + token[position + 1 :]


def _row(app, comment_id: int) -> dict | None:
    """Return what is stored about a comment, or None when it is gone."""
    with app.app_context():
        comment = db.session.get(Comment, comment_id)
        if comment is None:
            return None
        return {
            "status": comment.status,
            "reason": comment.reason,
            "email": comment.email,
            "notify": comment.notify_replies,
            "deleted": comment.deleted_at is not None,
            "body": comment.body,
        }


def _statuses(app) -> dict[int, str]:
    with app.app_context():
        return dict(db.session.execute(select(Comment.id, Comment.status)).all())


def _outbox_keys(app) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(select(OutboxMessage.key).order_by(OutboxMessage.id)))


def _shown(client, page: str = ARTICLE) -> list[dict]:
    response = client.get("/api/comments", query_string={"page": page})
    assert response.status_code == 200, response.text
    return response.json["comments"]


def _post_raw(client, token: str | None, body: str = "A perfectly ordinary remark.", **fields):
    """Post through the API exactly as given: no clock advance, ``token`` None leaves form_token out."""
    payload = {"page": ARTICLE, **ADA, "body": body, **fields}
    if token is not None:
        payload["form_token"] = token
    return client.post("/api/comments", json=payload)


def _confirm(client, path: str):
    """Open a link's page as a browser does (GET), then press its button (POST with the page's CSRF token)."""
    page = client.get(path)
    assert page.status_code == 200, page.text
    return client.post(path, data={"csrf_token": csrf_token(page.text)})


def _approve(app, *ids: int) -> None:
    """Publish comments directly (the admin and the links are tested on their own below)."""
    with app.app_context():
        assert moderation.moderate(list(ids), "approve") == len(ids)


def _published(app, client, body: str, **fields) -> int:
    """Post a comment and make sure it ends up published; return its id."""
    response = post_comment(client, app, body, **fields)
    assert response.status_code == 201, response.text
    if response.json["status"] != "published":
        _approve(app, response.json["id"])
    return response.json["id"]


def _held(app, client, mailbox, body: str = "Is the hot-stone massage safe in pregnancy?", **fields):
    """Post a comment from a new address; return its id and the approve and delete paths of the therapist's email."""
    deliver_outbox(app)  # what earlier steps queued, so that the counts below are this comment's
    before, total = len(mailbox.received_by(THERAPIST)), len(mailbox.messages)
    response = post_comment(client, app, body, **{**CAROL, **fields})
    assert response.status_code == 201 and response.json["status"] == "pending", response.text
    deliver_outbox(app)
    mailbox.wait_for(total + 1)
    emails = mailbox.received_by(THERAPIST)
    assert len(emails) == before + 1
    return response.json["id"], _link(emails[-1], "approve"), _link(emails[-1], "delete")


@pytest.fixture
def therapist(comment_app, comment_client):
    """Return the therapist's Admin helper on comment_app, password set, not yet signed in."""
    helper = Admin(comment_app, comment_client)
    helper.set_password()
    return helper


# --- 1. The moderation lifecycle ------------------------------------------------------------------------------------


def test_first_comment_is_held_then_approved_by_the_emailed_link_and_the_author_becomes_trusted(
    comment_app, comment_client, mailbox
):
    first = post_comment(comment_client, comment_app, "Thank you, this helped my back a lot.", **ADA)
    assert first.status_code == 201 and first.json["status"] == "pending"
    comment_id = first.json["id"]
    assert _row(comment_app, comment_id)["status"] == "pending"
    assert _shown(comment_client) == []

    deliver_outbox(comment_app)
    emails = mailbox.wait_for(1)
    assert len(emails) == 1 and mailbox.received_by(THERAPIST) == emails
    assert "Ada Reader" in emails[0]["Subject"] and "Thank you, this helped my back a lot." in _text(emails[0])
    approve, delete = _link(emails[0], "approve"), _link(emails[0], "delete")
    assert approve != delete

    # A mail scanner fetching the link must not publish anything.
    page = comment_client.get(approve)
    assert page.status_code == 200 and "Approve this comment?" in page.text
    assert "Thank you, this helped my back a lot." in page.text
    assert _row(comment_app, comment_id)["status"] == "pending" and _shown(comment_client) == []

    done = comment_client.post(approve, data={"csrf_token": csrf_token(page.text)})
    assert done.status_code == 200 and "The comment is published." in done.text
    assert _row(comment_app, comment_id)["status"] == "published"
    shown = _shown(comment_client)
    assert [c["id"] for c in shown] == [comment_id]
    assert shown[0]["author"] == "Ada Reader" and "helped my back" in shown[0]["body_html"]

    # Known now: the next comment is published at once, and the therapist is not bothered.
    second = post_comment(comment_client, comment_app, "And the stretches work too.", **ADA)
    assert second.status_code == 201 and second.json["status"] == "published"
    assert [c["id"] for c in _shown(comment_client)] == [comment_id, second.json["id"]]
    deliver_outbox(comment_app)
    assert len(mailbox.messages) == 1

    # Two links are held even from a known address, with a new email and fresh links.
    linked = post_comment(comment_client, comment_app, TWO_LINKS, **ADA)
    assert linked.status_code == 201 and linked.json["status"] == "pending"
    assert _row(comment_app, linked.json["id"])["reason"] == "has 2 links"
    deliver_outbox(comment_app)
    emails = mailbox.wait_for(2)
    assert len(emails) == 2 and mailbox.received_by(THERAPIST) == emails
    delete_linked = _link(emails[1], "delete")
    assert delete_linked != delete

    asked = comment_client.get(delete_linked)
    assert asked.status_code == 200 and "Delete this comment?" in asked.text
    assert _row(comment_app, linked.json["id"])["status"] == "pending"
    done = comment_client.post(delete_linked, data={"csrf_token": csrf_token(asked.text)})
    assert done.status_code == 200 and "The comment is deleted." in done.text
    assert _row(comment_app, linked.json["id"]) is None
    assert [c["id"] for c in _shown(comment_client)] == [comment_id, second.json["id"]]
    assert _row(comment_app, comment_id)["status"] == "published"


@pytest.mark.parametrize("kind", ["approve", "delete"])
def test_moderation_link_post_without_csrf_token_changes_nothing(comment_app, comment_client, mailbox, kind):
    comment_id, approve, delete = _held(comment_app, comment_client, mailbox)
    path = {"approve": approve, "delete": delete}[kind]
    comment_client.get(path)  # the session exists; only the form's token is missing
    response = comment_client.post(path, data={})
    assert response.status_code == 400
    assert _row(comment_app, comment_id)["status"] == "pending"
    assert _confirm(comment_client, path).status_code == 200  # the same link still works when used properly


def test_held_email_shows_the_reason_and_who_wrote(comment_app, comment_client, mailbox):
    _held(comment_app, comment_client, mailbox, TWO_LINKS)
    deliver_outbox(comment_app)
    text = _text(mailbox.received_by(THERAPIST)[-1])
    assert "has 2 links" in text and "carol@reader.example" in text and "Carol New" in text


# --- 2. Links: one purpose each, signed, expiring ---------------------------------------------------------------------


def test_approve_token_cannot_delete_and_delete_token_cannot_approve(comment_app, comment_client, mailbox):
    comment_id, approve, delete = _held(comment_app, comment_client, mailbox)
    csrf = csrf_token(comment_client.get(approve).text)

    for wrong in (f"/comments/delete/{_token(approve)}", f"/comments/approve/{_token(delete)}"):
        assert comment_client.get(wrong).status_code == 410
        refused = comment_client.post(wrong, data={"csrf_token": csrf})
        assert refused.status_code == 410 and "cannot be used" in refused.text
        assert _row(comment_app, comment_id)["status"] == "pending"

    # The right links still do their own thing.
    assert comment_client.post(approve, data={"csrf_token": csrf}).status_code == 200
    assert _row(comment_app, comment_id)["status"] == "published"


@pytest.mark.parametrize("kind", ["approve", "delete"])
def test_tampered_moderation_token_is_refused(comment_app, comment_client, mailbox, kind):
    comment_id, approve, delete = _held(comment_app, comment_client, mailbox)
    path = {"approve": approve, "delete": delete}[kind]
    csrf = csrf_token(comment_client.get(path).text)
    forged = f"/comments/{kind}/{_tampered(_token(path))}"
    assert forged != path
    assert comment_client.get(forged).status_code == 410
    assert comment_client.post(forged, data={"csrf_token": csrf}).status_code == 410
    assert comment_client.get(f"/comments/{kind}/not-a-token").status_code == 410
    assert _row(comment_app, comment_id)["status"] == "pending"


def test_moderation_links_expire_after_seven_days(comment_app, comment_client, mailbox):
    comment_id, approve, delete = _held(comment_app, comment_client, mailbox)
    clock = comment_app.extensions["clock"]
    clock.now += timedelta(days=7) - timedelta(seconds=1)
    assert comment_client.get(approve).status_code == 200
    csrf = csrf_token(comment_client.get(delete).text)

    clock.now += timedelta(seconds=2)  # 7 days and 1 second after the email
    for path in (approve, delete):
        page = comment_client.get(path)
        assert page.status_code == 410 and "expired" in page.text
        assert comment_client.post(path, data={"csrf_token": csrf}).status_code == 410
    assert _row(comment_app, comment_id)["status"] == "pending"


def test_links_for_a_deleted_comment_answer_410(comment_app, comment_client, mailbox):
    comment_id, approve, delete = _held(comment_app, comment_client, mailbox)
    assert _confirm(comment_client, delete).status_code == 200
    assert _row(comment_app, comment_id) is None
    csrf = csrf_token(comment_client.get("/admin/login").text)
    for path in (approve, delete):
        assert comment_client.get(path).status_code == 410
        assert comment_client.post(path, data={"csrf_token": csrf}).status_code == 410
    assert _statuses(comment_app) == {}


def test_links_for_a_blanked_comment_with_replies_answer_410(comment_app, comment_client, mailbox):
    parent = _published(comment_app, comment_client, "A question about cupping.", **ADA)
    _published(comment_app, comment_client, "An answer about cupping.", parent_id=parent, **BOB)
    # A fresh held comment's links, then the therapist deletes the parent from the admin's logic.
    held, approve, _ = _held(comment_app, comment_client, mailbox)
    with comment_app.app_context():
        assert moderation.moderate([parent], "delete") == 1
    assert _row(comment_app, parent)["deleted"]
    # A link made for the blanked parent now must not work.
    with comment_app.test_request_context():
        token = tokens.moderation_token(db.session.get(Comment, parent), "approve")
    assert comment_client.get(f"/comments/approve/{token}").status_code == 410
    assert comment_client.get(approve).status_code == 200  # an unrelated held comment's link still works
    assert _row(comment_app, held)["status"] == "pending"


def test_link_of_a_deleted_comment_does_not_act_on_the_next_comment(comment_app, comment_client, mailbox):
    deleted, old_approve, old_delete = _held(comment_app, comment_client, mailbox, "Buy followers now please.")
    assert _confirm(comment_client, old_delete).status_code == 200
    assert _row(comment_app, deleted) is None

    newer, approve, _ = _held(comment_app, comment_client, mailbox, "A real question about sciatica.", **BOB)
    csrf = csrf_token(comment_client.get(approve).text)
    assert comment_client.post(old_delete, data={"csrf_token": csrf}).status_code == 410
    assert _row(comment_app, newer) is not None
    assert comment_client.get(old_approve).status_code == 410
    assert comment_client.post(old_approve, data={"csrf_token": csrf}).status_code == 410
    assert _row(comment_app, newer)["status"] == "pending"


# --- 3. The admin ----------------------------------------------------------------------------------------------------


def _seed(app, client) -> dict[str, list[int]]:
    """Store two pending comments, one published and one spam; return their ids by status."""
    published = _published(app, client, "Published words of praise.", **ADA)
    pending = [
        post_comment(client, app, "Pending question one.", **BOB).json["id"],
        post_comment(client, app, "Pending question two.", **CAROL).json["id"],
    ]
    spam = post_comment(client, app, "Robot text in the trap.", homepage="http://spam.example", **BOB).json["id"]
    assert _statuses(app) == {published: "published", pending[0]: "pending", pending[1]: "pending", spam: "spam"}
    return {"published": [published], "pending": pending, "spam": [spam]}


def test_admin_lists_comments_by_status_with_counts(comment_app, comment_client, therapist, mailbox):
    _seed(comment_app, comment_client)
    therapist.login()

    listing = comment_client.get("/admin/comments")
    assert listing.status_code == 200
    for label in ("Waiting for you (2)", "Published (1)", "Spam (1)"):
        assert label in listing.text
    assert "Pending question one." in listing.text and "Pending question two." in listing.text
    assert "Published words of praise." not in listing.text and "Robot text in the trap." not in listing.text
    assert "bob@reader.example" in listing.text  # the therapist's own page may show addresses

    published = comment_client.get("/admin/comments?status=published")
    assert published.status_code == 200 and "Published words of praise." in published.text
    assert "Pending question one." not in published.text and "Robot text in the trap." not in published.text

    spam = comment_client.get("/admin/comments?status=spam")
    assert spam.status_code == 200 and "Robot text in the trap." in spam.text
    assert "filled in the hidden field only robots see" in spam.text
    assert "Pending question one." not in spam.text

    assert comment_client.get("/admin/comments?status=deleted").status_code == 404


def _moderate(client, ids: list[int], action: str, status: str = "pending", with_csrf: bool = True):
    data: dict = {"ids": [str(i) for i in ids], "action": action}
    if with_csrf:
        data["csrf_token"] = csrf_token(client.get(f"/admin/comments?status={status}").text)
    return client.post(f"/admin/comments?status={status}", data=data)


def test_bulk_actions_change_every_ticked_comment_and_nothing_else(comment_app, comment_client, therapist, mailbox):
    ids = [post_comment(comment_client, comment_app, f"Question number {n}.", **BOB).json["id"] for n in range(4)]
    untouched = post_comment(comment_client, comment_app, "Leave me waiting.", **CAROL).json["id"]
    # BOB's later comments are pending too: not published yet, so not known.
    assert set(_statuses(comment_app).values()) == {"pending"}
    therapist.login()

    approved = _moderate(comment_client, ids[:3], "approve")
    assert approved.status_code == 302 and approved.headers["Location"].endswith("/admin/comments?status=pending")
    assert "3 comments approved." in comment_client.get("/admin/comments").text
    assert [_row(comment_app, i)["status"] for i in ids] == ["published", "published", "published", "pending"]

    assert _moderate(comment_client, [ids[0], ids[3]], "spam", status="published").status_code == 302
    assert [_row(comment_app, i)["status"] for i in ids] == ["spam", "published", "published", "spam"]
    assert _row(comment_app, ids[3])["reason"] == "marked as spam by the therapist"

    assert _moderate(comment_client, [ids[0], ids[1], ids[3]], "delete", status="spam").status_code == 302
    assert "3 comments deleted." in comment_client.get("/admin/comments?status=spam").text
    assert _statuses(comment_app) == {ids[2]: "published", untouched: "pending"}


def test_bulk_action_without_csrf_token_changes_nothing(comment_app, comment_client, therapist, mailbox):
    seeded = _seed(comment_app, comment_client)
    before = _statuses(comment_app)
    therapist.login()
    for action in ("approve", "spam", "delete"):
        response = _moderate(comment_client, seeded["pending"] + seeded["spam"], action, with_csrf=False)
        assert response.status_code == 302
        assert _statuses(comment_app) == before
    assert "The form expired" in comment_client.get("/admin/comments").text


def test_bulk_action_when_signed_out_redirects_to_login_and_changes_nothing(comment_app, comment_client, mailbox):
    seeded = _seed(comment_app, comment_client)
    before = _statuses(comment_app)
    listing = comment_client.get("/admin/comments")
    assert listing.status_code == 302 and "/admin/login" in listing.headers["Location"]
    csrf = csrf_token(comment_client.get("/admin/login").text)  # a valid token does not make up for signing in
    for action in ("approve", "spam", "delete"):
        response = comment_client.post(
            "/admin/comments", data={"ids": [str(i) for i in seeded["pending"]], "action": action, "csrf_token": csrf}
        )
        assert response.status_code == 302 and "/admin/login" in response.headers["Location"]
    assert _statuses(comment_app) == before


def test_spam_rescued_by_approve_is_published(comment_app, comment_client, therapist, mailbox):
    spam = post_comment(comment_client, comment_app, "Honest words, wrongly trapped.", homepage="x", **ADA)
    assert spam.json["status"] == "pending" and _row(comment_app, spam.json["id"])["status"] == "spam"
    therapist.login()
    assert _moderate(comment_client, [spam.json["id"]], "approve", status="spam").status_code == 302
    rescued = _row(comment_app, spam.json["id"])
    assert rescued["status"] == "published" and rescued["reason"] is None
    assert [c["id"] for c in _shown(comment_client)] == [spam.json["id"]]
    assert "Spam (0)" in comment_client.get("/admin/comments?status=spam").text


def test_public_pages_never_show_an_email_address(comment_app, comment_client, therapist, mailbox):
    parent = _published(comment_app, comment_client, "Visible words by Ada.", website="ada.example", **ADA)
    answer = post_comment(comment_client, comment_app, "Visible reply by Bob.", parent_id=parent, **BOB)
    _approve(comment_app, answer.json["id"])
    assert "@" not in answer.text
    pages = {
        "api": comment_client.get("/api/comments", query_string={"page": ARTICLE}),
        "frame": comment_client.get("/comments", query_string={"page": ARTICLE}),
        "feed": comment_client.get("/comments/feed.atom", query_string={"page": ARTICLE}),
    }
    for name, response in pages.items():
        assert response.status_code == 200, name
        assert "Visible words by Ada." in response.text and "Visible reply by Bob." in response.text, name
        for address in ("ada@reader.example", "bob@reader.example", "reader.example"):
            assert address not in response.text, (name, address)
    therapist.login()
    assert "ada@reader.example" in comment_client.get("/admin/comments?status=published").text


# --- 4. Reply notifications --------------------------------------------------------------------------------------


def _parent_asking_for_replies(app, client, **fields) -> int:
    return _published(app, client, "What oil do you use for deep tissue?", notify=True, **{**ADA, **fields})


def test_published_reply_emails_the_parent_author_once(comment_app, comment_client, mailbox):
    parent = _parent_asking_for_replies(comment_app, comment_client)
    _published(comment_app, comment_client, "Bob's first words, elsewhere.", page=OTHER_ARTICLE, **BOB)
    assert _row(comment_app, parent)["notify"] is True

    reply = post_comment(comment_client, comment_app, "We use warm almond oil.", parent_id=parent, **BOB)
    assert reply.status_code == 201 and reply.json["status"] == "published"
    deliver_outbox(comment_app)
    emails = mailbox.received_by(ADA["email"])
    assert len(emails) == 1
    assert emails[0]["Subject"] == "Bob Answer replied to your comment"
    text = _text(emails[0])
    assert "We use warm almond oil." in text and _link(emails[0], "unsubscribe").startswith("/comments/unsubscribe/")
    assert "bob@reader.example" not in text
    deliver_outbox(comment_app)
    assert mailbox.received_by(BOB["email"]) == []


def test_pending_reply_emails_the_parent_author_only_once_approved(comment_app, comment_client, mailbox):
    parent = _parent_asking_for_replies(comment_app, comment_client)
    reply_id, approve, _ = _held(comment_app, comment_client, mailbox, "Carol's reply, held for now.", parent_id=parent)
    deliver_outbox(comment_app)
    assert mailbox.received_by(ADA["email"]) == []

    assert _confirm(comment_client, approve).status_code == 200
    assert _row(comment_app, reply_id)["status"] == "published"
    deliver_outbox(comment_app)
    emails = mailbox.received_by(ADA["email"])
    assert len(emails) == 1 and "Carol's reply, held for now." in _text(emails[0])

    # Approving again (the link, then the admin's logic) sends nothing more.
    again = comment_client.get(approve)
    assert again.status_code == 200 and "already published" in again.text
    csrf = csrf_token(comment_client.get("/admin/login").text)
    assert comment_client.post(approve, data={"csrf_token": csrf}).status_code == 200
    with comment_app.app_context():
        moderation.moderate([reply_id], "spam")
        moderation.moderate([reply_id], "approve")
    deliver_outbox(comment_app)
    assert len(mailbox.received_by(ADA["email"])) == 1


def test_reply_by_the_parent_author_sends_no_email(comment_app, comment_client, mailbox):
    parent = _parent_asking_for_replies(comment_app, comment_client)
    own = post_comment(comment_client, comment_app, "Answering myself: coconut.", parent_id=parent, **ADA)
    assert own.json["status"] == "published"
    deliver_outbox(comment_app)
    assert mailbox.received_by(ADA["email"]) == []
    # Someone else's reply still reaches Ada: the silence above was not an outage.
    _published(comment_app, comment_client, "Bob's first words, elsewhere.", page=OTHER_ARTICLE, **BOB)
    post_comment(comment_client, comment_app, "Bob says jojoba.", parent_id=parent, **BOB)
    deliver_outbox(comment_app)
    assert len(mailbox.received_by(ADA["email"])) == 1


def test_reply_to_a_parent_without_notify_sends_no_email(comment_app, comment_client, mailbox):
    quiet = _published(comment_app, comment_client, "Do not write to me.", **ADA)
    asking = _published(comment_app, comment_client, "Do write to me.", notify=True, **CAROL)
    _published(comment_app, comment_client, "Bob's first words, elsewhere.", page=OTHER_ARTICLE, **BOB)
    assert _row(comment_app, quiet)["notify"] is False
    post_comment(comment_client, comment_app, "A reply Ada never hears of.", parent_id=quiet, **BOB)
    post_comment(comment_client, comment_app, "A reply Carol hears of.", parent_id=asking, **BOB)
    deliver_outbox(comment_app)
    assert mailbox.received_by(ADA["email"]) == []
    assert len(mailbox.received_by(CAROL["email"])) == 1


def test_unsubscribe_link_asks_first_then_stops_reply_emails(comment_app, comment_client, mailbox):
    parent = _parent_asking_for_replies(comment_app, comment_client)
    _published(comment_app, comment_client, "Bob's first words, elsewhere.", page=OTHER_ARTICLE, **BOB)
    post_comment(comment_client, comment_app, "First reply from Bob.", parent_id=parent, **BOB)
    deliver_outbox(comment_app)
    unsubscribe = _link(mailbox.received_by(ADA["email"])[0], "unsubscribe")

    asked = comment_client.get(unsubscribe)
    assert asked.status_code == 200 and "Stop emails about replies?" in asked.text
    assert _row(comment_app, parent)["notify"] is True
    post_comment(comment_client, comment_app, "Second reply from Bob.", parent_id=parent, **BOB)
    deliver_outbox(comment_app)
    assert len(mailbox.received_by(ADA["email"])) == 2  # a GET (a mail scanner) changed nothing

    assert comment_client.post(unsubscribe, data={}).status_code == 400  # no CSRF token: nothing changes
    assert _row(comment_app, parent)["notify"] is True

    done = comment_client.post(unsubscribe, data={"csrf_token": csrf_token(asked.text)})
    assert done.status_code == 200 and "no more emails" in done.text
    assert _row(comment_app, parent)["notify"] is False
    post_comment(comment_client, comment_app, "Third reply from Bob.", parent_id=parent, **BOB)
    deliver_outbox(comment_app)
    assert len(mailbox.received_by(ADA["email"])) == 2


def test_forged_unsubscribe_token_is_refused(comment_app, comment_client, mailbox):
    parent = _parent_asking_for_replies(comment_app, comment_client)
    _published(comment_app, comment_client, "Bob's first words, elsewhere.", page=OTHER_ARTICLE, **BOB)
    post_comment(comment_client, comment_app, "First reply from Bob.", parent_id=parent, **BOB)
    deliver_outbox(comment_app)
    real = _link(mailbox.received_by(ADA["email"])[0], "unsubscribe")
    csrf = csrf_token(comment_client.get(real).text)
    with comment_app.test_request_context():
        approve_token = tokens.moderation_token(db.session.get(Comment, parent), "approve")
    for token in (_tampered(_token(real)), approve_token, "forged"):
        assert comment_client.get(f"/comments/unsubscribe/{token}").status_code == 410
        assert comment_client.post(f"/comments/unsubscribe/{token}", data={"csrf_token": csrf}).status_code == 410
    assert _row(comment_app, parent)["notify"] is True


# --- 5. Spam defences -------------------------------------------------------------------------------------------------


def _honeypot(app, client):
    token = form_token(client)
    app.extensions["clock"].now += timedelta(seconds=5)
    return _post_raw(client, token, "Robot filled the trap.", homepage="http://cheap-pills.example")


def _too_fast(app, client):
    # The clock does not move: the post comes 0 s after the form was shown.
    return _post_raw(client, form_token(client), "Robot was too quick.")


def _without_token(app, client):
    return _post_raw(client, None, "Robot never saw the form.")


def _edit_token_as_form_token(app, client):
    # An edit token is signed by us too, but for another purpose (taken from a spam post: no email either way).
    first = _post_raw(client, None, "Robot fetching an edit token.")
    assert first.status_code == 201
    app.extensions["clock"].now += timedelta(seconds=5)
    return _post_raw(client, first.json["edit_token"], "Robot reusing the edit token.")


SPAM_CASES = {
    "honeypot": (_honeypot, "filled in the hidden field only robots see"),
    "too fast": (_too_fast, "posted 0.0 s after the form was shown"),
    "no token": (_without_token, "posted without the comment form's token"),
    "edit token": (_edit_token_as_form_token, "posted without the comment form's token"),
}


@pytest.mark.parametrize("case", SPAM_CASES)
def test_spam_is_stored_as_spam_and_answered_like_a_held_comment(comment_app, comment_client, mailbox, case):
    make, reason = SPAM_CASES[case]
    deliver_outbox(comment_app)
    mail_before = len(mailbox.messages)
    response = make(comment_app, comment_client)
    assert response.status_code == 201, response.text
    assert response.json["status"] == "pending"
    stored = _row(comment_app, response.json["id"])
    assert (stored["status"], stored["reason"]) == ("spam", reason)
    deliver_outbox(comment_app)
    assert len(mailbox.messages) == mail_before
    assert _shown(comment_client) == []

    held = post_comment(comment_client, comment_app, "A genuine comment from a person.", **CAROL)
    assert held.json["status"] == "pending" and _row(comment_app, held.json["id"])["status"] == "pending"
    assert set(held.json) == set(response.json)
    # The held comment's email arrives; none came for the spam.
    deliver_outbox(comment_app)
    emails = mailbox.wait_for(mail_before + 1)
    assert len(emails) == mail_before + 1 and "A genuine comment from a person." in _text(emails[-1])


def test_honeypot_through_the_html_form_redirects_like_a_held_comment(comment_app, comment_client, mailbox):
    token = form_token(comment_client)
    comment_app.extensions["clock"].now += timedelta(seconds=5)
    fields = {"page": ARTICLE, "form_token": token, "body": "Form robot text.", **ADA}
    trapped = comment_client.post("/comments", data={**fields, "homepage": "http://cheap-pills.example"})
    assert trapped.status_code == 303 and "posted=pending" in trapped.headers["Location"]
    assert list(_statuses(comment_app).values()) == ["spam"]
    assert mailbox.messages == []


def test_form_token_older_than_two_days_is_refused_and_nothing_is_stored(comment_app, comment_client, mailbox):
    clock = comment_app.extensions["clock"]
    old, fresh = form_token(comment_client), None
    clock.now += timedelta(days=1)
    fresh = form_token(comment_client)
    clock.now += timedelta(days=1, seconds=1)  # old: 2 days and 1 s; fresh: 1 day and 1 s
    stale = _post_raw(comment_client, old)
    assert stale.status_code == 422 and list(stale.json["errors"]) == ["form_token"]
    assert "too old" in stale.json["errors"]["form_token"]
    assert _statuses(comment_app) == {} and mailbox.messages == []

    accepted = _post_raw(comment_client, fresh)
    assert accepted.status_code == 201
    assert _row(comment_app, accepted.json["id"])["status"] == "pending"


def test_same_text_from_another_address_within_30_days_is_spam(comment_app, comment_client, mailbox):
    first = post_comment(comment_client, comment_app, PASTED, **ADA)
    assert _row(comment_app, first.json["id"])["status"] == "pending"
    comment_app.extensions["clock"].now += timedelta(days=29)
    pasted = post_comment(comment_client, comment_app, "  cheap MASSAGE oils here,\nbest prices in town!", **BOB)
    assert pasted.status_code == 201 and pasted.json["status"] == "pending"
    assert _row(comment_app, pasted.json["id"])["status"] == "spam"
    assert _row(comment_app, pasted.json["id"])["reason"] == "the same text was posted by someone else"
    # On another page it is just as much spam: bots paste one text everywhere.
    elsewhere = post_comment(comment_client, comment_app, PASTED, page=OTHER_ARTICLE, **CAROL)
    assert _row(comment_app, elsewhere.json["id"])["status"] == "spam"
    deliver_outbox(comment_app)
    assert len(mailbox.received_by(THERAPIST)) == 1  # only Ada's first comment was held


def test_same_text_is_not_spam_after_30_days_nor_when_short(comment_app, comment_client, mailbox):
    post_comment(comment_client, comment_app, PASTED, **ADA)
    short = "Thanks a lot!"  # under 20 characters: many people say it
    post_comment(comment_client, comment_app, short, **ADA)
    also_short = post_comment(comment_client, comment_app, short, **BOB)
    assert _row(comment_app, also_short.json["id"])["status"] == "pending"
    comment_app.extensions["clock"].now += timedelta(days=30, seconds=1)
    late = post_comment(comment_client, comment_app, PASTED, **CAROL)
    assert _row(comment_app, late.json["id"])["status"] == "pending"


def test_same_person_same_text_same_page_is_409_and_not_stored(comment_app, comment_client, mailbox):
    first = post_comment(comment_client, comment_app, "My only thought on this article.", **ADA)
    assert first.status_code == 201
    again = post_comment(comment_client, comment_app, "My only thought on this article.", **ADA)
    assert again.status_code == 409 and "body" in again.json["errors"]
    assert list(_statuses(comment_app)) == [first.json["id"]]
    deliver_outbox(comment_app)
    assert len(mailbox.received_by(THERAPIST)) == 1
    # The same text on another page is a comment of its own.
    other = post_comment(comment_client, comment_app, "My only thought on this article.", page=OTHER_ARTICLE, **ADA)
    assert other.status_code == 201


def test_spam_is_listed_for_the_therapist_with_its_reason_and_sends_no_email(
    comment_app, comment_client, therapist, mailbox
):
    for make, _ in SPAM_CASES.values():
        make(comment_app, comment_client)
    post_comment(comment_client, comment_app, PASTED, **ADA)
    post_comment(comment_client, comment_app, PASTED, **CAROL)
    statuses = _statuses(comment_app)
    spam = [i for i, status in statuses.items() if status == "spam"]
    assert len(spam) == 6 and len(statuses) == 7
    # Only the one genuine comment (Ada's, held) emailed the therapist; nothing else went out.
    deliver_outbox(comment_app)
    assert len(mailbox.wait_for(1)) == 1 and len(mailbox.received_by(THERAPIST)) == 1
    assert len(_outbox_keys(comment_app)) == 1

    therapist.login()
    listing = html.unescape(comment_client.get("/admin/comments?status=spam").text)
    assert f"Spam ({len(spam)})" in listing
    for _, reason in SPAM_CASES.values():
        assert reason in listing
    assert "the same text was posted by someone else" in listing
    for comment_id in spam:
        assert f'name="ids" value="{comment_id}"' in listing


# --- 6. Rate limit per client address -------------------------------------------------------------------------------


def _limited_app(path, mailbox, **overrides):
    path.mkdir(exist_ok=True)
    return make_app(
        path,
        EMBED_ALLOWED_ORIGINS=COMMENT_ORIGINS,
        COMMENT_RATE_LIMIT="3 per minute",
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=str(mailbox.port),
        **overrides,
    )


def _api_post(app, client, n: int, address: str = "127.0.0.1"):
    token = form_token(client)
    app.extensions["clock"].now += timedelta(seconds=5)
    payload = {"page": ARTICLE, **ADA, "body": f"Comment number {n} from {address}.", "form_token": token}
    return client.post("/api/comments", json=payload, environ_base={"REMOTE_ADDR": address})


def _form_post(app, client, n: int, address: str = "127.0.0.1"):
    token = form_token(client)
    app.extensions["clock"].now += timedelta(seconds=5)
    data = {"page": ARTICLE, **ADA, "body": f"Form comment number {n} from {address}.", "form_token": token}
    return client.post("/comments", data=data, environ_base={"REMOTE_ADDR": address})


def test_fourth_api_post_from_one_address_is_429_json(tmp_path, mailbox):
    app = _limited_app(tmp_path, mailbox)
    client = app.test_client()
    assert [_api_post(app, client, n).status_code for n in range(3)] == [201, 201, 201]
    refused = _api_post(app, client, 3)
    assert refused.status_code == 429 and refused.is_json
    assert refused.json["status"] == 429 and "Retry-After" in refused.headers
    assert "<html" not in refused.text.lower()
    assert len(_statuses(app)) == 3
    assert _api_post(app, client, 4, address="203.0.113.9").status_code == 201
    assert len(_statuses(app)) == 4


def test_fourth_form_post_from_one_address_is_429_html(tmp_path, mailbox):
    app = _limited_app(tmp_path, mailbox)
    client = app.test_client()
    assert [_form_post(app, client, n).status_code for n in range(3)] == [303, 303, 303]
    refused = _form_post(app, client, 3)
    assert refused.status_code == 429 and refused.mimetype == "text/html"
    assert "Too Many Requests" in refused.text and "<html" in refused.text.lower()
    assert len(_statuses(app)) == 3
    assert _form_post(app, client, 4, address="203.0.113.9").status_code == 303


def test_api_and_form_share_one_budget_per_address(tmp_path, mailbox):
    app = _limited_app(tmp_path, mailbox)
    client = app.test_client()
    assert [_api_post(app, client, n).status_code for n in range(3)] == [201, 201, 201]
    assert _form_post(app, client, 3).status_code == 429


def test_edits_count_towards_the_rate_limit(tmp_path, mailbox):
    app = _limited_app(tmp_path, mailbox)
    client = app.test_client()
    posted = _api_post(app, client, 0)
    assert posted.status_code == 201 and posted.json["status"] == "pending"
    codes = []
    for n in range(4):
        app.extensions["clock"].now += timedelta(seconds=2)
        edited = client.patch(
            f"/api/comments/{posted.json['id']}",
            json={"body": f"Edited text, take {n}."},
            headers={"X-Comment-Token": posted.json["edit_token"]},
        )
        codes.append(edited.status_code)
    assert codes[-1] == 429, codes
    assert len(mailbox.received_by(THERAPIST)) <= 4


def test_rate_limit_is_shared_by_app_instances_through_redis(tmp_path, mailbox, redis_url):
    import redis

    first = _limited_app(tmp_path / "one", mailbox, REDIS_URL=redis_url)
    second = _limited_app(tmp_path / "two", mailbox, REDIS_URL=redis_url)
    one, two = first.test_client(), second.test_client()
    assert [_api_post(first, one, n).status_code for n in range(2)] == [201, 201]
    assert _api_post(second, two, 2).status_code == 201
    refused = _api_post(second, two, 3)
    assert refused.status_code == 429 and refused.is_json
    assert _api_post(first, one, 4).status_code == 429
    # The count lives in Redis (what other processes see), not in this process's memory.
    connection = redis.Redis.from_url(redis_url)
    try:
        keys = [key.decode() for key in connection.keys("*/comments/*")]
        assert keys, connection.keys("*")
        assert max(int(connection.get(key)) for key in keys) >= 3
    finally:
        connection.close()


# --- 7. Request size ------------------------------------------------------------------------------------------------


def test_body_over_max_content_length_is_413_json_and_nothing_is_stored(comment_app, comment_client, mailbox):
    limit = comment_app.config["MAX_CONTENT_LENGTH"]
    token = form_token(comment_client)
    comment_app.extensions["clock"].now += timedelta(seconds=5)
    payload = {"page": ARTICLE, **ADA, "form_token": token, "body": "x" * (limit + 1)}
    response = comment_client.post("/api/comments", json=payload)
    assert response.status_code == 413 and response.is_json
    assert response.json["status"] == 413
    assert _statuses(comment_app) == {} and mailbox.messages == []
    # Just under the limit the request is read, and the body's own limit answers.
    payload["body"] = "x" * (limit - 1000)
    assert comment_client.post("/api/comments", json=payload).status_code == 422


# --- 7. Edits, known commenters and stale links: what a hostile commenter tries -------------------------------------


def _edit(client, posted, body: str):
    """Change one's own comment through the API with its edit token; return the answer."""
    return client.patch(
        f"/api/comments/{posted['id']}", json={"body": body}, headers={"X-Comment-Token": posted["edit_token"]}
    )


def _known(app, client, person: dict = ADA) -> None:
    """Give a person one approved comment, on another article, so that their next ones publish at once."""
    _published(app, client, f"Hello from {person['name']}, here before.", page=OTHER_ARTICLE, **person)


def test_edit_adding_a_link_to_a_published_comment_holds_it_again(comment_app, comment_client, mailbox):
    _known(comment_app, comment_client)
    posted = post_comment(comment_client, comment_app, "Plain praise for the article.", **ADA).json
    assert posted["status"] == "published"
    deliver_outbox(comment_app)
    before = len(mailbox.messages)

    answer = _edit(comment_client, posted, "Plain praise, and see https://pills.example/cheap")
    assert answer.status_code == 200 and answer.json["status"] == "pending"
    assert _row(comment_app, posted["id"])["reason"] == "edited to add a link"
    assert _shown(comment_client) == []
    # The therapist is asked, with links that work on the new text.
    deliver_outbox(comment_app)
    emails = mailbox.wait_for(before + 1)
    assert emails[-1]["To"] == THERAPIST and "https://pills.example/cheap" in _text(emails[-1])
    page = comment_client.get(_link(emails[-1], "approve"))
    assert "https://pills.example/cheap" in page.text
    pressed = comment_client.post(_link(emails[-1], "approve"), data={"csrf_token": csrf_token(page.text)})
    assert pressed.status_code == 200
    assert [c["id"] for c in _shown(comment_client)] == [posted["id"]]


def test_edit_keeping_the_same_link_by_a_known_commenter_stays_published(comment_app, comment_client, mailbox):
    _known(comment_app, comment_client)
    posted = post_comment(comment_client, comment_app, "Oils: https://studio.example/oils are good.", **ADA).json
    assert posted["status"] == "published"
    before = len(mailbox.messages)
    answer = _edit(comment_client, posted, "Oils at https://studio.example/oils are lovely, I mean.")
    assert answer.status_code == 200 and answer.json["status"] == "published"
    assert "lovely" in _shown(comment_client)[0]["body_html"]
    assert len(mailbox.messages) == before


def test_edit_of_a_first_comment_approved_by_the_therapist_goes_back_to_her(comment_app, comment_client, mailbox):
    posted = post_comment(comment_client, comment_app, "Is hot stone safe for me?", **CAROL).json
    assert posted["status"] == "pending"
    deliver_outbox(comment_app)
    emails = mailbox.wait_for(1)
    assert _confirm(comment_client, _link(emails[0], "approve")).status_code == 200
    assert [c["id"] for c in _shown(comment_client)] == [posted["id"]]

    answer = _edit(comment_client, posted, "Visit my casino for free spins, no links needed.")
    assert answer.status_code == 200 and answer.json["status"] == "pending"
    assert _shown(comment_client) == []
    stored = _row(comment_app, posted["id"])
    assert stored["reason"] == "edited after publication: no other approved comment by this name and email"
    deliver_outbox(comment_app)
    emails = mailbox.wait_for(2)
    assert "free spins" in _text(emails[1])

    # Approved again and rewritten again: she is asked again, each time.
    assert _confirm(comment_client, _link(emails[1], "approve")).status_code == 200
    assert _edit(comment_client, posted, "Free spins, once more.").json["status"] == "pending"
    deliver_outbox(comment_app)
    emails = mailbox.wait_for(3)
    assert "once more" in _text(emails[2])
    assert _shown(comment_client) == []


def test_edit_by_a_known_commenter_without_a_new_link_stays_published(comment_app, comment_client, mailbox):
    _known(comment_app, comment_client)
    posted = post_comment(comment_client, comment_app, "A first draft of my thanks.", **ADA).json
    assert posted["status"] == "published"
    before = len(mailbox.messages)
    answer = _edit(comment_client, posted, "The final version of my thanks.")
    assert answer.status_code == 200 and answer.json["status"] == "published"
    assert "final version" in _shown(comment_client)[0]["body_html"]
    assert len(mailbox.messages) == before


def test_known_email_with_another_name_is_held_and_answered_like_a_first_comment(comment_app, comment_client, mailbox):
    _known(comment_app, comment_client)
    regular = _published(comment_app, comment_client, "Ada's own words on this very article.", **ADA)
    impostor = {"name": "Mallory", "email": ADA["email"]}

    posed = post_comment(comment_client, comment_app, "Posing as a regular, with her address.", **impostor)
    newcomer = post_comment(comment_client, comment_app, "A genuine first comment from me.", **CAROL)
    assert posed.status_code == newcomer.status_code == 201
    assert posed.json["status"] == newcomer.json["status"] == "pending"
    assert set(posed.json) == set(newcomer.json)
    assert _row(comment_app, posed.json["id"])["reason"] == "no other approved comment by this name and email"

    # Her published text, sent again under her address and another name: not "you already posted this".
    copied = post_comment(comment_client, comment_app, "Ada's own words on this very article.", **impostor)
    assert copied.status_code == 201 and copied.json["status"] == "pending", copied.text
    assert [c["id"] for c in _shown(comment_client)] == [regular]


def test_known_commenter_is_recognised_by_name_whatever_its_case_and_spaces(comment_app, comment_client, mailbox):
    _known(comment_app, comment_client)
    again = post_comment(
        comment_client, comment_app, "Still me, typed differently.", name="  ada READER ", email=ADA["email"]
    )
    assert again.status_code == 201 and again.json["status"] == "published"


def test_approval_link_of_a_comment_marked_as_spam_since_no_longer_applies(
    comment_app, comment_client, therapist, mailbox
):
    comment_id, approve, delete = _held(comment_app, comment_client, mailbox)
    asked = comment_client.get(approve)  # the page is open in her mail client...
    therapist.login()
    assert _moderate(comment_client, [comment_id], "spam").status_code == 302  # ...when the admin says spam

    pressed = comment_client.post(approve, data={"csrf_token": csrf_token(asked.text)})
    assert pressed.status_code == 410 and "marked as spam" in pressed.text and "no longer applies" in pressed.text
    again = comment_client.get(approve)
    assert again.status_code == 410 and "marked as spam" in again.text
    assert _row(comment_app, comment_id)["status"] == "spam" and _shown(comment_client) == []

    # Deleting it by the other link is what she would do in the admin anyway: allowed.
    assert _confirm(comment_client, delete).status_code == 200
    assert _row(comment_app, comment_id) is None


def test_approval_link_of_a_comment_deleted_since_the_page_was_shown_no_longer_applies(
    comment_app, comment_client, therapist, mailbox
):
    comment_id, approve, _ = _held(comment_app, comment_client, mailbox)
    asked = comment_client.get(approve)
    therapist.login()
    assert _moderate(comment_client, [comment_id], "delete").status_code == 302
    pressed = comment_client.post(approve, data={"csrf_token": csrf_token(asked.text)})
    assert pressed.status_code == 410 and "deleted" in pressed.text
    assert _statuses(comment_app) == {}


# --- 8. Two callers at the same instant (PostgreSQL: the admin's change is committed while a link waits) --------------


@pytest.fixture
def pg_comment_app(tmp_path, mailbox):
    """Return an app on a fresh PostgreSQL database, comments open for SITE, mail to ``mailbox``."""
    reset_postgres()
    return make_app(
        tmp_path,
        POSTGRES_URL,
        EMBED_ALLOWED_ORIGINS=COMMENT_ORIGINS,
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=str(mailbox.port),
    )


# Sessions of this test database waiting for a lock (other databases of the server may be busy too).
WAITING = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"


def _during_uncommitted_spam(app, comment_id: int, request) -> object:
    """Mark a comment as spam in a transaction held open while ``request()`` runs; return its answer.

    The transaction commits only once the request is seen waiting for the row's lock, as when the
    therapist presses "Mark as spam" in the admin at the instant a link or an edit is sent.
    """
    engine = create_engine(POSTGRES_URL)
    answers: list = []
    try:
        with engine.connect() as admin, engine.connect() as watcher:
            admin.execute(text("UPDATE comments SET status = 'spam' WHERE id = :id"), {"id": comment_id})
            thread = threading.Thread(target=lambda: answers.append(request()))
            thread.start()
            deadline = time.monotonic() + 10
            while not watcher.execute(text(WAITING)).scalar():
                watcher.commit()
                assert time.monotonic() < deadline, "the request never waited for the admin's transaction"
                assert thread.is_alive(), answers
                time.sleep(0.02)
            admin.commit()
            thread.join(10)
    finally:
        engine.dispose()
    assert len(answers) == 1
    return answers[0]


def _pending_on(app, client) -> int:
    response = post_comment(client, app, "Held on PostgreSQL, waiting for her.", **CAROL)
    assert response.status_code == 201 and response.json["status"] == "pending"
    return response.json["id"]


def test_approval_link_pressed_while_the_admin_marks_spam_leaves_it_spam(pg_comment_app, mailbox):
    app, client = pg_comment_app, pg_comment_app.test_client()
    comment_id = _pending_on(app, client)
    with app.test_request_context():
        path = f"/comments/approve/{tokens.moderation_token(db.session.get(Comment, comment_id), 'approve')}"
    asked = client.get(path)
    assert asked.status_code == 200

    pressed = _during_uncommitted_spam(
        app, comment_id, lambda: client.post(path, data={"csrf_token": csrf_token(asked.text)})
    )
    assert pressed.status_code == 410 and "marked as spam" in pressed.text
    assert _row(app, comment_id)["status"] == "spam"


def test_edit_sent_while_the_admin_marks_spam_leaves_it_spam(pg_comment_app, mailbox):
    app, client = pg_comment_app, pg_comment_app.test_client()
    _known(app, client, CAROL)
    posted = post_comment(client, app, "Published on PostgreSQL, for now.", **CAROL).json
    assert posted["status"] == "published"

    edited = _during_uncommitted_spam(app, posted["id"], lambda: _edit(client, posted, TWO_LINKS))
    assert edited.status_code == 200
    assert _row(app, posted["id"])["status"] == "spam"
