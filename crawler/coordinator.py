"""Distributed mode, the scheduling side: `once`/`run` seed a round into Redis, wait until it is drained, and record it."""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import TYPE_CHECKING, Any

import redis
from sqlalchemy.engine import make_url

from crawler.config import Config, ConfigError, SourceConfig
from crawler.recording import Recorder, SourceRun
from crawler.redis_layout import Keys

if TYPE_CHECKING:
    from crawler.store import Store

__all__ = ["Coordinator", "crawl_rounds", "require_shared_store"]

logger = logging.getLogger(__name__)


def require_shared_store(config: Config) -> None:
    """Distributed mode needs a store every machine reaches and that takes concurrent writers: PostgreSQL."""
    if make_url(config.store_url).get_backend_name() != "postgresql":
        name = config.path.name if config.path else "configuration"
        raise ConfigError(f'{name}: crawl.redis_url is set: distributed mode needs a shared store (store.url = "postgresql+psycopg://…")')


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class Coordinator:
    """What `once`, `run` and `status` do with Redis: start a round, wait until it is drained, list workers."""

    def __init__(self, url: str, prefix: str = "refeed"):
        self.server = redis.Redis.from_url(url, socket_timeout=30, socket_connect_timeout=10, retry_on_timeout=True)
        self.prefix = prefix

    @classmethod
    def for_config(cls, config: Config) -> Coordinator:
        """Connected, or a one-line error naming the setting."""
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
        _, start, queued, busy = self._look(source)
        if start or queued:
            return False
        for worker, taken in busy.items():
            if taken and not self._alive(worker):
                logger.warning("%s: worker %s stopped beating; its pages in flight are left to the next round", source, worker)
                self.server.hdel(self.keys(source).busy, worker)
            elif taken:
                return False
        return True

    def _look(self, source: str) -> tuple[int, int, int, dict[str, int]]:
        """The source's round, start URLs left, requests queued, and requests each worker took (one consistent look)."""
        keys = self.keys(source)
        with self.server.pipeline(transaction=True) as pipe:
            pipe.get(keys.round)
            pipe.llen(keys.start)
            pipe.zcard(keys.requests)
            pipe.hgetall(keys.busy)
            round_number, start, queued, busy = pipe.execute()
        return int(round_number or 0), start, queued, {_text(w): int(n) for w, n in busy.items()}

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

    def round_stats(self, source: str, round_number: int) -> dict[str, Any]:
        raw: dict[bytes, bytes] = self.server.hgetall(self.keys(source).stats(round_number))  # type: ignore[assignment]
        return {_text(k): int(v) for k, v in raw.items()}

    def workers(self) -> list[dict]:
        """Live workers (their last heartbeat), oldest first; the dead are forgotten."""
        found = []
        members: set[bytes] = self.server.smembers(Keys.workers(self.prefix))  # type: ignore[assignment]
        for worker_id in sorted(members):
            state = self.server.get(Keys.worker(self.prefix, _text(worker_id)))
            if state is None:
                self.server.srem(Keys.workers(self.prefix), worker_id)
                continue
            found.append(json.loads(state))
        return sorted(found, key=lambda w: w["started"])

    def queue(self, source: str) -> dict:
        round_number, start, queued, busy = self._look(source)
        return {"round": round_number, "start": start, "queued": queued, "busy": sorted(w for w, n in busy.items() if n)}


def crawl_rounds(config: Config, sources: list[SourceConfig], store: Store, stop: threading.Event | None = None) -> list[SourceRun]:
    """One round of each source on the workers: seeded, waited for until drained, judged and recorded like a crawl."""
    require_shared_store(config)
    coordinator = Coordinator.for_config(config)
    start_urls = {source.name: list(source.start_urls) for source in sources}
    try:
        with Recorder(config.store_url, store) as recorder:
            rounds = {}
            for run in recorder.start(start_urls):
                rounds[run] = coordinator.start_round(run.source, start_urls[run.source])
                logger.info("%s: round %d seeded (%d start URLs); waiting for the workers", run.source, rounds[run], len(start_urls[run.source]))
            deadline = time.monotonic() + config.crawl.run_timeout
            for run, round_number in rounds.items():
                drained = coordinator.wait(run.source, max(0.0, deadline - time.monotonic()), stop)
                if not drained:
                    coordinator.stop_round(run.source)
                stats = coordinator.round_stats(run.source, round_number)
                stats["finish_reason"] = "finished" if drained else ("shutdown" if stop is not None and stop.is_set() else "closespider_timeout")
                recorder.finish(run, stats)
    finally:
        coordinator.close()
    return recorder.results
