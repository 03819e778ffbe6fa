"""The generic cascade: every field from what any article page gives (structured data → markup → trafilatura)."""

from __future__ import annotations

from datetime import datetime

from crawler.extract.blocks import Extracted
from crawler.extract.cascade import extract_body
from crawler.extract.page import Page
from crawler.parsers.base import Parser

__all__ = ["GenericParser"]


class GenericParser(Parser):
    """The parser of a configured site (`spider = "generic"`) and the fields a site model does not override."""

    def title(self, page: Page) -> str | None:
        return page.title()

    def published(self, page: Page) -> datetime | None:
        return page.published()

    def updated(self, page: Page) -> datetime | None:
        return page.modified()

    def summary(self, page: Page) -> str | None:
        return page.summary()

    def body(self, page: Page, html: str) -> Extracted:
        return extract_body(page, html)

    def publisher(self, page: Page, extracted: Extracted) -> str | None:
        return extracted.publisher or page.publisher_line()

    def authors(self, page: Page, extracted: Extracted) -> list[str]:
        return page.authors() or extracted.credit

    def sections(self, page: Page) -> list[str]:
        return page.sections()

    def image(self, page: Page) -> str | None:
        return page.image()

    def image_caption(self, page: Page) -> str | None:
        return page.image_caption()
