"""The comments iframe page, its no-JavaScript form, the Atom feed, and the links in emails.

The page works as plain HTML (reply links and a form that posts and
redirects); static/comments.js upgrades it to post through the JSON API and
reply inline.  What travels between requests (the article, the host's
origin, the order) is in the query string: a framed page cannot count on
cookies.
"""

from __future__ import annotations

from xml.etree import ElementTree as ET

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for

from ..booking import business
from ..extensions import db, limiter
from ..forms import ActionForm
from ..models import Comment, CommentStatus
from ..settings import public_url
from ..timezones import utc_now, viewer_zone
from . import checks, moderation, queries, tokens, urls
from .forms import CommentForm
from .limits import InvalidComment

bp = Blueprint("comment_pages", __name__)

CARRIED = ("page", "embed", "accent", "tz", "order")
FEED_ENTRIES = 50


def _rate_limit() -> str:
    return current_app.config["COMMENT_RATE_LIMIT"]


# One budget per address for everything that writes a comment: the form, the API, edits, deletes.
comment_limit = limiter.shared_limit(_rate_limit, scope="comments", methods=["POST", "PATCH", "DELETE"])


def _carry(**changes) -> dict:
    """Return the query parameters that stay with the frame from page to page, with changes."""
    params = {key: request.values[key] for key in CARRIED if request.values.get(key)}
    params.update(changes)
    return {key: value for key, value in params.items() if value not in (None, "")}


def _zone():
    return viewer_zone(request.values.get("tz"), business.current().studio.timezone)[1]


def _page_or_404(raw: str | None) -> str:
    try:
        return urls.normalise_page(raw)
    except InvalidComment as error:
        abort(404, f"Comments are not open for this page: the page {error.errors['page']}.")


def _thread_page(form: CommentForm, page: str, status: int = 200, notice: str | None = None):
    newest_first = request.values.get("order") == "newest"
    number = request.args.get("p", 1, type=int)
    roots, pages, count = queries.thread(page, newest_first, number)
    reply_to = None
    parent = checks.comment_id(form.parent_id.data or request.args.get("reply"))
    if parent is not None:
        candidate = db.session.get(Comment, parent)
        if (
            candidate is not None
            and candidate.page == page
            and candidate.status == CommentStatus.PUBLISHED
            and candidate.deleted_at is None
        ):
            reply_to = candidate
            form.parent_id.data = str(candidate.id)
    return (
        render_template(
            "comments/thread.html",
            page=page,
            roots=roots,
            count=count,
            pages=pages,
            number=min(max(number, 1), pages),
            newest_first=newest_first,
            form=form,
            reply_to=reply_to,
            notice=notice,
            zone=_zone(),
            carry=_carry,
            max_depth=moderation.MAX_DEPTH,
        ),
        status,
    )


NOTICES = {
    "published": "Thank you! Your comment is published.",
    "pending": "Thank you! Your comment will appear once the studio has approved it.",
}


@bp.get("/comments")
def thread():
    """Show an article's comments and the form to add one."""
    page = _page_or_404(request.args.get("page"))
    form = CommentForm(formdata=None, page=page, form_token=tokens.form_token())
    return _thread_page(form, page, notice=NOTICES.get(request.args.get("posted", "")))


@bp.post("/comments")
@comment_limit
def submit():
    """Post a comment from the form (the page without JavaScript)."""
    form = CommentForm()
    page = _page_or_404(form.page.data)
    values = {
        "page": page,
        "name": form.name.data,
        "email": form.email.data,
        "website": form.website.data,
        "body": form.body.data,
        "parent_id": form.parent_id.data,
        "notify": form.notify.data,
    }
    try:
        comment, _ = moderation.post(values, form.form_token.data, form.homepage.data or "")
    except InvalidComment as invalid:
        problems = []
        for name, message in invalid.errors.items():
            if name in ("name", "email", "website", "body"):
                getattr(form, name).errors = [message]
            else:
                problems.append(f"{name.replace('_', ' ').capitalize()} {message}")
        form.form_errors = problems
        form.form_token.data = form.form_token.data or tokens.form_token()
        return _thread_page(form, page, 422)
    except tokens.BadToken as stale:
        form.form_errors = [str(stale)]
        form.form_token.data = tokens.form_token()
        return _thread_page(form, page, 422)
    status = "published" if comment.status == CommentStatus.PUBLISHED else "pending"
    anchor = f"#comment-{comment.id}" if status == "published" else "#comment-form"
    return redirect(url_for("comment_pages.thread", **_carry(page=page, posted=status)) + anchor, 303)


def _text(element: ET.Element, tag: str, text: str, **attributes) -> ET.Element:
    child = ET.SubElement(element, tag, attributes)
    child.text = text
    return child


def _atom_time(moment) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@bp.get("/comments/feed.atom")
def feed():
    """Return an article's latest comments as an Atom feed (RFC 4287)."""
    page = _page_or_404(request.args.get("page"))
    studio = business.current().studio
    nodes = [node for node in queries.visible(page) if not node.deleted]
    nodes.sort(key=lambda node: (node.comment.published_at or node.comment.created_at, node.comment.id), reverse=True)
    atom = ET.Element("feed", xmlns="http://www.w3.org/2005/Atom")
    _text(atom, "id", f"{current_app.config['PUBLIC_URL']}/comments/feed.atom?page={page}")
    _text(atom, "title", f"Comments on {page}")
    _text(atom, "updated", _atom_time(queries.last_change(page) or utc_now()))
    ET.SubElement(atom, "link", rel="self", href=public_url("comment_pages.feed", page=page))
    ET.SubElement(atom, "link", rel="alternate", type="text/html", href=page)
    _text(ET.SubElement(atom, "author"), "name", studio.name)
    for node in nodes[:FEED_ENTRIES]:
        comment = node.comment
        entry = ET.SubElement(atom, "entry")
        _text(entry, "id", f"{page}#comment-{comment.id}")
        _text(entry, "title", f"Comment by {comment.author}")
        published = comment.published_at or comment.created_at
        _text(entry, "published", _atom_time(published))
        _text(entry, "updated", _atom_time(comment.edited_at or published))
        author = ET.SubElement(entry, "author")
        _text(author, "name", comment.author)
        if comment.website:
            _text(author, "uri", comment.website)
        ET.SubElement(entry, "link", rel="alternate", type="text/html", href=f"{page}#comment-{comment.id}")
        # type="html": the stored, sanitised HTML, escaped once more by the XML writer.
        _text(entry, "content", comment.body_html, type="html")
    body = ET.tostring(atom, encoding="utf-8", xml_declaration=True)
    return body, 200, {"Content-Type": "application/atom+xml; charset=utf-8"}


def _said(title: str, message: str, status: int = 200):
    return render_template("comments/link.html", title=title, message=message), status


def _link_page(find, act, done: str, ask):
    """Answer a link from an email: GET shows what it will do, POST (with that page's CSRF token) does it.

    The link's token is the authority; asking first means mail scanners, which only GET, change nothing.
    """
    try:
        target = find()
    except tokens.BadToken as error:
        return _said("This link cannot be used", str(error), 410)
    form = ActionForm()
    if request.method != "POST":
        return ask(target, form)
    if not form.validate_on_submit():
        problems = " ".join(message for messages in form.errors.values() for message in messages)
        return _said("Please try again", problems or "The form was not valid.", 400)
    try:
        act(target)  # checks again, under lock: the comment may have changed since the page was shown
    except tokens.BadToken as error:
        return _said("This link cannot be used", str(error), 410)
    return _said("Done", done)


def _moderation(action: str, token: str, done: str):
    return _link_page(
        lambda: tokens.linked_comment(action, token),
        lambda comment: moderation.moderate([comment.id], action, link=True),
        done,
        lambda comment, form: render_template(
            "comments/moderate.html", comment=comment, action=action, form=form, zone=_zone()
        ),
    )


@bp.route("/comments/approve/<token>", methods=["GET", "POST"])
def approve(token):
    """Approve the comment a link from the therapist's email names (GET asks, POST does)."""
    return _moderation("approve", token, "The comment is published.")


@bp.route("/comments/delete/<token>", methods=["GET", "POST"])
def delete(token):
    """Delete the comment a link from the therapist's email names (GET asks, POST does)."""
    return _moderation("delete", token, "The comment is deleted.")


@bp.route("/comments/unsubscribe/<token>", methods=["GET", "POST"])
def unsubscribe(token):
    """Stop reply notifications for the commenter a link names (GET asks, POST does)."""
    return _link_page(
        lambda: tokens.unsign("unsubscribe", token),
        lambda _data: moderation.unsubscribe(token),
        "You will get no more emails about replies to your comments.",
        lambda _data, form: render_template("comments/unsubscribe.html", form=form),
    )
