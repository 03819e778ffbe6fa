"""AutoThrottle that lets a 304 speed the crawl up: it is the normal answer of an unchanged page, not an error."""

from __future__ import annotations

from scrapy.extensions import throttle

__all__ = ["AutoThrottle"]


class AutoThrottle(throttle.AutoThrottle):
    def _adjust_delay(self, slot, latency: float, response) -> None:
        if response.status == 304:
            response = response.replace(status=200)
        super()._adjust_delay(slot, latency, response)
