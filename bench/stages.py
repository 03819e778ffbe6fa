"""CPU per article of every stage a crawl runs on a page, one after the other in one process: extraction (parse +
the source's parser) and Clean → Sanitize → Canonicalize as the page pool runs them, then Deduplicate and
Store as the item pipeline's writer runs them, then the savepoint and commits around them, on a fresh SQLite
store; and the feed build over what was stored.

    .venv/bin/python -m bench.stages [--articles N] [--runs N]

With the bare fetch's CPU per article from bench/crawl.py (`--fetch-ms`), it prints the best ratio to the bare
spider that this much work allows on this machine's cores: the whole CPU spread perfectly, nothing serial.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import tempfile
import time
from pathlib import Path

from bench.machine import machine

ROOT = Path(__file__).resolve().parent.parent


def pages_of(articles: int) -> list[tuple[str, bytes, str]]:
    """(URL, body, Content-Type) of every article page of an `articles`-article sample site, rendered in memory."""
    from crawler.demo.site import generate

    site = generate(count=articles)
    base = "http://127.0.0.1:8000"
    pages = []
    for article in site.articles:
        status, headers, body = site.render(article.path, base)
        if status == 200:
            pages.append((base + article.path, body, headers["Content-Type"]))
    return pages


def one_run(pages: list[tuple[str, bytes, str]]) -> dict[str, float]:
    """Seconds of CPU (this process's) spent in each stage over all pages, on a fresh store."""
    from scrapy.exceptions import DropItem
    from scrapy.utils.test import get_crawler

    from crawler import settings as crawl_settings
    from crawler.cleaning import NotAnArticle, stages
    from crawler.config import SourceConfig
    from crawler.pagepool import extract_article
    from crawler.parsers import LimitedTimesParser
    from crawler.pipelines import DeduplicatePipeline, StorePipeline
    from crawler.store import Store
    from feeds.build import build_feeds

    clock = time.process_time
    with tempfile.TemporaryDirectory(prefix="refeed-stages-") as tmp:
        url = f"sqlite:///{tmp}/refeed.sqlite3"
        crawler = get_crawler(settings_dict={"REFEED_STORE_URL": url})
        dedup, store = DeduplicatePipeline.from_crawler(crawler), StorePipeline.from_crawler(crawler)
        batch = dedup.batch
        steps = [*((type(s).__name__, s.process_item) for s in stages(crawl_settings.REFEED_MAX_ARTICLE_CHARS)),
                 ("Deduplicate", dedup.deduplicate), ("Store", store.store)]
        parser = LimitedTimesParser(SourceConfig(name="lt", spider="limitedtimes", start_urls=("http://127.0.0.1:8000/",)))
        spent = dict.fromkeys(["extraction", *(name.removesuffix("Pipeline") for name, _ in steps), "savepoint and commit"], 0.0)
        for page_url, body, content_type in pages:
            started = clock()
            _wall, item = extract_article(parser, page_url, body, content_type)
            spent["extraction"] += clock() - started
            started = clock()
            with batch.article():
                inner = 0.0
                try:
                    for name, step in steps:
                        began = clock()
                        item = step(item)
                        took = clock() - began
                        spent[name.removesuffix("Pipeline")] += took
                        inner += took
                except (DropItem, NotAnArticle) as exc:  # a duplicate: its stage's time counts too
                    took = clock() - began
                    spent[name.removesuffix("Pipeline")] += took
                    inner += took
                    logging.getLogger(__name__).debug("dropped: %s", exc)
            spent["savepoint and commit"] += clock() - started - inner
        started = clock()
        batch.close()
        spent["savepoint and commit"] += clock() - started
        store = Store(url)
        started = clock()
        build_feeds(store.articles(), Path(tmp) / "public", "http://feeds.example.test/", max_entries=100)
        spent["feed build"] = clock() - started
        store.close()
    return spent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3, help="runs, each on a fresh store; medians reported (default 3)")
    parser.add_argument("--fetch-ms", type=float, default=1.4,
                        help="the bare spider's CPU per article, from bench/crawl.py (its CPU-s over its articles; default 1.4)")
    args = parser.parse_args()
    pages = pages_of(args.articles)
    one_run(pages[:50])  # imports, caches and compiled statements: what every crawl pays once
    runs = [one_run(pages) for _ in range(args.runs)]
    per_article = {name: statistics.median(run[name] for run in runs) / len(pages) * 1000 for name in runs[0]}
    total = sum(per_article.values())
    print(f"machine: {machine()}")
    print(f"{len(pages)} article pages of the sample site, fresh SQLite store, medians of {args.runs} runs (CPU of this process)")
    print(f"{'stage':<22} {'ms/article':>10} {'share':>6}")
    for name, ms in per_article.items():
        print(f"{name:<22} {ms:>10.2f} {ms / total:>6.0%}")
    print(f"{'all':<22} {total:>10.2f}")
    cores = os.cpu_count() or 1
    print(f"with the bare fetch's {args.fetch_ms:.2f} ms an article, refeed needs at least {args.fetch_ms + total:.2f} ms of CPU an article;"
          f" spread perfectly over {cores} cores, while the bare spider fetches on one, the best ratio is"
          f" {min(1.0, cores * args.fetch_ms / (args.fetch_ms + total)):.2f}")
    budget = cores * args.fetch_ms / 0.7 - args.fetch_ms
    print(f"0.7x would leave {budget:.2f} ms an article for everything but fetching: {budget / total:.0%} of what it costs now")


if __name__ == "__main__":
    main()
