"""One crawl of some sources in this process, judged by its stats and recorded in the run history."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from scrapy.crawler import CrawlerProcess
from scrapy.settings import Settings

from crawler import settings as default_settings
from crawler.config import Config, ConfigError, SourceConfig
from crawler.deadline import HardDeadline, margin
from crawler.locks import SourceLock
from crawler.progress import counts
from crawler.spiders.feed import FeedSpider
from crawler.spiders.generic import GenericSpider
from crawler.spiders.limitedtimes import LimitedTimesSpider
from crawler.store import Store

__all__ = ["OUTCOMES", "SourceRun", "crawl", "judge", "scrapy_settings", "spider_class", "work"]

logger = logging.getLogger(__name__)

SPIDER_CLASSES = {"limitedtimes": LimitedTimesSpider, "generic": GenericSpider, "feed": FeedSpider}


def spider_class(source: SourceConfig):
    try:
        return SPIDER_CLASSES[source.spider]
    except KeyError:
        raise ConfigError(f'source "{source.name}": spider "{source.spider}" is not available yet in this version') from None


@dataclass
class SourceRun:
    source: str
    outcome: str  # see OUTCOMES
    seconds: float
    pages: int = 0
    new: int = 0
    updated: int = 0
    duplicates: int = 0
    known: int = 0
    unchanged: int = 0
    skipped: int = 0
    errors: int = 0
    message: str = ""

    @property
    def healthy(self) -> bool:
        return self.outcome in HEALTHY


OUTCOMES = {
    "ok": "articles found as usual",
    "locked": "another refeed process was crawling this source; skipped",
    "degraded": "far fewer articles than its recent runs: has the site changed?",
    "blocked": "the site answered with a bot wall (403/429 or a challenge page)",
    "timeout": "stopped after its time budget",
    "failed": "nothing usable fetched, or no article found",
    "interrupted": "its process ended without finishing the run (shown by status; never recorded)",
}
HEALTHY = {"ok", "locked"}


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
        from crawler.distributed import crawl_rounds

        return crawl_rounds(config, sources, store)
    results = []
    locks = []
    for source in list(sources):
        lock = SourceLock(config.store_url, source.name)
        if lock.acquire():
            locks.append(lock)
            continue
        logger.warning("%s: %s (held by %s)", source.name, OUTCOMES["locked"], lock.holder())
        results.append(SourceRun(source=source.name, outcome="locked", seconds=0.0, message=f"held by {lock.holder()}"))
        sources = [s for s in sources if s is not source]
    try:
        if sources:
            results += _crawl_unlocked(config, sources, store, **overrides)
    finally:
        for lock in locks:
            lock.release()
    return results


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
    from crawler.distributed import require_shared_store

    require_shared_store(config)
    for source in config.sources:
        spider_class(source)
    process = _process(config, REFEED_PROGRESS_INTERVAL=0)  # a worker lives long: its rounds are reported by `once`/`run`
    for source in config.sources:
        process.crawl(process.create_crawler(spider_class(source)), source=source)
    process.start()


def _crawl_unlocked(config: Config, sources: list[SourceConfig], store: Store, **overrides) -> list[SourceRun]:
    process = _process(config, **{"CLOSESPIDER_TIMEOUT": config.crawl.run_timeout, **overrides})
    started = time.monotonic()
    pending = []
    # CLOSESPIDER_TIMEOUT asks the crawl to stop at run_timeout; the hard deadline ends the process if it cannot
    deadline = config.crawl.run_timeout + margin(config.crawl.run_timeout)

    def timed_out():
        for _source, run_id, _ in pending:
            store.finish_run(run_id, outcome="timeout", message=f"ended by the hard deadline, {deadline:.0f} s after it started")

    with HardDeadline(deadline, timed_out):
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
        outcome, message = judge(stats, figures, store.recent_runs(source.name, limit=6)[1:])
        if outcome not in HEALTHY:
            logger.error("%s: %s: %s", source.name, outcome, message)
        store.finish_run(run_id, outcome=outcome, message=message, seen=seen(figures), **{k: figures[k] for k in ("pages", "new", "duplicates", "skipped", "errors")})
        results.append(SourceRun(source=source.name, outcome=outcome, seconds=elapsed, message=message, **figures))
    return results


def seen(figures: dict) -> int:
    """Articles the run found on the site, whether new or already stored."""
    return sum(figures[k] for k in ("new", "updated", "duplicates", "known", "unchanged"))


BOT_WALL_STATUSES = ("403", "429")


def judge(stats: dict, figures: dict, previous: list[dict] = ()) -> tuple[str, str]:
    """Health of one run from its stats; Scrapy's exit code says nothing of it."""
    reason = stats.get("finish_reason", "unknown")
    statuses = {k.rsplit("/", 1)[1]: v for k, v in stats.items() if k.startswith("downloader/response_status_count/")}
    good = sum(v for k, v in statuses.items() if k.startswith("2") or k == "304") - stats.get("robotstxt/response_count", 0)
    walls = sum(statuses.get(code, 0) for code in BOT_WALL_STATUSES) + stats.get("refeed/bot_wall", 0)
    found = seen(figures)
    if reason == "closespider_timeout":
        return "timeout", f"stopped after its time budget with {found} articles seen"
    if reason != "finished":
        return "failed", f"crawl ended: {reason}"
    if walls and walls >= good:
        return "blocked", f"{walls} pages answered with a bot wall (403/429/challenge)"
    if not good:
        return "failed", "no page could be fetched"
    if found == 0:
        return "failed", "no article found: has the site changed?"
    usual = sorted(r["seen"] for r in previous if r.get("outcome") == "ok" and r.get("seen"))[:5]
    if len(usual) >= 2:
        median = usual[len(usual) // 2]
        if found < median / 2:
            return "degraded", f"{found} articles seen, usually {median}: has the site changed?"
    if walls:
        return "ok", f"{walls} pages answered 403/429"
    return "ok", ""
