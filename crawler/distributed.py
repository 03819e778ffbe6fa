"""Distributed mode, the worker side on scrapy-redis: each source's shared queue, its rounds, busy workers and heartbeats."""

from __future__ import annotations

import json
import logging
import os
import socket
import time
import uuid
from typing import TYPE_CHECKING, Any

import redis
from scrapy import Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DontCloseSpider, NotConfigured
from scrapy.http import Request
from scrapy.settings import BaseSettings
from scrapy.utils.request import request_from_dict
from scrapy_redis.dupefilter import RFPDupeFilter
from scrapy_redis.queue import PriorityQueue
from scrapy_redis.scheduler import Scheduler
from twisted.internet import task

from crawler import scrapy_shim
from crawler.redis_layout import HEARTBEAT_TTL, STATS_TTL, Keys, RequestJSON, loads

if TYPE_CHECKING:
    from crawler.spiders.base import ArticleSpider

__all__ = ["RoundDupeFilter", "RoundScheduler", "RoundStart", "Worker"]

logger = logging.getLogger(__name__)

TICK = 0.2  # seconds between a worker's looks at the shared queue when it has room
HEARTBEAT = 1.0  # seconds between a worker's heartbeats


# Take the next piece of work of a source: a start URL of the round first, else the best request; mark the worker busy
# in the same step, so that "queue empty and nobody busy" is never true while a page is between Redis and a worker.
_TAKE = """
local round = redis.call('GET', KEYS[4]) or '0'
local url = redis.call('LPOP', KEYS[1])
if url then
  redis.call('HINCRBY', KEYS[3], ARGV[1], 1)
  return {'start', url, round}
end
local found = redis.call('ZRANGE', KEYS[2], 0, 0)
if found[1] then
  redis.call('ZREMRANGEBYRANK', KEYS[2], 0, 0)
  redis.call('HINCRBY', KEYS[3], ARGV[1], 1)
  return {'request', found[1], round}
end
return {'none', '', round}
"""


class _Identity:
    """This process as a worker: one id, and what each of its crawlers reports."""

    def __init__(self) -> None:
        self.id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self.started = time.time()
        self.sources: dict[str, dict[str, Any]] = {}
        self.last_beat = 0.0

    def beat(self, server: redis.Redis, prefix: str, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self.last_beat < HEARTBEAT:
            return
        self.last_beat = now
        state = {"id": self.id, "host": self.host, "pid": self.pid, "started": self.started, "sources": self.sources}
        with server.pipeline() as pipe:
            pipe.set(Keys.worker(prefix, self.id), json.dumps(state), ex=HEARTBEAT_TTL)
            pipe.sadd(Keys.workers(prefix), self.id)
            pipe.execute()


_identity: _Identity | None = None


def identity() -> _Identity:
    global _identity
    if _identity is None or _identity.pid != os.getpid():
        _identity = _Identity()
    return _identity


class RoundDupeFilter(RFPDupeFilter):
    """scrapy-redis's fingerprint set, per source and per round: emptied when a round starts, never on close.

    So an article is fetched once per round across every worker, and the next round may ask it again
    (conditionally) or fetch what a killed worker lost.
    """

    def close(self, reason: str = "") -> None:
        pass


class RoundScheduler(Scheduler):
    """scrapy-redis's scheduler on the source's own keys (`spider.source.name`, not the spider class's name).

    It hands out the round's start URLs (as the spider's own start requests) before queued requests, and
    tells the spider when a new round begins, so that its per-run memory and page budget start afresh.
    """

    def __init__(self, server: redis.Redis, prefix: str = "refeed", **kwargs: Any):
        super().__init__(server, persist=True, **kwargs)
        self.prefix = prefix
        self.round: int | None = None
        self.taken = 0  # requests taken from Redis since this worker last reported itself idle for the source
        self._take = server.register_script(_TAKE)

    @classmethod
    def from_settings(cls, settings: BaseSettings) -> RoundScheduler:
        server = redis.Redis.from_url(settings.get("REDIS_URL"), socket_timeout=30, socket_connect_timeout=30, retry_on_timeout=True)
        server.ping()
        return cls(server, prefix=settings.get("REFEED_REDIS_PREFIX") or "refeed", serializer=RequestJSON)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RoundScheduler:
        scheduler = cls.from_settings(crawler.settings)
        scheduler.stats = crawler.stats
        return scheduler

    keys: Keys  # the source's, once open
    spider: ArticleSpider

    def open(self, spider: ArticleSpider) -> None:
        self.spider = spider
        self.keys = Keys(self.prefix, spider.source.name)
        self.queue = PriorityQueue(server=self.server, spider=spider, key=self.keys.requests, serializer=self.serializer)
        self.df = RoundDupeFilter(self.server, key=self.keys.seen, debug=spider.settings.getbool("DUPEFILTER_DEBUG"))
        pending = len(self.queue) + self.server.llen(self.keys.start)
        if pending:
            logger.info("%s: joining a round with %d requests queued", spider.source.name, pending)

    def close(self, reason: str) -> None:
        pass  # the queue and the seen set are shared: other workers go on with them

    def enqueue_request(self, request: Request) -> bool:
        if not request.dont_filter and self.df.request_seen(request):
            self.df.log(request, self.spider)
            return False
        if self.stats:
            self.stats.inc_value("scheduler/enqueued/redis")
        self.queue.push(request)
        return True

    def next_request(self) -> Request | None:
        keys = self.keys
        kind, data, round_number = self._take(keys=[keys.start, keys.requests, keys.busy, keys.round], args=[identity().id])
        self._observe(int(round_number))
        if kind == b"none":
            return None
        self.taken += 1
        if self.stats:
            self.stats.inc_value("scheduler/dequeued/redis")
        if kind == b"start":
            return self.spider.start_request(data.decode("utf-8"))
        return request_from_dict(loads(data), spider=self.spider)

    def _observe(self, round_number: int) -> None:
        if round_number == self.round:
            return
        if self.round is not None:
            logger.info("%s: round %d begins", self.spider.source.name, round_number)
        self.round = round_number
        self.spider.begin_round()


class RoundStart:
    """Spider middleware: in distributed mode a round's start URLs come from Redis (seeded by `once`/`run`),
    so the spider's own start() feeds nothing when a worker starts."""

    async def process_start(self, start: Any) -> Any:
        return
        yield  # an async generator that yields nothing


class Worker:
    """Extension of a distributed crawler: keeps the spider open while idle, looks at the shared queue every TICK,
    and, once nothing is in flight locally, commits the store batch, adds its figures to the round's and reports
    itself idle for the source; beats its heartbeat meanwhile."""

    def __init__(self, crawler: Crawler):
        self.crawler = crawler
        self.prefix = crawler.settings.get("REFEED_REDIS_PREFIX") or "refeed"
        self.flushed: dict[str, int] = {}
        self.source = ""
        self._scheduler: RoundScheduler | None = None
        self._timer: task.LoopingCall | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Worker:
        if not crawler.settings.get("REFEED_REDIS_URL"):
            raise NotConfigured
        worker = cls(crawler)
        crawler.signals.connect(worker.opened, signal=signals.spider_opened)
        crawler.signals.connect(worker.idle, signal=signals.spider_idle)
        crawler.signals.connect(worker.closed, signal=signals.spider_closed)
        return worker

    @property
    def scheduler(self) -> RoundScheduler:
        """The crawler's scheduler (Scrapy's public `engine.scheduler`), taken when the spider opened."""
        assert self._scheduler is not None, "the spider is not open"
        return self._scheduler

    def opened(self, spider: ArticleSpider) -> None:
        scheduler = self.crawler.engine.scheduler
        if not isinstance(scheduler, RoundScheduler):
            raise TypeError(f"a distributed worker needs SCHEDULER = {RoundScheduler.__module__}.RoundScheduler, not {type(scheduler).__name__}")
        self._scheduler = scheduler
        self.source = spider.source.name
        identity().sources[self.source] = {"busy": False, "pages": 0}
        self.tick()
        self._timer = task.LoopingCall(self.tick)
        self._timer.start(TICK, now=False)
        logger.info("%s: worker %s waiting for rounds", self.source, identity().id)

    def idle(self, spider: Spider) -> None:
        raise DontCloseSpider  # a worker waits for the next round

    def closed(self, spider: Spider, reason: str) -> None:
        if self._timer is not None and self._timer.running:
            self._timer.stop()
        server = self.scheduler.server
        try:
            self._flush_stats()
            server.hdel(self.scheduler.keys.busy, identity().id)
            identity().sources.pop(self.source, None)
            if not identity().sources:
                server.delete(Keys.worker(self.prefix, identity().id))
                server.srem(Keys.workers(self.prefix), identity().id)
        except redis.RedisError as exc:
            logger.warning("%s: could not sign off from Redis: %s", self.source, exc)

    def tick(self) -> None:
        try:
            self._tick()
        except redis.RedisError as exc:
            logger.warning("%s: Redis: %s", self.source, exc)

    def _tick(self) -> None:
        if scrapy_shim.closing(self.crawler):
            return
        scheduler = self.scheduler
        local_idle = scrapy_shim.locally_idle(self.crawler)
        state = identity().sources.get(self.source, {})
        state["pages"] = self.crawler.stats.get_value("response_received_count", 0)
        if local_idle and scheduler.taken:
            self._flush_stats()
            scheduler.server.hset(scheduler.keys.busy, identity().id, 0)
            scheduler.taken = 0
        state["busy"] = not local_idle
        identity().beat(scheduler.server, self.prefix)
        if not self.crawler.engine.needs_backout():
            scrapy_shim.wake(self.crawler)  # an idle engine looks at its scheduler again only every 5 s

    def _flush_stats(self) -> None:
        """Add what this crawler counted since the last flush to the current round's figures in Redis."""
        scheduler = self.scheduler
        if scheduler.round is None:
            return
        current = {k: v for k, v in self.crawler.stats.get_stats().items() if isinstance(v, int) and not isinstance(v, bool)}
        delta = {k: v - self.flushed.get(k, 0) for k, v in current.items() if v != self.flushed.get(k, 0)}
        if not delta:
            return
        key = scheduler.keys.stats(scheduler.round)
        with scheduler.server.pipeline() as pipe:
            for name, value in delta.items():
                pipe.hincrby(key, name, value)
            pipe.expire(key, STATS_TTL)
            pipe.execute()
        self.flushed = current
