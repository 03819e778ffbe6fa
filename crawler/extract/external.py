"""trafilatura, the third-party extractor, as blocks of the block walk."""

from __future__ import annotations

import logging

from parsel import Selector

from crawler.extract.blocks import Extracted, body_blocks
from crawler.extract.page import Page

__all__ = ["GENERIC_FAVOR", "extract_generic_body"]

logger = logging.getLogger(__name__)

GENERIC_FAVOR = "precision"  # the cascade adds the container's missed prose itself; "recall" is the fallback


def extract_generic_body(page: Page, favor: str | None = GENERIC_FAVOR) -> Extracted:
    """trafilatura's body, as blocks; `favor` is "precision", "recall" or None (its balanced default).

    trafilatura reads the page's own tree (it works on a copy of it, 3x cheaper than parsing the page again):
    the page is parsed once, not once for each. Its `bare_extraction` skips what `extract` adds to every
    result (a content fingerprint, hashed for deduplication we do not ask for); the HTML is built as `extract`
    builds it (its whitespace separates table cells and other blocks in the text).
    """
    from trafilatura import bare_extraction
    from trafilatura.htmlprocessing import build_html_output
    from trafilatura.settings import Document
    from trafilatura.utils import normalize_unicode

    try:
        document = bare_extraction(
            page.selector.root, url=page.url, output_format="html", include_comments=False, include_tables=True,
            favor_precision=favor == "precision", favor_recall=favor == "recall", include_images=False,
        )
        result = normalize_unicode(build_html_output(document)) if isinstance(document, Document) else None
    except Exception:  # trafilatura is a fallback: its failure is no article body, not a crash
        logger.debug("trafilatura failed on %s", page.url, exc_info=True)
        result = None
    if not result:
        return Extracted(blocks=[])
    selector = Selector(text=result, type="html")
    return body_blocks(page, selector.css("body")[0] if selector.css("body") else selector, junk=False)
