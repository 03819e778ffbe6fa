"""SQLAlchemy tables and queries: stories, their URLs, the near-duplicate index and run history."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path

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
    and_,
    create_engine,
    event,
    func,
    or_,
    select,
)
from sqlalchemy.engine import Connection, Engine, make_url

__all__ = ["Store", "story_id_for", "utcnow", "SCHEMA_VERSION"]

logger = logging.getLogger(__name__)
SCHEMA_VERSION = 1


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
)
Index("ix_near_bands_lookup", near_bands.c.band, near_bands.c.hash)

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


class Store:
    """The one place that talks to the database."""

    def __init__(self, url: str):
        self.url = url
        parsed = make_url(url)
        if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        self.engine: Engine = create_engine(url, future=True)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        metadata.create_all(self.engine)
        with self.engine.begin() as conn:
            if conn.execute(select(meta.c.value).where(meta.c.key == "schema_version")).scalar() is None:
                conn.execute(meta.insert().values(key="schema_version", value=str(SCHEMA_VERSION)))

    def close(self) -> None:
        self.engine.dispose()

    def connect(self) -> Connection:
        return self.engine.connect()

    # -- lookups used while crawling (on the pipeline's connection, so they see its open batch)

    @staticmethod
    def story_for_url(conn: Connection, url: str) -> str | None:
        return conn.execute(select(story_urls.c.story_id).where(story_urls.c.url == url)).scalar()

    @staticmethod
    def story_for_fingerprint(conn: Connection, fingerprint: str) -> str | None:
        return conn.execute(
            select(stories.c.id).where(stories.c.fingerprint == fingerprint).order_by(stories.c.first_seen).limit(1)
        ).scalar()

    @staticmethod
    def near_candidates(conn: Connection, bands: list[int]) -> list[tuple[str, str, bytes]]:
        """(id, title, signature) of stories sharing at least one LSH band."""
        if not bands:
            return []
        hits = select(near_bands.c.story_id).where(
            or_(*(and_(near_bands.c.band == i, near_bands.c.hash == h) for i, h in enumerate(bands)))
        )
        rows = conn.execute(
            select(stories.c.id, stories.c.title, stories.c.signature, stories.c.first_seen)
            .where(stories.c.id.in_(hits))
            .order_by(stories.c.first_seen)
        )
        return [(r.id, r.title, r.signature) for r in rows]

    @staticmethod
    def get_story(conn: Connection, story_id: str):
        return conn.execute(select(stories).where(stories.c.id == story_id)).first()

    # -- writes (the caller owns the transaction)

    @staticmethod
    def insert_story(conn: Connection, row: dict, bands: list[int]) -> None:
        conn.execute(stories.insert().values(**row))
        conn.execute(story_urls.insert().values(url=row["url"], story_id=row["id"], first_seen=row["first_seen"]))
        if bands:
            conn.execute(near_bands.insert(), [{"band": i, "hash": h, "story_id": row["id"]} for i, h in enumerate(bands)])

    @staticmethod
    def add_url(conn: Connection, story_id: str, url: str, seen: datetime) -> bool:
        if Store.story_for_url(conn, url):
            return False
        conn.execute(story_urls.insert().values(url=url, story_id=story_id, first_seen=seen))
        return True

    @staticmethod
    def update_story(conn: Connection, story_id: str, values: dict) -> None:
        conn.execute(stories.update().where(stories.c.id == story_id).values(**values))

    @staticmethod
    def replace_bands(conn: Connection, story_id: str, bands: list[int]) -> None:
        conn.execute(near_bands.delete().where(near_bands.c.story_id == story_id))
        if bands:
            conn.execute(near_bands.insert(), [{"band": i, "hash": h, "story_id": story_id} for i, h in enumerate(bands)])

    # -- reads for feeds, export and status

    def known_urls(self, urls: Iterable[str]) -> set[str]:
        urls = list(urls)
        if not urls:
            return set()
        found: set[str] = set()
        with self.engine.connect() as conn:
            for start in range(0, len(urls), 500):
                chunk = urls[start:start + 500]
                found.update(conn.execute(select(story_urls.c.url).where(story_urls.c.url.in_(chunk))).scalars())
        return found

    def count_stories(self) -> int:
        with self.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(stories)).scalar_one()

    def articles(self) -> Iterator[dict]:
        """Every story as a dict with the export keys (datetimes aware UTC), oldest first."""
        with self.engine.connect() as conn:
            urls: dict[str, list[str]] = {}
            for row in conn.execute(select(story_urls.c.story_id, story_urls.c.url).order_by(story_urls.c.first_seen, story_urls.c.url)):
                urls.setdefault(row.story_id, []).append(row.url)
            for row in conn.execute(select(stories).order_by(stories.c.published, stories.c.id)):
                item = {key: getattr(row, key) for key in EXPORT_KEYS if key != "urls"}
                item["urls"] = urls.get(row.id, [row.url])
                yield {key: item[key] for key in EXPORT_KEYS}

    # -- runs and feeds

    def start_run(self, source: str) -> int:
        with self.engine.begin() as conn:
            return conn.execute(runs.insert().values(source=source, started=utcnow(), outcome="running")).inserted_primary_key[0]

    def finish_run(self, run_id: int, **values) -> None:
        values.setdefault("finished", utcnow())
        with self.engine.begin() as conn:
            conn.execute(runs.update().where(runs.c.id == run_id).values(**values))

    def last_runs(self) -> list[dict]:
        with self.engine.connect() as conn:
            latest = select(runs.c.source, func.max(runs.c.id).label("id")).group_by(runs.c.source).subquery()
            rows = conn.execute(select(runs).join(latest, runs.c.id == latest.c.id).order_by(runs.c.source))
            return [dict(row._mapping) for row in rows]

    def recent_runs(self, source: str, limit: int = 10) -> list[dict]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(runs).where(runs.c.source == source).order_by(runs.c.id.desc()).limit(limit))
            return [dict(row._mapping) for row in rows]

    def record_feeds(self, results: Iterable) -> None:
        """Remember each built feed (slug, title, entries, updated) for `status`."""
        now = utcnow()
        with self.engine.begin() as conn:
            conn.execute(feeds.delete())
            rows = [{"slug": r.slug, "title": r.title, "entries": r.entries, "updated": r.updated, "built": now} for r in results]
            if rows:
                conn.execute(feeds.insert(), rows)

    def feed_status(self) -> list[dict]:
        with self.engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(select(feeds).order_by(feeds.c.slug))]


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
