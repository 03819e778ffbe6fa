"""Body F1 of `extract` on ../shared/extraction-dev beside trafilatura's own, measured in the same run.

The metric is the Article Extraction Benchmark's: F1 over multisets of word 4-gram shingles, each page's
TP/FP/FN normalised to sum 1, precision and recall averaged over pages, F1 their harmonic mean.

    .venv/bin/python bench/extraction.py [--dev DIR] [--worst N]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.machine import machine  # noqa: E402

TOKEN = re.compile(r"\w+", re.UNICODE)


def shingles(text: str, n: int = 4) -> Counter:
    tokens = TOKEN.findall(text or "")
    grams = (" ".join(tokens[i:i + n]) for i in range(max(1, len(tokens) - n + 1)))
    return Counter(g for g in grams if g)


def page_counts(true: str, predicted: str) -> tuple[float, float, float]:
    """(TP, FP, FN) of one page, normalised so that every page weighs the same."""
    t, p = shingles(true), shingles(predicted)
    tp = sum((t & p).values())
    fp = sum((p - t).values())
    fn = sum((t - p).values())
    total = tp + fp + fn
    return (tp / total, fp / total, fn / total) if total else (0.0, 0.0, 0.0)


def score(truth: dict[str, str], predicted: dict[str, str]) -> tuple[float, float, float, dict[str, tuple[float, float, float]]]:
    precisions, recalls, per_page = [], [], {}
    for key, true in truth.items():
        tp, fp, fn = page_counts(true, predicted.get(key) or "")
        if tp + fp > 0:
            precisions.append(tp / (tp + fp))
        if tp + fn > 0:
            recalls.append(tp / (tp + fn))
        p = tp / (tp + fp) if tp + fp else 0.0
        r = tp / (tp + fn) if tp + fn else 0.0
        per_page[key] = (2 * p * r / (p + r) if p + r else 0.0, p, r)
    precision = sum(precisions) / len(precisions) if precisions else 0.0
    recall = sum(recalls) / len(recalls) if recalls else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1, per_page


def refeed_bodies(files: dict[str, Path]) -> dict[str, str]:
    """content_text of `extract` (the generic cascade and the cleaning stages), one page at a time."""
    from crawler.extract_cli import extract_targets

    keys = list(files)
    out = {}
    for key, result in zip(keys, extract_targets([str(files[k]) for k in keys])):
        out[key] = "" if isinstance(result, Exception) else result["content_text"]
    return out


def trafilatura_bodies(files: dict[str, Path], urls: dict[str, str]) -> dict[str, str]:
    """trafilatura 2.x with its defaults, as the public benchmark runs it."""
    import trafilatura

    return {k: trafilatura.extract(p.read_text(encoding="utf-8"), url=urls[k]) or "" for k, p in files.items()}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dev", default=str(ROOT.parent / "shared" / "extraction-dev"), help="folder with html/ and ground-truth.json")
    parser.add_argument("--worst", type=int, default=10, help="how many of the worst pages to list")
    args = parser.parse_args(argv)
    dev = Path(args.dev)
    if not (dev / "ground-truth.json").is_file():
        dev = Path("/work/shared/extraction-dev")
    truth_data = json.loads((dev / "ground-truth.json").read_text(encoding="utf-8"))
    truth = {k: v.get("articleBody") or "" for k, v in truth_data.items()}
    urls = {k: v.get("url") or "" for k, v in truth_data.items()}
    files = {k: dev / "html" / f"{k}.html" for k in truth}

    import logging

    logging.disable(logging.WARNING)
    print(f"machine: {machine()}")
    print(f"pages:   {len(truth)} ({dev})")
    rows = []
    for name, run in (("refeed extract", lambda: refeed_bodies(files)), ("trafilatura", lambda: trafilatura_bodies(files, urls))):
        started = time.perf_counter()
        predicted = run()
        seconds = time.perf_counter() - started
        precision, recall, f1, per_page = score(truth, predicted)
        rows.append((name, precision, recall, f1, seconds, per_page))
    print()
    print(f"{'extractor':<16} {'precision':>9} {'recall':>7} {'F1':>7} {'s/page':>7}")
    for name, precision, recall, f1, seconds, _ in rows:
        print(f"{name:<16} {precision:>9.4f} {recall:>7.4f} {f1:>7.4f} {seconds / len(truth):>7.3f}")
    ours, theirs = rows[0], rows[1]
    print(f"\nF1 ratio refeed/trafilatura: {ours[3] / theirs[3]:.4f}")
    print(f"\nworst {args.worst} pages for refeed (F1, precision, recall; trafilatura's F1):")
    for key, (f1, p, r) in sorted(ours[5].items(), key=lambda item: item[1][0])[: args.worst]:
        print(f"  {f1:.3f}  p={p:.3f} r={r:.3f}  traf={theirs[5][key][0]:.3f}  {key[:12]}  {urls[key][:80]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
