"""Clean → Sanitize → Canonicalize: an article's pure work after extraction, in the page pool (crawler/pagepool.py).

No Scrapy and no store here: a pool process imports only this, the parsers and extraction. A page that turns out
to be no article (no title, no text) raises NotAnArticle, which the crawl logs as a skipped page.
"""

from __future__ import annotations

import hashlib
import logging
import re
import unicodedata
from html import escape
from urllib.parse import urljoin, urlsplit

import nh3
from lxml import etree
from lxml import html as lxml_html

from crawler.canonical import canonicalize, same_site
from crawler.extract.text import is_boilerplate
from crawler.items import Article
from feeds.topics import slugify

__all__ = [
    "MAX_ARTICLE_CHARS",
    "CanonicalizePipeline",
    "CleanPipeline",
    "NotAnArticle",
    "SanitizePipeline",
    "content_hash",
    "content_hash_of",
    "sanitize_html",
    "stages",
]

logger = logging.getLogger(__name__)


class NotAnArticle(ValueError):
    """The page, once cleaned, holds no article: no title or no text."""


def stages(max_chars: int) -> tuple:
    """Clean → Sanitize → Canonicalize, in the crawl's order."""
    return CleanPipeline(max_chars), SanitizePipeline(), CanonicalizePipeline()


MAX_ARTICLE_CHARS = 200_000  # article text beyond this is cut at a block boundary (REFEED_MAX_ARTICLE_CHARS)
# C0 controls but \t \n \r, DEL and C1 controls, lone surrogates, U+FFFE/U+FFFF: nothing a feed can carry.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def _normal(text: str | None) -> str:
    return unicodedata.normalize("NFC", " ".join(_CONTROL.sub(" ", text or "").split()))


class CleanPipeline:
    """Control characters out, whitespace and Unicode NFC everywhere; boilerplate blocks out; text cut to
    `max_chars` at a block boundary; sections and topics as slugs."""

    def __init__(self, max_chars: int = MAX_ARTICLE_CHARS):
        self.max_chars = max_chars

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler.settings.getint("REFEED_MAX_ARTICLE_CHARS", MAX_ARTICLE_CHARS))

    def process_item(self, item: Article) -> Article:
        item.title = _normal(item.title)
        item.summary = _normal(item.summary)
        item.image_caption = _normal(item.image_caption) or None
        item.publisher = _normal(item.publisher) or None
        item.authors = [a for a in dict.fromkeys(_normal(a) for a in item.authors) if a]
        blocks = []
        for block in _fragments(_CONTROL.sub(" ", item.content_html)):
            text = _normal(block.text_content())
            if text and not is_boilerplate(text):
                blocks.append((etree.tostring(block, encoding="unicode", method="html", with_tail=False), text))
        if not item.title:
            raise NotAnArticle(f"no title at {item.url}")
        if not blocks:
            raise NotAnArticle(f"no article text at {item.url}")
        blocks = _cap(blocks, self.max_chars, item.url)
        item.content_html = "\n".join(markup for markup, _ in blocks)
        item.content_text = "\n\n".join(text for _, text in blocks)
        topics = [slugify(t) for t in item.topics]
        item.topics = [t for t in dict.fromkeys(topics) if t and t != "all"]
        return item


def _cap(blocks: list[tuple[str, str]], limit: int, url: str) -> list[tuple[str, str]]:
    """The leading blocks whose text (joined as content_text) fits in `limit` characters. A giant block that
    would leave less than half of that kept (an endless one-line page) is kept as its text, cut at a word."""
    total = sum(len(text) for _, text in blocks) + 2 * (len(blocks) - 1)
    if total <= limit:
        return blocks
    kept: list[tuple[str, str]] = []
    size = 0
    for markup, text in blocks:
        room = limit - size - (2 if kept else 0)
        if len(text) <= room:
            kept.append((markup, text))
            size += len(text) + (2 if len(kept) > 1 else 0)
            continue
        if size < limit // 2:
            cut = text[:room]
            space = cut.rfind(" ")
            cut = cut[:space] if space > room // 2 else cut
            kept.append((f"<p>{escape(cut, quote=False)}</p>", cut))
            size += len(cut) + (2 if len(kept) > 1 else 0)
        break
    logger.info("cut %s: article text of %d characters to %d (REFEED_MAX_ARTICLE_CHARS)", url, total, size)
    return kept


def _fragments(markup: str) -> list:
    if not markup.strip():
        return []
    # elements only: leading text, comments and processing instructions are no blocks
    fragments = lxml_html.fragments_fromstring(markup, parser=_HUGE)
    return [f for f in fragments if isinstance(f, etree._Element) and isinstance(f.tag, str)]


_HUGE = lxml_html.HTMLParser(huge_tree=True)  # as parsel parses pages: deep nesting (300 tables) is no reason to lose text


ALLOWED_TAGS = {
    "p", "br", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "blockquote", "q", "cite", "pre", "code",
    "a", "img", "figure", "figcaption", "table", "thead", "tbody", "tfoot", "tr", "th", "td", "caption",
    "em", "strong", "b", "i", "u", "s", "sub", "sup", "small", "mark", "abbr", "time", "hr", "dl", "dt", "dd",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "abbr": {"title"},
    "time": {"datetime"},
    "th": {"colspan", "rowspan", "scope"},
    "td": {"colspan", "rowspan"},
    "blockquote": {"cite"},
    "q": {"cite"},
}
REMOVED_WITH_CONTENT = {
    "script", "style", "iframe", "object", "embed", "applet", "noscript", "noembed", "noframes", "template", "svg", "math",
    "xmp", "plaintext", "frameset",
}


URL_ATTRIBUTES = {"href", "src", "cite"}
_IMAGE_DATA = re.compile(r"^data:image/(?:png|gif|jpeg|jpg|webp|avif|bmp)[;,]", re.I)
_URL_JUNK = re.compile(r"[\t\n\r]")  # browsers drop these anywhere in a URL…
_URL_EDGE = "".join(map(chr, range(0x21)))  # …and C0 controls and spaces at its ends


def sanitize_html(markup: str, base_url: str | None = None) -> str:
    """Only the allowlist survives; URLs are http(s) (links also mailto), made absolute against ``base_url``;
    ``data:`` only as an ``<img src>`` of a raster image type; every link gets rel="nofollow noopener noreferrer"."""

    def urls(tag: str, attribute: str, value: str) -> str | None:
        if attribute not in URL_ATTRIBUTES:
            return value
        value = _URL_JUNK.sub("", value).strip(_URL_EDGE)
        scheme = urlsplit(value).scheme.lower()
        if scheme == "data":
            return value if tag == "img" and attribute == "src" and _IMAGE_DATA.match(value) else None
        if not scheme and base_url and base_url.startswith(("http://", "https://")):
            value = urljoin(base_url, value)
            scheme = urlsplit(value).scheme.lower()
        if scheme in ("http", "https") or not scheme or (scheme == "mailto" and tag == "a"):
            return value
        return None

    return nh3.clean(
        markup,
        tags=ALLOWED_TAGS,
        clean_content_tags=REMOVED_WITH_CONTENT,
        attributes=ALLOWED_ATTRIBUTES,
        attribute_filter=urls,
        url_schemes={"http", "https", "mailto", "data"},
        link_rel="nofollow noopener noreferrer",
        strip_comments=True,
    )


class SanitizePipeline:
    """content_html through nh3 with an allowlist fit for feeds, links and images absolute; only http(s) images."""

    def process_item(self, item: Article) -> Article:
        item.content_html = sanitize_html(item.content_html, item.url)
        if item.image and not item.image.startswith(("http://", "https://")):
            item.image = None
        return item


class CanonicalizePipeline:
    """item.url becomes the canonical URL (rel=canonical when on the page's own host and port); every spelling
    goes to item.urls. A page naming a URL of another site as its canonical is not let to speak for that site's
    story (it would replace it in place): it stays at the URL it was fetched at."""

    def process_item(self, item: Article) -> Article:
        fetched = canonicalize(item.url)
        try:
            canonical = canonicalize(item.canonical_url) if item.canonical_url else fetched
        except ValueError:  # "http://x:99999/"
            canonical = fetched
        if not canonical.startswith(("http://", "https://")) or not same_site(canonical, fetched):
            if canonical != fetched:
                logger.info("rel=canonical %s of %s ignored: another site", canonical[:300], fetched)
            canonical = fetched
        item.url = canonical
        item.urls = list(dict.fromkeys([canonical, fetched, *(canonicalize(u) for u in item.urls)]))
        return item


def content_hash(item: Article) -> str:
    return content_hash_of(item.title, item.content_html)


def content_hash_of(title: str, content_html: str) -> str:
    """What tells a corrected page from the stored one: its title and HTML, hashed."""
    return hashlib.sha1(f"{title}\n{content_html}".encode()).hexdigest()
