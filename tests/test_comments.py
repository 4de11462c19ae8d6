"""The public side of comments: threads, the JSON API, the iframe page, the Atom feed, and what never leaks.

Everything goes through the Flask test client, as a host page, a reader's
browser without JavaScript, or a feed reader would.  Markup is walked with
the standard library's html.parser and the feed with xml.etree, so the
security checks look at elements and attributes, not only at substrings.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime, timedelta
from html.parser import HTMLParser
from urllib.parse import parse_qs, quote, urlsplit
from xml.etree import ElementTree as ET

import pytest
from itsdangerous import URLSafeSerializer
from sqlalchemy import func, select

from tests.support import ARTICLE, COMMENT_ORIGINS, SITE, deliver_outbox, form_token, make_app, post_comment
from widget.comments import moderation, queries
from widget.extensions import db
from widget.models import Comment, CommentStatus

OTHER = f"{SITE}/blog/second-post"
GUESTBOOK = f"{SITE}/blog/guestbook"
LOCAL = "http://localhost:8000/blog/local-post"
VARIANT = "https://Studio.example:443/blog/first-massage/?utm=x#top"
ALLOWED_ORIGINS = {"'self'", "https://studio.example", "http://localhost:8000"}
ADA = {"name": "Ada Reader", "email": "ada@reader.example"}
BEA = {"name": "Bea Writer", "email": "bea@writer.example"}
CY = {"name": "Cy Newcomer", "email": "cy@newcomer.example"}
COMMENT_KEYS = {"id", "parent_id", "author", "website", "body_html", "created_at", "edited_at", "deleted"}
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
ATOM = "{http://www.w3.org/2005/Atom}"
LINK_REL = {"nofollow", "ugc", "noopener"}


# -- Walking HTML ---------------------------------------------------------------------------------------------------

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class Element:
    """One element of parsed markup, with its attributes as written (all of them, duplicates too)."""

    def __init__(self, tag: str, attributes: list[tuple[str, str | None]], parent: Element | None = None):
        self.tag, self.attribute_list, self.parent = tag, attributes, parent
        self.attrs = dict(attributes)
        self.children: list[Element | str] = []

    def __repr__(self) -> str:
        return f"<{self.tag} {self.attrs}>"

    def iter(self):
        yield self
        for child in self.children:
            if isinstance(child, Element):
                yield from child.iter()

    def descendants(self):
        return [element for element in self.iter() if element is not self]

    @property
    def elements(self) -> list[Element]:
        return [child for child in self.children if isinstance(child, Element)]

    @property
    def classes(self) -> list[str]:
        return (self.attrs.get("class") or "").split()

    @property
    def text(self) -> str:
        return "".join(child if isinstance(child, str) else child.text for child in self.children)

    def select(self, tag: str | None = None, cls: str | None = None, **attrs: str) -> list[Element]:
        return [
            element
            for element in self.descendants()
            if (tag is None or element.tag == tag)
            and (cls is None or cls in element.classes)
            and all(element.attrs.get(name) == value for name, value in attrs.items())
        ]

    def one(self, tag: str | None = None, cls: str | None = None, **attrs: str) -> Element:
        found = self.select(tag, cls, **attrs)
        assert len(found) == 1, f"expected one {tag or ''}.{cls or ''}{attrs}, found {len(found)}"
        return found[0]

    def by_id(self, element_id: str) -> Element | None:
        found = self.select(id=element_id)
        assert len(found) <= 1, f"id {element_id!r} is used {len(found)} times"
        return found[0] if found else None


class _TreeBuilder(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = self.open = Element("#document", [])

    def handle_starttag(self, tag, attrs):
        element = Element(tag, attrs, self.open)
        self.open.children.append(element)
        if tag not in VOID:
            self.open = element

    def handle_startendtag(self, tag, attrs):
        self.open.children.append(Element(tag, attrs, self.open))

    def handle_endtag(self, tag):
        node = self.open
        while node is not self.root and node.tag != tag:
            node = node.parent
        if node is not self.root:
            self.open = node.parent

    def handle_data(self, data):
        self.open.children.append(data)


def parse_html(markup: str) -> Element:
    """Return the element tree of some markup."""
    builder = _TreeBuilder()
    builder.feed(markup)
    builder.close()
    return builder.root


def squash(text: str) -> str:
    return " ".join(text.split())


def is_web_address(url: str | None) -> bool:
    parts = urlsplit(url or "")
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def is_same_site_path(url: str | None) -> bool:
    parts = urlsplit(url or "")
    return not parts.scheme and not parts.netloc and (url or "").startswith(("/", "#", "?"))


URL_ATTRIBUTES = {"href", "src", "action", "formaction", "xlink:href", "poster", "background", "data", "srcset"}
ACTIVE_TAGS = {"script", "style", "iframe", "frame", "object", "embed", "svg", "math", "img", "base", "template"}
BODY_TAGS = {"p", "br", "a"}
THREAD_TAGS = {"li", "article", "header", "span", "a", "time", "div", "p", "br", "ol"}


def assert_inert(root: Element, allowed_tags: set[str], where: str) -> None:
    """Assert that markup holds only allowed tags, no event handlers, and links only to web addresses.

    Links inside a comment (its text, its author's website) must be absolute
    http(s) addresses carrying rel="nofollow ugc noopener"; the only other
    links allowed are the page's own paths (the reply links).
    """
    for element in root.descendants():
        assert element.tag in allowed_tags, f"{where}: unexpected <{element.tag}> in {element.parent!r}"
        for name, value in element.attribute_list:
            assert not name.startswith("on"), f"{where}: event handler {name}={value!r} on <{element.tag}>"
            assert name not in ("style", "srcdoc"), f"{where}: {name} on <{element.tag}>"
            if name in URL_ATTRIBUTES:
                assert is_web_address(value) or is_same_site_path(value), f"{where}: {name}={value!r}"
        if element.tag == "a" and is_web_address(element.attrs.get("href")):
            rel = set((element.attrs.get("rel") or "").split())
            assert rel >= LINK_REL, f"{where}: link {element.attrs} lacks rel {LINK_REL}"


def assert_page_inert(response) -> Element:
    """Assert that a whole HTML page runs no script but its own and has no handler or odd link; return its tree."""
    assert response.mimetype == "text/html"
    assert response.text.lower().count("<script") == 2, "only the page's own widget.js and comments.js may be scripts"
    document = parse_html(response.text)
    scripts = document.select("script")
    # Each script by its address with a content hash (see widget/assets.py).
    sources = [script.attrs.get("src", "").split("?v=")[0] for script in scripts]
    assert sources == ["/static/widget.js", "/static/comments.js"]
    assert not any(script.text.strip() for script in scripts)
    for element in document.descendants():
        assert element.tag not in ACTIVE_TAGS - {"script"}, f"unexpected <{element.tag}> in the page"
        for name, value in element.attribute_list:
            assert not name.startswith("on"), f"event handler {name}={value!r} on <{element.tag}>"
            if name in URL_ATTRIBUTES:
                assert is_web_address(value) or is_same_site_path(value), f"{name}={value!r} on <{element.tag}>"
    return document


def assert_body_html_inert(html: str, where: str) -> Element:
    """Assert that a comment's stored HTML is plain paragraphs and web links; return its tree."""
    assert "<script" not in html.lower()
    fragment = parse_html(html)
    assert_inert(fragment, BODY_TAGS, where)
    for link in fragment.select("a"):
        assert is_web_address(link.attrs.get("href")), f"{where}: {link!r}"
        assert set(link.attrs) <= {"href", "rel", "target"}, f"{where}: {link!r}"
    return fragment


# -- Talking to the service -----------------------------------------------------------------------------------------


def advance(app, **delta) -> datetime:
    clock = app.extensions["clock"]
    clock.now += timedelta(**delta)
    return clock.now


def now(app) -> datetime:
    return app.extensions["clock"].now


def approve(app, *ids: int) -> None:
    with app.app_context():
        assert moderation.moderate(list(ids), "approve") == len(ids)


def stored(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(Comment.id)))


def publish(client, app, body: str = "Lovely article, thank you.", **fields) -> dict:
    """Post a comment through the API and approve it if it was held; return the POST answer."""
    response = post_comment(client, app, body, **fields)
    assert response.status_code == 201, response.text
    answer = response.get_json()
    if answer["status"] == "pending":
        approve(app, answer["id"])
    return answer


def known(client, app, person: dict = ADA) -> None:
    """Make an address known (its first comment approved, on another article) so its next ones publish at once."""
    publish(client, app, f"Hello from {person['name']}, first time here.", page=GUESTBOOK, **person)


def thread(client, page: str = ARTICLE, **params) -> dict:
    response = client.get("/api/comments", query_string={"page": page, **params})
    assert response.status_code == 200, response.text
    assert response.mimetype == "application/json"
    return response.get_json()


def comments_page(client, page: str = ARTICLE, **params):
    response = client.get("/comments", query_string={"page": page, **params})
    assert response.status_code == 200, response.text
    return response, parse_html(response.text)


def atom(client, page: str = ARTICLE):
    response = client.get("/comments/feed.atom", query_string={"page": page})
    assert response.status_code == 200, response.text
    return response, ET.fromstring(response.data)  # noqa: S314 - our own feed, parsed to check what it says


def edit(client, comment_id: int, token: str | None, body) -> object:
    headers = {"X-Comment-Token": token} if token is not None else {}
    return client.patch(f"/api/comments/{comment_id}", json={"body": body}, headers=headers)


def remove(client, comment_id: int, token: str | None) -> object:
    headers = {"X-Comment-Token": token} if token is not None else {}
    return client.delete(f"/api/comments/{comment_id}", headers=headers)


def root_ids(document: Element) -> list[int]:
    """Return the ids of the comments shown at the top of the thread, in order."""
    return [int(li.attrs["data-id"]) for li in document.one("ol", id="thread").elements if li.tag == "li"]


def assert_json_error(response, status: int) -> dict:
    assert response.status_code == status, (response.status_code, response.text)
    assert response.mimetype == "application/json", response.headers
    assert "<html" not in response.text.lower()
    return response.get_json()


@pytest.fixture(scope="module")
def shared_app(tmp_path_factory):
    """Return one app, comments open for SITE, for the tests that only read or are refused (it keeps them fast).

    Its tests check that a refused request stores nothing by counting before
    and after, so they do not depend on one another.
    """
    return make_app(tmp_path_factory.mktemp("shared"), EMBED_ALLOWED_ORIGINS=COMMENT_ORIGINS)


@pytest.fixture
def shared_client(shared_app):
    """Return a test client of shared_app."""
    return shared_app.test_client()


# -- 1. Threads are keyed by the article's normalised address --------------------------------------------------------


def test_variant_address_of_an_article_is_the_same_thread(comment_app, comment_client):
    known(comment_client, comment_app)
    posted = publish(comment_client, comment_app, "Posted through a decorated link.", page=VARIANT)
    publish(comment_client, comment_app, "Posted through the plain link.", page=ARTICLE)

    for address in (ARTICLE, VARIANT, f"{ARTICLE}/", f"{ARTICLE}?utm_source=feed", f"{ARTICLE}#comments"):
        answer = thread(comment_client, address)
        assert answer["page"] == ARTICLE
        assert [c["body_html"] for c in answer["comments"]] == [
            "<p>Posted through a decorated link.</p>",
            "<p>Posted through the plain link.</p>",
        ]
    _, document = comments_page(comment_client, VARIANT)
    assert document.one("main").attrs["data-page"] == ARTICLE
    assert document.one("input", name="page").attrs["value"] == ARTICLE
    assert document.by_id(f"comment-{posted['id']}") is not None
    _, feed = atom(comment_client, VARIANT)
    assert len(feed.findall(f"{ATOM}entry")) == 2
    counts = comment_client.get("/api/comments/counts", query_string=[("page", VARIANT), ("page", ARTICLE)])
    assert counts.get_json() == {VARIANT: 2, ARTICLE: 2}


REFUSED_PAGES = [
    pytest.param("http://studio.example/blog/first-massage", id="http-not-https"),
    pytest.param("https://localhost:8000/blog/local-post", id="https-not-http"),
    pytest.param("https://studio.example:8443/blog/first-massage", id="other-port"),
    pytest.param("https://www.studio.example/blog/first-massage", id="subdomain"),
    pytest.param("https://studio.example.evil.example/blog/first-massage", id="lookalike-host"),
    pytest.param("https://evil.example/?next=https://studio.example/blog", id="allowed-in-query"),
    pytest.param("https://studio.example@evil.example/blog/first-massage", id="allowed-as-userinfo"),
    pytest.param("javascript:alert(1)//https://studio.example/", id="javascript"),
    pytest.param("/blog/first-massage", id="relative"),
    pytest.param("", id="empty"),
]


@pytest.mark.parametrize("address", REFUSED_PAGES)
def test_page_not_on_allowed_origins_is_refused(shared_app, shared_client, address):
    before = stored(shared_app)
    listing = assert_json_error(shared_client.get("/api/comments", query_string={"page": address}), 422)
    assert set(listing["errors"]) == {"page"}
    token = form_token(shared_client)
    posted = assert_json_error(post_comment(shared_client, shared_app, page=address, form_token=token), 422)
    assert set(posted["errors"]) == {"page"}
    counted = shared_client.get("/api/comments/counts", query_string={"page": address})
    assert set(assert_json_error(counted, 422)["errors"]) == {"page"}

    page = shared_client.get("/comments", query_string={"page": address})
    assert page.status_code == 404
    assert page.mimetype == "text/html"
    assert "Comments are not open for this page" in squash(parse_html(page.text).text)
    assert shared_client.get("/comments/feed.atom", query_string={"page": address}).status_code == 404
    assert stored(shared_app) == before


def test_http_and_https_are_different_origins(comment_app, comment_client):
    """The allowed http://localhost:8000 works; the same host over https, and the https site over http, do not."""
    known(comment_client, comment_app)
    publish(comment_client, comment_app, "On the local test site.", page=LOCAL)
    assert thread(comment_client, LOCAL)["count"] == 1
    assert thread(comment_client, ARTICLE)["count"] == 0
    refused = comment_client.get("/api/comments", query_string={"page": LOCAL.replace("http://", "https://")})
    assert assert_json_error(refused, 422)["errors"]["page"]
    refused = comment_client.get("/api/comments", query_string={"page": ARTICLE.replace("https://", "http://")})
    assert assert_json_error(refused, 422)["errors"]["page"]


# -- 2. The API contract ---------------------------------------------------------------------------------------------


def test_thread_answer_has_exactly_the_documented_shape(comment_app, comment_client):
    known(comment_client, comment_app)
    first = publish(comment_client, comment_app, "First!", website="https://ada.example")
    first_at = now(comment_app)
    reply = publish(comment_client, comment_app, "Replying to myself.", parent_id=first["id"])

    answer = thread(comment_client)
    assert set(answer) == {"page", "count", "comments"}
    assert answer["page"] == ARTICLE and answer["count"] == 2
    for comment in answer["comments"]:
        assert set(comment) == COMMENT_KEYS
        assert isinstance(comment["id"], int) and isinstance(comment["body_html"], str)
        assert RFC3339.match(comment["created_at"]), comment["created_at"]
        assert comment["edited_at"] is None and comment["deleted"] is False
    top, answered = answer["comments"]
    assert (top["id"], top["parent_id"], top["author"], top["website"]) == (
        first["id"],
        None,
        "Ada Reader",
        "https://ada.example",
    )
    assert datetime.fromisoformat(top["created_at"]) == first_at
    assert (answered["id"], answered["parent_id"]) == (reply["id"], first["id"])
    assert answered["body_html"] == "<p>Replying to myself.</p>"


def test_website_is_public_and_kept_as_given(comment_app, comment_client):
    known(comment_client, comment_app)
    publish(comment_client, comment_app, "With a site.", website="https://ada.example/about")
    publish(comment_client, comment_app, "Bare host.", website="ada.example")
    websites = [c["website"] for c in thread(comment_client)["comments"]]
    assert websites == ["https://ada.example/about", "https://ada.example"]


def test_post_answers_201_with_id_and_status(comment_app, comment_client):
    held = post_comment(comment_client, comment_app, "My first comment here.")
    assert held.status_code == 201 and held.mimetype == "application/json"
    answer = held.get_json()
    assert isinstance(answer["id"], int) and answer["status"] == "pending"
    assert isinstance(answer["edit_token"], str) and answer["edit_token"]
    assert datetime.fromisoformat(answer["editable_until"]) == now(comment_app) + timedelta(minutes=15)
    assert thread(comment_client)["comments"] == []

    approve(comment_app, answer["id"])
    later = post_comment(comment_client, comment_app, "And a second one.")
    assert later.status_code == 201 and later.get_json()["status"] == "published"
    assert [c["id"] for c in thread(comment_client)["comments"]] == [answer["id"], later.get_json()["id"]]


def test_oldest_first_by_default_and_newest_first_on_request(comment_app, comment_client):
    known(comment_client, comment_app)
    ids = [publish(comment_client, comment_app, f"Comment number {n}.")["id"] for n in range(4)]
    oldest = thread(comment_client)["comments"]
    assert [c["id"] for c in oldest] == ids
    assert [c["created_at"] for c in oldest] == sorted(c["created_at"] for c in oldest)
    assert [c["id"] for c in thread(comment_client, order="newest")["comments"]] == ids[::-1]
    bad = comment_client.get("/api/comments", query_string={"page": ARTICLE, "order": "random"})
    assert set(assert_json_error(bad, 422)["errors"]) == {"order"}


def test_counts_of_several_pages_keep_the_keys_as_given(comment_app, comment_client):
    known(comment_client, comment_app)
    publish(comment_client, comment_app, "Published one.")
    publish(comment_client, comment_app, "Published two.")
    gone = publish(comment_client, comment_app, "Published, then deleted by its author.")
    assert remove(comment_client, gone["id"], gone["edit_token"]).status_code == 204
    assert post_comment(comment_client, comment_app, "Held for approval.", **CY).get_json()["status"] == "pending"
    spam = post_comment(comment_client, comment_app, "Caught by the trap field.", homepage="http://spam.example")
    assert spam.get_json()["status"] == "pending"
    publish(comment_client, comment_app, "On the other article.", page=OTHER)
    with comment_app.app_context():
        assert db.session.scalar(select(func.count(Comment.id)).where(Comment.status == CommentStatus.SPAM)) == 1

    article, other, empty = "https://Studio.example/blog/first-massage/", f"{OTHER}?ref=x", f"{SITE}/blog/nothing-yet"
    response = comment_client.get(
        "/api/comments/counts", query_string=[("page", article), ("page", other), ("page", empty)]
    )
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert response.get_json() == {article: 2, other: 1, empty: 0}
    assert thread(comment_client)["count"] == 2


def test_counts_refuse_an_unknown_page_and_no_page(shared_app, shared_client):
    bad = "https://evil.example/post"
    response = shared_client.get("/api/comments/counts", query_string=[("page", ARTICLE), ("page", bad)])
    errors = assert_json_error(response, 422)["errors"]
    assert set(errors) == {"page"} and bad in errors["page"]
    assert set(assert_json_error(shared_client.get("/api/comments/counts"), 422)["errors"]) == {"page"}


def test_thread_without_a_page_is_refused(shared_client):
    assert set(assert_json_error(shared_client.get("/api/comments"), 422)["errors"]) == {"page"}


# -- 3. Bad input: always a JSON answer naming the problem, never a 500 ----------------------------------------------


MISSING = object()


def valid_fields(**changes) -> dict:
    fields = {
        "page": ARTICLE,
        "name": "Ada Reader",
        "email": "ada@reader.example",
        "website": "https://ada.example",
        "body": "A perfectly good comment.",
        "notify": False,
    }
    for name, value in changes.items():
        if value is MISSING:
            fields.pop(name, None)
        else:
            fields[name] = value
    return fields


def send(client, app, fields: dict):
    """Post fields through the API as the form would (token shown 5 s earlier)."""
    token = form_token(client)
    advance(app, seconds=5)
    return client.post("/api/comments", json={**fields, "form_token": token})


TRANSPORT = [
    pytest.param({"data": valid_fields()}, 415, id="form-encoded"),
    pytest.param({"data": json.dumps(valid_fields()), "content_type": "text/plain"}, 415, id="text-plain"),
    pytest.param({"data": json.dumps(valid_fields())}, 415, id="no-content-type"),
    pytest.param({"data": '{"page": "https://studio.example/x",', "content_type": "application/json"}, 400, id="bad"),
    pytest.param({"json": [valid_fields()]}, 400, id="array"),
    pytest.param({"json": "a comment"}, 400, id="string"),
    pytest.param({"data": "null", "content_type": "application/json"}, 400, id="null"),
    pytest.param({"data": b'{"body": "\xff\xfe"}', "content_type": "application/json"}, 400, id="not-utf8"),
]


@pytest.mark.parametrize(("request_options", "status"), TRANSPORT)
def test_body_that_is_not_a_json_object_is_refused_as_json(shared_app, shared_client, request_options, status):
    before = stored(shared_app)
    response = shared_client.post("/api/comments", **request_options)
    assert assert_json_error(response, status)["errors"]
    assert stored(shared_app) == before


def test_body_over_max_content_length_is_413_json(shared_app, shared_client):
    before = stored(shared_app)
    assert shared_app.config["MAX_CONTENT_LENGTH"] == 64 * 1024
    payload = json.dumps(valid_fields(body="x" * (64 * 1024)))
    response = shared_client.post("/api/comments", data=payload, content_type="application/json")
    assert_json_error(response, 413)
    assert stored(shared_app) == before


LONG_EMAIL = "reader@" + ".".join(["a" * 60] * 4) + ".example"
BAD_FIELDS = [
    pytest.param({"name": MISSING}, {"name"}, id="name-missing"),
    pytest.param({"email": MISSING}, {"email"}, id="email-missing"),
    pytest.param({"body": MISSING}, {"body"}, id="body-missing"),
    pytest.param({"page": MISSING}, {"page"}, id="page-missing"),
    pytest.param({"name": "   "}, {"name"}, id="name-blank"),
    pytest.param({"name": "x" * 101}, {"name"}, id="name-too-long"),
    pytest.param({"name": "Ada\nReader"}, {"name"}, id="name-newline"),
    pytest.param(
        {"name": "Ada\rReader"},
        {"name"},
        id="name-carriage-return",
    ),
    pytest.param({"name": "Ada\x07Reader"}, {"name"}, id="name-control"),
    pytest.param({"name": 42}, {"name"}, id="name-not-text"),
    pytest.param({"email": "not-an-address"}, {"email"}, id="email-invalid"),
    pytest.param({"email": "ada@@reader.example"}, {"email"}, id="email-two-ats"),
    pytest.param({"email": LONG_EMAIL}, {"email"}, id="email-too-long"),
    pytest.param({"email": ["ada@reader.example"]}, {"email"}, id="email-not-text"),
    pytest.param({"website": "javascript:alert(1)"}, {"website"}, id="website-javascript"),
    pytest.param({"website": "JaVaScRiPt:alert(1)"}, {"website"}, id="website-javascript-mixed-case"),
    pytest.param({"website": "data:text/html,<script>alert(1)</script>"}, {"website"}, id="website-data"),
    pytest.param({"website": "ftp://x"}, {"website"}, id="website-ftp"),
    pytest.param({"website": "https://ada.example/a b"}, {"website"}, id="website-space"),
    pytest.param({"website": "https://" + "a" * 500 + ".example"}, {"website"}, id="website-too-long"),
    pytest.param({"body": "x"}, {"body"}, id="body-one-char"),
    pytest.param({"body": "   x   "}, {"body"}, id="body-one-char-padded"),
    pytest.param({"body": "\x00\x00\x00"}, {"body"}, id="body-only-nul"),
    pytest.param({"body": "x" * 10_001}, {"body"}, id="body-too-long"),
    pytest.param({"body": ["a", "list"]}, {"body"}, id="body-not-text"),
    pytest.param({"is_admin": True}, {"is_admin"}, id="unknown-field"),
    pytest.param({"status": "published"}, {"status"}, id="status-not-settable"),
    pytest.param({"email_hash": "x", "avatar": "y"}, {"email_hash", "avatar"}, id="two-unknown-fields"),
    pytest.param({"parent_id": "abc"}, {"parent_id"}, id="parent-not-a-number"),
    pytest.param({"parent_id": "1.5"}, {"parent_id"}, id="parent-decimal"),
    pytest.param({"parent_id": -1}, {"parent_id"}, id="parent-negative"),
    pytest.param({"parent_id": True}, {"parent_id"}, id="parent-boolean"),
    pytest.param({"parent_id": [1]}, {"parent_id"}, id="parent-list"),
    pytest.param({"parent_id": 424242}, {"parent_id"}, id="parent-unknown"),
    pytest.param(
        {"parent_id": "²"},
        {"parent_id"},
        id="parent-unicode-digit",
    ),
    pytest.param(
        {"parent_id": 10**20},
        {"parent_id"},
        id="parent-huge",
    ),
    pytest.param({"notify": "yes please"}, {"notify"}, id="notify-text"),
    pytest.param({"notify": 1}, {"notify"}, id="notify-number"),
    pytest.param({"notify": []}, {"notify"}, id="notify-list"),
    pytest.param({"page": 12}, {"page"}, id="page-not-text"),
]


@pytest.mark.parametrize(("changes", "named"), BAD_FIELDS)
def test_bad_field_is_named_in_a_422(shared_app, shared_client, changes, named):
    before = stored(shared_app)
    response = send(shared_client, shared_app, valid_fields(**changes))
    errors = assert_json_error(response, 422)["errors"]
    assert set(errors) == named
    assert all(isinstance(message, str) and message for message in errors.values())
    assert stored(shared_app) == before


def test_several_bad_fields_are_reported_in_one_answer(shared_app, shared_client):
    before = stored(shared_app)
    fields = valid_fields(
        page="https://evil.example/post",
        name="",
        email="nobody",
        website="ftp://files.example",
        body="x",
        parent_id="first",
        notify="maybe",
    )
    errors = assert_json_error(send(shared_client, shared_app, fields), 422)["errors"]
    assert set(errors) == {"page", "name", "email", "website", "body", "parent_id", "notify"}
    assert stored(shared_app) == before


def test_reply_to_a_comment_on_another_page_is_refused(comment_app, comment_client):
    known(comment_client, comment_app)
    elsewhere = publish(comment_client, comment_app, "On the other article.", page=OTHER)
    response = post_comment(comment_client, comment_app, "Replying across articles.", parent_id=elsewhere["id"])
    assert set(assert_json_error(response, 422)["errors"]) == {"parent_id"}
    assert thread(comment_client)["comments"] == []


def test_reply_to_a_pending_comment_is_refused(comment_app, comment_client):
    known(comment_client, comment_app)
    held = post_comment(comment_client, comment_app, "Waiting for the studio.", **CY).get_json()
    assert held["status"] == "pending"
    response = post_comment(comment_client, comment_app, "Replying to a held one.", parent_id=held["id"])
    assert set(assert_json_error(response, 422)["errors"]) == {"parent_id"}
    response = post_comment(comment_client, comment_app, "Same, id as text.", parent_id=str(held["id"]))
    assert set(assert_json_error(response, 422)["errors"]) == {"parent_id"}


def test_nul_bytes_in_the_body_are_stripped(comment_app, comment_client):
    known(comment_client, comment_app)
    response = post_comment(comment_client, comment_app, "Hello\x00 there\x00, friends.")
    assert response.status_code == 201, response.text
    assert response.get_json()["body"] == "Hello there, friends."
    [comment] = thread(comment_client)["comments"]
    assert comment["body_html"] == "<p>Hello there, friends.</p>"


@pytest.mark.parametrize("name", ["name", "email", "website", "page"])
def test_nul_byte_in_another_field_is_a_422_not_a_500(shared_app, shared_client, name):
    fields = valid_fields()
    fields[name] = fields[name][:3] + "\x00" + fields[name][3:]
    assert set(assert_json_error(send(shared_client, shared_app, fields), 422)["errors"]) == {name}


def test_lone_surrogate_in_the_body_is_not_a_500(shared_app, shared_client):
    response = send(shared_client, shared_app, valid_fields(body="Broken \ud800 text here."))
    assert response.status_code in (201, 422), response.status_code
    assert response.mimetype == "application/json"


def test_form_post_with_bad_fields_answers_422_with_inline_messages_keeping_the_input(comment_app, comment_client):
    token = form_token(comment_client)
    advance(comment_app, seconds=5)
    typed = {
        "page": ARTICLE,
        "name": "",
        "email": "not-an-address",
        "website": "javascript:alert(1)",
        "body": "x",
        "notify": "y",
        "form_token": token,
        "homepage": "",
    }
    response = comment_client.post("/comments", data=typed)
    assert response.status_code == 422
    document = assert_page_inert(response)
    assert document.one("h1").text.strip() == "Comments"
    for name in ("name", "email", "website", "body"):
        control = document.one(id=name)
        field = control.parent
        assert "field" in field.classes and "has-error" in field.classes, name
        assert control.attrs.get("aria-invalid") == "true", name
        message = field.one("p", cls="error", id=f"{name}-error")
        assert message.text.strip(), name
        assert f"{name}-error" in control.attrs.get("aria-describedby", "").split(), name
    assert document.one("input", id="email").attrs["value"] == "not-an-address"
    assert document.one("input", id="website").attrs["value"] == "javascript:alert(1)"
    assert document.one("textarea", id="body").text.strip() == "x"
    assert "checked" in document.one("input", id="notify").attrs
    assert document.one("input", name="page").attrs["value"] == ARTICLE
    assert document.one("input", name="form_token").attrs["value"] == token
    assert stored(comment_app) == 0


def test_form_post_with_a_bad_reply_target_says_so_above_the_form(comment_app, comment_client):
    token = form_token(comment_client)
    advance(comment_app, seconds=5)
    typed = {"page": ARTICLE, **CY, "body": "Replying to nothing.", "parent_id": "987654", "form_token": token}
    response = comment_client.post("/comments", data=typed)
    assert response.status_code == 422
    document = assert_page_inert(response)
    problems = document.one("div", cls="form-problems")
    assert "hidden" not in problems.attrs and "Parent id" in problems.text
    assert document.one("input", id="name").attrs["value"] == CY["name"]
    assert document.one("input", id="email").attrs["value"] == CY["email"]
    assert document.one("textarea", id="body").text.strip() == "Replying to nothing."
    assert stored(comment_app) == 0


def test_form_for_a_page_not_allowed_is_404(shared_app, shared_client):
    before = stored(shared_app)
    token = form_token(shared_client)
    advance(shared_app, seconds=5)
    response = shared_client.post(
        "/comments", data={"page": "https://evil.example/x", **CY, "body": "Hello there.", "form_token": token}
    )
    assert response.status_code == 404
    assert "Comments are not open for this page" in response.text
    assert stored(shared_app) == before


# -- 4. Cross-site scripting: stored as typed, shown inert everywhere ------------------------------------------------

PAYLOADS = [
    pytest.param("<script>alert(1)</script>", id="script"),
    pytest.param("<img src=x onerror=alert(1)>", id="img-onerror"),
    pytest.param('"><svg onload=alert(1)>', id="svg-onload"),
    pytest.param("javascript:alert(1)", id="javascript-url"),
    pytest.param("data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==", id="data-url"),
    pytest.param("' onmouseover='alert(1)", id="single-quote-attribute"),
    pytest.param('https://evil.example/"onmouseover="alert(1)', id="url-with-quote-attribute"),
]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_payload_in_body_name_and_website_is_inert_on_page_api_and_feed(comment_app, comment_client, payload):
    known(comment_client, comment_app, {**ADA, "name": payload})
    response = post_comment(comment_client, comment_app, payload, name=payload, website=payload)
    website = payload
    if response.status_code == 422:
        assert set(response.get_json()["errors"]) == {"website"}
        website = None
        response = post_comment(comment_client, comment_app, payload, name=payload)
    if payload.startswith(("javascript:", "data:")):
        assert website is None, "a script or data address was accepted as a website"
    assert response.status_code == 201, response.text
    posted = response.get_json()
    assert posted["status"] == "published"
    assert_body_html_inert(posted["body_html"], "POST answer")

    # The API: stored as typed, the HTML inert.
    [comment] = thread(comment_client)["comments"]
    assert comment["author"] == payload and comment["website"] == website
    fragment = assert_body_html_inert(comment["body_html"], "API body_html")
    assert fragment.text == payload

    # The page, and the page answering that comment.
    for params in ({}, {"reply": posted["id"]}):
        page, document = comments_page(comment_client, **params)
        assert_page_inert(page)
        assert_inert(document.one("ol", id="thread"), THREAD_TAGS, f"thread {params}")
        shown = document.by_id(f"comment-{posted['id']}")
        assert shown.one("span", cls="comment-author").text == payload
        assert shown.one("div", cls="comment-body").text == payload
        author_links = shown.one("span", cls="comment-author").select("a")
        assert [link.attrs["href"] for link in author_links] == ([website] if website else [])
        for link in shown.one("div", cls="comment-body").select("a"):
            assert is_web_address(link.attrs["href"]) and '"' not in link.attrs["href"]
    assert document.one("h2", id="form-title").text == f"Reply to {payload}"

    # The feed: its HTML content is inert once unescaped, the name is plain text, the address a web one.
    feed_response, feed = atom(comment_client)
    assert "<script" not in feed_response.text.lower()
    [entry] = feed.findall(f"{ATOM}entry")
    assert entry.findtext(f"{ATOM}author/{ATOM}name") == payload
    assert entry.findtext(f"{ATOM}title") == f"Comment by {payload}"
    assert entry.findtext(f"{ATOM}author/{ATOM}uri") == website
    content = entry.find(f"{ATOM}content")
    assert content.get("type") == "html"
    assert assert_body_html_inert(content.text, "feed content").text == payload


@pytest.mark.parametrize("website", ["javascript:alert(1)", "data:text/html;base64,PHNjcmlwdD4=", "vbscript:x"])
def test_script_and_data_websites_are_refused(shared_app, shared_client, website):
    response = send(shared_client, shared_app, valid_fields(website=website))
    assert set(assert_json_error(response, 422)["errors"]) == {"website"}


def test_web_addresses_in_a_body_are_linked_with_nofollow_ugc_noopener(comment_app, comment_client):
    known(comment_client, comment_app)
    body = (
        "Read https://example.org/guide. Also http://example.net/path?x=1&y=2!\n"
        'Not these: ftp://files.example/x javascript:alert(1) https://evil.example/p"onmouseover="alert(1)'
    )
    held = post_comment(comment_client, comment_app, body)
    assert held.get_json()["status"] == "pending", "three links must wait for the therapist"
    approve(comment_app, held.get_json()["id"])
    [comment] = thread(comment_client)["comments"]
    fragment = assert_body_html_inert(comment["body_html"], "linked body")
    links = fragment.select("a")
    assert [link.attrs["href"] for link in links] == [
        "https://example.org/guide",
        "http://example.net/path?x=1&y=2",
        "https://evil.example/p",
    ]
    for link in links:
        assert set(link.attrs["rel"].split()) == LINK_REL
        assert link.text == link.attrs["href"]
    assert "ftp://files.example/x javascript:alert(1)" in fragment.text


def test_reflected_query_parameters_stay_inert(shared_app, shared_client):
    """The article address, the host origin, the accent and the order all come back in the page."""
    page = f'{SITE}/blog/"><script>alert(1)</script>'
    params = {"embed": '"><script>alert(1)</script>', "accent": "red;}</style><script>x</script>", "order": '"x'}
    response, document = comments_page(shared_client, page, **params)
    assert_page_inert(response)
    assert document.one("main").attrs["data-page"] == page
    html = document.one("html")
    assert "data-embed" not in html.attrs and "style" not in html.attrs


# -- 5. No email address ever leaks ----------------------------------------------------------------------------------

ZELDA = {"name": "Zelda Q.", "email": "Zelda.Quux7431@Private-Mail-7431.example"}
HIDDEN = {"name": "Quiet Reader", "email": "q.hidden+tag5150@Secret-Box-5150.example"}
HELD = {"name": "Held Person", "email": "held.only.2718@held-box-2718.example"}
SPAMMER = {"name": "Some Robot", "email": "spam.only.9981@spam-box-9981.example"}


def traces(address: str) -> set[str]:
    """Return what would give an address away: itself, its parts, encodings and digests, lower-cased."""
    lower = address.strip().lower()
    local, _, domain = lower.partition("@")
    found = {lower, local, domain, quote(lower, safe=""), quote(lower), quote(local, safe="")}
    for form in {address, address.strip(), lower, address.upper()}:
        for algorithm in ("md5", "sha1", "sha256"):
            found.add(hashlib.new(algorithm, form.encode(), usedforsecurity=False).hexdigest())
    return found


def test_no_email_address_leaks_from_any_public_answer(comment_app, comment_client):
    answers = []

    def keep(response, expected: int):
        assert response.status_code == expected, (response.request.path, response.status_code, response.text)
        answers.append(response)
        return response

    def keep_post(body, person, **fields):
        return keep(post_comment(comment_client, comment_app, body, **person, **fields), 201).get_json()

    first = keep_post("Zelda here, first comment.", ZELDA, notify=True)
    approve(comment_app, first["id"])
    second = keep_post("Zelda again, published at once.", ZELDA, notify=True, website="https://zelda.example")
    reply = keep_post("A quiet reply to Zelda.", HIDDEN, parent_id=first["id"], notify=True)
    approve(comment_app, reply["id"])
    deeper = keep_post("Zelda answers the quiet reader.", ZELDA, parent_id=reply["id"])
    deepest = keep_post("And the quiet reader again.", HIDDEN, parent_id=deeper["id"])
    held = keep_post("Held, never approved.", HELD, parent_id=first["id"])
    keep(comment_client.post("/api/comments", json={"page": ARTICLE, **SPAMMER, "body": "Buy things now!"}), 201)
    keep(edit(comment_client, second["id"], second["edit_token"], "Zelda again, edited."), 200)
    keep(edit(comment_client, held["id"], held["edit_token"], "Held, edited while held."), 200)
    keep(remove(comment_client, deepest["id"], deepest["edit_token"]), 204)
    keep(remove(comment_client, first["id"], first["edit_token"]), 204)  # has replies: blanked

    # The form without JavaScript, for a known and an unknown address.
    for person in (ZELDA, HELD):
        token = form_token(comment_client)
        advance(comment_app, seconds=5)
        data = {"page": ARTICLE, **person, "body": f"Form post by {person['name']}.", "form_token": token}
        keep(comment_client.post("/comments", data=data), 303)

    for address in (ARTICLE, OTHER):
        keep(comment_client.get("/api/comments", query_string={"page": address}), 200)
        keep(comment_client.get("/api/comments", query_string={"page": address, "order": "newest"}), 200)
        keep(comment_client.get("/comments", query_string={"page": address}), 200)
        keep(comment_client.get("/comments/feed.atom", query_string={"page": address}), 200)
    keep(comment_client.get("/api/comments/counts", query_string=[("page", ARTICLE), ("page", OTHER)]), 200)
    for params in ({"order": "newest"}, {"posted": "published"}, {"posted": "pending"}, {"p": "2"}):
        keep(comment_client.get("/comments", query_string={"page": ARTICLE, **params}), 200)
    for comment_id in (first["id"], second["id"], reply["id"], deeper["id"], held["id"], 999):
        keep(comment_client.get("/comments", query_string={"page": ARTICLE, "reply": comment_id}), 200)

    shown = thread(comment_client)
    assert shown["count"] >= 4, shown  # the thread really has the comments whose addresses are looked for
    assert any(c["deleted"] for c in shown["comments"])
    for response in answers:
        headers = "\n".join(f"{name}: {value}" for name, value in response.headers.items())
        seen = (response.get_data(as_text=True) + "\n" + headers).lower()
        for person in (ZELDA, HIDDEN, HELD, SPAMMER):
            for trace in traces(person["email"]):
                assert trace not in seen, f"{response.request.method} {response.request.url} shows {trace!r}"


# -- 6. The Atom feed ------------------------------------------------------------------------------------------------


def test_feed_is_valid_atom_without_pending_or_spam(comment_app, comment_client):
    known(comment_client, comment_app)
    known(comment_client, comment_app, BEA)
    one = publish(comment_client, comment_app, "The first published comment.", website="https://ada.example")
    publish(comment_client, comment_app, "The second published comment.", parent_id=one["id"], **BEA)
    advance(comment_app, minutes=1)
    assert edit(comment_client, one["id"], one["edit_token"], "The first comment, edited.").status_code == 200
    edited_at = now(comment_app)
    publish(comment_client, comment_app, "On another article entirely.", page=OTHER)
    held = post_comment(comment_client, comment_app, "A held comment, not for the feed.", **CY)
    assert held.get_json()["status"] == "pending"
    trapped = post_comment(comment_client, comment_app, "A trapped comment, spam.", homepage="x")
    assert trapped.get_json()["status"] == "pending"
    untokened = comment_client.post("/api/comments", json={"page": ARTICLE, **BEA, "body": "No form token, spam."})
    assert untokened.status_code == 201

    response, feed = atom(comment_client)
    assert response.mimetype == "application/atom+xml"
    assert feed.tag == f"{ATOM}feed"
    assert feed.findtext(f"{ATOM}id") and feed.findtext(f"{ATOM}title")
    updated = feed.findtext(f"{ATOM}updated")
    assert RFC3339.match(updated)
    assert datetime.fromisoformat(updated) == edited_at, "pending and spam comments must not move the feed's time"
    [self_link] = [link for link in feed.findall(f"{ATOM}link") if link.get("rel") == "self"]
    self_href = urlsplit(self_link.get("href"))
    assert self_href.path == "/comments/feed.atom" and parse_qs(self_href.query)["page"] == [ARTICLE]
    assert feed.findtext(f"{ATOM}author/{ATOM}name")

    entries = feed.findall(f"{ATOM}entry")
    assert len(entries) == 2
    for entry in entries:
        assert entry.findtext(f"{ATOM}id") and entry.findtext(f"{ATOM}title")
        assert RFC3339.match(entry.findtext(f"{ATOM}updated"))
        assert datetime.fromisoformat(entry.findtext(f"{ATOM}updated")) <= datetime.fromisoformat(updated)
        assert entry.findtext(f"{ATOM}author/{ATOM}name")
        assert entry.find(f"{ATOM}content").get("type") == "html"
    ids = [entry.findtext(f"{ATOM}id") for entry in entries]
    assert len(set(ids)) == 2 and all(ARTICLE in entry_id for entry_id in ids)
    contents = " ".join(entry.findtext(f"{ATOM}content") for entry in entries)
    assert "The first comment, edited." in contents and "The second published comment." in contents
    assert {entry.findtext(f"{ATOM}author/{ATOM}name") for entry in entries} == {"Ada Reader", "Bea Writer"}
    edited_entry = next(e for e in entries if e.findtext(f"{ATOM}id").endswith(f"-{one['id']}"))
    assert datetime.fromisoformat(edited_entry.findtext(f"{ATOM}updated")) == edited_at
    for absent in ("held comment", "trapped comment", "No form token", "another article"):
        assert absent not in response.text


def test_feed_of_an_empty_thread_is_still_valid_atom(comment_client):
    response, feed = atom(comment_client)
    assert response.mimetype == "application/atom+xml"
    assert feed.tag == f"{ATOM}feed" and feed.findall(f"{ATOM}entry") == []
    assert RFC3339.match(feed.findtext(f"{ATOM}updated"))


# -- 7. Nested replies -----------------------------------------------------------------------------------------------


def test_reply_deeper_than_max_depth_joins_the_deepest_shown_level(comment_app, comment_client):
    assert moderation.MAX_DEPTH == 2
    known(comment_client, comment_app)
    known(comment_client, comment_app, BEA)
    top = publish(comment_client, comment_app, "Top-level comment.")
    first = publish(comment_client, comment_app, "Reply, depth one.", parent_id=top["id"], **BEA)
    second = publish(comment_client, comment_app, "Reply to the reply, depth two.", parent_id=first["id"])
    third = publish(comment_client, comment_app, "Depth three, shown at two.", parent_id=second["id"], **BEA)
    fourth = publish(comment_client, comment_app, "Depth four, shown at two.", parent_id=third["id"])

    parents = {c["id"]: c["parent_id"] for c in thread(comment_client)["comments"]}
    assert parents == {
        top["id"]: None,
        first["id"]: top["id"],
        second["id"]: first["id"],
        third["id"]: first["id"],
        fourth["id"]: first["id"],
    }

    _, document = comments_page(comment_client)
    assert root_ids(document) == [top["id"]]

    def item_of(comment_id: int) -> Element:
        item = document.by_id(f"comment-{comment_id}")
        assert item.tag == "li" and item.parent.tag == "ol"
        return item

    top_item = item_of(top["id"])
    [replies] = [child for child in top_item.elements if child.tag == "ol"]
    assert "replies" in replies.classes
    assert [int(li.attrs["data-id"]) for li in replies.elements] == [first["id"]]
    first_item = item_of(first["id"])
    [deeper] = [child for child in first_item.elements if child.tag == "ol"]
    assert "replies" in deeper.classes
    assert [int(li.attrs["data-id"]) for li in deeper.elements] == [second["id"], third["id"], fourth["id"]]
    for comment_id in (second["id"], third["id"], fourth["id"]):
        item = item_of(comment_id)
        assert item.attrs["data-depth"] == "2"
        assert not [child for child in item.elements if child.tag == "ol"], "nothing nests below MAX_DEPTH"
    assert document.by_id(f"comment-{first['id']}").attrs["data-depth"] == "1"


# -- 8. Pagination ---------------------------------------------------------------------------------------------------


def test_more_than_fifty_top_comments_are_paged(comment_app, comment_client):
    assert queries.THREADS_PER_PAGE == 50
    known(comment_client, comment_app)
    token = form_token(comment_client)
    ids = [
        publish(comment_client, comment_app, f"Top-level comment number {n}.", form_token=token)["id"]
        for n in range(55)
    ]
    reply = publish(comment_client, comment_app, "A reply to the very first.", parent_id=ids[0], form_token=token)

    _, first_page = comments_page(comment_client)
    assert root_ids(first_page) == ids[:50]
    assert first_page.by_id(f"comment-{reply['id']}") is not None
    assert first_page.one("h1").text.strip() == "56 comments"
    more = first_page.one("a", cls="more-comments")
    assert "More comments" in more.text
    query = parse_qs(urlsplit(more.attrs["href"]).query)
    assert query["p"] == ["2"] and query["page"] == [ARTICLE]

    second = comment_client.get(more.attrs["href"])
    assert second.status_code == 200
    second_page = parse_html(second.text)
    assert root_ids(second_page) == ids[50:]
    assert not second_page.select("a", cls="more-comments")
    assert second_page.select("a", rel="prev")

    _, newest = comments_page(comment_client, order="newest")
    assert root_ids(newest) == ids[::-1][:50]
    more = newest.one("a", cls="more-comments")
    query = parse_qs(urlsplit(more.attrs["href"]).query)
    assert query["p"] == ["2"] and query["order"] == ["newest"]
    newest_second = parse_html(comment_client.get(more.attrs["href"]).text)
    assert root_ids(newest_second) == ids[::-1][50:]
    assert newest_second.by_id(f"comment-{reply['id']}") is not None, "a reply travels with its top comment"


# -- 9. One's own edits ----------------------------------------------------------------------------------------------


def test_edit_own_comment_rerenders_and_marks_it_edited(comment_app, comment_client):
    known(comment_client, comment_app)
    # The link is there from the start: an edit that adds one is held again (tested with moderation).
    posted = publish(comment_client, comment_app, "Original text, see https://example.org")
    created_at = thread(comment_client)["comments"][0]["created_at"]
    edited_at = advance(comment_app, minutes=5)

    response = edit(comment_client, posted["id"], posted["edit_token"], "Edited: <b>bold</b> see https://example.org")
    assert response.status_code == 200, response.text
    answer = response.get_json()
    assert answer["status"] == "published" and answer["body"].startswith("Edited:")
    [comment] = thread(comment_client)["comments"]
    assert comment["body_html"] == answer["body_html"]
    fragment = assert_body_html_inert(comment["body_html"], "edited body")
    assert fragment.text == "Edited: <b>bold</b> see https://example.org"
    assert [link.attrs["href"] for link in fragment.select("a")] == ["https://example.org"]
    assert datetime.fromisoformat(comment["edited_at"]) == edited_at
    assert comment["created_at"] == created_at
    _, document = comments_page(comment_client)
    assert "(edited)" in document.by_id(f"comment-{posted['id']}").one("header").text


def test_edit_refuses_bad_bodies_and_other_fields(comment_app, comment_client):
    known(comment_client, comment_app)
    posted = publish(comment_client, comment_app, "Original text.")
    headers = {"X-Comment-Token": posted["edit_token"]}
    too_short = edit(comment_client, posted["id"], posted["edit_token"], "x")
    assert set(assert_json_error(too_short, 422)["errors"]) == {"body"}
    renamed = comment_client.patch(f"/api/comments/{posted['id']}", json={"name": "Someone Else"}, headers=headers)
    assert set(assert_json_error(renamed, 422)["errors"]) == {"name"}
    form = comment_client.patch(f"/api/comments/{posted['id']}", data={"body": "Form-encoded."}, headers=headers)
    assert_json_error(form, 415)
    [comment] = thread(comment_client)["comments"]
    assert comment["body_html"] == "<p>Original text.</p>" and comment["edited_at"] is None


def test_delete_own_comment_without_replies_removes_it(comment_app, comment_client):
    known(comment_client, comment_app)
    kept = publish(comment_client, comment_app, "This one stays.")
    gone = publish(comment_client, comment_app, "This one goes.")
    response = remove(comment_client, gone["id"], gone["edit_token"])
    assert response.status_code == 204 and response.data == b""
    answer = thread(comment_client)
    assert [c["id"] for c in answer["comments"]] == [kept["id"]] and answer["count"] == 1
    _, document = comments_page(comment_client)
    assert document.by_id(f"comment-{gone['id']}") is None
    assert remove(comment_client, gone["id"], gone["edit_token"]).status_code == 403


def test_delete_own_comment_with_a_reply_blanks_it(comment_app, comment_client):
    known(comment_client, comment_app)
    known(comment_client, comment_app, BEA)
    parent = publish(comment_client, comment_app, "Soon blanked.", website="https://ada.example")
    reply = publish(comment_client, comment_app, "A reply that keeps it.", parent_id=parent["id"], **BEA)
    assert remove(comment_client, parent["id"], parent["edit_token"]).status_code == 204

    answer = thread(comment_client)
    blank, kept = answer["comments"]
    assert blank == {
        "id": parent["id"],
        "parent_id": None,
        "author": None,
        "website": None,
        "body_html": "",
        "created_at": blank["created_at"],
        "edited_at": blank["edited_at"],
        "deleted": True,
    }
    assert (kept["id"], kept["parent_id"], kept["deleted"]) == (reply["id"], parent["id"], False)
    assert answer["count"] == 1
    counts = comment_client.get("/api/comments/counts", query_string={"page": ARTICLE}).get_json()
    assert counts == {ARTICLE: 1}

    response, document = comments_page(comment_client)
    item = document.by_id(f"comment-{parent['id']}")
    assert "deleted" in item.classes and "This comment was deleted." in item.text
    assert "Soon blanked" not in response.text and "https://ada.example" not in response.text
    assert item.one("ol", cls="replies").one("li").attrs["id"] == f"comment-{reply['id']}"
    feed_response, feed = atom(comment_client)
    assert len(feed.findall(f"{ATOM}entry")) == 1 and "Soon blanked" not in feed_response.text
    assert edit(comment_client, parent["id"], parent["edit_token"], "Back from the dead.").status_code == 403


def test_edit_and_delete_end_after_fifteen_minutes(comment_app, comment_client):
    known(comment_client, comment_app)
    posted = publish(comment_client, comment_app, "Editable for a while.")
    advance(comment_app, minutes=14, seconds=59)
    assert edit(comment_client, posted["id"], posted["edit_token"], "Still in time.").status_code == 200
    advance(comment_app, seconds=2)  # 15 min + 1 s after posting
    late_edit = edit(comment_client, posted["id"], posted["edit_token"], "Too late now.")
    assert set(assert_json_error(late_edit, 403)["errors"]) == {"token"}
    late_delete = remove(comment_client, posted["id"], posted["edit_token"])
    assert set(assert_json_error(late_delete, 403)["errors"]) == {"token"}
    [comment] = thread(comment_client)["comments"]
    assert comment["body_html"] == "<p>Still in time.</p>"


def retarget(token: str, comment_id: int) -> str:
    """Return a forgery: the token's data changed to name another comment, its signature kept."""
    _, data = URLSafeSerializer("any key").loads_unsafe(token)
    assert isinstance(data, dict) and "c" in data, data
    payload = URLSafeSerializer("any key").dumps({**data, "c": comment_id}).rsplit(".", 1)[0]
    return f"{payload}.{token.rsplit('.', 1)[1]}"


def test_token_of_one_comment_cannot_touch_another(comment_app, comment_client):
    known(comment_client, comment_app)
    known(comment_client, comment_app, BEA)
    mine = publish(comment_client, comment_app, "Ada's comment.")
    theirs = publish(comment_client, comment_app, "Bea's comment.", **BEA)
    assert_json_error(edit(comment_client, theirs["id"], mine["edit_token"], "Hijacked!"), 403)
    assert_json_error(remove(comment_client, theirs["id"], mine["edit_token"]), 403)
    forged = retarget(mine["edit_token"], theirs["id"])
    assert_json_error(edit(comment_client, theirs["id"], forged, "Hijacked!"), 403)
    assert_json_error(edit(comment_client, theirs["id"], "not-a-token", "Hijacked!"), 403)
    assert [c["body_html"] for c in thread(comment_client)["comments"]] == [
        "<p>Ada's comment.</p>",
        "<p>Bea's comment.</p>",
    ]


def test_edit_and_delete_without_a_token_are_401(comment_app, comment_client):
    known(comment_client, comment_app)
    posted = publish(comment_client, comment_app, "No token, no change.")
    assert set(assert_json_error(edit(comment_client, posted["id"], None, "Changed."), 401)["errors"]) == {"token"}
    assert set(assert_json_error(remove(comment_client, posted["id"], None), 401)["errors"]) == {"token"}
    assert thread(comment_client)["count"] == 1


def test_edit_adding_two_links_sends_a_published_comment_back_to_moderation(comment_app, comment_client):
    known(comment_client, comment_app)
    posted = publish(comment_client, comment_app, "Innocent at first.")
    assert thread(comment_client)["count"] == 1
    response = edit(
        comment_client, posted["id"], posted["edit_token"], "Now see https://a.example and https://b.example"
    )
    assert response.status_code == 200 and response.get_json()["status"] == "pending"
    assert thread(comment_client) == {"page": ARTICLE, "count": 0, "comments": []}
    _, document = comments_page(comment_client)
    assert document.by_id(f"comment-{posted['id']}") is None
    counts = comment_client.get("/api/comments/counts", query_string={"page": ARTICLE}).get_json()
    assert counts == {ARTICLE: 0}
    _, feed = atom(comment_client)
    assert feed.findall(f"{ATOM}entry") == []


# -- 10. The iframe page, without JavaScript -------------------------------------------------------------------------


def form_of(document: Element) -> tuple[str, dict]:
    """Return the comment form's action and the values of its hidden fields, as a browser would submit them."""
    form = document.one("section", id="comment-form").one("form")
    assert form.attrs["method"] == "post"
    hidden = {
        control.attrs["name"]: control.attrs.get("value", "")
        for control in form.select("input", type="hidden")
        if "name" in control.attrs
    }
    return form.attrs["action"], hidden


def submit(client, app, page_params: dict, **typed):
    """Load the comments page, wait 5 s as a person would, and post its form."""
    _, document = comments_page(client, **page_params)
    action, hidden = form_of(document)
    advance(app, seconds=5)
    return client.post(action, data={**hidden, "homepage": "", **typed})


def test_form_posts_and_redirects_back_with_a_thank_you(comment_app, comment_client):
    held = submit(comment_client, comment_app, {"embed": SITE}, **ADA, body="Posted without JavaScript.")
    assert held.status_code == 303
    location = urlsplit(held.headers["Location"])
    query = parse_qs(location.query)
    assert location.path == "/comments" and location.fragment == "comment-form"
    assert query == {"page": [ARTICLE], "posted": ["pending"], "embed": [SITE]}
    landed = comment_client.get(held.headers["Location"])
    notice = parse_html(landed.text).one(id="comments-notice")
    assert "hidden" not in notice.attrs
    assert notice.text == "Thank you! Your comment will appear once the studio has approved it."
    assert thread(comment_client)["comments"] == []

    [pending] = thread_ids_of_status(comment_app, CommentStatus.PENDING)
    approve(comment_app, pending)
    published = submit(comment_client, comment_app, {}, **ADA, body="My second, published at once.")
    assert published.status_code == 303
    location = urlsplit(published.headers["Location"])
    [comment] = [c for c in thread(comment_client)["comments"] if "second" in c["body_html"]]
    assert parse_qs(location.query)["posted"] == ["published"]
    assert location.fragment == f"comment-{comment['id']}"
    landed = parse_html(comment_client.get(published.headers["Location"]).text)
    assert landed.one(id="comments-notice").text == "Thank you! Your comment is published."
    assert "My second, published at once." in landed.by_id(f"comment-{comment['id']}").text


def thread_ids_of_status(app, status: str) -> list[int]:
    with app.app_context():
        return list(db.session.scalars(select(Comment.id).where(Comment.status == status)))


def test_page_says_the_email_is_not_published_and_marks_required_fields(shared_client):
    _, document = comments_page(shared_client)
    texts = [squash(p.text) for p in document.select("p")]
    assert "Your email address will not be published. Required fields are marked *" in texts
    for name in ("name", "email", "body"):
        assert "required" in document.one(id=name).attrs, name
        assert "*" in document.one("label", **{"for": name}).text
    assert "required" not in document.one(id="website").attrs


def test_reply_link_opens_the_form_as_a_reply(comment_app, comment_client):
    known(comment_client, comment_app)
    known(comment_client, comment_app, BEA)
    answered = publish(comment_client, comment_app, "Answer me, please.", **BEA)

    _, document = comments_page(comment_client)
    link = document.by_id(f"comment-{answered['id']}").one("a", cls="reply-link")
    assert parse_qs(urlsplit(link.attrs["href"]).query)["reply"] == [str(answered["id"])]
    response = comment_client.get(link.attrs["href"])
    reply_page = parse_html(response.text)
    assert reply_page.one("h2", id="form-title").text == "Reply to Bea Writer"
    assert "hidden" not in reply_page.one("p", cls="cancel-reply").attrs
    action, hidden = form_of(reply_page)
    assert hidden["parent_id"] == str(answered["id"])

    advance(comment_app, seconds=5)
    posted = comment_client.post(action, data={**hidden, **ADA, "body": "Here is my answer."})
    assert posted.status_code == 303
    replies = [c for c in thread(comment_client)["comments"] if c["parent_id"] == answered["id"]]
    assert [c["body_html"] for c in replies] == ["<p>Here is my answer.</p>"]


def test_reply_parameter_ignores_held_and_foreign_comments(comment_app, comment_client):
    known(comment_client, comment_app)
    held = post_comment(comment_client, comment_app, "Still waiting.", **CY).get_json()
    foreign = publish(comment_client, comment_app, "On the other article.", page=OTHER)
    for target in (held["id"], foreign["id"], 424242, "abc"):
        _, document = comments_page(comment_client, reply=target)
        assert document.one("h2", id="form-title").text == "Leave a comment"
        assert form_of(document)[1]["parent_id"] == ""


@pytest.mark.parametrize("target", ["²", "99999999999999999999999"])
def test_reply_parameter_that_is_not_a_comment_id_is_not_a_500(shared_client, target):
    response = shared_client.get("/comments", query_string={"page": ARTICLE, "reply": target})
    assert response.status_code == 200


def test_comments_page_may_be_framed_only_by_allowed_origins(comment_app, comment_client):
    response, _ = comments_page(comment_client)
    policy = response.headers["Content-Security-Policy"]
    [directive] = [part.split() for part in policy.split(";") if part.split()[:1] == ["frame-ancestors"]]
    assert set(directive[1:]) == ALLOWED_ORIGINS
    assert "X-Frame-Options" not in response.headers
    posted = submit(comment_client, comment_app, {}, **ADA, body="Checking the redirect's policy.")
    assert posted.status_code == 303
    assert "https://studio.example" in posted.headers["Content-Security-Policy"]


def test_moderation_link_pages_may_not_be_framed(comment_app, comment_client, mailbox):
    assert post_comment(comment_client, comment_app, "Please approve me.").get_json()["status"] == "pending"
    deliver_outbox(comment_app)
    [message] = mailbox.wait_for(1)
    text = message.get_body(("plain",)).get_content()
    links = re.findall(r"https?://\S+/comments/(?:approve|delete)/[\w.-]+", text)
    assert len(links) == 2, text
    for link in [*links, "http://widget.test/comments/approve/forged.token"]:
        response = comment_client.get(urlsplit(link).path)
        assert response.status_code in (200, 410), link
        policy = response.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in policy and "studio.example" not in policy
        assert response.headers["X-Frame-Options"] == "DENY"


def test_reply_parameter_ignores_a_deleted_comment(comment_app, comment_client):
    known(comment_client, comment_app)
    known(comment_client, comment_app, BEA)
    blanked = publish(comment_client, comment_app, "Soon blanked by its author.")
    publish(comment_client, comment_app, "A reply that keeps it in place.", parent_id=blanked["id"], **BEA)
    assert remove(comment_client, blanked["id"], blanked["edit_token"]).status_code == 204
    _, document = comments_page(comment_client, reply=blanked["id"])
    assert document.one("h2", id="form-title").text == "Leave a comment"
    assert form_of(document)[1]["parent_id"] == ""


def test_allowed_sites_may_read_counts_from_their_scripts(shared_client):
    """A blog index on the studio's site can fetch comment counts: the API echoes allowed origins only, for reads."""
    url = "/api/comments/counts"
    allowed = shared_client.get(url, query_string={"page": ARTICLE}, headers={"Origin": SITE})
    assert allowed.headers["Access-Control-Allow-Origin"] == SITE
    assert "Origin" in allowed.headers["Vary"]
    foreign = shared_client.get(url, query_string={"page": ARTICLE}, headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in foreign.headers
    assert "Access-Control-Allow-Credentials" not in allowed.headers
    posted = shared_client.post("/api/comments", json={}, headers={"Origin": SITE})
    assert "Access-Control-Allow-Origin" not in posted.headers, "writes are not shared across origins"
