"""Distributed mode on scrapy-redis: per-source shared queues, rounds, busy workers and heartbeats in Redis."""

from __future__ import annotations

import base64
import json
import logging
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass

import redis
from scrapy import signals
from scrapy.exceptions import DontCloseSpider, NotConfigured
from scrapy_redis.dupefilter import RFPDupeFilter
from scrapy_redis.queue import PriorityQueue
from scrapy_redis.scheduler import Scheduler

__all__ = [
    "Coordinator",
    "Keys",
    "RoundDupeFilter",
    "RoundScheduler",
    "RoundStart",
    "Worker",
    "dumps",
    "loads",
    "require_shared_store",
]

logger = logging.getLogger(__name__)

TICK = 0.2  # seconds between a worker's looks at the shared queue when it has room
HEARTBEAT = 1.0  # seconds between a worker's heartbeats
HEARTBEAT_TTL = 10  # a worker silent this long is dead: its pages in flight are given up (the next round finds them)
STATS_TTL = 7 * 24 * 3600  # a round's figures stay this long in Redis


@dataclass(frozen=True)
class Keys:
    """Every Redis key of one installation (`prefix`) and source: sources never share a queue, even with one spider."""

    prefix: str
    source: str

    @property
    def base(self) -> str:
        return f"{self.prefix}:source:{self.source}"

    @property
    def requests(self) -> str:  # sorted set: the source's pending requests (scrapy-redis PriorityQueue)
        return f"{self.base}:requests"

    @property
    def seen(self) -> str:  # set: fingerprints of the requests of this round (scrapy-redis RFPDupeFilter)
        return f"{self.base}:seen"

    @property
    def start(self) -> str:  # list: the round's start URLs, not taken yet
        return f"{self.base}:start"

    @property
    def round(self) -> str:  # integer: the current round
        return f"{self.base}:round"

    @property
    def busy(self) -> str:  # hash: worker id → requests it took since it was last idle
        return f"{self.base}:busy"

    def stats(self, round_number: int) -> str:  # hash: the round's crawl figures, summed over workers
        return f"{self.base}:stats:{round_number}"

    @staticmethod
    def workers(prefix: str) -> str:  # set: ids of workers that have beaten once
        return f"{prefix}:workers"

    @staticmethod
    def worker(prefix: str, worker_id: str) -> str:  # string with a TTL: a live worker's heartbeat
        return f"{prefix}:worker:{worker_id}"


def require_shared_store(config) -> None:
    """Distributed mode needs a store every machine reaches and that takes concurrent writers: PostgreSQL."""
    from sqlalchemy.engine import make_url

    from crawler.config import ConfigError

    if make_url(config.store_url).get_backend_name() != "postgresql":
        name = config.path.name if config.path else "configuration"
        raise ConfigError(f'{name}: crawl.redis_url is set: distributed mode needs a shared store (store.url = "postgresql+psycopg://…")')


# -- the request serializer: JSON, not pickle (whoever can write to Redis must not run code in every worker)


def _pack(value):
    if isinstance(value, bytes):
        return {"$b": base64.b64encode(value).decode("ascii")}
    if isinstance(value, dict):
        if all(isinstance(k, str) and not k.startswith("$") for k in value):
            return {k: _pack(v) for k, v in value.items()}
        return {"$d": [[_pack(k), _pack(v)] for k, v in value.items()]}
    if isinstance(value, (list, tuple)):
        return [_pack(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    raise TypeError(f"a request for the shared queue carries a {type(value).__name__}, which JSON cannot hold")


def _unpack(value):
    if isinstance(value, dict):
        if "$b" in value:
            return base64.b64decode(value["$b"])
        if "$d" in value:
            return {_unpack(k): _unpack(v) for k, v in value["$d"]}
        return {k: _unpack(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unpack(v) for v in value]
    return value


def dumps(request_dict: dict) -> bytes:
    """A request (as `Request.to_dict(spider=…)` gives it: callbacks by name) as JSON bytes."""
    return json.dumps(_pack(request_dict), separators=(",", ":")).encode("utf-8")


def loads(data: bytes) -> dict:
    return _unpack(json.loads(data))


class _Serializer:
    dumps = staticmethod(dumps)
    loads = staticmethod(loads)


# -- the worker side: a scheduler on the source's shared queue, and an extension that keeps it alive and reports


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

    def __init__(self):
        self.id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self.started = time.time()
        self.sources: dict[str, dict] = {}
        self.last_beat = 0.0

    def beat(self, server, prefix: str, force: bool = False) -> None:
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

    def __init__(self, server, prefix: str = "refeed", **kwargs):
        super().__init__(server, persist=True, **kwargs)
        self.prefix = prefix
        self.keys: Keys | None = None
        self.round: int | None = None
        self.taken = 0  # requests taken from Redis since this worker last reported itself idle for the source
        self._take = server.register_script(_TAKE)

    @classmethod
    def from_settings(cls, settings):
        server = redis.Redis.from_url(settings.get("REDIS_URL"), socket_timeout=30, socket_connect_timeout=30, retry_on_timeout=True)
        server.ping()
        return cls(server, prefix=settings.get("REFEED_REDIS_PREFIX") or "refeed", serializer=_Serializer)

    @classmethod
    def from_crawler(cls, crawler):
        scheduler = cls.from_settings(crawler.settings)
        scheduler.stats = crawler.stats
        crawler.refeed_scheduler = scheduler
        return scheduler

    def open(self, spider):
        self.spider = spider
        self.keys = Keys(self.prefix, spider.source.name)
        self.queue = PriorityQueue(server=self.server, spider=spider, key=self.keys.requests, serializer=self.serializer)
        self.df = RoundDupeFilter(self.server, key=self.keys.seen, debug=spider.settings.getbool("DUPEFILTER_DEBUG"))
        pending = len(self.queue) + self.server.llen(self.keys.start)
        if pending:
            logger.info("%s: joining a round with %d requests queued", spider.source.name, pending)

    def close(self, reason):
        pass  # the queue and the seen set are shared: other workers go on with them

    def enqueue_request(self, request):
        if not request.dont_filter and self.df.request_seen(request):
            self.df.log(request, self.spider)
            return False
        if self.stats:
            self.stats.inc_value("scheduler/enqueued/redis")
        self.queue.push(request)
        return True

    def next_request(self):
        worker = identity().id
        kind, data, round_number = self._take(keys=[self.keys.start, self.keys.requests, self.keys.busy, self.keys.round], args=[worker])
        self._observe(int(round_number))
        if kind == b"none":
            return None
        self.taken += 1
        if self.stats:
            self.stats.inc_value("scheduler/dequeued/redis")
        if kind == b"start":
            return self.spider.start_request(data.decode("utf-8"))
        return self.queue._decode_request(data)

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

    async def process_start(self, start):
        return
        yield  # an async generator that yields nothing


class Worker:
    """Extension of a distributed crawler: keeps the spider open while idle, looks at the shared queue every TICK,
    and, once nothing is in flight locally, commits the store batch, adds its figures to the round's and reports
    itself idle for the source; beats its heartbeat meanwhile."""

    def __init__(self, crawler):
        self.crawler = crawler
        self.prefix = crawler.settings.get("REFEED_REDIS_PREFIX") or "refeed"
        self.flushed: dict[str, int] = {}
        self._timer = None

    @classmethod
    def from_crawler(cls, crawler):
        if not crawler.settings.get("REFEED_REDIS_URL"):
            raise NotConfigured
        worker = cls(crawler)
        crawler.signals.connect(worker.opened, signal=signals.spider_opened)
        crawler.signals.connect(worker.idle, signal=signals.spider_idle)
        crawler.signals.connect(worker.closed, signal=signals.spider_closed)
        return worker

    @property
    def scheduler(self) -> RoundScheduler:
        return self.crawler.refeed_scheduler

    def opened(self, spider):
        from twisted.internet import task

        self.source = spider.source.name
        identity().sources[self.source] = {"busy": False, "pages": 0}
        self.tick()
        self._timer = task.LoopingCall(self.tick)
        self._timer.start(TICK, now=False)
        logger.info("%s: worker %s waiting for rounds", self.source, identity().id)

    def idle(self, spider):
        raise DontCloseSpider  # a worker waits for the next round

    def closed(self, spider, reason):
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
        engine = self.crawler.engine
        slot = getattr(engine, "_slot", None)
        if slot is None or slot.closing:
            return
        scheduler = self.scheduler
        local_idle = not slot.inprogress and not engine.downloader.active and engine.scraper.slot.is_idle()
        state = identity().sources.get(self.source, {})
        state["pages"] = self.crawler.stats.get_value("response_received_count", 0)
        if local_idle and scheduler.taken:
            self._flush_stats()
            scheduler.server.hset(scheduler.keys.busy, identity().id, 0)
            scheduler.taken = 0
        state["busy"] = not local_idle
        identity().beat(scheduler.server, self.prefix)
        if not engine.needs_backout():
            slot.nextcall.schedule()  # Scrapy itself looks again only every 5 s when idle

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


# -- the scheduling side: seeds rounds, knows when they are drained, shows workers and queues


class Coordinator:
    """What `once`, `run` and `status` do with Redis: start a round, wait until it is drained, list workers."""

    def __init__(self, url: str, prefix: str = "refeed"):
        self.server = redis.Redis.from_url(url, socket_timeout=30, socket_connect_timeout=10, retry_on_timeout=True)
        self.prefix = prefix

    @classmethod
    def for_config(cls, config) -> Coordinator:
        """Connected, or a one-line error naming the setting."""
        from crawler.config import ConfigError

        coordinator = cls(config.crawl.redis_url, config.crawl.redis_prefix)
        try:
            coordinator.server.ping()
        except redis.RedisError as exc:
            name = config.path.name if config.path else "configuration"
            raise ConfigError(f'{name}: crawl.redis_url "{config.crawl.redis_url}": cannot reach Redis ({exc})') from None
        return coordinator

    def close(self) -> None:
        self.server.close()

    def keys(self, source: str) -> Keys:
        return Keys(self.prefix, source)

    def start_round(self, source: str, urls: list[str]) -> int:
        """A new round of a source: a fresh seen set, an empty queue (what a stopped round left is dropped), its start URLs."""
        keys = self.keys(source)
        with self.server.pipeline(transaction=True) as pipe:
            pipe.incr(keys.round)
            pipe.delete(keys.seen, keys.start, keys.requests)
            if urls:
                pipe.rpush(keys.start, *urls)
            round_number = pipe.execute()[0]
        return int(round_number)

    def stop_round(self, source: str) -> None:
        """Drop what is left of a round (its time budget is spent); pages in flight finish on their workers."""
        keys = self.keys(source)
        self.server.delete(keys.start, keys.requests)

    def drained(self, source: str) -> bool:
        """Nothing queued, no start URL left, and no live worker busy with the source."""
        keys = self.keys(source)
        with self.server.pipeline(transaction=True) as pipe:
            pipe.llen(keys.start)
            pipe.zcard(keys.requests)
            pipe.hgetall(keys.busy)
            start, queued, busy = pipe.execute()
        if start or queued:
            return False
        for worker, taken in busy.items():
            if int(taken) and not self._alive(worker.decode()):
                logger.warning("%s: worker %s stopped beating; its pages in flight are left to the next round", source, worker.decode())
                self.server.hdel(keys.busy, worker)
            elif int(taken):
                return False
        return True

    def _alive(self, worker_id: str) -> bool:
        return bool(self.server.exists(Keys.worker(self.prefix, worker_id)))

    def wait(self, source: str, timeout: float, stop: threading.Event | None = None, poll: float = 0.2) -> bool:
        """Block until the source's round is drained (True), or `timeout` seconds or `stop` (False)."""
        deadline = time.monotonic() + timeout
        warned = time.monotonic()
        while time.monotonic() < deadline:
            if self.drained(source):
                return True
            if stop is not None and stop.is_set():
                return False
            if time.monotonic() - warned > 30 and not self.workers():
                logger.warning("%s: no worker is running: start one with `scheduler.py worker`", source)
                warned = time.monotonic()
            time.sleep(poll)
        return False

    def round_stats(self, source: str, round_number: int) -> dict:
        raw = self.server.hgetall(self.keys(source).stats(round_number))
        return {k.decode(): int(v) for k, v in raw.items()}

    def workers(self) -> list[dict]:
        """Live workers (their last heartbeat), oldest first; the dead are forgotten."""
        found = []
        for worker_id in sorted(self.server.smembers(Keys.workers(self.prefix))):
            state = self.server.get(Keys.worker(self.prefix, worker_id.decode()))
            if state is None:
                self.server.srem(Keys.workers(self.prefix), worker_id)
                continue
            found.append(json.loads(state))
        return sorted(found, key=lambda w: w["started"])

    def queue(self, source: str) -> dict:
        keys = self.keys(source)
        with self.server.pipeline(transaction=True) as pipe:
            pipe.get(keys.round)
            pipe.llen(keys.start)
            pipe.zcard(keys.requests)
            pipe.hgetall(keys.busy)
            round_number, start, queued, busy = pipe.execute()
        return {
            "round": int(round_number or 0),
            "start": start,
            "queued": queued,
            "busy": sorted(w.decode() for w, n in busy.items() if int(n)),
        }


def crawl_rounds(config, sources, store, stop: threading.Event | None = None) -> list:
    """One round of each source on the workers: seeded, waited for until drained, judged and recorded like a crawl."""
    from crawler.locks import SourceLock
    from crawler.progress import counts
    from crawler.run import HEALTHY, OUTCOMES, SourceRun, judge, seen

    require_shared_store(config)
    coordinator = Coordinator.for_config(config)
    results, running, locks = [], [], []
    try:
        for source in sources:
            lock = SourceLock(config.store_url, source.name)
            if not lock.acquire():
                logger.warning("%s: %s (held by %s)", source.name, OUTCOMES["locked"], lock.holder())
                results.append(SourceRun(source=source.name, outcome="locked", seconds=0.0, message=f"held by {lock.holder()}"))
                continue
            locks.append(lock)
            run_id = store.start_run(source.name)
            round_number = coordinator.start_round(source.name, list(source.start_urls))
            logger.info("%s: round %d seeded (%d start URLs); waiting for the workers", source.name, round_number, len(source.start_urls))
            running.append((source, run_id, round_number, time.monotonic()))
        deadline = time.monotonic() + config.crawl.run_timeout
        for source, run_id, round_number, started in running:
            drained = coordinator.wait(source.name, max(0.0, deadline - time.monotonic()), stop)
            if not drained:
                coordinator.stop_round(source.name)
            stats = coordinator.round_stats(source.name, round_number)
            stats["finish_reason"] = "finished" if drained else ("shutdown" if stop is not None and stop.is_set() else "closespider_timeout")
            figures = counts(stats)
            outcome, message = judge(stats, figures, store.recent_runs(source.name, limit=6)[1:])
            if outcome not in HEALTHY:
                logger.error("%s: %s: %s", source.name, outcome, message)
            keep = ("pages", "new", "duplicates", "skipped", "errors")
            store.finish_run(run_id, outcome=outcome, message=message, seen=seen(figures), **{k: figures[k] for k in keep})
            results.append(SourceRun(source=source.name, outcome=outcome, seconds=time.monotonic() - started, message=message, **figures))
    finally:
        for lock in locks:
            lock.release()
        coordinator.close()
    return results
