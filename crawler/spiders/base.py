"""The listing → article walk shared by all spiders, and the field-by-field article form."""

from __future__ import annotations

import logging
from html import escape
from urllib.parse import urlsplit

import scrapy
from scrapy.http import Response

from crawler.canonical import canonicalize
from crawler.config import SourceConfig
from crawler.extract import Extracted, Page, extract_generic_body, render_blocks
from crawler.items import Article
from crawler.store import Store

__all__ = ["ArticleSpider"]

logger = logging.getLogger(__name__)


class ArticleSpider(scrapy.Spider):
    """Start URLs are listing pages; listings lead to more listings and to articles.

    Subclasses say which links are articles and which are listings, and may
    override any field method (`title`, `published`, `body`, …) of the form.
    """

    default_start_urls: tuple[str, ...] = ()

    def __init__(self, source: SourceConfig | None = None, start_url: str | None = None, **kwargs):
        super().__init__(**kwargs)
        if source is None:
            urls = (start_url,) if start_url else self.default_start_urls
            source = SourceConfig(name=self.name, spider=self.name, start_urls=tuple(urls))
        self.source = source
        self.start_urls = list(source.start_urls)
        self.hosts = {urlsplit(u).hostname for u in source.start_urls}
        self.scheduled = 0  # pages requested this run, listings and articles
        self.seen: set[str] = set()  # canonical article URLs requested this run
        self.store: Store | None = None

    @classmethod
    def from_crawler(cls, crawler, *args, **kwargs):
        spider = super().from_crawler(crawler, *args, **kwargs)
        store_url = crawler.settings.get("REFEED_STORE_URL")
        if store_url:
            spider.store = Store(store_url)
        crawler.signals.connect(spider._close_store, signal=scrapy.signals.spider_closed)
        return spider

    def _close_store(self, spider):
        if self.store is not None:
            self.store.close()

    async def start(self):
        for url in self.start_urls:
            self.scheduled += 1
            yield scrapy.Request(url, callback=self.parse_listing, dont_filter=True)

    # -- the walk

    def parse_listing(self, response: Response):
        self.crawler.stats.inc_value("refeed/listings")
        if not isinstance(response, scrapy.http.TextResponse):
            return
        articles = []
        for url in self.article_links(response):
            canonical = canonicalize(url)
            if canonical not in self.seen:
                self.seen.add(canonical)
                articles.append(canonical)
        known = self.store.known_urls(articles) if self.store else set()
        self.crawler.stats.inc_value("refeed/known", len(known))
        for url in articles:
            if url in known:
                continue
            if self._budget_left():
                yield scrapy.Request(url, callback=self.parse_article)
        for url in self.listing_links(response):
            if self._budget_left():
                yield scrapy.Request(url, callback=self.parse_listing)

    def _budget_left(self) -> bool:
        if self.scheduled >= self.source.max_pages:
            self.crawler.stats.set_value("refeed/page_cap_reached", True)
            return False
        self.scheduled += 1
        return True

    def parse_article(self, response: Response):
        if not isinstance(response, scrapy.http.TextResponse):
            logger.info("skipped %s: not a text page (%s)", response.url, response.headers.get("Content-Type", b"?").decode("latin-1"))
            self.crawler.stats.inc_value("refeed/skipped")
            return
        page = Page(url=response.url, selector=response.selector)
        article = self.article(page, response.text)
        if article is None:
            self.crawler.stats.inc_value("refeed/skipped")
            return
        yield article

    def article_links(self, response: Response) -> list[str]:
        raise NotImplementedError

    def listing_links(self, response: Response) -> list[str]:
        raise NotImplementedError

    def same_site(self, url: str) -> bool:
        return urlsplit(url).hostname in self.hosts

    # -- the form: one method per field

    def article(self, page: Page, html: str) -> Article | None:
        title = self.title(page)
        extracted = self.body(page, html)
        lede = self.summary(page)
        if not title or not extracted.blocks:
            logger.info("skipped %s: no %s found", page.url, "title" if not title else "article body")
            return None
        blocks = extracted.blocks
        if lede and blocks[0][2] != lede:
            blocks = [("p", _escape(lede), lede), *blocks]
        html_body, text_body = render_blocks(blocks)
        return Article(
            url=page.url,
            canonical_url=page.canonical(),
            title=title,
            published=self.published(page),
            updated=self.updated(page),
            site=self.source.name,
            publisher=self.publisher(page, extracted),
            authors=self.authors(page, extracted),
            topics=[*self.sections(page), *self.source.topics],
            language=page.language(),
            summary=lede or blocks[0][2],
            content_html=html_body,
            content_text=text_body,
            image=self.image(page),
            image_caption=self.image_caption(page),
        )

    def title(self, page: Page) -> str | None:
        return page.title() or _clean(page.selector.css("h1").xpath("string()").get())

    def published(self, page: Page):
        return page.published()

    def updated(self, page: Page):
        return page.modified()

    def summary(self, page: Page) -> str | None:
        return page.summary()

    def body(self, page: Page, html: str) -> Extracted:
        return extract_generic_body(page, html)

    def publisher(self, page: Page, extracted: Extracted) -> str | None:
        return extracted.publisher

    def authors(self, page: Page, extracted: Extracted) -> list[str]:
        return page.authors() or extracted.credit

    def sections(self, page: Page) -> list[str]:
        return page.sections()

    def image(self, page: Page) -> str | None:
        return page.image()

    def image_caption(self, page: Page) -> str | None:
        return _clean(page.selector.css("figure figcaption").xpath("string()").get())


def _clean(text: str | None) -> str | None:
    text = " ".join((text or "").split())
    return text or None


def _escape(text: str) -> str:
    return escape(text, quote=False)

