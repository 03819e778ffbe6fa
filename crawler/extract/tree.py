"""The parsed page's tree: compiled XPath and CSS, an element's text, and the user's CSS-or-XPath expressions."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from lxml import etree
from lxml.html import HtmlComment, HtmlElement, HtmlEntity, HTMLParser, HtmlProcessingInstruction
from parsel import Selector, SelectorList
from parsel.csstranslator import css2xpath
from parsel.selector import create_root_node

__all__ = ["compiled_css", "compiled_xpath", "html_selector", "select", "string_of", "xp"]


class _HTMLParser(HTMLParser):
    """lxml.html's parser, each element's class chosen in C: lxml.html's own lookup is a Python call for every
    element the code touches (4% of the extraction's time), there to give form fields classes of their own that
    nothing here uses. Every element is an HtmlElement all the same (text_content() and the rest)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        lookup = etree.ElementDefaultClassLookup(element=HtmlElement, comment=HtmlComment, pi=HtmlProcessingInstruction, entity=HtmlEntity)
        self.set_element_class_lookup(lookup)


def html_selector(text: str) -> Selector:
    """An HTML document parsed as parsel's `Selector(text=text, type="html")` parses it, with _HTMLParser; a tree
    copied from it (trafilatura cleans a copy) keeps the parser, and with it the lookup."""
    return Selector(root=create_root_node(text, _HTMLParser, huge_tree=True), type="html")


@lru_cache(maxsize=256)
def compiled_xpath(expression: str) -> etree.XPath:
    """An XPath compiled once; run on lxml elements it skips parsel's Selector for every node and string."""
    return etree.XPath(_descendants(expression), smart_strings=False)


_LITERAL = re.compile(r"""('[^']*'|"[^"]*")""")
_COUNTS_POSITIONS = re.compile(r"\[\s*[\d$(]|position\(\)|last\(\)|count\(|number\(|sum\(")


def _descendants(expression: str) -> str:
    """`//p` as `/descendant::p`: the same nodes in the same order where no step counts positions (`//p[1]` is each
    parent's first), and libxml2 then visits the elements below, not every node and text twice (up to 5x faster).
    Any predicate that may be a number (a digit, a variable, a count) leaves the expression as it is."""
    if "//" not in expression or _COUNTS_POSITIONS.search(expression):
        return expression
    parts = _LITERAL.split(expression)  # odd parts are string literals (`'https://…'`): left as they are
    for index in range(0, len(parts), 2):
        if "//@" in parts[index]:  # attributes lie on no descendant axis
            return expression
        parts[index] = parts[index].replace("//", "/descendant::")
    return "".join(parts)


@lru_cache(maxsize=256)
def compiled_css(expression: str) -> etree.XPath:
    """A CSS selector as a compiled XPath."""
    return compiled_xpath(css2xpath(expression))


def xp(element: Any, expression: str) -> list:
    """The nodes (lxml elements or plain strings) an XPath selects below an element."""
    return compiled_xpath(expression)(element)


def string_of(element: Any) -> str:
    """XPath string() of an element: all its text, as parsel's `.xpath("string()").get()` gives it."""
    return compiled_xpath("string()")(element)


def select(selector: Selector, expression: str) -> SelectorList[Selector]:
    """CSS, or XPath when the expression starts with `/` (or `(` as in `(//p)[1]`)."""
    expression = expression.strip()
    if expression.startswith(("/", "(")):
        return selector.xpath(expression)
    return selector.css(expression)
