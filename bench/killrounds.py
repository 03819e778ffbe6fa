"""Distributed workers SIGKILLed mid-round, trial after trial: stories lost or stored twice against the site's own.

Each trial: a fresh PostgreSQL store and Redis queue, `--workers` worker processes on the sample site (generic
spider), one `once` during which one worker chosen at random is SIGKILLed (and replaced) after a random number of
article pages were downloaded, then `--follow-ups` plain `once`. The store's stories are then matched with the
site's articles by URL: lost (no story), duplicated (more than one), stray (a story that is no article of the site).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

from bench.machine import machine
from crawler.demo.cluster import SCHEDULER, Workers, after_articles, article_gets, generic_config, killed_round, sample_copy
from crawler.demo.server import SampleSiteServer
from crawler.demo.site import generate

POSTGRES = os.environ.get("REFEED_BENCH_POSTGRES", "host=127.0.0.1 port=5432 user=postgres dbname=test")
REDIS = os.environ.get("REFEED_BENCH_REDIS", "redis://127.0.0.1:6379/0")


@contextmanager
def scratch_store():
    """A new PostgreSQL database (its SQLAlchemy URL) and a Redis key prefix, both gone afterwards."""
    import psycopg
    import redis

    name = f"refeed_bench_{uuid.uuid4().hex[:10]}"
    prefix = f"refeed-bench-{uuid.uuid4().hex[:10]}"
    admin = psycopg.connect(POSTGRES, autocommit=True)
    client = redis.Redis.from_url(REDIS)
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://{admin.info.user}@{admin.info.host}:{admin.info.port}/{name}", client, prefix
    finally:
        client.delete(*client.keys(f"{prefix}:*") or ["-"])
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def tally(directory: Path, truth: set[str]) -> dict:
    """Stories lost, duplicated and stray: the store's export matched with the site's article URLs."""
    done = subprocess.run([sys.executable, str(SCHEDULER), "export"], cwd=directory, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        sys.exit(f"export failed: {done.stderr[-2000:]}")
    stories = [json.loads(line) for line in done.stdout.splitlines()]
    found = {url: 0 for url in truth}
    stray = 0
    for story in stories:
        matched = truth.intersection(story["urls"])
        stray += not matched
        for url in matched:
            found[url] += 1
    return {"stories": len(stories), "lost": sum(n == 0 for n in found.values()), "duplicated": sum(n > 1 for n in found.values()), "stray": stray}


def trial(site, rng: random.Random, workers_count: int, follow_ups: int) -> dict:
    """One killed round and its follow-ups on a fresh store: what the kill took, and what is still lost after."""
    articles = len(site.stories())
    with scratch_store() as (store_url, client, prefix), SampleSiteServer(site) as server, tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        generic_config(directory, server.url, store_url, REDIS, prefix)
        truth = {server.base + a.path for a in site.stories()}
        workers = Workers(directory, workers_count, prefix, client)
        try:
            workers.wait_ready(workers_count)
            point, victim = rng.randrange(1, max(2, articles * 9 // 10)), rng.randrange(workers_count)
            started = time.monotonic()
            code, stderr, mid_round = killed_round(workers, server.requests, after_articles(point), [victim])
            if code not in (0, 1):
                sys.exit(f"once failed ({code}): {stderr[-2000:]}")
            fetched = sum(article_gets(server.requests).values())
            after_kill = tally(directory, truth)
            for _ in range(follow_ups):
                done = subprocess.run([sys.executable, str(SCHEDULER), "once"], cwd=directory, capture_output=True, text=True, timeout=300)
                if done.returncode not in (0, 1):
                    sys.exit(f"follow-up once failed ({done.returncode}): {done.stderr[-2000:]}")
            seconds = time.monotonic() - started
            final = tally(directory, truth)
        finally:
            workers.stop()
    return {"point": point, "mid_round": mid_round, "fetched": fetched, "missing_after_kill": after_kill["lost"], "seconds": seconds, **final}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=20, help="trials, each a fresh store with one killed round")
    parser.add_argument("--stories", type=int, default=80, help="articles of the sample site (its newest, no republished copies)")
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--follow-ups", type=int, default=1, help="plain rounds after the killed one")
    parser.add_argument("--seed", type=int, default=15)
    args = parser.parse_args()
    site = sample_copy(generate(), args.stories)
    rng = random.Random(args.seed)
    print(f"machine: {machine()}")
    print(f"site: {len(site.stories())} articles; {args.workers} workers (generic spider, PostgreSQL + Redis); "
          f"each trial kills one worker after a random number of article downloads, then {args.follow_ups} plain round(s)")
    print(f"{'trial':>5} {'kill after':>10} {'mid-round':>9} {'fetched':>7} {'missing':>7} {'lost':>5} {'dup':>4} {'stray':>5} {'seconds':>7}")
    results = []
    for n in range(1, args.rounds + 1):
        r = trial(site, rng, args.workers, args.follow_ups)
        results.append(r)
        print(f"{n:>5} {r['point']:>10} {'yes' if r['mid_round'] else 'no':>9} {r['fetched']:>7} {r['missing_after_kill']:>7} "
              f"{r['lost']:>5} {r['duplicated']:>4} {r['stray']:>5} {r['seconds']:>7.1f}", flush=True)
    killed = [r for r in results if r["mid_round"]]
    print(f"{len(results)} trials, {len(killed)} with the kill mid-round; stories missing right after the killed round: "
          f"{sum(r['missing_after_kill'] for r in results)} (in {sum(r['missing_after_kill'] > 0 for r in results)} trials); "
          f"after {args.follow_ups} more round(s): lost {sum(r['lost'] for r in results)}, duplicated {sum(r['duplicated'] for r in results)}, "
          f"stray {sum(r['stray'] for r in results)} (trials with a loss: {sum(r['lost'] > 0 for r in results)})")


if __name__ == "__main__":
    main()
