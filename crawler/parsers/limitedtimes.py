"""The Limited Times (and sites built like it): selectors, then one short method per field."""

from __future__ import annotations

import re

from parsel import Selector

from crawler.extract.article import site_section
from crawler.extract.blocks import Extracted, body_blocks
from crawler.extract.cascade import extract_body
from crawler.extract.page import Page
from crawler.extract.text import publisher_from
from crawler.parsers.generic import GenericParser

__all__ = ["LimitedTimesParser"]

# Each a list tried in order: the sample site's markup first, then spellings seen on sites like it.
BODY = ("div.article-body", "div.article-content", "[itemprop=articleBody]")
LEDE = ("p.article-lede", ".lede", "article header p")
CAPTION = ("figure figcaption .caption", "figure figcaption")
SOURCE = ("p.article-source", ".article-source")
# The site's own furniture, never article text: its image button, asides, archive line and disclaimer.
FURNITURE = re.compile(
    r"^(?:enlarge image|you may like|trends 24h|latest|all news articles on \d{4}-\d{2}-\d{2})$"
    r"|^the information on this site is from external sources|^the inclusion of any links does not necessarily",
    re.I,
)


class LimitedTimesParser(GenericParser):
    """The fields the site's markup gives; the rest (title, dates, authors, image) from the generic cascade."""

    def summary(self, page: Page) -> str | None:
        return _first_text(page, LEDE) or page.summary()

    def body(self, page: Page, html: str) -> Extracted:
        body = _first(page, BODY)
        extracted = body_blocks(page, body) if body is not None else None
        if extracted is None or not extracted.blocks:  # no container, or one closed early by broken markup
            extracted = extract_body(page, html)
        extracted.blocks = [block for block in extracted.blocks if not FURNITURE.search(block[2])]
        source = _first_text(page, SOURCE)
        if source and publisher_from(source):
            extracted.publisher = publisher_from(source)
        return extracted

    def sections(self, page: Page) -> list[str]:
        section = site_section(page.canonical())
        return ([section] if section else []) + page.sections()

    def image_caption(self, page: Page) -> str | None:
        return _first_text(page, CAPTION)


def _first(page: Page, selectors: tuple[str, ...]) -> Selector | None:
    for css in selectors:
        found = page.first(css)
        if found is not None:
            return found
    return None


def _first_text(page: Page, selectors: tuple[str, ...]) -> str | None:
    node = _first(page, selectors)
    text = " ".join((node.xpath("string()").get() or "").split()) if node is not None else ""
    return text or None
