"""The Store (one database's engine, opened with its schema made or brought up to date), its queries and the write batch."""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import random
import threading
import time
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import (
    String,
    Table,
    and_,
    bindparam,
    create_engine,
    event,
    func,
    literal,
    literal_column,
    null,
    or_,
    select,
    text,
    tuple_,
    union_all,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine, make_url

from crawler.canonical import match_key
from crawler.dedup import BANDS, lead_keys
from crawler.locks import SourceLock
from crawler.store.contention import SCHEMA_LOCK, STORY_LOCK, reading_connection, sqlite_pragmas, while_locked, write
from crawler.store.schema import (
    EXPORT_KEYS,
    SCHEMA_VERSION,
    UTCDateTime,
    changed_stories,
    dirty_feeds,
    feeds,
    lead_keys_by_story,
    lead_keys_table,
    meta,
    metadata,
    near_bands,
    near_bands_by_story,
    runs,
    sqlite_schema_made,
    staged_bands,
    staged_lead_keys,
    stories,
    story_urls,
    upgrade,
    url_keys,
    utcnow,
    validators,
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
            if Store.staged(conn) and not importing(url):  # an import was killed before it moved its keys in
                logger.info("moving the deduplication keys of an interrupted import into place")
                Store.merge_staged(conn)

    def close(self) -> None:
        self.engine.dispose()

    def connect(self) -> Connection:
        return self.engine.connect()

    def reader(self) -> Connection:
        """A connection for lookups only, each statement its own transaction: it holds no snapshot and no lock
        between them (a crawler's; its store writer writes), and sees each commit at once."""
        return reading_connection(self.engine)

    # -- lookups used while crawling (on the pipeline's connection, so they see its open batch)

    @staticmethod
    def story_for_url(conn: Connection, url: str) -> str | None:
        """The story stored under this URL or another spelling of it (http/https, `www.`, trailing slash)."""
        return conn.execute(_STORY_FOR_KEY, {"key": _match_key(url)}).scalar()

    @staticmethod
    def story_for_fingerprint(conn: Connection, fingerprint: str) -> str | None:
        return conn.execute(_STORY_FOR_FINGERPRINT, {"fingerprint": fingerprint}).scalar()

    @staticmethod
    def near_candidates(conn: Connection, bands: list[int], limit: int = 1000) -> list[tuple[str, str, bytes]]:
        """(id, title, signature) of at most `limit` stories sharing LSH bands with these, most shared bands first."""
        if len(bands) != BANDS:
            return []
        rows = conn.execute(_NEAR_CANDIDATES, {**{f"band{i}": h for i, h in enumerate(bands)}, "limit": limit})
        return [(r.id, r.title, r.signature) for r in rows]

    @staticmethod
    def lead_candidates(conn: Connection, keys: list[int], limit: int = 1000) -> list[str]:
        """Ids of the `limit` latest stories with one of these title or lead keys, earliest first."""
        if not keys:
            return []
        return list(reversed(conn.execute(_LEAD_CANDIDATES, {"keys": keys, "limit": limit}).scalars().all()))

    @staticmethod
    def candidates(conn: Connection, bands: list[int], keys: list[int], limit: int = 1000) -> tuple[list[tuple[str, str, bytes]], list[str]]:
        """near_candidates and lead_candidates at once: one query (one round trip) when there are both."""
        if len(bands) != BANDS or not keys:
            return Store.near_candidates(conn, bands, limit), Store.lead_candidates(conn, keys, limit)
        rows = conn.execute(_CANDIDATES, {**{f"band{i}": h for i, h in enumerate(bands)}, "keys": keys, "limit": limit}).all()
        near = [(r.id, r.title, r.signature) for r in rows if not r.lead]
        return near, list(reversed([r.id for r in rows if r.lead]))

    @staticmethod
    def get_story(conn: Connection, story_id: str):
        return conn.execute(_GET_STORY, {"id": story_id}).first()

    @staticmethod
    def get_stories(conn: Connection, story_ids: Iterable[str]) -> list:
        """The stored stories of these ids, in no particular order (one query)."""
        ids = list(story_ids)
        return list(conn.execute(_GET_STORIES, {"ids": ids}).all()) if ids else []

    # -- writes (the caller owns the transaction)

    @staticmethod
    def insert_story(conn: Connection, row: dict, bands: list[int]) -> None:
        """A new story with its URL, LSH bands and teaser keys (a new id has none to replace)."""
        conn.execute(_INSERT_STORY, row)
        Store.add_url(conn, row["id"], row["url"], row["first_seen"])
        _insert_bands(conn, row["id"], bands)
        _insert_lead_keys(conn, row["id"], row["title"], row["content_text"])
        Store.changed(conn, row["id"])

    @staticmethod
    def insert_stories(conn: Connection, new: list[tuple[dict, list[int], list[int], list[str]]], staged: bool = False, changed: bool = True) -> None:
        """Many new stories at once (import): each (row, LSH bands, teaser keys, all its URLs in order), one
        statement a table. A URL (or spelling of it) that another story holds already stays that story's.
        `staged`: their bands and teaser keys wait in the staging tables until `merge_staged`. `changed=False`:
        not marked for the feed index (the caller indexes them itself)."""
        if not new:
            return
        upserts = _upserts(conn)
        conn.execute(_INSERT_STORY, [row for row, _, _, _ in new])
        urls = [  # a microsecond apart, so that export lists them in the order given
            {"url": url, "story_id": row["id"], "first_seen": row["first_seen"] + timedelta(microseconds=i)}
            for row, _, _, urls in new for i, url in enumerate(urls)
        ]
        conn.execute(upserts.story_url, urls)
        conn.execute(upserts.url_key, [{"key": _match_key(u["url"]), "story_id": u["story_id"]} for u in urls])
        # The two tables of many small rows (32 bands and ~20 teaser keys a story) straight to the driver: SQLAlchemy's
        # processing of each parameter set would cost more than the database's work.
        _bulk(conn, staged_bands if staged else near_bands, ("band", "hash", "story_id"),
              [(i, h, row["id"]) for row, story_bands, _, _ in new for i, h in enumerate(story_bands)])
        _bulk(conn, staged_lead_keys if staged else lead_keys_table, ("hash", "story_id"),
              [(k, row["id"]) for row, _, keys, _ in new for k in dict.fromkeys(keys)])
        if changed:
            conn.execute(upserts.changed, [{"story_id": row["id"], "mark": random.getrandbits(63)} for row, _, _, _ in new])

    @staticmethod
    def staged(conn: Connection) -> bool:
        """Whether dedup keys wait in the staging tables (an import running, or killed before it ended)."""
        return any(conn.execute(select(t.c.story_id).limit(1)).first() for t in (staged_bands, staged_lead_keys))

    @staticmethod
    def merge_staged(conn: Connection) -> int:
        """Move the staged dedup keys into near_bands and lead_keys, sorted by their keys so that each page of
        those indexes is written once; returns the rows moved. When they are a large share of the table, its
        by-story index is dropped for the move and built again after (one sort instead of a random write a row)."""
        moved = 0
        stored = conn.execute(select(func.count()).select_from(stories)).scalar_one()
        for staging, table, by_story, per_story in (
            (staged_bands, near_bands, near_bands_by_story, BANDS),
            (staged_lead_keys, lead_keys_table, lead_keys_by_story, 20),
        ):
            rows = conn.execute(select(func.count()).select_from(staging)).scalar_one()
            if not rows:
                continue
            rebuild = rows * 4 > stored * per_story  # over a quarter of what the table will hold
            if rebuild:
                by_story.drop(conn)
            columns = ", ".join(c.name for c in staging.columns)
            move = ("INSERT OR IGNORE INTO {t} ({c}) SELECT {c} FROM {s} ORDER BY {c}" if conn.dialect.name == "sqlite"
                    else "INSERT INTO {t} ({c}) SELECT {c} FROM {s} ORDER BY {c} ON CONFLICT DO NOTHING")
            conn.exec_driver_sql(move.format(t=table.name, c=columns, s=staging.name))
            conn.execute(staging.delete())
            if rebuild:
                by_story.create(conn)
            moved += rows
        return moved

    @staticmethod
    def count(conn: Connection) -> int:
        return conn.execute(select(func.count()).select_from(stories)).scalar_one()

    @staticmethod
    def upserts(conn: Connection) -> _Upserts:
        """The dialect's INSERT … ON CONFLICT statements (`changed`, `dirty`, `story_url`, …)."""
        return _upserts(conn)

    @staticmethod
    def changed(conn: Connection, story_id: str) -> None:
        """The story was stored or updated: the feed index takes it in at the next build."""
        conn.execute(_upserts(conn).changed, {"story_id": story_id, "mark": random.getrandbits(63)})

    @staticmethod
    def add_url(conn: Connection, story_id: str, url: str, seen: datetime) -> bool:
        """Remember another URL of a story; False when it (or another spelling of it) is known already."""
        upserts = _upserts(conn)
        if not conn.execute(upserts.story_url, {"url": url, "story_id": story_id, "first_seen": seen}).rowcount:
            return False
        conn.execute(upserts.url_key, {"key": _match_key(url), "story_id": story_id})
        return True

    @staticmethod
    def update_story(conn: Connection, story_id: str, values: dict) -> None:
        conn.execute(_UPDATE_STORY, {**values, "story": story_id})
        Store.changed(conn, story_id)

    @staticmethod
    def replace_lead_keys(conn: Connection, story_id: str, title: str, text: str) -> None:
        conn.execute(_DELETE_LEAD_KEYS, {"story": story_id})
        _insert_lead_keys(conn, story_id, title, text)

    @staticmethod
    def replace_bands(conn: Connection, story_id: str, bands: list[int]) -> None:
        conn.execute(_DELETE_BANDS, {"story": story_id})
        _insert_bands(conn, story_id, bands)

    # -- reads for feeds, export and status

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

    @staticmethod
    def known_since(conn: Connection, urls: Iterable[str], recent: datetime) -> dict[str, bool]:
        """Which of `urls` are stored (however spelled), each mapped to whether its story was first seen after `recent`."""
        keys: dict[str, list[str]] = {}
        for url in urls:
            keys.setdefault(match_key(url), []).append(url)
        chunks = list(keys)
        found: dict[str, bool] = {}
        for start in range(0, len(chunks), 500):
            rows = conn.execute(
                select(url_keys.c.key, stories.c.first_seen)
                .join(stories, stories.c.id == url_keys.c.story_id)
                .where(url_keys.c.key.in_(chunks[start:start + 500]))
            )
            for row in rows:
                found.update(dict.fromkeys(keys[row.key], row.first_seen >= recent))
        return found

    @staticmethod
    def validators_for(conn: Connection, url: str):
        """(etag, last_modified, links) remembered for a URL, or None."""
        return conn.execute(_VALIDATORS_FOR, {"url": url}).first()

    @staticmethod
    def remember_validators(conn: Connection, url: str, etag: str | None, last_modified: str | None, links: list[str]) -> None:
        row = {"url": url, "etag": etag, "last_modified": last_modified, "links": links, "checked": utcnow()}
        conn.execute(_upserts(conn).validators, row)

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

    @staticmethod
    def meta(conn: Connection, key: str) -> str | None:
        return conn.execute(select(meta.c.value).where(meta.c.key == key)).scalar()

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


_match_key = functools.lru_cache(maxsize=1024)(match_key)  # a new URL is looked up by Deduplicate, then stored


def _bulk(conn: Connection, table: Table, columns: tuple[str, ...], rows: list[tuple]) -> None:
    """INSERT rows of plain values (no type processing) with the driver's executemany."""
    if rows:
        mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        conn.exec_driver_sql(f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({', '.join([mark] * len(columns))})", rows)


def _insert_bands(conn: Connection, story_id: str, bands: list[int]) -> None:
    if bands:
        conn.execute(_INSERT_BANDS, [{"band": i, "hash": h, "story_id": story_id} for i, h in enumerate(bands)])


def _insert_lead_keys(conn: Connection, story_id: str, title: str, text: str) -> None:
    conn.execute(_INSERT_LEAD_KEYS, [{"hash": k, "story_id": story_id} for k in dict.fromkeys(lead_keys(title, text))])


def import_lock(url: str) -> SourceLock:
    """Held by a running `import` (its staged keys are its own to move); a name no source can have."""
    return SourceLock(url, "_import")


def importing(url: str) -> bool:
    """Whether an import into this store runs now."""
    lock = import_lock(url)
    try:
        return bool(lock.held())
    finally:
        lock.release()


# Prepared once (with bind parameters), so that a lookup costs the database's time, not the query's construction:
# a statement built anew for each call has its cache key generated each time, and a `.values(...)` one is compiled.
_STORY_FOR_KEY = select(url_keys.c.story_id).where(url_keys.c.key == bindparam("key"))
_STORY_FOR_FINGERPRINT = (
    select(stories.c.id).where(stories.c.fingerprint == bindparam("fingerprint")).order_by(stories.c.first_seen).limit(1)
)
_GET_STORY = select(stories).where(stories.c.id == bindparam("id"))
_GET_STORIES = select(stories).where(stories.c.id.in_(bindparam("ids", expanding=True)))
_VALIDATORS_FOR = select(validators.c.etag, validators.c.last_modified, validators.c.links).where(validators.c.url == bindparam("url"))
_INSERT_STORY = stories.insert()
_UPDATE_STORY = stories.update().where(stories.c.id == bindparam("story"))
_INSERT_BANDS = near_bands.insert()
_DELETE_BANDS = near_bands.delete().where(near_bands.c.story_id == bindparam("story"))
_INSERT_LEAD_KEYS = lead_keys_table.insert()
_DELETE_LEAD_KEYS = lead_keys_table.delete().where(lead_keys_table.c.story_id == bindparam("story"))


class _Upserts:
    """The INSERT … ON CONFLICT statements of one dialect (SQLite and PostgreSQL both speak it)."""

    def __init__(self, dialect):
        # its rowcount says whether the URL was new (kept past the cursor's close, as psycopg's is not otherwise)
        self.story_url = dialect.insert(story_urls).on_conflict_do_nothing().execution_options(preserve_rowcount=True)
        self.url_key = dialect.insert(url_keys).on_conflict_do_nothing()
        changed = dialect.insert(changed_stories)
        self.changed = changed.on_conflict_do_update(index_elements=["story_id"], set_={"mark": changed.excluded.mark})
        dirty = dialect.insert(dirty_feeds)
        self.dirty = dirty.on_conflict_do_update(index_elements=["slug"], set_={"mark": dirty.excluded.mark})
        remembered = dialect.insert(validators)
        self.validators = remembered.on_conflict_do_update(
            index_elements=["url"], set_={c: remembered.excluded[c] for c in ("etag", "last_modified", "links", "checked")}
        )


_SQLITE_UPSERTS, _POSTGRESQL_UPSERTS = _Upserts(sqlite), _Upserts(postgresql)


def _upserts(conn: Connection) -> _Upserts:
    return _POSTGRESQL_UPSERTS if conn.dialect.name == "postgresql" else _SQLITE_UPSERTS


# The band numbers are constants in the SQL text: only the 32 hashes are bound.
_band_hits = (
    select(near_bands.c.story_id, func.count().label("hits"))
    .where(or_(*(and_(near_bands.c.band == literal_column(str(i)), near_bands.c.hash == bindparam(f"band{i}")) for i in range(BANDS))))
    .group_by(near_bands.c.story_id)
    .subquery()
)
_NEAR_CANDIDATES = (
    select(stories.c.id, stories.c.title, stories.c.signature)
    .join(_band_hits, _band_hits.c.story_id == stories.c.id)
    .order_by(_band_hits.c.hits.desc(), stories.c.first_seen, stories.c.id)
    .limit(bindparam("limit"))
)
_LEAD_CANDIDATES = (
    select(stories.c.id)
    .where(stories.c.id.in_(select(lead_keys_table.c.story_id).where(lead_keys_table.c.hash.in_(bindparam("keys", expanding=True)))))
    .order_by(stories.c.first_seen.desc(), stories.c.id.desc())
    .limit(bindparam("limit"))
)
_near, _lead = _NEAR_CANDIDATES.subquery(), _LEAD_CANDIDATES.subquery()
_CANDIDATES = union_all(
    select(_near.c.id, _near.c.title, _near.c.signature, literal_column("0").label("lead")),
    select(_lead.c.id, null().label("title"), null().label("signature"), literal_column("1").label("lead")),
)


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
        if Store.story_for_url(conn, row.url) is None:
            conn.execute(url_keys.insert().values(key=match_key(row.url), story_id=row.story_id))
    for story in conn.execute(select(stories.c.id, stories.c.title, stories.c.content_text)).all():
        Store.replace_lead_keys(conn, story.id, story.title, story.content_text)
