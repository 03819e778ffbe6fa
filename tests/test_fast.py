"""Speed without loss: incremental feed builds and extraction in worker processes keep every promise."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest

from crawler.config import SourceConfig
from crawler.pagepool import extract_article
from crawler.parsers import LimitedTimesParser
from feeds.build import build_feeds


def _articles(n: int = 30) -> list[dict]:
    start = datetime(2024, 1, 1, tzinfo=UTC)
    return [
        {
            "id": f"id{i:04d}", "url": f"https://news.example.test/t{i % 3}/{i}.html", "title": f"Story {i}",
            "published": start + timedelta(minutes=i), "updated": start + timedelta(minutes=i), "topics": [f"t{i % 3}"],
            "summary": "Lede.", "content_html": f"<p>Text of story {i}.</p>", "content_text": f"Text of story {i}.",
        }
        for i in range(n)
    ]


def _files(out):
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in out.iterdir()}


def test_rebuild_renders_only_the_changed_topic_and_keeps_other_files_untouched(tmp_path):
    out, state = tmp_path / "public", tmp_path / "feeds.json"
    items = _articles()
    build_feeds(items, out, "http://feeds.example.test/", state_file=state)
    before = _files(out)
    again = build_feeds(items, out, "http://feeds.example.test/", state_file=state)
    assert again.written == [] and _files(out) == before
    items[4] = {**items[4], "content_html": "<p>Corrected text of story 4.</p>", "updated": items[4]["updated"] + timedelta(hours=1)}
    report = build_feeds(items, out, "http://feeds.example.test/", state_file=state)
    assert sorted(report.written) == ["all.atom", "all.json", "all.rss", "feeds.opml", "index.html", "t1.atom", "t1.json", "t1.rss"]
    after = _files(out)
    assert {name for name in after if after[name] != before[name]} == set(report.written)
    assert b"Corrected text of story 4." in after["t1.atom"][0]


def test_feed_file_changed_behind_the_builders_back_is_rendered_again(tmp_path):
    out, state = tmp_path / "public", tmp_path / "feeds.json"
    items = _articles()
    build_feeds(items, out, "http://feeds.example.test/", state_file=state)
    original = (out / "t2.rss").read_bytes()
    (out / "t2.rss").write_bytes(b"broken")
    report = build_feeds(items, out, "http://feeds.example.test/", state_file=state)
    assert report.written == ["t2.rss"] and (out / "t2.rss").read_bytes() == original


def test_incremental_build_writes_what_a_full_build_writes(tmp_path):
    items = _articles()
    state = tmp_path / "feeds.json"
    build_feeds(items[:20], tmp_path / "a", "http://feeds.example.test/", state_file=state, formats=("atom",))
    build_feeds(items, tmp_path / "a", "http://feeds.example.test/", state_file=state, formats=("atom", "json"))
    build_feeds(items, tmp_path / "b", "http://feeds.example.test/", formats=("atom", "json"))
    assert {k: v[0] for k, v in _files(tmp_path / "a").items()} == {k: v[0] for k, v in _files(tmp_path / "b").items()}


def test_article_extracted_in_a_worker_is_the_one_extracted_in_place(sample_site, caplog):
    article = sample_site.stories()[0]
    status, headers, body = sample_site.render(article.path, "http://127.0.0.1:8000")
    assert status == 200
    source = SourceConfig(name="lt", spider="limitedtimes", start_urls=("http://127.0.0.1:8000/",))
    with caplog.at_level(logging.INFO):
        wall, extracted = extract_article(LimitedTimesParser(source), f"http://127.0.0.1:8000{article.path}", body, headers["Content-Type"])
    assert wall == "" and caplog.records == []
    assert extracted.title == article.title and extracted.publisher == article.publisher


@pytest.mark.parametrize("title", ["Just a moment...", "Attention Required! | Cloudflare"])
def test_bot_wall_is_recognised_in_the_worker(title):
    body = f"<html><head><title>{title}</title></head><body><p>Checking your browser.</p></body></html>".encode()
    source = SourceConfig(name="lt", spider="limitedtimes", start_urls=("http://127.0.0.1:8000/",))
    wall, extracted = extract_article(LimitedTimesParser(source), "http://127.0.0.1:8000/news/x.html", body, "text/html")
    assert wall == title and extracted is None
