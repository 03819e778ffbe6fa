"""trafilatura, the third-party extractor, as blocks of the block walk."""

from __future__ import annotations

import logging
import re
from copy import copy

from crawler.extract.blocks import Extracted, body_blocks
from crawler.extract.page import Page
from crawler.extract.tree import html_selector, xp

__all__ = ["COMPARED_BELOW", "GENERIC_FAVOR", "extract_generic_body"]

logger = logging.getLogger(__name__)

GENERIC_FAVOR = "precision"  # the cascade adds the container's missed prose itself; "recall" is the fallback
COMPARED_BELOW = 1000  # characters: a precision-mode body shorter than this is checked against readability and justext
WIDER = 1.5  # …and so is one when the page's own container holds this many times its text
RAW_PRUNE_MARKS = ("mvp", "infinite", "elementor")  # what trafilatura's raw-tree prune looks for in a class or id
COMMENT_ID = "^(?:{}|disqus_thread|dsq-comments)"  # the ids its comment prunes look for, around its _COMMENTS_ID


def extract_generic_body(page: Page, favor: str | None = GENERIC_FAVOR, own_chars: int = 0) -> Extracted:
    """trafilatura's body, as blocks; `favor` is "precision", "recall" or None (its balanced default).

    trafilatura reads the page's own tree (it works on a copy of it, 3x cheaper than parsing the page again):
    the page is parsed once, not once for each. Its `bare_extraction` skips what `extract` adds to every
    result (a content fingerprint, hashed for deduplication we do not ask for); the HTML is built as `extract`
    builds it (its whitespace separates table cells and other blocks in the text). In precision mode its steps
    are taken here (`precision_body`), to leave out a comparison whose result is known.
    """
    from trafilatura import bare_extraction
    from trafilatura.htmlprocessing import build_html_output
    from trafilatura.settings import Document
    from trafilatura.utils import normalize_unicode

    try:
        if favor == "precision":
            document = precision_body(page, own_chars)
        else:
            document = bare_extraction(
                page.selector.root, url=page.url, output_format="html", include_comments=False, include_tables=True,
                favor_precision=False, favor_recall=favor == "recall", include_images=False,
            )
        result = normalize_unicode(build_html_output(document)) if isinstance(document, Document) else None
    except Exception:  # trafilatura is a fallback: its failure is no article body, not a crash
        logger.debug("trafilatura failed on %s", page.url, exc_info=True)
        result = None
    if not result:
        return Extracted(blocks=[])
    selector = html_selector(result)
    return body_blocks(page, selector.css("body")[0] if selector.css("body") else selector, junk=False)


def precision_body(page: Page, own_chars: int = 0, compare: bool | None = None):
    """trafilatura's `bare_extraction` in precision mode (comments, images and metadata off), step by step as its
    `trafilatura_sequence` takes them, but for its comparison with readability and justext: that costs a third of
    the time and changes the result on 6% of pages, nearly all of them with a short or table-only result or one
    the page's own container (`own_chars` long) shows to be narrow; only those (or all, `compare=True`) pay it.
    A trafilatura Document, or None where bare_extraction gives none."""
    from trafilatura.core import _forum_thread_page, compare_extraction, extract_content
    from trafilatura.htmlprocessing import convert_tags, prune_unwanted_nodes, tree_cleaning
    from trafilatura.settings import Document, Extractor
    from trafilatura.xpaths import REMOVE_COMMENTS_XPATH

    options = Extractor(output_format="html", precision=True, comments=False, tables=True, images=False, url=page.url)
    root = page.selector.root  # only read: what changes a tree gets a copy of its own, and the cleaning takes the pruned one
    try:
        comments = _comment_boxes(page)  # else its comment prunes, on the raw tree and the cleaned one, find nothing
        forum = comments and _forum_thread_page(root)  # a forum's posts are no comments: read from the raw tree, and only then
        tree = _pruned(page, comments)
        cleaned = convert_tags(tree_cleaning(copy(root) if tree is root else tree, options), options, page.url)  # as its _prepare_tree…
        if comments and not forum:
            cleaned = prune_unwanted_nodes(cleaned, REMOVE_COMMENTS_XPATH)
        body, text = extract_content(cleaned, options)
        if compare or compare is None and _compared(body, text, own_chars):  # …whose backup, cleaned, only this reads
            tree = _pruned(page, comments)  # the cleaning took the pruned copy: pruned again, a copy readability may keep
            body, text = compare_extraction(tree_cleaning(copy(tree), options), copy(tree) if tree is root else tree, body, text, options)
    except (TypeError, ValueError):  # as bare_extraction: an extraction problem is no result
        logger.debug("trafilatura found no body on %s", page.url, exc_info=True)
        return None
    if len(text) < options.min_output_size:
        return None
    document = Document()
    document.body, document.raw_text = body, text
    return document


def _pruned(page: Page, comments: bool):
    """The page's tree as trafilatura's sequence prunes it before cleaning: a copy without the boxes of its raw-tree
    prune and, comments off, without comment boxes and lists; the page's own tree itself when neither is on it."""
    from trafilatura.htmlprocessing import prune_unwanted_nodes
    from trafilatura.xpaths import RAW_TREE_PRUNE_XPATH, REMOVE_COMMENTS_AND_LISTS_XPATH

    root = tree = page.selector.root
    if page.mentions(*RAW_PRUNE_MARKS):  # else none of its boxes is on the page, and its XPaths walk the tree for nothing
        tree = prune_unwanted_nodes(copy(root), RAW_TREE_PRUNE_XPATH)
    if comments:
        tree = prune_unwanted_nodes(copy(root) if tree is root else tree, REMOVE_COMMENTS_AND_LISTS_XPATH)
    return tree


def _comment_boxes(page: Page) -> bool:
    """Whether an id or class of the page is one trafilatura's comment prunes look for (their XPaths test each div,
    section and list of the tree with a regular expression, in Python; here each id and class is tested once)."""
    from trafilatura.xpaths import _COMMENTS_CLASS, _COMMENTS_ID

    if not page.mentions("omment", "comol", "disqus", "dsq"):
        return False
    ids, classes = re.compile(COMMENT_ID.format(_COMMENTS_ID)), re.compile(_COMMENTS_CLASS)
    root = page.selector.root
    return any(ids.search(value) for value in xp(root, "//@id")) or any(classes.search(value) for value in xp(root, "//@class"))


def _compared(body, text: str, own_chars: int) -> bool:
    """Whether trafilatura's comparison may change its own result: one that is short, narrower than the page's own
    container, without paragraphs or mostly tables, or that holds the elements (figures, asides, …) that make it
    call justext (trafilatura.external.compare_extraction)."""
    from trafilatura.external import SANITIZED_XPATH

    if len(text) < COMPARED_BELOW or own_chars > WIDER * len(text):
        return True
    if not body.xpath(".//p//text()") or len(body.findall(".//table")) > len(body.findall(".//p")):
        return True
    return bool(body.xpath(SANITIZED_XPATH))
