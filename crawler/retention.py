"""Retention (`[store] keep_days`): old stories lose their text and HTML; what deduplication needs stays."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, delete, func, select, update

from crawler.store import Store, _while_locked, runs, stories, utcnow

__all__ = ["prune"]

logger = logging.getLogger(__name__)

CHUNK = 500  # stories pruned a transaction: a concurrent crawl waits little, a kill loses nothing
VACUUM_PAGES = 10_000  # pages given back to the file system a transaction (40 MB of 4 KB pages)


def prune(store: Store, keep_days: int, now: datetime | None = None) -> int:
    """Take the text, HTML and summary of the stories first seen more than `keep_days` ago (0: keep everything).

    Their URLs, fingerprints, near-duplicate signature and teaser keys stay, so a pruned story that shows up
    again is still a duplicate, never new; it leaves the feeds at the next build. Runs older than that go too
    (each source's last run stays). On SQLite the freed pages go back to the file system when the file was
    made with incremental vacuum (every store since schema 2), else later stories reuse them.
    Returns how many stories it pruned."""
    if keep_days <= 0:
        return 0
    now = now or utcnow()
    cutoff = now - timedelta(days=keep_days)
    pruned = 0
    due = select(stories.c.id).where(stories.c.pruned.is_(None), stories.c.first_seen < cutoff).order_by(stories.c.first_seen).limit(CHUNK)
    clear = update(stories).where(stories.c.id == bindparam("story")).values(content_html="", content_text="", summary="", pruned=now)

    def chunk(conn) -> int:
        ids = conn.execute(due).scalars().all()
        if ids:
            conn.execute(clear, [{"story": story_id} for story_id in ids])
            for story_id in ids:
                Store.changed(conn, story_id)  # the feed index drops it at the next build
        return len(ids)

    while count := store._write(chunk):
        pruned += count
    latest = select(func.max(runs.c.id)).group_by(runs.c.source)
    old_runs = store._write(lambda conn: conn.execute(delete(runs).where(runs.c.started < cutoff, runs.c.id.not_in(latest))).rowcount)
    if pruned or old_runs:
        logger.info("retention: %d stories first seen before %s lost their text; %d old runs forgotten", pruned, cutoff.date(), old_runs)
        _give_back(store)
    return pruned


def _give_back(store: Store) -> None:
    """SQLite: free pages back to the file system (a no-op on a file made without auto_vacuum=incremental)."""
    if store.engine.dialect.name != "sqlite":
        return
    with store.engine.connect() as conn:
        raw: Any = conn.connection.driver_connection
        if raw.execute("PRAGMA auto_vacuum").fetchone()[0] != 2:  # not incremental: freed pages wait for new stories
            return
        # VACUUM_PAGES at a time, each its own transaction, so that a crawl writing meanwhile waits little;
        # executescript steps the pragma to its end (execute() would free one page) and commits.
        while free := raw.execute("PRAGMA freelist_count").fetchone()[0]:
            _while_locked(lambda free=free: raw.executescript(f"PRAGMA incremental_vacuum({min(free, VACUUM_PAGES)});"))
        raw.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
