"""WebSub: tell the hub which feeds changed (hub.mode=publish), never failing a build."""

from __future__ import annotations

import logging
import urllib.error
import urllib.request
from collections.abc import Iterable
from urllib.parse import urlencode

__all__ = ["PING_TIMEOUT", "ping_hub"]

logger = logging.getLogger(__name__)

PING_TIMEOUT = 10.0  # seconds per ping
USER_AGENT = "refeed/1.0 (WebSub publisher)"


def ping_hub(hub: str, feed_urls: Iterable[str], timeout: float = PING_TIMEOUT) -> list[str]:
    """POST ``hub.mode=publish&hub.url=<feed>`` to ``hub`` once per feed; the URLs the hub accepted (2xx).

    A hub that is down, slow or answers an error is logged and skipped: feeds are already written.
    """
    accepted = []
    for url in dict.fromkeys(feed_urls):
        body = urlencode({"hub.mode": "publish", "hub.url": url}).encode("ascii")
        request = urllib.request.Request(
            hub,
            data=body,
            method="POST",
            headers={"Content-Type": "application/x-www-form-urlencoded", "User-Agent": USER_AGENT},
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                response.read(65536)
                status = response.status
        except urllib.error.HTTPError as exc:
            exc.close()
            logger.warning("WebSub hub %s refused the ping for %s: HTTP %d", hub, url, exc.code)
            continue
        except (OSError, ValueError) as exc:
            logger.warning("WebSub hub %s not reached (%s): no pings sent this time", hub, exc)
            break  # a hub that is down or slow would only stall the build once per feed
        if 200 <= status < 300:
            accepted.append(url)
            logger.debug("WebSub hub %s pinged for %s (HTTP %d)", hub, url, status)
        else:
            logger.warning("WebSub hub %s answered HTTP %d to the ping for %s", hub, status, url)
    if accepted:
        logger.info("WebSub: hub %s pinged for %d changed feeds", hub, len(accepted))
    return accepted
