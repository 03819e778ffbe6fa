"""Scrapy's Downloader, with each slot's concurrency (CONCURRENT_REQUESTS_PER_DOMAIN) kept under the asyncio reactor.

Scrapy 2.19 starts each download of a slot's queue as an asyncio task, and counts the request as transferring
only once that task runs: `_process_queue` therefore empties the whole queue at once, and a site gets up to
CONCURRENT_REQUESTS requests at a time instead of CONCURRENT_REQUESTS_PER_DOMAIN. Beyond politeness it costs a
new TCP connection for every other request: the connection pool keeps CONCURRENT_REQUESTS_PER_DOMAIN
connections a host and closes the rest. Here a request counts as transferring from the moment it leaves the
queue (`_download` adds it again, to a set, and removes it when done). Pinned to the Scrapy version it was
written for by tests/test_downloader.py.
"""

from __future__ import annotations

from time import monotonic

from scrapy.core.downloader import Downloader, Slot
from scrapy.utils.asyncio import call_later
from scrapy.utils.defer import _schedule_coro

__all__ = ["SCRAPY_VERSION", "SlotKeepingDownloader"]

SCRAPY_VERSION = "2.19.0"  # the Scrapy whose `Downloader._process_queue` this one follows line for line


class SlotKeepingDownloader(Downloader):
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
