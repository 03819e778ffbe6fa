"""Scrapy's log lines, shorter: a dropped item is one DEBUG line with the reason, never the whole item."""

from __future__ import annotations

import logging

from scrapy import logformatter

__all__ = ["LogFormatter"]


class LogFormatter(logformatter.LogFormatter):
    def dropped(self, item, exception, response, spider):
        return {
            "level": logging.DEBUG,
            "msg": "dropped %(url)s: %(reason)s",
            "args": {"url": getattr(item, "url", "?"), "reason": exception},
        }
