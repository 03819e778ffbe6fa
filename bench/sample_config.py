"""The refeed.toml the crawl benchmarks use against a local sample site."""

from __future__ import annotations

from pathlib import Path

__all__ = ["write_sample_config"]

CONFIG = """
[store]
url = "sqlite:///data/refeed.sqlite3"
[output]
dir = "public"
max_entries = 100
[crawl]
concurrency = {concurrency}
[[source]]
name = "lt"
spider = "limitedtimes"
start_urls = ["{url}"]
max_pages = 10000
"""


def write_sample_config(workdir: Path, url: str, concurrency: int = 16) -> None:
    (workdir / "refeed.toml").write_text(CONFIG.format(url=url, concurrency=concurrency), encoding="utf-8")
