"""Scrapy's log lines, shorter: a stored or dropped item is one DEBUG line with its URL (and the reason), never the whole item."""

from __future__ import annotations

import logging

from scrapy import logformatter

__all__ = ["LogFormatter"]


class LogFormatter(logformatter.LogFormatter):
    def scraped(self, item, response, spider):
        return {
            "level": logging.DEBUG,
            "msg": "stored %(url)s as %(story)s",
            "args": {"url": getattr(item, "url", "?"), "story": getattr(item, "story_id", "?")},
        }

    def dropped(self, item, exception, response, spider):
        return {
            "level": logging.DEBUG,
            "msg": "dropped %(url)s: %(reason)s",
            "args": {"url": getattr(item, "url", "?"), "reason": exception},
        }
