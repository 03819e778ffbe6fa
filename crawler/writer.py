"""The crawl's store batch on a thread of its own: every write of a crawl, one after the other, off the reactor."""

from __future__ import annotations

import asyncio
import logging
import weakref
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

    An item's check (Deduplicate) and its write (Store) are two jobs in one transaction (on a shared store, under
    the story lock): between them nothing else may use the batch, or two copies of one story could both pass as
    new. `take_turn` (Deduplicate) and `give_turn` (Store, or Deduplicate when the item goes no further) keep the
    items in single file through both, in the order they came; validators and the idle commit take their turn
    too."""

    def __init__(self, batch: Batch):
        self.batch = batch
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="refeed-store")
        self._turn: asyncio.Lock | None = None
        self._timer: Any = None  # a twisted LoopingCall once started
        self._waiting: set[asyncio.Future] = set()  # validators waiting for their turn
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
        if self._turn is None or not self._turn.locked():  # else the item under way commits it when due
            self._thread.submit(self.batch.commit_if_due).add_done_callback(_log_failure)

    async def run(self, job, *args):
        """`job(*args)` on the writer's thread, after every job queued before it; its result or its exception."""
        future = self._thread.submit(job, *args)
        return await asyncio.wrap_future(future)

    async def take_turn(self) -> None:
        if self._turn is None:
            self._turn = asyncio.Lock()
        await self._turn.acquire()

    def give_turn(self) -> None:
        if self._turn is not None and self._turn.locked():
            self._turn.release()

    def remember(self, key: str | None, etag: str | None, modified: str | None, links: list | None = None) -> asyncio.Future | None:
        """A page's validators (and a listing's links), for the next run's conditional request; written in turn
        (the write, for a caller that waits for it; None when there is nothing to write)."""
        if key is not None and (etag or modified or links) and not self.closed:
            waiting = asyncio.ensure_future(self._in_turn(self.remembered, key, etag, modified, links))
            self._waiting.add(waiting)
            waiting.add_done_callback(self._remembered)
            return waiting
        return None

    def _remembered(self, waiting: asyncio.Future) -> None:
        self._waiting.discard(waiting)
        _log_failure(waiting)

    async def _in_turn(self, job, *args):
        await self.take_turn()
        try:
            return await self.run(job, *args)
        finally:
            self.give_turn()

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
            await self._in_turn(self.batch.close)  # after the validators still waiting for their turn
        finally:
            self._thread.shutdown(wait=False)


def _log_failure(future: Future | asyncio.Future) -> None:
    exc = None if future.cancelled() else future.exception()
    if exc is not None:
        logger.error("the store could not write: %s", exc, exc_info=exc)
