"""Sanitizing: no vector of tests/data/xss.txt survives into any Atom, RSS or JSON feed or index.html.

Each vector goes into the body, headline, lede and caption of sample-site article pages (as markup and as
text), through the limitedtimes spider's extraction; and straight into an Article's fields, as a feed spider
or a `body` selector could deliver it. Both pass the real Clean → Sanitize → Canonicalize stages and one
real feed build. The outputs are parsed and their markup inspected as a DOM, twice: by lxml's tree and by
the standard library's HTML tokenizer (which sees every tag wherever it stands).
"""

from __future__ import annotations

import functools
import json
import re
import zlib
from html.parser import HTMLParser
from pathlib import Path

import feedparser
import pytest
from article_stages import article_from_page, row, through_stages
from lxml import etree
from lxml import html as lxml_html

from crawler.cleaning import sanitize_html
from crawler.config import SourceConfig
from crawler.items import Article
from crawler.parsers import LimitedTimesParser
from feeds.build import build_feeds
from feeds.index import _SCRIPT as INDEX_SCRIPT

CORPUS = Path(__file__).parent / "data" / "xss.txt"
CONTROLS = {"{TAB}": "\t", "{NL}": "\n", "{CR}": "\r", "{FF}": "\f", "{NUL}": "\x00"}
ATOM = "{http://www.w3.org/2005/Atom}"
CONTENT_ENCODED = "{http://purl.org/rss/1.0/modules/content/}encoded"
BASE = "http://feeds.example.test/"

FORBIDDEN_TAGS = {
    "script", "iframe", "object", "embed", "form", "svg", "math", "style", "base", "meta", "link", "frame", "frameset",
    "applet", "input", "button", "textarea", "select", "option", "isindex", "keygen", "template", "noscript", "portal",
    "video", "audio", "source", "param", "xmp", "plaintext", "noembed", "noframes", "marquee", "bgsound", "title",
}
URL_ATTRIBUTES = {
    "href", "src", "cite", "action", "formaction", "background", "poster", "longdesc", "lowsrc", "dynsrc", "srcset",
    "xlink:href", "data", "codebase", "ping", "manifest", "icon", "profile", "usemap", "archive", "classid",
}
BAD_SCHEMES = ("javascript:", "vbscript:", "data:", "livescript:", "mocha:")
IMAGE_DATA = re.compile(r"^data:image/(?:png|gif|jpeg|jpg|webp|avif|bmp)[;,]", re.I)


def load_vectors() -> list[str]:
    vectors = []
    for line in CORPUS.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        for marker, char in CONTROLS.items():
            line = line.replace(marker, char)
        vectors.append(line)
    return vectors


VECTORS = load_vectors()


# -- the inspection


def _url_value(value: str) -> str:
    """An attribute's URL as a browser reads it: tabs and newlines dropped, controls and spaces trimmed."""
    return re.sub(r"[\t\n\r]", "", value).strip("".join(map(chr, range(0x21)))).lower()


def attribute_problems(tag: str, attributes: list[tuple[str, str | None]], *, content: bool) -> list[str]:
    """What is wrong with one element's attributes; `content` adds the rules for article content."""
    problems = []
    values = {name.lower(): value or "" for name, value in attributes}
    if not content and tag == "link" and values.get("rel") == "icon" and values.get("href") == "data:,":
        del values["href"]  # index.html's empty icon, which spares browsers a /favicon.ico request
    for name, value in values.items():
        if name.startswith("on"):
            problems.append(f"<{tag} {name}>")
        if name == "style":
            problems.append(f"<{tag} style>")
        if name in URL_ATTRIBUTES or name.endswith(":href"):
            url = _url_value(value)
            if url.startswith(BAD_SCHEMES) and not (tag == "img" and name == "src" and IMAGE_DATA.match(url)):
                problems.append(f"<{tag} {name}={value!r}>")
            if content and name in ("href", "src") and not (
                url.startswith(("http://", "https://")) or (name == "href" and url.startswith("mailto:")) or IMAGE_DATA.match(url)
            ):
                problems.append(f"<{tag} {name}={value!r}> is not absolute")
    if content and tag == "a" and "href" in values:
        rel = values.get("rel", "").lower().split()
        if "nofollow" not in rel or "noopener" not in rel:
            problems.append(f"<a href={values['href']!r}> without rel=nofollow noopener")
    return problems


class _Tokens(HTMLParser):
    def __init__(self, content: bool):
        super().__init__(convert_charrefs=True)
        self.content = content
        self.problems: list[str] = []
        self.scripts: list[str] = []
        self.tags: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if self.content and tag in FORBIDDEN_TAGS:
            self.problems.append(f"<{tag}>")
        self.problems += attribute_problems(tag, attrs, content=self.content)
        self._in_script = tag == "script"

    def handle_endtag(self, tag):
        self._in_script = False

    def handle_data(self, data):
        if self._in_script:
            self.scripts.append(data)

    def handle_comment(self, data):
        if self.content:
            self.problems.append(f"<!--{data[:40]}-->")

    def handle_decl(self, decl):
        if self.content:
            self.problems.append(f"<!{decl[:40]}>")

    def handle_pi(self, data):
        if self.content:
            self.problems.append(f"<?{data[:40]}>")

    def unknown_decl(self, data):
        if self.content:
            self.problems.append(f"<![{data[:40]}>")


def content_problems(markup: str) -> list[str]:
    """Everything executable, styled or unsafe in a piece of article HTML, by lxml's DOM and by tokens."""
    return list(_content_problems(markup))


@functools.lru_cache(maxsize=4096)  # an entry is in several feeds, in three formats
def _content_problems(markup: str) -> tuple[str, ...]:
    if not markup.strip():
        return ()
    problems = []
    root = lxml_html.fragment_fromstring(markup, create_parent="div")
    for element in root.iter():
        if not isinstance(element.tag, str):
            problems.append(f"node {element!r}")  # a comment or processing instruction
            continue
        if element.tag.lower() in FORBIDDEN_TAGS:
            problems.append(f"<{element.tag}>")
        problems += attribute_problems(element.tag.lower(), list(element.attrib.items()), content=True)
    tokens = _Tokens(content=True)
    tokens.feed(markup)
    tokens.close()
    return tuple(problems + tokens.problems)


def index_problems(page: str) -> list[str]:
    """index.html: only its own script and stylesheet; no handler, style attribute or unsafe URL anywhere."""
    tokens = _Tokens(content=False)
    tokens.feed(page)
    tokens.close()
    problems = list(tokens.problems)
    if tokens.tags.count("script") != 1 or tokens.scripts != [INDEX_SCRIPT]:
        problems.append(f"scripts {tokens.scripts!r}")
    if tokens.tags.count("style") != 1:
        problems.append("more than one <style>")
    for tag in FORBIDDEN_TAGS - {"script", "style", "meta", "link", "title", "button"}:
        if tag in tokens.tags:
            problems.append(f"<{tag}>")
    document = lxml_html.document_fromstring(page)
    for element in document.iter():
        if not isinstance(element.tag, str):
            continue
        problems += attribute_problems(element.tag, list(element.attrib.items()), content=False)
        if element.tag == "link" and element.get("rel") not in ("alternate", "icon"):
            problems.append(f"<link rel={element.get('rel')!r}>")
        if element.tag == "link" and not (element.get("href", "").startswith(("http://", "https://")) or element.get("href") == "data:,"):
            problems.append(f"<link href={element.get('href')!r}>")
        if element.tag == "meta" and set(element.attrib) - {"charset", "name", "content"}:
            problems.append(f"<meta {dict(element.attrib)!r}>")
        if element.tag == "a" and not element.get("href", "").startswith(("http://", "https://")):
            problems.append(f"<a href={element.get('href')!r}>")
    return problems


def feed_problems(out: Path) -> dict[str, list[str]]:
    """Every feed file and index.html of a build, inspected; {file: problems} for the files with any."""
    found: dict[str, list[str]] = {}

    def note(name: str, problems: list[str]) -> None:
        if problems:
            found.setdefault(name, []).extend(problems)

    for path in sorted(out.glob("*.atom")):
        root = etree.fromstring(path.read_bytes())
        if path.stem == "all":  # every entry is in it; feedparser is slow over hundreds of one-entry feeds
            assert feedparser.parse(path.read_bytes()).bozo == 0, path.name
        for entry in root.iter(f"{ATOM}entry"):
            for link in entry.iter(f"{ATOM}link"):
                if not link.get("href", "").startswith(("http://", "https://")):
                    note(path.name, [f"entry link {link.get('href')!r}"])
            for field in ("content", "summary", "title"):
                node = entry.find(f"{ATOM}{field}")
                if node is None:
                    continue
                kind = node.get("type", "text")
                if kind == "html":
                    note(path.name, content_problems(node.text or ""))
                elif kind != "text":
                    note(path.name, [f"{field} of type {kind!r}"])
    for path in sorted(out.glob("*.rss")):
        root = etree.fromstring(path.read_bytes())
        if path.stem == "all":  # every entry is in it; feedparser is slow over hundreds of one-entry feeds
            assert feedparser.parse(path.read_bytes()).bozo == 0, path.name
        for item in root.iter("item"):
            link = item.findtext("link") or ""
            if not link.startswith(("http://", "https://")):
                note(path.name, [f"item link {link!r}"])
            for node in (item.find("description"), item.find(CONTENT_ENCODED)):  # HTML, to every RSS reader
                if node is not None:
                    note(path.name, content_problems(node.text or ""))
    for path in sorted(out.glob("*.json")):
        feed = json.loads(path.read_text(encoding="utf-8"))
        for item in feed["items"]:  # title, summary and content_text are plain text by the JSON Feed spec
            note(path.name, content_problems(item.get("content_html") or ""))
            if not item.get("url", "").startswith(("http://", "https://")):
                note(path.name, [f"item url {item.get('url')!r}"])
            if item.get("image") and not item["image"].startswith(("http://", "https://")):
                note(path.name, [f"item image {item['image']!r}"])
    note("index.html", index_problems((out / "index.html").read_text(encoding="utf-8")))
    return found


# -- articles carrying the vectors

PARSER = LimitedTimesParser(SourceConfig(name="limitedtimes", spider="limitedtimes", start_urls=("http://lt.test/",)))


def vector_row(article: Article | None) -> dict | None:
    """The feed row of an article that came through the stages, with an id that carries the start of its title."""
    if article is None:
        return None
    url = article.url
    return row(article, f"{len(url)}-{zlib.crc32(url.encode('utf-8')):x}-{article.title[:20]}")


def page_with(page: str, vector: str, as_text: bool) -> str:
    """A sample-site article page with `vector` in its headline, lede, caption and body (markup or text)."""
    from html import escape

    inject = escape(vector) if as_text else vector
    page = re.sub(r'(<meta property="og:title" content=")[^"]*', lambda m: m.group(1) + escape(vector if as_text else "Headline " + vector), page)
    page = re.sub(r'(<h1 class="article-title">)', lambda m: m.group(1) + inject + " ", page)
    page = re.sub(r'(<p class="article-lede">)', lambda m: m.group(1) + inject + " ", page)
    page = re.sub(r'(<span class="caption">)', lambda m: m.group(1) + inject + " ", page)
    page = re.sub(r'(<div class="article-body">\n<p>)', lambda m: m.group(1) + inject + " ", page)
    return page.replace('<div class="article-body">\n', '<div class="article-body">\n' + inject + "\n", 1)


def direct_article(index: int, vector: str) -> Article:
    """An Article as a feed item or a `body` selector could carry it: the vector anywhere in its markup and text."""
    return Article(
        url=f"http://lt.test/news/2022-01-08-direct-{index}.d{index:04x}.html",
        title=f"Direct {index}: {vector}",
        published=None,
        site="limitedtimes",
        summary=vector,
        content_html=f"<p>Paragraph before the vector {index}.</p>{vector}<p>Paragraph after it, <a href='/more'>more</a>.</p>",
        image_caption=vector,
        authors=[vector],
        publisher=vector,
        topics=[vector, "news"],
    )


@pytest.fixture(scope="module")
def built(tmp_path_factory, sample_site):
    stories = [a for a in sample_site.stories() if not a.also_in]
    base = "http://lt.test"
    rows = []
    for index, vector in enumerate(VECTORS):
        story = stories[index % len(stories)]
        _, _, body = sample_site.render(story.path, base)
        url = f"{base}/{story.section}/{story.day}-xss-{index}.x{index:04x}.html"
        for as_text in (False, True):
            html = page_with(body.decode("utf-8"), vector, as_text).replace(story.path, url[len(base):])
            rows.append(vector_row(article_from_page(PARSER, html, url)))
        rows.append(vector_row(through_stages(direct_article(index, vector))))
    out = tmp_path_factory.mktemp("xss") / "public"
    build_feeds([r for r in rows if r], out, BASE, max_entries=len(rows))
    return {"out": out, "rows": rows}


def test_corpus_has_at_least_150_distinct_vectors():
    assert len(VECTORS) == len(set(VECTORS)) >= 150


def test_inspection_finds_the_vectors_unsanitized():
    """The inspection itself: unsanitized, nearly every vector is found out; the rest are text or tag
    fragments that no browser runs (`&lt;img …&gt;`, `<scr<script>ipt>`, `" onmouseover="…`)."""
    found = [v for v in VECTORS if content_problems(f"<p>x</p>{v}")]
    assert len(found) >= 0.9 * len(VECTORS)
    assert content_problems('<img src="data:image/png;base64,iVBORw0KGgo=">') == []


@pytest.mark.parametrize("vector", VECTORS)
def test_sanitizer_leaves_nothing_executable(vector):
    assert content_problems(sanitize_html(vector, "http://lt.test/news/a.html")) == []


def test_every_vector_still_makes_an_article(built):
    """Sanitizing removes the attack, not the article. Only a page whose vector leaves the rest of it inside
    a raw-text element (an unclosed <script>, <style>, <plaintext>) has no article left to find."""
    rows = built["rows"]
    lost = [VECTORS[i // 3] for i, row in enumerate(rows) if row is None]
    assert all(rows[i] for i in range(len(rows)) if i % 3), "a text page or a direct item was lost"
    assert len(lost) <= 0.05 * len(VECTORS)
    assert all(re.search(r"<(script|style|plaintext|noscript)\b", v) for v in lost), lost


def test_no_vector_survives_into_any_feed_or_the_index(built):
    out = built["out"]
    assert {p.suffix for p in out.iterdir()} >= {".atom", ".rss", ".json", ".html"}
    assert feed_problems(out) == {}


def test_links_in_content_are_absolute_and_nofollow(built):
    feed = json.loads((built["out"] / "all.json").read_text(encoding="utf-8"))
    links = [a for item in feed["items"] for a in lxml_html.fragment_fromstring(item["content_html"], create_parent="div").iter("a")]
    hrefs = [a.get("href") for a in links if a.get("href")]
    assert len(hrefs) > len(VECTORS)  # the direct items' relative "more" link, at least
    assert "http://lt.test/more" in hrefs and "http://lt.test/relative/page.html" in hrefs and "http://evil.test/x" in hrefs
    assert all(set(a.get("rel").split()) >= {"nofollow", "noopener"} for a in links)


def test_data_urls_survive_only_as_raster_images():
    kept = sanitize_html('<img src="data:image/png;base64,iVBORw0KGgo="><img src="data:image/svg+xml,<svg/>">'
                         '<a href="data:image/png;base64,iVBORw0KGgo=">x</a><img src=" DATA:image/gif;base64,R0lGOD=">')
    assert kept == '<img src="data:image/png;base64,iVBORw0KGgo="><img><a rel="nofollow noopener noreferrer">x</a><img src="DATA:image/gif;base64,R0lGOD=">'


def test_rss_description_is_escaped_text(tmp_path):
    """An RSS <description> is HTML to readers: a lede that reads like markup is escaped, not passed on."""
    article = {"id": "1", "url": "http://lt.test/a", "title": "t", "summary": "<img src=x onerror=alert(1)> & co",
               "content_html": "<p>body</p>", "content_text": "body", "published": "2022-01-08T10:00:00+00:00"}
    out = tmp_path
    build_feeds([article], out, BASE)
    item = etree.fromstring((out / "all.rss").read_bytes()).find(".//item")
    assert item.findtext("description") == "&lt;img src=x onerror=alert(1)&gt; &amp; co"
    assert etree.fromstring((out / "all.atom").read_bytes()).find(f".//{ATOM}summary").text == "<img src=x onerror=alert(1)> & co"
