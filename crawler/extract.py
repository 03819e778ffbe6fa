"""The extraction cascade both spiders share: structured data, then the page's markup, then trafilatura."""

from __future__ import annotations

import functools
import json
import logging
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from html import escape
from urllib.parse import urljoin, urlsplit

from lxml import etree
from parsel import Selector
from parsel.csstranslator import css2xpath
from w3lib.encoding import html_to_unicode

__all__ = [
    "Page",
    "Extracted",
    "body_blocks",
    "clean_title",
    "decode_html",
    "detect_language",
    "extract_body",
    "extract_generic_body",
    "is_boilerplate",
    "looks_like_article",
    "parse_datetime",
    "publisher_from",
    "credit_authors",
    "render_blocks",
    "select",
    "selected_fields",
    "split_authors",
]

logger = logging.getLogger(__name__)

BLOCK_TAGS = ("p", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "blockquote", "table", "pre")
HEADINGS = ("h2", "h3", "h4", "h5", "h6")
_BLOCKS_XPATH = ".//*[self::p or self::h2 or self::h3 or self::h4 or self::h5 or self::h6 or self::ul or self::ol or self::blockquote or self::table or self::pre]"
_SOURCE_LABEL = (
    r"(?:source|sources|quelle|fuente|fonte|source originale|bron|źródło|kilde|källa|lähde|zdroj|forrás|fonti|kaynak|出典|来源|출처)\s*[:：]"
)
_PUBLISHER = re.compile(rf"^\s*{_SOURCE_LABEL}\s*(.{{1,80}}?)\s*$", re.I)
# A credit line names its news agencies, alone (`dpa`, `Reuters`) or with the editors' initials, slash-separated
# (`asc / dpa / AFP`): at least one known agency, so a one-word closing paragraph ("Note") is never a credit.
_AGENCIES = (
    "dpa", "afp", "ap", "reuters", "epd", "kna", "apa", "sda", "ats", "ansa", "efe", "upi", "xinhua", "tass", "itar-tass",
    "kyodo", "yonhap", "aap", "pti", "ani", "ians", "anp", "belga", "ntb", "tt", "ritzau", "stt", "pap", "ctk", "čtk",
    "mti", "bta", "lusa", "europa press", "sid", "kap", "bloomberg",
)
_AGENCY = "(?:" + "|".join(re.escape(a).replace(r"\ ", r"\s+") for a in _AGENCIES) + r")"
_CREDIT_TOKEN = rf"(?:{_AGENCY}|[a-z]{{1,4}})"
_CREDIT = re.compile(rf"^\s*(?:{_CREDIT_TOKEN}\s*/\s*)*{_AGENCY}(?:\s*/\s*{_CREDIT_TOKEN})*\s*$", re.I)
_BOILERPLATE = [
    re.compile(p, re.I)
    for p in (
        r"^photo\s*:",
        r"^©",
        r"^(read more|read next|related( articles?| stories| content)?|more on this( story)?|share this( article| story)?|don[’']t miss|(show |view |read )?comments?( \(\d+\))?|kommentare|comentarios|commentaires"
        r"|advertisement|anzeige|publicidad|sponsored( content)?|subscribe to our newsletter.*|sign up for our newsletter.*"
        r"|click here to subscribe.*|weiterlesen|lesen sie auch|leer más|lire aussi|also read|see also|recommended( for you)?)\W*$",
    )
]
# "Read also" in the web's languages: a block that is only this, or this, a colon and a headline, points elsewhere.
_READ_ALSO = (
    r"(?:read (?:also|more|next)|also read|see also|related(?: articles?| stories| posts| content| news| coverage)?|"
    r"more on this(?: story| topic)?|you (?:may|might) also like|further reading|"
    r"(?:lesen sie|lies) (?:auch|hier|mehr)|auch lesen|mehr zum thema|weitere artikel(?: zum thema)?|"
    r"verwandte (?:artikel|beiträge|themen)|ähnliche (?:artikel|beiträge)|(?:das thema )?könnte (?:sie|dich) auch interessieren|"
    r"das könnte (?:sie|dich) auch interessieren|auch interessant|"
    r"lea (?:también|más)|lee también|vea también|ver también|mira también|notas relacionadas|noticias relacionadas|"
    r"artículos relacionados|te puede interesar|lire aussi|à lire aussi|voir aussi|sur le même sujet|"
    r"leggi anche|potrebbe interessarti|articoli correlati|leia (?:também|mais)|veja também|lees ook|"
    r"czytaj (?:też|także|również|więcej)|zobacz (?:też|także|również)|läs även|läs också|les også|læs også|lue myös|"
    r"čtěte také|читайте также|читайте також|похожие (?:статьи|новости)|関連記事|相关阅读|相关文章|관련\s?기사)"
)
_BOILERPLATE += [re.compile(rf"^{_READ_ALSO}\W*$", re.I), re.compile(rf"^{_READ_ALSO}\s*[:：|»›]\s*\S.{{0,180}}$", re.I)]
_ANY_BOILERPLATE = re.compile("|".join(f"(?:{p.pattern})" for p in _BOILERPLATE), re.I)  # one search instead of one each
# class/id words of page parts that are never the article: share bars, related lists, ads, newsletter boxes, …
_JUNK_WORDS = (
    "share", "sharing", "social", "related", "recommended", "recommendations", "newsletter", "subscribe", "subscription",
    "promo", "advert", "advertisement", "ad", "ads", "adslot", "sponsor", "sponsored", "outbrain", "taboola", "readmore",
    "read-more", "more-stories", "most-popular", "popular", "trending", "comments", "comment", "disqus", "signup",
    "paywall", "breadcrumb", "breadcrumbs", "tags", "tag-list", "author-bio", "byline", "toolbar",
    "visually-hidden", "sr-only", "cookie", "consent", "modal", "popup", "nav", "navigation", "menu", "footer", "sidebar",
    "widget", "inline-related", "see-also", "also-read", "newsletter-signup", "caption", "copyright",
)
_JUNK_CLASS = re.compile(r"(?:^|[\s_-])(?:" + "|".join(re.escape(w) for w in _JUNK_WORDS) + r")(?:$|[\s_-])", re.I)
_SKIP_ANCESTORS = ("figure", "aside", "nav", "footer", "header", "form", "button", "figcaption", "noscript", "script", "style", "template")
_NON_ARTICLE_PATH = re.compile(
    r"/(?:tags?|topics?|authors?|autor|autores|auteur|writers?|profile|users?|search|suche|buscar|recherche|login|log-in|"
    r"signin|sign-in|register|signup|sign-up|account|subscribe|newsletter|galler(?:y|ies)|photos?|fotos?|bilder|videos?|"
    r"category|categories|section|archive|archives|page|feed|rss|privacy|terms|contact|about)(?:/|$|\.html?$)",
    re.I,
)
_SEPARATORS = re.compile(r"\s+[|\-–—:·•»«/]\s+|\s*[|•·»«]\s*")
MIN_ARTICLE_WORDS = 60  # a page with less article text than this is not an article (galleries, stubs, listings)


# -- small parsers


def is_boilerplate(text: str) -> bool:
    text = " ".join(text.split())
    return bool(_ANY_BOILERPLATE.search(text)) or bool(_PUBLISHER.match(text)) or bool(_CREDIT.match(text))


def publisher_from(text: str) -> str | None:
    match = _PUBLISHER.match(" ".join(text.split()))
    return match.group(1) if match else None


def credit_authors(text: str) -> list[str]:
    """`asc / dpa / AFP` → ["asc", "dpa", "AFP"]; anything else → []."""
    text = " ".join(text.split())
    if not text or not _CREDIT.match(text):
        return []
    return [part.strip() for part in text.split("/") if part.strip()]


_BY = re.compile(r"^(?:by|von|por|par|di|door|av|af|przez|от|文|記者)\s*[:：]?\s+", re.I)
_AND = re.compile(r"\s*(?:,|;|&|\band\b|\bund\b|\by\b|\bet\b|\be\b|\ben\b|\boch\b|\bog\b|\bi\b|\bund\b)\s*", re.I)


def split_authors(text: str | None) -> list[str]:
    """A byline (`By Jane Doe and John Smith`) → ["Jane Doe", "John Smith"]; URLs and long text are no names."""
    text = " ".join((text or "").split())
    text = _BY.sub("", text)
    if not text or "://" in text or "@" in text or len(text) > 120:
        return []
    names = [n.strip(" .|-–—") for n in _AND.split(text)]
    return [n for n in names if n and len(n.split()) <= 5 and any(c.isalpha() for c in n)]


def parse_datetime(value, languages: list[str] | None = None, anywhere: bool = True) -> datetime | None:
    """An aware UTC datetime from ISO 8601 or a human date in many languages; None if it is not a date.

    `languages` (ISO 639-1 codes, the page's own) are tried first: dateparser is much faster told where to look;
    then, unless `anywhere` is false, every language it knows (about 400 locales: 1.5 s to load them once per
    process, then 15–60 ms for each text that is no date).
    """
    if not value or not isinstance(value, str):
        return None
    text = " ".join(value.split())[:80]
    known = tuple(code for code in languages or () if code in _dateparser_languages())
    if languages and not known:  # a language dateparser does not know (`no`, `iw`, …): every one it knows
        anywhere = True
    if _ABSOLUTE.search(text):  # a full date means the same whenever it is read: worth remembering
        return _parse_datetime_cached(text, known, anywhere)
    return _parse_datetime(text, known, anywhere)  # "3 hours ago", "8 January": read against the clock


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_ABSOLUTE = re.compile(r"\b\d{4}\b|\d{4}年")


@functools.cache
def _dateparser_languages() -> frozenset[str]:
    from dateparser.data.languages_info import language_order  # the codes dateparser.parse(languages=…) accepts

    return frozenset(language_order)


def _parse_datetime(text: str, languages: tuple[str, ...], anywhere: bool) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        if not re.search(r"\d", text):  # "Latest", "now": words are no dates
            return None
        import dateparser  # 40 ms to import and seldom needed: ISO 8601 dates are the rule

        settings = {"RETURN_AS_TIMEZONE_AWARE": True, "TIMEZONE": "UTC", "TO_TIMEZONE": "UTC", "PREFER_DATES_FROM": "past"}
        parsed = None
        try:
            if languages:
                parsed = dateparser.parse(text, languages=list(languages), settings=settings)
            if parsed is None and (anywhere or not languages):
                parsed = dateparser.parse(text, settings=settings)
        except Exception:  # dateparser trips on odd input now and then (or knows no such language): no date
            return None
        if parsed is None:
            return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


_parse_datetime_cached = functools.lru_cache(maxsize=1024)(_parse_datetime)  # datelines repeat from page to page


def clean_title(title: str | None, site_names: list[str] = ()) -> str | None:
    """The headline without the site name the `<title>` or og:title appends (`Story - The Site` → `Story`)."""
    title = _text(title)
    if not title:
        return None
    names = {_fold(n) for n in site_names if n}
    parts = _SEPARATORS.split(title)
    if len(parts) > 1:
        if names and _fold(parts[-1]) in names:
            return _text(title[: title.rfind(parts[-1])].rstrip(" |-–—:·•»«/")) or title
        if names and _fold(parts[0]) in names:
            return _text(title[len(parts[0]):].lstrip(" |-–—:·•»«/")) or title
    return title


def _fold(text: str) -> str:
    return re.sub(r"[^\w]+", "", unicodedata.normalize("NFKC", text).casefold().removeprefix("www."))


_LANGID = None


def detect_language(text: str) -> str | None:
    """ISO 639-1 code of a text by py3langid (its model ships in the package); None for too little text."""
    global _LANGID
    text = " ".join(text.split())[:3000]
    if len(re.findall(r"\w+", text)) < 5 and len(text) < 20:  # CJK runs are one "word" each: count characters too
        return None
    if _LANGID is None:
        from py3langid.langid import MODEL_FILE, LanguageIdentifier

        _LANGID = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    code, probability = _LANGID.classify(text)
    return code if probability >= 0.5 and re.fullmatch(r"[a-z]{2}", code) else None


# -- encodings


def decode_html(body: bytes, content_type: str | None = None) -> str:
    """Bytes → text: BOM, then the HTTP charset, then `<meta charset>`, then detection; never raises."""
    _, text = html_to_unicode(content_type, body, auto_detect_fun=_detect_encoding)
    return text


def _encodable(text: str | None) -> str | None:
    """Text without lone surrogates (U+FFFD in their place): a str can hold them, UTF-8 and lxml cannot."""
    try:
        (text or "").encode("utf-8")
    except UnicodeEncodeError:
        return re.sub("[\ud800-\udfff]", "\ufffd", text)
    return text


def _detect_encoding(body: bytes) -> str | None:
    try:
        body.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        from charset_normalizer import from_bytes

        results = from_bytes(body[:200_000])
        best = results.best()
        if best is not None:
            # windows-1252 is the web's legacy default (WHATWG): it wins a tie with its look-alikes (cp1250, cp1257, …)
            tie = [m for m in results if m.encoding == "cp1252" and m.chaos <= best.chaos + 0.01]
            return "cp1252" if tie else best.encoding
    except Exception:  # detection is a best effort; cp1252 below never fails
        logger.debug("charset detection failed", exc_info=True)
    return "cp1252"


# -- the page


@lru_cache(maxsize=256)
def _xpath(expression: str) -> etree.XPath:
    """An XPath compiled once; run on lxml elements it skips parsel's Selector for every node and string."""
    return etree.XPath(expression, smart_strings=False)


@lru_cache(maxsize=256)
def _css(expression: str) -> etree.XPath:
    return _xpath(css2xpath(expression))


def _xp(element, expression: str) -> list:
    return _xpath(expression)(element)


def _string(element) -> str:
    """XPath string() of an element: all its text, as parsel's `.xpath("string()").get()` gives it."""
    return _xpath("string()")(element)


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

    @classmethod
    def from_text(cls, html: str, url: str) -> Page:
        selector = Selector(text=_encodable(html) or "<html></html>", type="html")  # an `<?xml` declaration makes no XML page
        etree.strip_tags(selector.root, etree.Comment, etree.ProcessingInstruction)  # as trafilatura's own parser leaves them
        return cls(url=url, selector=selector)

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
        self._meta = self._site_names = self._body_text = None

    def shows(self, text: str) -> bool:
        """Whether a text (a lede from the metadata, say) is a paragraph of the page itself, not only in its head."""
        if self._visible is None:
            self._visible = {" ".join(_string(p).split()) for p in self._all("//body//p")}
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

    def first(self, css: str) -> Selector | None:
        """The first element a CSS selector finds, like `page.selector.css(css)[0]` but without a Selector for every match."""
        found = _css(css)(self.selector.root)
        return Selector(root=found[0], type="html") if found else None

    def _all(self, expression: str) -> list:
        """Nodes (lxml elements or plain strings) an XPath selects in the page."""
        return _xp(self.selector.root, expression)

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
        return self.absolute(self._get("//link[@rel='canonical']/@href") or self.meta("og:url")) or self.url

    def site_names(self) -> list[str]:
        if self._site_names is None:
            self._site_names = self._find_site_names()
        return list(self._site_names)

    def _find_site_names(self) -> list[str]:
        names = [self.meta("og:site_name", "application-name", "twitter:site")]
        for node in [self.article_ld(), *self.ld_of("WebSite", "Organization", "NewsMediaOrganization")]:
            publisher = node.get("publisher") if "publisher" in node else node
            if isinstance(publisher, dict):
                names.append(_text(publisher.get("name")))
            if node.get("@type") == "WebSite":
                names.append(_text(node.get("name")))
        host = (urlsplit(self.url).hostname or "").removeprefix("www.")
        names += [host, host.rsplit(".", 1)[0]] if host else []
        return [n.lstrip("@") for n in names if n]

    def title(self) -> str | None:
        """Headline: JSON-LD, Open Graph, the article's `<h1>`, then `<title>`; the site name never."""
        sites = self.site_names()
        h1 = self.h1()
        for candidate in (_text(self.article_ld().get("headline")), self.meta("og:title", "twitter:title"), h1):
            title = clean_title(candidate, sites)
            if title:
                return title
        title = _text(self._get("//title/text()"))
        if title and not clean_title(title, sites) == title:
            return clean_title(title, sites)
        parts = _SEPARATORS.split(title or "")
        return _text(parts[0]) if len(parts) > 1 and len(parts[0].split()) >= 3 else title

    def h1(self) -> str | None:
        for xpath in ("//article//h1", "//main//h1", "//h1"):
            found = self._all(xpath)
            text = _text(_string(found[0]) if found else None)
            if text:
                return text
        return None

    def published(self) -> datetime | None:
        ld = self.article_ld()
        for value in (
            ld.get("datePublished"),
            ld.get("dateCreated"),
            *self.metas("article:published_time", "og:published_time", "datePublished", "published_time", "pubdate",
                        "publishdate", "publish-date", "parsely-pub-date", "sailthru.date", "dc.date.issued", "DC.date.issued",
                        "dcterms.created", "dcterms.date", "date", "DC.date"),
            *self._all("//*[@itemprop='datePublished']/@*[name()='datetime' or name()='content']"),  # one pass, not a union of two
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
        if _ISO_DATE.match(value.strip()):  # a malformed one (`…:47ZZ`) is read as English, not in 400 locales
            return parse_datetime(value, ["en"], anywhere=False)
        languages = self.date_languages()
        return parse_datetime(value, languages, anywhere=not languages)

    def _visible_date(self) -> datetime | None:
        """A date written out near the headline (`8. Januar 2022`, `2022年1月8日`), as the last resort."""
        marks = ("date", "time", "published", "meta", "byline", "fecha", "datum", "data", "zeit", "hora", "dateline")
        xpath = (
            "//*[self::time or " + " or ".join(f"contains(@class,'{m}')" for m in marks) + "][string-length(normalize-space(.)) < 80]"
            " | //h1/following::*[self::p or self::span or self::div][position() <= 4][string-length(normalize-space(.)) < 40]"
        )
        languages = self.date_languages()
        for node in self._all(xpath)[:16]:
            text = _text(_string(node))
            if text and re.search(r"\d{4}|\d{1,2}\.\s*\d{1,2}\.|\d{1,2}/\d{1,2}/\d{2}", text):
                text = re.sub(r"^(?:published|updated|veröffentlicht|publicado|publié)\s*(?:on|am|le|el)?\s*:?\s*", "", text, flags=re.I)
                parsed = parse_datetime(text, languages, anywhere=not languages)
                if parsed and parsed <= datetime.now(UTC):
                    return parsed
        return None

    def modified(self) -> datetime | None:
        ld = self.article_ld()
        for value in (ld.get("dateModified"), *self.metas("article:modified_time", "og:updated_time", "dateModified", "last-modified")):
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
        if not names:
            for xpath in ("//nav[contains(@class,'breadcrumb')]//a", "//*[contains(@class,'breadcrumb')]//a", "//*[@itemtype='https://schema.org/BreadcrumbList' or @itemtype='http://schema.org/BreadcrumbList']//a"):
                names = [t for t in (_text(_string(a)) for a in self._all(xpath)) if t]
                if names:
                    break
        if names and (names[0].casefold() in ("home", "start", "startseite", "inicio", "accueil", "portada") or self.absolute("/") and names[0] in self.site_names()):
            names = names[1:]
        headline = _fold(self.h1() or "")
        return [n for n in names if _fold(n) != headline and len(n) <= 40][:3]

    def summary(self) -> str | None:
        return _text(self.article_ld().get("description")) or self.meta("og:description", "twitter:description", "description")

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
                parts = _xp(
                    node,
                    ".//text()[not(ancestor::*[contains(@class,'credit') or contains(@class,'copyright') or contains(@class,'photographer')])]",
                )
                text = _text(" ".join(parts))
                text = _text(re.split(r"\s(?:photo|foto|bild|image|picture|credit)\s*:\s", f" {text or ''}", flags=re.I)[0])
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
            for value in self.metas("author", "article:author", "parsely-author", "sailthru.author", "dc.creator", "DC.creator", "byl"):
                names += split_authors(value)
        if not names and self._all(_AUTHOR_MARKUP):  # one pass first: most pages have none of the five below
            for xpath in ("//*[@itemprop='author']//*[@itemprop='name']", "//*[@itemprop='author']", "//a[@rel='author']", "//*[contains(@class,'byline')]//a", "//*[contains(@class,'byline')]"):
                for node in self._all(xpath)[:3]:
                    names += split_authors(_string(node))
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
                text = _text(_string(element))
                if not text or len(text) >= 100:
                    break
                publisher = publisher_from(text)
                if publisher:
                    return publisher
                element = element.getparent() if element.tag in _INLINE else None
        return None

    def body_text(self) -> str:
        """All the text of the page's body (scripts included), read once."""
        if self._body_text is None:
            self._body_text = _xpath("string(//body)")(self.selector.root) or ""
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
        for lang in (
            self._get("/html/@lang"),
            self._get("/html/@xml:lang"),
            self.meta("og:locale", "language", "content-language", "dc.language", "DC.language"),
            self._get("//meta[@http-equiv='content-language' or @http-equiv='Content-Language']/@content"),
            _text(self.article_ld().get("inLanguage")),
        ):
            if lang:
                code = re.split(r"[-_,\s]", lang.strip())[0].lower()
                if re.fullmatch(r"[a-z]{2}", code):
                    return code
        return None

    def language(self, text: str = "") -> str | None:
        """What the page declares, else what its text is written in."""
        return self.declared_language() or detect_language(text or self.body_text())


_AUTHOR_MARKUP = "//*[@itemprop='author' or (self::a and @rel='author') or contains(@class,'byline')]"


def _int(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


# -- is it an article at all?


def looks_like_article(page: Page) -> bool:
    """Structured data or markup says article, the URL is no tag/author/search/login/gallery page, and there is text."""
    path = urlsplit(page.url).path
    if _NON_ARTICLE_PATH.search(path) or urlsplit(page.url).query and re.search(r"(?:^|&)(?:q|s|query|search)=", urlsplit(page.url).query):
        return False
    og_type = (page.meta("og:type") or "").lower()
    structured = bool(page.article_ld())
    if og_type in ("website", "profile", "video", "video.other", "music.song", "book") and not structured:
        return False
    signal = structured or og_type in ("article", "news", "news.article", "blog", "blogpost")
    if not signal:
        articles = page.selector.xpath("//article")
        signal = len(articles) == 1 and _words(" ".join(articles[0].xpath(".//p//text()").getall())) >= MIN_ARTICLE_WORDS
    if not signal:
        return False
    container = _densest(page.selector)
    return container is not None and _words(" ".join(container.xpath(".//p//text()").getall())) >= MIN_ARTICLE_WORDS


# Chinese and Japanese run their words together: each of their characters counts as a word (of thresholds and
# shingles alike), so that a paragraph of 200 characters weighs like one of 100 words, not like one word.
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f"
_TOKEN = re.compile(rf"[{_CJK}]|[^\W{_CJK}]+")


def _words(text: str | None) -> int:
    return len(_TOKEN.findall(text or ""))


# -- the body


@dataclass
class Extracted:
    """The body of an article: kept blocks as (tag, inner_html, text)."""

    blocks: list[tuple[str, str, str]]
    publisher: str | None = None
    credit: list[str] = field(default_factory=list)
    link_lists: set[str] = field(default_factory=set)  # paragraphs set aside as links, not text (`_fold` of each)

    @property
    def text(self) -> str:
        return "\n".join(text for _, _, text in self.blocks)


def body_blocks(page: Page, body: Selector, remove: list[str] = (), junk: bool = True) -> Extracted:
    """Walk a body element's blocks; keep article text, set aside the credit and Source: lines."""
    result = Extracted(blocks=[])
    for css in remove:
        for node in select(body, css):
            if not isinstance(node.root, str):
                node.drop()
    languages = _date_languages(page)
    for node in _xp(body.root, _BLOCKS_XPATH):
        if _nested(node, body.root, junk):
            continue
        tag = node.tag
        text = _block_text(node)
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
        if is_boilerplate(text) or _only_a_date(text, languages):
            continue
        if _links_not_text(node, tag, text):
            result.link_lists.add(_fold(text))
            continue
        result.blocks.append((tag, _inner_html(node, page), text))
    while result.blocks and _promotion(result.blocks[-1][2]):  # "Follow us on …", "Sign up for our newsletter …"
        result.blocks.pop()
    return result


# A paragraph that points elsewhere instead of telling: "Related: <a>…</a>", "READ MORE: <a>…</a>", or a row of
# links ("<a>A</a> [VIDEO] | <a>B</a> [INSIGHT]"). Lead-ins in the languages refeed's sources are written in.
_LEAD_IN = re.compile(
    r"^(?:related|related articles?|related stories|read more|read next|read also|also read|more|more on this|see also|"
    r"watch|listen|recommended|further reading|lesen sie auch|mehr zum thema|auch interessant|leer más|lea también|"
    r"ver también|lire aussi|à lire aussi|voir aussi|leggi anche|leia também|lees ook|czytaj także|läs även|les også)"
    r"(?:\s*[:：|»›]|\s+[-–—]\s)",
    re.I,
)
_TAG_MARKS = re.compile(r"\[[^\]]{0,20}\]|\([^)]{0,20}\)")  # "[VIDEO]", "(Photos)" beside a headline link


def _links_not_text(node, tag: str, text: str) -> bool:
    """A lead-in and a link ("Related: <a>…</a>"), or two or more links with nothing between them but separators
    and tags ("<a>A</a> [VIDEO] | <a>B</a>"); a sentence with links in it ("<a>A</a> met <a>B</a>.") is text."""
    if tag != "p" or len(text) > 400 or next(node.iter("a"), None) is None:
        return False
    links = [" ".join(_string(a).split()) for a in _xp(node, ".//a[@href]")]
    if _LEAD_IN.match(text):
        linked = sum(c.isalnum() for link in links for c in link)
        return linked >= 0.5 * sum(c.isalnum() for c in _LEAD_IN.sub("", text, count=1))
    if len(links) < 2:
        return False
    return not any(c.isalnum() for c in _TAG_MARKS.sub(" ", _outside_links(node)))


def _outside_links(element) -> str:
    """The text of an element outside the links within it (a link around it, as on a card, does not count)."""
    parts = [element.text or ""]
    for child in element:
        if isinstance(child.tag, str) and not (child.tag == "a" and child.get("href") is not None):
            parts.append(_outside_links(child))
        parts.append(child.tail or "")
    return " ".join(parts)


# The last paragraphs of many articles ask the reader for something: to follow the site or the author, to sign up,
# to click, to comment. Only short ones, only at the end, and only a sentence that starts with the request (an
# imperative: "Follow us on …", not "police will follow every lead posted on Facebook") are taken for that.
_REQUEST = r"(?:^|[.!?…]\s+)"
_PROMOTION = re.compile(
    _REQUEST + r"(?:please |don[’']t forget to |like and )?(?:follow(?!-)|like us|find us)\b[^.!?]{0,80}?"
    r"\bon (?:twitter|facebook|instagram|linkedin|tiktok|threads|bluesky|mastodon|x(?![-\w]))"
    r"|" + _REQUEST + r"follow us\s*[:：]"
    r"|" + _REQUEST + r"(?:sign up|subscribe|register)\b[^.!?]{0,80}?\bnewsletters?\b"
    r"|" + _REQUEST + r"click here\b"
    r"|" + _REQUEST + r"we(?:'|’)?d (?:like|love) to hear (?:from you|what you think)"
    r"|" + _REQUEST + r"we would (?:like|love) to hear (?:from you|what you think)"
    r"|^(?:tell us what you think|what do you think|let us know what you think|join the conversation|leave a comment"
    r"|share your thoughts)\b|^\[(\w+)\b[^\]]*\].*\[/\1\]$",
    re.I,
)
PROMOTION_WORDS = 60


def _promotion(text: str) -> bool:
    return _words(text) <= PROMOTION_WORDS and bool(_PROMOTION.search(text))


def _only_a_date(text: str, languages: list[str] | None = None) -> bool:
    """A dateline block (`8. Januar 2022`, `2022年1月8日`, `Jan. 8, 2022 10:15`): metadata, not article text.

    Read in `languages` only (the page's own and English) when the page declares one: a dateline is written in
    the page's language, and asking dateparser in every language it knows cost a crawl more than fetching.
    """
    if len(text) > 40 or len(text.split()) > 6 or not re.search(r"\d", text):
        return False
    return parse_datetime(text, languages, anywhere=not languages) is not None


def _date_languages(page: Page) -> list[str] | None:
    return page.date_languages()


def _block_text(element) -> str:
    if element.tag in ("ul", "ol"):
        items = (_string(li) for li in _xp(element, "./li"))
        return " ".join(" ".join(text.split()) for text in items if text.strip()) or " ".join(" ".join(_xp(element, ".//text()")).split())
    return " ".join(" ".join(_xp(element, ".//text()[not(ancestor::script or ancestor::style)]")).split())


def _nested(element, body_root, junk: bool = True) -> bool:
    """True when a block sits inside another kept block, a figure, aside, nav or a share/related/ad box below the body."""
    if junk and _is_junk(element):
        return True
    parent = element.getparent()
    while parent is not None and parent is not body_root:
        if parent.tag in BLOCK_TAGS or parent.tag in _SKIP_ANCESTORS:
            return True
        if junk and _is_junk(parent):
            return True
        parent = parent.getparent()
    return False


def _is_junk(element) -> bool:
    if not isinstance(element.tag, str):
        return False
    marks = f"{element.get('class', '')} {element.get('id', '')}"
    if element.get("hidden") is not None or element.get("aria-hidden") == "true":
        return True
    if re.search(r"display\s*:\s*none", element.get("style", "")):
        return True
    return bool(marks.strip()) and bool(_JUNK_CLASS.search(marks))


_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")  # lxml refuses these in an attribute


def _inner_html(root, page: Page) -> str:
    """The block's inner markup with links made absolute (the sanitizer removes the rest)."""
    for br in root.iter("br"):
        br.tail = "\n" + _NOT_XML.sub("", br.tail or "")  # the HTML parser lets control characters through; lxml refuses them here
    for element in root.iter("a", "img"):
        attr = "href" if element.tag == "a" else "src"
        value = element.get(attr)
        if value:
            element.set(attr, _NOT_XML.sub("", urljoin(page.url, value.strip())))
    if root.tag in ("ul", "ol"):
        items = [li for li in root if li.tag == "li"]
        if items:  # one item a line, so that the text of neighbouring items never runs together
            return "\n" + "\n".join(etree.tostring(li, encoding="unicode", method="html", with_tail=False) for li in items) + "\n"
    parts = [escape(root.text)] if root.text else []
    for child in root:
        parts.append(etree.tostring(child, encoding="unicode", method="html", with_tail=True))
    return "".join(parts)


def render_blocks(blocks: list[tuple[str, str, str]]) -> tuple[str, str]:
    """(content_html, content_text) of kept blocks."""
    html = "\n".join(f"<{tag}>{inner}</{tag}>" for tag, inner, _ in blocks)
    text = "\n\n".join(text for _, _, text in blocks)
    return html, text


GENERIC_FAVOR = "precision"  # the cascade adds the container's missed prose itself; "recall" is the fallback


def extract_generic_body(page: Page, favor: str | None = GENERIC_FAVOR) -> Extracted:
    """trafilatura's body, as blocks; `favor` is "precision", "recall" or None (its balanced default).

    trafilatura reads the page's own tree (it works on a copy of it): the page is parsed once, not once for each.
    """
    import trafilatura

    try:
        result = trafilatura.extract(
            page.selector.root, url=page.url, output_format="html", include_comments=False, include_tables=True,
            favor_precision=favor == "precision", favor_recall=favor == "recall", include_images=False,
        )
    except Exception:  # trafilatura is a fallback: its failure is no article body, not a crash
        logger.debug("trafilatura failed on %s", page.url, exc_info=True)
        result = None
    if not result:
        return Extracted(blocks=[])
    selector = Selector(text=result, type="html")
    return body_blocks(page, selector.css("body")[0] if selector.css("body") else selector, junk=False)


def markup_body(page: Page) -> Extracted:
    """The page's own article container: schema.org articleBody, else the element holding most paragraph text."""
    for xpath in ("//*[@itemprop='articleBody']",):
        nodes = page.selector.xpath(xpath)
        if len(nodes) == 1:
            extracted = body_blocks(page, nodes[0])
            if _words(extracted.text) >= MIN_ARTICLE_WORDS:
                return extracted
    container = _densest(page.selector)
    return body_blocks(page, container) if container is not None else Extracted(blocks=[])


def _densest(selector: Selector):
    """The element whose own paragraphs (and those of wrappers one level down) carry the most text."""
    scores: Counter = Counter()
    for element in _xp(selector.root, "//body//p"):
        length = _words(" ".join(_xp(element, ".//text()")))
        if length < 5:
            continue
        parent = element.getparent()
        if parent is None or _is_junk(parent) or parent.tag in _SKIP_ANCESTORS:
            continue
        scores[parent] += length
        grand = parent.getparent()
        if grand is not None and grand.tag != "body":
            scores[grand] += length // 2
    if not scores:
        return None
    best = _widen(max(scores, key=lambda e: scores[e]))
    return Selector(root=best, type="html")


def _widen(best):
    """An article split into chunks (ads between them) is the nearest ancestor holding all its like-classed chunks."""
    mark = best.get("class")
    if not mark:
        return best
    ancestor = best.getparent()
    for _ in range(3):
        if ancestor is None or ancestor.tag in ("body", "html"):
            break
        chunks = [e for e in ancestor.iter(best.tag) if e.get("class") == mark and e.find(".//p") is not None]
        if len(chunks) > 1:
            return ancestor
        ancestor = ancestor.getparent()
    return best


def extract_body(page: Page, html: str | None = None) -> Extracted:
    """Markup and trafilatura combined: the page's own container when trafilatura agrees it holds the article.

    Never nothing when the page has a body: a result that is empty or a line or two is replaced by trafilatura's
    in its recall mode, else by the densest block of text, whichever first holds clearly more.
    """
    own = markup_body(page)
    generic = extract_generic_body(page)
    result = combine(own, generic)
    found = _words(result.text)
    if found >= PLAUSIBLE:
        return result
    for name, fallback in (("trafilatura's recall mode", lambda: extract_generic_body(page, favor="recall")),
                           ("the densest text block", lambda: densest_text(page))):
        candidate = fallback()
        if _words(candidate.text) >= max(2 * found, 1):
            logger.debug("%s: the cascade found %d words, %s %d: taking those", page.url, found, name, _words(candidate.text))
            candidate.publisher, candidate.credit = result.publisher or candidate.publisher, result.credit or candidate.credit
            return candidate
    return result


PLAUSIBLE = 30  # fewer words than this from the cascade (a caption, a line or two) is no body yet: try the fallbacks
_INLINE = frozenset(("a", "span", "b", "strong", "i", "em", "u", "font", "small", "big", "sup", "sub", "abbr", "cite",
                     "code", "mark", "q", "s", "time", "br", "wbr", "img", "label"))


def densest_text(page: Page) -> Extracted:
    """The element holding the most text of its own (and of its inline children), one paragraph a line: the body of
    pages that put their text in `<div>`s and `<br>`s rather than in paragraphs."""
    scores: Counter = Counter()
    for element in _xp(page.selector.root, "//body//*"):
        for text, holder in ((element.text, element), (element.tail, element.getparent())):
            if text and text.strip() and holder is not None:
                while holder.tag in _INLINE and holder.getparent() is not None:
                    holder = holder.getparent()
                scores[holder] += len(text.strip())  # characters: the same measure in every script
                if holder.getparent() is not None:
                    scores[holder.getparent()] += len(text.strip()) // 2  # a wrapper of several blocks of text
    for holder in sorted(scores, key=scores.get, reverse=True):
        if isinstance(holder.tag, str) and holder.tag not in ("body", "html") and not _furniture(holder):
            lines = ("".join(_lines(holder)).split("\n"))
            texts = [" ".join(line.split()) for line in lines]
            return Extracted(blocks=[("p", escape(t, quote=False), t) for t in texts if t and not is_boilerplate(t)])
    return Extracted(blocks=[])


def _furniture(element) -> bool:
    """Inside (or itself) a figure, aside, nav, header, footer, form, or a share/related/ad box."""
    while element is not None:
        if element.tag in _SKIP_ANCESTORS or _is_junk(element):
            return True
        element = element.getparent()
    return False


def _lines(element):
    """The text of an element, a line break at every `<br>` and block element; scripts and styles left out."""
    if not isinstance(element.tag, str) or element.tag in ("script", "style", "noscript", "template"):
        yield element.tail or ""
        return
    block = element.tag not in _INLINE
    yield "\n" if block or element.tag == "br" else ""
    yield element.text or ""
    for child in element:
        yield from _lines(child)
    yield "\n" if block else ""
    yield element.tail or ""


def combine(own: Extracted, generic: Extracted) -> Extracted:
    """Evidence from both: trafilatura's blocks, plus the prose of the page's own container that it missed.

    The container's extra paragraphs count only when the container holds most of what trafilatura
    found (then both point at the same article) and only when they read as running text.
    """
    publisher, credit = own.publisher or generic.publisher, own.credit or generic.credit
    if own.link_lists:  # trafilatura drops links: what the page's markup shows to be a row of links goes here
        generic = Extracted(blocks=[b for b in generic.blocks if _fold(b[2]) not in own.link_lists], publisher=generic.publisher, credit=generic.credit)
    if not generic.blocks:
        own.publisher, own.credit = publisher, credit
        return own if _words(own.text) >= MIN_ARTICLE_WORDS else Extracted(blocks=[], publisher=publisher, credit=credit)
    found = [_shingles(text) for _, _, text in generic.blocks]
    everything: Counter = Counter()
    where: dict[str, list[tuple[int, int]]] = {}  # shingle → (generic block, count): overlaps without a Counter per pair
    for index, shingles in enumerate(found):
        everything.update(shingles)
        for gram, count in shingles.items():
            where.setdefault(gram, []).append((index, count))
    own_all = _shingles(own.text)
    covered = sum((own_all & everything).values()) / max(1, sum(everything.values()))
    if not own.blocks or covered < COVERED:
        return Extracted(blocks=generic.blocks, publisher=publisher, credit=credit)
    after: dict[int, list] = {}
    last = -1
    for block in own.blocks:
        shingles = _shingles(block[2])
        size = max(1, sum(shingles.values()))
        overlap = [0] * len(found)  # of the block with each generic block: sum((shingles & found[i]).values())
        for gram, count in shingles.items():
            for index, theirs in where.get(gram, ()):
                overlap[index] += min(count, theirs)
        best = max(overlap)
        if best / size >= 0.5:
            last = max(last, overlap.index(best))  # the first best, as max() picks
        elif sum((shingles & everything).values()) / size < 0.5 and _prose(block):
            after.setdefault(last, []).append(block)
    end = len(generic.blocks)
    if covered >= TAIL_COVERED:  # trafilatura's trailing blocks outside the container: bios, boilerplate, teasers
        while end > 0 and sum((found[end - 1] & own_all).values()) / max(1, sum(found[end - 1].values())) < 0.5:
            end -= 1
    blocks = list(after.get(-1, []))
    for index, block in enumerate(generic.blocks[:end]):
        blocks.append(block)
        blocks += after.get(index, [])
    return Extracted(blocks=blocks, publisher=publisher, credit=credit)


COVERED = 0.5  # share of trafilatura's text the container must hold to lend it paragraphs
TAIL_COVERED = 0.8  # …and to cut trafilatura's trailing blocks that lie outside it


_LINK_TEXT = re.compile(r"<a\b[^>]*>(.*?)</a>", re.S | re.I)
_TAGS = re.compile(r"<[^>]+>")


def _prose(block: tuple[str, str, str]) -> bool:
    """A paragraph of running text: long enough, few links, sentence punctuation, not shouting, no stray markup."""
    tag, inner, text = block
    if tag not in ("p", "blockquote") or _words(text) < 25 or "<span" in text or "&lt;" in text:
        return False
    linked = sum(len(_TAGS.sub("", m)) for m in _LINK_TEXT.findall(inner))
    letters = [c for c in text if c.isalpha()]
    shouting = letters and sum(c.isupper() for c in letters) / len(letters) > 0.6
    return linked / max(1, len(text)) < 0.25 and not shouting and bool(re.search(r"[.!?…:\"”»。！？]\W*$", text))




def _shingles(text: str, n: int = 4) -> Counter:
    tokens = _TOKEN.findall(text)
    return Counter(" ".join(tokens[i:i + n]) for i in range(max(1, len(tokens) - n + 1)))


# -- user selectors


def select(selector: Selector, expression: str):
    """CSS, or XPath when the expression starts with `/` (or `(` as in `(//p)[1]`)."""
    expression = expression.strip()
    if expression.startswith(("/", "(")):
        return selector.xpath(expression)
    return selector.css(expression)


def _value(node) -> str | None:
    if isinstance(node.root, str):
        return _text(node.root)
    for attr in ("datetime", "content", "src", "data-src", "href"):
        value = node.root.get(attr) if hasattr(node.root, "get") else None
        if value and value.strip():
            return value.strip()
    return _text(node.xpath("string()").get())


@dataclass
class Selected:
    """Fields a source's `[source.selectors]` gives; None (or empty) where it gives nothing or finds nothing."""

    title: str | None = None
    body: Extracted | None = None
    published: datetime | None = None
    authors: list[str] = field(default_factory=list)
    sections: list[str] = field(default_factory=list)
    image: str | None = None


def selected_fields(page: Page, selectors: dict) -> Selected:
    """Apply the user's selectors (after `remove`, which the caller already applied to the page)."""
    out = Selected()
    if not selectors:
        return out
    if selectors.get("title"):
        nodes = select(page.selector, selectors["title"])
        out.title = _text(nodes[0].xpath("string()").get() if nodes and not isinstance(nodes[0].root, str) else nodes[0].root) if nodes else None
    if selectors.get("body"):
        nodes = [n for n in select(page.selector, selectors["body"]) if not isinstance(n.root, str)]
        if nodes:
            body = Extracted(blocks=[])
            for node in nodes:
                part = body_blocks(page, node, junk=False)
                if not part.blocks and _text(node.xpath("string()").get()):  # a bare text container is one paragraph
                    text = _text(node.xpath("string()").get())
                    part.blocks = [("p", escape(text, quote=False), text)]
                body.blocks += part.blocks
                body.publisher = body.publisher or part.publisher
                body.credit = body.credit or part.credit
            out.body = body
    if selectors.get("published"):
        for node in select(page.selector, selectors["published"]):
            out.published = parse_datetime(_value(node))
            if out.published:
                break
    if selectors.get("authors"):
        for node in select(page.selector, selectors["authors"]):
            out.authors += split_authors(_value(node) if isinstance(node.root, str) else node.xpath("string()").get())
        out.authors = list(dict.fromkeys(out.authors))
    if selectors.get("section"):
        out.sections = [t for t in (_value(n) if isinstance(n.root, str) else _text(n.xpath("string()").get()) for n in select(page.selector, selectors["section"])) if t]
    if selectors.get("image"):
        for node in select(page.selector, selectors["image"]):
            out.image = page.absolute(_value(node))
            if out.image:
                break
    return out


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
