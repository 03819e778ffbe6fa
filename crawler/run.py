"""One crawl of some sources in this process, judged by its stats and recorded in the run history."""

from __future__ import annotations

import logging

from scrapy.crawler import CrawlerProcess
from scrapy.settings import Settings

from crawler import settings as default_settings
from crawler.config import Config, ConfigError, SourceConfig
from crawler.coordinator import crawl_rounds, require_shared_store
from crawler.deadline import HardDeadline, margin
from crawler.recording import Recorder, Run, SourceRun
from crawler.spiders.feed import FeedSpider
from crawler.spiders.generic import GenericSpider
from crawler.spiders.limitedtimes import LimitedTimesSpider
from crawler.store import Store

__all__ = ["crawl", "scrapy_settings", "spider_class", "work"]

logger = logging.getLogger(__name__)

SPIDER_CLASSES = {"limitedtimes": LimitedTimesSpider, "generic": GenericSpider, "feed": FeedSpider}


def spider_class(source: SourceConfig):
    try:
        return SPIDER_CLASSES[source.spider]
    except KeyError:
        raise ConfigError(f'source "{source.name}": spider "{source.spider}" is not available yet in this version') from None


def scrapy_settings(config: Config, **overrides) -> Settings:
    settings = Settings()
    settings.setmodule(default_settings, priority="project")
    settings.update(default_settings.from_config(config), priority="cmdline")
    settings.update(overrides, priority="cmdline")
    return settings


def crawl(config: Config, sources: list[SourceConfig], store: Store, **overrides) -> list[SourceRun]:
    """Crawl the sources side by side in one reactor; blocks until all are done. Call once per process.

    In distributed mode (crawl.redis_url) the workers crawl: this seeds one round of each source and waits for it.
    """
    for source in sources:
        spider_class(source)
    if config.crawl.redis_url:
        return crawl_rounds(config, sources, store)
    with Recorder(config.store_url, store) as recorder:
        runs = recorder.start(source.name for source in sources)
        if runs:
            _crawl_started(config, {source.name: source for source in sources}, runs, recorder, **overrides)
    return recorder.results


def _process(config: Config, **overrides) -> CrawlerProcess:
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    logging.disable(logging.INFO)  # Scrapy's start-up banner
    process = CrawlerProcess(scrapy_settings(config, LOG_INSTALL_ROOT_HANDLER=False, **overrides))
    logging.disable(logging.NOTSET)
    root.setLevel(level)  # Scrapy resets logging; the command line's choice stands
    root.handlers[:] = handlers
    logging.getLogger("scrapy").setLevel(logging.NOTSET)
    return process


def work(config: Config) -> None:
    """A distributed worker: a crawler per source on the shared queues, crawling rounds until SIGTERM/SIGINT."""
    require_shared_store(config)
    for source in config.sources:
        spider_class(source)
    process = _process(config, REFEED_PROGRESS_INTERVAL=0)  # a worker lives long: its rounds are reported by `once`/`run`
    for source in config.sources:
        process.crawl(process.create_crawler(spider_class(source)), source=source)
    process.start()


def _crawl_started(config: Config, sources: dict[str, SourceConfig], runs: list[Run], recorder: Recorder, **overrides) -> None:
    """The started runs crawled in this process, then judged and recorded (or recorded as timed out if it must end)."""
    process = _process(config, **{"CLOSESPIDER_TIMEOUT": config.crawl.run_timeout, **overrides})
    # CLOSESPIDER_TIMEOUT asks the crawl to stop at run_timeout; the hard deadline ends the process if it cannot
    deadline = config.crawl.run_timeout + margin(config.crawl.run_timeout)

    def timed_out() -> None:
        for run in runs:
            recorder.abandon(run, "timeout", f"ended by the hard deadline, {deadline:.0f} s after it started")

    crawlers = []
    with HardDeadline(deadline, timed_out):
        for run in runs:
            crawler = process.create_crawler(spider_class(sources[run.source]))
            process.crawl(crawler, source=sources[run.source])
            crawlers.append(crawler)
        process.start()
    for run, crawler in zip(runs, crawlers):
        recorder.finish(run, crawler.stats.get_stats())
