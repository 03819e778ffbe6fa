"""The Limited Times (and sites built like it): which links are articles and which are listings; its article form
is crawler/parsers/limitedtimes.py."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from crawler.spiders.base import ArticleSpider

__all__ = ["LimitedTimesSpider"]

ARTICLE_PATH = re.compile(r"^/[a-z][a-z0-9-]*/\d{4}-\d{2}-\d{2}-[^/]+\.[0-9a-z]+\.html$")
SECTION_PATH = re.compile(r"^/[a-z][a-z0-9-]*/?$")
NEXT_LINKS = "link[rel=next]::attr(href), a[rel~=next]::attr(href), a.next::attr(href)"
SECTION_LINKS = "nav a::attr(href), header a::attr(href)"
ALL_LINKS = "a::attr(href)"


class LimitedTimesSpider(ArticleSpider):
    name = "limitedtimes"
    default_start_urls = ("https://www.newsrnd.com/",)

    def article_links(self, response):
        return [u for u in self._links(response, ALL_LINKS) if ARTICLE_PATH.match(urlsplit(u).path)]

    def listing_links(self, response):
        sections = [u for u in self._links(response, SECTION_LINKS) if SECTION_PATH.match(urlsplit(u).path) and not urlsplit(u).query]
        return sections + self._links(response, NEXT_LINKS)

    def _links(self, response, css):
        urls = (_join(response, href.strip()) for href in response.css(css).getall() if href.strip())
        return [u for u in urls if u and self.same_site(u)]


def _join(response, href: str) -> str | None:
    """The absolute URL of a link, None for one that is no URL ("http://[::1"): that link alone is dropped."""
    try:
        return response.urljoin(href)
    except ValueError:
        return None
