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


def test_plain_urls_take_the_fast_path_to_the_same_canonical_form():
    from itertools import product

    from crawler.canonical import _canonicalize, _plain

    hosts = ["127.0.0.1", "example.com", "a-b.example.org", "x", "xn--bcher-kva.example"]
    ports = ["", ":80", ":443", ":8000", ":65535"]
    paths = ["/", "/news/2022-01-08-a.b1.html", "/a//b", "/a/./b", "/a/../b", "/~x/_y-z.", "/A/B", "/.hidden", "/x."]
    queries = ["", "?page=2", "?b=1&a=2", "?a=2&a=1", "?utm_source=x", "?utm_source=x&page=3", "?ref=1&b=x", "?A=1&a=1", "?z=1&a-b=2&a_b=3"]
    fast = 0
    for scheme, host, port, path, query in product(("http", "https"), hosts, ports, paths, queries):
        url = f"{scheme}://{host}{port}{path}{query}"
        plain = _plain(url)
        if plain is not None:
            fast += 1
            assert plain == _canonicalize(url), url
    assert fast > 1000  # most links are plain
