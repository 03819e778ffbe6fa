"""JSON Feed 1.1 writer (feedgen has none)."""

from __future__ import annotations

import json
import logging
from datetime import datetime

from feeds.topics import Feed

__all__ = ["JSONFEED_VERSION", "render_json_feed"]

logger = logging.getLogger(__name__)

JSONFEED_VERSION = "https://jsonfeed.org/version/1.1"


def _rfc3339(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _item(entry: dict) -> dict:
    item = {
        "id": entry["uid"],
        "url": entry.get("url") or None,
        "title": entry.get("title") or None,
        "content_html": entry.get("content_html") or None,
        "content_text": entry.get("content_text") or None,
        "summary": entry.get("summary") or None,
        "image": entry.get("image") or None,
        "date_published": _rfc3339(entry.get("published")),
        "date_modified": _rfc3339(entry.get("updated")),
        "authors": [{"name": name} for name in entry.get("authors") or []] or None,
        "tags": list(entry.get("categories") or []) or None,
        "language": entry.get("language") or None,
    }
    if item["content_html"] is None and item["content_text"] is None:
        # An item must carry content_html or content_text.
        item["content_text"] = entry.get("summary") or entry.get("title") or ""
    return {key: value for key, value in item.items() if value is not None}


def render_json_feed(
    feed: Feed,
    *,
    feed_url: str,
    home_page_url: str,
    description: str | None = None,
    language: str | None = None,
    hub: str | None = None,
    icon: str | None = None,
) -> bytes:
    """Render ``feed`` (entries prepared by feeds.render, newest first) as JSON Feed 1.1 bytes."""
    document = {
        "version": JSONFEED_VERSION,
        "title": feed.title,
        "home_page_url": home_page_url,
        "feed_url": feed_url,
        "description": description,
        "language": language,
        "favicon": icon,
        "hubs": [{"type": "WebSub", "url": hub}] if hub else None,
        "items": [_item(entry) for entry in feed.entries],
    }
    document = {key: value for key, value in document.items() if value is not None}
    text = json.dumps(document, sort_keys=False, ensure_ascii=False, indent=2)
    return (text + "\n").encode("utf-8")
