"""Live progress of a crawl on stderr: a redrawn line on a terminal, plain log lines otherwise."""

from __future__ import annotations

import logging
import sys
import time

from scrapy import signals
from scrapy.exceptions import NotConfigured
from twisted.internet import task

__all__ = ["Progress", "counts"]

logger = logging.getLogger(__name__)


def counts(stats: dict) -> dict:
    """The figures refeed reports for one crawl, from Scrapy's stats."""
    errors = (
        stats.get("downloader/exception_count", 0)
        + stats.get("spider_exceptions/count", 0)
        + sum(v for k, v in stats.items() if k.startswith("downloader/response_status_count/5"))
        + stats.get("retry/max_reached", 0)
    )
    return {
        "pages": stats.get("response_received_count", 0),
        "new": stats.get("refeed/new", 0),
        "updated": stats.get("refeed/updated", 0),
        "duplicates": stats.get("refeed/duplicates", 0),
        "known": stats.get("refeed/known", 0),
        "unchanged": stats.get("refeed/unchanged", 0),
        "skipped": stats.get("refeed/skipped", 0) + stats.get("item_dropped_count", 0) - stats.get("refeed/duplicates", 0),
        "errors": errors,
    }


class Progress:
    def __init__(self, stats, name: str, interval: float, stream=None):
        self.stats = stats
        self.name = name
        self.interval = interval
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.started = time.monotonic()
        self.spider = None  # set when the crawl opens: its requests so far and its source's max_pages
        self._timer = task.LoopingCall(self.report)

    @classmethod
    def from_crawler(cls, crawler):
        interval = crawler.settings.getfloat("REFEED_PROGRESS_INTERVAL")
        if not interval:
            raise NotConfigured
        name = crawler.spidercls.name
        extension = cls(crawler.stats, name, interval)
        crawler.signals.connect(extension.opened, signal=signals.spider_opened)
        crawler.signals.connect(extension.closed, signal=signals.spider_closed)
        return extension

    def opened(self, spider):
        self.name = getattr(getattr(spider, "source", None), "name", spider.name)
        self.spider = spider
        self.started = time.monotonic()
        self._timer.start(self.interval, now=False)

    def closed(self, spider, reason):
        if self._timer.running:
            self._timer.stop()
        if self.tty:
            self.stream.write("\r\033[K")
            self.stream.flush()

    def line(self) -> str:
        c = counts(self.stats.get_stats())
        rate = c["pages"] / max(time.monotonic() - self.started, 1e-6)
        return (
            f"{self.name}: {c['pages']} pages{self._budget()}, {c['new']} new, {c['duplicates']} duplicate, "
            f"{c['known'] + c['unchanged']} known, {c['skipped']} skipped, {c['errors']} errors, {rate:.1f} pages/s"
        )

    def _budget(self) -> str:
        """How far the run is through its source's max_pages: the pages requested so far (the least the run will
        fetch, listings and articles) against the cap, which ends the run when reached."""
        max_pages = getattr(getattr(self.spider, "source", None), "max_pages", None)
        if not max_pages:
            return ""
        requested = getattr(self.spider, "scheduled", None)
        if requested is None:
            return f" (at most {max_pages})"
        if self.stats.get_value("refeed/page_cap_reached"):
            return f" ({requested} of at most {max_pages} requested: max_pages reached)"
        return f" ({requested} of at most {max_pages} requested)"

    def report(self):
        if self.tty:
            self.stream.write("\r\033[K" + self.line())
            self.stream.flush()
        else:
            logger.info("%s", self.line())
