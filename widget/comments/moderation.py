"""Comments under the studio's articles: threads, moderation, spam defences.

A thread is keyed by its article's normalised URL.  A comment's text is
turned into HTML once, when it is written (``render``); reads serve the
stored HTML.  The rules follow WordPress's defaults: a comment is held for the
therapist unless a comment by the same name and email was approved before, a
comment with two or more links is held, and an edit is held again when it
adds a link or when its author would be held with a new comment.  Spam that
the defences catch is stored as spam, never dropped, so the therapist can
rescue a mistake.

Links for the therapist (approve, delete) and for the commenter (edit,
unsubscribe) are signed tokens, one purpose each (comments/tokens.py).
"""

from __future__ import annotations

import math
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urlsplit, urlunsplit

import nh3
from email_validator import EmailNotValidError, validate_email
from flask import current_app
from markupsafe import escape
from sqlalchemy import delete, func, inspect, select

from .. import outbox
from ..extensions import begin_writing, db
from ..models import (
    COMMENT_BODY_MAX,
    COMMENT_BODY_MIN,
    COMMENT_LIMITS,
    PENDING,
    PUBLISHED,
    SPAM,
    Comment,
    OutboxMessage,
)
from ..timezones import utc_now
from . import emails
from .tokens import EDIT_WINDOW, GONE, BadToken, check_link, comment_for, comment_named, edit_token, form_age, unsign

STATUSES = (PENDING, PUBLISHED, SPAM)
# The limits live with the columns they size (models.py); the form and the API's schema read them too.
LIMITS = COMMENT_LIMITS
BODY_MIN, BODY_MAX = COMMENT_BODY_MIN, COMMENT_BODY_MAX
# Replies nest this deep (0 is a comment on the article); deeper replies join the deepest level.
MAX_DEPTH = 2
# A comment with this many links or more waits for the therapist.
HOLD_LINKS = 2
MIN_FILL = timedelta(seconds=3)
# The same text from someone else within this time is taken for spam (bots paste one text everywhere).
REPEAT_WINDOW = timedelta(days=30)
REPEAT_MIN_LENGTH = 20
THREADS_PER_PAGE = 50
LISTED_PER_PAGE = 50  # in the admin's lists

URL = re.compile(r"https?://[^\s<>\"'`]+", re.IGNORECASE)
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Half of a UTF-16 pair: JSON can carry one ("\ud800"), but it is not text and cannot be stored.
SURROGATE = re.compile(r"[\ud800-\udfff]")
ID = re.compile(r"[0-9]{1,18}")
TRAILING = ".,;:!?'\"]}*"


class InvalidComment(Exception):
    """Input a comment cannot have; ``errors`` maps each bad field to a message."""

    def __init__(self, errors: dict[str, str]):
        super().__init__(errors)
        self.errors = errors


class DuplicateComment(InvalidComment):
    """The same person already said exactly this on this page."""


# -- Pages --------------------------------------------------------------------------------------------------------


def normalise_page(url: object, allowed: list[str] | None = None) -> str:
    """Return the thread key of an article URL: its origin must be allowed; query and fragment are dropped.

    ``https://Studio.example:443/blog/post/?utm=x#top`` becomes
    ``https://studio.example/blog/post``: scheme and host lower-cased, the
    default port and the trailing slash dropped (the site's root stays ``/``).
    """
    if allowed is None:
        allowed = current_app.config["EMBED_ALLOWED_ORIGINS"]
    if not isinstance(url, str) or not url.strip():
        raise InvalidComment({"page": "is required: the address of the article"})
    url = url.strip()
    if len(url) > LIMITS["page"]:
        raise InvalidComment({"page": f"must be at most {LIMITS['page']} characters"})
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise InvalidComment({"page": f"{url!r} is not a web address"}) from None
    scheme, host = parts.scheme.lower(), (parts.hostname or "")
    if scheme not in ("http", "https") or not host or CONTROL.search(url) or SURROGATE.search(url) or " " in url:
        raise InvalidComment({"page": f"{url!r} is not an http(s) web address"})
    if port is not None and port != {"http": 80, "https": 443}[scheme]:
        host = f"{host}:{port}"
    origin = f"{scheme}://{host}"
    if origin not in allowed:
        raise InvalidComment({"page": f"{origin} is not one of the sites comments are open for"})
    path = parts.path.rstrip("/") or "/"
    return urlunsplit((scheme, host, path, "", ""))


# -- Rendering ----------------------------------------------------------------------------------------------------


def _trim_url(url: str) -> str:
    """Drop punctuation that ends the sentence rather than the address."""
    while url and (url[-1] in TRAILING or (url[-1] == ")" and url.count("(") < url.count(")"))):
        url = url[:-1]
    return url


def links_in(text: str) -> list[str]:
    """Return the http(s) addresses in a text, as they will be linked."""
    return [url for url in (_trim_url(match.group()) for match in URL.finditer(text)) if len(url) > len("https://")]


def _line(text: str) -> str:
    out, position = [], 0
    for match in URL.finditer(text):
        url = _trim_url(match.group())
        if len(url) <= len("https://"):
            continue
        out.append(str(escape(text[position : match.start()])))
        out.append(f'<a href="{escape(url)}">{escape(url)}</a>')
        position = match.start() + len(url)
    out.append(str(escape(text[position:])))
    return "".join(out)


def render(text: str) -> str:
    """Return the HTML of a plain-text comment: paragraphs, line breaks, linked addresses, the rest escaped."""
    paragraphs = [part.strip("\n") for part in re.split(r"\n[ \t]*\n", text.strip())]
    html = "".join(
        "<p>" + "<br>\n".join(_line(line) for line in part.split("\n")) + "</p>\n"
        for part in paragraphs
        if part.strip()
    )
    # Everything was escaped above; the sanitiser is the second lock on the door: only
    # p, br and a[href] with an http(s) address survive, every link gets rel and target.
    return clean_html(html)


def clean_html(html: str) -> str:
    """Return HTML reduced to what a comment may contain (also used for imported comments)."""
    cleaned = nh3.clean(
        html,
        tags={"p", "br", "a", "em", "strong", "b", "i", "blockquote", "code"},
        attributes={"a": {"href"}},
        url_schemes={"http", "https"},
        link_rel="nofollow ugc noopener",
        set_tag_attribute_values={"a": {"target": "_blank"}},
    )
    # A character reference ("&#1;") comes out as the control character itself, which the
    # Atom feed's XML cannot carry; removed, as from a typed text (clean_body).
    return CONTROL.sub("", cleaned).strip()


# -- Checking input -----------------------------------------------------------------------------------------------


@dataclass
class Draft:
    """A comment's fields, checked and cleaned."""

    page: str
    name: str
    email: str
    website: str | None
    body: str
    parent_id: int | None
    notify: bool


def comment_id(value: object) -> int | None:
    """Return a comment id given as a number or as ASCII digits, or None if it cannot be one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and ID.fullmatch(value):
        value = int(value)
    return value if isinstance(value, int) and 0 < value < 2**63 else None


def _text(values: dict, name: str) -> str:
    value = values.get(name)
    if value is None:
        return ""
    if not isinstance(value, str) or SURROGATE.search(value):
        raise TypeError
    return value


def line_problem(name: str, value: str) -> str | None:
    """Return how a trimmed name, email or website breaks the comment rules (length, control characters), or None."""
    if len(value) > LIMITS[name]:
        return f"must be at most {LIMITS[name]} characters"
    if CONTROL.search(value) or "\n" in value or "\r" in value:
        return "must be on one line, without control characters"
    return None


def clean_body(body: object) -> str:
    """Return a comment's text with line endings unified and control characters removed, or raise InvalidComment."""
    if not isinstance(body, str) or SURROGATE.search(body):
        raise InvalidComment({"body": "must be text"})
    body = CONTROL.sub("", body.replace("\r\n", "\n").replace("\r", "\n")).strip()
    if len(body) < BODY_MIN:
        raise InvalidComment({"body": "is required" if not body else f"must be at least {BODY_MIN} characters"})
    if len(body) > BODY_MAX:
        raise InvalidComment({"body": f"must be at most {BODY_MAX:,} characters (it has {len(body):,})"})
    return body


def _website(raw: str) -> str | None:
    raw = raw.strip()
    if not raw:
        return None
    if "://" not in raw and ":" not in raw.split("/", 1)[0]:
        raw = "https://" + raw.lstrip("/")  # "studio.example" means a web site
    problem = line_problem("website", raw)
    if problem:
        raise ValueError(problem)
    if any(ch.isspace() for ch in raw):
        raise ValueError("must be a web address without spaces")
    try:
        parts = urlsplit(raw)
    except ValueError:
        raise ValueError("is not a web address") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise ValueError("must start with http:// or https://")
    if not parts.hostname or "." not in parts.hostname and parts.hostname != "localhost":
        raise ValueError("is not a web address")
    return raw


def check(values: dict) -> Draft:
    """Check a new comment's fields; raise InvalidComment naming every bad one."""
    errors: dict[str, str] = {}
    cleaned: dict = {}
    try:
        cleaned["page"] = normalise_page(values.get("page"))
    except InvalidComment as error:
        errors.update(error.errors)
    for name in ("name", "email", "website"):
        try:
            cleaned[name] = _text(values, name).strip()
        except TypeError:
            errors[name] = "must be text"
    name = cleaned.get("name")
    if name is not None:
        if not name:
            errors["name"] = "is required"
        elif problem := line_problem("name", name):
            errors["name"] = problem
    email = cleaned.get("email")
    if email is not None:
        if not email:
            errors["email"] = "is required (it is never published)"
        elif problem := line_problem("email", email):
            errors["email"] = problem
        else:
            try:
                # ASCII local parts only: a reply notification must be able to reach it.
                checked = validate_email(email, check_deliverability=False, allow_smtputf8=False)
                cleaned["email"] = checked.normalized.lower()
            except EmailNotValidError as error:
                errors["email"] = f"is not a valid email address ({error})"
    if "website" in cleaned:
        try:
            cleaned["website"] = _website(cleaned["website"])
        except ValueError as error:
            errors["website"] = str(error)
    try:
        cleaned["body"] = clean_body(values.get("body"))
    except InvalidComment as error:
        errors.update(error.errors)
    parent = values.get("parent_id")
    if parent in (None, ""):
        cleaned["parent_id"] = None
    elif comment_id(parent) is None:
        errors["parent_id"] = "must be the id of the comment answered"
    else:
        cleaned["parent_id"] = comment_id(parent)
    notify = values.get("notify", False)
    if notify in (None, "", "0", "false"):
        notify = False
    elif notify in ("1", "on", "true", "y"):
        notify = True
    if not isinstance(notify, bool):
        errors["notify"] = "must be true or false"
    cleaned["notify"] = notify
    if errors:
        raise InvalidComment(errors)
    return Draft(**cleaned)


# -- Writing ------------------------------------------------------------------------------------------------------


def _parent(draft: Draft) -> tuple[int | None, int | None]:
    """Return (where to show a reply, the comment it answers), or raise InvalidComment."""
    if draft.parent_id is None:
        return None, None
    answered = db.session.get(Comment, draft.parent_id)
    if answered is None or answered.page != draft.page or answered.status != PUBLISHED or answered.deleted_at:
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


def _person(name: str | None) -> str:
    """Return the form of a commenter's name that says whether two comments are by one person."""
    return (name or "").strip().casefold()


def _repeats(draft: Draft) -> str | None:
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


def _known_commenter(name: str, email: str | None, besides: int | None = None) -> bool:
    """Say whether the therapist let another comment by this name and email appear (WordPress's check_comment)."""
    if not email:
        return False
    authors = db.session.scalars(
        select(Comment.author)
        .where(Comment.email == email, Comment.status == PUBLISHED, Comment.id != (besides or 0))
        .distinct()
    )
    return any(_person(author) == _person(name) for author in authors)


def _hold_reason(name: str, email: str | None, body: str, besides: int | None = None) -> str | None:
    """Return why a text by this name and email waits for the therapist, or None when it may appear at once."""
    links = len(links_in(body))
    if links >= HOLD_LINKS:
        return f"has {links} links"
    if not _known_commenter(name, email, besides):
        return "no other approved comment by this name and email"
    return None


def _verdict(draft: Draft, honeypot: str, age: float | None, repeats: str | None) -> tuple[str, str | None]:
    """Return (status, reason) for a new comment."""
    if honeypot:
        return SPAM, "filled in the hidden field only robots see"
    if age is None:
        return SPAM, "posted without the comment form's token"
    if age < MIN_FILL.total_seconds():
        return SPAM, f"posted {age:.1f} s after the form was shown"
    if repeats == "spam":
        return SPAM, "the same text was posted by someone else"
    reason = _hold_reason(draft.name, draft.email, draft.body)
    return (PENDING, reason) if reason else (PUBLISHED, None)


def _edit_hold_reason(comment: Comment, text: str) -> str | None:
    """Return why an edit takes a published comment back to the therapist, or None when it stays published."""
    if text == comment.body:
        return None  # nothing she has not seen
    added = set(links_in(text)) - set(links_in(comment.body))
    if added:
        return f"edited to add {'a link' if len(added) == 1 else f'{len(added)} links'}"
    # Otherwise the edit is treated as a new comment by its author, the comment itself not counting:
    # a first comment approved by the therapist and then rewritten goes back to her.
    reason = _hold_reason(comment.author, comment.email, text, besides=comment.id)
    return f"edited after publication: {reason}" if reason else None


def post(values: dict, token: str | None, honeypot: str = "") -> tuple[Comment, str]:
    """Store a new comment after the spam and moderation checks; return it and its edit token.

    Raise InvalidComment for bad input, DuplicateComment when the same person
    already posted the same text on the page, BadToken when the form is stale.
    """
    draft = check(values)
    age = form_age(token)
    with outbox.unit_of_work() as work:
        parent_id, reply_to_id = _parent(draft)
        repeats = _repeats(draft)
        if repeats == "duplicate":
            raise DuplicateComment({"body": "You already posted this comment here."})
        status, reason = _verdict(draft, honeypot, age, repeats)
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
            published_at=now if status == PUBLISHED else None,
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
    if comment.status == PENDING:
        entries = emails.comment_held(comment, occasion)
    elif comment.status == PUBLISHED:
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
        reason = _edit_hold_reason(comment, text) if comment.status == PUBLISHED else None
        comment.body, comment.body_html, comment.edited_at = text, render(text), utc_now()
        occasion = None
        if reason:
            comment.status, comment.reason, comment.published_at = PENDING, reason, None
            # A new email each time: each return to her follows an approval of hers, so this cannot flood her.
            occasion = f"unpublished-{uuid.uuid4().hex}"
        db.session.flush()
        if comment.status == PENDING:
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
            if action == "approve" and comment.status != PUBLISHED:
                comment.status, comment.reason, comment.published_at = PUBLISHED, None, utc_now()
                db.session.flush()
                _announce(work, comment)
            elif action == "spam" and comment.status != SPAM:
                comment.status, comment.published_at = SPAM, None
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


# -- Reading ------------------------------------------------------------------------------------------------------


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
        .where(Comment.page == page, Comment.status == PUBLISHED)
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
            .where(Comment.page.in_(pages), Comment.status == PUBLISHED, Comment.deleted_at.is_(None))
            .group_by(Comment.page)
        ).all()
    )
    return {page: found.get(page, 0) for page in pages}


def listing(status: str, number: int = 1, per_page: int = LISTED_PER_PAGE) -> tuple[list[Comment], int]:
    """Return one page of the comments with a status, newest first, and the total, for the admin."""
    total = db.session.scalar(select(func.count(Comment.id)).where(Comment.status == status)) or 0
    comments = db.session.scalars(
        select(Comment)
        .where(Comment.status == status)
        .order_by(Comment.created_at.desc(), Comment.id.desc())
        .offset((max(number, 1) - 1) * per_page)
        .limit(per_page)
    ).all()
    return list(comments), total


def status_counts() -> dict[str, int]:
    """Return how many comments have each status."""
    found = dict(db.session.execute(select(Comment.status, func.count(Comment.id)).group_by(Comment.status)).all())
    return {status: found.get(status, 0) for status in STATUSES}


def last_change(page: str) -> datetime | None:
    """Return when the thread last changed (for the feed's updated element)."""
    return db.session.scalar(
        select(func.max(func.coalesce(Comment.edited_at, Comment.published_at, Comment.created_at))).where(
            Comment.page == page, Comment.status == PUBLISHED
        )
    )


# -- Operator tools -----------------------------------------------------------------------------------------------


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
