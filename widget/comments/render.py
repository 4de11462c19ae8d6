"""A comment's HTML: written once, when the comment is (``render``); reads serve the stored HTML."""

from __future__ import annotations

import re

import nh3
from markupsafe import escape

from .limits import CONTROL

URL = re.compile(r"https?://[^\s<>\"'`]+", re.IGNORECASE)
TRAILING = ".,;:!?'\"]}*"


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
