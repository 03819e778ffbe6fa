"""Conditional requests: a page asked again with the validators of its last answer, a listing's 304 replayed."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from datetime import datetime

from scrapy import Request, signals
from scrapy.exceptions import NotConfigured
from scrapy.http import Response

from crawler.store import Store, queries
from crawler.writer import StoreWriter

__all__ = ["ConditionalRequests", "validators"]

logger = logging.getLogger(__name__)


class ConditionalRequests:
    """A downloader middleware over the crawl's store; without a store (`REFEED_STORE_URL` empty) it switches
    itself off with `NotConfigured`, as Scrapy's HttpCacheMiddleware does when disabled.

    A request whose meta has `refeed_conditional` goes out with the If-None-Match / If-Modified-Since its page
    (meta `refeed_key`, else its URL) answered last time, and may be answered 304. A listing (meta
    `refeed_listing`) answered 304 gets the links it had then in `response.meta["refeed_links"]`, for the spider
    to follow again: nothing is missed and nothing downloaded. The spider asks it which articles are stored
    (`known`) and hands it what a page answered (`remember`), written in turn by the crawl's store writer."""

    def __init__(self, store: Store, writer: StoreWriter):
        self.store = store
        self.reader = store.reader()  # lookups on the reactor thread; the writer's thread writes
        self.writer = writer

    @classmethod
    def from_crawler(cls, crawler) -> ConditionalRequests:
        url = crawler.settings.get("REFEED_STORE_URL")
        if not url:
            raise NotConfigured("no store (REFEED_STORE_URL is empty)")
        middleware = cls(Store(url), StoreWriter.for_crawler(crawler))
        crawler.signals.connect(middleware.close, signal=signals.spider_closed)
        return middleware

    def close(self) -> None:
        self.reader.close()
        self.store.close()

    def process_request(self, request: Request) -> None:
        if not request.meta.get("refeed_conditional"):
            return None
        remembered = queries.validators_for(self.reader, request.meta.get("refeed_key", request.url))
        if remembered is None or not (remembered.etag or remembered.last_modified):
            return None
        if remembered.etag:
            request.headers["If-None-Match"] = remembered.etag
        if remembered.last_modified:
            request.headers["If-Modified-Since"] = remembered.last_modified
        request.meta["handle_httpstatus_list"] = [*request.meta.get("handle_httpstatus_list", ()), 304]
        return None

    def process_response(self, request: Request, response: Response) -> Response:
        if response.status == 304 and request.meta.get("refeed_listing"):
            remembered = queries.validators_for(self.reader, request.meta.get("refeed_key", request.url))
            request.meta["refeed_links"] = remembered.links if remembered else []
        return response

    # -- for the spider's walk

    def known(self, urls: Iterable[str], recent: datetime) -> dict[str, bool]:
        """Which of `urls` are stored articles (however spelled), each mapped to whether it was first seen after `recent`."""
        return queries.known_since(self.reader, urls, recent)

    def remember(self, response: Response, links: list | None = None) -> asyncio.Future | None:
        """A page's validators (and a listing's links: [["a" or "l", url], …]) for its next conditional request,
        written in turn by the crawl's store writer (the write, to await; None when there is nothing to keep)."""
        return self.writer.remember(*validators(response), links)


def validators(response: Response) -> tuple[str, str | None, str | None]:
    """(key, ETag, Last-Modified) of a page's answer: what its next request is made conditional with."""
    etag = response.headers.get("ETag")
    modified = response.headers.get("Last-Modified")
    key = response.meta.get("refeed_key", response.url)
    return key, etag.decode("latin-1") if etag else None, modified.decode("latin-1") if modified else None
