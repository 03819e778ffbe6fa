"""A listing page's links: sorted into articles and further listings in one pass, whatever the page holds."""

from __future__ import annotations

import asyncio

from scrapy.http import HtmlResponse, Request
from scrapy.utils.test import get_crawler

from crawler.config import SourceConfig
from crawler.spiders.generic import GenericSpider

SITE = "http://127.0.0.1:8000/"
PAGE = """<html><head><link rel="next" href="/news/n4.html"></head><body>
<a href="/news/2022/a.html">A story</a> <a href="b.html">B</a> <a href="
  /news/spaced.html ">spaced</a>
<a href="../world/c.html?utm_source=x&amp;id=3#top">C</a> <a href="HTTP://127.0.0.1:8000/Upper/D.html">D</a>
<a href="http://127.0.0.1:8001/other-port.html">other port</a> <a href="https://elsewhere.example/x.html">elsewhere</a>
<a href="mailto:a@b.example">mail</a> <a href="javascript:void(0)">js</a> <a href="#top">top</a> <a href="">empty</a>
<a href="/files/report.pdf">pdf</a> <a href="/files/dump.tar.gz">tarball</a> <map><area href="/map/e.html"></map>
<a href="?page=2">2</a> <a href="/news/older.html">Older posts</a> <a rel="next" href="/news/n1.html">›</a>
<a class="btn next" href="/news/n2.html">go</a> <a aria-label="Next page" href="/news/n3.html">→</a>
<a href="/news/weiter.html"> Weiter </a> <a href="/news/seite.html">NÄCHSTE SEITE</a>
<a href="/news/span.html"><span>Next</span></a> <a href="/news/2022/a.html">A again</a> <a href="http://[::1">bad</a>
</body></html>"""


def spider(**options) -> GenericSpider:
    crawler = get_crawler(GenericSpider, settings_dict={"REFEED_STORE_URL": ""})
    return GenericSpider.from_crawler(crawler, source=SourceConfig(name="local", spider="generic", start_urls=(SITE,), **options))


def listing() -> HtmlResponse:
    url = SITE + "news/index.html"
    return HtmlResponse(url, body=PAGE.encode(), encoding="utf-8", request=Request(url))


def test_listing_links_are_sorted_in_page_order_further_pages_first():
    articles, listings = spider(articles=(r"^/news/\d{4}/",)).sort_links(listing())
    assert articles == [SITE + "news/2022/a.html"]
    further = ["news/index.html?page=2", "news/older.html", "news/n1.html", "news/n2.html", "news/n3.html", "news/weiter.html", "news/seite.html", "news/span.html", "news/n4.html"]
    assert listings == [SITE + p for p in further] + [SITE + p for p in ("news/b.html", "news/spaced.html", "world/c.html?id=3", "Upper/D.html", "map/e.html")]
    # not there: another port, another host, mail, script, fragments, files, and the link that is no URL at all


def test_a_listing_page_is_read_once():
    walker = spider(articles=(r"^/news/\d{4}/",))
    reads = []
    read = walker._links
    walker._links = lambda response: reads.append(response.url) or read(response)

    async def requests():
        return [r.url async for r in walker.parse_listing(listing())]

    urls = asyncio.run(requests())
    assert reads == [SITE + "news/index.html"]  # once: articles and listings come from one pass over the links
    assert SITE + "news/2022/a.html" in urls and SITE + "news/n1.html" in urls


def test_site_spider_drops_a_link_that_is_no_url_alone():
    from crawler.spiders.limitedtimes import LimitedTimesSpider

    crawler = get_crawler(LimitedTimesSpider, settings_dict={"REFEED_STORE_URL": ""})
    walker = LimitedTimesSpider.from_crawler(crawler, source=SourceConfig(name="lt", spider="limitedtimes", start_urls=(SITE,)))
    links = ["http://[::1", "javascript:void(0)", "http://127.0.0.1:8001/news/2022-01-08-a.abc.html", "/news/2022-01-08-b.abc.html"]
    body = "".join(f'<a href="{href}">{href}</a>' for href in links).encode()
    response = HtmlResponse(SITE, body=body, encoding="utf-8", request=Request(SITE))
    assert walker.sort_links(response) == ([SITE + "news/2022-01-08-b.abc.html"], [])
