"""The page's own article container: schema.org articleBody, else the densest paragraphs; the densest text as a fallback."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from html import escape
from typing import Any

from parsel import Selector

from crawler.extract.blocks import Extracted, body_blocks, is_junk
from crawler.extract.page import Page
from crawler.extract.text import MIN_ARTICLE_WORDS, is_boilerplate, word_count
from crawler.extract.tree import xp
from crawler.extract.vocabulary import INLINE_TAGS, SKIP_ANCESTORS

__all__ = ["densest_container", "densest_holder", "densest_text", "markup_body"]


def markup_body(page: Page) -> Extracted:
    """The page's own article container: schema.org articleBody, else the element holding most paragraph text."""
    for xpath in ("//*[@itemprop='articleBody']",):
        nodes = xp(page.selector.root, xpath) if page.mentions("articleBody") else []
        if len(nodes) == 1:
            extracted = body_blocks(page, Selector(root=nodes[0], type="html"), loose=True)
            if word_count(extracted.text) >= MIN_ARTICLE_WORDS:
                return extracted
    container = densest_container(page.selector)
    if container is not None:
        return body_blocks(page, container, loose=True)
    holder = densest_holder(page)  # no paragraphs: the text sits in divs and breaks, the densest holder of it holds the body
    return body_blocks(page, Selector(root=holder, type="html"), loose=True, classed=True) if holder is not None else Extracted(blocks=[])


def densest_container(selector: Selector) -> Selector | None:
    """The element whose own paragraphs (and those of wrappers one level down) carry the most text."""
    scores: Counter = Counter()
    boxed: dict[Any, bool] = {}  # parent → whether it is furniture: a page's paragraphs share a few parents
    for element in xp(selector.root, "//body//p"):
        parent = element.getparent()
        if parent is None:
            continue
        if parent not in boxed:
            boxed[parent] = parent.tag in SKIP_ANCESTORS or is_junk(parent)
        if boxed[parent]:
            continue
        length = word_count(" ".join(xp(element, ".//text()")))
        if length < 5:
            continue
        scores[parent] += length
        grand = parent.getparent()
        if grand is not None and grand.tag != "body":
            scores[grand] += length // 2
    if not scores:
        return None
    best = _widen(max(scores, key=lambda e: scores[e]))
    return Selector(root=best, type="html")


def _widen(best: Any) -> Any:
    """An article split into chunks (ads between them) is the nearest ancestor holding all its like-classed chunks."""
    mark = best.get("class")
    if not mark:
        return best
    ancestor = best.getparent()
    for _ in range(3):
        if ancestor is None or ancestor.tag in ("body", "html"):
            break
        chunks = [e for e in ancestor.iter(best.tag) if e.get("class") == mark and e.find(".//p") is not None]
        if len(chunks) > 1:
            return ancestor
        ancestor = ancestor.getparent()
    return best


def densest_text(page: Page) -> Extracted:
    """The element holding the most text of its own (and of its inline children), one paragraph a line: the body of
    pages that put their text in `<div>`s and `<br>`s rather than in paragraphs."""
    holder = densest_holder(page)
    if holder is None:
        return Extracted(blocks=[])
    lines = ("".join(_lines(holder)).split("\n"))
    texts = [" ".join(line.split()) for line in lines]
    return Extracted(blocks=[("p", escape(t, quote=False), t) for t in texts if t and not is_boilerplate(t)])


def densest_holder(page: Page) -> Any | None:
    """The element holding the most text of its own (and of its inline children, and half its blocks'), outside
    furniture."""
    scores: Counter = Counter()
    for element in xp(page.selector.root, "//body//*"):
        for text, holder in ((element.text, element), (element.tail, element.getparent())):
            if text and text.strip() and holder is not None:
                while holder.tag in INLINE_TAGS and holder.getparent() is not None:
                    holder = holder.getparent()
                scores[holder] += len(text.strip())  # characters: the same measure in every script
                if holder.getparent() is not None:
                    scores[holder.getparent()] += len(text.strip()) // 2  # a wrapper of several blocks of text
    for holder in sorted(scores, key=lambda e: scores[e], reverse=True):
        if isinstance(holder.tag, str) and holder.tag not in ("body", "html") and not _furniture(holder):
            return holder
    return None


def _furniture(element: Any) -> bool:
    """Inside (or itself) a figure, aside, nav, header, footer, form, or a share/related/ad box."""
    while element is not None:
        if element.tag in SKIP_ANCESTORS or is_junk(element):
            return True
        element = element.getparent()
    return False


def _lines(element: Any) -> Iterator[str]:
    """The text of an element, a line break at every `<br>` and block element; scripts and styles left out."""
    if not isinstance(element.tag, str) or element.tag in ("script", "style", "noscript", "template"):
        yield element.tail or ""
        return
    block = element.tag not in INLINE_TAGS
    yield "\n" if block or element.tag == "br" else ""
    yield element.text or ""
    for child in element:
        yield from _lines(child)
    yield "\n" if block else ""
    yield element.tail or ""
