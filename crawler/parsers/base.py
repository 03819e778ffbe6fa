"""The form of an article: a parser's fields put together into one Article; no crawling, no Scrapy."""

from __future__ import annotations

import logging
from datetime import datetime
from html import escape

from crawler.config import SourceConfig
from crawler.extract.blocks import Extracted, render_blocks
from crawler.extract.page import Page
from crawler.extract.selectors import selected_fields
from crawler.items import Article

__all__ = ["Parser"]

logger = logging.getLogger(__name__)


class Parser:
    """One article page → Article, field by field. Built from plain data (the source's configuration), so that a
    parser pickles: the page pool hands it with each page to a process of its own.

    A site model is a subclass with one short method per field (`title`, `published`, `updated`, `summary`,
    `body`, `publisher`, `authors`, `sections`, `image`, `image_caption`); the source's own `[source.selectors]`
    win over them, field by field."""

    def __init__(self, source: SourceConfig):
        self.source = source

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.source.name!r})"

    def article(self, page: Page, html: str) -> Article | None:
        """The article on the page, or None (logged) when it has no title or no body."""
        selectors = self.source.selectors
        if selectors.get("remove"):
            page.remove(selectors["remove"])
            html = page.html
        chosen = selected_fields(page, selectors)  # the source's own selectors win, field by field
        title = chosen.title or self.title(page)
        extracted = chosen.body or self.body(page, html)
        lede = self.summary(page)
        if not title or not extracted.blocks:
            logger.info("skipped %s: no %s found", page.url, "title" if not title else "article body")
            return None
        blocks = extracted.blocks
        if lede and lede not in extracted.text and page.shows(lede):
            blocks = [("p", escape(lede, quote=False), lede), *blocks]
        html_body, text_body = render_blocks(blocks)
        return Article(
            url=page.url,
            canonical_url=page.canonical(),
            title=title,
            published=chosen.published or self.published(page),
            updated=self.updated(page),
            site=self.source.name,
            publisher=self.publisher(page, extracted),
            authors=chosen.authors or self.authors(page, extracted),
            topics=[*(chosen.sections or self.sections(page)), *self.source.topics],
            language=page.language(text_body),
            summary=lede or blocks[0][2],
            content_html=html_body,
            content_text=text_body,
            image=chosen.image or self.image(page),
            image_caption=self.image_caption(page),
        )

    # -- the fields: a site model says how each is found

    def title(self, page: Page) -> str | None:
        raise NotImplementedError

    def published(self, page: Page) -> datetime | None:
        raise NotImplementedError

    def updated(self, page: Page) -> datetime | None:
        raise NotImplementedError

    def summary(self, page: Page) -> str | None:
        raise NotImplementedError

    def body(self, page: Page, html: str) -> Extracted:
        raise NotImplementedError

    def publisher(self, page: Page, extracted: Extracted) -> str | None:
        raise NotImplementedError

    def authors(self, page: Page, extracted: Extracted) -> list[str]:
        raise NotImplementedError

    def sections(self, page: Page) -> list[str]:
        raise NotImplementedError

    def image(self, page: Page) -> str | None:
        raise NotImplementedError

    def image_caption(self, page: Page) -> str | None:
        raise NotImplementedError
