"""The feed spider: start URLs are RSS/Atom feeds; each item's page is fetched and extracted in full."""

from __future__ import annotations

import calendar
import logging
from datetime import UTC, datetime

import feedparser
import scrapy
from scrapy.http import Response, XmlResponse

from crawler.canonical import canonicalize
from crawler.extract.dates import parse_datetime
from crawler.extract.text import split_authors
from crawler.parsers.feed import FeedEntry, FeedParser
from crawler.spiders.base import ArticleSpider

__all__ = ["FeedSpider"]

logger = logging.getLogger(__name__)


class FeedSpider(ArticleSpider):
    """Every item of every start feed is an article page; the feed only points at it (truncated feeds welcome)."""

    name = "feed"
    articles_off_site = True  # a feed's items may be anywhere the URL policy lets the source reach

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.entries: dict[str, FeedEntry] = {}

    def parse_listing(self, response: Response):
        if response.status == 200 and not isinstance(response, scrapy.http.TextResponse):
            response = response.replace(cls=XmlResponse)  # a feed served as application/octet-stream is still a feed
        yield from super().parse_listing(response)

    def article_links(self, response: Response) -> list[str]:
        parsed = feedparser.parse(response.body, response_headers={"content-type": (response.headers.get("Content-Type") or b"").decode("latin-1")})
        if parsed.bozo and not parsed.entries:
            logger.warning("not a feed: %s (%s)", response.url, parsed.get("bozo_exception"))
            return []
        links = []
        for item in parsed.entries:
            link = item.get("link") or next((alt.get("href") for alt in item.get("links", []) if alt.get("rel") == "alternate"), None)
            if not link:
                continue
            url = self._item_url(response, link)
            if url is None:
                continue
            links.append(url)
            self.entries[url] = FeedEntry(
                title=item.get("title") or None,
                published=_feed_date(item),
                authors=[n for a in item.get("authors", []) for n in split_authors(a.get("name"))] or split_authors(item.get("author")),
                sections=[t.get("term") for t in item.get("tags", []) if t.get("term")],
            )
        return links

    def listing_links(self, response: Response) -> list[str]:
        return []

    def _item_url(self, response: Response, link: str) -> str | None:
        """An item's canonical page URL, or None (logged) when the URL policy refuses it: that item alone is skipped."""
        try:
            url = response.urljoin(link.strip())
            reason = self.policy.refusal(url, same_site=False)
            url = canonicalize(url) if reason is None else url
        except ValueError as exc:  # "http://[::1": urljoin and canonicalize refuse some spellings
            reason = str(exc)
        if reason is not None:
            logger.warning("feed %s: item %s skipped: %s", response.url, link.strip()[:200], reason)
            self.crawler.stats.inc_value("refeed/refused")
            return None
        return url

    def parser_for_page(self, url: str) -> FeedParser:
        """The page's parser, with what its feed said of it."""
        return FeedParser(self.source, self.entries.get(canonicalize(url)))


def _feed_date(item) -> datetime | None:
    for key in ("published", "updated", "created"):
        struct = item.get(f"{key}_parsed")  # feedparser's reading, already in UTC
        if struct:
            return datetime.fromtimestamp(calendar.timegm(struct), tz=UTC)
        parsed = parse_datetime(item.get(key))
        if parsed:
            return parsed
    return None
