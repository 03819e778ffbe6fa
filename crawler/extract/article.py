"""Is it an article at all? What the page's structured data, URL and text say; and the section an article URL names."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from crawler.extract.markup import densest_container
from crawler.extract.page import Page
from crawler.extract.text import MIN_ARTICLE_WORDS, word_count
from crawler.extract.vocabulary import ARTICLE_TYPES, NON_ARTICLE_PATH, NOT_ARTICLE_TYPES, SEARCH_QUERY

__all__ = ["looks_like_article", "site_section"]


def looks_like_article(page: Page) -> bool:
    """Structured data or markup says article, the URL is no tag/author/search/login/gallery page, and there is text."""
    path = urlsplit(page.url).path
    if NON_ARTICLE_PATH.search(path) or urlsplit(page.url).query and SEARCH_QUERY.search(urlsplit(page.url).query):
        return False
    og_type = (page.meta("og:type") or "").lower()
    structured = bool(page.article_ld())
    if og_type in NOT_ARTICLE_TYPES and not structured:
        return False
    signal = structured or og_type in ARTICLE_TYPES
    if not signal:
        articles = page.selector.xpath("//article")
        signal = len(articles) == 1 and word_count(" ".join(articles[0].xpath(".//p//text()").getall())) >= MIN_ARTICLE_WORDS
    if not signal:
        return False
    container = densest_container(page.selector)
    return container is not None and word_count(" ".join(container.xpath(".//p//text()").getall())) >= MIN_ARTICLE_WORDS


def site_section(url: str) -> str | None:
    """The first path segment of an article URL (`/news/2022-…html` → news), if it looks like a section."""
    parts = [p for p in urlsplit(url).path.split("/") if p]
    if len(parts) >= 2 and re.fullmatch(r"[a-z][a-z0-9-]{1,30}", parts[0]):
        return parts[0]
    return None
