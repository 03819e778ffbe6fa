"""Requests/second of the feed server (`serve`) on loopback for 200 and 304 answers, measured with wrk."""

# Usage: .venv/bin/python -m bench.serve [--seconds 10] [--connections 32] [--entries 100]
# Installs Debian's wrk with apt-get when it is missing. Prints the machine, then one line per case.

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.machine import machine
from feeds.build import build_feeds
from feeds.server import FeedServer

ROOT = Path(__file__).resolve().parent.parent


def machine_line() -> str:
    import twisted

    return f"{machine()}, Twisted {twisted.__version__}"


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    print("wrk missing: apt-get install -y wrk", file=sys.stderr)
    subprocess.run(["apt-get", "install", "-y", "wrk"], check=True, env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    return shutil.which("wrk") or sys.exit("wrk could not be installed")


def articles(count: int) -> list[dict]:
    """Feed-sized articles: a lede and ~2 KB of paragraphs each."""
    t0 = datetime(2022, 1, 8, tzinfo=UTC)
    paragraph = "<p>" + "The council met again on Tuesday to discuss the budget for next year. " * 6 + "</p>"
    return [
        {
            "id": f"{n:016x}", "url": f"https://www.newsrnd.com/news/2022-01-08-story-{n}.a{n}.html",
            "title": f"Story {n}: the council meets again", "published": t0 + timedelta(minutes=n),
            "updated": t0 + timedelta(minutes=n), "publisher": "spiegel", "authors": ["dpa"], "topics": ["news"],
            "language": "en", "summary": "The council met again.", "content_html": paragraph * 5,
            "content_text": "The council met again.", "image": f"https://img.newsrnd.com/{n}.jpg", "image_caption": "",
        }
        for n in range(count)
    ]


def wrk(binary: str, url: str, seconds: int, connections: int, headers: list[str]) -> tuple[float, str]:
    threads = max(1, min(connections, os.cpu_count() or 1))
    command = [binary, f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency"]
    for header in headers:
        command += ["-H", header]
    out = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    found = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if found is None:
        sys.exit(f"wrk printed no rate:\n{out}")
    rate = float(found.group(1))
    latency = re.search(r"99%\s+(\S+)", out)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise SystemExit(f"wrk saw {errors.group(1)} error responses:\n{out}")
    return rate, latency.group(1) if latency else "?"


def answer(url: str, headers: dict) -> tuple[int, int]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, len(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--entries", type=int, default=100)
    args = parser.parse_args()
    binary = ensure_wrk()
    print(f"machine: {machine_line()}")
    print(f"wrk: {subprocess.run([binary, '--version'], capture_output=True, text=True).stdout.splitlines()[0]}")
    with tempfile.TemporaryDirectory() as tmp:
        build_feeds(articles(args.entries), tmp, "http://127.0.0.1/")
        size = (Path(tmp) / "all.atom").stat().st_size
        with FeedServer(tmp) as server:
            url = server.url + "all.atom"
            with urllib.request.urlopen(url) as response:
                etag = response.headers["ETag"]
            with urllib.request.urlopen(urllib.request.Request(url, headers={"Accept-Encoding": "gzip"})) as response:
                etag_gzip = response.headers["ETag"]
            cases = [
                ("200 plain", {}),
                ("200 gzip", {"Accept-Encoding": "gzip"}),
                ("304 If-None-Match", {"If-None-Match": etag}),
                ("304 If-None-Match, gzip", {"Accept-Encoding": "gzip", "If-None-Match": etag_gzip}),
            ]
            print(f"file: all.atom, {args.entries} entries, {size} bytes; {args.connections} connections, "
                  f"{args.seconds} s per case, server and wrk on the same machine")
            rates = {}
            for name, headers in cases:
                status, body = answer(url, headers)
                assert str(status) == name[:3], (name, status)
                rate, p99 = wrk(binary, url, args.seconds, args.connections, [f"{k}: {v}" for k, v in headers.items()])
                rates[name] = rate
                print(f"{name:<26} {rate:>9.0f} requests/s   p99 latency {p99:>8}   body {body} bytes")
    print(f"ratio 304 / 200 plain: {rates['304 If-None-Match'] / rates['200 plain']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
