"""Durability: SIGKILL at chosen points of crawls and feed builds never corrupts the store, loses a committed
story or leaves a half-written feed; the next run fetches what the killed one had not committed."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import feedparser
import pytest
from conftest import ROOT, assert_published_file_whole, run_cli, write_config
from test_daemon import stored_count, wait_until

from crawler.demo.server import SampleSiteServer
from crawler.demo.site import SampleSite
from crawler.pipelines import StorePipeline
from crawler.store import Batch, Store, queries

# Kill points, fixed so that every run kills at the same places: a crawl is killed once this many stories
# are committed (cumulative over the runs), a feed build this long after it replaced its first file.
CRAWL_KILLS = (3, 15, 35, 60)
BUILD_KILLS = tuple(round(random.Random(8).uniform(0.0, 0.25), 3) for _ in range(3))


def database(workdir: Path) -> Path:
    return workdir / "data" / "refeed.sqlite3"


def stored_ids(workdir: Path) -> set[str]:
    if not database(workdir).exists():
        return set()
    with sqlite3.connect(f"file:{database(workdir)}?mode=ro", uri=True, timeout=30) as conn:
        try:
            return {row[0] for row in conn.execute("SELECT id FROM stories")}
        except sqlite3.OperationalError:  # killed before its tables were created
            return set()


def assert_store_whole(workdir: Path, committed: set[str]) -> set[str]:
    """The store passes SQLite's integrity check and still holds every story committed before the kill."""
    if database(workdir).exists():
        with sqlite3.connect(database(workdir), timeout=30) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    ids = stored_ids(workdir)
    assert committed <= ids, f"lost {len(committed - ids)} committed stories"
    return ids


def feed_files(workdir: Path) -> dict[str, tuple[int, int]]:
    """(inode, mtime) of each file in the output folder; a file a running build renames away meanwhile is left out."""
    folder = workdir / "public"
    found = {}
    for path in folder.iterdir() if folder.exists() else ():
        try:
            stat = path.stat()
        except FileNotFoundError:
            continue
        found[path.name] = (stat.st_ino, stat.st_mtime_ns)
    return found


def assert_feeds_whole(workdir: Path) -> int:
    """Every published file parses completely (atomic replacement: no half-written file is ever in place)."""
    folder = workdir / "public"
    files = [p for p in folder.iterdir() if not p.name.startswith(".")] if folder.exists() else []
    for path in files:
        assert_published_file_whole(path)
    return len(files)


def spawn(*args, cwd: Path) -> subprocess.Popen:
    """`python scheduler.py ARGS` in the background, its output in a log file (a full pipe would stall it)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("REFEED_CONFIG", None)
    with open(cwd / "refeed.log", "ab") as log:
        return subprocess.Popen([sys.executable, str(ROOT / "scheduler.py"), *args], cwd=cwd, env=env, stdout=log, stderr=log)


def kill_crawl_at(workdir: Path, stories: int) -> None:
    crawl = spawn("once", cwd=workdir)
    try:
        wait_until(lambda: stored_count(workdir) >= stories or crawl.poll() is not None, what=f"{stories} stored stories")
        assert crawl.poll() is None, "the crawl ended before its kill point"
    finally:
        crawl.send_signal(signal.SIGKILL)
        crawl.wait()


def kill_build_after(workdir: Path, delay: float) -> bool:
    """SIGKILL a `build` `delay` seconds after it replaced its first file; True if it was still running then."""
    before = feed_files(workdir)
    build = spawn("build", cwd=workdir)
    try:
        wait_until(lambda: build.poll() is not None or any(
            name.endswith(".tmp") or before.get(name) != stamp for name, stamp in feed_files(workdir).items()
        ), what="the build's first file")
        deadline = time.monotonic() + delay
        while build.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)  # the kill point itself, not an event to wait for
        running = build.poll() is None
    finally:
        build.send_signal(signal.SIGKILL)
        build.wait()
    return running


def test_kill_9_during_crawls_and_builds_loses_nothing(tmp_path, sample_site):
    site = SampleSite(sample_site.seed, [a for a in sample_site.articles if a.republishes is None][:90])
    expected = len(site.stories())
    with SampleSiteServer(site, delay=0.01) as server:
        write_config(tmp_path, server.url)
        committed: set[str] = set()
        interrupted = []
        for point, stories in enumerate(CRAWL_KILLS):
            kill_crawl_at(tmp_path, stories)
            committed = assert_store_whole(tmp_path, committed)
            assert len(committed) >= stories
            assert_feeds_whole(tmp_path)
            if point and point <= len(BUILD_KILLS):  # the store has grown since the last build: every feed changes
                interrupted.append(kill_build_after(tmp_path, BUILD_KILLS[point - 1]))
                committed = assert_store_whole(tmp_path, committed)
                assert assert_feeds_whole(tmp_path) > 0
        final = run_cli("once", cwd=tmp_path)
        assert final.code == 0, final.stderr[-2000:]
        base = server.base
    ids = assert_store_whole(tmp_path, committed)
    assert len(ids) == expected, final.stderr[-3000:]
    assert interrupted.count(True) >= 2, "the builds finished before their kill points"
    assert assert_feeds_whole(tmp_path) > 10
    assert not list((tmp_path / "public").glob(".*.tmp")), "the last build left temporary files"
    links = [e.link for e in feedparser.parse((tmp_path / "public" / "all.atom").read_bytes()).entries]
    assert sorted(links) == sorted({base + a.path for a in site.stories()})


def test_sqlite_store_runs_wal_with_synchronous_normal(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'refeed.sqlite3'}")
    try:
        with store.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() in (1, 2, 3)  # NORMAL, FULL or EXTRA
    finally:
        store.close()
    with sqlite3.connect(tmp_path / "refeed.sqlite3") as plain:  # WAL is a property of the file itself
        assert plain.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_batch_commits_at_most_50_items_or_1_second_of_work(tmp_path):
    from crawler import settings

    assert settings.REFEED_BATCH_ITEMS <= 50 and settings.REFEED_BATCH_SECONDS <= 1.0
    store = Store(f"sqlite:///{tmp_path / 'refeed.sqlite3'}")
    batch = Batch(store, max_items=3, max_seconds=3600)

    def visible() -> int:
        with sqlite3.connect(tmp_path / "refeed.sqlite3", timeout=30) as other:
            return other.execute("SELECT count(*) FROM http_validators").fetchone()[0]

    try:
        for n in range(1, 4):
            queries.remember_validators(batch.conn, f"http://lt.test/{n}", None, None, [])
            batch.wrote()
            batch.done()  # after each page: committed when due
            assert visible() == (3 if n == 3 else 0)
        queries.remember_validators(batch.conn, "http://lt.test/4", None, None, [])
        batch.wrote()
        batch.opened -= 3600  # as if the batch had been open for max_seconds
        batch.commit_if_due()
        assert visible() == 4
    finally:
        batch.close()


class FailsOnMarkedPages(StorePipeline):
    """Store, failing on the pages in FAILING after it wrote them, with a statement the database refuses (on
    PostgreSQL that aborts the whole transaction), as a full disk or a driver error would."""

    def store(self, item):
        item = super().store(item)
        if item.url in FAILING:
            self.batch.conn.exec_driver_sql("SELECT * FROM no_such_table")
        return item


FAILING: set[str] = set()


LT = "http://lt.test"  # where the sample site's pages are said to come from in the page-work tests below


def _article_jobs(sample_site, count: int, validators: bool = False) -> list[tuple[str, tuple]]:
    """(URL, `prepare` arguments) of the sample site's `count` newest stories, as the spider hands them over, and
    the validators it gives the item (an ETag to remember for each when `validators`)."""
    from crawler.config import SourceConfig
    from crawler.parsers import LimitedTimesParser

    source = SourceConfig(name="lt", spider="limitedtimes", start_urls=(LT + "/",))
    jobs = []
    for n, story in enumerate(sample_site.stories()[:count]):
        url = LT + story.path
        _status, headers, body = sample_site.render(story.path, LT)
        remember = (url, f'"v{n}"', None) if validators else None
        jobs.append((url, ((LimitedTimesParser(source), url, body, headers["Content-Type"], 200_000), remember)))
    return jobs


def _item_path(store_url: str, store_stage: type):
    """(crawler, [Deduplicate, `store_stage`]) as a crawl builds its item pipeline, with one batch for everything
    (committed only when closed), on this store."""
    from scrapy.utils.test import get_crawler

    from crawler.pipelines import DeduplicatePipeline

    crawler = get_crawler(settings_dict={"REFEED_STORE_URL": store_url, "REFEED_BATCH_SECONDS": 3600})
    return crawler, [DeduplicatePipeline.from_crawler(crawler), store_stage.from_crawler(crawler)]


async def _through(stages: list, job: tuple):
    """One page's work as a crawl does it: prepared (here, inline), then the item through the store's stages."""
    from crawler.pagepool import prepare

    args, remember = job
    item = prepare(*args).item
    item.validators = remember
    for stage in stages:
        item = await stage.process_item(item)
    return item


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'refeed.sqlite3'}"
        return
    from test_store_postgres import fresh_database

    with fresh_database() as url:
        yield url


def test_an_article_whose_pipeline_fails_is_undone_alone_and_the_batch_goes_on(store_url, sample_site):
    """Twelve articles in one batch, the 3rd and 8th failing after their story was written: those two leave no
    row behind (story, URLs, bands, validators: the next run asks for them again in full), the ten others are
    stored whole, and what a failed article counted is not in the crawl's figures."""
    from sqlalchemy.exc import DBAPIError

    jobs = _article_jobs(sample_site, 12, validators=True)
    urls = [url for url, _job in jobs]
    FAILING.clear()
    FAILING.update({urls[2], urls[7]})
    crawler, stages = _item_path(store_url, FailsOnMarkedPages)
    batch = stages[0].batch

    async def crawl():
        for url, job in jobs:
            if url in FAILING:
                with pytest.raises(DBAPIError, match="no_such_table"):
                    await _through(stages, job)
            else:
                await _through(stages, job)
        if batch.sqlite:  # one batch indeed: nothing is committed before it is due (on PostgreSQL each article is)
            assert _committed_stories(store_url) == 0
        await stages[1].close_spider()

    try:
        asyncio.run(crawl())
    finally:
        FAILING.clear()
        batch.close()
    assert crawler.stats.get_value("refeed/new") == 10
    store = Store(store_url)
    try:
        with store.connect() as conn:
            assert store.count_stories() == 10
            for n, url in enumerate(urls):
                failed = n in (2, 7)
                assert (queries.story_for_url(conn, url) is None) == failed, url
                assert (queries.validators_for(conn, url) is None) == failed, url
            orphans = {
                table: conn.exec_driver_sql(f"SELECT count(*) FROM {table} WHERE story_id NOT IN (SELECT id FROM stories)").scalar()
                for table in ("story_urls", "near_bands", "url_keys", "lead_keys")
            }
            assert orphans == dict.fromkeys(orphans, 0)
            assert conn.exec_driver_sql("SELECT count(DISTINCT story_id) FROM near_bands").scalar() == 10
    finally:
        store.close()


def _committed_stories(sqlite_url: str) -> int:
    with sqlite3.connect(sqlite_url.removeprefix("sqlite:///"), timeout=30) as other:
        return other.execute("SELECT count(*) FROM stories").fetchone()[0]


def test_an_sqlite_batch_waits_for_another_writer_instead_of_failing(tmp_path):
    """Another connection (a crawl of another source) writes between an article's first read and its first
    write: it waits for this batch, and this batch's write goes through. With a deferred transaction the read
    took a snapshot that the other commit made stale, and the write failed at once ('database is locked')."""
    url = f"sqlite:///{tmp_path / 'refeed.sqlite3'}"
    batch, other = Batch(Store(url), max_items=50, max_seconds=3600), Store(url)
    finished = threading.Event()

    def other_crawl():
        other.start_run("other")
        finished.set()

    writer = threading.Thread(target=other_crawl)
    try:
        with batch.article():
            assert queries.story_for_url(batch.conn, "http://lt.test/a.html") is None  # a read first, as Deduplicate's
            writer.start()
            assert not finished.wait(1.0)  # it waits for this batch's turn to end
            queries.remember_validators(batch.conn, "http://lt.test/", '"v1"', None, [])
            batch.wrote()
    finally:
        batch.close()
        writer.join(30)
    assert finished.is_set()
    with other.connect() as conn:
        assert queries.validators_for(conn, "http://lt.test/").etag == '"v1"'
    assert [run["source"] for run in other.last_runs()] == ["other"]
    other.close()


def test_a_postgresql_batch_keeps_no_transaction_open_after_an_article_that_wrote_nothing():
    """A page dropped before it wrote (no title, a known duplicate) ends its transaction: a session left idle in
    a transaction holds a snapshot, and servers with idle_in_transaction_session_timeout kill it."""
    from sqlalchemy import text
    from test_store_postgres import fresh_database

    with fresh_database() as url:
        batch, watcher = Batch(Store(url)), Store(url)
        try:
            with batch.article():
                backend = batch.conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
                assert queries.story_for_url(batch.conn, "http://lt.test/a.html") is None
            with watcher.connect() as conn:
                state = conn.execute(text("SELECT state FROM pg_stat_activity WHERE pid = :pid"), {"pid": backend}).scalar()
            assert state == "idle"
        finally:
            batch.close()
            watcher.close()


class RollsTheStoreBack(StorePipeline):
    """Store, failing as SQLite does on a full disk or an I/O error: it has rolled the whole transaction back itself."""

    def store(self, item):
        item = super().store(item)
        if item.url in FAILING:
            self.batch.conn.connection.driver_connection.execute("ROLLBACK")
            raise sqlite3.OperationalError("database or disk is full")
        return item


def test_a_batch_that_sqlite_rolled_back_says_so_and_goes_on(tmp_path, sample_site, caplog):
    """The error told is the store's own (not 'no such savepoint'), the batch knows it is lost (what it held is
    not stored; the next run fetches those pages again), and the next article is stored."""
    url = f"sqlite:///{tmp_path / 'refeed.sqlite3'}"
    jobs = _article_jobs(sample_site, 4)
    urls = [page_url for page_url, _job in jobs]
    FAILING.clear()
    FAILING.add(urls[2])
    _crawler, stages = _item_path(url, RollsTheStoreBack)
    batch = stages[0].batch

    async def crawl():
        for n, (_page_url, job) in enumerate(jobs):
            if n == 2:
                with pytest.raises(sqlite3.OperationalError, match="disk is full"):
                    await _through(stages, job)
                assert batch.lost and batch.pending == 0
                assert "rolled back its open batch (a statement failed): 3 articles or pages" in caplog.text  # 2 before, its own
            else:
                await _through(stages, job)
        await stages[1].close_spider()

    try:
        asyncio.run(crawl())
    finally:
        FAILING.clear()
        batch.close()
    with sqlite3.connect(tmp_path / "refeed.sqlite3") as db:
        assert [row[0] for row in db.execute("SELECT url FROM stories")] == [urls[3]]  # 1 and 2 went with the batch


def test_a_batch_whose_commit_fails_is_lost_whole_and_the_next_batch_works(tmp_path):
    """A COMMIT that fails (here a deferred foreign key; on a full disk SQLite rolls back by itself) loses the
    whole batch, says so, counts nothing as pending, and leaves a connection the next batch can use."""
    from sqlalchemy.exc import IntegrityError

    url = f"sqlite:///{tmp_path / 'refeed.sqlite3'}"
    batch = Batch(Store(url), max_items=50, max_seconds=3600)
    try:
        with batch.article():
            queries.remember_validators(batch.conn, "http://lt.test/a/", '"v1"', None, [])
            batch.wrote()
        with batch.article():
            batch.conn.exec_driver_sql("PRAGMA defer_foreign_keys = ON")  # checked at COMMIT, which then fails
            batch.conn.exec_driver_sql("INSERT INTO story_urls (url, story_id, first_seen) VALUES ('http://lt.test/x.html', 'nosuchstory', '2024-01-01 00:00:00')")
            batch.wrote()
        with pytest.raises(IntegrityError):
            batch.commit()
        assert batch.lost and batch.pending == 0
        with batch.article():
            queries.remember_validators(batch.conn, "http://lt.test/b/", '"v2"', None, [])
            batch.wrote()
    finally:
        batch.close()
    with sqlite3.connect(tmp_path / "refeed.sqlite3") as db:
        assert [row[0] for row in db.execute("SELECT url FROM http_validators")] == ["http://lt.test/b/"]
        assert db.execute("SELECT count(*) FROM story_urls").fetchone()[0] == 0


def test_writers_kept_out_past_busy_timeout_try_again_instead_of_failing(tmp_path, monkeypatch, caplog):
    """SQLite queues no writers: another crawl's batches can keep a run record or a second batch out past
    busy_timeout (0.1 s here, 30 s in use). They try again until the lock is free, and nothing is lost."""
    from crawler.store import contention

    monkeypatch.setattr(contention, "BUSY_TIMEOUT", 0.1)
    url = f"sqlite:///{tmp_path / 'refeed.sqlite3'}"
    busy, runs, second = Batch(Store(url), max_items=50, max_seconds=3600), Store(url), Batch(Store(url), max_items=50, max_seconds=3600)
    results = []

    def another_batch():
        with second.article():
            queries.remember_validators(second.conn, "http://two.test/", '"v2"', None, [])
            second.wrote()
        second.commit()
        results.append("batch")

    try:
        with busy.article():  # holds the write lock until it commits
            queries.remember_validators(busy.conn, "http://one.test/", '"v1"', None, [])
            busy.wrote()
        writers = [threading.Thread(target=lambda: results.append(runs.start_run("other"))), threading.Thread(target=another_batch)]
        for writer in writers:
            writer.start()
        deadline = time.monotonic() + 30
        while caplog.text.count("busy with another writer") < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert caplog.text.count("busy with another writer") >= 2 and results == []  # both past their busy_timeout
        busy.commit()
        for writer in writers:
            writer.join(30)
    finally:
        busy.close()
        second.close()
    assert sorted(map(str, results)) == ["1", "batch"]
    with runs.connect() as conn:
        assert queries.validators_for(conn, "http://two.test/").etag == '"v2"'
    runs.close()
