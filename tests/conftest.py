"""Shared fixtures: the sample site on 127.0.0.1, config files in tmp_path, and the real command line."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str


def run_cli(*args, cwd: Path, env: dict | None = None, timeout: float = 300) -> Result:
    """Run `python scheduler.py ARGS` in a child process, as a user (or cron) would."""
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    full_env.pop("REFEED_CONFIG", None)
    full_env.update(env or {})
    done = subprocess.run(
        [sys.executable, str(ROOT / "scheduler.py"), *args],
        cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout,
    )
    return Result(done.returncode, done.stdout, done.stderr)


def write_config(directory: Path, site_url: str, extra: str = "", max_entries: int = 1000, **source) -> Path:
    """A refeed.toml for the sample site, storing into `directory`."""
    source = {"schedule": "every 30m", "max_pages": 2000, **source}
    options = "\n".join(f"{k} = {_toml(v)}" for k, v in source.items())
    sources = f'''
[[source]]
name = "limitedtimes"
spider = "limitedtimes"
start_urls = ["{site_url}"]
{options}

[[topic]]
name = "kazakhstan"
title = "Kazakhstan"
keywords = ["Kazakhstan", "Almaty"]
'''
    return source_config(directory, sources, extra, max_entries=max_entries)


def source_config(directory: Path, sources: str, extra: str = "", *, max_entries: int = 1000, obey_robots: bool = True) -> Path:
    """A refeed.toml with the given [[source]] blocks (and `extra` after them), storing into `directory`."""
    text = f'''
[store]
url = "sqlite:///data/refeed.sqlite3"

[output]
dir = "public"
base_url = "http://feeds.example.test/"
max_entries = {max_entries}

[crawl]
concurrency = 8
obey_robots = {_toml(obey_robots)}

{sources}
{extra}
'''
    path = directory / "refeed.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _toml(value) -> str:
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return str(value)


@pytest.fixture(scope="session")
def sample_site():
    from crawler.demo.site import generate

    return generate()


@pytest.fixture(scope="session")
def small_site(sample_site):
    """The 80 newest stories of the sample site: enough for the walk, dedup and health checks, at a third of the cost."""
    from crawler.demo.cluster import sample_copy

    return sample_copy(sample_site, 80)


@pytest.fixture
def small_server(small_site):
    from crawler.demo.server import SampleSiteServer

    with SampleSiteServer(small_site) as server:
        yield server


@pytest.fixture
def site_server(sample_site):
    from crawler.demo.server import SampleSiteServer

    with SampleSiteServer(sample_site) as server:
        yield server


def assert_published_file_whole(path: Path):
    """A published file parses completely: Atom, RSS and OPML as XML (`all` without a complaint from feedparser,
    it holds every entry), JSON Feed as JSON Feed 1.1 (returned, parsed), index.html to its end."""
    import json

    import feedparser
    from lxml import etree

    data = path.read_bytes()
    if path.suffix in (".atom", ".rss", ".opml"):
        etree.fromstring(data)
        if path.stem == "all":
            assert feedparser.parse(data).bozo == 0, path.name
    elif path.suffix == ".json":
        feed = json.loads(data.decode("utf-8"))
        assert feed["version"] == "https://jsonfeed.org/version/1.1", path.name
        return feed
    elif path.suffix == ".html":
        assert data.rstrip().endswith(b"</html>"), path.name
    return None
