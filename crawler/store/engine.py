"""The Store: one database's engine, opened with its schema made (or brought up to date), and its reads for export."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from pathlib import Path

from sqlalchemy import String, create_engine, event, func, literal, select, text, tuple_
from sqlalchemy.engine import Connection, Engine, make_url

from crawler.canonical import match_key
from crawler.store import queries, staging
from crawler.store.contention import SCHEMA_LOCK, reading_connection, sqlite_pragmas, write
from crawler.store.history import History
from crawler.store.schema import (
    EXPORT_KEYS,
    SCHEMA_VERSION,
    UTCDateTime,
    meta,
    metadata,
    near_bands_by_story,
    sqlite_schema_made,
    stories,
    story_urls,
    upgrade,
    url_keys,
)

logger = logging.getLogger(__name__)


class Store(History):
    """The one place that talks to the database: its engine, opened with the schema made or brought up to date."""

    def __init__(self, url: str):
        self.url = url
        parsed = make_url(url)
        if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        self.engine: Engine = create_engine(url, future=True)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", sqlite_pragmas)
        with self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":  # processes starting at once on a shared store create it once
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK})
            elif conn.dialect.name == "sqlite" and not sqlite_schema_made(conn):
                # The same for SQLite (the daemon starts a crawl per source at once): the first to take the write
                # lock creates the schema, the others wait for it and then find it made.
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            metadata.create_all(conn)
            near_bands_by_story.create(conn, checkfirst=True)
            version = conn.execute(select(meta.c.value).where(meta.c.key == "schema_version")).scalar()
            if version is None:
                conn.execute(meta.insert().values(key="schema_version", value=str(SCHEMA_VERSION)))
            elif int(version) < SCHEMA_VERSION:
                upgrade(conn, int(version))
            if conn.execute(select(meta.c.value).where(meta.c.key == "dedup_keys")).scalar() is None:
                _fill_dedup_keys(conn)
                conn.execute(meta.insert().values(key="dedup_keys", value="1"))
            if staging.staged(conn) and not staging.importing(url):  # an import was killed before it moved its keys in
                logger.info("moving the deduplication keys of an interrupted import into place")
                staging.merge_staged(conn)

    def close(self) -> None:
        self.engine.dispose()

    def connect(self) -> Connection:
        return self.engine.connect()

    def reader(self) -> Connection:
        """A connection for lookups only, each statement its own transaction: it holds no snapshot and no lock
        between them (a crawler's; its store writer writes), and sees each commit at once."""
        return reading_connection(self.engine)

    def _write(self, work):
        """`work(conn)` in a transaction of its own, tried again while another writer holds SQLite's lock."""
        return write(self.engine, work)

    # -- reads for export

    def known_urls(self, urls: Iterable[str]) -> set[str]:
        """Those of `urls` stored already, however spelled (http/https, `www.`, trailing slash)."""
        keys: dict[str, list[str]] = {}
        for url in urls:
            keys.setdefault(match_key(url), []).append(url)
        found: set[str] = set()
        with self.engine.connect() as conn:
            chunks = list(keys)
            for start in range(0, len(chunks), 500):
                for key in conn.execute(select(url_keys.c.key).where(url_keys.c.key.in_(chunks[start:start + 500]))).scalars():
                    found.update(keys[key])
        return found

    def count_stories(self) -> int:
        with self.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(stories)).scalar_one()

    def articles(self, chunk: int = 500) -> Iterator[dict]:
        """Every story as a dict with the export keys (datetimes aware UTC), oldest first; streamed in chunks of
        `chunk`, each one indexed query (no snapshot or cursor held between them), so memory stays flat."""
        after = None
        while True:
            query = select(stories).order_by(stories.c.published, stories.c.id).limit(chunk)
            if after is not None:
                query = query.where(tuple_(stories.c.published, stories.c.id) > tuple_(*after))
            with self.reader() as conn:
                rows = conn.execute(query).all()
                if not rows:
                    return
                urls: dict[str, list[str]] = {}
                query = (
                    select(story_urls.c.story_id, story_urls.c.url)
                    .where(story_urls.c.story_id.in_([row.id for row in rows]))
                    .order_by(story_urls.c.first_seen, story_urls.c.url)
                )
                for link in conn.execute(query):
                    urls.setdefault(link.story_id, []).append(link.url)
            for row in rows:
                item = {key: getattr(row, key) for key in EXPORT_KEYS if key != "urls"}
                item["urls"] = urls.get(row.id, [row.url])
                yield {key: item[key] for key in EXPORT_KEYS}
            last = rows[-1]
            after = (literal(last.published, UTCDateTime), literal(last.id, String(16)))



def _fill_dedup_keys(conn: Connection) -> None:
    """URL match keys and teaser keys for stories stored before they existed (once per store)."""
    for row in conn.execute(select(story_urls.c.url, story_urls.c.story_id).order_by(story_urls.c.first_seen, story_urls.c.url)).all():
        if queries.story_for_url(conn, row.url) is None:
            conn.execute(url_keys.insert().values(key=match_key(row.url), story_id=row.story_id))
    for story in conn.execute(select(stories.c.id, stories.c.title, stories.c.content_text)).all():
        queries.replace_lead_keys(conn, story.id, story.title, story.content_text)
