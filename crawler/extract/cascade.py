"""The extraction cascade every spider shares: the page's own container and trafilatura combined, then fallbacks."""

from __future__ import annotations

import logging

from crawler.extract.blocks import Extracted
from crawler.extract.external import extract_generic_body
from crawler.extract.markup import densest_text, markup_body
from crawler.extract.merge import combine
from crawler.extract.page import Page
from crawler.extract.standfirst import with_standfirst
from crawler.extract.text import word_count

__all__ = ["PLAUSIBLE", "SHORT", "extract_body"]

logger = logging.getLogger(__name__)

SHORT = 200  # fewer words than this from trafilatura in precision mode: ask its balanced mode too
PLAUSIBLE = 30  # fewer words than this from the cascade (a caption, a line or two) is no body yet: try the fallbacks


def extract_body(page: Page, html: str | None = None) -> Extracted:
    """Markup and trafilatura combined: the page's own container when trafilatura agrees it holds the article.

    Never nothing when the page has a body: a result that is empty or a line or two is replaced by trafilatura's
    in its recall mode, else by the densest block of text, whichever first holds clearly more.
    """
    own = markup_body(page)
    generic = extract_generic_body(page, own_chars=len(own.text))
    kept = word_count(generic.text)
    if kept < SHORT:  # little in precision mode: a narrow container, a list or table it cut; its balanced mode looks wider
        balanced = extract_generic_body(page, favor=None)
        if word_count(balanced.text) > kept:
            logger.debug("%s: trafilatura kept %d words in precision mode, %d in its balanced mode: taking those", page.url, kept, word_count(balanced.text))
            generic = balanced
    result = with_standfirst(page, combine(own, generic))
    found = word_count(result.text)
    if found >= PLAUSIBLE:
        return result
    for name, fallback in (("trafilatura's recall mode", lambda: extract_generic_body(page, favor="recall")),
                           ("the densest text block", lambda: densest_text(page))):
        candidate = fallback()
        if word_count(candidate.text) >= max(2 * found, 1):
            logger.debug("%s: the cascade found %d words, %s %d: taking those", page.url, found, name, word_count(candidate.text))
            candidate.publisher, candidate.credit = result.publisher or candidate.publisher, result.credit or candidate.credit
            return candidate
    return result
