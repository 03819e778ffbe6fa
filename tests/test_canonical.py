"""Canonical URLs and match keys: one page, one key, however the link spells it."""

from __future__ import annotations

import pytest

from crawler.canonical import canonicalize, match_key


def test_canonical_url_drops_tracking_fragment_and_default_port():
    url = "HTTPS://Example.com:443/news/a.html?utm_source=x&b=2&a=1&fbclid=z#comments"
    assert canonicalize(url) == "https://example.com/news/a.html?a=1&b=2"
    assert canonicalize("http://example.com:80/a") == "http://example.com/a"
    assert canonicalize("http://example.com:8080/a") == "http://example.com:8080/a"


@pytest.mark.parametrize(
    "spelling",
    [
        "http://example.com/news/story",
        "https://example.com/news/story",
        "https://www.example.com/news/story/",
        "http://WWW.EXAMPLE.COM:80/news/story?utm_campaign=x#top",
        "https://example.com/news/story//",
    ],
)
def test_every_spelling_of_a_page_has_one_match_key(spelling):
    assert match_key(spelling) == "example.com/news/story"


def test_match_key_keeps_what_tells_pages_apart():
    assert match_key("https://example.com/a?id=1") != match_key("https://example.com/a?id=2")
    assert match_key("https://example.com/a") != match_key("https://example.com/A")
    assert match_key("https://news.example.com/a") != match_key("https://example.com/a")
    assert match_key("https://example.com:8443/a") != match_key("https://example.com/a")
    assert match_key("https://example.com/") == "example.com/"
