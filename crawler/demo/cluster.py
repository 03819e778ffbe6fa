"""Distributed workers on one machine, for tests and benchmarks: started, waited for, SIGKILLed mid-round, replaced."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from crawler.spiders.limitedtimes import ARTICLE_PATH

__all__ = ["Workers", "after_articles", "after_paths", "article_gets", "generic_config", "killed_round", "random_victims", "sample_copy"]

ROOT = Path(__file__).resolve().parent.parent.parent
SCHEDULER = ROOT / "scheduler.py"


def _env() -> dict:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("REFEED_CONFIG", None)
    return env


def generic_config(directory: Path, site_url: str, store_url: str, redis_url: str, prefix: str) -> Path:
    """A refeed.toml in `directory`: the generic spider on the site, distributed on PostgreSQL + Redis."""
    path = directory / "refeed.toml"
    path.write_text(
        f'[store]\nurl = "{store_url}"\n[output]\ndir = "public"\nbase_url = "http://feeds.example.test/"\n'
        f'[crawl]\nconcurrency = 8\nobey_robots = false\nredis_url = "{redis_url}"\nredis_prefix = "{prefix}"\n'
        f'[[source]]\nname = "generic"\nspider = "generic"\nstart_urls = ["{site_url}"]\nmax_pages = 2000\n',
        encoding="utf-8",
    )
    return path


def sample_copy(site, count: int):
    """The `count` newest stories of a sample site, without the republished copies: a smaller site of the same shape."""
    from crawler.demo.site import SampleSite

    return SampleSite(site.seed, [a for a in site.articles if a.republishes is None][:count])


def article_gets(requests) -> Counter:
    """Article pages downloaded in full (200), by path, from a SampleSiteServer's request log."""
    return Counter(path for method, path, status in requests if method == "GET" and status == 200 and ARTICLE_PATH.match(urlsplit(path).path))


def after_paths(count: int, containing: str) -> Callable[[list], bool]:
    """A moment for killed_round: once `count` requested paths contain `containing` ("?page=": listings in flight)."""
    return lambda requests: sum(containing in path for _, path, _ in requests) >= count


def after_articles(count: int) -> Callable[[list], bool]:
    """A moment for killed_round: once `count` article pages have been downloaded (more are in flight)."""
    return lambda requests: sum(article_gets(requests).values()) >= count


class Workers:
    """`scheduler.py worker` processes on a configuration, each logging to its own file."""

    def __init__(self, directory: Path, count: int, prefix: str, client):
        self.directory = directory
        self.prefix = prefix
        self.client = client
        self.logs = [directory / f"worker{n}.log" for n in range(count)]
        self.processes = [self._start(log, "w") for log in self.logs]

    def _start(self, log: Path, mode: str) -> subprocess.Popen:
        with log.open(mode) as out:  # the child keeps its own copy of the descriptor
            return subprocess.Popen([sys.executable, str(SCHEDULER), "worker"], cwd=self.directory, env=_env(), stdout=out, stderr=subprocess.STDOUT)

    def wait_ready(self, count: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while len(self.client.smembers(f"{self.prefix}:workers")) < count:
            assert time.monotonic() < deadline, self.output()
            assert all(p.poll() is None for p in self.processes), self.output()
            time.sleep(0.1)

    def kill(self, index: int, replace: bool = True) -> None:
        """SIGKILL a worker; with `replace`, a new one in its place (as systemd would start one), logging to its file."""
        self.processes[index].kill()
        self.processes[index].wait()
        if replace:
            self.processes[index] = self._start(self.logs[index], "a")

    def output(self) -> str:
        return "\n".join(f"--- {log.name}\n{log.read_text()[-3000:]}" for log in self.logs)

    def stop(self) -> list[int]:
        for p in self.processes:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        codes = []
        for p in self.processes:
            try:
                codes.append(p.wait(timeout=30))
            except subprocess.TimeoutExpired:
                p.kill()
                codes.append(p.wait())
        return codes


def killed_round(workers: Workers, requests: list, ready: Callable[[list], bool], victims: list[int], timeout: float = 180) -> tuple[int, str, bool]:
    """One `once` on the workers' configuration; when `ready(requests so far)` holds, the `victims` are SIGKILLed
    and replaced. (returncode and stderr of the `once`, whether the kill came before the round ended)."""
    once = subprocess.Popen([sys.executable, str(SCHEDULER), "once"], cwd=workers.directory, env=_env(), stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + timeout
    while not ready(list(requests)) and once.poll() is None:
        assert time.monotonic() < deadline, workers.output()
        time.sleep(0.01)
    mid_round = once.poll() is None
    for victim in victims:
        workers.kill(victim)
    _, stderr = once.communicate(timeout=timeout)
    return once.returncode, stderr, mid_round


def random_victims(rng: random.Random, count: int, at_most: int | None = None) -> list[int]:
    """One or more of `count` workers, chosen at random (at most `at_most`)."""
    return rng.sample(range(count), rng.randrange(1, min(count, at_most or count) + 1))
