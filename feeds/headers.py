"""What the feed server says about a file: its content type, how long it may be reused, whether to gzip it."""

from __future__ import annotations

__all__ = ["CONTENT_TYPES", "MAX_AGE", "accepts_gzip"]

CONTENT_TYPES = {
    ".atom": "application/atom+xml; charset=utf-8",
    ".rss": "application/rss+xml; charset=utf-8",
    ".json": "application/feed+json; charset=utf-8",
    ".opml": "text/x-opml; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".xml": "application/xml; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
}
MAX_AGE = 300  # seconds readers may reuse a response without asking


def accepts_gzip(accept_encoding: str) -> bool:
    """Whether an Accept-Encoding header value allows gzip (``gzip``, ``x-gzip`` or ``*`` with q > 0)."""
    for part in accept_encoding.split(","):
        token, _, params = part.strip().partition(";")
        if token.strip().lower() not in ("gzip", "x-gzip", "*"):
            continue
        q = params.strip().lower().replace(" ", "")
        if q.startswith("q="):
            try:
                return float(q[2:]) > 0
            except ValueError:
                return False
        return True
    return False
