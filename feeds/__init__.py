"""Store → feed files: topics, Atom/RSS/JSON writers, OPML, index page, HTTP server."""

from feeds.build import build_feeds
from feeds.render import entry_id
from feeds.server import FeedServer, serve
from feeds.topics import Feed, TopicRule, group_feeds, keyword_topics, slugify, topics_of
from feeds.write import BuildReport, FeedResult

__all__ = [
    "BuildReport",
    "Feed",
    "FeedResult",
    "FeedServer",
    "TopicRule",
    "build_feeds",
    "entry_id",
    "group_feeds",
    "keyword_topics",
    "serve",
    "slugify",
    "topics_of",
]
