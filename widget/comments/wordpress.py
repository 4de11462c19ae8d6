"""Import the comments of a WordPress export (a WXR file: RSS 2.0 with the ``wp:`` namespace).

The file is read as a stream, one ``<item>`` (post) at a time, with defusedxml:
a file declaring entities (entity expansion, external entities) is refused.
The whole import is one transaction, so a refused or broken file writes
nothing.  Each imported comment keeps where it came from in ``source``
("wordpress:<site>:<comment id>"); running the import again adds only what is
new.  No email is sent: these conversations happened long ago.

A comment is held to the rules of one posted here (comments/checks.py): the
same length limits, no control characters in its name, email or website
(they are removed from its text, as from a typed one), and a date that can
be real.  A comment that breaks them is refused and reported, not imported;
its replies are kept and answer its parent, as replies to a trashed comment do.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException, EntitiesForbidden, ExternalReferenceForbidden
from defusedxml.ElementTree import iterparse
from email_validator import EmailNotValidError, validate_email
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..booking import business
from ..extensions import begin_writing, db
from ..models import Comment, CommentStatus
from ..settings import origin_of
from ..timezones import utc_now, zone_named
from . import checks, moderation, render, urls
from .limits import InvalidComment

# The wp: namespace names the WXR version; excerpt: lives under it ("http://wordpress.org/export/1.2/excerpt/").
EXPORT_NAMESPACE = re.compile(r"http://wordpress\.org/export/[0-9.]+/")
NAMESPACES = tuple(f"http://wordpress.org/export/{version}/" for version in ("1.0", "1.1", "1.2"))
WP_TIME = "%Y-%m-%d %H:%M:%S"
STATUSES = {"1": CommentStatus.PUBLISHED, "0": CommentStatus.PENDING, "spam": CommentStatus.SPAM}
# "post-trashed": the comments of a post sent to the trash.
TRASH = {"trash", "post-trashed"}
PINGBACKS = {"pingback", "trackback"}
# Anything else ("note" is WordPress's private editorial note) is not a reader's comment.
COMMENT_TYPES = {"", "comment"}
REASONS = {
    CommentStatus.PENDING: "imported from WordPress, not approved there",
    CommentStatus.SPAM: "marked as spam in WordPress",
}
PARAGRAPH = re.compile(r"<p[\s>]", re.IGNORECASE)
LOOKUP_BATCH = 500
# Comments dated outside these bounds are refused: there were no blog comments before 1995, and a
# date more than a day ahead of our clock (time zones, a drifting server) cannot be a real one.
OLDEST_DATE = datetime(1995, 1, 1, tzinfo=timezone.utc)
CLOCK_SKEW = timedelta(days=1)


class ImportProblem(ValueError):
    """The file cannot be imported; the message says why, in the operator's terms."""


class Refused(ValueError):
    """One comment breaks the comment rules; the message says how, and it is not imported."""


@dataclass
class WordPressComment:
    """One ``<wp:comment>`` as the file gives it."""

    id: int
    parent: int | None
    kind: str
    approved: str
    author: str
    email: str
    website: str
    content: str
    date: str
    date_gmt: str


def import_wordpress(path) -> dict:
    """Import the comments of the WXR file at ``path`` in one transaction; return what was done.

    The answer counts ``imported`` (of which ``published``, ``held`` and
    ``spam``), ``already_imported``, ``skipped_trash``, ``skipped_pingbacks``,
    ``skipped_other`` (comment types that are not a reader's comment) and
    ``skipped_pages`` (posts with comments on a site comments are not open
    for, whose origins are in ``refused_origins``), lists the comments
    ``refused`` for breaking the comment rules (``{"id", "page", "reason"}``,
    ``id`` being WordPress's), and names the ``site`` the export came from.
    Raise ImportProblem if the file is refused.
    """
    zone = zone_named(business.current().studio.timezone)
    begin_writing()
    try:
        counts = _import(path, zone)
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise ImportProblem("another import wrote the same comments at the same time; nothing was imported") from None
    except Exception:
        db.session.rollback()
        raise
    return counts


def _import(path, zone) -> dict:
    counts = {
        "site": None,
        "imported": 0,
        "published": 0,
        "held": 0,
        "spam": 0,
        "already_imported": 0,
        "skipped_trash": 0,
        "skipped_pingbacks": 0,
        "skipped_other": 0,
        "skipped_pages": 0,
        "refused_origins": [],
        "refused": [],
    }
    refused: set[str] = set()
    wp = site_url = blog_url = channel_link = None
    open_elements: list[Element] = []
    seen_channel = False
    try:
        with open(path, "rb") as file:
            for event, value in iterparse(file, events=("start-ns", "start", "end")):
                if event == "start-ns":
                    wp = _namespace(value[1], wp, path)
                    continue
                element: Element = value
                if event == "start":
                    if not open_elements and element.tag != "rss":
                        raise ImportProblem(
                            f"{path} is not a WordPress export: it is <{_local(element.tag)}>, not <rss>"
                        )
                    if len(open_elements) == 1 and element.tag == "channel":
                        seen_channel = True
                    open_elements.append(element)
                    continue
                open_elements.pop()
                if len(open_elements) != 2 or open_elements[-1].tag != "channel":
                    continue
                # A child of the channel: the export's header, or one post with its comments.
                if element.tag == "link":
                    channel_link = (element.text or "").strip()
                elif wp and element.tag == f"{{{wp}}}base_site_url":
                    site_url = (element.text or "").strip()
                elif wp and element.tag == f"{{{wp}}}base_blog_url":
                    blog_url = (element.text or "").strip()
                elif element.tag == "item":
                    if wp is None:
                        raise ImportProblem(f"{path} is an RSS feed, not a WordPress export (no wp: namespace)")
                    if counts["site"] is None:
                        counts["site"] = _site(blog_url, site_url, channel_link, path)
                    _import_item(element, wp, counts, refused, zone)
                # Done with it: memory stays bounded however long the file is.
                open_elements[-1].remove(element)
                element.clear()
    except OSError as error:
        raise ImportProblem(f"{path} cannot be read: {error.strerror or error}") from None
    except ParseError as error:
        raise ImportProblem(f"{path} is not well-formed XML ({error}); nothing was imported") from None
    except EntitiesForbidden as error:
        kind = f"an external entity ({error.sysid})" if error.sysid else f"the entity {error.name!r}"
        raise ImportProblem(
            f"{path} declares {kind}; a WordPress export declares none, and entities can make the importer "
            "expand text without end or read files, so the file is refused and nothing was imported"
        ) from None
    except ExternalReferenceForbidden as error:
        raise ImportProblem(
            f"{path} refers to an outside resource ({error.sysid}); the file is refused and nothing was imported"
        ) from None
    except DefusedXmlException as error:
        raise ImportProblem(f"{path} has a document type or entities ({error}); the file is refused") from None
    if not seen_channel:
        raise ImportProblem(f"{path} is not a WordPress export (WXR): its <rss> has no <channel>")
    if wp is None:
        raise ImportProblem(f"{path} is an RSS feed, not a WordPress export (no wp: namespace)")
    counts["refused_origins"] = sorted(refused)
    return counts


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _namespace(uri: str, known: str | None, path) -> str | None:
    """Return the WXR namespace once a declaration names it; refuse versions this importer does not know."""
    if not EXPORT_NAMESPACE.fullmatch(uri):
        return known
    if uri not in NAMESPACES:
        raise ImportProblem(f"{path} is a WordPress export of a version this importer does not read ({uri})")
    return uri


def _site(blog_url: str | None, site_url: str | None, channel_link: str | None, path) -> str:
    """Return host[:port][/path] of the exported blog, which names its comments in ``source``.

    The blog's own address comes first: the blogs of a WordPress multisite network share the
    network's site address, and their comment ids overlap.
    """
    for url in (blog_url, site_url, channel_link):
        origin = origin_of(url) if url else None
        if origin:
            return origin.split("://", 1)[1] + urlsplit(url).path.rstrip("/")
    raise ImportProblem(f"{path} does not name its site: no wp:base_blog_url, wp:base_site_url or channel link first")


# -- One post -----------------------------------------------------------------------------------------------------


def _import_item(item: Element, wp: str, counts: dict, refused: set[str], zone) -> None:
    """Import the comments of one post."""
    found = item.findall(f"{{{wp}}}comment")
    if not found:
        return
    link = (item.findtext("link") or "").strip()
    try:
        page = urls.normalise_page(link)
    except InvalidComment:
        counts["skipped_pages"] += 1
        refused.add(origin_of(link) or link[:200] or "(a post without a link)")
        return
    read: dict[int, WordPressComment] = {}
    for element in found:
        comment = _read(element, wp, link)
        if comment.id in read:
            counts["already_imported"] += 1  # listed twice in the file: imported once
            continue
        read[comment.id] = comment
    kept = set()
    for comment in read.values():
        if comment.kind in PINGBACKS:
            counts["skipped_pingbacks"] += 1
        elif comment.kind not in COMMENT_TYPES:
            counts["skipped_other"] += 1
        elif comment.approved in TRASH:
            counts["skipped_trash"] += 1
        else:
            kept.add(comment.id)
    if not kept:
        return
    site = counts["site"]
    sources = {number: f"wordpress:{site}:{number}" for number in kept}
    stored = _existing(sources)
    ours = {number: our_id for number, (our_id, _) in stored.items()}
    created = {number: when for number, (_, when) in stored.items()}
    new: dict[int, Comment] = {}
    for number in sorted(kept - set(stored)):
        try:
            new[number] = _comment(read[number], page, sources[number], zone)
        except Refused as refusal:
            counts["refused"].append({"id": number, "page": link, "reason": str(refusal)})
            kept.discard(number)
        else:
            created[number] = new[number].created_at
    parents = attach({number: comment.parent for number, comment in read.items()}, kept)
    for number in _parents_first(kept, parents, created):
        if number in ours:
            counts["already_imported"] += 1
            continue
        shown, answered = thread_position(parents[number], parents)
        comment = new[number]
        comment.parent_id, comment.reply_to_id = ours.get(shown), ours.get(answered)
        db.session.add(comment)
        db.session.flush()
        ours[number] = comment.id
        counts["imported"] += 1
        counts[
            {CommentStatus.PUBLISHED: "published", CommentStatus.PENDING: "held", CommentStatus.SPAM: "spam"}[
                comment.status
            ]
        ] += 1


def _read(element: Element, wp: str, link: str) -> WordPressComment:
    def text(name: str) -> str:
        return element.findtext(f"{{{wp}}}comment_{name}") or ""

    try:
        number = int(text("id").strip())
        parent = int(text("parent").strip() or "0")
    except ValueError:
        raise ImportProblem(f"a comment on {link} has no valid comment_id or comment_parent") from None
    return WordPressComment(
        id=number,
        parent=parent if parent and parent != number else None,
        kind=text("type").strip().lower(),
        approved=text("approved").strip().lower(),
        author=text("author"),
        email=text("author_email"),
        website=text("author_url"),
        content=text("content"),
        date=text("date").strip(),
        date_gmt=text("date_gmt").strip(),
    )


def _created(comment: WordPressComment, zone) -> datetime:
    """Return when a comment was written: its GMT date, or its local date in the studio's zone when GMT is blank.

    Raise Refused when there is no date, or one outside OLDEST_DATE and CLOCK_SKEW from now.
    """
    try:
        if comment.date_gmt and not comment.date_gmt.startswith("0000-00-00"):
            written = datetime.strptime(comment.date_gmt, WP_TIME).replace(tzinfo=timezone.utc)
            shown = f"{comment.date_gmt} GMT"
        else:
            written = datetime.strptime(comment.date, WP_TIME).replace(tzinfo=zone).astimezone(timezone.utc)
            shown = f"{comment.date} local time"
    except (ValueError, OverflowError):
        raise Refused(
            f"it has no valid date (comment_date_gmt {comment.date_gmt[:40]!r}, comment_date {comment.date[:40]!r})"
        ) from None
    if written < OLDEST_DATE:
        raise Refused(f"its date, {shown}, is before {OLDEST_DATE.year}")
    if written > utc_now() + CLOCK_SKEW:
        raise Refused(f"its date, {shown}, is in the future")
    return written


def _existing(sources: dict[int, str]) -> dict[int, tuple[int, datetime]]:
    """Return our id and date of each WordPress comment already imported, by its WordPress id."""
    number_of = {source: number for number, source in sources.items()}
    found: dict[int, tuple[int, datetime]] = {}
    wanted = list(number_of)
    for start in range(0, len(wanted), LOOKUP_BATCH):
        rows = db.session.execute(
            select(Comment.source, Comment.id, Comment.created_at).where(
                Comment.source.in_(wanted[start : start + LOOKUP_BATCH])
            )
        )
        found.update({number_of[source]: (our_id, created) for source, our_id, created in rows})
    return found


def _comment(comment: WordPressComment, page: str, source: str, zone) -> Comment:
    """Return the comment to store, without its place in the thread; raise Refused if it breaks the comment rules."""
    created = _created(comment, zone)
    try:
        body = checks.clean_body(comment.content)
    except InvalidComment as invalid:
        raise Refused(f"its text {invalid.errors['body']}") from None
    status = STATUSES.get(comment.approved, CommentStatus.PENDING)
    reason = REASONS.get(status)
    if comment.approved not in STATUSES:
        reason = f"imported from WordPress with the unknown status {comment.approved[:80]!r}"
    return Comment(
        page=page,
        status=status,
        reason=reason,
        author=_author(comment.author),
        email=_email(comment.email),
        website=_website(comment.website),
        body=body,
        body_html=comment_html(body),
        notify_replies=False,
        source=source,
        created_at=created,
        published_at=created if status == CommentStatus.PUBLISHED else None,
    )


def _checked(name: str, value: str) -> str:
    """Return a trimmed name, email or website; raise Refused where a comment posted here would be refused."""
    value = value.strip()
    problem = checks.line_problem(name, value)
    if problem:
        raise Refused(f"its {name} {problem}")
    return value


def _author(name: str) -> str:
    # WordPress may let readers leave their name out: they are shown as "Anonymous".
    return " ".join(_checked("name", name).split()) or moderation.ANONYMOUS


def _email(address: str) -> str | None:
    address = _checked("email", address)
    if not address:
        return None  # WordPress may let readers leave it out; then no one can be told of replies
    try:
        return validate_email(address, check_deliverability=False, allow_smtputf8=False).normalized.lower()
    except EmailNotValidError:
        return None


def _website(url: str) -> str | None:
    url = _checked("website", url)
    if not url or any(ch.isspace() for ch in url):
        return None
    if origin_of(url) is None:
        return None  # javascript:, mailto:, a bare "http://", a host with a password ...
    return url


def comment_html(content: str) -> str:
    """Return the HTML of a WordPress comment: its paragraphs (as WordPress shows them), sanitised."""
    text = content.replace("\r\n", "\n").replace("\r", "\n").strip()
    if not PARAGRAPH.search(text):
        parts = [part.strip("\n") for part in re.split(r"\n[ \t]*\n", text)]
        text = "".join("<p>" + part.replace("\n", "<br>\n") + "</p>\n" for part in parts if part.strip())
    return render.clean_html(text)


# -- Threads ------------------------------------------------------------------------------------------------------


def attach(parents: Mapping[int, int | None], kept: set[int]) -> dict[int, int | None]:
    """Return the parent of each kept comment among the kept ones.

    A reply to a comment that is not imported (trash, a pingback) answers that
    comment's own parent, or the article; a parent missing from the post
    makes a comment top-level, and so does a loop of parents.
    """
    placed: dict[int, int | None] = {}
    for number in kept:
        parent, seen = parents.get(number), {number}
        while parent is not None and parent not in kept:
            if parent in seen:
                parent = None
                break
            seen.add(parent)
            parent = parents.get(parent)
        placed[number] = parent
    for number in placed:
        seen, current = {number}, placed[number]
        while current is not None:
            if current in seen:
                placed[number] = None
                break
            seen.add(current)
            current = placed[current]
    return placed


def thread_position(answered: int | None, parents: Mapping[int, int | None]) -> tuple[int | None, int | None]:
    """Return (the comment a reply is shown under, the comment it answers), given every comment's parent.

    Like a reply posted here (moderation.post): replies are shown at most
    moderation.MAX_DEPTH deep; a reply to a comment at that depth is shown
    beside it, under their ancestor one level up, and still answers it.
    """
    if answered is None:
        return None, None
    ancestors = [answered]
    while parents.get(ancestors[-1]) is not None:
        ancestors.append(parents[ancestors[-1]])
    # ancestors[-1] is on the article (depth 0); the reply would sit at depth len(ancestors).
    if len(ancestors) <= moderation.MAX_DEPTH:
        return answered, answered
    if moderation.MAX_DEPTH == 0:
        return None, answered
    return ancestors[len(ancestors) - moderation.MAX_DEPTH], answered


def _parents_first(kept: set[int], parents: Mapping[int, int | None], created: Mapping[int, datetime]) -> list[int]:
    """Return the kept comments oldest first, each after its parent (a file may list a reply before it)."""
    order: list[int] = []
    done: set[int] = set()
    for number in sorted(kept, key=lambda n: (created[n], n)):
        chain = []
        current = number
        while current is not None and current not in done:
            chain.append(current)
            current = parents[current]
        for each in reversed(chain):
            order.append(each)
            done.add(each)
    return order
