"""Parsers: the field-by-field form of an article, one small class per site model, apart from the spiders that walk
the sites; none of them imports Scrapy, so any process can parse a page."""

from __future__ import annotations

from crawler.config import ConfigError, SourceConfig
from crawler.parsers.base import Parser
from crawler.parsers.feed import FeedEntry, FeedParser
from crawler.parsers.generic import GenericParser
from crawler.parsers.limitedtimes import LimitedTimesParser

__all__ = ["PARSERS", "FeedEntry", "FeedParser", "GenericParser", "LimitedTimesParser", "Parser", "parser_for"]

# A source's `spider` (refeed.toml) → the parser of its pages.
PARSERS: dict[str, type[Parser]] = {"limitedtimes": LimitedTimesParser, "generic": GenericParser, "feed": FeedParser}


def parser_for(source: SourceConfig) -> Parser:
    """The parser of a source's article pages, by its `spider`."""
    try:
        return PARSERS[source.spider](source)
    except KeyError:
        raise ConfigError(f'source "{source.name}": spider "{source.spider}" is not available yet in this version') from None
