"""Deduplication: MinHash vs SimHash on the labelled pairs, then check+insert cost with 1k, 10k and 100k stored articles.

    .venv/bin/python -m bench.dedup [--sizes 1000,10000,100000] [--probe 300]

Part 1 compares the two near-duplicate indexes on tests/dedup_pairs.py: how many true
duplicates each brings up as a candidate, how many different stories it brings up, how
well its estimate alone would decide, index rows per article and signing time.
Part 2 fills a real store (SQLite in a temporary folder, through StorePipeline) with
synthetic articles and, at each size, times `probe` articles (two thirds new, one third
near-duplicates of stored ones) through the real DeduplicatePipeline + StorePipeline;
it prints time per article, store size and the process's resident memory.
"""

from __future__ import annotations

import argparse
import hashlib
import html
import random
import statistics
import struct
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests")]  # the labelled pairs (tests/dedup_pairs.py) are the tests' own

from dedup_pairs import pairs  # noqa: E402
from scrapy.exceptions import DropItem  # noqa: E402
from scrapy.utils.test import get_crawler  # noqa: E402

from bench.machine import machine  # noqa: E402
from crawler.dedup import BANDS, exact_fingerprint, near_signature, shingles, tokens  # noqa: E402
from crawler.items import Article  # noqa: E402
from crawler.pipelines import DeduplicatePipeline, StorePipeline  # noqa: E402
from crawler.store import queries, story_id_for  # noqa: E402


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# -- part 1: which index


def simhash(text: str) -> int:
    """64-bit SimHash of the word 5-shingles (unweighted)."""
    counts = [0] * 64
    for shingle in set(shingles(tokens(text))):
        value = struct.unpack(">Q", hashlib.blake2b(shingle.encode(), digest_size=8).digest())[0]
        for bit in range(64):
            counts[bit] += 1 if value >> bit & 1 else -1
    return sum(1 << bit for bit in range(64) if counts[bit] > 0)


def simhash_bands(value: int, bands: int) -> list[int]:
    width = 64 // bands
    return [value >> (i * width) & ((1 << width) - 1) for i in range(bands)]


def true_jaccard(a: str, b: str) -> float:
    sa, sb = set(shingles(tokens(a))), set(shingles(tokens(b)))
    return len(sa & sb) / len(sa | sb) if sa | sb else 1.0


def compare_methods() -> None:
    labelled = pairs()
    texts = [t for p in labelled for t in (p.first.text, p.second.text)]
    started = time.perf_counter()
    minhashes = [near_signature(t) for t in texts]
    minhash_ms = (time.perf_counter() - started) / len(texts) * 1000
    started = time.perf_counter()
    simhashes = [simhash(t) for t in texts]
    simhash_ms = (time.perf_counter() - started) / len(texts) * 1000

    # The near index's job: duplicates that share at least half their shingles (teasers are found by lead keys).
    near = [(i, p) for i, p in enumerate(labelled) if p.duplicate and true_jaccard(p.first.text, p.second.text) >= 0.5]
    others = [(i, p) for i, p in enumerate(labelled) if not p.duplicate]
    print(f"\n1. near-duplicate index on {len(labelled)} labelled pairs: {len(near)} duplicates with Jaccard >= 0.5, {len(others)} different stories")
    print(f"   {'method':34} {'dups found':>10} {'diff. found':>11} {'rows/article':>12} {'sign ms':>8}  estimate-only verdict")
    for label, candidate, estimate, threshold, index_rows, ms in (
        ("MinHash 128 perm, 32 bands x 4", lambda a, b: any(x == y for x, y in zip(a.bands, b.bands)),
         lambda a, b: a.similarity(b), ("jaccard >=", 0.5), BANDS, minhash_ms),
        ("SimHash 64 bit, 4 bands x 16", lambda a, b: any(x == y for x, y in zip(simhash_bands(a, 4), simhash_bands(b, 4))),
         lambda a, b: 64 - bin(a ^ b).count("1"), ("same bits >=", 58), 4, simhash_ms),
        ("SimHash 64 bit, 8 bands x 8", lambda a, b: any(x == y for x, y in zip(simhash_bands(a, 8), simhash_bands(b, 8))),
         lambda a, b: 64 - bin(a ^ b).count("1"), ("same bits >=", 56), 8, simhash_ms),
    ):
        sigs = minhashes if label.startswith("MinHash") else simhashes

        def pair_sigs(i, sigs=sigs):
            return sigs[2 * i], sigs[2 * i + 1]

        found = sum(1 for i, _ in near if None not in pair_sigs(i) and candidate(*pair_sigs(i)))
        false = sum(1 for i, _ in others if None not in pair_sigs(i) and candidate(*pair_sigs(i)))
        name, cut = threshold
        tp = sum(1 for i, _ in near if None not in pair_sigs(i) and estimate(*pair_sigs(i)) >= cut)
        fp = sum(1 for i, _ in others if None not in pair_sigs(i) and estimate(*pair_sigs(i)) >= cut)
        verdict = f"{name} {cut}: recall {tp / len(near):.2f}, false merges {fp}"
        print(f"   {label:34} {found:>5}/{len(near):<4} {false:>6}/{len(others):<4} {index_rows:>12} {ms:>8.2f}  {verdict}")


# -- part 2: cost with the store's size


class Words:
    """Synthetic article text: Zipf-distributed words from a 30,000-word vocabulary, 150-700 words long."""

    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.vocabulary = [f"{self.rng.choice('bcdfghklmnprstvz')}{self.rng.choice('aeiou')}{i:x}" for i in range(30000)]
        self.weights = [1 / (rank + 1) for rank in range(len(self.vocabulary))]

    def text(self) -> str:
        words = self.rng.choices(self.vocabulary, weights=self.weights, k=self.rng.randint(150, 700))
        sentences, start = [], 0
        while start < len(words):
            end = start + self.rng.randint(8, 20)
            sentences.append(" ".join(words[start:end]).capitalize() + ".")
            start = end
        return " ".join(sentences)

    def title(self) -> str:
        return " ".join(self.rng.choices(self.vocabulary, k=8))


def article(n: int, title: str, text: str) -> Article:
    paragraphs = [" ".join(text.split()[i:i + 60]) for i in range(0, len(text.split()), 60)]
    item = Article(
        url=f"https://site{n % 7}.example/news/{n:07d}.html", title=title,
        published=datetime(2022, 1, 1, tzinfo=UTC) + timedelta(seconds=n), site="bench", publisher="wire",
        topics=["news"], summary=paragraphs[0], content_html="".join(f"<p>{html.escape(p)}</p>" for p in paragraphs),
        content_text="\n\n".join(paragraphs),
    )
    item.urls = [item.url]
    return item


def edited(text: str, rng: random.Random) -> str:
    words = text.split()
    for _ in range(2):
        words[rng.randrange(len(words))] = "corrected"
    return " ".join(words + ["Follow", "us", "for", "more", "news."])


def scale(sizes: list[int], probe: int) -> None:
    words = Words(2022)
    print(f"\n2. check + insert through DeduplicatePipeline + StorePipeline (SQLite), {probe} articles per size "
          f"({probe - probe // 3} new, {probe // 3} near-duplicates)")
    print(f"   {'stored':>8} {'ms/article':>10} {'median ms':>9} {'ratio':>6} {'store MB':>9} {'MB/1k':>6} {'RSS MB':>7} {'dups':>5}")
    with tempfile.TemporaryDirectory() as directory:
        crawler = get_crawler(settings_dict={"REFEED_STORE_URL": f"sqlite:///{directory}/bench.sqlite3"})
        dedup, store = DeduplicatePipeline.from_crawler(crawler), StorePipeline.from_crawler(crawler)
        batch = dedup.batch
        stored = 0  # articles 0..stored-1 are in the store (the bench keeps no copy: its memory is the check's)
        n = 0
        base = None
        for size in sizes:
            batch.max_items = 2000
            while stored < size:  # fill: the real insert path, without the check
                title, text = words.title(), words.text()
                item = article(stored, title, text)
                item.fingerprint = exact_fingerprint(title, item.content_text)
                item.signature = near_signature(item.content_text)
                store.store(item)
                batch.done()
                stored += 1
            n = max(n, stored)
            batch.commit()
            batch.max_items = 50
            rng = random.Random(size)
            timings, dups = [], 0
            for k in range(probe):
                if k % 3 == 2:
                    original = queries.get_story(batch.conn, story_id_for(article(rng.randrange(stored), "", "x").url))
                    title, text = original.title, edited(original.content_text, rng)
                else:
                    title, text = words.title(), words.text()
                item = article(10_000_000 + n, title, text)
                n += 1
                started = time.perf_counter()
                with batch.article():  # as a crawl's writer runs it: in a savepoint, committed when due
                    try:
                        store.store(dedup.deduplicate(item))
                        dups += item.correction  # a stored teaser completed in place
                    except DropItem:
                        dups += 1
                timings.append(time.perf_counter() - started)
            batch.commit()
            mean = statistics.fmean(timings) * 1000
            base = base or mean
            db = sum(p.stat().st_size for p in Path(directory).glob("bench.sqlite3*")) / 2**20
            print(f"   {stored:>8,} {mean:>10.2f} {statistics.median(timings) * 1000:>9.2f} {mean / base:>6.2f} "
                  f"{db:>9.1f} {db / stored * 1000:>6.2f} {rss_mb():>7.1f} {dups:>5}")
        batch.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--probe", type=int, default=300)
    parser.add_argument("--skip-methods", action="store_true")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    if not args.skip_methods:
        compare_methods()
    scale([int(s) for s in args.sizes.split(",")], args.probe)
    return 0


if __name__ == "__main__":
    sys.exit(main())
