"""The parsed page's tree: compiled XPath and CSS, an element's text, and the user's CSS-or-XPath expressions."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from lxml import etree
from parsel import Selector, SelectorList
from parsel.csstranslator import css2xpath

__all__ = ["compiled_css", "compiled_xpath", "select", "string_of", "xp"]


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
