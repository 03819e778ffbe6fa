"""The extraction cascade both spiders share: structured data, then the page's markup, then trafilatura."""

from __future__ import annotations

import json
import logging
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html import escape
from urllib.parse import urljoin, urlsplit

import dateparser
from lxml import etree
from parsel import Selector

__all__ = [
    "Page",
    "Extracted",
    "body_blocks",
    "extract_generic_body",
    "is_boilerplate",
    "parse_datetime",
    "publisher_from",
    "credit_authors",
    "render_blocks",
]

logger = logging.getLogger(__name__)

BLOCK_TAGS = ("p", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "blockquote", "table", "pre")
HEADINGS = ("h2", "h3", "h4", "h5", "h6")
_PUBLISHER = re.compile(r"^\s*(?:source|quelle|fuente|fonte|bron|źródło|kilde|källa|lähde|zdroj|forrás)\s*:\s*(.{1,80}?)\s*$", re.I)
_AGENCY = r"(?:dpa|afp|ap|reuters|epd|kna|apa|sda|ansa|efe|upi|xinhua|tass|kyodo|[a-z]{1,4})"
_CREDIT = re.compile(rf"^\s*{_AGENCY}(?:\s*/\s*{_AGENCY})*\s*$", re.I)
_BOILERPLATE = [
    re.compile(p, re.I)
    for p in (
        r"^enlarge image$",
        r"^photo\s*:",
        r"^you may like$",
        r"^trends 24h$",
        r"^latest$",
        r"^all news articles on \d{4}-\d{2}-\d{2}$",
        r"^©",
        r"^the information on this site is from external sources",
        r"^the inclusion of any links does not necessarily",
        r"^(read more|related articles?|share this( article)?|advertisement|subscribe to our newsletter.*)$",
    )
]


def is_boilerplate(text: str) -> bool:
    text = " ".join(text.split())
    return any(p.search(text) for p in _BOILERPLATE) or bool(_PUBLISHER.match(text)) or bool(_CREDIT.match(text))


def publisher_from(text: str) -> str | None:
    match = _PUBLISHER.match(" ".join(text.split()))
    return match.group(1) if match else None


def credit_authors(text: str) -> list[str]:
    """`asc / dpa / AFP` → ["asc", "dpa", "AFP"]; anything else → []."""
    text = " ".join(text.split())
    if not text or not _CREDIT.match(text):
        return []
    return [part.strip() for part in text.split("/") if part.strip()]


def parse_datetime(value) -> datetime | None:
    """An aware UTC datetime from ISO 8601 or a human date in many languages; None if it is not a date."""
    if not value or not isinstance(value, str):
        return None
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        parsed = dateparser.parse(text, settings={"RETURN_AS_TIMEZONE_AWARE": True, "TIMEZONE": "UTC", "TO_TIMEZONE": "UTC"})
        if parsed is None:
            return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


@dataclass
class Page:
    """One fetched page, parsed once; every extractor reads from here."""

    url: str
    selector: Selector
    _jsonld: list[dict] | None = field(default=None, repr=False)

    @classmethod
    def from_text(cls, html: str, url: str) -> Page:
        return cls(url=url, selector=Selector(text=html))

    def meta(self, *names: str) -> str | None:
        for name in names:
            value = self.selector.xpath(f"//meta[@property='{name}' or @name='{name}']/@content").get()
            if value and value.strip():
                return value.strip()
        return None

    def absolute(self, url: str | None) -> str | None:
        return urljoin(self.url, url.strip()) if url and url.strip() else None

    @property
    def jsonld(self) -> list[dict]:
        """Every JSON-LD object of the page, @graph flattened; broken blocks are ignored."""
        if self._jsonld is None:
            found: list[dict] = []
            for raw in self.selector.xpath("//script[@type='application/ld+json']/text()").getall():
                try:
                    data = json.loads(raw)
                except ValueError:
                    continue
                stack = data if isinstance(data, list) else [data]
                while stack:
                    node = stack.pop(0)
                    if isinstance(node, dict):
                        found.append(node)
                        stack.extend(g for g in node.get("@graph", []) if isinstance(g, dict))
            self._jsonld = found
        return self._jsonld

    def article_ld(self) -> dict:
        for node in self.jsonld:
            kind = node.get("@type")
            kinds = kind if isinstance(kind, list) else [kind]
            if any(isinstance(k, str) and k.endswith("Article") for k in kinds):
                return node
        return {}

    # -- structured signals, each a field

    def canonical(self) -> str:
        return self.absolute(self.selector.xpath("//link[@rel='canonical']/@href").get() or self.meta("og:url")) or self.url

    def title(self) -> str | None:
        return _text(self.article_ld().get("headline")) or self.meta("og:title", "twitter:title")

    def published(self) -> datetime | None:
        return (
            parse_datetime(self.article_ld().get("datePublished"))
            or parse_datetime(self.meta("article:published_time", "datePublished", "date"))
            or parse_datetime(self.selector.xpath("//time/@datetime").get())
        )

    def modified(self) -> datetime | None:
        return parse_datetime(self.article_ld().get("dateModified")) or parse_datetime(self.meta("article:modified_time", "og:updated_time"))

    def sections(self) -> list[str]:
        found = [s for s in self.selector.xpath("//meta[@property='article:section']/@content").getall() if s.strip()]
        section = self.article_ld().get("articleSection")
        found += section if isinstance(section, list) else [section] if section else []
        return [s.strip() for s in found if isinstance(s, str) and s.strip()]

    def summary(self) -> str | None:
        return _text(self.article_ld().get("description")) or self.meta("og:description", "description")

    def image(self) -> str | None:
        image = self.article_ld().get("image")
        if isinstance(image, list):
            image = image[0] if image else None
        if isinstance(image, dict):
            image = image.get("url")
        return self.absolute(image if isinstance(image, str) else None) or self.absolute(self.meta("og:image", "twitter:image"))

    def authors(self) -> list[str]:
        author = self.article_ld().get("author")
        people = author if isinstance(author, list) else [author] if author else []
        names = [p.get("name") if isinstance(p, dict) else p for p in people]
        names = [n.strip() for n in names if isinstance(n, str) and n.strip()]
        return names or ([self.meta("author")] if self.meta("author") else [])

    def language(self) -> str | None:
        lang = self.selector.xpath("/html/@lang").get() or self.meta("og:locale") or _text(self.article_ld().get("inLanguage"))
        if lang:
            code = re.split(r"[-_]", lang.strip())[0].lower()
            if re.fullmatch(r"[a-z]{2}", code):
                return code
        return None


@dataclass
class Extracted:
    """The body of an article: kept blocks as (tag, inner_html, text)."""

    blocks: list[tuple[str, str, str]]
    publisher: str | None = None
    credit: list[str] = field(default_factory=list)


def body_blocks(page: Page, body: Selector, remove: list[str] = ()) -> Extracted:
    """Walk a body element's blocks; keep article text, set aside the credit and Source: lines."""
    result = Extracted(blocks=[])
    for css in remove:
        for node in body.xpath(css) if css.startswith("/") else body.css(css):
            node.drop()
    for node in body.xpath(".//*[self::p or self::h2 or self::h3 or self::h4 or self::h5 or self::h6 or self::ul or self::ol or self::blockquote or self::table or self::pre]"):
        if _nested(node, body):
            continue
        tag = node.root.tag
        text = " ".join(" ".join(node.xpath(".//text()").getall()).split())
        if not text:
            continue
        publisher = publisher_from(text)
        if publisher:
            result.publisher = publisher
            continue
        credit = credit_authors(text)
        if credit:
            result.credit = credit
            continue
        if is_boilerplate(text):
            continue
        result.blocks.append((tag, _inner_html(node, page), text))
    return result


def _nested(node: Selector, body: Selector) -> bool:
    """True when a block sits inside another kept block, a figure, aside or nav below the body."""
    body_root = body.root
    parent = node.root.getparent()
    while parent is not None and parent is not body_root:
        if parent.tag in BLOCK_TAGS or parent.tag in ("figure", "aside", "nav", "footer", "header", "form"):
            return True
        parent = parent.getparent()
    return False


def _inner_html(node: Selector, page: Page) -> str:
    """The block's inner markup with links made absolute (the sanitizer removes the rest)."""
    root = node.root
    for element in root.iter("a", "img"):
        attr = "href" if element.tag == "a" else "src"
        value = element.get(attr)
        if value:
            element.set(attr, urljoin(page.url, value.strip()))
    parts = [escape(root.text)] if root.text else []
    for child in root:
        parts.append(etree.tostring(child, encoding="unicode", method="html", with_tail=True))
    return "".join(parts)


def render_blocks(blocks: list[tuple[str, str, str]]) -> tuple[str, str]:
    """(content_html, content_text) of kept blocks."""
    html = "\n".join(f"<{tag}>{inner}</{tag}>" for tag, inner, _ in blocks)
    text = "\n\n".join(text for _, _, text in blocks)
    return html, text


def extract_generic_body(page: Page, html: str) -> Extracted:
    """trafilatura's body, as blocks, when the page's own markup gave none."""
    import trafilatura

    result = trafilatura.extract(html, url=page.url, output_format="html", include_comments=False, include_tables=True, favor_precision=True)
    if not result:
        return Extracted(blocks=[])
    selector = Selector(text=result)
    return body_blocks(page, selector.css("body")[0] if selector.css("body") else selector)


def site_section(url: str) -> str | None:
    """The first path segment of an article URL (`/news/2022-…html` → news), if it looks like a section."""
    parts = [p for p in urlsplit(url).path.split("/") if p]
    if len(parts) >= 2 and re.fullmatch(r"[a-z][a-z0-9-]{1,30}", parts[0]):
        return parts[0]
    return None


def _text(value) -> str | None:
    if isinstance(value, str) and value.strip():
        return unicodedata.normalize("NFC", " ".join(value.split()))
    return None
