"""The write batch: one open transaction shared by a crawl's Deduplicate and Store, an article a savepoint."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from typing import Any

from sqlalchemy import text

from crawler.store.contention import STORY_LOCK, while_locked
from crawler.store.engine import Store

logger = logging.getLogger(__name__)


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
