"""Peak memory (RSS) of `scheduler.py once` over sample sites of growing size: bounded, not growing with the crawl."""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench.machine import machine
from bench.sample_config import write_sample_config
from crawler.demo.server import SampleSiteServer
from crawler.demo.site import generate

ROOT = Path(__file__).resolve().parent.parent


def once(articles: int) -> dict:
    """One `once` of a fresh store over an `articles`-article site; its peak RSS from the kernel (wait4)."""
    site = generate(count=articles)
    with tempfile.TemporaryDirectory() as tmp, SampleSiteServer(site) as server:
        workdir = Path(tmp)
        write_sample_config(workdir, server.url)
        started = time.monotonic()
        child = subprocess.Popen([sys.executable, str(ROOT / "scheduler.py"), "once"], cwd=workdir,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        tree = TreeSampler(child.pid)
        tree.start()
        assert child.stderr is not None
        err = child.stderr.read()  # until the child exits; it stays a zombie for wait4 to reap
        tree.stop()
        _, status, usage = os.wait4(child.pid, 0)  # this child's own rusage (ru_maxrss in KiB on Linux)
        child.returncode = os.waitstatus_to_exitcode(status)
        child.stderr.close()
        seconds = time.monotonic() - started
        if child.returncode != 0:
            sys.exit(f"once failed ({child.returncode}):\n{err[-3000:]}")
        store = sum(p.stat().st_size for p in (workdir / "data").iterdir())
        pages = len(server.requests)
    return {"articles": articles, "pages": pages, "seconds": seconds, "peak_mb": usage.ru_maxrss / 1024,
            "tree_mb": tree.peak / 2**20, "processes": tree.processes, "store_mb": store / 2**20}


class TreeSampler(threading.Thread):
    """Samples the summed RSS of a process and its descendants (the page worker) every 0.1 s, from /proc."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid = pid
        self.peak = 0
        self.processes = 1
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.wait(0.1):
            pids = _descendants(self.pid) | {self.pid}
            self.processes = max(self.processes, len(pids))
            self.peak = max(self.peak, sum(_rss(pid) for pid in pids))

    def stop(self) -> None:
        self._done.set()
        self.join()


def _descendants(root: int) -> set[int]:
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found: set[int] = set()
    frontier = {root}
    while frontier:
        frontier = {pid for pid, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _rss(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[200, 1000, 2000], help="articles per sample site")
    args = parser.parse_args()
    results = [once(n) for n in sorted(args.sizes)]
    print(f"machine: {machine()}")
    print(f"{'articles':>8} {'requests':>9} {'seconds':>8} {'peak RSS, largest process':>26} {'peak RSS, all processes':>24} {'store':>8}")
    for r in results:
        print(f"{r['articles']:>8,} {r['pages']:>9,} {r['seconds']:>8.1f} {r['peak_mb']:>23.1f} MB "
              f"{r['tree_mb']:>14.1f} MB ({r['processes']} proc.) {r['store_mb']:>5.1f} MB")
    overall = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"largest peak RSS of any `once` (getrusage RUSAGE_CHILDREN): {overall:.1f} MB")
    print(f"growth from {results[0]['articles']:,} to {results[-1]['articles']:,} articles: "
          f"{results[-1]['peak_mb'] / results[0]['peak_mb']:.2f}x")


if __name__ == "__main__":
    main()
