"""Store → feed files: topics, Atom/RSS/JSON writers, OPML, index page, HTTP server.

The names below are imported on first use: a page-pool process needs `feeds.topics` alone, without the writers,
the store and the server (SQLAlchemy, Twisted) that the rest pulls in.
"""

from __future__ import annotations

import importlib

_HOMES = {
    "build_feeds": "feeds.build",
    "entry_id": "feeds.render",
    "FeedServer": "feeds.server",
    "serve": "feeds.server",
    "Feed": "feeds.topics",
    "TopicRule": "feeds.topics",
    "group_feeds": "feeds.topics",
    "keyword_topics": "feeds.topics",
    "slugify": "feeds.topics",
    "topics_of": "feeds.topics",
    "BuildReport": "feeds.write",
    "FeedResult": "feeds.write",
}
__all__ = sorted(_HOMES)


def __getattr__(name: str):
    if name not in _HOMES:
        raise AttributeError(f"module 'feeds' has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES[name]), name)
