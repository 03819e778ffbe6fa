"""Body extraction by `extract` beside trafilatura, in the same run: full-text F1 on ../shared/extraction-dev, chunk F1 on ../shared/extraction-wide.

Dev pages: the Article Extraction Benchmark's metric, F1 over multisets of word 4-gram shingles, each page's
TP/FP/FN normalised to sum 1, precision and recall averaged over pages, F1 their harmonic mean.
Wide pages: trafilatura's own evaluation, each `with` / `without` chunk looked up in the extracted text, counts
summed over pages; reported for the development half (ids 0–7…), the confirmation half (8–f…) and overall.

    .venv/bin/python -m bench.extraction [--dev DIR] [--wide DIR] [--worst N] [--dump FILE]
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import time
from collections import Counter
from pathlib import Path

from bench.machine import machine

ROOT = Path(__file__).resolve().parent.parent

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


WHITESPACE = re.compile(r"\s+")
HALVES = (("wide 0-7 (dev half)", "01234567"), ("wide 8-f (confirm)", "89abcdef"))


def wide_counts(truth: dict[str, dict], predicted: dict[str, str], keys=None) -> tuple[int, int, int, int]:
    """(TP, FP, FN, TN) over pages: `with` chunks found, `without` chunks found, `with` missed, `without` left out."""
    tp = fp = fn = tn = 0
    for key in keys if keys is not None else truth:
        text = WHITESPACE.sub(" ", predicted.get(key) or "").strip()
        for chunk in truth[key]["with"]:
            if WHITESPACE.sub(" ", chunk).strip() in text:
                tp += 1
            else:
                fn += 1
        for chunk in truth[key]["without"]:
            if WHITESPACE.sub(" ", chunk).strip() in text:
                fp += 1
            else:
                tn += 1
    return tp, fp, fn, tn


def prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    return precision, recall, (2 * tp / (2 * tp + fp + fn) if tp else 0.0)


def both_bodies(files: dict[str, Path], urls: dict[str, str], **options) -> tuple[dict, dict, dict, dict]:
    """content_text of `extract` (the generic cascade and the cleaning stages) and trafilatura 2.x's text (on the
    page's bytes, which it decodes itself, with the given options), and seconds of each, page by page: one after
    the other on each page, both meet the same load on a shared machine (run a minute apart, the ratio of their
    medians swung from 1.2 to 2.2)."""
    import trafilatura

    from crawler.extract_cli import extract_targets

    ours, our_seconds, theirs, their_seconds = {}, {}, {}, {}
    keys = list(files)
    results = extract_targets([str(files[k]) for k in keys])
    for key in keys:
        started = time.perf_counter()
        result = next(results)
        our_seconds[key] = time.perf_counter() - started
        ours[key] = "" if isinstance(result, Exception) else result["content_text"]
        started = time.perf_counter()
        theirs[key] = trafilatura.extract(files[key].read_bytes(), url=urls.get(key) or None, **options) or ""
        their_seconds[key] = time.perf_counter() - started
    return ours, our_seconds, theirs, their_seconds


def _folder(given: str, name: str, marker: str) -> Path:
    folder = Path(given)
    return folder if (folder / marker).is_file() else Path("/work/shared") / name


def main(argv=None) -> int:
    import trafilatura

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dev", default=str(ROOT.parent / "shared" / "extraction-dev"), help="folder with html/ and ground-truth.json")
    parser.add_argument("--wide", default=str(ROOT.parent / "shared" / "extraction-wide"), help="folder with html/ and truth.json")
    parser.add_argument("--worst", type=int, default=10, help="how many of the worst dev pages to list")
    parser.add_argument("--dump", help="write every extracted text (both extractors, both corpora) to this JSON file")
    args = parser.parse_args(argv)
    dev = _folder(args.dev, "extraction-dev", "ground-truth.json")
    wide = _folder(args.wide, "extraction-wide", "truth.json")
    truth_data = json.loads((dev / "ground-truth.json").read_text(encoding="utf-8"))
    truth = {k: v.get("articleBody") or "" for k, v in truth_data.items()}
    urls = {k: v.get("url") or "" for k, v in truth_data.items()}
    files = {k: dev / "html" / f"{k}.html" for k in truth}
    wide_truth = json.loads((wide / "truth.json").read_text(encoding="utf-8"))
    wide_files = {k: wide / "html" / f"{k}.html" for k in wide_truth}

    import logging

    logging.disable(logging.WARNING)
    print(f"machine: {machine()}")
    print(f"dev:     {len(truth)} pages ({dev})")
    print(f"wide:    {len(wide_truth)} pages ({wide})")
    names = ("refeed extract", f"trafilatura {trafilatura.__version__}")
    dev_runs = both_bodies(files, urls)  # trafilatura's defaults, as the public benchmark runs it
    wide_runs = both_bodies(wide_files, {}, fast=False, include_comments=False, include_tables=True)  # as its own evaluation
    results, dump = {}, {}
    for index, name in enumerate(names):
        (dev_text, dev_seconds), (wide_text, wide_seconds) = dev_runs[2 * index:2 * index + 2], wide_runs[2 * index:2 * index + 2]
        results[name] = (score(truth, dev_text), dev_text, wide_text, {**dev_seconds, **wide_seconds}, dev_seconds, wide_seconds)
        dump[name] = {"dev": dev_text, "wide": wide_text}

    print(f"\n{'extractor':<20} {'set':<22} {'precision':>9} {'recall':>7} {'F1':>7}")
    for name, ((precision, recall, f1, _), _, wide_text, *_rest) in results.items():
        print(f"{name:<20} {'dev (full text)':<22} {precision:>9.4f} {recall:>7.4f} {f1:>7.4f}")
        for label, digits in (*HALVES, ("wide all", "0123456789abcdef")):
            tp, fp, fn, _ = wide_counts(wide_truth, wide_text, [k for k in wide_truth if k[0] in digits])
            p, r, f = prf(tp, fp, fn)
            print(f"{name:<20} {label:<22} {p:>9.4f} {r:>7.4f} {f:>7.4f}")
    print(f"\n{'extractor':<20} {'median ms/page':>14} {'dev':>7} {'wide':>7} {'mean':>7}")
    medians = {}
    for name, (*_, seconds, dev_seconds, wide_seconds) in results.items():
        medians[name] = statistics.median(seconds.values())
        print(
            f"{name:<20} {medians[name] * 1000:>14.1f} {statistics.median(dev_seconds.values()) * 1000:>7.1f}"
            f" {statistics.median(wide_seconds.values()) * 1000:>7.1f} {statistics.mean(seconds.values()) * 1000:>7.1f}"
        )
    ours, theirs = (results[name] for name in names)
    print(f"median time ratio refeed/trafilatura: {medians['refeed extract'] / medians[names[1]]:.2f} (both on each page in turn)")
    print(f"dev F1 ratio refeed/trafilatura: {ours[0][2] / theirs[0][2]:.4f}")
    print(f"\nworst {args.worst} dev pages for refeed (F1, precision, recall; trafilatura's F1):")
    for key, (f1, p, r) in sorted(ours[0][3].items(), key=lambda item: item[1][0])[: args.worst]:
        print(f"  {f1:.3f}  p={p:.3f} r={r:.3f}  traf={theirs[0][3][key][0]:.3f}  {key[:12]}  {urls[key][:80]}")
    if args.dump:
        Path(args.dump).write_text(json.dumps(dump, ensure_ascii=False), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
