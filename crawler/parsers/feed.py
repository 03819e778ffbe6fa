"""An item of an RSS/Atom feed: its page by the generic cascade, with what the feed said where the page is silent."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from crawler.config import SourceConfig
from crawler.extract.page import Page
from crawler.items import Article
from crawler.parsers.generic import GenericParser

__all__ = ["FeedEntry", "FeedParser"]


@dataclass
class FeedEntry:
    """What the feed says of an item: evidence for the fields its page does not give."""

    title: str | None = None
    published: datetime | None = None
    authors: list[str] = field(default_factory=list)
    sections: list[str] = field(default_factory=list)


class FeedParser(GenericParser):
    """The generic cascade, then the feed's entry for the page (when the walk gives one) fills the gaps."""

    def __init__(self, source: SourceConfig, entry: FeedEntry | None = None):
        super().__init__(source)
        self.entry = entry

    def article(self, page: Page, html: str) -> Article | None:
        article = super().article(page, html)
        if article is None or self.entry is None:
            return article
        article.published = article.published or self.entry.published
        article.authors = article.authors or self.entry.authors
        article.topics = article.topics or [*self.entry.sections, *self.source.topics]
        return article

    def title(self, page: Page) -> str | None:
        return page.title() or (self.entry.title if self.entry else None)
