"""The `extract` command's path without a crawl: a source's parser on a page, then the pipeline's stages
that need no store (Clean → Sanitize → Canonicalize, as the page pool runs them), in the crawl's order."""

from __future__ import annotations

from crawler import settings as crawl_settings
from crawler.cleaning import NotAnArticle, stages
from crawler.extract.page import Page
from crawler.items import Article
from crawler.parsers import Parser

__all__ = ["ROW_KEYS", "STAGES", "article_from_page", "row", "through_stages"]

STAGES = stages(crawl_settings.REFEED_MAX_ARTICLE_CHARS)
ROW_KEYS = ("url", "title", "summary", "content_html", "content_text", "image", "image_caption", "publisher", "authors",
            "topics", "published", "updated", "language")


def through_stages(article: Article | None) -> Article | None:
    """The article as the real stages leave it, or None where there is none or a stage drops it."""
    if article is None:
        return None
    try:
        for stage in STAGES:
            article = stage.process_item(article)
    except NotAnArticle:
        return None
    return article


def article_from_page(parser: Parser, html: str, url: str) -> Article | None:
    """What `parser` extracts from `html` at `url`, through the stages."""
    return through_stages(parser.article(Page.from_text(html, url), html))


def row(article: Article, entry_id: str | None = None) -> dict:
    """The row a feed build takes for the article; its id is the URL unless given."""
    return {**{key: getattr(article, key) for key in ROW_KEYS}, "id": article.url if entry_id is None else entry_id}
