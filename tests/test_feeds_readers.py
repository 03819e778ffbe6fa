"""The feeds of a sample-site crawl as readers see them: RFC 4287 schema, one set of entries in all formats,
publisher feeds, images, WebSub, and the index page in headless Chromium."""

from __future__ import annotations

import base64
import json
import os
import re
import select
import shutil
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import feedparser
import pytest
from conftest import ROOT, run_cli, write_config
from lxml import etree
from lxml import html as lxml_html

from feeds.server import FeedServer
from feeds.topics import slugify

SCHEMA = ROOT / "tests" / "data" / "atom.rng"
ARTIFACTS = ROOT / "tests" / "artifacts"
ATOM = "{http://www.w3.org/2005/Atom}"
MEDIA = "{http://search.yahoo.com/mrss/}"


class _HubHandler(BaseHTTPRequestHandler):
    server: RecordingHub

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode("ascii")
        with self.server.lock:
            self.server.pings.append({k: v for k, v in parse_qs(body).items()})
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format, *args) -> None:  # noqa: A002
        pass


class RecordingHub(ThreadingHTTPServer):
    """A WebSub hub on 127.0.0.1 that records every publish ping."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _HubHandler)
        self.pings: list[dict] = []
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hub"


@pytest.fixture(scope="module")
def hub():
    server = RecordingHub()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    thread.join()
    server.server_close()


@pytest.fixture(scope="module")
def crawled(tmp_path_factory, sample_site, hub):
    """One `once` over the sample site with a WebSub hub configured, then a `build` that changes nothing."""
    from crawler.demo.server import SampleSiteServer

    workdir = tmp_path_factory.mktemp("readers")
    with SampleSiteServer(sample_site) as site:
        config = write_config(workdir, site.url)
        text = config.read_text(encoding="utf-8")
        config.write_text(text.replace("max_entries = 1000", f'max_entries = 1000\nwebsub_hub = "{hub.url}"', 1), encoding="utf-8")
        first = run_cli("once", cwd=workdir)
    assert first.code == 0, first.stderr[-3000:]
    pings_once = list(hub.pings)
    hub.pings.clear()
    rebuild = run_cli("build", cwd=workdir)
    assert rebuild.code == 0, rebuild.stderr[-3000:]
    export = run_cli("export", cwd=workdir)
    return {
        "public": workdir / "public",
        "pings_once": pings_once,
        "pings_rebuild": list(hub.pings),
        "export": [json.loads(line) for line in export.stdout.splitlines()],
    }


def slugs(crawled) -> list[str]:
    return sorted(p.stem for p in crawled["public"].glob("*.atom"))


def parsed(crawled, name: str):
    result = feedparser.parse((crawled["public"] / name).read_bytes())
    assert result.bozo == 0, (name, result.get("bozo_exception"))
    return result


def json_feed(crawled, slug: str) -> dict:
    return json.loads((crawled["public"] / f"{slug}.json").read_text(encoding="utf-8"))


# -- Atom against RFC 4287


@pytest.fixture(scope="module")
def atom_schema():
    return etree.RelaxNG(etree.parse(str(SCHEMA)))


@pytest.mark.parametrize(
    "document",
    [
        b"<feed xmlns='http://www.w3.org/2005/Atom'><title>t</title><updated>2022-01-08T09:00:00Z</updated></feed>",
        b"<feed xmlns='http://www.w3.org/2005/Atom'><id>x</id><title>t</title><updated>yesterday</updated></feed>",
        b"<feed xmlns='http://www.w3.org/2005/Atom'><id>x</id><title>t</title><updated>2022-01-08T09:00:00Z</updated>"
        b"<entry><id>e</id><updated>2022-01-08T09:00:00Z</updated></entry></feed>",
        b"<feed xmlns='http://www.w3.org/2005/Atom'><id>x</id><title>t</title><updated>2022-01-08T09:00:00Z</updated>"
        b"<link rel='self'/></feed>",
        b"<feed xmlns='http://www.w3.org/2005/Atom'><id>x</id><title>t</title><updated>2022-01-08T09:00:00Z</updated>"
        b"<made-up/></feed>",
    ],
    ids=["no-id", "bad-date", "entry-without-title", "link-without-href", "unknown-atom-element"],
)
def test_schema_rejects_invalid_atom(atom_schema, document):
    assert not atom_schema.validate(etree.fromstring(document))


def test_schema_accepts_a_minimal_feed_with_extensions(atom_schema):
    document = (
        b"<feed xmlns='http://www.w3.org/2005/Atom' xmlns:m='http://search.yahoo.com/mrss/'><id>x</id>"
        b"<title>t</title><updated>2022-01-08T09:00:00+00:00</updated><entry><id>e</id><title type='html'>a</title>"
        b"<updated>2022-01-08T09:00:00Z</updated><m:content url='u' medium='image'/><source><title>s</title></source>"
        b"</entry></feed>"
    )
    assert atom_schema.validate(etree.fromstring(document)), atom_schema.error_log


def test_every_atom_file_validates_against_rfc_4287(crawled, atom_schema):
    assert len(slugs(crawled)) >= 8
    for slug in slugs(crawled):
        document = etree.parse(str(crawled["public"] / f"{slug}.atom"))
        assert atom_schema.validate(document), (slug, str(atom_schema.error_log.last_error))


# -- one set of entries, three formats


def test_same_entries_in_all_three_formats(crawled):
    for slug in slugs(crawled):
        atom = [(e.id, e.title, e.link) for e in parsed(crawled, f"{slug}.atom").entries]
        rss = [(e.id, e.title, e.link) for e in parsed(crawled, f"{slug}.rss").entries]
        feed = json_feed(crawled, slug)
        assert feed["version"] == "https://jsonfeed.org/version/1.1"
        items = [(i["id"], i["title"], i["url"]) for i in feed["items"]]
        assert atom and atom == rss == items, slug


def test_opml_lists_every_feed(crawled):
    root = etree.parse(str(crawled["public"] / "feeds.opml")).getroot()
    urls = [outline.get("xmlUrl") for outline in root.iter("outline")]
    topics = [s for s in slugs(crawled) if s != "all" and not s.startswith("publisher-")]
    publishers = [s for s in slugs(crawled) if s.startswith("publisher-")]
    assert publishers and topics  # as on the index page: "all", the topics, then the publishers
    assert urls == [f"http://feeds.example.test/{slug}.atom" for slug in ["all", *sorted(topics), *sorted(publishers)]]


# -- publishers


def test_each_original_publisher_has_its_own_feed(crawled):
    by_url = {a["url"]: a for a in crawled["export"]}
    publishers = {a["publisher"] for a in crawled["export"] if a["publisher"]}
    assert len(publishers) >= 3
    feeds = {s for s in slugs(crawled) if s.startswith("publisher-")}
    assert feeds == {"publisher-" + slugify(p) for p in publishers}
    for publisher in publishers:
        slug = "publisher-" + slugify(publisher)
        entries = parsed(crawled, f"{slug}.atom").entries
        assert {by_url[e.link]["publisher"] for e in entries} == {publisher}
        assert len(entries) == sum(a["publisher"] == publisher for a in crawled["export"])


def test_entries_name_their_original_publisher_as_source(crawled):
    atom = etree.parse(str(crawled["public"] / "all.atom"))
    rss = etree.parse(str(crawled["public"] / "all.rss"))
    by_url = {a["url"]: a for a in crawled["export"]}
    for entry in atom.iter(f"{ATOM}entry"):
        publisher = by_url[entry.find(f"{ATOM}link").get("href")]["publisher"]
        source = entry.find(f"{ATOM}source")
        assert source.findtext(f"{ATOM}title") == publisher
        assert source.find(f"{ATOM}link").get("href") == f"http://feeds.example.test/publisher-{slugify(publisher)}.atom"
    for item in rss.iter("item"):
        source = item.find("source")
        assert source.text == by_url[item.findtext("link")]["publisher"]
        assert source.get("url") == f"http://feeds.example.test/publisher-{slugify(source.text)}.rss"


# -- images


def test_image_is_an_enclosure_and_media_content(crawled):
    by_url = {a["url"]: a for a in crawled["export"]}
    rss = etree.parse(str(crawled["public"] / "all.rss"))
    items = list(rss.iter("item"))
    assert items
    for item in items:
        image = by_url[item.findtext("link")]["image"]
        assert image
        enclosure = item.find("enclosure")
        assert (enclosure.get("url"), enclosure.get("length"), enclosure.get("type")) == (image, "0", "image/jpeg")
        media = item.find(f"{MEDIA}content")
        assert (media.get("url"), media.get("medium"), media.get("type")) == (image, "image", "image/jpeg")
    for entry in parsed(crawled, "all.atom").entries:
        assert [link.href for link in entry.links if link.rel == "enclosure"] == [by_url[entry.link]["image"]]


def test_every_image_in_content_has_no_referrer_policy(crawled):
    seen = 0
    for slug in ("all", "news"):
        rss = etree.parse(str(crawled["public"] / f"{slug}.rss"))
        contents = [c.text for c in rss.iter("{http://purl.org/rss/1.0/modules/content/}encoded")]
        atom = etree.parse(str(crawled["public"] / f"{slug}.atom"))
        contents += [c.text for c in atom.iter(f"{ATOM}content")]
        contents += [i["content_html"] for i in json_feed(crawled, slug)["items"]]
        for html in contents:
            images = lxml_html.fragment_fromstring(html, create_parent="div").findall(".//img")
            assert images
            assert all(img.get("referrerpolicy") == "no-referrer" for img in images)
            seen += len(images)
    assert seen >= 3 * 200


# -- WebSub


def test_feeds_advertise_the_websub_hub(crawled, hub):
    for slug in ("all", "news"):
        atom = parsed(crawled, f"{slug}.atom")
        assert [link.href for link in atom.feed.links if link.rel == "hub"] == [hub.url]
        rss = etree.parse(str(crawled["public"] / f"{slug}.rss"))
        assert [link.get("href") for link in rss.iter(f"{ATOM}link") if link.get("rel") == "hub"] == [hub.url]
        assert json_feed(crawled, slug)["hubs"] == [{"type": "WebSub", "url": hub.url}]


def test_hub_is_pinged_once_per_changed_feed_and_not_for_unchanged_ones(crawled):
    pinged = sorted(ping["hub.url"][0] for ping in crawled["pings_once"])
    assert all(ping["hub.mode"] == ["publish"] for ping in crawled["pings_once"])
    names = sorted(p.name for p in crawled["public"].iterdir() if p.suffix in (".atom", ".rss", ".json"))
    assert pinged == sorted(f"http://feeds.example.test/{name}" for name in names)
    assert crawled["pings_rebuild"] == []


# -- the index page in a real browser


class DevTools:
    """Chromium's DevTools protocol over --remote-debugging-pipe (fd 3 in, fd 4 out; NUL-separated JSON)."""

    def __init__(self, binary: str, profile: Path, timeout: float = 60.0) -> None:
        self.timeout = timeout
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()
        os.set_inheritable(to_child_r, True)
        os.set_inheritable(from_child_w, True)
        flags = [
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-dev-shm-usage", "--hide-scrollbars", "--remote-debugging-pipe", f"--user-data-dir={profile}",
            "about:blank",
        ]
        # A trampoline moves the pipe ends to fds 3 and 4, where Chromium expects them.
        trampoline = "import os, sys; os.dup2(int(sys.argv[1]), 3); os.dup2(int(sys.argv[2]), 4); os.execv(sys.argv[3], sys.argv[3:])"
        self.process = subprocess.Popen(
            [sys.executable, "-c", trampoline, str(to_child_r), str(from_child_w), binary, *flags],
            pass_fds=(to_child_r, from_child_w), stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        os.close(to_child_r)
        os.close(from_child_w)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict] = []

    def call(self, method: str, session: str | None = None, **params) -> dict:
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self._to_child, json.dumps(message).encode() + b"\0")
        reply = self._read_until(lambda m: m.get("id") == self._next_id)
        assert "error" not in reply, (method, reply["error"])
        return reply.get("result", {})

    def new_page(self) -> str:
        """A blank tab with the Page, Runtime and Log domains on: its session id."""
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            self.call(f"{domain}.enable", session)
        return session

    def wait_for(self, event: str) -> dict:
        for index, message in enumerate(self.events):
            if message.get("method") == event:
                return self.events.pop(index)
        return self._read_until(lambda m: m.get("method") == event, keep=False)

    def _read_until(self, match, keep: bool = True) -> dict:
        deadline = time.monotonic() + self.timeout
        while True:
            while b"\0" in self._buffer:
                raw, self._buffer = self._buffer.split(b"\0", 1)
                message = json.loads(raw)
                if match(message):
                    return message
                if "method" in message:
                    self.events.append(message)
            remaining = deadline - time.monotonic()
            assert remaining > 0 and select.select([self._from_child], [], [], remaining)[0], "Chromium did not answer"
            chunk = os.read(self._from_child, 1 << 20)
            assert chunk, "Chromium closed the DevTools pipe"
            self._buffer += chunk

    def close(self) -> None:
        try:
            self.call("Browser.close")
        except (AssertionError, OSError):
            self.process.kill()
        finally:
            self.process.wait(timeout=30)
            os.close(self._to_child)
            os.close(self._from_child)


def chromium_or_skip() -> str:
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        if os.environ.get("REFEED_REQUIRE_SERVICES") == "1":
            pytest.fail("chromium is required (REFEED_REQUIRE_SERVICES=1) but not installed: apt-get install chromium")
        pytest.skip("chromium not installed (Debian package chromium; .ci/run installs it)")
    return binary


def problems(events: list[dict]) -> list[str]:
    """Console errors, uncaught exceptions and failed loads among DevTools events."""
    found = []
    for event in events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            found.append(f'{details.get("text", "")} {details.get("exception", {}).get("description", "")}'.strip())
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert", "warning"):
            found.append(" ".join(str(arg.get("value", arg.get("description"))) for arg in params.get("args", [])))
        elif method == "Log.entryAdded" and params["entry"]["level"] in ("error", "warning"):
            found.append(params["entry"]["text"] + " " + params["entry"].get("url", ""))
    return found


def test_index_page_renders_in_headless_chromium_without_console_errors(crawled, tmp_path):
    binary = chromium_or_skip()
    ARTIFACTS.mkdir(exist_ok=True)
    with FeedServer(crawled["public"]) as server:
        browser = DevTools(binary, tmp_path / "profile")
        try:
            session = browser.new_page()
            shots = {}
            for name, width, height, mobile in (("desktop", 1280, 900, False), ("phone", 390, 844, True)):
                browser.call("Emulation.setDeviceMetricsOverride", session, width=width, height=height,
                             deviceScaleFactor=1, mobile=mobile)
                browser.call("Page.navigate", session, url=server.url + "index.html")
                browser.wait_for("Page.loadEventFired")
                facts = browser.call("Runtime.evaluate", session, returnByValue=True, expression="""({
                    sections: document.querySelectorAll('main section').length,
                    feeds: document.querySelectorAll('head link[rel=alternate][type="application/atom+xml"]').length,
                    subscribe: document.querySelectorAll('.subscribe a').length,
                    copy: [...document.querySelectorAll('.subscribe button')].filter(b => !b.hidden).length,
                    overflow: document.documentElement.scrollWidth - window.innerWidth,
                    groups: [...document.querySelectorAll('main > h2')].map(h => h.textContent),
                    order: [...document.querySelectorAll('main section')].map(s => s.id),
                    names: [...document.querySelectorAll('main section h3')].map(h => h.textContent),
                })""")["result"]["value"]
                publishers = [slug for slug in facts["order"] if slug.startswith("publisher-")]
                assert facts["groups"] == ["Topics", "Publishers"] and publishers  # two groups: topics, then publishers
                assert facts["order"][0] == "all" and facts["order"][-len(publishers):] == publishers
                shown = facts["names"][-len(publishers):]
                assert shown == sorted(shown, key=str.casefold) and not any(n.startswith("Publisher:") or n.islower() for n in shown)
                assert facts["sections"] == facts["feeds"] == len(slugs(crawled)), facts
                assert facts["subscribe"] == 3 * facts["sections"] == 3 * facts["copy"]
                assert facts["overflow"] <= 0, f"{name}: page wider than the screen by {facts['overflow']}px"
                shot = browser.call("Page.captureScreenshot", session, format="png")["data"]
                path = ARTIFACTS / f"index-{name}.png"
                path.write_bytes(base64.b64decode(shot))
                shots[name] = path
            events = list(browser.events)
        finally:
            browser.close()
    print("screenshots:", *shots.values())
    assert all(path.read_bytes().startswith(b"\x89PNG") and path.stat().st_size > 10_000 for path in shots.values())
    assert problems(events) == []


def test_console_error_detection_sees_a_broken_page(tmp_path):
    """The check above can fail: a page with a script error and a missing image is reported."""
    binary = chromium_or_skip()
    (tmp_path / "index.html").write_text(
        '<!DOCTYPE html><title>x</title><img src="missing.png"><script>undefinedFunction()</script>', encoding="utf-8"
    )
    with FeedServer(tmp_path) as server:
        browser = DevTools(binary, tmp_path / "profile")
        try:
            session = browser.new_page()
            browser.call("Page.navigate", session, url=server.url + "index.html")
            browser.wait_for("Page.loadEventFired")
            browser.call("Runtime.evaluate", session, expression="1")  # a round trip: earlier events have arrived
            found = problems(browser.events)
        finally:
            browser.close()
    assert any("undefinedFunction" in text for text in found), found
    assert any(re.search(r"404|missing\.png", text) for text in found), found
