"""The Limited Times (and sites built like it): selectors, then one short method per field."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from crawler.extract.article import site_section
from crawler.extract.blocks import Extracted, body_blocks
from crawler.extract.cascade import extract_body
from crawler.extract.page import Page
from crawler.extract.text import publisher_from
from crawler.spiders.base import ArticleSpider

__all__ = ["LimitedTimesSpider"]

ARTICLE_PATH = re.compile(r"^/[a-z][a-z0-9-]*/\d{4}-\d{2}-\d{2}-[^/]+\.[0-9a-z]+\.html$")
SECTION_PATH = re.compile(r"^/[a-z][a-z0-9-]*/?$")
NEXT_LINKS = "link[rel=next]::attr(href), a[rel~=next]::attr(href), a.next::attr(href)"
SECTION_LINKS = "nav a::attr(href), header a::attr(href)"
ALL_LINKS = "a::attr(href)"
# Each a list tried in order: the sample site's markup first, then spellings seen on sites like it.
BODY = ("div.article-body", "div.article-content", "[itemprop=articleBody]")
LEDE = ("p.article-lede", ".lede", "article header p")
CAPTION = ("figure figcaption .caption", "figure figcaption")
SOURCE = ("p.article-source", ".article-source")
# The site's own furniture, never article text: its image button, asides, archive line and disclaimer.
FURNITURE = re.compile(
    r"^(?:enlarge image|you may like|trends 24h|latest|all news articles on \d{4}-\d{2}-\d{2})$"
    r"|^the information on this site is from external sources|^the inclusion of any links does not necessarily",
    re.I,
)


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

    # -- fields

    def summary(self, page: Page) -> str | None:
        return _first_text(page, LEDE) or page.summary()

    def body(self, page: Page, html: str) -> Extracted:
        body = _first(page, BODY)
        extracted = body_blocks(page, body) if body is not None else None
        if extracted is None or not extracted.blocks:  # no container, or one closed early by broken markup
            extracted = extract_body(page, html)
        extracted.blocks = [block for block in extracted.blocks if not FURNITURE.search(block[2])]
        source = _first_text(page, SOURCE)
        if source and publisher_from(source):
            extracted.publisher = publisher_from(source)
        return extracted

    def sections(self, page: Page) -> list[str]:
        section = site_section(page.canonical())
        return ([section] if section else []) + page.sections()

    def image_caption(self, page: Page) -> str | None:
        return _first_text(page, CAPTION)


def _join(response, href: str) -> str | None:
    """The absolute URL of a link, None for one that is no URL ("http://[::1"): that link alone is dropped."""
    try:
        return response.urljoin(href)
    except ValueError:
        return None


def _first(page: Page, selectors: tuple[str, ...]):
    for css in selectors:
        found = page.first(css)
        if found is not None:
            return found
    return None


def _first_text(page: Page, selectors: tuple[str, ...]) -> str | None:
    node = _first(page, selectors)
    text = " ".join(node.xpath("string()").get().split()) if node is not None else ""
    return text or None
