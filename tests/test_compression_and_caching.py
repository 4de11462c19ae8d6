"""Answers are compressed when the browser asks, private pages never are, and static files cache by content hash."""

from __future__ import annotations

import gzip
import hashlib
import os
import re

import brotli
import pytest

from tests.support import COMMENT_ORIGINS, ROOT, book, make_app

DECODERS = {"br": brotli.decompress, "gzip": gzip.decompress}
PUBLIC_PAGES = [
    "/book",
    "/book?service=massage-60",
    "/api/slots?service=massage-60&start=2026-11-24&end=2026-12-20&tz=America/Denver",
    "/comments?page=https://studio.example/blog/first-massage",
    "/api/openapi.json",
]


@pytest.fixture
def app(tmp_path):
    """Return an app whose comment threads may be framed by the studio's site."""
    return make_app(tmp_path, EMBED_ALLOWED_ORIGINS=COMMENT_ORIGINS)


def _static_addresses(html: str) -> dict[str, str]:
    return dict(re.findall(r"/static/([a-z]+\.(?:css|js))\?v=([0-9a-f]+)", html))


@pytest.mark.parametrize("path", PUBLIC_PAGES)
@pytest.mark.parametrize("encoding", ["br", "gzip"])
def test_public_answers_are_compressed_as_asked_and_decode_to_the_plain_answer(client, path, encoding):
    plain = client.get(path)
    packed = client.get(path, headers={"Accept-Encoding": encoding})
    assert plain.status_code == packed.status_code == 200
    assert "Content-Encoding" not in plain.headers
    assert packed.headers["Content-Encoding"] == encoding
    assert "Accept-Encoding" in packed.headers["Vary"]
    assert int(packed.headers["Content-Length"]) == len(packed.data) < len(plain.data)
    # Pages carry a fresh form token each time; everything else must be byte for byte the same.
    token = re.compile(rb'value="[^"]{40,}"')
    assert token.sub(b"", DECODERS[encoding](packed.data)) == token.sub(b"", plain.data)


def test_brotli_is_preferred_when_the_browser_takes_both(client):
    response = client.get("/book?service=massage-60", headers={"Accept-Encoding": "gzip, deflate, br, zstd"})
    assert response.headers["Content-Encoding"] == "br"


def test_the_manage_page_is_never_compressed_because_it_carries_the_clients_link(client):
    _, manage = book(client)
    response = client.get(manage, headers={"Accept-Encoding": "br, gzip"})
    assert response.status_code == 200
    assert "Content-Encoding" not in response.headers
    assert response.headers["Cache-Control"] == "no-store"


def test_admin_pages_are_never_compressed(client, admin):
    admin.login()
    for path in ("/admin", "/admin/comments", "/admin/login"):
        response = client.get(path, headers={"Accept-Encoding": "br, gzip"})
        assert response.status_code == 200, path
        assert "Content-Encoding" not in response.headers, path


def test_pages_name_static_files_by_their_content_hash(client):
    addresses = _static_addresses(client.get("/book").text)
    assert set(addresses) == {"widget.css", "widget.js"}
    for name, version in addresses.items():
        with open(os.path.join(ROOT, "static", name), "rb") as handle:
            assert version == hashlib.sha256(handle.read()).hexdigest()[:12]


def test_a_static_file_at_its_hashed_address_is_cached_for_a_year(client):
    addresses = _static_addresses(client.get("/comments?page=https://studio.example/blog/a").text)
    response = client.get(f"/static/comments.js?v={addresses['comments.js']}", headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200
    assert response.headers["Content-Encoding"] == "gzip"
    assert response.cache_control.max_age == 365 * 24 * 3600
    assert response.cache_control.immutable
    assert response.cache_control.public
    assert b"function" in gzip.decompress(response.data)


@pytest.mark.parametrize("query", ["", "?v=0123456789ab"])
def test_a_static_file_without_its_current_hash_is_cached_for_five_minutes(client, query):
    response = client.get(f"/static/widget.css{query}")
    assert response.status_code == 200
    assert response.cache_control.max_age == 300
    assert not response.cache_control.immutable


def test_embed_js_has_a_short_lifetime_and_an_etag_per_encoding(client):
    answers = {encoding: client.get("/embed.js", headers={"Accept-Encoding": encoding}) for encoding in ("br", "gzip")}
    plain = client.get("/embed.js")
    for encoding, response in answers.items():
        assert response.status_code == 200
        assert response.headers["Content-Encoding"] == encoding
        assert response.cache_control.max_age == 300
        assert DECODERS[encoding](response.data) == plain.data
    etags = {answers["br"].headers["ETag"], answers["gzip"].headers["ETag"], plain.headers["ETag"]}
    assert len(etags) == 3, "a compressed and a plain body must never share a validator"


@pytest.mark.parametrize("encoding", ["br", "gzip", None])
def test_embed_js_revalidates_to_304_with_its_etag(client, encoding):
    headers = {"Accept-Encoding": encoding} if encoding else {}
    first = client.get("/embed.js", headers=headers)
    again = client.get("/embed.js", headers={**headers, "If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
    assert again.data == b""


def test_a_validator_of_another_encoding_does_not_revalidate(client):
    gzipped = client.get("/embed.js", headers={"Accept-Encoding": "gzip"})
    response = client.get("/embed.js", headers={"Accept-Encoding": "br", "If-None-Match": gzipped.headers["ETag"]})
    assert response.status_code == 200
    assert response.headers["Content-Encoding"] == "br"
