"""Deduplication layers through the real pipeline stages and store: URLs, exact text, near text, teasers, restarts."""

from __future__ import annotations

import random
import sqlite3
from datetime import UTC, datetime

import pytest
from dedup_pairs import Pipeline, Text, article, material, teaser
from hypothesis import given, settings
from hypothesis import strategies as st

from crawler.canonical import match_key
from crawler.dedup import (
    CONTAINED,
    MIN_CONTAINED_WORDS,
    OVERLAP,
    SAME_TEXT,
    SHINGLE,
    TITLE_AGREES,
    compare,
    exact_fingerprint,
    lead_keys,
    looks_truncated,
    near_signature,
    probe_keys,
    shingles,
    title_similarity,
    tokens,
)
from crawler.store import Store, queries, story_id_for


@pytest.fixture(scope="module")
def texts():
    stories = [t for t in material() if t.words > 250]
    return stories[:12]


@pytest.fixture
def pipeline(tmp_path):
    p = Pipeline(tmp_path)
    yield p
    p.close()


def test_url_spellings_are_one_story(pipeline, texts):
    first = pipeline.feed(article(texts[0], "https://www.example.com/news/story/", 0))
    for n, spelling in enumerate(("http://example.com/news/story", "https://example.com/news/story?utm_source=rss")):
        copy = article(texts[1], spelling, n + 1)  # even with other text: the URL says it is the same page
        assert pipeline.feed(copy) == first
    assert pipeline.story(first).url == "https://www.example.com/news/story/"  # the real canonical URL stays for links


def test_same_text_under_other_url_and_publisher_merges_into_earliest(pipeline, texts):
    first = pipeline.feed(article(texts[0], "https://a.example/1.html", 0))
    copy = article(texts[0], "https://b.example/politics/1.html", 5)
    copy.publisher, copy.topics = "zeit", ["politics"]
    assert pipeline.feed(copy) == first
    story = pipeline.story(first)
    assert story.url == "https://a.example/1.html"
    assert story.publishers == [texts[0].publisher, "zeit"] and "politics" in story.topics


def test_teaser_first_is_completed_by_full_text_in_place(pipeline, texts):
    short = teaser(random.Random(1), texts[2])
    first = pipeline.feed(article(short, "https://feed.example/t.html", 0))
    assert pipeline.feed(article(texts[2], "https://site.example/full.html", 1)) == first
    story = pipeline.story(first)
    assert story.url == "https://feed.example/t.html"
    assert len(story.content_text.split()) == texts[2].words


def test_teaser_after_full_text_is_dropped(pipeline, texts):
    first = pipeline.feed(article(texts[3], "https://site.example/full.html", 0))
    assert pipeline.feed(article(teaser(random.Random(2), texts[3]), "https://feed.example/t.html", 1)) == first
    assert len(pipeline.story(first).content_text.split()) == texts[3].words


def test_index_lives_in_the_store_across_restarts(tmp_path, texts):
    one = Pipeline(tmp_path)
    first = one.feed(article(texts[4], "https://a.example/x.html", 0))
    one.close()
    two = Pipeline(tmp_path)  # a new process would see the same
    edited = texts[4].blocks[:-1] + (("p", "An added closing line with a correction of the figures given above."),)
    try:
        assert two.feed(article(Text(texts[4].title.upper(), edited, "zeit", "world"), "https://b.example/y.html", 1)) == first
    finally:
        two.close()


def test_keys_are_filled_for_a_store_made_before_them(tmp_path, texts):
    pipeline = Pipeline(tmp_path)
    first = pipeline.feed(article(texts[5], "https://www.example.com/old/", 0))
    pipeline.close()
    with sqlite3.connect(tmp_path / "refeed.sqlite3") as db:
        db.execute("DELETE FROM url_keys")
        db.execute("DELETE FROM lead_keys")
        db.execute("DELETE FROM refeed_meta WHERE key = 'dedup_keys'")
    store = Store(f"sqlite:///{tmp_path}/refeed.sqlite3")
    try:
        assert store.known_urls(["http://example.com/old"]) == {"http://example.com/old"}
        with store.connect() as conn:
            assert queries.story_for_url(conn, "https://example.com/old") == first
            assert queries.lead_candidates(conn, lead_keys(texts[5].title, texts[5].text)) == [first]
    finally:
        store.close()


def test_candidates_in_one_query_are_those_of_both_indexes(pipeline, texts):
    for n, text in enumerate(texts[:6]):
        pipeline.feed(article(text, f"https://a.example/{n}.html", n))
    conn = pipeline.dedup.batch.conn
    rng = random.Random(3)
    for text in texts[:8]:
        for probe in (text, teaser(rng, text)):
            signature, keys = near_signature(probe.text), probe_keys(probe.title, probe.text)
            bands = signature.bands if signature is not None else []
            expected = queries.near_candidates(conn, bands, 4), queries.lead_candidates(conn, keys, 4)
            assert queries.candidates(conn, bands, keys, 4) == expected


def test_sqlite_driver_path_answers_as_the_core_statements(pipeline, texts):
    """On SQLite the lookups every article makes run as SQL text on the driver: the same rows as SQLAlchemy's statements."""
    for n, text in enumerate(texts[:6]):
        pipeline.feed(article(text, f"https://a.example/{n}.html", n))
    conn = pipeline.dedup.batch.conn
    rng = random.Random(5)
    for n, text in enumerate(texts[:8]):
        for probe in (text, teaser(rng, text)):
            signature, keys = near_signature(probe.text), probe_keys(probe.title, probe.text)
            bands = signature.bands if signature is not None else [0] * 32
            params = {**{f"band{i}": h for i, h in enumerate(bands)}, "keys": keys, "limit": 4}
            rows = conn.execute(queries._CANDIDATES, params).all()
            core = [(r.id, r.title, r.signature) for r in rows if not r.lead], list(reversed([r.id for r in rows if r.lead]))
            assert queries.candidates(conn, bands, keys, 4) == core
            assert rows or n >= 6
        url, fingerprint = f"http://www.a.example/{n}.html/", exact_fingerprint(text.title, text.text)
        assert queries.story_for_url(conn, url) == conn.execute(queries._STORY_FOR_KEY, {"key": match_key(url)}).scalar()
        assert queries.story_for_fingerprint(conn, fingerprint) == conn.execute(queries._STORY_FOR_FINGERPRINT, {"fingerprint": fingerprint}).scalar()
        assert (queries.story_for_url(conn, url) is not None) == (n < 6)


def test_sqlite_driver_path_writes_what_the_core_statements_write(tmp_path):
    """A story, its URL and a page's validators written through the driver are stored as SQLAlchemy stores them
    (datetimes, a whole second included, JSON lists, bytes)."""
    when = datetime(2022, 1, 14, 2, 38, 9, tzinfo=UTC)
    row = {"id": "s1", "url": "https://a.example/1.html", "site": "a", "title": "T", "published": when, "updated": when,
           "first_seen": when.replace(microsecond=5), "publisher": "P", "publishers": ["P", "Q é"], "authors": [], "topics": ["x"],
           "language": None, "summary": "", "content_html": "<p>é</p>", "content_text": "é", "image": None, "image_caption": None,
           "fingerprint": "f" * 40, "content_hash": "h" * 40, "signature": b"\x00\x01"}
    dumps = []
    for name, core in (("driver", False), ("core", True)):
        store = Store(f"sqlite:///{tmp_path}/{name}.sqlite3")
        with store.engine.begin() as conn:
            if core:
                conn.execute(queries._INSERT_STORY, row)
                conn.execute(queries._SQLITE_UPSERTS.story_url, {"url": row["url"], "story_id": "s1", "first_seen": row["first_seen"]})
                conn.execute(queries._SQLITE_UPSERTS.validators, {"url": "u", "etag": "e", "last_modified": None, "links": ["l"], "checked": when})
            else:
                queries.insert_story(conn, row, [])
                queries.remember_validators(conn, "u", "e", None, ["l"])
        store.close()
        with sqlite3.connect(tmp_path / f"{name}.sqlite3") as db:
            dumps.append([db.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall() for table in ("stories", "story_urls", "http_validators")])
    driver, core = dumps
    assert driver[0] == core[0] and driver[1] == core[1]
    assert driver[2][0][:4] == core[2][0][:4]  # (validators' `checked` is now)


def test_different_stories_sharing_headline_and_lede_stay_apart(pipeline, texts):
    a, b = texts[6], texts[7]
    look_alike = Text(a.title, (a.blocks[0], *b.blocks[1:]), b.publisher, a.section)
    first = pipeline.feed(article(a, "https://a.example/1.html", 0))
    second = pipeline.feed(article(look_alike, "https://b.example/2.html", 1))
    assert second != first and second == story_id_for("https://b.example/2.html")


def test_compare_explains_its_verdict():
    text = " ".join(f"word{i}" for i in range(200))
    edited = text.replace("word50", "changed") + " Subscribe to our newsletter today for more."
    match = compare("Title", text, "Another headline entirely", edited)
    assert match is not None and match.jaccard >= 0.8 and match.contained > 0.99
    assert compare("Title", text, "Title", " ".join(f"other{i}" for i in range(200))) is None
    assert compare("Title", text, "Title", " ".join(text.split()[:15])) is None  # too short to judge by containment


def test_looks_truncated():
    assert looks_truncated("The minister said the talks would") and looks_truncated("The talks …")
    assert not looks_truncated("The talks ended.") and not looks_truncated('"We will see," he said.')


def _covered_word_by_word(words: list[str], other: set[str]) -> float:
    """The containment measure as first written: each word checked against every shingle that holds it."""
    if len(words) <= SHINGLE:
        return 1.0 if " ".join(words) in other else 0.0
    hits = [s in other for s in shingles(words)]
    last = len(hits) - 1
    covered = sum(1 for i in range(len(words)) if any(hits[j] for j in range(max(0, i - SHINGLE + 1), min(i, last) + 1)))
    return covered / len(words)


_PHRASE = st.lists(st.sampled_from(["the", "mayor", "said", "a", "new", "bridge", "opens", "in", "May", "Köln"]), max_size=60)


@settings(max_examples=300, deadline=None)
@given(_PHRASE, _PHRASE, _PHRASE, _PHRASE)
def test_compare_measures_the_shingles_exactly(shared, before, after, other):
    a, b = " ".join(before + shared + after), " ".join(shared + other)
    wa, wb = tokens(a), tokens(b)
    match = compare("A title", a, "Another title", b)
    if not wa or not wb:
        assert match is None
        return
    sa, sb = set(shingles(wa)), set(shingles(wb))
    short, long_set = (wa, sb) if len(wa) <= len(wb) else (wb, sa)
    score, contained = len(sa & sb) / len(sa | sb), _covered_word_by_word(short, long_set)
    title = title_similarity("A title", "Another title")
    same = score >= SAME_TEXT or (contained >= CONTAINED and len(short) >= MIN_CONTAINED_WORDS and (score >= OVERLAP or title >= TITLE_AGREES))
    assert (match is not None) == same
    if match is not None:
        assert (match.jaccard, match.contained, match.shorter, match.longer) == (score, contained, len(short), max(len(wa), len(wb)))
