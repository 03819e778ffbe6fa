"""The listing → article walk shared by all spiders; the article form is the source's parser's (crawler/parsers/)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import scrapy
from scrapy.http import Response

from crawler.canonical import canonicalize
from crawler.conditional import ConditionalRequests, validators
from crawler.config import SourceConfig
from crawler.items import Article
from crawler.pagepool import PagePool, wall_title
from crawler.parsers import Parser, parser_for
from crawler.urlpolicy import UrlPolicy

__all__ = ["ArticleSpider"]

logger = logging.getLogger(__name__)

class ArticleSpider(scrapy.Spider):
    """Start URLs are listing pages; listings lead to more listings and to articles.

    Subclasses say which links are articles and which are listings; what an article page holds is read by the
    source's parser (crawler/parsers/), in the page pool. Conditional requests are the ConditionalRequests
    middleware's (crawler/conditional.py): the walk only flags the requests that may be asked conditionally.
    """

    default_start_urls: tuple[str, ...] = ()
    articles_off_site = False  # articles may be on other sites than the start URLs' (a feed's items are)

    def __init__(self, source: SourceConfig | None = None, start_url: str | None = None, **kwargs):
        super().__init__(**kwargs)
        if source is None:
            urls = (start_url,) if start_url else self.default_start_urls
            source = SourceConfig(name=self.name, spider=self.name, start_urls=tuple(urls))
        self.source = source
        self.start_urls = list(source.start_urls)
        self.policy = UrlPolicy(source.start_urls)  # what may be requested; the downloader checks it again
        self.scheduled = 0  # pages requested this run, listings and articles
        self.seen: set[str] = set()  # canonical article URLs requested this run
        self.parser: Parser = parser_for(source)  # the form of the source's article pages
        self.recheck = timedelta(hours=48)
        self.pages: PagePool | None = None  # extraction and cleaning of article pages (from_crawler)
        self.memory: ConditionalRequests | None = None  # what the store remembers of pages (none without a store)

    @classmethod
    def from_crawler(cls, crawler, *args, **kwargs):
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider.recheck = timedelta(hours=crawler.settings.getfloat("REFEED_RECHECK_HOURS", 48))
        spider.pages = PagePool.shared(crawler.settings)
        crawler.signals.connect(spider._opened, signal=scrapy.signals.spider_opened)
        crawler.signals.connect(spider._closed, signal=scrapy.signals.spider_closed)
        return spider

    def _opened(self, spider):
        self.memory = self.crawler.get_downloader_middleware(ConditionalRequests)
        self.pages.acquire()

    def _closed(self, spider):
        self.pages.release()

    async def start(self):
        for url in self.start_urls:
            yield self.start_request(url)

    def start_request(self, url: str) -> scrapy.Request:
        """A start listing: asked every run, so it bypasses the duplicate filter (scrapy-redis's is shared and lasts)."""
        self.scheduled += 1
        return self.listing_request(url, dont_filter=True)

    def begin_round(self) -> None:
        """A new round in a long-lived worker (distributed mode): the per-run page budget and memory start afresh."""
        self.scheduled = 0
        self.seen.clear()

    # -- the walk: every listing asked conditionally, known articles skipped or (when recent) asked conditionally

    def listing_request(self, url: str, **kwargs) -> scrapy.Request:
        """Asked conditionally; a 304 brings back the links it had (crawler/conditional.py)."""
        meta = {"refeed_key": url, "refeed_conditional": True, "refeed_listing": True}
        return scrapy.Request(url, callback=self.parse_listing, meta=meta, **kwargs)

    def article_request(self, url: str, conditional: bool = False) -> scrapy.Request:
        meta = {"refeed_key": url, "refeed_conditional": conditional}
        return scrapy.Request(url, callback=self.parse_article, meta=meta)

    def parse_listing(self, response: Response):
        self.crawler.stats.inc_value("refeed/listings")
        if response.status == 304:
            self.crawler.stats.inc_value("refeed/listings_unchanged")
            links = response.meta.get("refeed_links", [])
            articles = [url for kind, url in links if kind == "a"]
            listings = [url for kind, url in links if kind == "l"]
        elif isinstance(response, scrapy.http.TextResponse):
            if self._bot_wall(response):
                return
            articles, listings = self.sort_links(response)
            self._remember(response, [["a", u] for u in articles] + [["l", u] for u in listings])
        else:
            return
        yield from self.follow_articles(articles)
        yield from self.follow_listings(listings)

    def follow_listings(self, urls: list[str]):
        for url in urls:
            if self.allowed(url) and self._budget_left():
                yield self.listing_request(url)

    def follow_articles(self, urls: list[str]):
        """Requests for articles not seen yet; known ones are skipped, recent known ones asked conditionally."""
        fresh = [u for u in dict.fromkeys(urls) if u not in self.seen and self.allowed(u, same_site=not self.articles_off_site)]
        self.seen.update(fresh)
        known = self.memory.known(fresh, datetime.now(UTC) - self.recheck) if self.memory is not None else {}
        for url in fresh:
            recent = known.get(url)
            if recent is False:
                self.crawler.stats.inc_value("refeed/known")
            elif self._budget_left():
                yield self.article_request(url, conditional=bool(recent))

    def _remember(self, response: Response, links: list | None = None) -> None:
        if self.memory is not None:
            self.memory.remember(response, links)

    def _bot_wall(self, response: Response, title: str | None = None) -> bool:
        """A challenge page answered with 200 (Cloudflare's "Just a moment...", a CAPTCHA) is no article."""
        title = wall_title(response.xpath("//title//text()").getall(), len(response.body)) if title is None else title
        if title:
            logger.warning("bot wall at %s: %r", response.url, title.strip())
            self.crawler.stats.inc_value("refeed/bot_wall")
            return True
        return False

    def _budget_left(self) -> bool:
        if self.scheduled >= self.source.max_pages:
            self.crawler.stats.set_value("refeed/page_cap_reached", True)
            return False
        self.scheduled += 1
        return True

    async def parse_article(self, response: Response):
        if response.status == 304:
            self.crawler.stats.inc_value("refeed/unchanged")
            return
        if not isinstance(response, scrapy.http.TextResponse):
            logger.info("skipped %s: not a text page (%s)", response.url, (response.headers.get("Content-Type") or b"?").decode("latin-1"))
            self.crawler.stats.inc_value("refeed/skipped")
            return
        item = await self.article_item(response)
        if item is not None:
            yield item

    async def article_item(self, response: Response) -> Article | None:
        """An article page parsed once, extracted and cleaned in the page pool while the reactor downloads; the
        item then goes to Deduplicate and Store with the page's validators. None when the page is no article."""
        content_type = (response.headers.get("Content-Type") or b"").decode("latin-1") or None
        if self.pages is None:
            raise RuntimeError("an article page before the spider was opened by its crawler (from_crawler)")
        prepared = await self.pages.prepare(self.parser_for_page(response.url), response.url, response.body, content_type)
        for record in prepared.records:  # a pool process's log lines, as if logged here
            if logging.getLogger(record.name).isEnabledFor(record.levelno):
                logging.getLogger(record.name).handle(record)
        if self._bot_wall(response, prepared.wall):  # a challenge page's validators are not worth keeping
            return None
        if prepared.item is None:
            self.crawler.stats.inc_value("refeed/skipped")
            self._remember(response)
            return None
        prepared.item.validators = validators(response)  # written with the item, by the Store pipeline
        return prepared.item

    def parser_for_page(self, url: str) -> Parser:
        """The parser the page pool reads this article page with (a spider whose walk learns something of the
        page before it is fetched, as the feed spider does, gives a parser that carries it)."""
        return self.parser

    def sort_links(self, response: Response) -> tuple[list[str], list[str]]:
        """(canonical article URLs, listing URLs) of a listing page; a spider that reads both from one pass
        over the page's links overrides this."""
        return [canonicalize(url) for url in self.article_links(response)], self.listing_links(response)

    def article_links(self, response: Response) -> list[str]:
        raise NotImplementedError

    def listing_links(self, response: Response) -> list[str]:
        raise NotImplementedError

    def same_site(self, url: str) -> bool:
        """On the host and port of a start URL."""
        return self.policy.on_site(url)

    def allowed(self, url: str, same_site: bool = True) -> bool:
        """The source's UrlPolicy lets this URL be requested; a refusal is logged (links never reach Scrapy)."""
        reason = self.policy.refusal(url, same_site)
        if reason is not None:
            logger.info("skipped %s: %s", url[:300], reason)
            self.crawler.stats.inc_value("refeed/refused")
        return reason is None
