"""The feed spider: a truncated RSS or Atom feed becomes full articles, each page fetched and extracted."""

from __future__ import annotations

import json
from email.utils import format_datetime
from html import escape

import pytest
from conftest import run_cli, source_config
from local_pages import PageServer


def rss(base: str, stories) -> bytes:
    items = "".join(
        f"<item><title>{escape(s.title)}</title><link>{base}{s.path}?utm_source=rss</link>"
        f"<description>{escape(s.lede[:60])}…</description><pubDate>{format_datetime(s.published)}</pubDate></item>"
        for s in stories
    )
    return f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Wire</title>{items}</channel></rss>'.encode()


def atom(base: str, stories) -> bytes:
    entries = "".join(
        f'<entry><title>{escape(s.title)}</title><link rel="alternate" href="{base}{s.path}"/><id>urn:x:{s.shortid}</id>'
        f"<updated>{s.published.isoformat()}</updated><summary>{escape(s.lede[:40])}…</summary></entry>"
        for s in stories
    )
    return f'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>Wire</title>{entries}</feed>'.encode()


@pytest.mark.parametrize("kind, content_type", [("rss", "application/rss+xml"), ("atom", "application/octet-stream")])
def test_truncated_feed_yields_full_articles(tmp_path, sample_site, site_server, kind, content_type):
    stories = sample_site.stories()[10:16]
    body = (rss if kind == "rss" else atom)(site_server.base, stories)
    with PageServer({"/feed.xml": (content_type, body)}) as feeds:
        source_config(tmp_path, f'[[source]]\nname = "wire"\nspider = "feed"\nstart_urls = ["{feeds.url}feed.xml"]\n', obey_robots=False)
        result = run_cli("once", cwd=tmp_path)
        assert result.code == 0, result.stderr[-3000:]
    export = run_cli("export", cwd=tmp_path)
    articles = {a["url"]: a for a in map(json.loads, export.stdout.splitlines())}
    assert len(articles) == len(stories)
    for story in stories:
        article = articles[site_server.base + story.path]
        assert article["title"] == story.title
        assert article["content_text"] == story.text  # the whole story, not the feed's teaser
        assert article["published"] == story.published.isoformat()
        assert article["publisher"] == story.publisher
    fetched = {path for _, path, _ in site_server.requests if path != "/robots.txt"}
    assert fetched == {s.path for s in stories}  # the feed's items and nothing else of the site
