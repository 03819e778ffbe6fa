"""Runs crawler.scrapy_shim's functions inside a real crawl of a server on 127.0.0.1 and prints what each said, as JSON.

A child process of tests/test_scrapy_shim.py (a reactor per process). The crawl: a page the server answers while
the probe looks (downloading), its callback (scraping) and item (pipeline); then, with the engine idle, a request
put straight into the scheduler with the engine's heartbeat stopped, so that only `wake` can start it.
"""

from __future__ import annotations

import json
import time
from typing import Any

import scrapy
from scrapy import signals
from scrapy.crawler import CrawlerProcess
from scrapy.exceptions import DontCloseSpider
from twisted.web.resource import Resource

from crawler.scrapy_shim import closing, locally_idle, wake

GIVE_UP = 20.0  # seconds after `wake` at which a request it should have started is deemed never started

seen: dict[str, Any] = {}


class Page(Resource):
    isLeaf = True

    def render_GET(self, request) -> bytes:
        if request.path == b"/slow":
            seen["idle while a page downloads"] = locally_idle(crawler)
        return b"<html><body>" + request.path + b"</body></html>"


class ItemCheck:
    def process_item(self, item):
        seen["idle while an item is in the pipeline"] = locally_idle(crawler)
        return item


class Probe(scrapy.Spider):
    name = "probe"
    base = ""
    woken_at: float | None = None
    give_up = None

    async def start(self):
        yield scrapy.Request(f"{self.base}/slow", callback=self.parse_slow)

    def parse_slow(self, response):
        seen["idle while a page is scraped"] = locally_idle(crawler)
        seen["closing while open"] = closing(crawler)
        yield {"url": response.url}

    def parse_woken(self, response):
        seen["seconds from wake to response"] = time.monotonic() - self.woken_at


def idle(spider: Probe) -> None:
    if spider.woken_at is not None:
        return  # the woken request is done (or never came): let the spider close
    engine = crawler.engine
    seen["idle when nothing is in flight"] = locally_idle(crawler)
    engine._slot.heartbeat.stop()  # the probe's own look inside the engine: from now on only wake() starts a request
    engine.scheduler.enqueue_request(scrapy.Request(f"{spider.base}/woken", callback=spider.parse_woken, dont_filter=True))
    seen["idle with a request queued"] = locally_idle(crawler)
    seen["spider_is_idle with a request queued"] = engine.spider_is_idle()
    spider.woken_at = time.monotonic()
    wake(crawler)
    spider.give_up = reactor.callLater(GIVE_UP, crawler.stop)
    raise DontCloseSpider


def closed(spider: Probe, reason: str) -> None:
    seen["closing while closing"] = closing(crawler)
    seen["finish_reason"] = reason
    if spider.give_up is not None and spider.give_up.active():
        spider.give_up.cancel()


if __name__ == "__main__":
    settings = {
        "TWISTED_REACTOR": "twisted.internet.asyncioreactor.AsyncioSelectorReactor",
        "ITEM_PIPELINES": {f"{__name__}.ItemCheck": 100},
        "ROBOTSTXT_OBEY": False,
        "TELNETCONSOLE_ENABLED": False,
        "LOG_LEVEL": "WARNING",
    }
    process = CrawlerProcess(settings)
    crawler = process.create_crawler(Probe)
    crawler.signals.connect(idle, signal=signals.spider_idle)
    crawler.signals.connect(closed, signal=signals.spider_closed)
    process.crawl(crawler)  # installs the reactor the settings name: only now may it be imported
    from twisted.internet import reactor
    from twisted.web.server import Site

    port = reactor.listenTCP(0, Site(Page()), interface="127.0.0.1")
    Probe.base = f"http://127.0.0.1:{port.getHost().port}"
    process.start()
    seen["closing after close"] = closing(crawler)
    print(json.dumps(seen, sort_keys=True))
