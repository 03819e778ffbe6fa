"""The ConditionalRequests downloader middleware on a real store: validators out, a listing's 304 replayed, off
without a store."""

from __future__ import annotations

import asyncio

import pytest
from scrapy import Request
from scrapy.exceptions import NotConfigured
from scrapy.http import HtmlResponse, Response
from scrapy.utils.test import get_crawler

from crawler.conditional import ConditionalRequests
from crawler.store import Store, queries

LISTING = "http://lt.test/news/"
LINKS = [["a", "http://lt.test/news/2022-01-08-a.1b0c4250.html"], ["l", "http://lt.test/news/?page=2"]]
MODIFIED = "Sat, 08 Jan 2022 08:02:35 GMT"


def middleware_on(store_url: str) -> ConditionalRequests:
    return ConditionalRequests.from_crawler(get_crawler(settings_dict={"REFEED_STORE_URL": store_url}))


def close(middleware: ConditionalRequests) -> None:
    asyncio.run(middleware.writer.close())
    middleware.close()


def listing_request(url: str = LISTING) -> Request:
    return Request(url, meta={"refeed_key": url, "refeed_conditional": True, "refeed_listing": True})


def test_without_a_store_the_middleware_switches_itself_off():
    with pytest.raises(NotConfigured):
        middleware_on("")


def test_a_listing_remembered_is_asked_with_its_validators_and_its_304_replays_its_links(tmp_path):
    url = f"sqlite:///{tmp_path}/refeed.sqlite3"
    first = middleware_on(url)
    answered = HtmlResponse(LISTING, headers={"ETag": '"v1"', "Last-Modified": MODIFIED}, body=b"<html></html>", request=listing_request())

    async def remember():
        written = first.remember(answered, LINKS)
        assert written is not None
        await written
        await first.writer.close()  # committed

    asyncio.run(remember())
    first.close()

    again = middleware_on(url)
    try:
        request = listing_request()
        assert again.process_request(request) is None
        assert request.headers["If-None-Match"] == b'"v1"' and request.headers["If-Modified-Since"] == MODIFIED.encode()
        assert 304 in request.meta["handle_httpstatus_list"]
        unchanged = Response(LISTING, status=304, request=request)
        assert again.process_response(request, unchanged) is unchanged
        assert unchanged.meta["refeed_links"] == LINKS
    finally:
        close(again)


def test_only_flagged_requests_for_remembered_pages_are_made_conditional(tmp_path):
    url = f"sqlite:///{tmp_path}/refeed.sqlite3"
    store = Store(url)
    with store.engine.begin() as conn:
        queries.remember_validators(conn, LISTING, '"v1"', None, LINKS)
    store.close()
    middleware = middleware_on(url)
    try:
        plain = Request(LISTING, meta={"refeed_key": LISTING})  # an article asked in full
        never_seen = listing_request("http://lt.test/world/")
        for request in (plain, never_seen):
            middleware.process_request(request)
            assert "If-None-Match" not in request.headers and "handle_httpstatus_list" not in request.meta
        changed = HtmlResponse(LISTING, status=200, body=b"<html></html>", request=listing_request())
        middleware.process_response(changed.request, changed)
        assert "refeed_links" not in changed.meta  # a 200 is read afresh by the spider
    finally:
        close(middleware)
