"""A store a year old: import, build, once, export, status and a daemon soak on stores of 10k, 100k and 1M stories.

Each store is made through the store's own code (`scheduler.py import` of made-up export lines: 50 sources,
30 topics, 40 publishers, a year of dates ending now, 5–8 paragraphs each), then every command runs as a user
runs it, in a child process: seconds and the peak RSS of its largest process (the kernel's, from wait4).
Usage: .venv/bin/python -m bench.longevity [--sizes 10000,100000,1000000] [--work DIR] [--soak SECONDS]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.machine import machine
from crawler.demo.archive import archive_lines
from crawler.demo.server import SampleSiteServer

ROOT = Path(__file__).resolve().parent.parent

CONFIG = """
[store]
url = "sqlite:///{dir}/refeed.sqlite3"
keep_days = {keep_days}
[output]
dir = "{dir}/public"
max_entries = 100
[[source]]
name = "lt"
spider = "limitedtimes"
start_urls = ["{url}"]
max_pages = 1000
schedule = "every {every}s"
[[topic]]
name = "kazakhstan"
title = "Kazakhstan"
keywords = ["Kazakhstan", "Almaty"]
"""


def command(args: list[str], cwd: Path, stdin=None, stdout=subprocess.DEVNULL) -> dict:
    """`scheduler.py ARGS` as a child: seconds, CPU-seconds, peak RSS (MB) of the largest process (itself or one it
    waited for), and the machine's load average as it ended (other work running makes every figure slower)."""
    started = time.monotonic()
    child = subprocess.Popen([sys.executable, str(ROOT / "scheduler.py"), *args], cwd=cwd, stdin=stdin, stdout=stdout,
                             stderr=subprocess.PIPE, text=True)
    assert child.stderr is not None
    err = child.stderr.read()
    _, status, usage = os.wait4(child.pid, 0)
    child.stderr.close()
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        sys.exit(f"{' '.join(args)} failed ({code}):\n{err[-3000:]}")
    # CPU-seconds (its own and its children's) beside the wall time: on a shared machine they move less.
    return {"seconds": time.monotonic() - started, "cpu_s": usage.ru_utime + usage.ru_stime, "peak_mb": usage.ru_maxrss / 1024,
            "load": os.getloadavg()[0], "stderr": err}


def archive(path: Path, count: int, seed: int, start: datetime, days: int, **spread) -> Path:
    if not path.exists():
        print(f"  writing {count} made-up stories to {path} …", file=sys.stderr, flush=True)
        with open(path.with_suffix(".tmp"), "w", encoding="utf-8") as out:
            for line in archive_lines(count, seed=seed, start=start, days=days, **spread):
                out.write(line + "\n")
        path.with_suffix(".tmp").rename(path)
    return path


def file_mb(directory: Path) -> float:
    return sum(p.stat().st_size for p in directory.glob("refeed.sqlite3*")) / 2**20


def soak(workdir: Path, seconds: float) -> dict:
    """The daemon for `seconds`, crawling the sample site every few seconds: its own RSS sampled each second."""
    child = subprocess.Popen([sys.executable, str(ROOT / "scheduler.py"), "run"], cwd=workdir,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    samples: list[tuple[float, float]] = []
    err: list[str] = []
    assert child.stderr is not None
    stream = child.stderr
    reader = threading.Thread(target=lambda: err.extend(stream))
    reader.start()
    started = time.monotonic()
    while time.monotonic() - started < seconds and child.poll() is None:
        try:
            rss = next(int(line.split()[1]) for line in Path(f"/proc/{child.pid}/status").read_text().splitlines() if line.startswith("VmRSS:"))
        except (OSError, StopIteration):
            break
        samples.append((time.monotonic() - started, rss / 1024))
        time.sleep(1)
    child.send_signal(signal.SIGTERM)
    _, status, usage = os.wait4(child.pid, 0)
    reader.join()
    cycles = sum("finished with exit" in line for line in err)
    if not samples or not cycles:
        sys.exit("the daemon ran no crawl:\n" + "".join(err[-30:]))
    tenth = max(1, len(samples) // 10)
    return {
        "seconds": seconds, "cycles": cycles,
        "daemon_first_mb": max(rss for _, rss in samples[:tenth]), "daemon_last_mb": max(rss for _, rss in samples[-tenth:]),
        "largest_mb": usage.ru_maxrss / 1024,
    }


def measure(size: int, work: Path, site_url: str, soak_seconds: float, reuse: bool = False) -> dict:
    workdir = work / f"store-{size}"
    row: dict = {"stories": size}

    def step(name: str, args: list[str], **options) -> dict:
        row[name] = command(args, workdir, **options)
        row[name].pop("stderr", None)
        print(f"  {name}: {json.dumps(row[name])}", file=sys.stderr, flush=True)
        return row[name]

    now = datetime.now(UTC)
    year = archive(work / f"archive-{size}.jsonl", size, 2022, now - timedelta(days=365), 364)
    # What one crawl adds: 100 stories of one source, in 5 of its sections, from 16 original publishers.
    fresh = archive(work / f"archive-{size}-new.jsonl", 100, 2023, now - timedelta(hours=1), 1, sources=1, topics=5, publishers=16)
    print(f"{size} stories:", file=sys.stderr, flush=True)
    if not (reuse and (workdir / "refeed.sqlite3").exists()):
        if workdir.exists():
            shutil.rmtree(workdir)
        workdir.mkdir(parents=True)
        (workdir / "refeed.toml").write_text(CONFIG.format(dir=workdir, url=site_url, keep_days=0, every=5), encoding="utf-8")
        imported = step("import", ["import", str(year)])
        imported["per_s"] = size / imported["seconds"]
    step("build_first", ["build"])
    step("build_unchanged", ["build"])
    command(["import", str(fresh)], workdir)
    step("build_after_100", ["build"])
    step("once", ["once"])
    with open(os.devnull, "w") as sink:
        step("export", ["export"], stdout=sink)
    step("status", ["status"])
    row["store_mb"] = file_mb(workdir)
    if soak_seconds:
        row["soak"] = soak(workdir, soak_seconds)
        print(f"  soak: {json.dumps(row['soak'])}", file=sys.stderr, flush=True)
    # Retention: 30 days kept of the year; the file before and after (incremental vacuum gives pages back).
    (workdir / "refeed.toml").write_text(CONFIG.format(dir=workdir, url=site_url, keep_days=30, every=5), encoding="utf-8")
    step("prune_build", ["build"])
    row["store_kept_30d_mb"] = file_mb(workdir)
    print(json.dumps(row), file=sys.stderr, flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--work", default="/tmp/refeed-longevity", help="stores and archives (1M stories: about 20 GB)")
    parser.add_argument("--soak", type=float, default=120, help="seconds of daemon soak at each size (0: none)")
    parser.add_argument("--reuse", action="store_true", help="keep a store made by an earlier run (no import figures)")
    args = parser.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    rows = []
    with SampleSiteServer() as site:
        for size in (int(s) for s in args.sizes.split(",")):
            rows.append(measure(size, work, site.url, args.soak, args.reuse))
    print(f"machine: {machine()}")
    print(f"{'stories':>9} {'import/s':>9} {'build 1st':>14} {'unchanged':>12} {'after +100':>12} {'once':>13} {'export':>13} {'status':>11} {'store MB':>9} {'30d MB':>8}")
    def cell(row: dict, key: str) -> str:
        return f"{row[key]['seconds']:.1f}s/{row[key]['peak_mb']:.0f}MB"

    for row in rows:
        print(
            f"{row['stories']:>9} {row.get('import', {}).get('per_s', 0):>9.0f} {cell(row, 'build_first'):>14} {cell(row, 'build_unchanged'):>12} {cell(row, 'build_after_100'):>12} "
            f"{cell(row, 'once'):>13} {cell(row, 'export'):>13} {cell(row, 'status'):>11} {row['store_mb']:>9.0f} {row['store_kept_30d_mb']:>8.0f}"
        )
    print("import peak MB: " + ", ".join(f"{r['stories']}: {r['import']['peak_mb']:.0f}" for r in rows if "import" in r))
    for row in rows:
        if "soak" in row:
            s = row["soak"]
            print(f"soak at {row['stories']}: {s['cycles']} crawls in {s['seconds']:.0f} s; daemon RSS {s['daemon_first_mb']:.0f} MB "
                  f"(first tenth) → {s['daemon_last_mb']:.0f} MB (last tenth); largest process {s['largest_mb']:.0f} MB")
    if len(rows) > 1:
        small, big = rows[0], rows[-1]
        print(f"ratios {big['stories']} / {small['stories']}:")
        for key in ("build_first", "build_unchanged", "build_after_100", "once", "export", "status"):
            print(f"  {key:<16} time {big[key]['seconds'] / small[key]['seconds']:.2f}x  CPU {big[key]['cpu_s'] / small[key]['cpu_s']:.2f}x  "
                  f"peak {big[key]['peak_mb'] / small[key]['peak_mb']:.2f}x")


if __name__ == "__main__":
    main()
