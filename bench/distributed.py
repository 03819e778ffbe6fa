"""Articles per second with 1 and 2 distributed workers on a slowed sample site (50 ms per response)."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from bench.machine import machine
from crawler.config import load_config
from crawler.coordinator import Coordinator
from crawler.demo.server import SampleSiteServer
from crawler.demo.site import generate
from crawler.store import Store

ROOT = Path(__file__).resolve().parent.parent

POSTGRES = os.environ.get("REFEED_BENCH_POSTGRES", "host=127.0.0.1 port=5432 user=postgres dbname=test")
REDIS = os.environ.get("REFEED_BENCH_REDIS", "redis://127.0.0.1:6379/0")

CONFIG = """
[store]
url = "{store}"
[output]
dir = "public"
[crawl]
concurrency = 16
redis_url = "{redis}"
redis_prefix = "{prefix}"
[[source]]
name = "lt"
spider = "limitedtimes"
start_urls = ["{url}"]
max_pages = 10000
"""


def one_round(site, workers: int, delay: float) -> dict:
    """A fresh store and queue, `workers` worker processes, one round of the site; seconds from seeding to drained."""
    import psycopg

    name = f"refeed_bench_{uuid.uuid4().hex[:10]}"
    prefix = f"refeed-bench-{uuid.uuid4().hex[:10]}"
    admin = psycopg.connect(POSTGRES, autocommit=True)
    admin.execute(f'CREATE DATABASE "{name}"')
    store_url = f"postgresql+psycopg://{admin.info.user}@{admin.info.host}:{admin.info.port}/{name}"
    processes = []
    try:
        with tempfile.TemporaryDirectory() as tmp, SampleSiteServer(site, delay=delay) as server:
            path = Path(tmp) / "refeed.toml"
            path.write_text(CONFIG.format(store=store_url, redis=REDIS, prefix=prefix, url=server.url), encoding="utf-8")
            config = load_config(str(path))
            Store(store_url).close()
            with open(Path(tmp) / "workers.log", "w") as log:
                for _ in range(workers):
                    processes.append(subprocess.Popen([sys.executable, str(ROOT / "scheduler.py"), "worker"], cwd=tmp, stdout=log, stderr=log))
            coordinator = Coordinator(REDIS, prefix)
            while len(coordinator.workers()) < workers:
                time.sleep(0.1)
            started = time.monotonic()
            coordinator.start_round("lt", [server.url])
            if not coordinator.wait("lt", timeout=1800):
                sys.exit("the round did not drain")
            seconds = time.monotonic() - started
            stats = coordinator.round_stats("lt", 1)
            store = Store(config.store_url)
            articles = store.count_stories()
            store.close()
            for worker in coordinator.workers():
                stats.setdefault("per_worker", []).append(worker["sources"]["lt"]["pages"])
            coordinator.close()
    finally:
        for p in processes:
            p.send_signal(signal.SIGTERM)
        for p in processes:
            p.wait()
        cleanup = Coordinator(REDIS, prefix)
        cleanup.server.delete(*cleanup.server.keys(f"{prefix}:*") or ["-"])
        cleanup.close()
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()
    return {"workers": workers, "seconds": seconds, "articles": articles, "pages": stats.get("response_received_count", 0), "per_worker": stats["per_worker"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--articles", type=int, default=600)
    parser.add_argument("--delay", type=float, default=0.05, help="seconds the site takes for each response")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    site = generate(count=args.articles)
    results = [one_round(site, n, args.delay) for n in args.workers]
    print(f"machine: {machine()}")
    print(f"site: {len(site.articles)} article pages, each response delayed {args.delay * 1000:.0f} ms; PostgreSQL store, Redis queue")
    print(f"{'workers':>7} {'articles':>9} {'pages':>6} {'seconds':>8} {'articles/s':>11} {'speed-up':>9}  pages per worker")
    base = results[0]["articles"] / results[0]["seconds"]
    for r in results:
        rate = r["articles"] / r["seconds"]
        print(f"{r['workers']:>7} {r['articles']:>9} {r['pages']:>6} {r['seconds']:>8.1f} {rate:>11.1f} {rate / base:>8.2f}x  {r['per_worker']}")


if __name__ == "__main__":
    main()
