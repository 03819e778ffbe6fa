"""The crawl's store batch on a thread of its own: every write of a crawl, one after the other, off the reactor."""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from crawler.store import Batch, Store, queries

__all__ = ["StoreWriter"]

logger = logging.getLogger(__name__)

_writers: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # crawler → its StoreWriter


class StoreWriter:
    """One store batch (crawler/store/batching.py `Batch`) and the one thread that uses it, shared by a crawl's Deduplicate
    and Store pipelines and its spider (which remembers validators through it). SQLite takes one writer at a time
    and a batch is one connection, so its work runs in order on that thread; the reactor only awaits it.

    An item's check (Deduplicate) and its write (Store) are one job on that thread, in one transaction (on a shared
    store, under the story lock): nothing else may use the batch between them, or two copies of one story could
    both pass as new. Store registers its write (`follow_checks_with`); each check that lets an item through runs
    it right away, and Store's `written` gives its outcome. Items, validators and the idle commit then simply
    queue on the thread, in the order they came: one hop to the thread per item, and the next item's check can
    wait there, not on the reactor."""

    def __init__(self, batch: Batch):
        self.batch = batch
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="refeed-store")
        self._timer: Any = None  # a twisted LoopingCall once started
        self._write: Callable[[Any], Any] | None = None  # Store's write, run right after each check let through
        self._written: dict[int, Future] = {}  # id(item) → the outcome of its write, for Store to take
        self.closed = False

    @classmethod
    def for_crawler(cls, crawler) -> StoreWriter:
        """The crawl's writer, made on first use from REFEED_STORE_URL and the REFEED_BATCH_* settings."""
        writer = _writers.get(crawler)
        if writer is None:
            settings = crawler.settings
            batch = Batch(Store(settings["REFEED_STORE_URL"]), settings.getint("REFEED_BATCH_ITEMS", 50), settings.getfloat("REFEED_BATCH_SECONDS", 1.0))
            writer = _writers[crawler] = cls(batch)
        return writer

    def start(self) -> None:
        """Commit an idle batch after its `max_seconds` too (needs the running reactor)."""
        from twisted.internet import task  # not at import: importing the reactor installs Twisted's default one

        if self._timer is None:
            self._timer = task.LoopingCall(self._commit_if_due)
            self._timer.start(self.batch.max_seconds, now=False)

    def _commit_if_due(self) -> None:
        self._thread.submit(self.batch.commit_if_due).add_done_callback(_log_failure)  # between two items' jobs

    async def run(self, job, *args):
        """`job(*args)` on the writer's thread, after every job queued before it; its result or its exception."""
        future = self._thread.submit(job, *args)
        return await asyncio.wrap_future(future)

    def follow_checks_with(self, write: Callable[[Any], Any]) -> None:
        """Store's write: from now on it runs right after every check that lets an item through, in the same job."""
        self._write = write

    async def check(self, check: Callable[[Any], Any], item):
        """`check(item)` on the writer's thread (its result, or its exception: a dropped item goes no further),
        then at once, when it lets the item through, the write registered with `follow_checks_with`, whose
        outcome `written` gives."""
        return await self.run(self._check_then_write, check, item)

    def _check_then_write(self, check: Callable[[Any], Any], item):
        item = check(item)
        if self._write is not None:
            outcome: Future = Future()
            try:
                outcome.set_result(self._write(item))
            except Exception as exc:  # the write's to raise, when Store asks for it: the check went through
                outcome.set_exception(exc)
            self._written[id(item)] = outcome
        return item

    async def written(self, write: Callable[[Any], Any], item):
        """The outcome of the item's write, run right after its check; `write(item)` now for an item no check
        saw (a crawl without Deduplicate)."""
        outcome = self._written.pop(id(item), None)
        if outcome is None:
            return await self.run(write, item)
        return outcome.result()

    def remember(self, key: str | None, etag: str | None, modified: str | None, links: list | None = None) -> asyncio.Future | None:
        """A page's validators (and a listing's links), for the next run's conditional request; written in turn
        (the write, for a caller that waits for it; None when there is nothing to write)."""
        if key is not None and (etag or modified or links) and not self.closed:
            written = asyncio.wrap_future(self._thread.submit(self.remembered, key, etag, modified, links))
            written.add_done_callback(_log_failure)  # (which also marks a failure as seen for asyncio)
            return written
        return None

    def remembered(self, key: str, etag: str | None, modified: str | None, links: list | None) -> None:
        """(On the writer's thread.) A failed write undoes itself alone, as an article's does."""
        with self.batch.article():
            self.write_validators(key, etag, modified, links)

    def write_validators(self, key: str | None, etag: str | None, modified: str | None, links: list | None = None) -> None:
        """(On the writer's thread, inside an article's savepoint.)"""
        if key is not None and (etag or modified or links):
            queries.remember_validators(self.batch.conn, key, etag, modified, links or [])
            self.batch.wrote()

    async def close(self) -> None:
        """Everything queued done, the batch committed and closed, the thread ended."""
        if self.closed:
            return
        self.closed = True
        if self._timer is not None and self._timer.running:
            self._timer.stop()
        try:
            await self.run(self.batch.close)  # after every item and validators queued before
        finally:
            self._thread.shutdown(wait=False)


def _log_failure(future: Future | asyncio.Future) -> None:
    exc = None if future.cancelled() else future.exception()
    if exc is not None:
        logger.error("the store could not write: %s", exc, exc_info=exc)
