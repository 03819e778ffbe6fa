"""Broken and hostile HTML: extraction → Clean/Sanitize/Canonicalize → feed files, without a crash or a bad feed.

Named cases put one kind of damage into sample-site article pages and expect the article still to come out;
a property-based test (hypothesis) feeds generated markup through the same path.
"""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path

import pytest
from article_stages import article_from_page, row
from conftest import assert_published_file_whole
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crawler.cleaning import CleanPipeline
from crawler.config import SourceConfig
from crawler.extract.encoding import decode_html
from crawler.items import Article
from crawler.parsers import GenericParser, LimitedTimesParser
from feeds.build import build_feeds

BASE = "http://lt.test"
PARSERS = {
    "limitedtimes": LimitedTimesParser(SourceConfig(name="lt", spider="limitedtimes", start_urls=(BASE + "/",))),
    "generic": GenericParser(SourceConfig(name="gen", spider="generic", start_urls=(BASE + "/",))),
}


def extract(html: str, url: str, spider: str = "limitedtimes") -> Article | None:
    return article_from_page(PARSERS[spider], html, url)


def assert_feeds_valid(out: Path) -> None:
    """Every Atom, RSS and OPML file is well-formed XML, and feedparser reads `all` (which holds every entry)
    without complaint; every JSON Feed is JSON."""
    names = {p.name for p in out.iterdir()}
    assert {"all.atom", "all.rss", "all.json", "index.html", "feeds.opml"} <= names
    for path in out.iterdir():
        feed = assert_published_file_whole(path)
        if feed is not None:
            assert all(isinstance(item["id"], str) and ("content_html" in item or "content_text" in item) for item in feed["items"])


# -- named cases: one kind of damage each, in a sample-site article page


def _nested_tables(depth: int) -> str:
    return "<table><tr><td>" * depth + "<p>A cell deep inside nested tables.</p>" + "</td></tr></table>" * depth


# Past these, the page's end is gone, as in a browser (an unclosed comment) or because the HTML parser stops
# at a depth of 2048 (libxml2's limit): the article is what came before, without its `Source:` line.
LOSES_THE_END = {"deep-divs", "deep-inline", "deep-unclosed", "unclosed-comment"}
CASES = {  # name → (what goes at the head of the article body, what goes at its end)
    "unclosed-tags": ("<p>Unclosed <b>bold <i>italic <a href='/x'>link <span>span <p>next <div><table><tr><td>cell", ""),
    "stray-closing-tags": ("</p></td></tr></table></li></ul></span></b></i></h2></em></a></form><p>After stray closers.</p>", "</span></td>"),
    "nested-tables": (_nested_tables(60), ""),
    "tables-in-tables": ("<table>" * 300 + "<tr><td><p>A cell.</p>" + "</td></tr></table>" * 300, ""),
    "nul-and-controls": ("<p>NUL \x00 and \x01\x02\x07\x08\x0b\x0c\x0e\x1b[31m\x1f\x7f\x80\x85\x9f controls</p>", "\x00"),
    "surrogate-entities": ("<p>Bad refs &#xD800; &#xDFFF; &#55296; &#0; &#x110000; &#x1; &#xFFFE; &#xFFFF; &#x80; &#;</p>", ""),
    "lone-surrogates": ("<p>Raw \ud800 lone \udfff surrogates \udbff\ud800 in a str</p>", "\ud83d"),
    "tables-in-tables-with-image": ("<table>" * 300 + "<tr><td><p>A cell <img src='/i.jpg'>.</p>" + "</td></tr></table>" * 300, ""),
    "deep-divs": ("", "<div>" * 100_000 + "<p>The bottom.</p>" + "</div>" * 100_000),
    "deep-inline": ("", "<p>" + "<b>" * 100_000 + "bottom" + "</b>" * 100_000 + "</p>"),
    "deep-unclosed": ("", "<span><em>" * 50_000),
    "megabyte-line": ("", "<p>" + "wordy " * 250_000 + "</p>"),
    "megabyte-markup-line": ("", "".join(f"<p>Sentence {i} of one endless line of markup.</p>" for i in range(20_000))),
    "megabyte-attribute": (f'<p title="{"x" * 1_000_000}">An attribute of a megabyte.</p>', ""),
    "comments-and-cdata": ("<!-- a <p>comment</p> --><![CDATA[ <p>cdata</p> ]]><?pi x?><!DOCTYPE x>", ""),
    "unclosed-comment": ("", "<!-- a comment that never ends"),
    "bidi-and-zero-width": ("<p>\u202eevil\u202c \u200b\u200d\ufeff\u2028\u2029 text</p>", ""),
}


def _hostile_page(page: str, head: str, tail: str) -> str:
    page = page.replace('<div class="article-body">\n', '<div class="article-body">\n' + head + "\n", 1)
    return page.replace('<p class="credit-line">', tail + '<p class="credit-line">', 1)


def _first_paragraph(story) -> str:
    return next(text for kind, text in story.blocks if kind == "p")


@pytest.fixture(scope="module")
def hostile(tmp_path_factory, sample_site):
    """Every named case and every mixed-encoding case extracted and built into one set of feeds."""
    stories = [a for a in sample_site.stories() if not a.also_in]
    results = {}
    for index, (name, (head, tail)) in enumerate(CASES.items()):
        story = stories[index]
        _, _, body = sample_site.render(story.path, BASE)
        article = extract(_hostile_page(body.decode("utf-8"), head, tail), BASE + story.path)
        results[name] = (story, article)
    for index, (name, (body, content_type)) in enumerate(_encoded_pages(sample_site, stories[len(CASES):]).items()):
        story = stories[len(CASES) + index]
        results[name] = (story, extract(decode_html(body, content_type), BASE + story.path))
    out = tmp_path_factory.mktemp("hostile") / "public"
    build_feeds([row(a) for _, a in results.values() if a is not None], out, BASE + "/feeds/")
    return {"results": results, "out": out}


@pytest.mark.parametrize("name", CASES)
def test_broken_page_is_still_an_article(hostile, name):
    story, article = hostile["results"][name]
    assert article is not None
    assert article.title == story.title
    assert _first_paragraph(story) in article.content_text
    assert article.publisher == (None if name in LOSES_THE_END else story.publisher)
    for text in (article.title, article.summary, article.content_text, article.content_html):
        assert not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]", text)
        text.encode("utf-8")


def test_endless_line_is_cut_to_the_article_size_cap(hostile):
    """An endless paragraph is cut at a word, endless paragraphs at a paragraph: 200,000 characters at most."""
    _, article = hostile["results"]["megabyte-line"]
    assert 199_000 <= len(article.content_text) <= 200_000 and article.content_text.endswith("wordy")
    _, article = hostile["results"]["megabyte-markup-line"]
    assert 199_000 <= len(article.content_text) <= 200_000
    assert article.content_text.endswith("of one endless line of markup.")
    assert article.content_html.endswith("of one endless line of markup.</p>")


def test_every_feed_of_the_broken_pages_is_well_formed(hostile):
    assert_feeds_valid(hostile["out"])
    feed = json.loads((hostile["out"] / "all.json").read_text(encoding="utf-8"))
    assert len(feed["items"]) == len(hostile["results"])


# -- mixed and wrong encodings

ACCENTED = "Café in Zürich: “naïve” señor — 1 €"


def _encoded_pages(sample_site, stories) -> dict[str, tuple[bytes, str | None]]:
    def page(story) -> str:
        _, _, body = sample_site.render(story.path, BASE)
        return body.decode("utf-8").replace('<div class="article-body">\n', f'<div class="article-body">\n<p>{ACCENTED}</p>\n', 1)

    pages = iter(stories)
    utf8 = page(next(pages)).encode("utf-8")
    cut = utf8.index(ACCENTED.encode("utf-8"))
    return {
        # a UTF-8 page with one paragraph pasted in as windows-1252
        "utf8-with-cp1252-paragraph": (utf8[:cut] + ACCENTED.encode("cp1252") + utf8[cut + len(ACCENTED.encode("utf-8")):], "text/html; charset=utf-8"),
        # windows-1252 bytes behind a <meta charset="utf-8">, no HTTP charset
        "cp1252-declared-utf8": (page(next(pages)).encode("cp1252", "replace"), None),
        # the HTTP header says latin-1, the UTF-8 BOM says otherwise
        "utf8-bom-header-latin1": (b"\xef\xbb\xbf" + page(next(pages)).encode("utf-8"), "text/html; charset=iso-8859-1"),
        "utf16-bom": (page(next(pages)).encode("utf-16"), None),
        # invalid UTF-8 sequences all over, nothing declared
        "invalid-utf8": (page(next(pages)).replace('<meta charset="utf-8">', "").encode("utf-8").replace(b"\xc3\xa9", b"\xc3").replace(b"<div class=\"article-body\">", b"<div class=\"article-body\">\xff\xfe\x80\xed\xa0\x80"), None),
        "unknown-charset": (page(next(pages)).encode("utf-8"), "text/html; charset=x-no-such-charset"),
    }


@pytest.mark.parametrize("name", ["utf8-with-cp1252-paragraph", "cp1252-declared-utf8", "utf8-bom-header-latin1", "utf16-bom", "invalid-utf8", "unknown-charset"])
def test_wrongly_encoded_page_is_still_an_article(hostile, name):
    story, article = hostile["results"][name]
    assert article is not None
    assert article.title == story.title
    assert _first_paragraph(story) in article.content_text
    assert "Caf" in article.content_text and " in Z" in article.content_text  # what no decoding can get wrong
    if name in ("utf8-bom-header-latin1", "utf16-bom", "unknown-charset"):
        assert ACCENTED in article.content_text


# -- generated markup

TAGS = (
    "p", "div", "span", "b", "i", "a", "img", "table", "tr", "td", "th", "ul", "ol", "li", "h1", "h2", "h3", "br", "hr",
    "figure", "figcaption", "blockquote", "pre", "code", "article", "main", "aside", "nav", "section", "time", "sup",
    "script", "style", "svg", "math", "iframe", "object", "embed", "noscript", "template", "textarea", "title", "select",
    "option", "form", "input", "base", "meta", "link", "plaintext", "xmp", "frameset", "body", "html", "head", "x-y",
)
ATTRIBUTES = ("href", "src", "onerror", "onclick", "style", "class", "id", "alt", "title", "srcset", "xmlns",
              "xlink:href", "itemprop", "rel", "datetime", "content", "property", "hidden", "aria-hidden", "data-x")
NASTY = (
    "\x00", "\x01", "\x08", "\x0b", "\x0c", "\x1b", "\x7f", "\x85", "\x9f", "\ud800", "\udfff", "\ufeff", "\ufffe",
    "\uffff", "\u2028", "\u202e", "\U0001f642", "é", "日本語", "\r", "\n", "\t", " ", "&#0;", "&#xD800;", "&#x110000;",
    "&#1;", "&#;", "&amp", "&", "&nbsp;", "<!--", "-->", "<![CDATA[", "]]>", "<", "</", "<p", ">", "/>", '"', "'", "=",
    "`", "javascript:alert(1)", "data:text/html,x", "Source: spiegel", "asc / dpa / AFP", "Enlarge image", "You may like",
    "2022-01-08T09:00:00+01:00", "<?xml ?>", "<!DOCTYPE html>", "</script>", "</style>", "</textarea>",
)
WORDS = st.sampled_from(("the", "minister", "said", "on", "Saturday", "Almaty", "protests", "police", "city", "report"))
text = st.one_of(
    st.text(max_size=20),
    st.lists(WORDS, min_size=1, max_size=12).map(" ".join),
    st.lists(st.sampled_from(NASTY), min_size=1, max_size=6).map("".join),
)
attribute_value = st.one_of(text, st.sampled_from(("/rel", "//evil.test/x", "javascript:alert(1)", "jav&#x09;ascript:x", "http://ok.test/a.jpg", "")))


def _element(children):
    def render(tag, attributes, inner, closed):
        attrs = "".join(f' {name}="{value}"' if quoted else f" {name}={value}" for name, value, quoted in attributes)
        return f"<{tag}{attrs}>{''.join(inner)}" + (f"</{tag}>" if closed else "")

    return st.builds(
        render,
        st.sampled_from(TAGS),
        st.lists(st.tuples(st.sampled_from(ATTRIBUTES), attribute_value, st.booleans()), max_size=3),
        st.lists(children, max_size=4),
        st.booleans(),
    )


markup = st.recursive(text, _element, max_leaves=10)
paragraph_of_words = st.lists(WORDS, min_size=8, max_size=30).map(lambda words: "<p>" + " ".join(words) + ".</p>")


@st.composite
def pages(draw):
    """(html, spider): a sample-site-like article page with generated parts, or a generated document."""
    if draw(st.integers(0, 9)) == 0:  # the generic spider (trafilatura) on a whole generated document: slower, rarer
        blocks = draw(st.lists(st.one_of(markup, paragraph_of_words), min_size=1, max_size=5))
        return "".join(blocks), "generic"
    body = draw(st.lists(st.one_of(markup, paragraph_of_words), min_size=1, max_size=5))
    title, lede, caption, source, head = (draw(st.one_of(text, markup)) for _ in range(5))
    html = (
        f"<!DOCTYPE html><html><head><meta charset=utf-8><title>{title}</title>{head}</head><body>"
        f'<article class="article"><h1 class="article-title">{title}</h1><time datetime="{draw(text)}">x</time>'
        f'<p class="article-lede">{lede}</p><figure><img src="{draw(attribute_value)}"><figcaption>'
        f'<span class="caption">{caption}</span></figcaption></figure><div class="article-body">{"".join(body)}</div>'
        f'<p class="article-source">Source: {source}</p></article></body></html>'
    )
    return html, "limitedtimes"


@settings(
    max_examples=300,
    derandomize=True,  # the same 300 examples on every run
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
@given(page=pages())
def test_generated_html_never_breaks_extraction_or_feeds(page):
    html, spider = page
    article = extract(html, BASE + "/news/2022-01-08-generated.abc123.html", spider)
    if article is None:
        return
    with tempfile.TemporaryDirectory() as out:
        build_feeds([row(article)], out, BASE + "/feeds/")
        assert_feeds_valid(Path(out))


def test_article_size_cap_is_a_setting_and_cuts_at_a_block(caplog):
    from scrapy.utils.test import get_crawler

    assert CleanPipeline.from_crawler(get_crawler(settings_dict={})).max_chars == 200_000
    stage = CleanPipeline.from_crawler(get_crawler(settings_dict={"REFEED_MAX_ARTICLE_CHARS": 50}))
    article = Article(url=BASE + "/news/a.html", title="T", published=None, site="lt",
                      content_html="<p>" + "a" * 20 + "</p><p>" + "b" * 20 + "</p><p>" + "c" * 20 + "</p>")
    with caplog.at_level("INFO", logger="crawler.cleaning"):
        article = stage.process_item(article)
    assert article.content_text == "a" * 20 + "\n\n" + "b" * 20
    assert article.content_html == "<p>" + "a" * 20 + "</p>\n<p>" + "b" * 20 + "</p>"
    assert "article text of 64 characters to 42" in caplog.text
