"""First crawl versus an unchanged re-run of a 2,000-article sample site: requests, bytes, wall time."""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.machine import machine
from bench.sample_config import write_sample_config
from crawler.demo.server import SampleSiteServer
from crawler.demo.site import generate

ROOT = Path(__file__).resolve().parent.parent


def crawl(workdir: Path, server: SampleSiteServer) -> dict:
    server.requests.clear()
    started = time.monotonic()
    done = subprocess.run([sys.executable, str(ROOT / "scheduler.py"), "once"], cwd=workdir, capture_output=True, text=True)
    seconds = time.monotonic() - started
    if done.returncode != 0:
        sys.exit(f"crawl failed ({done.returncode}):\n{done.stderr[-3000:]}")
    body_bytes = 0
    for _, path, status in server.requests:
        if status == 200:
            body_bytes += len(server.site.render(path, server.base)[2])
    statuses = [status for _, _, status in server.requests]
    return {"requests": len(statuses), "304": statuses.count(304), "200": statuses.count(200), "bytes": body_bytes, "seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--articles", type=int, default=2000)
    args = parser.parse_args()
    site = generate(count=args.articles)
    with tempfile.TemporaryDirectory() as tmp, SampleSiteServer(site) as server:
        workdir = Path(tmp)
        write_sample_config(workdir, server.url)
        first = crawl(workdir, server)
        again = crawl(workdir, server)
    print(f"machine: {machine()}")
    print(f"site: {len(site.articles)} article pages")
    print(f"{'run':<16} {'requests':>9} {'200':>6} {'304':>6} {'body bytes':>12} {'seconds':>8}")
    for name, run in (("first crawl", first), ("unchanged rerun", again)):
        print(f"{name:<16} {run['requests']:>9} {run['200']:>6} {run['304']:>6} {run['bytes']:>12,} {run['seconds']:>8.1f}")
    share = again["bytes"] / first["bytes"] if first["bytes"] else 0.0
    print(f"rerun downloads {share:.1%} of the first run's bytes (goal: under 5%)")


if __name__ == "__main__":
    main()
