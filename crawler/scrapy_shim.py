"""The little refeed needs of a running Scrapy engine that Scrapy has no public API for, in one place, pinned to one version.

`SlotKeepingDownloader` keeps a site's concurrency limit, which Scrapy 2.19 loses under asyncio. Everything else
reaches Scrapy through its public API (signals, `crawler.engine.scheduler`, the scheduler interface,
stats, `engine.needs_backout()`). What is here reads or pokes Scrapy's private engine state: a Scrapy upgrade may
break it, and tests/test_scrapy_shim.py, which runs each function against a real crawler and checks the Scrapy
version, fails first; update both together.
"""

from __future__ import annotations

from time import monotonic
from typing import TYPE_CHECKING

from scrapy.core.downloader import Downloader, Slot
from scrapy.utils.asyncio import call_later
from scrapy.utils.defer import _schedule_coro

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

__all__ = ["SCRAPY_VERSION", "SlotKeepingDownloader", "closing", "locally_idle", "wake"]

SCRAPY_VERSION = "2.19.0"  # the version this module was written against (requirements.txt pins it)


def closing(crawler: Crawler) -> bool:
    """Whether the crawler has no spider open, or has begun closing it (there is no signal for the start of a close)."""
    slot = crawler.engine._slot
    return slot is None or slot.closing is not None


def locally_idle(crawler: Crawler) -> bool:
    """Nothing in flight in this crawler: no request downloading or being scraped, no item in the pipeline.

    Unlike `engine.spider_is_idle()`, the scheduler is not asked: a distributed worker's queue is shared in Redis,
    and what other workers may still take from it is not this process's work."""
    engine = crawler.engine
    assert engine._slot is not None and engine.scraper.slot is not None, "the crawler's spider is not open"
    return not engine._slot.inprogress and not engine.downloader.active and engine.scraper.slot.is_idle()


def wake(crawler: Crawler) -> None:
    """Have the engine ask its scheduler for requests now: an idle engine looks again only at its 5-s heartbeat."""
    engine = crawler.engine
    assert engine._slot is not None, "the crawler's spider is not open"
    engine._slot.nextcall.schedule()


class SlotKeepingDownloader(Downloader):
    """Scrapy's Downloader, with each slot's concurrency (CONCURRENT_REQUESTS_PER_DOMAIN) kept under asyncio.

    Scrapy 2.19 starts each download of a slot's queue as an asyncio task and counts the request as transferring
    only once that task runs: `_process_queue` then empties the whole queue at once, and a site gets up to
    CONCURRENT_REQUESTS requests at a time instead of CONCURRENT_REQUESTS_PER_DOMAIN. Beyond politeness it costs a
    new TCP connection for every other request: the connection pool keeps CONCURRENT_REQUESTS_PER_DOMAIN
    connections a host and closes the rest. Here a request counts as transferring from the moment it leaves the
    queue (`_download` adds it again, to a set, and removes it when done); the rest is Scrapy's, line for line.
    tests/test_downloader.py fails once Scrapy's own no longer needs this.
    """

    def _process_queue(self, slot: Slot) -> None:
        if slot.latercall:
            return
        now = monotonic()
        delay = slot.download_delay()
        if delay:
            penalty = delay - now + slot.lastseen
            if penalty > 0:
                slot.latercall = call_later(penalty, self._latercall, slot)
                return
        while slot.queue and slot.free_transfer_slots() > 0:
            slot.lastseen = now
            request, queue_dfd = slot.queue.popleft()
            slot.transferring.add(request)  # the one change: transferring from now, not from when its task starts
            _schedule_coro(self._wait_for_download(slot, request, queue_dfd))
            if delay:
                self._process_queue(slot)
                break
