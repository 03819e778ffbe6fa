"""Every Scrapy and REFEED_* setting, grouped and commented; the environment is read only here."""

from __future__ import annotations

import os

# -- the project
BOT_NAME = "refeed"
SPIDER_MODULES = ["crawler.spiders"]
NEWSPIDER_MODULE = "crawler.spiders"
ADDONS = {"crawler.addons.Distributed": 0}  # switches itself on when REFEED_REDIS_URL is set

# -- politeness (crawl.* in refeed.toml overrides these)
USER_AGENT = "refeed/1.0 (+https://example.org/refeed)"
ROBOTSTXT_OBEY = True
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 8
# What a callback yields is processed this many at a time. Refeed's callbacks yield requests, or one article, and
# Scrapy starts this many tasks for every response: 100, its default, cost a third of the reactor's time
# (bench/crawl.py: the bare spider fetched 1.6x faster with 1).
CONCURRENT_ITEMS = 1
# Responses whose callback or item is under way, at most this many bytes (about 20 article pages; Scrapy's
# default, 5 MB, is hundreds): the page pool and the store's writer take pages as fast as they can, and pages
# read further ahead only cost memory (bench: 24 MB less in the crawler's process of a 1,000-article `once`,
# at the same speed). A bigger page still goes through, alone.
SCRAPER_SLOT_MAX_ACTIVE_SIZE = 200_000
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 0.25  # seconds; adapts to the site's latency from there
AUTOTHROTTLE_MAX_DELAY = 10.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 4.0

# -- robustness: retries on 5xx and timeouts, bounded pages
RETRY_ENABLED = True
RETRY_TIMES = 2
DOWNLOAD_TIMEOUT = 20
DOWNLOAD_MAXSIZE = 5 * 1024 * 1024  # a bigger page is not an article: skipped and logged
DOWNLOAD_WARNSIZE = 2 * 1024 * 1024
REDIRECT_MAX_TIMES = 5
# -- what may be requested at all (crawler/urlpolicy.py): http(s) only, redirects on the same site, private
# networks only for sources that live there; checked for every request before robots.txt is even asked. Then
# conditional requests (crawler/conditional.py, off without a store): listings and recent articles asked with their
# last answer's validators, a listing's 304 replaying its links; at HttpCacheMiddleware's place, by the downloader.
DOWNLOADER_MIDDLEWARES = {"crawler.urlpolicy.UrlPolicyMiddleware": 50, "crawler.conditional.ConditionalRequests": 900}
REFEED_URL_POLICY = True
# the address a download connects to is checked too: a name may answer otherwise than when the middleware asked
TWISTED_DNS_RESOLVER = "crawler.urlpolicy.PolicyResolver"
REFEED_NAMESERVERS = os.environ.get("REFEED_NAMESERVERS", "")  # "host:port, …": these DNS servers, not the system's
COOKIES_ENABLED = False
TELNETCONSOLE_ENABLED = False

# -- the article path: spider → page pool (extraction, Clean → Sanitize → Canonicalize; crawler/pagepool.py) →
# the item pipeline below (its store work on the crawl's writer thread, crawler/writer.py) → store
ITEM_PIPELINES = {
    "crawler.pipelines.DeduplicatePipeline": 400,
    "crawler.pipelines.StorePipeline": 500,  # right after Deduplicate: its write runs in the check's job
}
# The page pool and the store writer are awaited as asyncio futures (Scrapy's default reactor, stated here).
TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
DOWNLOADER = "crawler.scrapy_shim.SlotKeepingDownloader"  # CONCURRENT_REQUESTS_PER_DOMAIN kept under asyncio (see there)
EXTENSIONS = {
    "scrapy.extensions.logstats.LogStats": None,  # refeed's own progress line replaces it
    "scrapy.extensions.throttle.AutoThrottle": None,
    "crawler.throttle.AutoThrottle": 0,  # the same, but a 304 counts as a normal answer
    "crawler.progress.Progress": 500,
}
LOG_LEVEL = os.environ.get("REFEED_LOG_LEVEL", "INFO")
LOG_FORMATTER = "crawler.logformatter.LogFormatter"  # a dropped duplicate is one short DEBUG line

# -- refeed
REFEED_STORE_URL = os.environ.get("REFEED_STORE_URL", "sqlite:///data/refeed.sqlite3")
REFEED_BATCH_ITEMS = 50  # store commits at most this many articles at once…
REFEED_BATCH_SECONDS = 1.0  # …or this much work, whichever comes first
REFEED_MAX_ARTICLE_CHARS = 200_000  # article text beyond this is cut at a block boundary (and logged)
REFEED_RECHECK_HOURS = 48.0  # stored articles first seen this recently are asked again (conditionally) for corrections


def _environ(name: str, default: str, parse):
    """An environment setting, or one line naming it and what is wrong (exit 2, as for refeed.toml)."""
    value = os.environ.get(name, default)
    try:
        return parse(value.strip().lower())
    except ValueError:
        from crawler.config import ConfigError

        raise ConfigError(f"environment: {name}={value!r}: {parse.__doc__}") from None


def _switch(value: str) -> bool:
    """expected 1/0, true/false, yes/no or on/off"""
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(value)


def _count(value: str) -> int:
    """expected a whole number of at least 1"""
    if not value.isdigit() or int(value) < 1:
        raise ValueError(value)
    return int(value)


def _seconds(value: str) -> float:
    """expected a number of seconds, 0 or more"""
    seconds = float(value)
    if not 0 <= seconds < 86_400:  # also refuses nan and inf
        raise ValueError(value)
    return seconds


# Seconds between progress lines on stderr (each with the pages requested against the source's max_pages); 0: none.
REFEED_PROGRESS_INTERVAL = _environ("REFEED_PROGRESS_INTERVAL", "2", _seconds)
# Extraction and cleaning of article pages in a pool of processes beside the reactor (crawler/pagepool.py), on
# machines with a core to spare; REFEED_PAGE_WORKER=0 keeps them in the crawler's process.
REFEED_PAGE_WORKER = _environ("REFEED_PAGE_WORKER", "1" if (os.cpu_count() or 1) > 1 else "0", _switch)
# Processes of the page pool: one core is the reactor's (fetching, and the store's thread), the others the pool's.
REFEED_PAGE_PROCESSES = _environ("REFEED_PAGE_PROCESSES", str(max(1, (os.cpu_count() or 1) - 1)), _count)
REFEED_REDIS_URL = ""  # set (crawl.redis_url): distributed mode, see crawler/addons.py
REFEED_REDIS_PREFIX = "refeed"  # crawl.redis_prefix: every Redis key starts with it

FEED_EXPORT_ENCODING = "utf-8"


def from_config(config) -> dict:
    """The settings a refeed.toml gives (crawl.*, store.url) on top of the defaults above."""
    return {
        "USER_AGENT": config.crawl.user_agent,
        "ROBOTSTXT_OBEY": config.crawl.obey_robots,
        "CONCURRENT_REQUESTS": config.crawl.concurrency,
        "CONCURRENT_REQUESTS_PER_DOMAIN": max(1, min(config.crawl.concurrency, CONCURRENT_REQUESTS_PER_DOMAIN)),
        "REFEED_STORE_URL": config.store_url,
        "REFEED_RECHECK_HOURS": config.crawl.recheck_hours,
        "DOWNLOAD_TIMEOUT": config.crawl.download_timeout,
        "REFEED_REDIS_URL": config.crawl.redis_url,
        "REFEED_REDIS_PREFIX": config.crawl.redis_prefix,
    }
