"""The store's queries: plain functions on a Connection, for deduplication and storing while crawling, and the
validators of conditional requests. The caller owns the transaction."""

from __future__ import annotations

import functools
import random
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, func, literal_column, null, or_, select, union_all
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from crawler.canonical import match_key
from crawler.dedup import BANDS, lead_keys
from crawler.store.schema import (
    changed_stories,
    dirty_feeds,
    lead_keys_table,
    near_bands,
    stories,
    story_urls,
    url_keys,
    utcnow,
    validators,
)
from crawler.store.schema import meta as meta_table

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


class Upserts:
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


_SQLITE_UPSERTS, _POSTGRESQL_UPSERTS = Upserts(sqlite), Upserts(postgresql)


def upserts(conn: Connection) -> Upserts:
    """The dialect's INSERT … ON CONFLICT statements (`changed`, `dirty`, `story_url`, …)."""
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


_match_key = functools.lru_cache(maxsize=1024)(match_key)  # a new URL is looked up by Deduplicate, then stored


# The statements every stored article runs, on SQLite run on its driver's connection (the same connection, in the
# same transaction): through SQLAlchemy each costs about 13 µs more than the database's own work (its execution
# context and result), and a 32-row executemany a dict a row. The SQL is SQLAlchemy's, compiled once from the
# statements above: no second copy to keep in step; other backends run those statements as they are.


class _SQLiteStatement:
    """A Core statement compiled once for SQLite (for these columns), run on the driver: its positional parameters
    from a dict, the statement's own (a LIMIT) filled in, each value through its column type's bind processor (UTC
    datetimes, JSON lists) as SQLAlchemy would, an expanding one (`name IN (…)`) given its list; the cursor, for
    its rowcount or its rows."""

    def __init__(self, statement, columns: Iterable[str] | None = None, expanding: str | None = None):
        dialect = sqlite.dialect()
        compiled = statement.compile(dialect=dialect, column_keys=list(columns) if columns is not None else None)
        self.sql, self.defaults, self.expanding = str(compiled), compiled.params, expanding
        self.names = tuple(compiled.positiontup or [])
        self.processors = tuple(
            None if name == expanding else compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect)
            for name in self.names
        )
        self.head, _, self.tail = self.sql.partition(f"(__[POSTCOMPILE_{expanding}])")

    def args(self, params: dict) -> list:
        args: list = []
        for name, process in zip(self.names, self.processors):
            value = params[name] if name in params else self.defaults[name]
            if name == self.expanding:
                args.extend(value)
            else:
                args.append(value if process is None else process(value))
        return args

    def run(self, raw, params: dict) -> Any:
        if self.expanding is None:
            return raw.execute(self.sql, self.args(params))
        return raw.execute(f"{self.head}({', '.join('?' * len(params[self.expanding]))}){self.tail}", self.args(params))

    def run_many(self, raw, rows: Iterable[dict]) -> Any:
        return raw.executemany(self.sql, [self.args(row) for row in rows])


_SQLITE_CANDIDATES = _SQLiteStatement(_CANDIDATES, expanding="keys")  # (id, title, signature, lead)
_SQLITE_STORY_FOR_KEY = _SQLiteStatement(_STORY_FOR_KEY)
_SQLITE_STORY_FOR_FINGERPRINT = _SQLiteStatement(_STORY_FOR_FINGERPRINT)
_SQLITE_INSERT_BANDS = _SQLiteStatement(_INSERT_BANDS, ("band", "hash", "story_id"))
_SQLITE_INSERT_LEAD_KEYS = _SQLiteStatement(_INSERT_LEAD_KEYS, ("hash", "story_id"))
_SQLITE_INSERT_URL_KEY = _SQLiteStatement(_SQLITE_UPSERTS.url_key, ("key", "story_id"))
_SQLITE_CHANGED = _SQLiteStatement(_SQLITE_UPSERTS.changed, ("story_id", "mark"))
_SQLITE_STORY_URL = _SQLiteStatement(_SQLITE_UPSERTS.story_url)
_SQLITE_VALIDATORS = _SQLiteStatement(_SQLITE_UPSERTS.validators)
_SQLITE_INSERT_STORY: dict[frozenset, _SQLiteStatement] = {}  # by the columns a row gives (all but `pruned`, from Store)


def _sqlite(conn: Connection) -> Any:
    """The SQLite driver's connection under `conn` (the same connection, in the same transaction), or None."""
    return conn.connection.driver_connection if conn.dialect.name == "sqlite" else None


# -- lookups while crawling (Deduplicate's on the store writer's connection, so that they see its open batch)


def story_for_url(conn: Connection, url: str) -> str | None:
    """The story stored under this URL or another spelling of it (http/https, `www.`, trailing slash)."""
    if (raw := _sqlite(conn)) is not None:
        return _first(_SQLITE_STORY_FOR_KEY.run(raw, {"key": _match_key(url)}).fetchone())
    return conn.execute(_STORY_FOR_KEY, {"key": _match_key(url)}).scalar()


def story_for_fingerprint(conn: Connection, fingerprint: str) -> str | None:
    if (raw := _sqlite(conn)) is not None:
        return _first(_SQLITE_STORY_FOR_FINGERPRINT.run(raw, {"fingerprint": fingerprint}).fetchone())
    return conn.execute(_STORY_FOR_FINGERPRINT, {"fingerprint": fingerprint}).scalar()


def _first(row: tuple | None) -> Any:
    return row[0] if row is not None else None


def near_candidates(conn: Connection, bands: list[int], limit: int = 1000) -> list[tuple[str, str, bytes]]:
    """(id, title, signature) of at most `limit` stories sharing LSH bands with these, most shared bands first."""
    if len(bands) != BANDS:
        return []
    rows = conn.execute(_NEAR_CANDIDATES, {**{f"band{i}": h for i, h in enumerate(bands)}, "limit": limit})
    return [(r.id, r.title, r.signature) for r in rows]


def lead_candidates(conn: Connection, keys: list[int], limit: int = 1000) -> list[str]:
    """Ids of the `limit` latest stories with one of these title or lead keys, earliest first."""
    if not keys:
        return []
    return list(reversed(conn.execute(_LEAD_CANDIDATES, {"keys": keys, "limit": limit}).scalars().all()))


def candidates(conn: Connection, bands: list[int], keys: list[int], limit: int = 1000) -> tuple[list[tuple[str, str, bytes]], list[str]]:
    """near_candidates and lead_candidates at once: one query (one round trip) when there are both."""
    if len(bands) != BANDS or not keys:
        return near_candidates(conn, bands, limit), lead_candidates(conn, keys, limit)
    params = {**{f"band{i}": h for i, h in enumerate(bands)}, "keys": keys, "limit": limit}
    raw = _sqlite(conn)
    rows = _SQLITE_CANDIDATES.run(raw, params).fetchall() if raw is not None else conn.execute(_CANDIDATES, params).all()
    near = [(story_id, title, signature) for story_id, title, signature, lead in rows if not lead]
    return near, list(reversed([row[0] for row in rows if row[3]]))


def get_story(conn: Connection, story_id: str):
    return conn.execute(_GET_STORY, {"id": story_id}).first()


def get_stories(conn: Connection, story_ids: Iterable[str]) -> list:
    """The stored stories of these ids, in no particular order (one query)."""
    ids = list(story_ids)
    return list(conn.execute(_GET_STORIES, {"ids": ids}).all()) if ids else []


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


def validators_for(conn: Connection, url: str):
    """(etag, last_modified, links) remembered for a URL, or None."""
    return conn.execute(_VALIDATORS_FOR, {"url": url}).first()


# -- writes


def insert_story(conn: Connection, row: dict, bands: list[int]) -> None:
    """A new story with its URL, LSH bands and teaser keys (a new id has none to replace)."""
    if (raw := _sqlite(conn)) is not None:
        columns = frozenset(row)
        if columns not in _SQLITE_INSERT_STORY:
            _SQLITE_INSERT_STORY[columns] = _SQLiteStatement(_INSERT_STORY, sorted(columns))
        insert = _SQLITE_INSERT_STORY[columns]
        if columns.issuperset(insert.names):  # (else a column default of SQLAlchemy's fills the rest)
            insert.run(raw, row)
        else:
            conn.execute(_INSERT_STORY, row)
    else:
        conn.execute(_INSERT_STORY, row)
    add_url(conn, row["id"], row["url"], row["first_seen"])
    _insert_bands(conn, row["id"], bands)
    _insert_lead_keys(conn, row["id"], row["title"], row["content_text"])
    changed(conn, row["id"])


def changed(conn: Connection, story_id: str) -> None:
    """The story was stored or updated: the feed index takes it in at the next build."""
    if (raw := _sqlite(conn)) is not None:
        _SQLITE_CHANGED.run(raw, {"story_id": story_id, "mark": random.getrandbits(63)})
        return
    conn.execute(upserts(conn).changed, {"story_id": story_id, "mark": random.getrandbits(63)})


def add_url(conn: Connection, story_id: str, url: str, seen: datetime) -> bool:
    """Remember another URL of a story; False when it (or another spelling of it) is known already."""
    row = {"url": url, "story_id": story_id, "first_seen": seen}
    if (raw := _sqlite(conn)) is not None:
        if not _SQLITE_STORY_URL.run(raw, row).rowcount:
            return False
        _SQLITE_INSERT_URL_KEY.run(raw, {"key": _match_key(url), "story_id": story_id})
        return True
    statements = upserts(conn)
    if not conn.execute(statements.story_url, row).rowcount:
        return False
    conn.execute(statements.url_key, {"key": _match_key(url), "story_id": story_id})
    return True


def update_story(conn: Connection, story_id: str, values: dict) -> None:
    conn.execute(_UPDATE_STORY, {**values, "story": story_id})
    changed(conn, story_id)


def replace_lead_keys(conn: Connection, story_id: str, title: str, text: str) -> None:
    conn.execute(_DELETE_LEAD_KEYS, {"story": story_id})
    _insert_lead_keys(conn, story_id, title, text)


def replace_bands(conn: Connection, story_id: str, bands: list[int]) -> None:
    conn.execute(_DELETE_BANDS, {"story": story_id})
    _insert_bands(conn, story_id, bands)


def remember_validators(conn: Connection, url: str, etag: str | None, last_modified: str | None, links: list[str]) -> None:
    row = {"url": url, "etag": etag, "last_modified": last_modified, "links": links, "checked": utcnow()}
    if (raw := _sqlite(conn)) is not None:
        _SQLITE_VALIDATORS.run(raw, row)
    else:
        conn.execute(upserts(conn).validators, row)


def _insert_bands(conn: Connection, story_id: str, bands: list[int]) -> None:
    if not bands:
        return
    if (raw := _sqlite(conn)) is not None:
        _SQLITE_INSERT_BANDS.run_many(raw, ({"band": i, "hash": h, "story_id": story_id} for i, h in enumerate(bands)))
    else:
        conn.execute(_INSERT_BANDS, [{"band": i, "hash": h, "story_id": story_id} for i, h in enumerate(bands)])


def _insert_lead_keys(conn: Connection, story_id: str, title: str, text: str) -> None:
    keys = dict.fromkeys(lead_keys(title, text))
    if (raw := _sqlite(conn)) is not None:
        _SQLITE_INSERT_LEAD_KEYS.run_many(raw, ({"hash": k, "story_id": story_id} for k in keys))
    else:
        conn.execute(_INSERT_LEAD_KEYS, [{"hash": k, "story_id": story_id} for k in keys])


# -- the store as a whole


def count(conn: Connection) -> int:
    return conn.execute(select(func.count()).select_from(stories)).scalar_one()


def meta(conn: Connection, key: str) -> str | None:
    """A value the store keeps about itself (`schema_version`, `feed_options`, …), or None."""
    return conn.execute(select(meta_table.c.value).where(meta_table.c.key == key)).scalar()
