"""The WordPress plugin in a real WordPress (Debian's package, PHP, MariaDB), driven in Debian's Chromium.

The service's clock is fixed at Monday 2026-11-23 08:00 in Denver: the first free time is Tuesday 09:00 MST.
The tests share one blog and run in order; each leaves the plugin's settings as it found them.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import threading
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from flask import request, request_started
from playwright.sync_api import Locator, Page, expect
from sqlalchemy import select

from tests.support import ROOT, services_required
from tests.support.wordpress import PHP, Blog, free_port, php_string
from widget.comments import moderation
from widget.extensions import db
from widget.models import Booking, Comment

PLUGIN_DIR = Path(ROOT) / "wordpress"
BOOK_FRAME = 'iframe.bw-frame[src*="/book?"]'
COMMENTS_FRAME = 'iframe.bw-frame[src*="/comments?"]'
READER = {"name": "Zoë Reader", "email": "zoe@reader.example"}


def _wait_until_fitted(iframe: Locator) -> None:
    """Wait until the frame has grown to its content: a click computed before it grows would miss its target."""
    deadline = time.monotonic() + 15
    while True:
        inner = iframe.content_frame.locator("html").evaluate("html => Math.ceil(html.getBoundingClientRect().height)")
        outer = iframe.evaluate("element => Math.ceil(element.getBoundingClientRect().height)")
        if outer >= inner:
            return
        if time.monotonic() > deadline:
            pytest.fail(f"the widget's frame stayed {outer}px high for {inner}px of content")
        iframe.page.wait_for_timeout(50)


def _book_first_free_time(iframe: Locator, client: dict, choose_service: bool) -> None:
    """Book the 60-minute massage at the first free time, the details of ``client`` filled in."""
    frame = iframe.content_frame

    def click(target: Locator) -> None:
        # Enter, as a keyboard user would: a mouse click lands where the target was when it was measured,
        # and a frame resizing itself (or the page around it) can move it before the click arrives.
        _wait_until_fitted(iframe)
        target.press("Enter")

    if choose_service:
        expect(frame.locator("#main")).to_have_attribute("data-step", "service")
        click(frame.get_by_role("link", name="60-minute massage"))
    expect(frame.locator("#main")).to_have_attribute("data-step", "day")
    click(frame.locator("a.day").first)
    expect(frame.locator("#main")).to_have_attribute("data-step", "time")
    click(frame.locator("a.time").first)
    expect(frame.locator("#main")).to_have_attribute("data-step", "details")
    frame.get_by_label("Name").fill(client["name"])
    frame.get_by_label("Email").fill(client["email"])
    frame.get_by_label("Phone").fill(client["phone"])
    click(frame.get_by_role("button", name=re.compile(r"^Book ")))
    expect(frame.get_by_role("heading", name="You're booked")).to_be_visible()


def _bookings(blog: Blog) -> list[tuple[str, str]]:
    with blog.app.app_context():
        found = sorted((b.name, b.service_id) for b in db.session.scalars(select(Booking)))
        db.session.remove()
    return found


def _saved_content(blog: Blog, name: str) -> str:
    return blog.wordpress.value(f"get_post_field('post_content', {blog.posts[name]['id']})")


def _counts_on_front_page(html_or_page) -> dict[int, str]:
    """Return the comment count text the theme prints under each post of the front page (post id -> text)."""
    html = html_or_page if isinstance(html_or_page, str) else html_or_page.content()
    return {
        int(post): text for post, text in re.findall(r'<p class="comment-count" data-post="(\d+)">([^<]*)</p>', html)
    }


def _number(text: str) -> int:
    return 0 if text == "No Comments" else int(text.split()[0])


class SilentService:
    """A service that takes connections and never answers; it counts the connections."""

    def __enter__(self):
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen(64)
        self.url = f"http://127.0.0.1:{self.socket.getsockname()[1]}"
        self.connections: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, name="silent-service", daemon=True)
        self.thread.start()
        return self

    def _accept(self):
        while True:
            try:
                connection, _ = self.socket.accept()
            except OSError:  # closed: the test is over
                return
            self.connections.append(connection)  # held open, never answered

    def __exit__(self, *exc):
        self.socket.close()
        for connection in self.connections:
            connection.close()
        self.thread.join(timeout=5)


# --- The plugin's files ----------------------------------------------------------------------------------------------


def test_plugin_files_pass_php_lint_and_phpcs():
    """`php -l` accepts every PHP file; phpcs with the plugin's ruleset finds no error."""
    phpcs = shutil.which("phpcs")
    if not shutil.which(PHP) or not phpcs:
        message = "php and phpcs are needed (Debian packages php-cli, php-codesniffer)"
        if services_required():
            pytest.fail(f"{message}; REQUIRE_SERVICES=1 makes this a failure")
        pytest.skip(message)
    files = sorted(PLUGIN_DIR.rglob("*.php"))
    assert len(files) >= 8
    for path in files:
        result = subprocess.run([PHP, "-l", str(path)], capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr
    result = subprocess.run(
        [phpcs, "-q", "--report=full", f"--standard={PLUGIN_DIR / 'phpcs.xml.dist'}", str(PLUGIN_DIR)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_zip_holds_the_plugin_under_its_folder(tmp_path):
    """`make wordpress-plugin` builds a zip WordPress installs as booking-widget/, GPL-2.0-or-later."""
    target = tmp_path / "booking-widget.zip"
    subprocess.run(["make", "-s", "wordpress-plugin", f"PLUGIN_ZIP={target}", "PYTHON=python3"], cwd=ROOT, check=True)
    with zipfile.ZipFile(target) as archive:
        names = set(archive.namelist())
        header = archive.read("booking-widget/booking-widget.php").decode()
    assert {
        "booking-widget/booking-widget.php",
        "booking-widget/uninstall.php",
        "booking-widget/blocks/booking-widget/block.json",
        "booking-widget/blocks/booking-widget/index.js",
        "booking-widget/blocks/booking-widget/render.php",
        "booking-widget/templates/comments.php",
    } <= names
    assert all(name.startswith("booking-widget/") for name in names)
    assert "booking-widget/phpcs.xml.dist" not in names
    assert "License:           GPL-2.0-or-later" in header
    assert "Requires at least: 6.1" in header and "Requires PHP:      7.4" in header


# --- Booking from posts --------------------------------------------------------------------------------------------


def test_post_with_the_shortcode_books_an_appointment(blog: Blog, open_page):
    """A post with [booking_widget service=…] shows the widget inline, at the choice of day, and books."""
    page = open_page()
    page.goto(blog.posts["shortcode"]["url"])
    expect(page.get_by_role("heading", name="Your first massage")).to_be_visible()
    script = page.locator(f'.booking-widget script[src="{blog.widget}/embed.js"]')
    expect(script).to_have_attribute("data-service", "massage-60")
    expect(script).to_have_attribute("data-accent", "#2f5d50")  # the settings' accent
    iframe = page.locator(BOOK_FRAME)
    iframe.scroll_into_view_if_needed()
    expect(iframe).to_have_attribute("title", "Book a massage")
    client = {"name": "Ada Lovelace", "email": "ada@example.com", "phone": "801-555-0142"}
    _book_first_free_time(iframe, client, choose_service=False)
    assert _bookings(blog) == [("Ada Lovelace", "massage-60")]


def test_post_with_the_block_books_from_its_button(blog: Blog, open_page):
    """The block is rendered on the server: the saved post holds no script; its button opens the widget and books."""
    saved = _saved_content(blog, "block")
    assert "<script" not in saved and "wp:booking-widget/booking-widget" in saved
    page = open_page()
    page.goto(blog.posts["block"]["url"])
    expect(page.locator('.booking-widget script[data-mode="popup"]')).to_have_attribute("data-accent", "#7a3e9d")
    button = page.get_by_role("button", name="Book a session")
    button.click()
    expect(page.locator("dialog.bw-dialog")).to_be_visible()
    # The block's own accent reaches the widget (the theme's button styles win on the button, by design).
    expect(page.locator(BOOK_FRAME)).to_have_attribute("src", re.compile("accent=%237a3e9d"))
    client = {"name": "Grace Hopper", "email": "grace@example.com", "phone": "801-555-0199"}
    _book_first_free_time(page.locator(f"dialog {BOOK_FRAME}"), client, choose_service=True)
    assert ("Grace Hopper", "massage-60") in _bookings(blog)


def test_everything_the_plugin_prints_is_escaped(blog: Blog):
    """Hostile block or shortcode options come out as inert attribute values, never as markup."""
    payload = '"><script>alert(1)</script><b x="'
    colour = '#fff" onload="alert(1)'
    html = blog.wordpress.value(
        f"booking_widget_markup(array('mode' => 'popup', 'service' => {php_string(payload)},"
        f" 'title' => {php_string(payload)}, 'button' => {php_string(payload)},"
        f" 'accent' => {php_string(colour)}))"
    )
    assert "<script>alert" not in html and "<b " not in html and "onload" not in html, html
    assert html.count("<script") == 1 and 'data-accent="#2f5d50"' in html  # a bad colour gives the default
    shortcode = blog.wordpress.value(
        'do_shortcode(\'[booking_widget mode="popup" button="<img src=x onerror=alert(1)>"]'
        '[booking_widget mode="popup" button="Tom & Jerry\\\'s"]\')'
    )
    assert "<img" not in shortcode and "onerror" not in shortcode, shortcode
    assert 'data-button="Tom &amp; Jerry&#039;s"' in shortcode, shortcode


# --- Comments --------------------------------------------------------------------------------------------------------


def test_post_shows_our_thread_and_the_theme_shows_our_counts(blog: Blog, open_page):
    """WordPress's form gives way to our thread for the permalink; a comment posted there is ours; counts match."""
    article = blog.posts["article"]["url"]
    page = open_page()
    page.goto(article)
    expect(page.get_by_role("heading", name="Why your shoulders tighten at the desk")).to_be_visible()
    expect(page.locator("#commentform")).to_have_count(0)
    expect(page.locator("#comments.booking-widget-comments script")).to_have_attribute("data-page", article)
    iframe = page.locator(COMMENTS_FRAME)
    iframe.scroll_into_view_if_needed()
    frame = page.frame_locator(COMMENTS_FRAME)
    expect(frame.get_by_role("heading", name="Leave a comment")).to_be_visible()
    frame.get_by_role("textbox", name="Comment").fill("The doorway stretch helped my neck too.")
    frame.get_by_role("textbox", name="Name", exact=True).fill(READER["name"])
    frame.get_by_role("textbox", name="Email", exact=True).fill(READER["email"])
    blog.app.extensions["clock"].now += timedelta(seconds=5)  # a reader takes a few seconds to type
    _wait_until_fitted(iframe)
    frame.get_by_role("button", name="Post comment").press("Enter")
    expect(frame.locator("#comments-notice")).to_contain_text("once the studio has approved it")
    with blog.app.app_context():
        (comment,) = db.session.scalars(select(Comment))
        moderation.moderate([comment.id], "approve")
        db.session.remove()

    # Our API has it under the post's permalink.
    answer = blog.app.test_client().get("/api/comments", query_string={"page": article}).get_json()
    assert answer["count"] == 1
    assert [(c["author"], c["body_html"]) for c in answer["comments"]] == [
        (READER["name"], "<p>The doorway stretch helped my neck too.</p>")
    ]

    # The theme's counts under each post of the front page are ours (counts are cached for a minute: start afresh).
    blog.wordpress.forget_counts()
    page.goto(blog.wordpress.url + "/")
    shown = _counts_on_front_page(page)
    urls = {post["id"]: post["url"] for post in blog.posts.values()}
    assert set(shown) == set(urls), shown
    ours = blog.app.test_client().get("/api/comments/counts", query_string=[("page", u) for u in urls.values()])
    assert {post: _number(text) for post, text in shown.items()} == {post: ours.json[url] for post, url in urls.items()}
    assert shown[blog.posts["article"]["id"]] == "1 Comment"
    # "Hello world!" has WordPress's sample comment, but our thread is empty.
    assert shown[blog.posts["hello"]["id"]] == "No Comments"
    assert blog.wordpress.value("get_comments_number(1)") == 0


def test_counts_come_in_one_request_and_are_cached(blog: Blog):
    """One front page asks the service once for every post on it; the next view within a minute asks nothing."""
    asked = []

    def record(sender, **extra):
        asked.append(request.full_path)

    request_started.connect(record, blog.app)
    blog.wordpress.forget_counts()
    first = requests.get(blog.wordpress.url + "/", timeout=30).text
    counted = [path for path in asked if path.startswith("/api/comments/counts")]
    assert len(counted) == 1 and counted[0].count("page=") == 4, asked
    requests.get(blog.wordpress.url + "/", timeout=30)
    assert len([path for path in asked if path.startswith("/api/comments/counts")]) == 1
    request_started.disconnect(record, blog.app)
    assert _counts_on_front_page(first)[blog.posts["article"]["id"]] == "1 Comment"


def test_page_views_at_the_same_instant_each_ask_at_most_once(blog: Blog):
    """Eight views released together on an empty cache all show our counts; none asks the service twice."""
    asked = []

    def record(sender, **extra):
        if request.path == "/api/comments/counts":
            asked.append(request.full_path)

    blog.wordpress.forget_counts()
    start = threading.Barrier(8)

    def view(_):
        start.wait()
        return requests.get(blog.wordpress.url + "/", timeout=30).text

    request_started.connect(record, blog.app)
    try:
        with ThreadPoolExecutor(8) as pool:
            pages = list(pool.map(view, range(8)))
    finally:
        request_started.disconnect(record, blog.app)
    article = blog.posts["article"]["id"]
    assert [_counts_on_front_page(html)[article] for html in pages] == ["1 Comment"] * 8
    assert 1 <= len(asked) <= 8, asked


def test_with_the_service_down_posts_render_and_counts_fall_back(blog: Blog, open_page):
    """A service that hangs costs a page at most the 1 s timeout, once a minute; WordPress's own counts show."""
    with SilentService() as silent:
        blog.wordpress.set_options(service_url=silent.url, accent="#2f5d50", comment_types=["post"])
        blog.wordpress.forget_counts()
        try:
            started = time.monotonic()
            html = requests.get(blog.wordpress.url + "/", timeout=30).text
            elapsed = time.monotonic() - started
            assert elapsed < 10, f"the front page took {elapsed:.1f} s with the service down"
            shown = _counts_on_front_page(html)
            assert shown[blog.posts["hello"]["id"]] == "1 Comment"  # WordPress's own number
            assert shown[blog.posts["article"]["id"]] == "No Comments"
            assert blog.wordpress.value("get_transient('booking_widget_counts_down')") == "1"
            assert len(silent.connections) == 1, "one request for every post on the page"

            # The next views do not wait for the service again, for a minute.
            requests.get(blog.wordpress.url + "/", timeout=30)
            requests.get(blog.posts["article"]["url"], timeout=30)
            assert len(silent.connections) == 1

            page: Page = open_page()
            page.goto(blog.posts["article"]["url"], wait_until="domcontentloaded")
            expect(page.get_by_role("heading", name="Why your shoulders tighten at the desk")).to_be_visible()
            expect(page.get_by_text("Long hours at a keyboard")).to_be_visible()
        finally:
            blog.wordpress.set_options(service_url=blog.widget, accent="#2f5d50", comment_types=["post"])
            blog.wordpress.forget_counts()


# --- Settings --------------------------------------------------------------------------------------------------------


def _log_in(blog: Blog, page: Page) -> None:
    page.goto(blog.wordpress.url + "/wp-login.php")
    # The login page moves the focus to the username 200 ms after loading: typing before that goes astray.
    page.wait_for_function("() => document.activeElement && document.activeElement.id === 'user_login'")
    page.locator("#user_login").fill("admin")
    page.locator("#user_pass").fill(blog.wordpress.admin_password)
    expect(page.locator("#user_login")).to_have_value("admin")
    page.locator("#wp-submit").click()
    expect(page.locator("#wpadminbar")).to_be_attached()


def _save(page: Page, service_url: str, accent: str) -> None:
    page.get_by_label("Service address").fill(service_url)
    page.get_by_label("Accent colour").fill(accent)
    page.get_by_role("button", name="Save Changes").click()


def test_settings_page_checks_the_address_and_names_the_allowed_origin(blog: Blog, open_page):
    """Settings → Booking widget: https outside loopback, a reachability warning, colours checked, nonce required."""
    try:
        blog.wordpress.php("delete_option('booking_widget');")  # as freshly installed
        page = open_page()
        _log_in(blog, page)
        page.goto(blog.wordpress.url + "/wp-admin/options-general.php?page=booking-widget")
        expect(page.get_by_role("heading", name="Booking widget", level=1)).to_be_visible()
        expect(page.locator(".wrap")).to_contain_text(f'EMBED_ALLOWED_ORIGINS="{blog.wordpress.url}"')
        expect(page.get_by_label("Service address")).to_have_value("")
        expect(page.get_by_role("checkbox", name="Posts")).not_to_be_checked()

        # The first save creates the option: the service is checked (and the warning shown) once.
        closed = f"http://127.0.0.1:{free_port()}"
        _save(page, closed, "red")
        expect(page.locator(".notice-warning")).to_have_count(1)
        expect(page.locator(".notice-warning")).to_contain_text(f"Saved, but {closed} did not answer")
        expect(page.locator(".notice-error, .error")).to_contain_text('Accent colour: "red" is not a colour')
        assert blog.wordpress.value("get_option('booking_widget')")["service_url"] == closed

        _save(page, "http://booking.example.com", "#2f5d50")
        expect(page.locator(".notice-error, .error")).to_contain_text("use https://")
        expect(page.get_by_label("Service address")).to_have_value(closed)

        _save(page, "ftp://booking.example.com", "#2f5d50")
        expect(page.locator(".notice-error, .error")).to_contain_text("is not a web address")

        page.get_by_role("checkbox", name="Posts").check()
        _save(page, blog.widget + "/", "#123456")
        expect(page.locator("#setting-error-settings_updated")).to_contain_text("Settings saved.")
        expect(page.locator(".notice-warning")).to_have_count(0)
        saved = blog.wordpress.value("get_option('booking_widget')")
        assert saved == {"service_url": blog.widget, "accent": "#123456", "comment_types": ["post"]}

        # Without the form's nonce WordPress refuses the change, even from a signed-in administrator.
        forged = page.context.request.post(
            blog.wordpress.url + "/wp-admin/options.php",
            form={
                "option_page": "booking_widget",
                "action": "update",
                "booking_widget[service_url]": "https://evil.example",
            },
            max_redirects=0,
        )
        assert forged.status == 403
        assert blog.wordpress.value("get_option('booking_widget')") == saved
    finally:
        blog.wordpress.set_options(service_url=blog.widget, accent="#2f5d50", comment_types=["post"])


def test_block_in_the_editor_saves_only_its_options(blog: Blog, open_page):
    """The editor script registers the block; its sidebar sets the options; the saved post holds no script."""
    page = open_page()
    _log_in(blog, page)
    page.goto(blog.wordpress.url + "/wp-admin/post-new.php")
    page.wait_for_function("() => window.wp && wp.blocks && wp.data && wp.data.select('core/editor')")
    assert page.evaluate("() => wp.blocks.getBlockType('booking-widget/booking-widget').title") == "Booking widget"
    page.evaluate(
        """() => {
          if (wp.data.select('core/edit-post').isFeatureActive('welcomeGuide')) {
            wp.data.dispatch('core/edit-post').toggleFeature('welcomeGuide');
          }
          wp.data.dispatch('core/editor').editPost({title: 'Book from the editor'});
          const block = wp.blocks.createBlock('booking-widget/booking-widget', {service: 'massage-60'});
          wp.data.dispatch('core/block-editor').insertBlocks(block);
          wp.data.dispatch('core/block-editor').selectBlock(block.clientId);
          wp.data.dispatch('core/edit-post').openGeneralSidebar('edit-post/block');
        }"""
    )
    sidebar = page.locator(".interface-complementary-area")
    expect(sidebar.get_by_label("Service id")).to_have_value("massage-60")
    sidebar.get_by_label("Shows").select_option("popup")
    sidebar.get_by_label("Button text").fill("Book now")
    content = page.evaluate("() => wp.data.select('core/editor').getEditedPostContent()")
    assert content == (
        '<!-- wp:booking-widget/booking-widget {"service":"massage-60","mode":"popup","button":"Book now"} /-->'
    ), content
    page.evaluate("() => wp.data.dispatch('core/editor').savePost()")
    page.wait_for_function(
        "() => !wp.data.select('core/editor').isSavingPost() && wp.data.select('core/editor').getCurrentPostId()"
    )
    post_id = page.evaluate("() => wp.data.select('core/editor').getCurrentPostId()")
    stored = blog.wordpress.value(f"get_post_field('post_content', {post_id})")
    assert "<script" not in stored and '"mode":"popup"' in stored


def test_uninstall_removes_the_options(blog: Blog):
    """Deleting the plugin removes its option and its cached counts."""
    requests.get(blog.wordpress.url + "/", timeout=30)  # caches counts
    assert blog.wordpress.stored_options("\\_transient\\_booking\\_widget\\_count\\_%")
    blog.wordpress.php(
        "define('WP_UNINSTALL_PLUGIN', 'booking-widget/booking-widget.php');"
        "include WP_PLUGIN_DIR . '/booking-widget/uninstall.php';"
    )
    assert blog.wordpress.value("get_option('booking_widget', 'gone')") == "gone"
    assert blog.wordpress.stored_options("%booking\\_widget%") == []
