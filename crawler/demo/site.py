"""The bundled sample aggregator site: its pages, rendered from the stories of crawler/demo/stories.py."""

from __future__ import annotations

import dataclasses
import hashlib
import html
import json
import logging
import re
import zlib
from datetime import UTC, datetime
from email.utils import format_datetime
from urllib.parse import parse_qs, urlsplit

from crawler.demo.stories import SECTIONS, SEED_SHORTID, SampleArticle, isoformat, sample_stories, slugify

logger = logging.getLogger(__name__)

__all__ = [
    "SECTIONS",
    "SEED_SHORTID",
    "SITE_NAME",
    "TAGLINE",
    "DISCLAIMER",
    "SampleArticle",
    "SampleSite",
    "generate",
    "isoformat",
    "slugify",
]

SITE_NAME = "The Limited Times"
TAGLINE = "Now you can see non-English news..."
DISCLAIMER = (
    "The information on this site is from external sources that are not under our control. "
    "The inclusion of any links does not necessarily imply a recommendation or endorse the views expressed within them."
)
PER_PAGE = 20
HOME_COUNT = 30

_NAME = re.compile(r"(?<=\w )([A-Z][a-z]+(?: [A-Z][a-z]+)+)")

# An 8x8 mid-grey baseline JPEG: SOI, DQT, SOF0, two one-symbol Huffman tables, SOS, one block, EOI.
JPEG = (
    b"\xff\xd8"
    + b"\xff\xdb\x00\x43\x00" + b"\x01" * 64
    + b"\xff\xc0\x00\x0b\x08\x00\x08\x00\x08\x01\x01\x11\x00"
    + b"\xff\xc4\x00\x14\x00\x01" + b"\x00" * 15 + b"\x00"
    + b"\xff\xc4\x00\x14\x10\x01" + b"\x00" * 15 + b"\x00"
    + b"\xff\xda\x00\x08\x01\x01\x00\x00\x3f\x00"
    + b"\x3f"
    + b"\xff\xd9"
)


def generate(seed: int = 2022, count: int = 240) -> SampleSite:
    """`count` distinct stories (story #0 is the seed article) plus one republished copy."""
    articles, trends = sample_stories(seed, count)
    return SampleSite(seed, articles, trends=trends)


# ---------------------------------------------------------------------------------------------
# Rendering


def _t(text: str) -> str:
    return html.escape(text, quote=False)


def _a(text: str) -> str:
    return html.escape(text, quote=True)


def _http_date(dt: datetime) -> str:
    return format_datetime(dt.astimezone(UTC).replace(microsecond=0), usegmt=True)


def _display(section: str) -> str:
    return section[:1].upper() + section[1:]


class SampleSite:
    """All pages of the sample site; `render` answers one path like a web server would."""

    def __init__(self, seed: int, articles: list[SampleArticle], trends: list[str] | None = None):
        self.seed = seed
        self.sections = SECTIONS
        self.articles = sorted(articles, key=lambda a: (a.published, a.shortid), reverse=True)
        self._by_id = {a.shortid: a for a in self.articles}
        self._paths: dict[str, SampleArticle] = {}
        for article in self.articles:
            self._paths[article.path] = article
            for alias in article.alias_paths():
                self._paths[alias] = article
        self._trends = [self._by_id[s] for s in (trends or [])] or self.stories()[:5]
        self._cache: dict[tuple[str, str], tuple[int, dict[str, str], bytes]] = {}

    # --- queries -----------------------------------------------------------------------------

    def stories(self) -> list[SampleArticle]:
        return [a for a in self.articles if a.republishes is None]

    def by_path(self, path: str) -> SampleArticle | None:
        return self._paths.get(urlsplit(path).path)

    def by_shortid(self, shortid: str) -> SampleArticle | None:
        return self._by_id.get(shortid)

    def corrected(self, shortid: str, changes: dict[str, str], updated: datetime) -> SampleSite:
        """A copy of the site where one story's page was corrected: each `old → new` of `changes`
        applied to its title, lede and paragraphs, and `updated` as its modification time."""

        def fix(text: str) -> str:
            for old, new in changes.items():
                text = text.replace(old, new)
            return text

        story = self._by_id[shortid]
        fixed = dataclasses.replace(
            story, title=fix(story.title), lede=fix(story.lede), blocks=tuple((k, fix(t)) for k, t in story.blocks), updated=updated
        )
        articles = [fixed if a is story else a for a in self.articles]
        return SampleSite(self.seed, articles, trends=[a.shortid for a in self._trends])

    def days(self) -> list[str]:
        return sorted({a.day for a in self.articles})

    def section_listing(self, section: str) -> list[tuple[SampleArticle, str]]:
        """(article, path) pairs listed on a section, newest first, cross-listed aliases included."""
        out = []
        for article in self.articles:
            if article.section == section:
                out.append((article, article.path))
            elif section in article.also_in:
                out.append((article, article._path(section)))
        return out

    def section_pages(self, section: str) -> int:
        return max(1, -(-len(self.section_listing(section)) // PER_PAGE))

    # --- HTTP-like answer ----------------------------------------------------------------------

    def render(self, path: str, base_url: str) -> tuple[int, dict[str, str], bytes]:
        base = base_url.rstrip("/")
        parts = urlsplit(path)
        route, query = parts.path or "/", parse_qs(parts.query)
        key = route
        if route.count("/") == 2 and route.endswith("/") and route.strip("/") in SECTIONS:
            pages = query.get("page", ["1"])
            key = f"{route}?page={pages[-1]}"
        cached = self._cache.get((base, key))
        if cached is not None:
            return cached
        answer = self._route(route, key, base)
        if answer[0] == 200:
            self._cache[(base, key)] = answer
        return answer

    def _route(self, route: str, key: str, base: str) -> tuple[int, dict[str, str], bytes]:
        if route == "/":
            listed = self.articles[:HOME_COUNT]
            return self._html(self._home(listed), listed)
        if route == "/robots.txt":
            return self._ok(b"User-agent: *\nDisallow: /private/\n", "text/plain; charset=utf-8", self.articles[0].updated)
        if route == "/privacy.html":
            main = "<main><h1>Privacy</h1><p>This sample site stores no personal data and sets no cookies.</p></main>"
            return self._html(self._page("Privacy", "", main), self.articles[:1])
        match = re.fullmatch(r"/img/([0-9a-f]{8})\.jpg", route)
        if match and match.group(1) in self._by_id:
            return self._ok(JPEG, "image/jpeg", self._by_id[match.group(1)].updated)
        match = re.fullmatch(r"/archive/(\d{4}-\d{2}-\d{2})\.html", route)
        if match:
            listed = [a for a in self.articles if a.day == match.group(1)]
            if listed:
                return self._html(self._archive(match.group(1), listed), listed)
        match = re.fullmatch(r"/([a-z]+)/?", route)
        if match and match.group(1) in SECTIONS:
            section = match.group(1)
            if not route.endswith("/"):
                return self._redirect(f"/{section}/")
            page = key.rsplit("=", 1)[1]
            if page.isdigit() and 1 <= int(page) <= self.section_pages(section):
                on_page = self.section_listing(section)[(int(page) - 1) * PER_PAGE:int(page) * PER_PAGE]
                return self._html(self._section(section, int(page), on_page), [a for a, _ in on_page])
        article = self._paths.get(route)
        if article is not None:
            cached = self._cache.get((base, f"article:{article.shortid}"))
            if cached is None:
                cached = self._html(self._article(article, base), [article])
                self._cache[(base, f"article:{article.shortid}")] = cached
            return cached
        return self._not_found()

    # --- responses -----------------------------------------------------------------------------

    @staticmethod
    def _ok(body: bytes, content_type: str, modified: datetime) -> tuple[int, dict[str, str], bytes]:
        headers = {
            "Content-Type": content_type,
            "Content-Length": str(len(body)),
            "ETag": '"' + hashlib.sha1(body).hexdigest()[:20] + '"',
            "Last-Modified": _http_date(modified),
        }
        return 200, headers, body

    def _html(self, page: str, listed: list[SampleArticle]) -> tuple[int, dict[str, str], bytes]:
        return self._ok(page.encode("utf-8"), "text/html; charset=utf-8", max(a.updated for a in listed))

    @staticmethod
    def _redirect(location: str) -> tuple[int, dict[str, str], bytes]:
        body = f'<!DOCTYPE html><html lang="en"><body><a href="{_a(location)}">Moved</a></body></html>'.encode()
        return 301, {"Location": location, "Content-Type": "text/html; charset=utf-8", "Content-Length": str(len(body))}, body

    def _not_found(self) -> tuple[int, dict[str, str], bytes]:
        main = "<main><h1>Page not found</h1><p>The page you requested does not exist.</p></main>"
        body = self._page("Page not found", "", main).encode("utf-8")
        return 404, {"Content-Type": "text/html; charset=utf-8", "Content-Length": str(len(body))}, body

    # --- markup --------------------------------------------------------------------------------

    def _header(self) -> str:
        nav = " ".join(f'<a href="/{s}/">{_display(s)}</a>' for s in SECTIONS)
        return (
            f'<header class="site-header"><a class="logo" href="/">{SITE_NAME}</a>'
            f'<p class="tagline">{_t(TAGLINE)}</p><nav class="sections">{nav}</nav></header>\n'
        )

    @staticmethod
    def _footer() -> str:
        return (
            '<footer class="site-footer"><p>© Communities 2019 - <a href="/privacy.html">Privacy</a></p>'
            f'<p class="disclaimer">{_t(DISCLAIMER)}</p></footer>\n'
        )

    def _page(self, title: str, head: str, main: str) -> str:
        return (
            '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">\n'
            f"<title>{_t(title + ' - ' + SITE_NAME if title else SITE_NAME)}</title>\n{head}</head><body>\n"
            f"{self._header()}{main}\n{self._footer()}</body></html>\n"
        )

    @staticmethod
    def _links(articles: list[SampleArticle]) -> str:
        return "".join(f'<li><a href="{_a(a.path)}">{_t(a.title)}</a></li>' for a in articles)

    def _trends_aside(self, exclude: SampleArticle | None = None) -> str:
        trends = [a for a in self._trends if a is not exclude][:5]
        if len(trends) < 5:
            trends += [a for a in self.stories() if a is not exclude and a not in trends][: 5 - len(trends)]
        return f'<aside class="trends"><h3>Trends 24h</h3><ul>{self._links(trends)}</ul></aside>\n'

    @staticmethod
    def _decorate(where: str, article: SampleArticle, path: str) -> str:
        """Some listing links carry tracking parameters and fragments, as on the real site."""
        pick = zlib.crc32(f"{where}:{article.shortid}".encode()) % 10
        token = f"{zlib.crc32(f'{where}/{path}'.encode()):08x}"
        if pick == 0:
            return f"{path}?utm_source=home&utm_medium=web&utm_campaign={where}-{article.day}"
        if pick == 1:
            return f"{path}?fbclid=IwAR{token}{article.shortid}"
        if pick == 2:
            return f"{path}#comments"
        if pick == 3:
            return f"{path}?utm_source=home&utm_medium=web&utm_campaign=trending#comments"
        return path

    def _listing(self, where: str, entries: list[tuple[SampleArticle, str]]) -> str:
        items = "\n".join(
            f'<li class="story"><a class="story-link" href="{_a(self._decorate(where, a, path))}">{_t(a.title)}</a> '
            f'<time datetime="{isoformat(a.published)}">{isoformat(a.published)}</time> '
            f'<p class="story-lede">{_t(a.lede)}</p></li>'
            for a, path in entries
        )
        return f'<ul class="stories">\n{items}\n</ul>\n'

    def _home(self, listed: list[SampleArticle]) -> str:
        main = (
            f'<main><h1 class="banner">{SITE_NAME}</h1>\n<section class="latest-news"><h2>Latest news</h2>\n'
            f"{self._listing('home', [(a, a.path) for a in listed])}</section>\n{self._trends_aside()}</main>"
        )
        return self._page("", "", main)

    def _section(self, section: str, page: int, listed: list[tuple[SampleArticle, str]]) -> str:
        head, nav = "", []
        if page > 1:
            prev = f"/{section}/" if page == 2 else f"/{section}/?page={page - 1}"
            head += f'<link rel="prev" href="{_a(prev)}">\n'
            nav.append(f'<a class="prev" rel="prev" href="{_a(prev)}">Previous</a>')
        if page < self.section_pages(section):
            nxt = f"/{section}/?page={page + 1}"
            head += f'<link rel="next" href="{_a(nxt)}">\n'
            nav.append(f'<a class="next" rel="next" href="{_a(nxt)}">Next</a>')
        main = (
            f'<main><h1 class="section-title">{_display(section)}</h1>\n'
            f"{self._listing(f'{section}-{page}', listed)}"
            f'<nav class="pagination">{" ".join(nav)} <span class="page">Page {page}</span></nav>\n'
            f"{self._trends_aside()}</main>"
        )
        title = _display(section) if page == 1 else f"{_display(section)} - page {page}"
        return self._page(title, head, main)

    def _archive(self, day: str, listed: list[SampleArticle]) -> str:
        main = (
            f'<main><h1 class="archive-title">All news articles on {day}</h1>\n'
            f"{self._listing(f'archive-{day}', [(a, a.path) for a in listed])}</main>"
        )
        return self._page(f"All news articles on {day}", "", main)

    def _body_html(self, article: SampleArticle) -> str:
        out = []
        salt = int(article.shortid, 16)
        for index, (kind, text) in enumerate(article.blocks):
            if kind == "h2":
                out.append(f"<h2>{_t(text)}</h2>")
                continue
            pick = (index + salt) % 7
            match = _NAME.search(text) if pick in (3, 5) else None
            if match:
                name = _t(match.group(0))
                inner = f"<em>{name}</em>" if pick == 3 else f'<a href="/{article.section}/">{name}</a>'
                out.append(f"<p>{_t(text[:match.start()])}{inner}{_t(text[match.end():])}</p>")
            else:
                out.append(f"<p>{_t(text)}</p>")
        out.append(f'<p class="credit-line">{_t(article.credit)}</p>')
        return "\n".join(out)

    def _article(self, article: SampleArticle, base: str) -> str:
        url = f"{base}{article.path}"
        image = f"{base}/img/{article.shortid}.jpg"
        published, updated = isoformat(article.published), isoformat(article.updated)
        section = _display(article.section)
        ld = {
            "@context": "https://schema.org",
            "@type": "NewsArticle",
            "headline": article.title,
            "datePublished": published,
            "dateModified": updated,
            "articleSection": section,
            "image": [image],
            "description": article.lede,
            "mainEntityOfPage": url,
            "publisher": {"@type": "Organization", "name": SITE_NAME},
        }
        ld_json = json.dumps(ld, ensure_ascii=False).replace("</", "<\\/")
        head = (
            f'<link rel="canonical" href="{_a(url)}">\n'
            f'<meta name="description" content="{_a(article.lede)}">\n'
            f'<meta property="og:type" content="article"><meta property="og:title" content="{_a(article.title)}">'
            f'<meta property="og:url" content="{_a(url)}">\n'
            f'<meta property="og:description" content="{_a(article.lede)}"><meta property="og:image" content="{_a(image)}">'
            f'<meta property="og:site_name" content="{SITE_NAME}">\n'
            f'<meta property="article:published_time" content="{published}">'
            f'<meta property="article:modified_time" content="{updated}">'
            f'<meta property="article:section" content="{section}">\n'
            f'<script type="application/ld+json">{ld_json}</script>\n'
        )
        same = [a for a in self.stories() if a.section == article.section and a.shortid != article.shortid]
        position = next((i for i, a in enumerate(same) if a.published <= article.published), len(same))
        start = max(0, min(position - 2, len(same) - 5))
        may_like = same[start:start + 5]
        latest = [a for a in self.articles if a is not article][:5]
        img = f"/img/{article.shortid}.jpg"
        main = (
            f'<nav class="breadcrumb"><a href="/">Home</a> › <a href="/{article.section}/">{section}</a></nav>\n'
            '<main><article class="article">\n'
            f'<h1 class="article-title">{_t(article.title)}</h1>\n'
            f'<time class="article-date" datetime="{published}">{published}</time>\n'
            f'<p class="article-lede">{_t(article.lede)}</p>\n'
            f'<figure class="article-image"><a class="enlarge" href="{img}">Enlarge image</a>'
            f'<img src="{img}" alt="{_a(article.caption)}"><figcaption><span class="caption">{_t(article.caption)}</span> '
            f'<span class="credit">Photo: {_t(article.photo_credit)}</span></figcaption></figure>\n'
            f'<div class="article-body">\n{self._body_html(article)}\n</div>\n'
            f'<p class="article-source">Source: {_t(article.publisher)}</p>\n'
            f'<p class="article-archive"><a href="/archive/{article.day}.html">All news articles on {article.day}</a></p>\n'
            "</article>\n"
            f'<aside class="you-may-like"><h3>You may like</h3><ul>{self._links(may_like)}</ul></aside>\n'
            f"{self._trends_aside(article)}"
            f'<aside class="latest"><h3>Latest</h3><ul>{self._links(latest)}</ul></aside>\n'
            "</main>"
        )
        return self._page(article.title, head, main)
