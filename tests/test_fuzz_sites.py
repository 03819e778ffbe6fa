"""What a site controls, fuzzed: generated hostile listings and feeds against a real `once`, bounded in time and
memory, ending in stored stories or logged skips — never a hang, a traceback, or a page from anywhere else."""

from __future__ import annotations

import html
import resource
import subprocess
from contextlib import contextmanager

from conftest import run_cli
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from local_pages import PageServer

SECRET = "SECRET-4c1d9e"  # on every page refeed must never fetch: a local file, a data: URL, another port (listings)
RUN_TIMEOUT = 40


def article(n: int) -> bytes:
    text = " ".join(f"Sentence {k} of story {n} tells what happened in the harbour on the day the ships came in." for k in range(30))
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Story {n}</title>'
        f'<meta property="og:type" content="article"><meta property="article:published_time" content="2024-03-0{n}T10:00:00+00:00">'
        f"</head><body><article><h1>Story {n}</h1><p>{text}</p><p>{text}</p></article></body></html>"
    ).encode()


def hrefs(elsewhere: str, secret_file: str):
    """Links a hostile page may carry: its own articles, other schemes, other ports, private and odd addresses."""
    return st.one_of(
        st.sampled_from(["/a/1.html", "/a/2.html", "/a/3.html", "/a/1.html#x", "/a/2.html?utm_source=x", "./a/3.html"]),
        st.sampled_from([
            f"file://{secret_file}", f"file://localhost{secret_file}", "data:text/html,<p>" + SECRET + "</p>",
            "javascript:alert(1)", "ftp://127.0.0.1/secret", "mailto:x@example.org", "gopher://127.0.0.1:70/",
            elsewhere + "secret.html", "http://169.254.169.254/latest/meta-data/", "http://[::1]/secret.html", "http://10.0.0.1/",
            "/redirect", "//" + elsewhere.split("//", 1)[1] + "secret.html", "http://", "https://:0/", "http://[zz]/", "\x00\x01",
        ]),
        st.text(min_size=0, max_size=40),
        st.text(alphabet="a/%.:?#&=", min_size=1, max_size=3000).map(lambda s: "/" + s),
    )


@st.composite
def listings(draw, elsewhere: str, secret_file: str):
    links = draw(st.lists(hrefs(elsewhere, secret_file), min_size=1, max_size=60))
    copies = draw(st.sampled_from([1, 1, 50, 2000]))  # a link repeated: pages of many thousand links
    depth = draw(st.sampled_from([0, 10, 3000]))  # nesting deeper than any parser's comfort
    attribute = "x" * draw(st.sampled_from([0, 100_000]))
    body = "".join(f'<a href="{html.escape(h, quote=True)}" title="{attribute[:50]}">link</a>\n' for h in links * copies)
    page = f'<!DOCTYPE html><html><head><meta charset="utf-8"></head><body data-x="{attribute}">{"<div>" * depth}{body}{"</div>" * depth}</body></html>'
    encoding = draw(st.sampled_from(["utf-8", "latin-1-as-utf-8", "garbage"]))
    data = page.encode("utf-8")
    if encoding == "latin-1-as-utf-8":
        data = page.encode("latin-1", "replace")  # declared UTF-8, is not
    elif encoding == "garbage":
        data = data[: len(data) // 2] + bytes(range(256)) + data[len(data) // 2 :]
    return data


@st.composite
def feeds(draw, elsewhere: str, secret_file: str):
    links = draw(st.lists(hrefs(elsewhere, secret_file), min_size=1, max_size=30))
    items = "".join(f"<item><title>Item {i}</title><link>{html.escape(h)}</link></item>" for i, h in enumerate(links))
    return f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>x</title>{items}</channel></rss>'.encode("utf-8", "replace")


def crawl(tmp_path, site: PageServer, spider: str) -> tuple:
    for old in tmp_path.iterdir():
        if old.is_dir():
            subprocess.run(["rm", "-rf", str(old)], check=True)
    start = site.url + ("feed.xml" if spider == "feed" else "")
    (tmp_path / "refeed.toml").write_text(
        f'[store]\nurl = "sqlite:///data/refeed.sqlite3"\n[output]\ndir = "public"\n'
        f"[crawl]\nobey_robots = false\nrun_timeout = {RUN_TIMEOUT}\ndownload_timeout = 5\n"
        f'[[source]]\nname = "fuzz"\nspider = "{spider}"\nstart_urls = ["{start}"]\nmax_pages = 300\n'
    )
    return run_cli("once", cwd=tmp_path, timeout=RUN_TIMEOUT + 60), tmp_path / "public"


def judge(result, public, site: PageServer, elsewhere: PageServer, own_site_only: bool = True) -> None:
    """A listing's links stay on its site (host and port); a feed's items may be elsewhere, but only on http(s)."""
    assert result.code in (0, 1), result.stderr[-3000:]  # 1: "no article found" is an answer, not a failure of refeed
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    if own_site_only:
        assert elsewhere.requests == []  # another port of the machine is another site: never asked, not even redirected to
    for path in public.glob("*") if public.is_dir() else []:
        assert SECRET.encode() not in path.read_bytes(), path.name
    stored = run_cli("export", cwd=public.parent).stdout
    assert SECRET not in stored
    assert all(f'"url": "{site.url if own_site_only else "http"}' in line for line in stored.splitlines())
    assert resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss < 600 * 1024  # KiB: no child ever past 600 MB


FUZZ = settings(max_examples=5, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large])


@contextmanager
def hostile_world(tmp_path, elsewhere_page: bytes):
    """A secret local file; another port of this machine serving `elsewhere_page`; the site under test with
    three real articles and a redirect to that other port. Yields (site, elsewhere, secret file, work folder)."""
    secret_file = tmp_path / "secret.html"
    secret_file.write_text(f"<html><body><article><p>{SECRET} " + "word " * 300 + "</p></article></body></html>")
    with PageServer({"/secret.html": ("text/html", elsewhere_page)}) as elsewhere:
        site = PageServer({f"/a/{n}.html": ("text/html; charset=utf-8", article(n)) for n in (1, 2, 3)}, redirects={"/redirect": elsewhere.url + "secret.html"})
        with site:
            work = tmp_path / "work"
            work.mkdir()
            yield site, elsewhere, secret_file, work


def test_hostile_listings_end_in_stories_or_skips(tmp_path):
    with hostile_world(tmp_path, f"<p>{SECRET}</p>".encode()) as (site, elsewhere, secret_file, work):

        @FUZZ
        @given(page=listings(elsewhere.url, str(secret_file)))
        def check(page):
            elsewhere.requests.clear()
            site.pages["/"] = ("text/html; charset=utf-8", page)
            result, public = crawl(work, site, "generic")
            judge(result, public, site, elsewhere)

        check()


def test_hostile_feeds_end_in_stories_or_skips(tmp_path):
    with hostile_world(tmp_path, b"<p>not an article</p>") as (site, elsewhere, secret_file, work):  # a feed item may point there

        @FUZZ
        @given(feed=feeds(elsewhere.url, str(secret_file)))
        def check(feed):
            site.pages["/feed.xml"] = ("application/rss+xml", feed)
            result, public = crawl(work, site, "feed")
            judge(result, public, site, elsewhere, own_site_only=False)

        check()
