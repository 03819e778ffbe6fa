"""The Store (one database's engine, opened with its schema made or brought up to date) and the write batch."""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import String, create_engine, event, func, literal, select, text, tuple_
from sqlalchemy.engine import Connection, Engine, make_url

from crawler.canonical import match_key
from crawler.store import queries, staging
from crawler.store.contention import SCHEMA_LOCK, STORY_LOCK, reading_connection, sqlite_pragmas, while_locked, write
from crawler.store.schema import (
    EXPORT_KEYS,
    SCHEMA_VERSION,
    UTCDateTime,
    feeds,
    meta,
    metadata,
    near_bands_by_story,
    runs,
    sqlite_schema_made,
    stories,
    story_urls,
    upgrade,
    url_keys,
    utcnow,
)

logger = logging.getLogger(__name__)


class Store:
    """The one place that talks to the database."""

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

    # -- reads for export and status

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

    # -- runs and feeds

    def start_run(self, source: str) -> int:
        started = utcnow()
        return self._write(lambda conn: conn.execute(runs.insert().values(source=source, started=started, outcome="running")).inserted_primary_key[0])

    def finish_run(self, run_id: int, **values) -> None:
        values.setdefault("finished", utcnow())
        self._write(lambda conn: conn.execute(runs.update().where(runs.c.id == run_id).values(**values)))

    def _write(self, work):
        """`work(conn)` in a transaction of its own, tried again while another writer holds SQLite's lock."""
        return write(self.engine, work)

    def last_runs(self) -> list[dict]:
        with self.engine.connect() as conn:
            latest = select(runs.c.source, func.max(runs.c.id).label("id")).group_by(runs.c.source).subquery()
            rows = conn.execute(select(runs).join(latest, runs.c.id == latest.c.id).order_by(runs.c.source))
            return [dict(row._mapping) for row in rows]

    def recent_runs(self, source: str, limit: int = 10) -> list[dict]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(runs).where(runs.c.source == source).order_by(runs.c.id.desc()).limit(limit))
            return [dict(row._mapping) for row in rows]

    def feed_states(self) -> dict[str, dict]:
        """Every feed as the last build left it: title, entries, updated (ISO), headlines, digest, files."""
        with self.reader() as conn:
            rows = conn.execute(select(feeds)).all()
        return {
            row.slug: {
                "title": row.title,
                "entries": row.entries,
                "updated": row.updated.isoformat() if row.updated else None,
                "headlines": json.loads(row.headlines or "[]"),
                "digest": row.digest,
                "files": json.loads(row.files or "{}"),
            }
            for row in rows
        }

    def save_feed_states(self, changed: dict[str, dict], gone: Iterable[str], options: str) -> None:
        """Remember the feeds a build rendered (or found unchanged) and forget those it removed; `options`: its digest."""
        now = utcnow()
        rows = [
            {
                "slug": slug, "title": known["title"], "entries": known["entries"], "built": now,
                "updated": datetime.fromisoformat(known["updated"]) if known.get("updated") else None,
                "headlines": json.dumps(known["headlines"], ensure_ascii=False), "digest": known["digest"],
                "files": json.dumps(known["files"], sort_keys=True),
            }
            for slug, known in changed.items()
        ]
        gone = sorted(set(gone) | set(changed))

        def replace(conn):
            for start in range(0, len(gone), 500):
                conn.execute(feeds.delete().where(feeds.c.slug.in_(gone[start:start + 500])))
            if rows:
                conn.execute(feeds.insert(), rows)
            conn.execute(meta.delete().where(meta.c.key == "feed_options"))
            conn.execute(meta.insert().values(key="feed_options", value=options))

        self._write(replace)

    def feed_status(self) -> list[dict]:
        with self.engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(select(feeds).order_by(feeds.c.slug))]



class Batch:
    """One open transaction shared by Deduplicate and Store, committed every `max_items` or `max_seconds`.

    On a shared (PostgreSQL) store, several processes deduplicate and store at once; an item's check and write
    then run under a store-wide lock (`serialize`) and are committed right after (`done`), so that each
    worker's check sees every story the others stored, near-duplicates included. A write that still collides
    with a concurrent one (a unique key) is undone to its savepoint (`savepoint`), never the whole batch.
    """

    def __init__(self, store: Store, max_items: int = 50, max_seconds: float = 1.0):
        self.store = store
        self.max_items = max_items
        self.max_seconds = max_seconds
        self.conn = store.connect()
        self.pending = 0
        self.opened = time.monotonic()
        self.conn.begin()
        self.shared = self.conn.dialect.name == "postgresql"
        self.sqlite = self.conn.dialect.name == "sqlite"
        self.serialized = False  # this batch's transaction holds the story lock
        self.lost = False  # SQLite rolled the whole open batch back itself (a full disk, an I/O error)

    def wrote(self) -> None:
        """An article's (or a page's validators') writes are in the batch; `done` commits it when due."""
        self.pending += 1

    @contextlib.contextmanager
    def article(self, ends: bool = True):
        """One article's checks and writes, in a savepoint: a stage that fails undoes them and leaves the batch's
        other articles whole (on PostgreSQL a failed statement would otherwise abort the whole transaction).
        `ends=False`: more of the article follows in another savepoint (its check, then its write), so the
        transaction, and on a shared store the story lock, stay open; the last part's `done` ends them."""
        before, self.lost = self.pending, False
        try:
            with self._sqlite_savepoint() if self.sqlite else self.conn.begin_nested():
                yield
        except BaseException:
            self.pending = 0 if self.lost else before  # what it wrote is undone (or, lost, all the batch held)
            try:
                self.done()
            except Exception:  # the article's own error is the one to tell
                logger.exception("could not end the store transaction after a failed article")
            raise
        if ends:
            self.done()

    @contextlib.contextmanager
    def _sqlite_savepoint(self):
        """SQLite's savepoint, straight on the driver's connection (SQLAlchemy's costs 0.17 ms an article).

        The transaction is begun first, IMMEDIATE: sqlite3 begins one only before a write, and a savepoint that
        began it would commit everything on its release; a deferred one would read a snapshot that another
        writer (a crawl of another source) can make stale before this article's first write, which then fails
        at once instead of waiting its turn."""
        raw = self.conn.connection.driver_connection
        if not raw.in_transaction:
            while_locked(lambda: raw.execute("BEGIN IMMEDIATE"))  # kept out past busy_timeout by another crawl
        raw.execute("SAVEPOINT refeed_article")
        try:
            yield
        except BaseException:
            if not raw.in_transaction:  # SQLite rolled back the whole transaction: no savepoint is left to go to
                self._lose("a statement failed")
                raise
            raw.execute("ROLLBACK TO SAVEPOINT refeed_article")
            raw.execute("RELEASE SAVEPOINT refeed_article")
            raise
        raw.execute("RELEASE SAVEPOINT refeed_article")

    def done(self) -> None:
        """After an article: the story lock released (shared store), the batch committed when due, and a
        transaction that wrote nothing ended, so that it holds no snapshot, lock or idle session meanwhile."""
        if self.serialized or not self.pending:
            self.commit()
        else:
            self.commit_if_due()

    def commit_if_due(self) -> None:
        if self.pending and (self.pending >= self.max_items or time.monotonic() - self.opened >= self.max_seconds):
            self.commit()

    def commit(self) -> None:
        try:
            self.conn.commit()
        except Exception:  # a full disk or an I/O error at COMMIT (where WAL writes): SQLite rolled it all back
            self._lose("its commit failed")
            raise
        if self.pending:
            logger.debug("committed %d stored articles", self.pending)
        self.pending = 0
        self.opened = time.monotonic()
        self._release_lock()
        self.conn.begin()

    def _lose(self, why: str) -> None:
        """The open batch is gone (SQLite rolled it back itself): say so, and start a new one on a usable connection.
        `lost`: what the batch held is not stored (the run counted it; the next run fetches those pages again)."""
        self.lost = True
        logger.error("the store rolled back its open batch (%s): %d articles or pages written in it are not stored", why, self.pending)
        self.pending = 0
        self.opened = time.monotonic()
        self._release_lock()
        try:
            self.conn.rollback()
            raw: Any = self.conn.connection.driver_connection
            if self.sqlite and raw.in_transaction:
                raw.rollback()  # a COMMIT that failed may leave it open
            self.conn.begin()
        except Exception:  # the connection is gone too: what uses it next says so
            logger.debug("could not start a new batch", exc_info=True)

    def serialize(self) -> None:
        """Take the store-wide story lock until the next commit (a no-op on SQLite, which has one writer anyway)."""
        if not self.shared or self.serialized:
            return
        holder = getattr(_serializing, "batch", None)
        if holder is not None and holder is not self and not holder.conn.closed:
            holder.commit()  # another crawler on this thread (reactor) holds it: waiting for it here would wait forever
        self.conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": STORY_LOCK})
        self.serialized = True
        _serializing.batch = self

    def savepoint(self):
        """A savepoint around one item's writes on a shared store: a unique-key collision undoes only them."""
        return self.conn.begin_nested() if self.shared else contextlib.nullcontext()

    def _release_lock(self) -> None:
        self.serialized = False
        if getattr(_serializing, "batch", None) is self:
            _serializing.batch = None

    def close(self) -> None:
        if self.conn.closed:
            return
        self.conn.commit()
        self._release_lock()
        self.conn.close()
        self.store.close()


_serializing = threading.local()  # .batch: the batch of this thread that holds the story lock, if any


def _fill_dedup_keys(conn: Connection) -> None:
    """URL match keys and teaser keys for stories stored before they existed (once per store)."""
    for row in conn.execute(select(story_urls.c.url, story_urls.c.story_id).order_by(story_urls.c.first_seen, story_urls.c.url)).all():
        if queries.story_for_url(conn, row.url) is None:
            conn.execute(url_keys.insert().values(key=match_key(row.url), story_id=row.story_id))
    for story in conn.execute(select(stories.c.id, stories.c.title, stories.c.content_text)).all():
        queries.replace_lead_keys(conn, story.id, story.title, story.content_text)
