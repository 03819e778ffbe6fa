"""Distributed mode switched on by settings alone: REFEED_REDIS_URL set puts every crawler on scrapy-redis."""

from __future__ import annotations

from scrapy.exceptions import NotConfigured

__all__ = ["Distributed"]


class Distributed:
    """A Scrapy add-on: with `REFEED_REDIS_URL` (crawl.redis_url) set, the spiders run unchanged on shared queues.

    - scheduler: scrapy-redis's, on per-source keys (two sources of one spider class never share a queue), handing
      out the round's start URLs that `once`/`run` seed, and never flushing the shared queue when a worker stops;
    - duplicate filter: scrapy-redis's fingerprint set, per source and round: each article is fetched once per round
      across all workers, while start listings bypass it (`dont_filter`) and the next round starts a fresh set;
    - requests travel as JSON with their callbacks by name (`Request.to_dict(spider=…)`), never as pickles;
    - the worker extension keeps idle spiders open, reports busy/idle and figures per round, and beats a heartbeat.
    """

    def update_settings(self, settings) -> None:
        url = settings.get("REFEED_REDIS_URL")
        if not url:
            raise NotConfigured
        settings.set("REDIS_URL", url, priority="addon")
        settings.set("SCHEDULER", "crawler.distributed.RoundScheduler", priority="addon")
        settings.set("DUPEFILTER_CLASS", "crawler.distributed.RoundDupeFilter", priority="addon")
        settings.set("SCHEDULER_PERSIST", True, priority="addon")
        settings.set_in_component_priority_dict("EXTENSIONS", "crawler.distributed.Worker", 600)
        settings.set_in_component_priority_dict("SPIDER_MIDDLEWARES", "crawler.distributed.RoundStart", 10)
