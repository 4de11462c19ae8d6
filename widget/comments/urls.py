"""The address of an article, as the key of its thread."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from flask import current_app

from .limits import CONTROL, LIMITS, SURROGATE, InvalidComment


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
