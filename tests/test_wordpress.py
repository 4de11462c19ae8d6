"""Importing comments from a WordPress export (WXR): mapping, threads, safety, idempotency, the CLI."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from xml.etree import ElementTree as ET
from xml.sax.saxutils import escape

import pytest
from sqlalchemy import func, select

from tests.support import ARTICLE, COMMENT_ORIGINS, SITE, make_app
from widget.booking import business
from widget.comments import limits, moderation
from widget.comments.wordpress import ImportProblem, attach, comment_html, import_wordpress, thread_position
from widget.extensions import db
from widget.models import Comment, CommentStatus, OutboxMessage

SECOND = f"{SITE}/blog/second-post"
UTC = timezone.utc
NAMESPACES = """
    xmlns:excerpt="http://wordpress.org/export/{version}/excerpt/"
    xmlns:content="http://purl.org/rss/1.0/modules/content/"
    xmlns:wfw="http://wellformedweb.org/CommentAPI/"
    xmlns:dc="http://purl.org/dc/elements/1.1/"
    xmlns:wp="http://wordpress.org/export/{version}/"
"""


# -- Building export files ----------------------------------------------------------------------------------------


def wp_comment(
    number: int,
    content: str,
    *,
    parent: int = 0,
    approved: str = "1",
    kind: str = "comment",
    author: str = "A Reader",
    email: str = "",
    url: str = "",
    date_gmt: str = "2020-01-05 10:00:00",
    date: str = "2020-01-05 03:00:00",
) -> str:
    """Return one <wp:comment> as WordPress writes it."""
    return f"""
    <wp:comment>
      <wp:comment_id>{number}</wp:comment_id>
      <wp:comment_author><![CDATA[{author}]]></wp:comment_author>
      <wp:comment_author_email><![CDATA[{email}]]></wp:comment_author_email>
      <wp:comment_author_url>{escape(url)}</wp:comment_author_url>
      <wp:comment_author_IP><![CDATA[203.0.113.{number}]]></wp:comment_author_IP>
      <wp:comment_date><![CDATA[{date}]]></wp:comment_date>
      <wp:comment_date_gmt><![CDATA[{date_gmt}]]></wp:comment_date_gmt>
      <wp:comment_content><![CDATA[{content}]]></wp:comment_content>
      <wp:comment_approved><![CDATA[{approved}]]></wp:comment_approved>
      <wp:comment_type><![CDATA[{kind}]]></wp:comment_type>
      <wp:comment_parent>{parent}</wp:comment_parent>
      <wp:comment_user_id>0</wp:comment_user_id>
      <wp:commentmeta>
        <wp:meta_key><![CDATA[akismet_result]]></wp:meta_key>
        <wp:meta_value><![CDATA[false]]></wp:meta_value>
      </wp:commentmeta>
    </wp:comment>"""


def wp_item(link: str, post_id: int, wp_comments: list[str] = (), post_type: str = "post") -> str:
    """Return one <item> (a post, page or attachment) with its comments."""
    return f"""
  <item>
    <title>Post {post_id}</title>
    <link>{escape(link)}</link>
    <pubDate>Sun, 05 Jan 2020 09:00:00 +0000</pubDate>
    <dc:creator><![CDATA[therapist]]></dc:creator>
    <guid isPermaLink="false">{SITE}/?p={post_id}</guid>
    <description></description>
    <content:encoded><![CDATA[<p>What to expect at your <em>first</em> massage.</p>]]></content:encoded>
    <excerpt:encoded><![CDATA[]]></excerpt:encoded>
    <wp:post_id>{post_id}</wp:post_id>
    <wp:post_date><![CDATA[2020-01-05 02:00:00]]></wp:post_date>
    <wp:post_date_gmt><![CDATA[2020-01-05 09:00:00]]></wp:post_date_gmt>
    <wp:comment_status><![CDATA[open]]></wp:comment_status>
    <wp:post_name><![CDATA[post-{post_id}]]></wp:post_name>
    <wp:status><![CDATA[publish]]></wp:status>
    <wp:post_parent>0</wp:post_parent>
    <wp:post_type><![CDATA[{post_type}]]></wp:post_type>
    <wp:postmeta>
      <wp:meta_key><![CDATA[_edit_last]]></wp:meta_key>
      <wp:meta_value><![CDATA[1]]></wp:meta_value>
    </wp:postmeta>{"".join(wp_comments)}
  </item>"""


def write_wxr(tmp_path, items: list[str], *, name: str = "export.xml", version: str = "1.2", header: str = "") -> str:
    """Write a WXR file holding these items; return its path."""
    text = f"""<?xml version="1.0" encoding="UTF-8" ?>
{header}<rss version="2.0" {NAMESPACES.format(version=version)}>
<channel>
  <title>Studio blog</title>
  <link>{SITE}</link>
  <description>Massage and wellbeing</description>
  <pubDate>Mon, 01 Jun 2020 12:00:00 +0000</pubDate>
  <language>en-US</language>
  <wp:wxr_version>{version}</wp:wxr_version>
  <wp:base_site_url>{SITE}</wp:base_site_url>
  <wp:base_blog_url>{SITE}</wp:base_blog_url>
  <wp:author><wp:author_id>1</wp:author_id><wp:author_login><![CDATA[therapist]]></wp:author_login></wp:author>
  <generator>https://wordpress.org/?v=6.4.2</generator>
{"".join(items)}
</channel>
</rss>
"""
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


FIRST_CONTENT = """Thank you for the <strong>lovely</strong> article! See <a href="https://studio.example/oils" \
onclick="steal()">the oils</a>.

<script>alert('pwned')</script>Second paragraph
on two lines."""


def first_post_comments(only: set[int] | None = None) -> list[str]:
    """Return the comments of the first post: a deep thread, every status, a pingback, a child before its parent."""
    found = {
        1: wp_comment(
            1,
            FIRST_CONTENT,
            author="Zoë Lindqvist",
            email=" Zoe.Lindqvist@Example.COM ",
            url="https://zoe.example/",
        ),
        # Listed before its parent (2).
        3: wp_comment(3, "Merci ! Je suis d’accord.", parent=2, author="Marie", date_gmt="2020-01-07 10:00:00"),
        2: wp_comment(
            2, "Привет! Спасибо за статью 🙂", parent=1, author="Аня Петрова", date_gmt="2020-01-06 10:00:00"
        ),
        5: wp_comment(5, "日本語の返信です。", parent=3, author="佐藤", date_gmt="2020-01-08 10:00:00"),
        6: wp_comment(6, "Fourth level down.", parent=5, author="Deep Diver", date_gmt="2020-01-09 10:00:00"),
        7: wp_comment(7, "Binned by the therapist.", parent=1, approved="trash", date_gmt="2020-01-06 12:00:00"),
        8: wp_comment(8, "Answering a binned comment.", parent=7, author="Orphan", date_gmt="2020-01-10 10:00:00"),
        9: wp_comment(
            9, "[…] a post about massage […]", kind="pingback", author="Other blog", url="https://other.example/p"
        ),
        10: wp_comment(10, "Answering the pingback.", parent=9, author="Pat", date_gmt="2020-01-11 10:00:00"),
        11: wp_comment(
            11,
            "Is this held?",
            approved="0",
            author="Held Person",
            email="held@example.com",
            date_gmt="0000-00-00 00:00:00",
            date="2020-02-01 09:30:00",
        ),
        12: wp_comment(
            12,
            "Buy <a href='http://spam.example'>pills</a>",
            approved="spam",
            author="Cheap Pills",
            email="pills@spam.example",
            url="http://spam.example",
            date_gmt="2020-02-02 10:00:00",
        ),
        13: wp_comment(
            13,
            "Just a plain comment.\n\nWith two paragraphs\nand a line break.",
            author="   ",
            email="not-an-email",
            url="javascript:alert(1)",
            date_gmt="2020-02-03 10:00:00",
        ),
        14: wp_comment(14, "Private editorial note.", kind="note", author="therapist", date_gmt="2020-02-04 10:00:00"),
    }
    return [text for number, text in found.items() if only is None or number in only]


def studio_export(tmp_path, name: str = "export.xml", only: set[int] | None = None) -> str:
    """Write a realistic export: two posts on SITE, one on a site not allowed, an attachment without comments."""
    items = [
        wp_item(f"{ARTICLE}/", 10, first_post_comments(only)),
        wp_item(
            f"{SECOND}?utm_source=feed",
            11,
            [
                wp_comment(
                    21,
                    "<p>Already <em>paragraphed</em>.</p><p>Two.</p>",
                    author="Ben",
                    email="ben@example.com",
                    date_gmt="2020-03-01 10:00:00",
                ),
                # Dated before the comment it answers (a server clock was wrong): still stored after it.
                wp_comment(
                    22,
                    "Same Zoë, another post.",
                    parent=21,
                    author="Zoë Lindqvist",
                    email="zoe.lindqvist@example.com",
                    date_gmt="2020-02-28 10:00:00",
                ),
                wp_comment(23, "Linked from elsewhere.", kind="trackback", date_gmt="2020-03-03 10:00:00"),
            ]
            if only is None
            else [],
        ),
        wp_item(
            "https://elsewhere.example/blog/other-site",
            12,
            [wp_comment(31, "On another site."), wp_comment(32, "Also there.", parent=31)],
        ),
        wp_item(f"{SITE}/?attachment_id=20", 20, post_type="attachment"),
    ]
    return write_wxr(tmp_path, items, name=name)


def by_wordpress_id() -> dict[int, Comment]:
    """Return the stored comments by the WordPress comment id in their source."""
    return {int(c.source.rsplit(":", 1)[1]): c for c in db.session.scalars(select(Comment))}


def comment_count() -> int:
    return db.session.scalar(select(func.count(Comment.id)))


# -- The import ---------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def imported_app(tmp_path_factory):
    """Return an app (comments open for SITE) that has imported studio_export; its tests only read."""
    folder = tmp_path_factory.mktemp("imported")
    app = make_app(folder, EMBED_ALLOWED_ORIGINS=COMMENT_ORIGINS)
    with app.app_context():
        import_wordpress(studio_export(folder))
    return app


@pytest.fixture(scope="module")
def refusing_app(tmp_path_factory):
    """Return an app (comments open for SITE) for files that must be refused: nothing is ever written to it."""
    return make_app(tmp_path_factory.mktemp("refusing"), EMBED_ALLOWED_ORIGINS=COMMENT_ORIGINS)


def test_import_counts_what_it_did_and_skipped(comment_app, tmp_path, mailbox):
    path = studio_export(tmp_path)
    with comment_app.app_context():
        counts = import_wordpress(path)
        assert counts == {
            "site": "studio.example",
            "imported": 12,
            "published": 10,
            "held": 1,
            "spam": 1,
            "already_imported": 0,
            "skipped_trash": 1,
            "skipped_pingbacks": 2,
            "skipped_other": 1,
            "skipped_pages": 1,
            "refused_origins": ["https://elsewhere.example"],
            "refused": [],
        }
        assert comment_count() == 12
        # Nothing from the refused site, the trash, pingbacks or editorial notes.
        assert set(by_wordpress_id()) == {1, 2, 3, 5, 6, 8, 10, 11, 12, 13, 21, 22}
        # Old conversations: no one is emailed, nothing is queued.
        assert db.session.scalar(select(func.count(OutboxMessage.id))) == 0
    assert mailbox.messages == []


def test_import_maps_statuses_people_and_dates(imported_app):
    with imported_app.app_context():
        found = by_wordpress_id()
        statuses = {number: c.status for number, c in found.items()}
        assert statuses == {n: CommentStatus.PUBLISHED for n in (1, 2, 3, 5, 6, 8, 10, 13, 21, 22)} | {
            11: CommentStatus.PENDING,
            12: CommentStatus.SPAM,
        }
        assert found[11].reason == "imported from WordPress, not approved there"
        assert found[12].reason == "marked as spam in WordPress"
        assert found[1].reason is None

        zoe = found[1]
        assert zoe.page == ARTICLE
        assert found[21].page == SECOND
        assert zoe.source == "wordpress:studio.example:1"
        assert (zoe.author, zoe.email, zoe.website) == (
            "Zoë Lindqvist",
            "zoe.lindqvist@example.com",
            "https://zoe.example/",
        )
        assert found[2].author == "Аня Петрова"
        assert found[2].body == "Привет! Спасибо за статью 🙂"
        assert found[5].author == "佐藤"
        anonymous = found[13]
        assert (anonymous.author, anonymous.email, anonymous.website) == ("Anonymous", None, None)
        assert found[12].website == "http://spam.example"
        assert not any(c.notify_replies for c in found.values())

        assert zoe.created_at == datetime(2020, 1, 5, 10, 0, tzinfo=UTC)
        assert zoe.published_at == zoe.created_at
        # No GMT date: the local date is read in the studio's zone (Denver, UTC-7 in February).
        assert business.current().studio.timezone == "America/Denver"
        assert found[11].created_at == datetime(2020, 2, 1, 16, 30, tzinfo=UTC)
        assert found[11].published_at is None
        assert found[12].published_at is None


def test_import_keeps_threads_within_the_display_depth(imported_app):
    with imported_app.app_context():
        found = by_wordpress_id()

        def our(number):
            return found[number].id if number else None

        placed = {number: (c.parent_id, c.reply_to_id) for number, c in found.items()}
        assert placed == {
            1: (None, None),
            2: (our(1), our(1)),
            3: (our(2), our(2)),  # depth 2: as deep as replies are shown
            5: (our(2), our(3)),  # answers 3 (depth 2): shown beside it, under 2
            6: (our(2), our(5)),  # four levels down in WordPress, still shown under 2
            8: (our(1), our(1)),  # its parent (7) is in the trash: it answers 7's parent
            10: (None, None),  # its parent was a pingback: on the article
            11: (None, None),
            12: (None, None),
            13: (None, None),
            21: (None, None),
            22: (our(21), our(21)),
        }
        # Parents are stored before their replies though the file lists 3 before 2.
        assert found[2].id < found[3].id < found[5].id < found[6].id
        assert found[21].id < found[22].id


def test_imported_html_is_paragraphs_with_nothing_executable(imported_app):
    with imported_app.app_context():
        found = by_wordpress_id()
        html = found[1].body_html
        assert html.startswith("<p>Thank you for the <strong>lovely</strong> article! See <a ")
        assert 'href="https://studio.example/oils"' in html
        assert 'rel="nofollow ugc noopener"' in html
        assert "<p>Second paragraph<br>\non two lines.</p>" in html
        # The text as written is kept; only the HTML is sanitised.
        assert found[1].body == FIRST_CONTENT
        assert found[13].body_html == "<p>Just a plain comment.</p>\n<p>With two paragraphs<br>\nand a line break.</p>"
        assert found[21].body_html == "<p>Already <em>paragraphed</em>.</p><p>Two.</p>"
        for comment in found.values():
            lowered = comment.body_html.lower()
            for danger in ("<script", "alert", "onclick", "steal", "javascript:"):
                assert danger not in lowered, (comment.source, comment.body_html)


@pytest.mark.parametrize(
    ("content", "html"),
    [
        ("one line", "<p>one line</p>"),
        ("a\nb\n\n\nc", "<p>a<br>\nb</p>\n<p>c</p>"),
        ("<p>kept <b>as</b> is</p>", "<p>kept <b>as</b> is</p>"),
        ('<img src=x onerror="alert(1)">x < y', "<p>x &lt; y</p>"),
        ('<a href="javascript:alert(1)">link</a>', '<p><a target="_blank" rel="nofollow ugc noopener">link</a></p>'),
    ],
)
def test_comment_html(content, html):
    assert comment_html(content) == html


def test_published_imports_show_without_email_addresses(imported_app):
    comment_client = imported_app.test_client()
    with imported_app.app_context():
        found = by_wordpress_id()
    response = comment_client.get("/api/comments", query_string={"page": ARTICLE})
    assert response.status_code == 200
    shown = {c["id"]: c for c in response.json["comments"]}
    assert set(shown) == {found[n].id for n in (1, 2, 3, 5, 6, 8, 10, 13)}
    assert shown[found[6].id]["parent_id"] == found[2].id
    assert shown[found[1].id]["author"] == "Zoë Lindqvist"
    assert shown[found[1].id]["created_at"] == "2020-01-05T10:00:00+00:00"
    for text in (response.text, comment_client.get("/api/comments", query_string={"page": SECOND}).text):
        assert "@" not in text
        assert "203.0.113" not in text  # nor the IP addresses in the file
    page = comment_client.get("/comments", query_string={"page": ARTICLE}).text
    assert "Zoë Lindqvist" in page and "日本語の返信です。" in page
    assert "zoe.lindqvist@example.com" not in page
    assert max(int(depth) for depth in re.findall(r'data-depth="(\d+)"', page)) == moderation.MAX_DEPTH


def test_import_again_creates_nothing_twice(comment_app, tmp_path):
    path = studio_export(tmp_path)
    with comment_app.app_context():
        import_wordpress(path)
        before = {c.id: (c.source, c.parent_id, c.reply_to_id) for c in db.session.scalars(select(Comment))}
        again = import_wordpress(path)
        assert again["imported"] == 0
        assert again["already_imported"] == 12
        after = {c.id: (c.source, c.parent_id, c.reply_to_id) for c in db.session.scalars(select(Comment))}
        assert after == before


def test_import_after_a_partial_import_adds_the_rest_to_the_same_threads(comment_app, tmp_path):
    with comment_app.app_context():
        first = import_wordpress(studio_export(tmp_path, "partial.xml", only={1, 2, 3}))
        assert first["imported"] == 3
        earlier = by_wordpress_id()
        second = import_wordpress(studio_export(tmp_path))
        assert (second["imported"], second["already_imported"]) == (9, 3)
        found = by_wordpress_id()
        assert comment_count() == 12
        assert {n: found[n].id for n in (1, 2, 3)} == {n: earlier[n].id for n in (1, 2, 3)}
        assert (found[5].parent_id, found[5].reply_to_id) == (earlier[2].id, earlier[3].id)
        assert (found[8].parent_id, found[8].reply_to_id) == (earlier[1].id, earlier[1].id)


def test_a_file_broken_after_some_posts_writes_nothing(comment_app, tmp_path):
    whole = studio_export(tmp_path)
    with open(whole, encoding="utf-8") as file:
        text = file.read()
    broken = tmp_path / "broken.xml"
    # Cut inside the third post: the first two were read (and flushed) before the error.
    broken.write_text(text[: text.index("On another site.")], encoding="utf-8")
    with comment_app.app_context():
        with pytest.raises(ImportProblem, match="not well-formed XML"):
            import_wordpress(str(broken))
        assert comment_count() == 0
        # The session is usable afterwards and the whole file still imports.
        assert import_wordpress(whole)["imported"] == 12


def test_every_wxr_version_is_read(comment_app, tmp_path):
    with comment_app.app_context():
        for number, version in enumerate(["1.0", "1.1", "1.2"], start=1):
            item = wp_item(ARTICLE, 10, [wp_comment(number, f"Hello from WXR {version}.")])
            path = write_wxr(tmp_path, [item], name=f"wxr-{version}.xml", version=version)
            assert import_wordpress(path)["imported"] == 1, version
            assert by_wordpress_id()[number].body_html == f"<p>Hello from WXR {version}.</p>"


# -- Comments held to the rules of comments posted here ---------------------------------------------------------

RULES_POST = f"{SITE}/blog/rules"


def rule_breaking_export(tmp_path, body_length: int = limits.BODY_MAX + 1) -> str:
    """Write an export with one comment per rule broken, a reply to a refused one, and two that are fine."""
    return write_wxr(
        tmp_path,
        [
            wp_item(
                RULES_POST,
                40,
                [
                    wp_comment(40, "Fine, and answered below.", author="Parent"),
                    wp_comment(41, "From the year one.", date_gmt="0001-01-01 00:00:00"),
                    wp_comment(42, "From next week.", date_gmt="2026-11-30 10:00:00", parent=40),
                    wp_comment(43, "x" * body_length),
                    wp_comment(44, "A two-line name.", author="Ada\nReader"),
                    wp_comment(45, "A long name.", author="N" * (limits.LIMITS["name"] + 1)),
                    wp_comment(46, "A long address.", email="a@" + "b" * limits.LIMITS["email"] + ".example"),
                    wp_comment(47, "A long site.", url="https://site.example/" + "p" * limits.LIMITS["website"]),
                    wp_comment(48, "No date at all.", date_gmt="", date="yesterday"),
                    wp_comment(49, "Answering a comment from the future.", parent=42, author="Replier"),
                    wp_comment(50, "Bell&#7; form&#12;feed &#1;and escape&#27;.", author="Controls"),
                    # Within the bounds: the first day allowed, and half a day ahead of the clock.
                    wp_comment(51, "From the early web.", date_gmt="1995-01-01 00:00:00"),
                    wp_comment(52, "From a server a little ahead.", date_gmt="2026-11-24 03:00:00"),
                ],
            )
        ],
        name="rules.xml",
    )


RULE_REFUSALS = {
    41: "its date, 0001-01-01 00:00:00 GMT, is before 1995",
    42: "its date, 2026-11-30 10:00:00 GMT, is in the future",
    43: "its text must be at most 10,000 characters (it has 10,001)",
    44: "its name must be on one line, without control characters",
    45: "its name must be at most 100 characters",
    46: "its email must be at most 254 characters",
    47: "its website must be at most 500 characters",
    48: "it has no valid date (comment_date_gmt '', comment_date 'yesterday')",
}


def test_import_refuses_comments_breaking_the_comment_rules_and_names_each(comment_app, tmp_path):
    path = rule_breaking_export(tmp_path)
    with comment_app.app_context():
        counts = import_wordpress(path)
        assert counts["refused"] == [
            {"id": number, "page": RULES_POST, "reason": reason} for number, reason in RULE_REFUSALS.items()
        ]
        assert counts["imported"] == 5
        found = by_wordpress_id()
        assert set(found) == {40, 49, 50, 51, 52}
        # The reply to a refused comment is kept, answering the refused one's parent.
        assert (found[49].parent_id, found[49].reply_to_id) == (found[40].id, found[40].id)
        # Character references to control characters are not shown, as typed ones are not.
        assert found[50].body_html == "<p>Bell formfeed and escape.</p>"

        again = import_wordpress(path)
        assert (again["imported"], again["already_imported"]) == (0, 5)
        assert [each["id"] for each in again["refused"]] == list(RULE_REFUSALS)
        assert comment_count() == 5


def rules_post(tmp_path, *wp_comments: str) -> str:
    """Write an export of one post on RULES_POST with these comments and a fine one (id 1)."""
    fine = wp_comment(1, "A fine comment, kept.", author="Fine Reader")
    return write_wxr(tmp_path, [wp_item(RULES_POST, 40, [fine, *wp_comments])], name="one-post.xml")


def test_comment_from_the_year_one_is_refused_and_the_article_still_answers(comment_app, tmp_path):
    path = rules_post(tmp_path, wp_comment(2, "From the year one.", date_gmt="0001-01-01 00:00:00"))
    with comment_app.app_context():
        counts = import_wordpress(path)
        assert [(each["id"], each["reason"]) for each in counts["refused"]] == [(2, RULE_REFUSALS[41])]
    client = comment_app.test_client()
    for url in ("/comments", "/api/comments", "/comments/feed.atom"):
        response = client.get(url, query_string={"page": RULES_POST})
        assert response.status_code == 200, url
        assert "A fine comment, kept." in response.text and "year one" not in response.text


def test_character_references_to_control_characters_do_not_break_the_feed(comment_app, tmp_path):
    path = rules_post(tmp_path, wp_comment(2, "Bell&#7; form&#12;feed &#1;and escape&#27;.", author="Controls"))
    with comment_app.app_context():
        assert import_wordpress(path)["imported"] == 2
        assert by_wordpress_id()[2].body_html == "<p>Bell formfeed and escape.</p>"
    feed = comment_app.test_client().get("/comments/feed.atom", query_string={"page": RULES_POST})
    assert feed.status_code == 200
    entries = ET.fromstring(feed.data).findall("{http://www.w3.org/2005/Atom}entry")  # noqa: S314 - our own feed
    assert len(entries) == 2


def test_forty_megabyte_comment_is_refused_and_the_rest_imported(comment_app, tmp_path):
    path = rules_post(tmp_path, wp_comment(2, "x" * 40 * 1024 * 1024))
    with comment_app.app_context():
        counts = import_wordpress(path)
        assert counts["refused"] == [
            {"id": 2, "page": RULES_POST, "reason": "its text must be at most 10,000 characters (it has 41,943,040)"}
        ]
        assert counts["imported"] == 1 and set(by_wordpress_id()) == {1}


def test_cli_lists_refused_comments_with_their_reasons(comment_app, tmp_path):
    result = comment_app.test_cli_runner().invoke(args=["import-wordpress", rule_breaking_export(tmp_path)])
    assert result.exit_code == 0, result.output
    summary, *listed = result.output.strip().split("\n")
    assert summary.startswith("Imported 5 comments from WordPress (studio.example)")
    assert "Refused 8 comments that break the comment rules" in summary
    assert listed == [f"  comment {number} on {RULES_POST}: {reason}" for number, reason in RULE_REFUSALS.items()]


# -- Refused files ------------------------------------------------------------------------------------------------

BILLION_LAUGHS = """<!DOCTYPE rss [
  <!ENTITY lol "lol">
  <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
  <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
  <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
  <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
  <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
  <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
"""
EXTERNAL_ENTITY = """<!DOCTYPE rss [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
"""


def entity_export(tmp_path, header: str, entity: str) -> str:
    """Write an export whose comment text uses an entity the header declares."""
    item = wp_item(ARTICLE, 10, [wp_comment(1, "x")]).replace("<![CDATA[x]]>", f"&{entity};")
    return write_wxr(tmp_path, [item], name="hostile.xml", header=header)


@pytest.mark.parametrize(
    ("header", "entity", "message"),
    [
        (BILLION_LAUGHS, "lol9", "declares the entity 'lol'"),
        (EXTERNAL_ENTITY, "xxe", "declares an external entity (file:///etc/passwd)"),
    ],
    ids=["billion-laughs", "external-entity"],
)
def test_files_with_entities_are_refused(refusing_app, tmp_path, header, entity, message):
    path = entity_export(tmp_path, header, entity)
    with refusing_app.app_context():
        with pytest.raises(ImportProblem) as refused:
            import_wordpress(path)
        assert message in str(refused.value)
        assert "nothing was imported" in str(refused.value)
        assert comment_count() == 0

    result = refusing_app.test_cli_runner().invoke(args=["import-wordpress", path])
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output
    assert "root:" not in result.output  # /etc/passwd was not read into the answer
    with refusing_app.app_context():
        assert comment_count() == 0


NOT_WXR = [
    ("plain text", "This is a note, not an export.\n", "is not well-formed XML (syntax error: line 1, column 0)"),
    ("empty", "", "is not well-formed XML (no element found"),
    ("json", '{"comments": []}', "is not well-formed XML"),
    ("html", "<html><body><p>Hello</p></body></html>", "is not a WordPress export: it is <html>, not <rss>"),
    (
        "plain rss",
        '<rss version="2.0"><channel><title>t</title><link>https://studio.example</link>'
        "<item><link>https://studio.example/blog/first-massage</link></item></channel></rss>",
        "is an RSS feed, not a WordPress export (no wp: namespace)",
    ),
    (
        "future wxr",
        '<rss version="2.0" xmlns:wp="http://wordpress.org/export/9.9/"><channel></channel></rss>',
        "a version this importer does not read (http://wordpress.org/export/9.9/)",
    ),
    (
        "no site",
        '<rss version="2.0" xmlns:wp="http://wordpress.org/export/1.2/"><channel>'
        "<item><link>https://studio.example/blog/first-massage</link></item></channel></rss>",
        "does not name its site",
    ),
]


@pytest.mark.parametrize(("text", "message"), [case[1:] for case in NOT_WXR], ids=[case[0] for case in NOT_WXR])
def test_files_that_are_not_wordpress_exports_are_refused_clearly(refusing_app, tmp_path, text, message):
    path = tmp_path / "upload.xml"
    path.write_text(text, encoding="utf-8")
    result = refusing_app.test_cli_runner().invoke(args=["import-wordpress", str(path)])
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: {path} ")
    assert message in result.output
    assert "Traceback" not in result.output
    with refusing_app.app_context():
        assert comment_count() == 0


def test_a_missing_file_is_a_usage_error(refusing_app, tmp_path):
    result = refusing_app.test_cli_runner().invoke(args=["import-wordpress", str(tmp_path / "nowhere.xml")])
    assert result.exit_code == 2
    assert "does not exist" in result.output


# -- The command --------------------------------------------------------------------------------------------------


def test_cli_imports_and_summarises(comment_app, tmp_path):
    path = studio_export(tmp_path)
    runner = comment_app.test_cli_runner()
    result = runner.invoke(args=["import-wordpress", path])
    assert result.exit_code == 0, result.output
    summary = result.output.strip()
    assert "\n" not in summary
    assert summary.startswith(
        "Imported 12 comments from WordPress (studio.example): 10 published, 1 held for approval, 1 spam."
    )
    assert "1 comment in the trash" in summary
    assert "2 pingbacks and trackbacks" in summary
    assert "1 non-comment entry (editorial notes and such)" in summary
    assert "1 post on sites comments are not open for (https://elsewhere.example;" in summary

    again = runner.invoke(args=["import-wordpress", path])
    assert again.exit_code == 0, again.output
    assert again.output.startswith("Imported 0 comments from WordPress (studio.example)")
    assert "12 comments were already imported." in again.output
    with comment_app.app_context():
        assert comment_count() == 12


# -- Threads, as pure functions -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answered", "expected"),
    [
        (None, (None, None)),
        (1, (1, 1)),  # reply to a comment on the article: depth 1
        (2, (2, 2)),  # reply to a depth-1 comment: depth 2
        (3, (2, 3)),  # reply to a depth-2 comment: shown beside it
        (4, (2, 4)),  # deeper still: still under the depth-1 ancestor
    ],
)
def test_thread_position(answered, expected):
    parents = {1: None, 2: 1, 3: 2, 4: 3}
    assert moderation.MAX_DEPTH == 2
    assert thread_position(answered, parents) == expected


def test_attach_passes_skipped_parents_over_and_breaks_loops():
    parents = {1: None, 2: 1, 3: 2, 4: 3, 5: 99, 6: 7, 7: 6}
    kept = {1, 3, 4, 5, 6, 7}
    # 3's parent (2) is skipped: 3 answers 1.  5's parent is not in the post.  6 and 7 are each other's parent.
    placed = attach(parents, kept)
    assert {n: placed[n] for n in (1, 3, 4, 5)} == {1: None, 3: 1, 4: 3, 5: None}
    assert (placed[6], placed[7]) in ((None, 6), (7, None))


def test_blogs_of_one_multisite_network_do_not_collide(comment_app, tmp_path):
    """Two blogs share the network's base_site_url and their comment ids; both imports keep all their comments."""
    one = write_wxr(tmp_path, [wp_item(ARTICLE, 1, [wp_comment(1, "On the first blog.")])], name="one.xml")
    two = write_wxr(tmp_path, [wp_item(SECOND, 1, [wp_comment(1, "On the second blog.")])], name="two.xml")
    text = (tmp_path / "two.xml").read_text(encoding="utf-8")
    (tmp_path / "two.xml").write_text(
        text.replace(
            f"<wp:base_blog_url>{SITE}</wp:base_blog_url>", f"<wp:base_blog_url>{SITE}/two</wp:base_blog_url>"
        ),
        encoding="utf-8",
    )
    with comment_app.app_context():
        assert import_wordpress(one)["imported"] == 1
        second = import_wordpress(two)
        assert (second["imported"], second["site"]) == (1, "studio.example/two")
        bodies = sorted(db.session.scalars(select(Comment.body)))
    assert bodies == ["On the first blog.", "On the second blog."]
