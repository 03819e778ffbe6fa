"""The store on a real PostgreSQL: the dedup tests again, types, concurrent writers and collisions (a fresh database each)."""

from __future__ import annotations

import os
import threading
import uuid
from contextlib import contextmanager
from datetime import UTC, datetime

import pytest
from dedup_pairs import Pipeline, Text, article
from scrapy.exceptions import DropItem
from scrapy.utils.test import get_crawler

# The dedup tests that run through the `pipeline` fixture, collected again here against PostgreSQL.
from test_dedup import (  # noqa: F401
    test_different_stories_sharing_headline_and_lede_stay_apart,
    test_same_text_under_other_url_and_publisher_merges_into_earliest,
    test_teaser_after_full_text_is_dropped,
    test_teaser_first_is_completed_by_full_text_in_place,
    test_url_spellings_are_one_story,
    texts,
)

from crawler.canonical import canonicalize
from crawler.cleaning import CanonicalizePipeline, CleanPipeline, SanitizePipeline, content_hash
from crawler.pipelines import DeduplicatePipeline, StorePipeline
from crawler.store import Store, queries, story_id_for, utcnow

POSTGRES = os.environ.get("REFEED_TEST_POSTGRES", "host=127.0.0.1 port=5432 user=postgres dbname=test")
REDIS = os.environ.get("REFEED_TEST_REDIS", "redis://127.0.0.1:6379/0")


def unavailable(service: str, exc: Exception):
    if os.environ.get("REFEED_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{service} is required (REFEED_REQUIRE_SERVICES=1) but not reachable: {exc}")
    pytest.skip(f"{service} not reachable on 127.0.0.1 ({exc}); set REFEED_REQUIRE_SERVICES=1 to make this a failure")


@contextmanager
def fresh_database():
    """A new, empty PostgreSQL database as an SQLAlchemy URL; dropped afterwards (with whoever is still connected)."""
    import psycopg

    try:
        admin = psycopg.connect(POSTGRES, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        unavailable("PostgreSQL", exc)
    name = f"refeed_test_{uuid.uuid4().hex[:12]}"
    info = admin.info
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://{info.user}@{info.host}:{info.port}/{name}"
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def redis_or_skip():
    """A Redis client on the test server, and a key prefix nobody else uses."""
    import redis

    client = redis.Redis.from_url(REDIS, socket_connect_timeout=5)
    try:
        client.ping()
    except redis.RedisError as exc:
        unavailable("Redis", exc)
    return client, f"refeed-test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def postgres_url():
    with fresh_database() as url:
        yield url


class PgPipeline(Pipeline):
    """dedup_pairs.Pipeline on a PostgreSQL store."""

    def __init__(self, url: str):
        crawler = get_crawler(settings_dict={"REFEED_STORE_URL": url})
        self.dedup = DeduplicatePipeline.from_crawler(crawler)
        self.store = StorePipeline.from_crawler(crawler)
        self.stages = [CleanPipeline(), SanitizePipeline(), CanonicalizePipeline(), self.dedup, self.store]


@pytest.fixture
def pipeline(postgres_url):
    p = PgPipeline(postgres_url)
    yield p
    p.close()


def test_schema_is_versioned_and_created_once_by_concurrent_starts(postgres_url):
    errors = []

    def start():
        try:
            Store(postgres_url).close()
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    store = Store(postgres_url)
    try:
        with store.connect() as conn:
            from crawler.store import SCHEMA_VERSION, meta

            rows = conn.execute(meta.select().where(meta.c.key == "schema_version")).all()
        assert [r.value for r in rows] == [str(SCHEMA_VERSION)]
    finally:
        store.close()


def test_types_round_trip(pipeline, texts):  # noqa: F811 - the fixture imported above
    first = pipeline.feed(article(texts[0], "https://example.com/news/ünïcode-story.html", 0))
    story = pipeline.story(first)
    assert story.published.tzinfo is not None and story.published.utcoffset().total_seconds() == 0
    assert isinstance(story.signature, bytes) and len(story.signature) == 128 * 4
    assert story.topics == [texts[0].section] and story.publishers == [texts[0].publisher]
    from crawler.store import near_bands

    bands = pipeline.dedup.batch.conn.execute(near_bands.select().where(near_bands.c.story_id == first)).all()
    assert len(bands) == 32 and any(b.hash < 0 for b in bands)  # signed 64-bit band hashes fit BIGINT
    store = pipeline.dedup.batch.store
    (exported,) = [a for a in store.articles() if a["id"] == first]
    assert exported["urls"] == [canonicalize("https://example.com/news/ünïcode-story.html")] == [story.url]
    other_spelling = story.url.replace("https://", "http://www.") + "/"
    assert store.known_urls([other_spelling]) == {other_spelling}
    run = store.start_run("pairs")
    store.finish_run(run, outcome="ok", pages=3, new=1)
    assert store.last_runs()[0]["outcome"] == "ok" and store.last_runs()[0]["started"] <= utcnow()


def test_a_known_url_is_told_apart_from_a_new_one(pipeline, texts):  # noqa: F811
    """add_url's answer comes from its upsert's rowcount, which psycopg gives only when SQLAlchemy keeps it."""
    story = pipeline.feed(article(texts[0], "https://a.example/1.html", 0))
    conn, now = pipeline.dedup.batch.conn, utcnow()
    assert not queries.add_url(conn, story, "https://a.example/1.html", now)
    assert queries.add_url(conn, story, "https://b.example/1.html", now)
    assert not queries.add_url(conn, story, "https://b.example/1.html", now)
    queries.remember_validators(conn, "https://a.example/", '"v1"', None, [["a", "https://a.example/1.html"]])
    queries.remember_validators(conn, "https://a.example/", '"v2"', "Tue, 01 Feb 2022 10:00:00 GMT", [])
    remembered = queries.validators_for(conn, "https://a.example/")
    assert (remembered.etag, remembered.last_modified, remembered.links) == ('"v2"', "Tue, 01 Feb 2022 10:00:00 GMT", [])


def test_a_story_stored_meanwhile_by_another_worker_merges_and_loses_nothing(postgres_url, texts):  # noqa: F811
    """A unique-key collision with a concurrent writer undoes only that item's writes, which then merge."""
    worker = PgPipeline(postgres_url)
    other = Store(postgres_url)
    try:
        kept = worker.feed(article(texts[1], "https://a.example/kept.html", 0))
        conn = worker.dedup.batch.conn
        queries.remember_validators(conn, "https://a.example/", '"v1"', None, [["a", "https://a.example/kept.html"]])
        worker.dedup.batch.wrote()
        item = article(texts[2], "https://a.example/raced.html", 1)
        for stage in worker.stages[:3]:
            item = stage.process_item(item)
        item = worker.dedup.deduplicate(item)  # checked: new
        with other.engine.begin() as racer:  # …while another worker stores it first (without waiting for the lock)
            row = _row(item, "https://a.example/raced.html")
            queries.insert_story(racer, row, [])
        with pytest.raises(DropItem, match="duplicate of"):
            worker.store.store(item)
        worker.dedup.batch.commit()
        with other.connect() as check:
            assert queries.validators_for(check, "https://a.example/").etag == '"v1"'
            assert queries.story_for_url(check, "https://a.example/kept.html") == kept
            assert queries.story_for_url(check, "https://a.example/raced.html") == story_id_for("https://a.example/raced.html")
        assert other.count_stories() == 2
    finally:
        worker.close()
        other.close()


def test_two_workers_storing_the_same_stories_at_once_store_each_once(postgres_url, texts):  # noqa: F811
    """Two pipelines (two connections, as two workers) get the same stories under other URLs at the same moment."""
    stories = texts[:8]
    barrier = threading.Barrier(2)
    errors = []

    def work(name: str, order: list[int]):
        pipeline = PgPipeline(postgres_url)
        try:
            barrier.wait()
            for n in order:
                copy = Text(stories[n].title, stories[n].blocks, stories[n].publisher, stories[n].section)
                pipeline.feed(article(copy, f"https://{name}.example/{n}.html", n))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            pipeline.close()

    threads = [
        threading.Thread(target=work, args=("one", list(range(8)))),
        threading.Thread(target=work, args=("two", list(range(8)))),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    store = Store(postgres_url)
    try:
        stored = list(store.articles())
    finally:
        store.close()
    assert len(stored) == len(stories)
    for item in stored:
        assert len(item["urls"]) == 2 and {u.split("/")[2] for u in item["urls"]} == {"one.example", "two.example"}


def _row(item, url: str) -> dict:
    now = datetime.now(UTC)
    return {
        "id": story_id_for(url), "url": url, "site": "racer", "title": item.title, "published": now, "updated": now, "first_seen": now,
        "publishers": [], "authors": [], "topics": [], "summary": "", "content_html": item.content_html, "content_text": item.content_text,
        "fingerprint": item.fingerprint, "content_hash": content_hash(item),
    }


def test_a_crawls_source_lock_is_seen_held_without_taking_it():
    from crawler.locks import SourceLock
    from crawler.runstate import mark_interrupted

    with fresh_database() as url, fresh_database() as other:
        crawl, look, elsewhere = SourceLock(url, "wire"), SourceLock(url, "wire"), SourceLock(other, "wire")
        try:
            assert look.held() is False
            assert crawl.acquire()
            assert look.held() is True
            assert elsewhere.held() is False  # advisory locks are per database
            assert not look.acquire()  # the look took nothing: the crawl still has it
            runs = [{"source": "wire", "outcome": "running"}]
            assert mark_interrupted(url, runs)[0]["outcome"] == "running"
            crawl.release()
            assert mark_interrupted(url, runs)[0]["outcome"] == "interrupted"
        finally:
            for lock in (crawl, look, elsewhere):
                lock.release()
