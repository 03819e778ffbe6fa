"""Retention (`[store] keep_days`): old stories lose their text and HTML; what deduplication needs stays."""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, delete, func, select, update

from crawler.store import Store, queries, runs, stories, utcnow, while_locked

__all__ = ["prune"]

logger = logging.getLogger(__name__)

CHUNK = 500  # stories pruned a transaction: a concurrent crawl waits little, a kill loses nothing
VACUUM_PAGES = 10_000  # pages given back to the file system a transaction (40 MB of 4 KB pages)
# A build gives pages back for at most this long; the next build goes on. The first retention of a store a year
# old frees most of it (7 GB of a million stories), which took about 40 minutes on a busy 2-core machine: a
# build that long would hold every feed back.
GIVE_BACK_SECONDS = 30.0


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
                queries.changed(conn, story_id)  # the feed index drops it at the next build
        return len(ids)

    while count := store._write(chunk):
        pruned += count
    latest = select(func.max(runs.c.id)).group_by(runs.c.source)
    old_runs = store._write(lambda conn: conn.execute(delete(runs).where(runs.c.started < cutoff, runs.c.id.not_in(latest))).rowcount)
    if pruned or old_runs:
        logger.info("retention: %d stories first seen before %s lost their text; %d old runs forgotten", pruned, cutoff.date(), old_runs)
    _give_back(store, GIVE_BACK_SECONDS)  # also what an earlier build left to give back
    return pruned


def _give_back(store: Store, seconds: float) -> int:
    """SQLite: free pages back to the file system, for about `seconds` at most (a no-op on a file made without
    auto_vacuum=incremental); returns the free pages left for the next build."""
    if store.engine.dialect.name != "sqlite":
        return 0
    deadline = time.monotonic() + seconds
    with store.engine.connect() as conn:
        raw: Any = conn.connection.driver_connection
        if raw.execute("PRAGMA auto_vacuum").fetchone()[0] != 2:  # not incremental: freed pages wait for new stories
            return 0
        # VACUUM_PAGES at a time, each its own transaction, so that a crawl writing meanwhile waits little;
        # executescript steps the pragma to its end (execute() would free one page) and commits.
        given, free = 0, raw.execute("PRAGMA freelist_count").fetchone()[0]
        while free:  # a step at least, however short the time: every build gets on
            while_locked(lambda free=free: raw.executescript(f"PRAGMA incremental_vacuum({min(free, VACUUM_PAGES)});"))
            given += min(free, VACUUM_PAGES)
            free = raw.execute("PRAGMA freelist_count").fetchone()[0]
            if time.monotonic() >= deadline:
                break
        if given:
            raw.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        if free:
            logger.info("retention: %d free pages (%d MB) left to give back at the next build", free, free * 4096 // 2**20)
        return free
