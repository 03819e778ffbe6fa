"""`extract`: run a spider's article form (the generic cascade, or `--source`'s spider and selectors) on URLs or files, storing nothing."""

from __future__ import annotations

import logging
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from crawler.config import SourceConfig
from crawler.extract import Page, decode_html
from crawler.pipelines import CanonicalizePipeline, CleanPipeline, SanitizePipeline
from crawler.settings import USER_AGENT
from crawler.store import EXPORT_KEYS

__all__ = ["extract_targets", "article_dict"]

logger = logging.getLogger(__name__)
STAGES = (CleanPipeline(), SanitizePipeline(), CanonicalizePipeline())


def extract_targets(targets: list[str], source: SourceConfig | None = None) -> Iterator[dict | Exception]:
    """One export-shaped dict per target, in order; an Exception saying why for a target that is no article."""
    from crawler.run import spider_class

    source = source or SourceConfig(name="extract", spider="generic", start_urls=("http://localhost/",))
    spider = spider_class(source)(source=source)
    for target in targets:
        try:
            url, html = _load(target)
            article = spider.article(Page.from_text(html, url), html)
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


def _load(target: str) -> tuple[str, str]:
    if target.startswith(("http://", "https://")):
        request = urllib.request.Request(target, headers={"User-Agent": USER_AGENT})
        with urllib.request.urlopen(request, timeout=30) as response:
            body = response.read(5 * 1024 * 1024)
            content_type = response.headers.get("Content-Type")
            url = response.geturl()
    else:
        path = Path(target)
        body = path.read_bytes()
        content_type = None
        url = path.resolve().as_uri()
    return url, decode_html(body, content_type)
