"""Link extraction on one huge listing page: the generic spider's work on a page of N links, sorted once.

    .venv/bin/python -m bench.links [--links N] [--runs N] [--profile]

The page has same-site article links, section links, `?page=N` links, a "next" link, off-site and mail
links, in the proportions of a busy aggregator's archive. The goal: 250,000 links in under 2 s.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import statistics
import sys
import time
from pathlib import Path

from bench.machine import machine

ROOT = Path(__file__).resolve().parent.parent

BASE = "http://127.0.0.1:8000/"


def listing_page(links: int) -> bytes:
    """A listing page of `links` links (article, section, paginated, off-site, mail), one per list item."""
    kinds = (
        lambda i: f'<a href="/news/2022-01-{i % 28 + 1:02d}-story-number-{i}.{i:08x}.html">Story {i} about something</a>',
        lambda i: f'<a href="/section-{i % 50}/">Section {i % 50}</a>',
        lambda i: f'<a href="/archive/?page={i}&amp;utm_source=x">{i}</a>',
        lambda i: f'<a href="https://elsewhere.example/{i}">Elsewhere</a>',
        lambda i: f'<a href="mailto:desk{i}@example.com">Mail</a>',
    )
    items = "".join(f"<li>{kinds[i % 5](i)}</li>" for i in range(links - 1))
    return f'<html><body><ul>{items}</ul><a href="/archive/?page=2">Next</a></body></html>'.encode()


def spider():
    from crawler.config import SourceConfig
    from crawler.spiders.generic import GenericSpider

    return GenericSpider(source=SourceConfig(name="bench", spider="generic", start_urls=(BASE,), articles=(r"^/news/\d{4}-",)))


def sort_once(body: bytes) -> tuple[float, float, int, int]:
    """Seconds and CPU seconds to parse the page and sort its links (what a crawl does with a listing), and the
    two counts. CPU seconds say more on a busy machine, where wall time includes waiting for a core."""
    from scrapy.http import HtmlResponse

    response = HtmlResponse(BASE, body=body, encoding="utf-8")
    walker = spider()
    started, cpu = time.perf_counter(), time.process_time()
    articles, listings = walker.sort_links(response)
    return time.perf_counter() - started, time.process_time() - cpu, len(articles), len(listings)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--links", type=int, default=250_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="print the top of a cProfile of one run")
    args = parser.parse_args()
    body = listing_page(args.links)
    print(f"# {machine()}")
    print(f"page: {args.links:,} links, {len(body) / 1e6:.1f} MB")
    if args.profile:
        profile = cProfile.Profile()
        profile.runcall(sort_once, body)
        pstats.Stats(profile).sort_stats("cumulative").print_stats(25)
    times, cpu_times = [], []
    for _ in range(args.runs):
        seconds, cpu, articles, listings = sort_once(body)
        times.append(seconds)
        cpu_times.append(cpu)
    print(
        f"sorted into {articles:,} articles and {listings:,} listings: median {statistics.median(times):.2f} s"
        f" ({statistics.median(cpu_times):.2f} CPU-s) of {args.runs} runs; load average {os.getloadavg()[0]:.1f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
