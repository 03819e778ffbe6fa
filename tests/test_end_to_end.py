"""A full `once` over the sample site on 127.0.0.1, judged through the feeds, export and status."""

from __future__ import annotations

import json
import re
import signal

import feedparser
import pytest
from conftest import run_cli, write_config

BOILERPLATE = (
    "Enlarge image",
    "You may like",
    "Trends 24h",
    "All news articles on",
    "Photo:",
    "Source:",
    "© Communities",
    "The information on this site is from external sources",
    "does not necessarily imply a recommendation",
)


@pytest.fixture(scope="module")
def crawled(tmp_path_factory, sample_site):
    """One crawl of the sample site into a fresh store; shared by the tests below, which only read."""
    from crawler.demo.server import SampleSiteServer

    workdir = tmp_path_factory.mktemp("once")
    with SampleSiteServer(sample_site) as server:
        write_config(workdir, server.url)
        first = run_cli("once", cwd=workdir)
        requests_first = list(server.requests)
        mtimes = {p.name: p.stat().st_mtime_ns for p in (workdir / "public").iterdir()}
        contents = {p.name: p.read_bytes() for p in (workdir / "public").iterdir()}
        server.requests.clear()
        second = run_cli("once", cwd=workdir)
        requests_second = list(server.requests)
    export = run_cli("export", cwd=workdir)
    return {
        "dir": workdir,
        "site": server,
        "first": first,
        "second": second,
        "requests_first": requests_first,
        "requests_second": requests_second,
        "mtimes": mtimes,
        "contents": contents,
        "export": [json.loads(line) for line in export.stdout.splitlines()],
        "export_result": export,
    }


def feed(crawled, name: str):
    parsed = feedparser.parse((crawled["dir"] / "public" / name).read_bytes())
    assert parsed.bozo == 0, (name, parsed.get("bozo_exception"))
    return parsed


def primary_url(base: str, article) -> str:
    return base.rstrip("/") + article.path


def sections_of(sample_site):
    """Expected sections of each story: its own, plus those of its republished copies."""
    expected = {a.shortid: {a.section} for a in sample_site.stories()}
    for copy in sample_site.articles:
        if copy.republishes:
            expected[copy.republishes].add(copy.section)
    return expected


def test_once_succeeds_and_summarises(crawled):
    first = crawled["first"]
    assert first.code == 0, first.stderr[-3000:]
    assert "limitedtimes" in first.stderr and "ok" in first.stderr


def story_links(crawled, sample_site) -> dict[str, set[str]]:
    """The URLs an entry of each story may link to: its own, or a republished copy's when that was seen first."""
    base = crawled["site"].base
    links = {a.shortid: {primary_url(base, a)} for a in sample_site.stories()}
    for copy in sample_site.articles:
        if copy.republishes:
            links[copy.republishes].add(primary_url(base, copy))
    return links


def test_every_story_is_in_all_atom_exactly_once(crawled, sample_site):
    links = [entry.link for entry in feed(crawled, "all.atom").entries]
    assert len(links) == len(set(links)) == len(sample_site.stories()) >= 200
    for shortid, allowed in story_links(crawled, sample_site).items():
        assert len(allowed & set(links)) == 1, shortid


def test_each_section_feed_holds_exactly_its_sections_stories(crawled, sample_site):
    expected = sections_of(sample_site)
    allowed = story_links(crawled, sample_site)
    for section in sample_site.sections:
        links = {entry.link for entry in feed(crawled, f"{section}.atom").entries}
        wanted = [a.shortid for a in sample_site.stories() if section in expected[a.shortid]]
        assert len(links) == len(wanted), section
        assert all(allowed[shortid] & links for shortid in wanted), section


def test_republished_story_is_one_entry(crawled, sample_site):
    copy = next(a for a in sample_site.articles if a.republishes)
    original = sample_site.by_shortid(copy.republishes)
    base = crawled["site"].base
    both = {primary_url(base, original), primary_url(base, copy)}
    entries = [e for e in feed(crawled, "all.atom").entries if e.link in both]
    assert len(entries) == 1
    (stored,) = [a for a in crawled["export"] if set(a["urls"]) & both]
    assert both <= set(stored["urls"])
    assert stored["publisher"] in (original.publisher, copy.publisher)


def test_cross_listed_story_keeps_its_own_section(crawled, sample_site):
    base = crawled["site"].base
    story = next(a for a in sample_site.stories() if a.also_in)
    stored = next(a for a in crawled["export"] if a["url"] == primary_url(base, story))
    assert story.section in stored["topics"]
    assert not set(story.also_in) & set(stored["topics"]) - sections_of(sample_site)[story.shortid]
    for alias in story.alias_paths():
        assert base + alias in stored["urls"]


def test_no_tracking_parameter_or_fragment_in_any_stored_url(crawled):
    for article in crawled["export"]:
        for url in article["urls"]:
            assert not re.search(r"utm_|fbclid|#", url), url


def test_no_entry_contains_boilerplate(crawled):
    for name in ("all.atom", "all.rss"):
        for entry in feed(crawled, name).entries:
            text = " ".join(c.value for c in entry.get("content", [])) + entry.get("summary", "") + entry.title
            for phrase in BOILERPLATE:
                assert phrase not in text, (entry.link, phrase)
    for article in crawled["export"]:
        for phrase in BOILERPLATE:
            assert phrase not in article["content_text"], (article["url"], phrase)
            assert phrase not in article["content_html"], (article["url"], phrase)


def test_every_feed_parses_cleanly(crawled):
    public = crawled["dir"] / "public"
    names = sorted(p.name for p in public.iterdir())
    assert {"all.atom", "all.rss", "all.json", "feeds.opml", "index.html", "kazakhstan.atom"} <= set(names)
    for name in names:
        if name.endswith((".atom", ".rss")):
            assert feed(crawled, name).entries, name
        elif name.endswith(".json"):
            data = json.loads((public / name).read_text(encoding="utf-8"))
            assert data["version"] == "https://jsonfeed.org/version/1.1" and data["items"], name


def test_export_round_trips_the_stored_fields(crawled, sample_site):
    base = crawled["site"].base
    exported = {a["url"]: a for a in crawled["export"]}
    assert crawled["export_result"].code == 0
    assert len(exported) == len(sample_site.stories())
    republished = {a.republishes for a in sample_site.articles if a.republishes}
    for story in sample_site.stories():
        if story.shortid in republished:
            continue  # which copy a story shows is the one seen first; the test above checks it
        article = exported[primary_url(base, story)]
        assert set(article) == {
            "id", "url", "urls", "title", "published", "updated", "site", "publisher", "authors", "topics",
            "language", "summary", "content_html", "content_text", "image", "image_caption",
        }
        assert article["title"] == story.title
        assert article["published"] == story.published.isoformat()
        assert article["summary"] == story.lede
        assert article["content_text"] == story.text
        assert article["publisher"] == story.publisher
        assert article["authors"] == [p.strip() for p in story.credit.split("/")]
        assert article["image"] == f"{base}/img/{story.shortid}.jpg"
        assert article["image_caption"] == story.caption
        assert article["language"] == "en"
        assert article["site"] == "limitedtimes"
        assert re.fullmatch(r"[0-9a-f]{16}", article["id"])


def test_keyword_topic_collects_matching_stories(crawled, sample_site):
    allowed = story_links(crawled, sample_site)
    links = {e.link for e in feed(crawled, "kazakhstan.atom").entries}
    wanted = [a.shortid for a in sample_site.stories() if re.search(r"\b(kazakhstan|almaty)\b", f"{a.title} {a.text}", re.I)]
    assert len(links) == len(wanted) >= 2
    assert all(allowed[shortid] & links for shortid in wanted)


def test_second_once_adds_nothing_and_downloads_no_article_again(crawled):
    second = crawled["second"]
    assert second.code == 0, second.stderr[-3000:]
    public = crawled["dir"] / "public"
    for name, data in crawled["contents"].items():
        assert (public / name).read_bytes() == data, name
        assert (public / name).stat().st_mtime_ns == crawled["mtimes"][name], name
    articles = [(p, status) for _, p, status in crawled["requests_second"] if re.search(r"\d{4}-\d{2}-\d{2}-.+\.html", p)]
    assert articles, "recent articles are asked again, conditionally"
    assert all(status == 304 for _, status in articles), [a for a in articles if a[1] != 304][:5]


def test_status_shows_the_last_run_and_feeds(crawled):
    status = run_cli("status", "--json", cwd=crawled["dir"])
    assert status.code == 0, status.stderr
    data = json.loads(status.stdout)
    (run,) = data["sources"]
    assert run["source"] == "limitedtimes" and run["outcome"] == "ok" and run["new"] == 0
    feeds = {f["slug"]: f["entries"] for f in data["feeds"]}
    assert feeds["all"] == len(crawled["export"])
    table = run_cli("status", cwd=crawled["dir"])
    assert "limitedtimes" in table.stdout and "all" in table.stdout


def test_demo_once_builds_at_least_200_entries(tmp_path):
    result = run_cli("demo", "--once", "--port", "8765", cwd=tmp_path)
    assert result.code == 0, result.stderr[-3000:]
    parsed = feedparser.parse((tmp_path / "public" / "all.atom").read_bytes())
    assert parsed.bozo == 0
    assert len(parsed.entries) >= 200
    assert "http://127.0.0.1:8765/all.atom" in result.stdout


@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "systemctl-stop"])
def test_demo_serves_until_stopped_and_then_stops_cleanly(tmp_path, how):
    """`make demo` as a person runs it: crawl, build, serve; then Ctrl-C (SIGINT to the whole process group) or
    SIGTERM to all of it (systemd's stop, `timeout`) stops the demo and its feed server child: exit 0, and no
    traceback on the way out."""
    import os
    import socket
    import subprocess
    import sys
    import threading
    import urllib.request

    from conftest import ROOT

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    demo = subprocess.Popen([sys.executable, str(ROOT / "scheduler.py"), "demo", "--port", str(port)], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    # The crawl and build before serving take seconds alone, minutes on a loaded machine: the watchdog guards
    # only them; the stop has its own limit below (a stop that hangs fails as a timeout, not as a kill).
    watchdog = threading.Timer(480, os.killpg, (demo.pid, signal.SIGKILL))
    watchdog.start()
    output = []
    try:
        for line in demo.stdout:
            output.append(line)
            if "Press Ctrl-C" in line:
                break
        watchdog.cancel()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/all.atom", timeout=30) as answer:
            assert feedparser.parse(answer.read()).entries
        os.killpg(demo.pid, how)
        output.append(demo.stdout.read())
        assert demo.wait(60) == 0, "".join(output)[-3000:]
    finally:
        watchdog.cancel()
        if demo.poll() is None:
            os.killpg(demo.pid, signal.SIGKILL)
            demo.wait()
        demo.stdout.close()
    assert "Traceback" not in "".join(output), "".join(output)[-3000:]
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
