"""Nothing hangs: `once` ends at run_timeout plus a margin, `extract` within its download timeout, and a killed run
shows as interrupted."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from conftest import ROOT, run_cli, source_config
from local_pages import PageServer

from crawler.deadline import margin
from crawler.locks import FileLock

START_UP = 30  # seconds a `once` may take to start and to build the feeds, on a busy machine


def trickling_source(tmp_path, server: PageServer, **crawl) -> None:
    source_config(tmp_path, f'[[source]]\nname = "slow"\nspider = "generic"\nstart_urls = ["{server.url}"]\n', obey_robots=False)
    config = tmp_path / "refeed.toml"
    options = "".join(f"\n{key} = {value}" for key, value in crawl.items())
    config.write_text(config.read_text().replace("concurrency = 8", "concurrency = 8" + options))


def status(workdir) -> dict:
    result = run_cli("status", "--json", cwd=workdir)
    assert result.code == 0, result.stderr
    (run,) = json.loads(result.stdout)["sources"]
    return run


def test_once_ends_at_run_timeout_plus_its_margin_and_releases_the_lock(tmp_path):
    # The site sends a byte a second; the download timeout would let it: Scrapy's polite stop at run_timeout
    # waits for the request in flight, so without a hard deadline `once` and its lock would stay for 10 minutes.
    with PageServer(trickle={"/"}) as site:
        trickling_source(tmp_path, site, run_timeout=2, download_timeout=600)
        started = time.monotonic()
        result = run_cli("once", cwd=tmp_path, timeout=2 + margin(2) + START_UP + 30)
        elapsed = time.monotonic() - started
        assert site.started.is_set()
    assert result.code == 1, result.stderr[-3000:]
    assert elapsed < 2 + margin(2) + START_UP, elapsed
    assert "past run_timeout and its margin; ending the process" in result.stderr
    lock = FileLock(tmp_path / "data" / "refeed.sqlite3.slow.lock")
    assert lock.acquire()  # released by the process's end
    lock.release()
    run = status(tmp_path)
    assert (run["outcome"], run["message"]) == ("timeout", "ended by the hard deadline, 7 s after it started")


def test_extract_of_a_trickling_server_ends_at_its_download_timeout(tmp_path):
    with PageServer(trickle={"/slow.html"}) as site:
        trickling_source(tmp_path, site, download_timeout=2)
        started = time.monotonic()
        result = run_cli("extract", f"{site.url}slow.html", cwd=tmp_path, timeout=60)
        elapsed = time.monotonic() - started
    assert result.code == 1
    assert elapsed < 2 + START_UP, elapsed
    assert f"{site.url}slow.html: the download took longer than 2 s (crawl.download_timeout)" in result.stderr
    assert result.stdout == ""


def test_a_killed_run_shows_as_interrupted_not_running(tmp_path):
    with PageServer(trickle={"/"}) as site:
        trickling_source(tmp_path, site)
        crawl = subprocess.Popen(
            [sys.executable, str(ROOT / "scheduler.py"), "once"],
            cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )
        try:
            assert site.started.wait(120), "the crawl never asked for the page"
            assert status(tmp_path)["outcome"] == "running"  # its process is alive and holds the source's lock
        finally:
            os.killpg(crawl.pid, signal.SIGKILL)  # the crawl and its page worker, at once
            crawl.wait()
    run = status(tmp_path)
    assert run["outcome"] == "interrupted"
    assert run["message"].startswith("its process ended without finishing the run")
    text = run_cli("status", cwd=tmp_path)
    assert " interrupted " in text.stdout
