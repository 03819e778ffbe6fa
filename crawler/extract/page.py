"""One fetched page, parsed once, and what its structured data and markup say of each field."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import islice
from typing import Any
from urllib.parse import urljoin, urlsplit

from lxml import etree
from parsel import Selector

from crawler.extract.dates import ISO_DATE, parse_datetime
from crawler.extract.encoding import decode_html, encodable
from crawler.extract.language import detect_language
from crawler.extract.text import clean_text, clean_title, fold, publisher_from, split_authors
from crawler.extract.tree import compiled_css, compiled_xpath, html_selector, select, string_of, xp
from crawler.extract.vocabulary import (
    AUTHOR_MARKUP,
    AUTHOR_META,
    DATE_CLASS_MARKS,
    DATE_LABEL,
    HOME_CRUMBS,
    INLINE_TAGS,
    LANGUAGE_META,
    MODIFIED_META,
    PHOTO_CREDIT,
    PUBLISHED_META,
    TITLE_SEPARATORS,
)

__all__ = ["Page"]

_DATE_CLASS = re.compile("|".join(re.escape(m) for m in DATE_CLASS_MARKS))  # a class that says "date", as `contains(@class, …)` did
_XML_SPACE = re.compile("[ \t\r\n]+")  # what XPath's normalize-space() takes for whitespace
_AFTER_HEADLINE = "//h1/following::*[self::p or self::span or self::div][position() <= 4][string-length(normalize-space(.)) < 40]"


@dataclass
class Page:
    """One fetched page, parsed once; every extractor reads from here."""

    url: str
    selector: Selector
    _jsonld: list[dict] | None = field(default=None, repr=False)
    _visible: set[str] | None = field(default=None, repr=False)
    _meta: dict[str, list[str]] | None = field(default=None, repr=False)  # name/property/itemprop → contents
    _site_names: list[str] | None = field(default=None, repr=False)
    _date_languages: list[str] | None = field(default=None, repr=False)
    _body_text: str | None = field(default=None, repr=False)
    _class_words: Counter | None = field(default=None, repr=False)  # class word → how many elements have it
    _declared: list[str | None] = field(default_factory=list, repr=False)  # declared_language(), once found
    _h1: list[str | None] = field(default_factory=list, repr=False)
    _title: list[str | None] = field(default_factory=list, repr=False)  # title(), once found: the parser and the standfirst ask
    source: str | None = field(default=None, repr=False)  # the HTML it was parsed from, for `mentions`

    @classmethod
    def from_text(cls, html: str, url: str) -> Page:
        selector = html_selector(encodable(html) or "<html></html>")  # an `<?xml` declaration makes no XML page
        etree.strip_tags(selector.root, etree.Comment, etree.ProcessingInstruction)  # as trafilatura's own parser leaves them
        return cls(url=url, selector=selector, source=html)

    @classmethod
    def from_response(cls, response) -> Page:
        """A Scrapy response, decoded by decode_html (Scrapy's own guess knows only UTF-8 and cp1252)."""
        content_type = response.headers.get("Content-Type", b"").decode("latin-1") or None
        return cls.from_bytes(response.body, response.url, content_type)

    @classmethod
    def from_bytes(cls, body: bytes, url: str, content_type: str | None = None) -> Page:
        """Fetched bytes and their Content-Type header, decoded by decode_html."""
        return cls.from_text(decode_html(body, content_type), url)

    @property
    def html(self) -> str:
        return self.selector.get()

    def remove(self, expressions) -> None:
        """Drop every node a CSS or XPath expression selects (the `remove` selector)."""
        for expression in expressions:
            for node in select(self.selector, expression):
                if not isinstance(node.root, str):
                    node.drop()
        self._meta = self._site_names = self._body_text = self._class_words = None
        self._declared, self._h1, self._title = [], [], []

    def mentions(self, *words: str) -> bool:
        """Whether the page's HTML holds any of these words at all (an attribute value an XPath looks for, say): a
        substring search of its source takes microseconds, an XPath over the whole tree up to 2 ms a page.

        Letters and digits only: a page may write any other character of an attribute as an entity
        (`type="application&#x2F;ld&#x2B;json"`), which the parsed tree holds decoded and its source does not."""
        return self.source is None or any(word in self.source for word in words)

    def shows(self, text: str) -> bool:
        """Whether a text (a lede from the metadata, say) is a paragraph of the page itself, not only in its head."""
        if self._visible is None:
            self._visible = {" ".join(string_of(p).split()) for p in self._all("//body//p")}
        return " ".join(text.split()) in self._visible

    def meta(self, *names: str) -> str | None:
        for value in self.metas(*names):
            return value
        return None

    def metas(self, *names: str) -> list[str]:
        """Contents of the `<meta>` elements whose property, name or itemprop is each name in turn, in page order."""
        if self._meta is None:
            self._meta = {}
            for element in self._all("//meta"):
                content = element.get("content")
                if content is None:
                    continue
                for key in dict.fromkeys(element.get(a) for a in ("property", "name", "itemprop")):
                    if key is not None:
                        self._meta.setdefault(key, []).append(content)
        return [v.strip() for name in names for v in self._meta.get(name, ()) if v.strip()]

    def classed(self, word: str) -> int:
        """How many elements have this word among their classes, as `count(//*[contains(concat(' ',
        normalize-space(@class), ' '), ' word ')])` counts them: all words of the page counted in one pass, not
        the whole tree walked for each word asked."""
        if self._class_words is None:
            self._class_words = Counter(w for value in self._all("//@class") for w in set(_XML_SPACE.split(value)) if w)
        return self._class_words[word]

    def first(self, css: str) -> Selector | None:
        """The first element a CSS selector finds, like `page.selector.css(css)[0]` but without a Selector for every match."""
        found = compiled_css(css)(self.selector.root)
        return Selector(root=found[0], type="html") if found else None

    def _all(self, expression: str) -> list:
        """Nodes (lxml elements or plain strings) an XPath selects in the page."""
        return xp(self.selector.root, expression)

    def _get(self, expression: str) -> str | None:
        """The first string an XPath selects, like parsel's `.get()`."""
        found = self._all(expression)
        return found[0] if found else None

    def absolute(self, url: str | None) -> str | None:
        return urljoin(self.url, url.strip()) if url and url.strip() else None

    @property
    def jsonld(self) -> list[dict]:
        """Every JSON-LD object of the page, @graph flattened; broken blocks are ignored."""
        if self._jsonld is None:
            found: list[dict] = []
            for raw in self._all("//script[@type='application/ld+json']/text()"):
                try:
                    data = json.loads(raw)
                except ValueError:
                    try:  # a common fault: raw newlines inside strings
                        data = json.loads(raw.replace("\n", " ").replace("\r", " "))
                    except ValueError:
                        continue
                stack = data if isinstance(data, list) else [data]
                while stack:
                    node = stack.pop(0)
                    if isinstance(node, dict):
                        found.append(node)
                        graph = node.get("@graph", [])
                        stack.extend(g for g in (graph if isinstance(graph, list) else [graph]) if isinstance(g, dict))
            self._jsonld = found
        return self._jsonld

    def ld_of(self, *suffixes: str) -> list[dict]:
        out = []
        for node in self.jsonld:
            kind = node.get("@type")
            kinds = kind if isinstance(kind, list) else [kind]
            if any(isinstance(k, str) and k.endswith(suffixes) for k in kinds):
                out.append(node)
        return out

    def article_ld(self) -> dict:
        found = self.ld_of("Article", "BlogPosting", "Report", "NewsArticle")
        return found[0] if found else {}

    # -- structured signals and the page's markup, each a field

    def canonical(self) -> str:
        link = self._get("//link[@rel='canonical']/@href") if self.mentions("canonical") else None
        return self.absolute(link or self.meta("og:url")) or self.url

    def site_names(self) -> list[str]:
        if self._site_names is None:
            self._site_names = self._find_site_names()
        return list(self._site_names)

    def _find_site_names(self) -> list[str]:
        names = [self.meta("og:site_name", "application-name", "twitter:site")]
        for node in [self.article_ld(), *self.ld_of("WebSite", "Organization", "NewsMediaOrganization")]:
            publisher = node.get("publisher") if "publisher" in node else node
            if isinstance(publisher, dict):
                names.append(clean_text(publisher.get("name")))
            if node.get("@type") == "WebSite":
                names.append(clean_text(node.get("name")))
        host = (urlsplit(self.url).hostname or "").removeprefix("www.")
        names += [host, host.rsplit(".", 1)[0]] if host else []
        return [n.lstrip("@") for n in names if n]

    def title(self) -> str | None:
        """Headline: JSON-LD, Open Graph, the article's `<h1>`, then `<title>`; the site name never."""
        if not self._title:
            self._title.append(self._find_title())
        return self._title[0]

    def _find_title(self) -> str | None:
        sites = self.site_names()
        h1 = self.h1()
        for candidate in (clean_text(self.article_ld().get("headline")), self.meta("og:title", "twitter:title"), h1):
            title = clean_title(candidate, sites)
            if title:
                return title
        title = clean_text(self._get("//title/text()"))
        if title and not clean_title(title, sites) == title:
            return clean_title(title, sites)
        parts = TITLE_SEPARATORS.split(title or "")
        return clean_text(parts[0]) if len(parts) > 1 and len(parts[0].split()) >= 3 else title

    def h1(self) -> str | None:
        if not self._h1:
            self._h1.append(self._find_h1())
        return self._h1[0]

    def _find_h1(self) -> str | None:
        for xpath in ("//article//h1", "//main//h1", "//h1"):
            found = self._all(xpath)
            text = clean_text(string_of(found[0]) if found else None)
            if text:
                return text
        return None

    def published(self) -> datetime | None:
        ld = self.article_ld()
        for value in (
            ld.get("datePublished"),
            ld.get("dateCreated"),
            *self.metas(*PUBLISHED_META),
            *(self._all("//*[@itemprop='datePublished']/@*[name()='datetime' or name()='content']") if self.mentions("datePublished") else ()),
            *self._all("//article//time/@datetime | //time[@pubdate]/@datetime | //time/@datetime")[:3],
        ):
            parsed = self._structured_date(value)
            if parsed:
                return parsed
        return self._visible_date()

    def _structured_date(self, value) -> datetime | None:
        """A date from the page's metadata: ISO 8601 as a rule, else read in the page's languages."""
        if not isinstance(value, str):
            return None
        if ISO_DATE.match(value.strip()):  # a malformed one (`…:47ZZ`) is read as English, not in 400 locales
            return parse_datetime(value, ["en"], anywhere=False)
        languages = self.date_languages()
        return parse_datetime(value, languages, anywhere=not languages)

    def _visible_date(self) -> datetime | None:
        """A date written out near the headline (`8. Januar 2022`, `2022年1月8日`), as the last resort."""
        languages = self.date_languages()
        for node in islice(self._date_places(), 16):
            text = clean_text(string_of(node))
            if text and re.search(r"\d{4}|\d{1,2}\.\s*\d{1,2}\.|\d{1,2}/\d{1,2}/\d{2}", text):
                text = DATE_LABEL.sub("", text)
                parsed = parse_datetime(text, languages, anywhere=not languages)
                if parsed and parsed <= datetime.now(UTC):
                    return parsed
        return None

    def _date_places(self) -> Iterator[Any]:
        """In page order: short `<time>` elements and elements whose class says date/time/meta, and the first short
        paragraphs, spans and divs after a headline. One XPath finds the candidates, each class is read once: an XPath
        of a `contains(@class, …)` for each mark took milliseconds a page, and so did a Python walk of every element."""
        after_headline = set(self._all(_AFTER_HEADLINE))
        for element in self._all(f"{_AFTER_HEADLINE} | //time | //*[@class]"):  # in page order, the rest yields nothing
            if element in after_headline:
                yield element
            elif element.tag == "time" or _DATE_CLASS.search(element.get("class") or ""):
                if len(" ".join(string_of(element).split())) < 80:
                    yield element

    def modified(self) -> datetime | None:
        ld = self.article_ld()
        for value in (ld.get("dateModified"), *self.metas(*MODIFIED_META)):
            parsed = self._structured_date(value)
            if parsed:
                return parsed
        return None

    def sections(self) -> list[str]:
        found = self.metas("article:section")
        section = self.article_ld().get("articleSection")
        found += section if isinstance(section, list) else [section] if section else []
        found += self.breadcrumb()
        return list(dict.fromkeys(s.strip() for s in found if isinstance(s, str) and s.strip()))

    def breadcrumb(self) -> list[str]:
        """The middle of the breadcrumb (not "Home", not the article itself): JSON-LD BreadcrumbList, else markup."""
        names: list[str] = []
        for node in self.ld_of("BreadcrumbList"):
            items = node.get("itemListElement")
            items = items if isinstance(items, list) else []
            for item in sorted((i for i in items if isinstance(i, dict)), key=lambda i: _int(i.get("position"))):
                inner = item.get("item")
                name = item.get("name") or (inner.get("name") if isinstance(inner, dict) else None)
                if isinstance(name, str) and name.strip():
                    names.append(name.strip())
        if not names and self.mentions("breadcrumb", "BreadcrumbList"):
            for xpath in ("//nav[contains(@class,'breadcrumb')]//a", "//*[contains(@class,'breadcrumb')]//a", "//*[@itemtype='https://schema.org/BreadcrumbList' or @itemtype='http://schema.org/BreadcrumbList']//a"):
                names = [t for t in (clean_text(string_of(a)) for a in self._all(xpath)) if t]
                if names:
                    break
        if names and (names[0].casefold() in HOME_CRUMBS or self.absolute("/") and names[0] in self.site_names()):
            names = names[1:]
        headline = fold(self.h1() or "")
        return [n for n in names if fold(n) != headline and len(n) <= 40][:3]

    def summary(self) -> str | None:
        return clean_text(self.article_ld().get("description")) or self.meta("og:description", "twitter:description", "description")

    def image(self) -> str | None:
        image = self.article_ld().get("image")
        if isinstance(image, list):
            image = image[0] if image else None
        if isinstance(image, dict):
            image = image.get("url") or image.get("contentUrl")
        return self.absolute(image if isinstance(image, str) else None) or self.absolute(
            self.meta("og:image", "og:image:url", "twitter:image", "twitter:image:src")
        ) or self.absolute(self._get("//article//figure//img/@src"))

    def image_caption(self) -> str | None:
        """The lead figure's caption, without its photo credit."""
        for xpath in ("//article//figure//figcaption", "//main//figure//figcaption", "//figure//figcaption"):
            for node in self._all(xpath)[:1]:
                parts = xp(
                    node,
                    ".//text()[not(ancestor::*[contains(@class,'credit') or contains(@class,'copyright') or contains(@class,'photographer')])]",
                )
                text = clean_text(" ".join(parts))
                text = clean_text(PHOTO_CREDIT.split(f" {text or ''}")[0])
                if text:
                    return text
        return None

    def authors(self) -> list[str]:
        names: list[str] = []
        for node in [self.article_ld()]:
            author = node.get("author") or node.get("creator")
            people = author if isinstance(author, list) else [author] if author else []
            for person in people:
                name = person.get("name") if isinstance(person, dict) else person
                names += split_authors(name) if isinstance(name, str) else []
        if not names:
            for value in self.metas(*AUTHOR_META):
                names += split_authors(value)
        if not names and self.mentions("author", "byline") and self._all(AUTHOR_MARKUP):  # most pages have none of the five below
            for xpath in ("//*[@itemprop='author']//*[@itemprop='name']", "//*[@itemprop='author']", "//a[@rel='author']", "//*[contains(@class,'byline')]//a", "//*[contains(@class,'byline')]"):
                for node in self._all(xpath)[:3]:
                    names += split_authors(string_of(node))
                if names:
                    break
        return list(dict.fromkeys(names))

    def publisher_line(self) -> str | None:
        """The original publisher a `Source: X` (`Quelle: X`, `Fuente: X`, …) line names, anywhere in the article.

        Only the blocks around a colon are read (the label ends in one), not every block of the page.
        """
        for element in self._all("//body//text()[contains(., ':') or contains(., '：')]/.."):
            for _ in range(3):  # the colon's element, and its block when the label is in a `<strong>` or `<span>`
                if element is None or not isinstance(element.tag, str):
                    break
                text = clean_text(string_of(element))
                if not text or len(text) >= 100:
                    break
                publisher = publisher_from(text)
                if publisher:
                    return publisher
                element = element.getparent() if element.tag in INLINE_TAGS else None
        return None

    def body_text(self) -> str:
        """All the text of the page's body (scripts included), read once."""
        if self._body_text is None:
            self._body_text = compiled_xpath("string(//body)")(self.selector.root) or ""
        return self._body_text

    def date_languages(self) -> list[str] | None:
        """The languages its dates are written in: the page's own (declared, else detected from its text) and English.

        dateparser told where to look takes a millisecond; asked in all of its ~400 locales, 15–60 ms a text.
        """
        if self._date_languages is None:
            own = self.declared_language() or detect_language(self.body_text())
            self._date_languages = list(dict.fromkeys([own, "en"])) if own else []
        return self._date_languages or None

    def declared_language(self) -> str | None:
        if not self._declared:
            self._declared.append(self._find_declared_language())
        return self._declared[0]

    def _find_declared_language(self) -> str | None:
        for lang in (
            self._get("/html/@lang"),
            self._get("/html/@xml:lang"),
            self.meta(*LANGUAGE_META),
            self._get("//meta[@http-equiv='content-language' or @http-equiv='Content-Language']/@content"),
            clean_text(self.article_ld().get("inLanguage")),
        ):
            if lang:
                code = re.split(r"[-_,\s]", lang.strip())[0].lower()
                if re.fullmatch(r"[a-z]{2}", code):
                    return code
        return None

    def language(self, text: str = "") -> str | None:
        """What the page declares, else what its text is written in."""
        return self.declared_language() or detect_language(text or self.body_text())


def _int(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0
