"""The configurable spider: any aggregator from start URLs, `follow` and `articles` regexes, and content signals."""

from __future__ import annotations

import logging
import re
from urllib.parse import urlsplit

import scrapy
from scrapy.http import Response
from scrapy.linkextractors import IGNORED_EXTENSIONS

from crawler.canonical import canonicalize
from crawler.extract import Page, looks_like_article
from crawler.patterns import compile_pattern
from crawler.spiders.base import ArticleSpider
from crawler.store import Store, utcnow

__all__ = ["GenericSpider"]

logger = logging.getLogger(__name__)

LINKS = "a[href]::attr(href), area[href]::attr(href)"
NEXT = (
    "link[rel~=next]::attr(href), a[rel~=next]::attr(href), a.next::attr(href), .pagination a.next::attr(href),"
    " a[aria-label*=next i]::attr(href), a[aria-label*=Next]::attr(href)"
)
NEXT_TEXT = re.compile(r"^\s*(next|next page|older( posts| entries)?|more|weiter|nächste( seite)?|siguiente|suivant|próxima|»|›|→|>)\s*$", re.I)
PAGE_QUERY = re.compile(r"(?:^|&)(?:page|p|pg|paged|seite|pagina)=\d+(?:&|$)", re.I)
SKIPPED = re.compile(r"\.(?:" + "|".join(re.escape(e) for e in IGNORED_EXTENSIONS) + r")$", re.I)


class GenericSpider(ArticleSpider):
    """Walks listing pages on the start URLs' hosts and recognises articles by `articles` regexes, else by content.

    With `articles` regexes, links that match are articles and the rest (narrowed by `follow`) are listings,
    as for a site spider. Without them a page cannot be judged before it is fetched: every followed page is
    fetched as a listing, and the ones that are articles by their content (`looks_like_article`) are extracted
    as well; links already stored as articles are skipped (or asked conditionally) like any known article.
    """

    name = "generic"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.follow = [compile_pattern(p) for p in self.source.follow]  # RE2: linear time whatever the pattern
        self.articles = [compile_pattern(p) for p in self.source.articles]
        self.queued: set[str] = {canonicalize(u) for u in self.start_urls}  # listing pages requested this run

    def begin_round(self) -> None:
        super().begin_round()
        self.queued = {canonicalize(u) for u in self.start_urls}

    async def parse_listing(self, response: Response):
        if not self.articles and response.status == 304:
            for request in self._unchanged_page(response):
                yield request
            return
        if not self.articles and response.status == 200 and isinstance(response, scrapy.http.TextResponse):
            if looks_like_article(Page.from_response(response)):
                self.crawler.stats.inc_value("refeed/articles_by_content")
                await self.store_page(response)  # extracted and stored by the page worker, as from parse_article
        for request in super().parse_listing(response):
            yield request

    def _unchanged_page(self, response: Response):
        """A page answered 304: its remembered links sorted again by the store, which knows the articles found since.

        A page's links were sorted when it was last fetched, often before the articles it links to were stored:
        the links remembered as listings include articles. Asked as listings they would answer 304 uncounted
        (and their requests as articles would be dropped as duplicates), so a re-run would see no article.
        """
        key = response.meta.get("refeed_key", response.url)
        remembered = Store.validators_for(self.reader, key)
        links = remembered.links if remembered else []
        known = self._known([key, *(url for _, url in links)])
        if key in known:  # an article asked as a listing: its link was not stored yet when it was followed
            self.crawler.stats.inc_value("refeed/unchanged")
        else:
            self.crawler.stats.inc_value("refeed/listings")
            self.crawler.stats.inc_value("refeed/listings_unchanged")
        articles = [url for kind, url in links if kind == "a" or url in known]
        listings = [url for kind, url in links if kind != "a" and url not in known and url not in self.queued and url not in self.seen]
        self.queued.update(listings)
        yield from self.follow_articles(articles)
        yield from self.follow_listings(listings)

    def follow_articles(self, urls: list[str]):
        """As for any spider, but not the pages already asked as listings this run: those count themselves."""
        return super().follow_articles([u for u in urls if u not in self.queued])

    # -- which links are which

    def article_links(self, response: Response) -> list[str]:
        links = self._links(response)
        if self.articles:
            return [u for u in links if self._matches(self.articles, u)]
        return [u for u in links if u in self._known(links)]  # a stored page is an article whatever its URL

    def listing_links(self, response: Response) -> list[str]:
        links = self._links(response)
        pages = set(self._pagination(response))
        if self.articles:
            links = [u for u in links if not self._matches(self.articles, u)]
        else:
            known = self._known(links)
            links = [u for u in links if u not in known]
        if self.follow:
            links = [u for u in links if u in pages or self._matches(self.follow, u)]
        out = [u for u in dict.fromkeys([*(u for u in links if u in pages), *links]) if u not in self.queued and u not in self.seen]
        self.queued.update(out)
        return out

    def _links(self, response: Response) -> list[str]:
        """Canonical same-site page links of a response, in page order, without images, files and mail."""
        found = []
        for href in response.css(LINKS).getall():
            href = href.strip()
            if not href or href.startswith(("#", "mailto:", "javascript:", "tel:", "data:")):
                continue
            url = response.urljoin(href)
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not self.same_site(url) or SKIPPED.search(parts.path):
                continue
            found.append(canonicalize(url))
        found += self._pagination(response)
        return list(dict.fromkeys(found))

    def _pagination(self, response: Response) -> list[str]:
        """rel=next, "next"/"older"/"»" links and ?page=N links: a listing's further pages."""
        hrefs = [h.strip() for h in response.css(NEXT).getall() if h.strip()]
        for anchor in response.css("a[href]"):
            href = anchor.attrib.get("href", "").strip()
            text = " ".join(anchor.xpath("string()").get().split())
            if href and (NEXT_TEXT.match(text) or PAGE_QUERY.search(urlsplit(href).query)):
                hrefs.append(href)
        urls = (response.urljoin(h) for h in hrefs)
        return [canonicalize(u) for u in urls if self.same_site(u) and urlsplit(u).scheme in ("http", "https")]

    def _matches(self, patterns: list, url: str) -> bool:
        parts = urlsplit(url)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        return any(p.search(target) for p in patterns)

    def _known(self, urls: list[str]) -> set[str]:
        if self.reader is None or not urls:
            return set()
        return set(Store.known_since(self.reader, urls, utcnow()))
