"""The page pool: article pages extracted and cleaned in other processes give what one process gives; a pool
process that dies mid-crawl costs nothing but a warning; a crawler killed outright leaves no process behind."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import ROOT, run_cli, write_config


def _stories(workdir: Path) -> list[tuple]:
    with sqlite3.connect(workdir / "data" / "refeed.sqlite3") as db:
        return db.execute("SELECT id, url, title, content_text, publishers, topics FROM stories ORDER BY id").fetchall()


def _urls(workdir: Path) -> list[tuple]:
    with sqlite3.connect(workdir / "data" / "refeed.sqlite3") as db:
        return db.execute("SELECT url, story_id FROM story_urls ORDER BY url").fetchall()


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _pool_processes(pid: int) -> list[int]:
    """The page pool's processes: the children of crawl `pid` that multiprocessing spawned (not its resource
    tracker, nor the `uname -p` Scrapy's start-up log runs)."""
    found = []
    for child in _children(pid):
        try:
            if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes():
                found.append(child)
        except OSError:
            pass
    return found


def _descendants(pid: int) -> list[int]:
    children = _children(pid)
    return children + [grandchild for child in children for grandchild in _descendants(child)]


def _alive(pid: int) -> bool:
    try:
        state = next(line for line in Path(f"/proc/{pid}/status").read_text().splitlines() if line.startswith("State:"))
    except (OSError, StopIteration):
        return False
    return "Z" not in state.split()[1]


def _article_requests(server) -> int:
    return sum(1 for _method, path, _status in list(server.requests) if path.endswith(".html") and "/archive/" not in path)


def _wait_for(condition, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def test_crawl_with_and_without_the_page_pool_stores_the_same_stories(tmp_path, small_server):
    """In the crawler's process alone, with a pool of one process and with a pool of two (pages then done out of
    their order): the same stories, ids and URLs, and Scrapy's own counts of the items."""
    modes = {"pool": {"REFEED_PAGE_WORKER": "1", "REFEED_PAGE_PROCESSES": "1"}, "two": {"REFEED_PAGE_WORKER": "1", "REFEED_PAGE_PROCESSES": "2"},
             "inline": {"REFEED_PAGE_WORKER": "0"}}
    results, logs = {}, {}
    for mode, env in modes.items():
        workdir = tmp_path / mode
        workdir.mkdir()
        write_config(workdir, small_server.url)
        result = run_cli("-v", "once", cwd=workdir, env=env)  # with Scrapy's own log lines: its stats at the end
        assert result.code == 0, result.stderr[-2000:]
        results[mode], logs[mode] = (_stories(workdir), _urls(workdir)), result.stderr
    assert len(results["pool"][0]) == 80
    assert results["pool"] == results["inline"] == results["two"]
    for log in logs.values():
        scraped = re.search(r"'item_scraped_count': (\d+)", log)
        assert scraped and int(scraped.group(1)) == 80, log[-3000:]


def test_duplicates_are_dropped_on_scrapys_item_path(tmp_path, small_server):
    """Deduplicate is an ordinary item pipeline: what it drops, Scrapy counts (its item_dropped signal), and the
    run's figures agree."""
    write_config(tmp_path, small_server.url)
    result = run_cli("-v", "once", cwd=tmp_path)
    assert result.code == 0, result.stderr[-2000:]
    figures = {name: int(count) for name, count in re.findall(r"'(item_[\w/]+|refeed/duplicates|refeed/new)': (\d+)", result.stderr)}
    assert figures["item_dropped_count"] == figures["item_dropped_reasons_count/DropItem"] == figures["refeed/duplicates"] > 0, figures
    assert figures["item_scraped_count"] == figures["refeed/new"] == 80, figures
    status = json.loads(run_cli("status", "--json", cwd=tmp_path).stdout)
    assert status["sources"][0]["duplicates"] == figures["refeed/duplicates"], status


@contextlib.contextmanager
def _crawl_with_pool(tmp_path: Path, site):
    """A `once` under way in the background (its output in tmp_path/log): (server, crawl, a page process's pid)."""
    from crawler.demo.server import SampleSiteServer

    with SampleSiteServer(site, delay=0.02) as server:
        write_config(tmp_path, server.url)
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "REFEED_PAGE_WORKER": "1", "REFEED_PAGE_PROCESSES": "1"}
        with open(tmp_path / "log", "wb") as log:
            crawl = subprocess.Popen([sys.executable, str(ROOT / "scheduler.py"), "once"], cwd=tmp_path, env=env, stdout=log, stderr=log)
        try:
            _wait_for(lambda: _pool_processes(crawl.pid) or crawl.poll() is not None, "the page pool")
            yield server, crawl, _pool_processes(crawl.pid)[0]
        finally:
            if crawl.poll() is None:
                crawl.kill()
                crawl.wait()


def test_a_page_process_that_dies_mid_crawl_is_replaced_and_its_pages_done_again(tmp_path, small_site):
    with _crawl_with_pool(tmp_path, small_site) as (server, crawl, process):
        _wait_for(lambda: _article_requests(server) >= 20 or crawl.poll() is not None, "the first article pages")
        os.kill(process, signal.SIGKILL)
        assert crawl.wait(120) == 0, (tmp_path / "log").read_text()
        log = (tmp_path / "log").read_text()
        assert "a page process died" in log and "done again" in log
    # The pages the dead process had were done again by the new pool: every story is stored, and the run's
    # figures say what the store holds.
    assert len(_stories(tmp_path)) == 80
    status = json.loads(run_cli("status", "--json", cwd=tmp_path).stdout)
    assert (status["sources"][0]["new"], status["sources"][0]["outcome"]) == (80, "ok"), status


def test_a_crawler_killed_outright_leaves_no_page_process_behind(tmp_path, small_site):
    with _crawl_with_pool(tmp_path, small_site) as (server, crawl, _process):
        _wait_for(lambda: len(server.requests) >= 30 or crawl.poll() is not None, "the crawl under way")
        left = _descendants(crawl.pid)
        assert left
        crawl.send_signal(signal.SIGKILL)
        crawl.wait()
        _wait_for(lambda: not any(_alive(pid) for pid in left), "the orphaned page processes to exit", timeout=30)
    with sqlite3.connect(tmp_path / "data" / "refeed.sqlite3") as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_a_bad_page_pool_setting_in_the_environment_is_one_line_and_exit_2(tmp_path):
    write_config(tmp_path, "http://127.0.0.1:9/")
    for name, value, expected in (("REFEED_PAGE_WORKER", "maybe", "1/0"), ("REFEED_PAGE_PROCESSES", "0", "at least 1")):
        result = run_cli("once", cwd=tmp_path, env={name: value})
        assert result.code == 2, result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and name in lines[0] and expected in lines[0], result.stderr


def test_scrapys_lines_for_an_item_are_one_short_line_with_the_reason():
    """The project LogFormatter (LOG_FORMATTER) words what Scrapy logs for each item: the URL, and why it was dropped."""
    from scrapy.exceptions import DropItem

    from crawler.items import Article
    from crawler.logformatter import LogFormatter

    item = Article(url="http://lt.test/news/a.html", title="A", published=None, site="lt", content_html="<p>" + "x" * 5000 + "</p>")
    item.story_id = "s1"
    for entry, line in ((LogFormatter().dropped(item, DropItem("duplicate of s0 (same text)"), None, None), "dropped http://lt.test/news/a.html: duplicate of s0 (same text)"),
                        (LogFormatter().scraped(item, None, None), "stored http://lt.test/news/a.html as s1")):
        assert entry["level"] == logging.DEBUG
        assert entry["msg"] % entry["args"] == line


def test_a_page_process_imports_neither_scrapy_nor_the_store():
    """What a pool process runs (parsers, extraction, cleaning, fingerprints) loads no Scrapy, Twisted or SQLAlchemy:
    each would cost every crawl's pool process half a second of CPU and tens of MB for nothing it uses."""
    code = ("import sys, scheduler, crawler.pagepool, crawler.parsers, crawler.cleaning\n"
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'scrapy', 'twisted', 'sqlalchemy'}))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["[]"], done.stdout  # scheduler.py too: a spawned process imports the main module
