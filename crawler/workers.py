"""CPU-heavy page work off the Twisted reactor: one process pool shared by every spider of a crawl."""

from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.connection
import os
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.defer import Deferred

__all__ = ["Workers", "in_worker"]

logger = logging.getLogger(__name__)


class Workers:
    """`await workers.run(func, *args)` runs a picklable function in a worker process and gives its result.

    Scrapy's reactor fetches, parses listings and stores on one core; extraction (lxml, dateparser, trafilatura)
    runs here, on the others. `processes=0` runs everything in this process (as does a broken pool, after a warning).
    A crawl of several sources shares one pool: `acquire` when a spider opens, `release` when it closes.
    """

    _shared: Workers | None = None

    def __init__(self, processes: int):
        self.processes = processes
        self.users = 0
        self._pool: ProcessPoolExecutor | None = None

    @classmethod
    def acquire(cls, processes: int) -> Workers:
        if cls._shared is None:
            cls._shared = cls(processes)
        cls._shared.users += 1
        return cls._shared

    def release(self) -> None:
        self.users -= 1
        if self.users <= 0:
            self.close()
            if Workers._shared is self:
                Workers._shared = None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    async def run(self, func, *args):
        if self.processes <= 0:
            return func(*args)
        if self._pool is None:  # spawned, not forked: the reactor's threads and sockets stay here
            self._pool = ProcessPoolExecutor(self.processes, mp_context=multiprocessing.get_context("spawn"), initializer=_started)
        try:
            future = self._pool.submit(func, *args)
        except (BrokenProcessPool, RuntimeError) as exc:
            return self._inline(exc, func, args)
        from twisted.internet import reactor  # not earlier: importing the reactor installs Twisted's default one

        done: Deferred = Deferred()
        future.add_done_callback(lambda f: reactor.callFromThread(_settle, done, f))
        try:
            return await maybe_deferred_to_future(done)
        except BrokenProcessPool as exc:
            return self._inline(exc, func, args)

    def _inline(self, exc: Exception, func, args):
        if self.processes > 0:
            logger.warning("extraction workers failed (%s): extracting in the crawler's own process from now on", exc)
            self.processes = 0
            if self._pool is not None:
                self._pool.shutdown(wait=False, cancel_futures=True)
                self._pool = None
        return func(*args)


_worker = False


def _started() -> None:
    global _worker
    _worker = True
    parent = multiprocessing.parent_process()
    if parent is not None:  # a crawler killed outright (SIGKILL, OOM) must not leave its workers behind
        threading.Thread(target=_exit_with, args=(parent.sentinel,), daemon=True).start()


def _exit_with(sentinel) -> None:
    multiprocessing.connection.wait([sentinel])
    os._exit(0)


def in_worker() -> bool:
    """Whether this process is one of the pool's workers (whose log lines the crawler logs for it)."""
    return _worker


def _settle(done: Deferred, future) -> None:
    error = future.exception()
    if error is not None:
        done.errback(error)
    else:
        done.callback(future.result())
