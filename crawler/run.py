"""One crawl of some sources in this process, judged by its stats and recorded in the run history."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from scrapy.crawler import CrawlerProcess
from scrapy.settings import Settings

from crawler import settings as default_settings
from crawler.config import Config, ConfigError, SourceConfig
from crawler.progress import counts
from crawler.spiders.limitedtimes import LimitedTimesSpider
from crawler.store import Store

__all__ = ["SourceRun", "crawl", "spider_class", "scrapy_settings"]

logger = logging.getLogger(__name__)

SPIDER_CLASSES = {"limitedtimes": LimitedTimesSpider}


def spider_class(source: SourceConfig):
    try:
        return SPIDER_CLASSES[source.spider]
    except KeyError:
        raise ConfigError(f'source "{source.name}": spider "{source.spider}" is not available yet in this version') from None


@dataclass
class SourceRun:
    source: str
    outcome: str  # ok | failed
    seconds: float
    pages: int = 0
    new: int = 0
    updated: int = 0
    duplicates: int = 0
    known: int = 0
    skipped: int = 0
    errors: int = 0
    message: str = ""


def scrapy_settings(config: Config, **overrides) -> Settings:
    settings = Settings()
    settings.setmodule(default_settings, priority="project")
    settings.update(default_settings.from_config(config), priority="cmdline")
    settings.update(overrides, priority="cmdline")
    return settings


def crawl(config: Config, sources: list[SourceConfig], store: Store, **overrides) -> list[SourceRun]:
    """Crawl the sources side by side in one reactor; blocks until all are done. Call once per process."""
    for source in sources:
        spider_class(source)
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    logging.disable(logging.INFO)  # Scrapy's start-up banner
    process = CrawlerProcess(scrapy_settings(config, LOG_INSTALL_ROOT_HANDLER=False, **overrides))
    logging.disable(logging.NOTSET)
    root.setLevel(level)  # Scrapy resets logging; the command line's choice stands
    root.handlers[:] = handlers
    logging.getLogger("scrapy").setLevel(logging.NOTSET)
    started = time.monotonic()
    pending = []
    for source in sources:
        run_id = store.start_run(source.name)
        crawler = process.create_crawler(spider_class(source))
        process.crawl(crawler, source=source)
        pending.append((source, run_id, crawler))
    process.start()
    elapsed = time.monotonic() - started
    results = []
    for source, run_id, crawler in pending:
        stats = crawler.stats.get_stats()
        figures = counts(stats)
        outcome, message = judge(stats, figures)
        store.finish_run(run_id, outcome=outcome, message=message, **{k: figures[k] for k in ("pages", "new", "duplicates", "skipped", "errors")})
        results.append(SourceRun(source=source.name, outcome=outcome, seconds=elapsed, message=message, **figures))
    return results


def judge(stats: dict, figures: dict) -> tuple[str, str]:
    """A run failed when no page came back usable or the crawl did not finish; Scrapy's exit code says neither."""
    reason = stats.get("finish_reason", "unknown")
    good = sum(v for k, v in stats.items() if k.startswith("downloader/response_status_count/2") or k == "downloader/response_status_count/304")
    if reason != "finished":
        return "failed", f"crawl ended: {reason}"
    if not good:
        return "failed", "no page could be fetched"
    if figures["new"] + figures["updated"] + figures["duplicates"] + figures["known"] == 0:
        return "failed", "no article found: has the site changed?"
    return "ok", ""
