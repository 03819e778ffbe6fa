"""Distributed mode on the real Redis and PostgreSQL: worker processes crawl the sample site's rounds together."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import feedparser
import pytest
from conftest import ROOT, run_cli, write_config
from test_store_postgres import REDIS, fresh_database, redis_or_skip

from crawler.demo.cluster import Workers, after_paths, article_gets, generic_config, killed_round, random_victims
from crawler.spiders.limitedtimes import ARTICLE_PATH


def distributed_config(directory: Path, site_url: str, store_url: str, prefix: str) -> Path:
    path = write_config(directory, site_url)
    text = path.read_text(encoding="utf-8")
    text = text.replace('url = "sqlite:///data/refeed.sqlite3"', f'url = "{store_url}"')
    text = text.replace("[crawl]\nconcurrency = 8", f'[crawl]\nconcurrency = 8\nredis_url = "{REDIS}"\nredis_prefix = "{prefix}"')
    path.write_text(text, encoding="utf-8")
    return path


def entries(directory: Path, name: str, republished: set[str]) -> tuple[list[tuple[str, str, str]], int]:
    """(id, link, title) of a feed's entries in order, but for the story republished by a second publisher, only
    counted: it is one story whichever copy was stored first (crawl order decides, on one machine too)."""
    parsed = feedparser.parse((directory / "public" / name).read_bytes())
    assert parsed.bozo == 0, (name, parsed.get("bozo_exception"))
    found = [(e.id, e.link, e.title) for e in parsed.entries]
    return [e for e in found if e[1] not in republished], sum(e[1] in republished for e in found)


@pytest.fixture(scope="module")
def crawled(tmp_path_factory, sample_site):
    """The sample site crawled once on one machine (SQLite), then by two workers in two rounds (PostgreSQL)."""
    from crawler.demo.server import SampleSiteServer

    client, prefix = redis_or_skip()
    single = tmp_path_factory.mktemp("single")
    shared = tmp_path_factory.mktemp("distributed")
    with fresh_database() as store_url, SampleSiteServer(sample_site) as server:
        distributed_config(shared, server.url, store_url, prefix)
        workers = Workers(shared, 2, prefix, client)  # they start up while the single-machine crawl runs
        try:
            write_config(single, server.url)
            alone = run_cli("once", cwd=single)
            assert alone.code == 0, alone.stderr[-3000:]
            requests_single = list(server.requests)
            server.requests.clear()
            workers.wait_ready(2)
            first = run_cli("once", cwd=shared, timeout=240)
            requests_first = list(server.requests)
            status = run_cli("status", "--json", cwd=shared)
            files = {p.name: p.read_bytes() for p in (shared / "public").iterdir()}
            server.requests.clear()
            second = run_cli("once", cwd=shared, timeout=240)
            requests_second = list(server.requests)
            status_text = run_cli("status", cwd=shared)
            export = run_cli("export", cwd=shared)
        finally:
            codes = workers.stop()
            logs = workers.output()
        base = server.base
    yield {
        "single": single, "shared": shared, "first": first, "second": second, "status": status, "status_text": status_text,
        "requests_single": requests_single, "requests_first": requests_first, "requests_second": requests_second,
        "files": files, "export": export, "codes": codes, "logs": logs, "base": base,
    }
    client.delete(*client.keys(f"{prefix}:*") or ["-"])


def test_once_seeds_a_round_and_the_workers_drain_it(crawled):
    first = crawled["first"]
    assert first.code == 0, first.stderr[-3000:] + crawled["logs"]
    assert "round 1 seeded" in first.stderr and "limitedtimes" in first.stderr
    assert crawled["codes"] == [0, 0], crawled["logs"]  # SIGTERM stops a worker cleanly


def test_every_article_is_fetched_exactly_once_across_both_workers(crawled):
    fetched = article_gets(crawled["requests_first"])
    assert fetched and set(fetched.values()) == {1}, [p for p, n in fetched.items() if n > 1]
    assert set(fetched) == set(article_gets(crawled["requests_single"]))  # every article page the single run fetched


def test_both_workers_took_part_and_status_shows_them(crawled):
    status = json.loads(crawled["status"].stdout)
    assert len(status["workers"]) == 2
    assert all(w["sources"]["limitedtimes"]["pages"] > 10 for w in status["workers"]), status["workers"]
    assert status["queues"]["limitedtimes"] == {"round": 1, "start": 0, "queued": 0, "busy": []}
    text = crawled["status_text"].stdout
    assert "worker" in text and "queue" in text and "limitedtimes" in text


def test_store_holds_each_story_once(crawled, sample_site):
    stored = [json.loads(line) for line in crawled["export"].stdout.splitlines()]
    assert len(stored) == len({a["id"] for a in stored}) == len(sample_site.stories())
    urls = [u for a in stored for u in a["urls"]]
    assert len(urls) == len(set(urls))


def test_feeds_equal_those_of_a_single_machine_run(crawled, sample_site):
    copy = next(a for a in sample_site.articles if a.republishes)
    republished = {crawled["base"] + copy.path, crawled["base"] + sample_site.by_shortid(copy.republishes).path}
    names = ["all.atom", *(f"{section}.atom" for section in sample_site.sections)]
    for name in names:
        assert entries(crawled["shared"], name, republished) == entries(crawled["single"], name, republished), name
    def published(directory):
        return sorted(p.name for p in (directory / "public").iterdir() if not p.name.startswith("."))
    assert published(crawled["shared"]) == published(crawled["single"])


def test_a_second_round_asks_again_conditionally_and_changes_nothing(crawled):
    second = crawled["second"]
    assert second.code == 0, second.stderr[-3000:]
    def listings(requests):
        return {p for m, p, s in requests if not ARTICLE_PATH.match(urlsplit(p).path) and p != "/robots.txt"}
    assert listings(crawled["requests_second"]) == listings(crawled["requests_first"])  # the seen set was new: every listing again
    assert not article_gets(crawled["requests_second"])  # …and no article downloaded again
    assert {s for m, p, s in crawled["requests_second"] if p != "/robots.txt"} == {304}
    assert {p.name: p.read_bytes() for p in (crawled["shared"] / "public").iterdir()} == crawled["files"]


def test_a_killed_worker_loses_no_article(tmp_path, sample_site):
    """SIGKILL one of two workers mid-round: the other drains the queue; what the dead one held, the next round fetches."""
    from crawler.demo.server import SampleSiteServer

    site = sample_site
    client, prefix = redis_or_skip()
    with fresh_database() as store_url, SampleSiteServer(site) as server:
        distributed_config(tmp_path, server.url, store_url, prefix)
        workers = Workers(tmp_path, 2, prefix, client)
        try:
            workers.wait_ready(2)
            env = {**os.environ, "PYTHONUNBUFFERED": "1"}
            once = subprocess.Popen([sys.executable, str(ROOT / "scheduler.py"), "once"], cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True)
            deadline = time.monotonic() + 60
            while sum(article_gets(server.requests).values()) < 40:
                assert time.monotonic() < deadline and once.poll() is None, workers.output()
                time.sleep(0.05)
            workers.processes[0].kill()
            _, stderr = once.communicate(timeout=120)
            assert once.returncode == 0, stderr[-3000:]
            assert "stopped beating" in stderr  # its pages in flight were given up, not waited for
            again = run_cli("once", cwd=tmp_path, timeout=120)  # the next round, on the survivor
            assert again.code == 0, again.stderr[-3000:]
            export = run_cli("export", cwd=tmp_path)
        finally:
            workers.stop()
    stored = [json.loads(line) for line in export.stdout.splitlines()]
    assert len(stored) == len({a["id"] for a in stored}) == len(site.stories())
    links = [e.link for e in feedparser.parse((tmp_path / "public" / "all.atom").read_bytes()).entries]
    assert len(links) == len(set(links)) == len(site.stories())
    client.delete(*client.keys(f"{prefix}:*") or ["-"])


def test_workers_killed_at_random_over_rounds_lose_no_story(tmp_path, small_site):
    """Generic spider, three workers; each round SIGKILLs one or more, chosen at random, while listings are in
    flight, and starts others in their place. After one more round, every story of the site is stored exactly once: a page the dead worker held is
    found again from any listing that carries it (each listing remembers every link, also those asked elsewhere)."""
    import random

    from crawler.demo.server import SampleSiteServer

    rng = random.Random(15)
    client, prefix = redis_or_skip()
    with fresh_database() as store_url, SampleSiteServer(small_site) as server:
        generic_config(tmp_path, server.url, store_url, REDIS, prefix)
        workers = Workers(tmp_path, 3, prefix, client)
        try:
            workers.wait_ready(3)
            for _ in range(3):
                server.requests.clear()
                moment = after_paths(rng.randrange(1, 4), "?page=")  # listings in flight: further pages of sections asked
                code, stderr, _ = killed_round(workers, server.requests, moment, random_victims(rng, len(workers.processes)))
                assert code in (0, 1), stderr[-3000:]  # a round that lost its only listing may find nothing new
            last = run_cli("once", cwd=tmp_path, timeout=180)
            assert last.code == 0, last.stderr[-3000:]
            export = run_cli("export", cwd=tmp_path)
        finally:
            workers.stop()
            client.delete(*client.keys(f"{prefix}:*") or ["-"])
    stored = [json.loads(line) for line in export.stdout.splitlines()]
    assert len(stored) == len({a["id"] for a in stored}) == len(small_site.stories())


def test_a_link_the_killed_worker_held_is_asked_again_from_a_listing_that_carries_it(tmp_path):
    """Issue 15's finding 1, step by step, on one worker: it reads article Y, which links X, then listing L, which
    links X too, and is SIGKILLed while X is in flight. Next round L answers 304 and replays its links: X must be
    among them although this worker had queued X from Y before it read L. (Y, a stored article, answers 304 and
    follows nothing.) Before L remembered every link it carries, X was never asked again."""
    import threading

    import psycopg
    from local_pages import PageServer, page

    html = "text/html; charset=utf-8"
    links = "".join(f'<p><a href="/{name}.html">{name}</a></p>' for name in ("y", "list"))
    pages = {
        "/": (html, f"<html><body><h1>Home</h1>{links}</body></html>".encode()),
        "/y.html": (html, page("de_article.html").replace(b"</article>", b'<p><a href="/x.html">More</a></p></article>', 1)),
        "/list.html": (html, b'<html><body><h1>List</h1><p><a href="/x.html">X</a></p><p><a href="/y.html">Y</a></p></body></html>'),
        "/x.html": (html, page("es_article.html")),
    }
    list_answers = threading.Event()
    client, prefix = redis_or_skip()
    with fresh_database() as store_url, PageServer(pages, trickle={"/x.html"}, held={"/list.html": list_answers}, etags=True) as server:
        generic_config(tmp_path, server.url, store_url, REDIS, prefix)
        workers = Workers(tmp_path, 1, prefix, client)
        database = psycopg.connect(store_url.replace("+psycopg", ""), autocommit=True)

        def list_remembered(requests) -> bool:
            if "/x.html" in requests:  # Y was read, X is in flight: now L
                list_answers.set()
            return database.execute("SELECT 1 FROM http_validators WHERE url = %s", (server.url + "list.html",)).fetchone() is not None

        try:
            workers.wait_ready(1)
            code, stderr, mid_round = killed_round(workers, server.requests, list_remembered, [0])
            assert mid_round and "stopped beating" in stderr, stderr[-3000:]
            server.trickle.clear()
            server.requests.clear()
            again = run_cli("once", cwd=tmp_path, timeout=120)
            assert again.code == 0, again.stderr[-3000:]
            export = run_cli("export", cwd=tmp_path)
        finally:
            database.close()
            workers.stop()
            client.delete(*client.keys(f"{prefix}:*") or ["-"])
    assert sorted(server.requests) == ["/", "/list.html", "/x.html", "/y.html"]  # / and L answer 304, Y too (a leaf)
    assert sorted(url for line in export.stdout.splitlines() for url in json.loads(line)["urls"]) == [server.url + "x.html", server.url + "y.html"]
