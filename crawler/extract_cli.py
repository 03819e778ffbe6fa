"""`extract`: run a source's parser (the generic cascade, or `--source`'s parser and selectors) on URLs or files, storing nothing."""

from __future__ import annotations

import logging
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from crawler.cleaning import MAX_ARTICLE_CHARS, stages
from crawler.config import CrawlConfig, SourceConfig
from crawler.extract.encoding import decode_html
from crawler.extract.page import Page
from crawler.parsers import parser_for
from crawler.settings import USER_AGENT
from crawler.store import EXPORT_KEYS
from crawler.urlpolicy import UrlPolicy

__all__ = ["extract_targets", "article_dict"]

logger = logging.getLogger(__name__)
STAGES = stages(MAX_ARTICLE_CHARS)  # as the page pool runs them


def extract_targets(targets: list[str], source: SourceConfig | None = None, timeout: float = CrawlConfig.download_timeout) -> Iterator[dict | Exception]:
    """One export-shaped dict per target, in order; an Exception saying why for a target that is no article.

    A URL's download, redirects and all, gets `timeout` seconds in all (crawl.download_timeout)."""
    source = source or SourceConfig(name="extract", spider="generic", start_urls=("http://localhost/",))
    parser = parser_for(source)
    for target in targets:
        try:
            url, html = _load(target, timeout)
            article = parser.article(Page.from_text(html, url), html)
            if article is None:
                raise ValueError("no article found")
            for stage in STAGES:
                article = stage.process_item(article)
            yield article_dict(article)
        except Exception as exc:  # one bad target never stops the others
            yield RuntimeError(f"{target}: {exc}")


def article_dict(article) -> dict:
    data = {key: getattr(article, key, None) for key in EXPORT_KEYS}
    data.update(id=None, urls=None, site=None)
    return data


def _load(target: str, timeout: float) -> tuple[str, str]:
    if target.startswith(("http://", "https://")):
        url, body, content_type = _download(target, timeout)
    else:
        path = Path(target)
        body = path.read_bytes()
        content_type = None
        url = path.resolve().as_uri()
    return url, decode_html(body, content_type)


def _download(url: str, timeout: float) -> tuple[str, bytes, str | None]:
    """(final URL, body, Content-Type) within `timeout` seconds in all, or TimeoutError.

    A socket timeout bounds each read, not the download: a server that sends a byte a second would hold it
    for ever. The download runs on a daemon thread that is abandoned at the deadline (the command then moves
    on, and its exit ends the thread), which also bounds name resolution, where no socket timeout applies."""
    done: dict = {}

    def fetch():
        try:
            done["result"] = _fetch(url, timeout)
        except BaseException as exc:  # handed to the caller's thread
            done["error"] = exc

    thread = threading.Thread(target=fetch, name=f"extract {url[:80]}", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise TimeoutError(f"the download took longer than {timeout:g} s (crawl.download_timeout)")
    if "error" in done:
        raise done["error"]
    return done["result"]


def _fetch(url: str, timeout: float) -> tuple[str, bytes, str | None]:
    opener = urllib.request.build_opener(_SameSiteRedirects())
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    with opener.open(request, timeout=timeout) as response:
        return response.geturl(), response.read(5 * 1024 * 1024), response.headers.get("Content-Type")


class _SameSiteRedirects(urllib.request.HTTPRedirectHandler):
    """Redirects followed as the crawl follows them (crawler/urlpolicy.py): http(s), on the same host and port."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        reason = UrlPolicy([req.full_url]).refusal(newurl)
        if reason is not None:
            raise urllib.error.HTTPError(req.full_url, code, f"redirect to {newurl} not followed: {reason}", headers, fp)
        return super().redirect_request(req, fp, code, msg, headers, newurl)
