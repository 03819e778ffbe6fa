"""What refeed will fetch: http(s) only, the source's own host and port, private networks only for sources there."""

from __future__ import annotations

import json
from html import escape

import pytest
from conftest import run_cli, source_config
from local_pages import PageServer, page

from crawler.urlpolicy import UrlPolicy, network

HTML = "text/html; charset=utf-8"


def exported(workdir) -> list[dict]:
    result = run_cli("export", cwd=workdir)
    assert result.code == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def generic_source(url: str, name: str = "local", **options) -> str:
    lines = "\n".join(f"{k} = {json.dumps(v)}" for k, v in options.items())
    return f'[[source]]\nname = "{name}"\nspider = "generic"\nstart_urls = ["{url}"]\nmax_pages = 50\n{lines}\n'


def test_public_source_reaches_no_local_or_private_address():
    policy = UrlPolicy(["https://news.example.com/"])
    for url in (
        "http://127.0.0.1/", "http://127.1/", "http://2130706433/", "http://0x7f000001/", "http://localhost:8080/",
        "http://[::1]/", "http://[::ffff:127.0.0.1]/", "http://0.0.0.0/", "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.5/", "http://192.168.1.1/", "http://[fd00::1]/",
    ):
        assert not policy.allowed(url, same_site=False), url
    assert policy.allowed("https://elsewhere.example.org/story", same_site=False)
    assert not policy.allowed("https://elsewhere.example.org/story")  # another site


def test_only_http_urls_on_the_start_urls_host_and_port():
    policy = UrlPolicy(["http://127.0.0.1:8000/"])
    assert policy.allowed("http://127.0.0.1:8000/news/a.html")
    assert not policy.allowed("http://127.0.0.1:8001/news/a.html")  # same host, another port: another site
    assert policy.allowed("http://127.0.0.1:8001/news/a.html", same_site=False)  # the source lives on loopback
    assert not policy.allowed("http://169.254.169.254/", same_site=False)  # but not on link-local
    for url in ("file://localhost/srv/secret.html", "data:text/html,<h1>x</h1>", "javascript:alert(1)", "ftp://127.0.0.1:8000/a", "http://[::1"):
        assert not policy.allowed(url, same_site=False), url
    assert UrlPolicy(["http://example.com/"]).allowed("https://example.com/a")  # default ports: one site, any scheme
    assert network("example.com") == "public"


def test_feed_items_that_are_no_http_pages_are_skipped_and_the_rest_is_stored(tmp_path, sample_site, site_server):
    secret = tmp_path / "secret.html"
    secret.write_text("<html><head><title>Secret plans</title></head><body><article><h1>Secret plans</h1><p>" + "The secret text. " * 60 + "</p></article></body></html>")
    stories = sample_site.stories()[20:23]
    with PageServer() as feeds:
        port = feeds.url.rsplit(":", 1)[1].strip("/")
        bad = [
            f"file://localhost{secret}",
            "data:text/html,<title>Data story</title><article><h1>Data story</h1><p>" + "Made up. " * 60 + "</p></article>",
            "javascript:alert(1)",
            f"ftp://127.0.0.1:{port}/story.html",  # an FTP client waiting for a greeting from an HTTP server: forever
            "http://169.254.169.254/latest/meta-data/",
        ]
        items = "".join(f"<item><title>Item {i}</title><link>{escape(link)}</link></item>" for i, link in enumerate(bad))
        items += "".join(f"<item><title>{escape(s.title)}</title><link>{site_server.base}{s.path}</link></item>" for s in stories)
        feed = f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Wire</title>{items}</channel></rss>'
        feeds.pages["/feed.xml"] = ("application/rss+xml", feed.encode())
        source_config(tmp_path, f'[[source]]\nname = "wire"\nspider = "feed"\nstart_urls = ["{feeds.url}feed.xml"]\n', obey_robots=False)
        result = run_cli("once", cwd=tmp_path, timeout=120)
        assert result.code == 0, result.stderr[-3000:]
        assert feeds.requests == ["/feed.xml"]
    articles = exported(tmp_path)
    assert sorted(a["url"] for a in articles) == sorted(site_server.base + s.path for s in stories)
    for link in bad:
        assert f"item {link[:40]}" in result.stderr, link  # each skip is logged


def test_links_to_another_port_of_the_same_host_are_not_followed(tmp_path):
    with PageServer({"/2022/01/08/radweg.html": (HTML, page("de_article.html"))}) as other:
        links = ["/2022/01/08/carril.html", f"{other.url}2022/01/08/radweg.html"]
        home = "<html><body>" + "".join(f'<p><a href="{u}">{u}</a></p>' for u in links) + "</body></html>"
        with PageServer({"/": (HTML, home.encode()), "/2022/01/08/carril.html": (HTML, page("es_article.html"))}) as server:
            source_config(tmp_path, generic_source(server.url, articles=["^/2022/"]), obey_robots=False)
            result = run_cli("once", cwd=tmp_path)
            assert result.code == 0, result.stderr[-3000:]
        assert other.requests == []
    assert [a["url"] for a in exported(tmp_path)] == [server.url + "2022/01/08/carril.html"]


def test_redirect_to_another_site_is_not_followed(tmp_path):
    with PageServer({"/2022/01/08/radweg.html": (HTML, page("de_article.html"))}) as other:
        home = "".join(f'<p><a href="/2022/01/08/{name}.html">{name}</a></p>' for name in ("moved", "renamed"))
        with PageServer(
            {"/": (HTML, home.encode()), "/2022/01/08/carril.html": (HTML, page("es_article.html"))},
            redirects={"/2022/01/08/moved.html": f"{other.url}2022/01/08/radweg.html", "/2022/01/08/renamed.html": "/2022/01/08/carril.html"},
        ) as server:
            source_config(tmp_path, generic_source(server.url, articles=["^/2022/"]), obey_robots=False)
            result = run_cli("once", cwd=tmp_path)
            assert result.code == 0, result.stderr[-3000:]
            assert "/2022/01/08/carril.html" in server.requests  # a redirect on the same site is followed
        assert other.requests == []
    assert f"refused {other.url}2022/01/08/radweg.html: a redirect from {server.url}2022/01/08/moved.html to another site" in result.stderr
    assert [a["title"] for a in exported(tmp_path)] == ["El ayuntamiento aprueba un nuevo carril bici"]


@pytest.mark.parametrize("canonical_site", ["other", "own"])
def test_rel_canonical_is_honoured_on_the_pages_own_site_only(tmp_path, canonical_site):
    with PageServer({"/2022/01/08/radweg.html": (HTML, page("de_article.html"))}) as first:
        target = f"{first.url}2022/01/08/radweg.html"
        source_config(tmp_path, generic_source(first.url, name="a", articles=["^/2022/"]) + generic_source("http://127.0.0.1:9/", name="b", articles=["^/2022/"]), obey_robots=False)
        home = b'<a href="/2022/01/08/radweg.html">Radweg</a>'
        first.pages["/"] = (HTML, home)
        assert run_cli("once", "--source", "a", cwd=tmp_path).code == 0
    (original,) = exported(tmp_path)
    with PageServer() as second:
        canonical = target if canonical_site == "other" else f"{second.url}2022/01/08/carril-bici.html"
        copy = page("es_article.html").replace(b"<head>", f'<head><link rel="canonical" href="{canonical}">'.encode(), 1)
        second.pages.update({"/": (HTML, b'<a href="/2022/01/08/carril.html">Carril</a>'), "/2022/01/08/carril.html": (HTML, copy)})
        text = (tmp_path / "refeed.toml").read_text().replace("http://127.0.0.1:9/", second.url)
        (tmp_path / "refeed.toml").write_text(text)
        result = run_cli("once", "--source", "b", cwd=tmp_path)
        assert result.code == 0, result.stderr[-3000:]
    articles = {a["url"]: a for a in exported(tmp_path)}
    assert articles[target] == original  # source a's story untouched
    own = f"{second.url}2022/01/08/carril.html" if canonical_site == "other" else canonical
    assert articles[own]["title"] == "El ayuntamiento aprueba un nuevo carril bici"


def _loopback_name() -> str:
    """A name other than localhost that this machine resolves to a loopback address (its own host name, often)."""
    import socket

    name = socket.gethostname()
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(name, None, type=socket.SOCK_STREAM)}
    except OSError:
        addresses = set()
    if not addresses or any(network(a) != "loopback" for a in addresses) or network(name) != "public":
        pytest.skip(f"this machine's name {name!r} does not resolve to loopback only")
    return name


def test_a_name_that_resolves_to_this_machine_is_refused_to_a_public_source():
    import asyncio

    from scrapy.exceptions import IgnoreRequest
    from scrapy.http import Request
    from scrapy.utils.test import get_crawler

    from crawler.config import SourceConfig
    from crawler.spiders.feed import FeedSpider
    from crawler.urlpolicy import UrlPolicyMiddleware

    name = _loopback_name()

    def verdict(start_url: str, url: str) -> str:
        crawler = get_crawler(FeedSpider, settings_dict={"REFEED_STORE_URL": ""})
        crawler.spider = FeedSpider.from_crawler(crawler, source=SourceConfig(name="wire", spider="feed", start_urls=(start_url,)))
        try:
            asyncio.run(UrlPolicyMiddleware.from_crawler(crawler).process_request(Request(url)))
        except IgnoreRequest as refused:
            return str(refused)
        return "allowed"

    assert verdict("https://news.example/feed.xml", f"http://{name}:8000/story.html") == (
        f"refused http://{name}:8000/story.html: {name} resolves to a loopback address, and the source is not on one"
    )
    assert verdict("http://127.0.0.1:8000/feed.xml", f"http://{name}:8000/story.html") == "allowed"  # the source lives there
    assert verdict("https://news.example/feed.xml", "https://nowhere.invalid/story.html") == "allowed"  # the download fails alone


def test_a_name_that_answers_a_public_address_and_then_this_machine_is_never_connected_to(tmp_path):
    """DNS rebinding: the check and the download each resolve the name; the download may reach only what was checked."""
    from local_names import NameServer

    listing = b'<a href="/2022/01/08/radweg.html">Radweg</a>'
    pages = {"/": (HTML, listing), "/2022/01/08/radweg.html": (HTML, page("de_article.html"))}
    with PageServer(dict(pages)) as steady, PageServer(dict(pages)) as rebound, NameServer({
        "steady.example": ["127.0.0.1"],  # a source that lives on this machine, under a name
        "rebound.example": ["93.184.215.14", "127.0.0.1"],  # public when checked, this machine a moment later
    }) as names:
        port = {server: server.url.rsplit(":", 1)[1].strip("/") for server in (steady, rebound)}
        source_config(tmp_path, generic_source(f"http://steady.example:{port[steady]}/", name="steady", articles=["^/2022/"])
                      + generic_source(f"http://rebound.example:{port[rebound]}/", name="rebound", articles=["^/2022/"]), obey_robots=False)
        result = run_cli("once", cwd=tmp_path, env={"REFEED_NAMESERVERS": names.address})
        assert rebound.requests == []  # never connected to, though its name answered a public address first
        assert steady.requests == ["/", "/2022/01/08/radweg.html"], result.stderr[-3000:]
    assert "refused to connect to rebound.example at 127.0.0.1: a loopback address, and the source is not on one" in result.stderr
    assert [a["url"] for a in exported(tmp_path)] == [f"http://steady.example:{port[steady]}/2022/01/08/radweg.html"]
    assert result.code == 1  # the rebound source failed: nothing fetched
