"""The configurable spider: any aggregator from start URLs, `follow` and `articles` regexes, and content signals."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime
from urllib.parse import urljoin

import scrapy
from scrapy.http import Response, TextResponse
from scrapy.linkextractors import IGNORED_EXTENSIONS
from scrapy.utils.response import get_base_url

from crawler.canonical import canonicalize
from crawler.extract.article import looks_like_article
from crawler.extract.page import Page
from crawler.patterns import compile_pattern
from crawler.spiders.base import ArticleSpider

__all__ = ["GenericSpider"]

logger = logging.getLogger(__name__)

# Links are <a href> and <area href>; a listing's further pages are NEXT, an <a> whose text says so (NEXT_TEXT),
# and one with ?page=N (PAGE_QUERY).
NEXT_TEXT = re.compile(r"^\s*(next|next page|older( posts| entries)?|more|weiter|nächste( seite)?|siguiente|suivant|próxima|»|›|→|>)\s*$", re.I)
PAGE_QUERY = re.compile(r"(?:^|&)(?:page|p|pg|paged|seite|pagina)=\d+(?:&|$)", re.I)
_WORDS = ("next", "next page", "older", "older posts", "older entries", "more", "weiter", "nächste", "nächste seite", "siguiente", "suivant", "próxima", "»", "›", "→", ">")
# Every link of a page, in page order, and the few anchors worth a closer look as a further page (rel=next,
# class "next", an aria-label with "next", NEXT_TEXT, PAGE_QUERY): libxml2 walks the page, Python looks only at
# those. `descendant::`, not `//`: libxml2 merges the node sets of `//a[…]` in quadratic time (11 s for 250,000).
LINKS = "descendant::a/@href | descendant::area/@href"
NEXT_LINKS = "descendant::link[@href][contains(concat(' ', normalize-space(@rel), ' '), ' next ')]/@href"
MAYBE_NEXT = (  # NEXT_TEXT's words as pages spell them (next, Next, Next Page, NEXT): a lowercasing translate() costs
    "descendant::a[@href][contains(@href, '?') or contains(@rel, 'next') or contains(@class, 'next')"
    " or contains(translate(@aria-label, 'NEXT', 'next'), 'next') or contains('|"
    + "|".join(dict.fromkeys(s for w in _WORDS for s in (w, w.capitalize(), w.title(), w.upper())))
    + "|', concat('|', normalize-space(.), '|'))]"
)
SKIPPED = frozenset(e.lower() for e in IGNORED_EXTENSIONS)  # images, archives, documents: no page to read
# rel=next (on <link> or <a>), class "next" or an aria-label with "next": a listing's next page
NEXT = (
    "descendant::link[@href][contains(concat(' ', normalize-space(@rel), ' '), ' next ')]/@href"
    " | descendant::a[@href][contains(concat(' ', normalize-space(@rel), ' '), ' next ')"
    " or contains(concat(' ', normalize-space(@class), ' '), ' next ')"
    " or contains(translate(@aria-label, 'NEXT', 'next'), 'next')]/@href"
)


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
                item = await self.article_item(response)  # extracted in the page pool, as from parse_article
                if item is not None:
                    yield item
        for request in super().parse_listing(response):
            yield request

    def _unchanged_page(self, response: Response):
        """A page answered 304: its remembered links sorted again by the store, which knows the articles found since.

        A page's links were sorted when it was last fetched, often before the articles it links to were stored:
        the links remembered as listings include articles. Asked as listings they would answer 304 uncounted
        (and their requests as articles would be dropped as duplicates), so a re-run would see no article.
        """
        key = response.meta.get("refeed_key", response.url)
        links = response.meta.get("refeed_links", [])  # remembered by crawler/conditional.py
        known = self._known([key, *(url for _, url in links)])
        if key in known:  # an article asked as a listing: its link was not stored yet when it was followed
            self.crawler.stats.inc_value("refeed/unchanged")
        else:
            self.crawler.stats.inc_value("refeed/listings")
            self.crawler.stats.inc_value("refeed/listings_unchanged")
        articles = [url for kind, url in links if kind == "a" or url in known]
        listings = [url for kind, url in links if kind != "a" and url not in known]
        yield from self.follow_articles(articles)
        yield from self.follow_listings(listings)

    def follow_articles(self, urls: list[str]):
        """As for any spider, but not the pages already asked as listings this run: those count themselves."""
        return super().follow_articles([u for u in urls if u not in self.queued])

    def follow_listings(self, urls: list[str]):
        """The listings not asked yet this run. (A page remembers all its links, asked or not: the page that
        queued a link may be lost with a killed worker, and on the next round answer 304, replaying only what
        it remembered. A link remembered by every page that carries it is asked again from any of them.)"""
        fresh = [u for u in urls if u not in self.queued and u not in self.seen]
        self.queued.update(fresh)
        return super().follow_listings(fresh)

    # -- which links are which: one pass over the page's links, each link's URL worked out once

    def sort_links(self, response: Response) -> tuple[list[str], list[str]]:
        links, pages = self._links(response)
        if self.articles:
            is_article = [self._matches(self.articles, u) for u in links]
        else:
            known = self._known(links)  # a stored page is an article whatever its URL
            is_article = [u in known for u in links]
        articles = [u for u, article in zip(links, is_article) if article]
        rest = [u for u, article in zip(links, is_article) if not article]
        if self.follow:
            rest = [u for u in rest if u in pages or self._matches(self.follow, u)]
        return articles, list(dict.fromkeys([*(u for u in rest if u in pages), *rest]))  # further pages of this listing first

    def article_links(self, response: Response) -> list[str]:
        return self.sort_links(response)[0]

    def listing_links(self, response: Response) -> list[str]:
        return self.sort_links(response)[1]

    def _links(self, response: Response) -> tuple[list[str], set[str]]:
        """(canonical same-site page links in page order, without images, files and mail; the subset that are
        further pages of this listing: rel=next, "next"/"older"/"»" links and ?page=N links)."""
        if not isinstance(response, TextResponse):  # a listing is a page of links
            return [], set()
        base = get_base_url(response)
        origin = base[: base.find("/", base.find("//") + 2)] if base.count("/") >= 3 else base
        resolve = _Resolver(base, origin, self.same_site(origin + "/"), self.same_site)
        root = response.selector.root
        further = [h.strip() for h in root.xpath(NEXT_LINKS, smart_strings=False)]
        further += [a.get("href").strip() for a in root.xpath(MAYBE_NEXT) if _further_page(a)]
        found = [u for u in resolve.all(root.xpath(LINKS, smart_strings=False)) if not _skipped(u)]
        pages = resolve.all(further)
        return list(dict.fromkeys(found + pages)), set(pages)

    def _matches(self, patterns: list, url: str) -> bool:
        target = url[url.find("/", url.find("//") + 2):] if url.count("/") >= 3 else "/"  # path and query of a canonical URL
        return any(p.search(target) for p in patterns)

    def _known(self, urls: list[str]) -> set[str]:
        if self.memory is None or not urls:
            return set()
        return set(self.memory.known(urls, datetime.now(UTC)))


_PLAIN_PATH = re.compile(r"/[A-Za-z0-9_~/-][A-Za-z0-9._~/-]*|/")  # no query, no fragment, nothing to escape (and no "/.")


class _Resolver:
    """href → canonical URL on the source's site, or None; each distinct href worked out once a page, and a
    root-relative plain one ("/news/a.html", what most links are) without urljoin or canonicalize."""

    def __init__(self, base: str, origin: str, origin_on_site: bool, same_site):
        self.base, self.origin, self.origin_on_site, self.same_site = base, origin, origin_on_site, same_site
        self.done: dict[str, str | None] = {}
        self.netlocs: dict[str, bool] = {}  # host[:port] of absolute links → on the source's site
        self.plain_origin = canonicalize(origin + "/") == origin + "/"  # then origin + a plain path is canonical

    def all(self, hrefs: list[str]) -> list[str]:
        """The URLs of those hrefs that are links to the site, in their order."""
        done, urls = self.done, []
        for href in hrefs:
            if href in done:
                url = done[href]
            else:
                url = done[href] = self._resolve(href.strip())
            if url is not None:
                urls.append(url)
        return urls

    def _resolve(self, href: str) -> str | None:
        if not href or href.startswith(("#", "mailto:", "javascript:", "tel:", "data:")):
            return None
        plain = "/." not in href and "\\" not in href  # no dot segment for urljoin to resolve
        if plain and href.startswith("/") and not href.startswith("//") and self.origin_on_site:
            url = self.origin + href  # what urljoin gives, without its cost
            if self.plain_origin and _PLAIN_PATH.fullmatch(href):
                return url  # already canonical
        elif plain and href.startswith(("http://", "https://")):
            url = href
            netloc = url[url.index("//") + 2:].partition("/")[0].partition("?")[0].partition("#")[0]
            on_site = self.netlocs.get(netloc)
            if on_site is None:
                on_site = self.netlocs[netloc] = self.same_site(url)
            if not on_site:
                return None
        else:
            try:
                url = urljoin(self.base, href)
            except ValueError:  # "http://[::1"
                return None
            if not url.startswith(("http://", "https://")) or not self.same_site(url):
                return None
        try:
            return canonicalize(url)
        except ValueError:
            return None


def _skipped(url: str) -> bool:
    """An image, archive or document by its extension (`.pdf`, `.tar.gz`)."""
    name = url.partition("?")[0].rpartition("/")[2].lower()
    if "." not in name:
        return False
    parts = name.rsplit(".", 2)
    return parts[-1] in SKIPPED or (len(parts) == 3 and f"{parts[1]}.{parts[2]}" in SKIPPED)


def _page_query(href: str) -> bool:
    query = href.partition("?")[2].partition("#")[0]
    return bool(query) and PAGE_QUERY.search(query) is not None


def _further_page(anchor) -> bool:
    """rel=next, class "next", an aria-label with "next", ?page=N, or a text that says "next", "older", "»"…"""
    href = anchor.get("href").strip()
    return bool(href) and (
        _page_query(href)
        or "next" in (anchor.get("rel") or "").split()
        or "next" in (anchor.get("class") or "").split()
        or "next" in (anchor.get("aria-label") or "").lower()
        or NEXT_TEXT.match(" ".join("".join(anchor.itertext()).split())) is not None
    )
