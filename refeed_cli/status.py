"""`status`: each source's last run, each feed, and in distributed mode the workers and queues."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from crawler.config import load_config
from refeed_cli.steps import EXIT_OK, json_default, open_store

__all__ = ["cmd_status"]


def distributed_status(config) -> dict | None:
    """Workers (live heartbeats) and each source's queue, in distributed mode."""
    if not config.crawl.redis_url:
        return None
    from crawler.coordinator import Coordinator

    coordinator = Coordinator.for_config(config)
    try:
        return {"workers": coordinator.workers(), "queues": {s.name: coordinator.queue(s.name) for s in config.sources}}
    finally:
        coordinator.close()


def cmd_status(args) -> int:
    config = load_config(args.config)
    store = open_store(config)
    try:
        runs = store.last_runs()
        feeds = store.feed_status()
    finally:
        store.close()
    from crawler.runstate import mark_interrupted

    mark_interrupted(config.store_url, runs)  # "running" with nobody holding the source's lock: the process is gone
    distributed = distributed_status(config)
    if args.json:
        print(json.dumps({"sources": runs, "feeds": feeds, **(distributed or {})}, default=json_default, indent=2))
        return EXIT_OK
    print(f"{'source':<20} {'last run (UTC)':<20} {'outcome':<11} {'pages':>6} {'new':>6} {'dup':>6} {'errors':>7}")
    for run in runs:
        started = run["started"].strftime("%Y-%m-%d %H:%M:%S")
        print(f"{run['source']:<20} {started:<20} {run['outcome']:<11} {run['pages']:>6} {run['new']:>6} {run['duplicates']:>6} {run['errors']:>7}")
    for source in config.sources:
        if source.name not in {r["source"] for r in runs}:
            print(f"{source.name:<20} {'never':<20}")
    print()
    print(f"{'feed':<30} {'entries':>8}  {'updated (UTC)':<20}")
    for feed in feeds:
        updated = feed["updated"].strftime("%Y-%m-%d %H:%M:%S") if feed["updated"] else "-"
        print(f"{feed['slug']:<30} {feed['entries']:>8}  {updated:<20}")
    if distributed is not None:
        print()
        print(f"{'worker':<40} {'since (UTC)':<20} {'pages':>7}  busy with")
        for worker in distributed["workers"]:
            since = datetime.fromtimestamp(worker["started"], UTC).strftime("%Y-%m-%d %H:%M:%S")
            pages = sum(s.get("pages", 0) for s in worker["sources"].values())
            busy = ", ".join(name for name, s in sorted(worker["sources"].items()) if s.get("busy")) or "-"
            print(f"{worker['id']:<40} {since:<20} {pages:>7}  {busy}")
        if not distributed["workers"]:
            print("no worker running (start one with `scheduler.py worker`)")
        print()
        print(f"{'queue':<20} {'round':>6} {'start':>6} {'queued':>7}  busy workers")
        for name, queue in distributed["queues"].items():
            print(f"{name:<20} {queue['round']:>6} {queue['start']:>6} {queue['queued']:>7}  {len(queue['busy'])}")
    return EXIT_OK
