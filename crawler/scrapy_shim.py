"""The little refeed needs of a running Scrapy engine that Scrapy has no public API for, in one place, pinned to one version.

Everything else reaches Scrapy through its public API (signals, `crawler.engine.scheduler`, the scheduler interface,
stats, `engine.needs_backout()`). What is here reads or pokes Scrapy's private engine state: a Scrapy upgrade may
break it, and tests/test_scrapy_shim.py, which runs each function against a real crawler and checks the Scrapy
version, fails first; update both together.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

__all__ = ["SCRAPY_VERSION", "closing", "locally_idle", "wake"]

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
