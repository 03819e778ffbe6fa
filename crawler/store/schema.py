"""The store's tables and column types, and the upgrade of a store made by an earlier version."""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    inspect,
    select,
    text,
)
from sqlalchemy.engine import Connection

logger = logging.getLogger(__name__)
SCHEMA_VERSION = 2  # 2: stories.pruned, the feed index (story_topics, changed_stories, dirty_feeds), feeds' build state


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes in, aware UTC datetimes out, on every backend."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        return value.replace(tzinfo=UTC) if value is not None else None


class JSONList(TypeDecorator):
    impl = Text
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return json.dumps(list(value or []), ensure_ascii=False)

    def process_result_value(self, value, dialect):
        return json.loads(value) if value else []


metadata = MetaData()

stories = Table(
    "stories",
    metadata,
    Column("id", String(16), primary_key=True),
    Column("url", Text, nullable=False),
    Column("site", String(64), nullable=False),
    Column("title", Text, nullable=False),
    Column("published", UTCDateTime, nullable=False),
    Column("updated", UTCDateTime, nullable=False),
    Column("first_seen", UTCDateTime, nullable=False),
    Column("publisher", Text),
    Column("publishers", JSONList, nullable=False),
    Column("authors", JSONList, nullable=False),
    Column("topics", JSONList, nullable=False),
    Column("language", String(16)),
    Column("summary", Text, nullable=False, default=""),
    Column("content_html", Text, nullable=False, default=""),
    Column("content_text", Text, nullable=False, default=""),
    Column("image", Text),
    Column("image_caption", Text),
    Column("fingerprint", String(40), nullable=False, index=True),
    Column("content_hash", String(40), nullable=False),
    Column("signature", LargeBinary),
    Column("pruned", UTCDateTime),  # when keep_days took its text and HTML; what deduplication needs stays
)
# Export streams stories in this order; retention finds the old ones by first_seen.
stories_by_published = Index("ix_stories_published", stories.c.published, stories.c.id)
stories_unpruned = Index(  # retention's work: the stories not yet pruned, oldest first (pruned ones cost nothing)
    "ix_stories_unpruned", stories.c.first_seen, sqlite_where=stories.c.pruned.is_(None), postgresql_where=stories.c.pruned.is_(None)
)

story_topics = Table(  # the feed index: every feed a story is in ("all", its topics, its publisher), by date
    "story_topics",
    metadata,
    Column("story_id", String(16), ForeignKey("stories.id"), primary_key=True),
    Column("slug", String(200), primary_key=True),
    Column("published", UTCDateTime, nullable=False),
    sqlite_with_rowid=False,
)
# A feed's newest entries: one range of this index (newest first, ties by id as the feed orders them).
story_topics_latest = Index("ix_story_topics_latest", story_topics.c.slug, story_topics.c.published.desc(), story_topics.c.story_id)

changed_stories = Table(  # stories stored or updated since the feed index last took them in; `mark` tells a later change
    "changed_stories",
    metadata,
    Column("story_id", String(16), primary_key=True),
    Column("mark", BigInteger, nullable=False),
)

source_feeds = Table(  # the feeds of its own (sections, publishers) each source has made: at most FEEDS_PER_SOURCE
    "source_feeds",
    metadata,
    Column("site", String(64), primary_key=True),
    Column("slug", String(200), primary_key=True),
)

dirty_feeds = Table(  # feeds whose entries may have changed since the last build
    "dirty_feeds",
    metadata,
    Column("slug", String(200), primary_key=True),
    Column("mark", BigInteger, nullable=False),
)

story_urls = Table(
    "story_urls",
    metadata,
    Column("url", Text, primary_key=True),
    Column("story_id", String(16), ForeignKey("stories.id"), nullable=False, index=True),
    Column("first_seen", UTCDateTime, nullable=False),
)

near_bands = Table(
    "near_bands",
    metadata,
    Column("band", Integer, primary_key=True),
    Column("hash", BigInteger, primary_key=True),
    Column("story_id", String(16), ForeignKey("stories.id"), primary_key=True),
    sqlite_with_rowid=False,  # the primary key (band, hash, story_id) is the lookup index: no second copy of the rows
)
# A correction replaces its story's bands: without this index each delete scanned the whole table (3.8 ms at
# 2,000 stories, growing with the store). Created by Store() on stores made before it, too.
near_bands_by_story = Index("ix_near_bands_story_id", near_bands.c.story_id)

url_keys = Table(  # every stored URL's match key (no scheme, `www.` or trailing slash): finds a page however it is spelled
    "url_keys",
    metadata,
    Column("key", Text, primary_key=True),
    Column("story_id", String(16), ForeignKey("stories.id"), nullable=False, index=True),
)

lead_keys_table = Table(  # a story's title and first words, hashed: a teaser and its full text find each other
    "lead_keys",
    metadata,
    Column("hash", BigInteger, primary_key=True),
    Column("story_id", String(16), ForeignKey("stories.id"), primary_key=True, index=True),
    sqlite_with_rowid=False,
)


lead_keys_by_story = next(iter(lead_keys_table.indexes))  # ix_lead_keys_story_id, for a correction's delete

# `import` writes a story's dedup keys here first, in arrival order, and moves them into near_bands and lead_keys
# sorted, in one pass, when it ends (or the next process to open the store does, after a killed import). Written
# one story at a time, those two tables' ~100 rows a story land on random pages of indexes of gigabytes: at a
# million stories that was 440 KB of pages written per story, and import fell to about 220 stories/s.
staged_bands = Table("import_near_bands", metadata, Column("band", Integer), Column("hash", BigInteger), Column("story_id", String(16)))
staged_lead_keys = Table("import_lead_keys", metadata, Column("hash", BigInteger), Column("story_id", String(16)))

runs = Table(
    "runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("source", String(64), nullable=False, index=True),
    Column("started", UTCDateTime, nullable=False),
    Column("finished", UTCDateTime),
    Column("pages", Integer, nullable=False, default=0),
    Column("new", Integer, nullable=False, default=0),
    Column("duplicates", Integer, nullable=False, default=0),
    Column("skipped", Integer, nullable=False, default=0),
    Column("errors", Integer, nullable=False, default=0),
    Column("seen", Integer, nullable=False, default=0),  # articles found on the site, new or known
    Column("outcome", String(16), nullable=False, default="running"),
    Column("message", Text),
)

feeds = Table(
    "feeds",
    metadata,
    Column("slug", String(200), primary_key=True),
    Column("title", Text, nullable=False),
    Column("entries", Integer, nullable=False),
    Column("updated", UTCDateTime),
    Column("built", UTCDateTime, nullable=False),
    Column("headlines", Text),  # JSON: the index page's first entries of the feed, [[title, url], …]
    Column("digest", String(40)),  # of the entries and options it was rendered from
    Column("files", Text),  # JSON: {file name: [size, mtime_ns]} as that build left them
)

validators = Table(
    "http_validators",
    metadata,
    Column("url", Text, primary_key=True),
    Column("etag", Text),
    Column("last_modified", Text),
    Column("links", JSONList, nullable=False),  # a listing's article and listing links, replayed on 304
    Column("checked", UTCDateTime, nullable=False),
)

meta = Table(
    "refeed_meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

EXPORT_KEYS = (
    "id", "url", "urls", "title", "published", "updated", "site", "publisher", "authors", "topics",
    "language", "summary", "content_html", "content_text", "image", "image_caption",
)


def story_id_for(url: str) -> str:
    """A story's id: derived from the first canonical URL it was stored under, so it never changes."""
    return hashlib.sha1(url.encode("utf-8")).hexdigest()[:16]


# Columns and indexes added to tables that stores made by an earlier version already have.
LATER_COLUMNS = (stories.c.pruned, feeds.c.headlines, feeds.c.digest, feeds.c.files)
LATER_INDEXES = (stories_by_published, stories_unpruned)


def sqlite_schema_made(conn: Connection) -> bool:
    """Every table and index and the schema's meta rows exist (read without taking the write lock)."""
    names = {row[0] for row in conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type IN ('table', 'index')")}
    if not {*metadata.tables, near_bands_by_story.name, *(index.name for index in LATER_INDEXES)} <= names:
        return False
    rows = dict(conn.execute(select(meta.c.key, meta.c.value).where(meta.c.key.in_(("schema_version", "dedup_keys")))).all())
    return "dedup_keys" in rows and rows.get("schema_version") == str(SCHEMA_VERSION)


def upgrade(conn: Connection, version: int) -> None:
    """A store made by an earlier version, brought to this one: added columns and indexes (new tables are made
    by create_all). Its stories enter the feed index at the next build (the rules' digest is not yet stored)."""
    logger.info("upgrading the store from schema %d to %d", version, SCHEMA_VERSION)
    have: dict[str, set[str]] = {}
    for column in LATER_COLUMNS:
        table = column.table.name
        if table not in have:
            have[table] = {c["name"] for c in inspect(conn).get_columns(table)}
        if column.name not in have[table]:
            kind = column.type.compile(dialect=conn.dialect)
            conn.execute(text(f"ALTER TABLE {table} ADD COLUMN {column.name} {kind}"))
    for index in LATER_INDEXES:
        index.create(conn, checkfirst=True)
    conn.execute(meta.update().where(meta.c.key == "schema_version").values(value=str(SCHEMA_VERSION)))
