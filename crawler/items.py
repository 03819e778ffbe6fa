"""Article: the one record that flows from spider to store."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from crawler.dedup import NearSignature

__all__ = ["Article"]


@dataclass
class Article:
    url: str  # the URL the page was fetched at
    title: str
    published: datetime | None  # aware UTC
    site: str  # source name
    canonical_url: str | None = None  # <link rel=canonical>, when the page gives one
    updated: datetime | None = None  # the page's own modification time, when it gives one
    publisher: str | None = None  # the original publisher ("Source: spiegel")
    authors: list[str] = field(default_factory=list)
    topics: list[str] = field(default_factory=list)  # slugs: the site's sections and the source's topics
    language: str | None = None
    summary: str = ""
    content_html: str = ""
    content_text: str = ""
    image: str | None = None
    image_caption: str | None = None
    urls: list[str] = field(default_factory=list)  # every URL this page answered to (set by Canonicalize)
    # set by Deduplicate for Store
    story_id: str | None = field(default=None, repr=False)
    correction: bool = field(default=False, repr=False)
    fingerprint: str | None = field(default=None, repr=False)
    signature: NearSignature | None = field(default=None, repr=False)
    # (key, ETag, Last-Modified) of the page, remembered with its article for the next run's conditional request
    validators: tuple | None = field(default=None, repr=False)
