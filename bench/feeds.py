"""Feed build time: every feed for 100 topics x 100 entries with full content, then after one topic changed."""

from __future__ import annotations

import argparse
import hashlib
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.machine import machine
from crawler.demo.site import generate
from feeds.build import build_feeds

ROOT = Path(__file__).resolve().parent.parent


def articles(topics: int, per_topic: int) -> list[dict]:
    """topics x per_topic stored articles (export keys), each in one topic, with the sample site's full texts."""
    stories = generate(count=200).stories()
    start = datetime(2024, 1, 1, tzinfo=UTC)
    out = []
    for n in range(topics * per_topic):
        story = stories[n % len(stories)]
        paragraphs = [text for kind, text in story.blocks if kind == "p"]
        when = start + timedelta(minutes=n)
        url = f"https://news.example.test/topic-{n % topics}/{n}.html"
        out.append({
            "id": hashlib.sha1(url.encode()).hexdigest()[:16], "url": url, "urls": [url],
            "title": f"{story.title} ({n})", "published": when, "updated": when, "site": "bench",
            "publisher": f"publisher {n % 7}", "authors": ["asc", "dpa"], "topics": [f"topic-{n % topics}"],
            "language": "en", "summary": story.lede,
            "content_html": f'<figure><img src="https://img.example.test/{n}.jpg"></figure>' + "".join(f"<p>{p}</p>" for p in paragraphs),
            "content_text": "\n\n".join(paragraphs), "image": f"https://img.example.test/{n}.jpg", "image_caption": story.caption,
        })
    return out


def timed(items: list[dict], out: Path, max_entries: int):
    started = time.perf_counter()
    state = out.with_name(out.name + ".feeds.json")  # as `build` keeps it beside a SQLite store
    report = build_feeds(items, out, "http://feeds.example.test/", max_entries=max_entries, state_file=state)
    return time.perf_counter() - started, report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--topics", type=int, default=100)
    parser.add_argument("--entries", type=int, default=100, help="entries per topic (and max_entries)")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    items = articles(args.topics, args.entries)
    fulls, ones, nones, written = [], [], [], []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "public"
            seconds, report = timed(items, out, args.entries)
            fulls.append(seconds)
            feeds, size = len(report.feeds), sum(p.stat().st_size for p in out.iterdir())
            nones.append(timed(items, out, args.entries)[0])  # nothing changed
            # one article of one topic corrected: its topic, its publisher's feed and (newest first) maybe "all" change
            changed = [dict(a) for a in items]
            target = changed[len(changed) // 2]
            target["content_html"] += "<p>Correction: an earlier version of this article misstated a figure.</p>"
            target["updated"] = target["updated"] + timedelta(seconds=1)
            seconds, report = timed(changed, out, args.entries)
            ones.append(seconds)
            written.append(report.written)
    full = statistics.median(fulls)
    print(f"machine: {machine()}")
    print(f"{len(items)} articles, {args.topics} topics x {args.entries} entries, {feeds} feeds x 3 formats, {size / 1e6:.0f} MB written")
    print(f"full build:               {full:6.2f} s (median of {args.runs}: {', '.join(f'{s:.2f}' for s in fulls)})")
    print(f"nothing changed:          {statistics.median(nones):6.2f} s ({statistics.median(nones) / full:.1%} of full)")
    print(f"one topic changed:        {statistics.median(ones):6.2f} s ({statistics.median(ones) / full:.1%} of full; goal < 10%)")
    print(f"  files rewritten: {', '.join(sorted(written[-1]))}")


if __name__ == "__main__":
    main()
