"""Import's writes: many stories at once, their deduplication keys staged and moved into place in one sorted pass,
and the lock a running import holds."""

from __future__ import annotations

import random
from datetime import timedelta

from sqlalchemy import Table, func, select
from sqlalchemy.engine import Connection

from crawler.canonical import match_key
from crawler.dedup import BANDS
from crawler.locks import SourceLock
from crawler.store.queries import upserts
from crawler.store.schema import (
    lead_keys_by_story,
    lead_keys_table,
    near_bands,
    near_bands_by_story,
    staged_bands,
    staged_lead_keys,
    stories,
)


def insert_stories(conn: Connection, new: list[tuple[dict, list[int], list[int], list[str]]], staged: bool = False, changed: bool = True) -> None:
    """Many new stories at once (import): each (row, LSH bands, teaser keys, all its URLs in order), one
    statement a table. A URL (or spelling of it) that another story holds already stays that story's.
    `staged`: their bands and teaser keys wait in the staging tables until `merge_staged`. `changed=False`:
    not marked for the feed index (the caller indexes them itself)."""
    if not new:
        return
    statements = upserts(conn)
    conn.execute(stories.insert(), [row for row, _, _, _ in new])
    urls = [  # a microsecond apart, so that export lists them in the order given
        {"url": url, "story_id": row["id"], "first_seen": row["first_seen"] + timedelta(microseconds=i)}
        for row, _, _, urls in new for i, url in enumerate(urls)
    ]
    conn.execute(statements.story_url, urls)
    conn.execute(statements.url_key, [{"key": match_key(u["url"]), "story_id": u["story_id"]} for u in urls])
    # The two tables of many small rows (32 bands and ~20 teaser keys a story) straight to the driver: SQLAlchemy's
    # processing of each parameter set would cost more than the database's work.
    _bulk(conn, staged_bands if staged else near_bands, ("band", "hash", "story_id"),
          [(i, h, row["id"]) for row, story_bands, _, _ in new for i, h in enumerate(story_bands)])
    _bulk(conn, staged_lead_keys if staged else lead_keys_table, ("hash", "story_id"),
          [(k, row["id"]) for row, _, keys, _ in new for k in dict.fromkeys(keys)])
    if changed:
        conn.execute(statements.changed, [{"story_id": row["id"], "mark": random.getrandbits(63)} for row, _, _, _ in new])


def staged(conn: Connection) -> bool:
    """Whether dedup keys wait in the staging tables (an import running, or killed before it ended)."""
    return any(conn.execute(select(t.c.story_id).limit(1)).first() for t in (staged_bands, staged_lead_keys))


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


def _bulk(conn: Connection, table: Table, columns: tuple[str, ...], rows: list[tuple]) -> None:
    """INSERT rows of plain values (no type processing) with the driver's executemany."""
    if rows:
        mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        conn.exec_driver_sql(f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({', '.join([mark] * len(columns))})", rows)

