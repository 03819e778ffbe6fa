"""The daemon and re-runs: schedules, signals, conditional requests, locks, kills, source health."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import feedparser
import pytest
from conftest import ROOT, run_cli, write_config

from crawler.demo.server import SampleSiteServer
from crawler.demo.site import SampleSite

ARTICLE = re.compile(r"/\d{4}-\d{2}-\d{2}-[^/]+\.html$")


def is_article(path: str) -> bool:
    return bool(ARTICLE.search(path.split("?")[0]))


def is_listing(path: str) -> bool:
    path = path.split("?")[0]
    return not is_article(path) and not path.startswith(("/img/", "/robots.txt", "/favicon"))


def spawn(*args, cwd: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("REFEED_CONFIG", None)
    return subprocess.Popen(
        [sys.executable, str(ROOT / "scheduler.py"), *args], cwd=cwd, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def stored_count(workdir: Path) -> int:
    database = workdir / "data" / "refeed.sqlite3"
    if not database.exists():
        return 0
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30) as conn:
        try:
            return conn.execute("SELECT count(*) FROM stories").fetchone()[0]
        except sqlite3.OperationalError:  # tables not created yet
            return 0


def wait_until(condition, timeout: float = 120.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def all_links(workdir: Path) -> list[str]:
    parsed = feedparser.parse((workdir / "public" / "all.atom").read_bytes())
    assert parsed.bozo == 0
    return [e.link for e in parsed.entries]


def test_daemon_crawls_on_schedule_and_stops_on_sigterm(tmp_path, small_server):
    write_config(tmp_path, small_server.url, schedule="every 2s")
    daemon = spawn("run", cwd=tmp_path)
    finished = []
    try:
        for line in daemon.stderr:
            if "crawl limitedtimes: finished" in line:
                finished.append(line)
                if len(finished) == 2:
                    break
        assert len(finished) == 2, "the daemon did not complete two crawls"
        daemon.send_signal(signal.SIGTERM)
        _, rest = daemon.communicate(timeout=120)
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.communicate()
    assert daemon.returncode == 0, rest[-2000:]
    assert "stopped" in rest
    assert "exit 0" in finished[0] and "exit 0" in finished[1]
    status = run_cli("status", "--json", cwd=tmp_path)
    assert status.code == 0
    assert len(all_links(tmp_path)) == len(small_server.site.stories())


def test_daemon_crawls_at_most_parallel_sources_at_once(tmp_path, small_server):
    """Three sources due at the same moment, parallel_sources = 1: each crawl starts after the one before ended."""
    from conftest import source_config

    blocks = "".join(f'\n[[source]]\nname = "{name}"\nspider = "limitedtimes"\nstart_urls = ["{small_server.url}"]\n'
                     f'schedule = "every 2h"\nmax_pages = 3\n' for name in ("one", "two", "three"))
    config = source_config(tmp_path, blocks)
    config.write_text(config.read_text(encoding="utf-8").replace("[crawl]\n", "[crawl]\nparallel_sources = 1\n"), encoding="utf-8")
    daemon = spawn("run", cwd=tmp_path)
    events = []
    watchdog = threading.Timer(240, daemon.kill)  # a crawl that never comes ends the read below (and fails the test)
    watchdog.start()
    try:
        for line in daemon.stderr:
            found = re.search(r"crawl (\w+): (starting|finished)", line)
            if found:
                events.append(found.groups())
                if sum(kind == "finished" for _, kind in events) == 3:
                    break
        daemon.send_signal(signal.SIGTERM)
        _, rest = daemon.communicate(timeout=120)
    finally:
        watchdog.cancel()
        if daemon.poll() is None:
            daemon.kill()
            daemon.communicate()
    assert daemon.returncode == 0, rest[-2000:]
    kinds = [kind for _, kind in events]
    assert kinds == ["starting", "finished"] * 3, events  # never two crawls at once
    assert sorted(name for name, kind in events if kind == "finished") == ["one", "three", "two"]


def test_rerun_asks_conditionally_and_downloads_no_article_again(tmp_path, small_server):
    write_config(tmp_path, small_server.url)
    assert run_cli("once", cwd=tmp_path).code == 0
    small_server.requests.clear()
    second = run_cli("once", cwd=tmp_path)
    assert second.code == 0, second.stderr[-2000:]
    articles = [status for _, path, status in small_server.requests if is_article(path)]
    listings = [status for _, path, status in small_server.requests if is_listing(path)]
    assert articles and all(status == 304 for status in articles)
    assert listings and sum(status == 304 for status in listings) / len(listings) >= 0.9


def test_rerun_fetches_and_publishes_exactly_the_new_articles(tmp_path, small_site):
    """With rechecks of recent articles off, known articles are skipped; the sample site's
    article pages change with their "Latest" box, so a recheck would download them again."""
    newest = small_site.stories()[:5]
    hidden = {a.shortid for a in newest}
    earlier = SampleSite(small_site.seed, [a for a in small_site.articles if a.shortid not in hidden and a.republishes not in hidden])
    with SampleSiteServer(earlier) as server:
        config = write_config(tmp_path, server.url)
        config.write_text(config.read_text().replace("concurrency = 8", "concurrency = 8\nrecheck_hours = 0"))
        assert run_cli("once", cwd=tmp_path).code == 0
        before = set(all_links(tmp_path))
        server.site = small_site
        server.requests.clear()
        again = run_cli("once", cwd=tmp_path)
        assert again.code == 0, again.stderr[-2000:]
        downloaded = {path.split("?")[0] for _, path, status in server.requests if is_article(path) and status == 200}
        base = server.base
    expected = {a.path for a in newest} | {alias for a in newest for alias in a.alias_paths()}
    assert downloaded == expected
    assert set(all_links(tmp_path)) - before == {base + a.path for a in newest}


def test_crawl_killed_midway_loses_nothing_committed_and_next_run_completes(tmp_path, small_site):
    with SampleSiteServer(small_site, delay=0.02) as server:
        write_config(tmp_path, server.url)
        crawl = spawn("once", cwd=tmp_path)
        try:
            wait_until(lambda: stored_count(tmp_path) >= 30, what="30 stored articles")
        finally:
            crawl.kill()
            crawl.communicate()
        committed = stored_count(tmp_path)
        database = tmp_path / "data" / "refeed.sqlite3"
        with sqlite3.connect(database) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        again = run_cli("once", cwd=tmp_path)
        assert again.code == 0, again.stderr[-2000:]
    assert stored_count(tmp_path) >= committed
    links = all_links(tmp_path)
    assert len(links) == len(set(links)) == len(small_site.stories())
    with sqlite3.connect(database) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_two_concurrent_runs_do_not_both_crawl(tmp_path, small_site):
    # Every answer takes 2 s while the second run starts, so the first is still crawling then (on a quick machine
    # it used to finish the small site before the second had started: a race); then the site answers at once.
    with SampleSiteServer(small_site, delay=2.0) as server:
        write_config(tmp_path, server.url)
        first = spawn("once", cwd=tmp_path)
        wait_until(lambda: (tmp_path / "data" / "refeed.sqlite3.limitedtimes.lock").exists(), what="the first run's lock")
        second = spawn("once", cwd=tmp_path)
        out2, err2 = second.communicate(timeout=300)
        server.delay = 0.01
        out1, err1 = first.communicate(timeout=300)
        fetched = [path for _, path, status in server.requests if is_article(path) and status == 200]
    assert first.returncode == 0, err1[-2000:]
    assert second.returncode == 0, err2[-2000:]
    assert "another refeed process was crawling" in err2
    assert len(fetched) == len(set(fetched))


def test_stale_lock_of_a_killed_run_is_recovered(tmp_path, small_site):
    with SampleSiteServer(small_site, delay=0.02) as server:
        write_config(tmp_path, server.url)
        crawl = spawn("once", cwd=tmp_path)
        wait_until(lambda: stored_count(tmp_path) >= 5, what="a crawl under way")
        crawl.send_signal(signal.SIGKILL)
        crawl.communicate()
        assert (tmp_path / "data" / "refeed.sqlite3.limitedtimes.lock").exists()
        again = run_cli("once", cwd=tmp_path)
    assert again.code == 0, again.stderr[-2000:]
    assert "another refeed process" not in again.stderr


@pytest.mark.parametrize("status", [403, 429])
def test_bot_wall_is_flagged_in_status_and_exit_code(tmp_path, small_server, status):
    write_config(tmp_path, small_server.url)
    small_server.fault("/", "status", status=status)
    result = run_cli("once", cwd=tmp_path)
    assert result.code == 1
    assert "blocked" in result.stderr
    table = run_cli("status", cwd=tmp_path)
    assert "blocked" in table.stdout


def test_site_redesign_is_noticed(tmp_path, small_site):
    """A run that finds far fewer articles than the runs before it is flagged, not silently accepted."""
    with SampleSiteServer(small_site) as server:
        write_config(tmp_path, server.url)
        for _ in range(2):
            assert run_cli("once", cwd=tmp_path).code == 0
        for section in small_site.sections:
            server.fault(f"/{section}/", "status", status=404)
        result = run_cli("once", cwd=tmp_path)
    assert result.code == 1
    assert "degraded" in result.stderr
    assert "degraded" in run_cli("status", cwd=tmp_path).stdout


def test_crawl_over_its_time_budget_is_stopped_and_flagged(tmp_path, small_site):
    with SampleSiteServer(small_site, delay=0.3) as server:
        config = write_config(tmp_path, server.url)
        config.write_text(config.read_text().replace("concurrency = 8", "concurrency = 8\nrun_timeout = 3"))
        started = time.monotonic()
        result = run_cli("once", cwd=tmp_path)
    assert time.monotonic() - started < 60
    assert result.code == 1
    assert "timeout" in result.stderr
    assert "timeout" in run_cli("status", cwd=tmp_path).stdout


def test_second_signal_stops_the_daemon_at_once(tmp_path, small_site):
    with SampleSiteServer(small_site, delay=0.5) as server:
        write_config(tmp_path, server.url, schedule="every 1h")
        daemon = spawn("run", cwd=tmp_path)
        try:
            for line in daemon.stderr:
                if "crawl limitedtimes: starting" in line:
                    break
            wait_until(lambda: len(server.requests) >= 3, what="the crawl under way")
            daemon.send_signal(signal.SIGTERM)
            for line in daemon.stderr:
                if "stopping" in line:
                    break
            daemon.send_signal(signal.SIGTERM)
            started = time.monotonic()
            _, rest = daemon.communicate(timeout=30)
        finally:
            if daemon.poll() is None:
                daemon.kill()
                daemon.communicate()
    assert time.monotonic() - started < 10
    assert daemon.returncode == 1
    assert "killing running crawls now" in rest


def test_two_sources_crawled_at_once_into_one_sqlite_store_lose_nothing(tmp_path, sample_site):
    """As the daemon runs them (a child process per source, all at once): two crawls, each with its page worker,
    write to one new SQLite file. One creates the schema while the other waits (both creating it failed with
    'table stories already exists'); then each waits its turn for the write lock, and no page fails."""
    from conftest import source_config

    fresh = [a for a in sample_site.articles if a.republishes is None]
    sites = SampleSite(sample_site.seed, fresh[:80]), SampleSite(sample_site.seed, fresh[80:160])
    with SampleSiteServer(sites[0]) as one, SampleSiteServer(sites[1]) as two:
        blocks = "".join(f'\n[[source]]\nname = "{name}"\nspider = "limitedtimes"\nstart_urls = ["{server.url}"]\n'
                         for name, server in (("one", one), ("two", two)))
        source_config(tmp_path, blocks)
        runs = [spawn("once", "--source", name, cwd=tmp_path) for name in ("one", "two")]
        errors = [run.communicate(timeout=300)[1] for run in runs]
    for run, err in zip(runs, errors):
        assert run.returncode == 0 and "locked" not in err, err[-3000:]
    assert stored_count(tmp_path) == 160
    with sqlite3.connect(tmp_path / "data" / "refeed.sqlite3") as db:
        assert dict(db.execute("SELECT source, new FROM runs")) == {"one": 80, "two": 80}
