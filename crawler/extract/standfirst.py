"""The standfirst: the lede a page shows between its headline and its body, outside the body's own container."""

from __future__ import annotations

import logging
import re
from html import escape
from typing import Any

from lxml import etree

from crawler.extract.blocks import Extracted, is_junk
from crawler.extract.page import Page
from crawler.extract.text import fold, word_count
from crawler.extract.tree import compiled_xpath, xp
from crawler.extract.vocabulary import INLINE_TAGS, LEAD_CLASS, SKIP_ANCESTORS

__all__ = ["LEAD_CHARACTERS", "LEAD_WORDS_AT_LEAST", "with_standfirst"]

logger = logging.getLogger(__name__)

LEAD_WORDS_AT_LEAST = 8  # a label or a kicker ("Update", "Analysis") is shorter (each CJK character a word)
LEAD_CHARACTERS = 1000  # a standfirst is a paragraph or two: more is an article or a teaser list (characters: any script)
LINKED = 0.2  # share of a standfirst's characters that may be link text
NESTED_BLOCKS = 2  # paragraphs, items, headings and breaks a standfirst may hold: more is a list of teasers
_FURNITURE = tuple(tag for tag in SKIP_ANCESTORS if tag != "header") + ("a",)  # a standfirst often sits in the header
# classes read in Python: fast. `(//h1)[1]/following::… | //body[not(.//h1)]//…` written on the descendant axis, as
# tree.compiled_xpath writes an expression without positions (this one has one): the same nodes in 0.6 of the time.
_MARKED = "(/descendant::h1)[1]/following::*[@class or @id] | /descendant::body[not(descendant::h1)]/descendant::*[@class or @id]"
_TEXT = compiled_xpath(".//text()[not(parent::script or parent::style)]")  # as blocks._block_text reads a block's text
_TOO_LONG = compiled_xpath(f"string-length(normalize-space(.)) > {2 * LEAD_CHARACTERS}")  # before reading the text
_NESTED = compiled_xpath("count(.//p | .//li | .//div | .//h2 | .//h3 | .//br)")
_SHOWING = etree.XPath("/descendant::body/descendant::text()[contains(., $probe)]")  # `//body//text()…`; smart strings: each knows its parent
_CUT = re.compile(r"[\s.…]+$")  # a description cut short ends in "…" or "..."


def with_standfirst(page: Page, body: Extracted) -> Extracted:
    """The body with the page's standfirst at its head, when the page shows one that the body does not hold.

    A standfirst is the page's description (its meta description, Open Graph's or JSON-LD's) shown as the text of
    an element of the page, or else the first element after the headline that the page marks as a lead, intro,
    teaser, deck, summary, … (vocabulary.LEAD_WORDS) and that reads as a paragraph: no list of links or teasers.
    """
    if not body.blocks:
        return body
    element = _shown_description(page)
    if element is None:
        element = _marked_lead(page)
    if element is None:
        return body
    text = _text(element)
    if fold(text) in fold(body.text):
        return body
    logger.debug("%s: standfirst outside the body's container kept: %.60s", page.url, text)
    body.blocks.insert(0, ("p", escape(text, quote=False), text))
    return body


def _shown_description(page: Page) -> Any | None:
    """The element whose text is the page's description (or the description cut short, or it with a word more)."""
    description = " ".join((page.summary() or "").split())
    if word_count(description) < LEAD_WORDS_AT_LEAST:
        return None
    short, title = _CUT.sub("", description), page.title()
    for node in _SHOWING(page.selector.root, probe=description[:30]):
        element = _block_of(node.getparent())
        if element is None or element.tag == "h1" or _TOO_LONG(element) or _furniture(element):
            continue
        text = _text(element)
        if text == title:
            continue
        if text == description or (text.startswith(short) and len(text) <= 1.2 * len(description)) or (
            word_count(text) >= LEAD_WORDS_AT_LEAST and short.startswith(_CUT.sub("", text))
        ):
            return element
    return None


def _marked_lead(page: Page) -> Any | None:
    """The first element after the headline marked as a standfirst that reads as one paragraph of text."""
    marked: dict[tuple, bool] = {}  # a page repeats its classes: each class and id read once
    for element in xp(page.selector.root, _MARKED):
        if element.tag in INLINE_TAGS:
            continue
        names = (element.get("class", ""), element.get("id", ""))
        lead = marked.get(names)
        if lead is None:
            lead = marked[names] = bool(LEAD_CLASS.search(f"{names[0]} {names[1]}"))
        if not lead:
            continue
        if _TOO_LONG(element):
            continue
        text = _text(element)
        if word_count(text) < LEAD_WORDS_AT_LEAST or len(text) > LEAD_CHARACTERS or _furniture(element):
            continue
        linked = sum(len(" ".join(_text(a).split())) for a in element.iter("a"))
        if linked <= LINKED * len(text) and _NESTED(element) <= NESTED_BLOCKS and not _one_of_many(page, element):
            return element
    return None


def _one_of_many(page: Page, element: Any) -> bool:
    """One of several elements with its lead class word: the excerpt of a teaser in a list, not the page's standfirst."""
    marks = [word for word in element.get("class", "").split() if LEAD_CLASS.search(word)]
    return bool(marks) and page.classed(marks[0]) > 1


def _block_of(element: Any) -> Any | None:
    """The nearest ancestor-or-self that is no inline element (the paragraph a text of a `<b>` belongs to)."""
    while element is not None and element.tag in INLINE_TAGS:
        element = element.getparent()
    return element


def _furniture(element: Any) -> bool:
    """Inside a figure, aside, nav, footer, form, link, or a share/related/ad box: never a standfirst."""
    while element is not None and isinstance(element.tag, str):
        if element.tag in _FURNITURE or is_junk(element):
            return True
        element = element.getparent()
    return False


def _text(element: Any) -> str:
    return " ".join(" ".join(_TEXT(element)).split())
