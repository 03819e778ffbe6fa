"""A source's own selectors (`[source.selectors]` in refeed.toml): the fields they give, where they find any."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from html import escape

from parsel import Selector

from crawler.extract.blocks import Extracted, body_blocks
from crawler.extract.dates import parse_datetime
from crawler.extract.page import Page
from crawler.extract.text import clean_text, split_authors
from crawler.extract.tree import select

__all__ = ["Selected", "selected_fields"]


def _value(node: Selector) -> str | None:
    """A selected node's value: the string itself, else its first date/content/src/href attribute, else its text."""
    if isinstance(node.root, str):
        return clean_text(node.root)
    for attr in ("datetime", "content", "src", "data-src", "href"):
        value = node.root.get(attr) if hasattr(node.root, "get") else None
        if value and value.strip():
            return value.strip()
    return clean_text(node.xpath("string()").get())


@dataclass
class Selected:
    """Fields a source's `[source.selectors]` gives; None (or empty) where it gives nothing or finds nothing."""

    title: str | None = None
    body: Extracted | None = None
    published: datetime | None = None
    authors: list[str] = field(default_factory=list)
    sections: list[str] = field(default_factory=list)
    image: str | None = None


def selected_fields(page: Page, selectors: dict) -> Selected:
    """Apply the user's selectors (after `remove`, which the caller already applied to the page)."""
    out = Selected()
    if not selectors:
        return out
    if selectors.get("title"):
        nodes = select(page.selector, selectors["title"])
        out.title = clean_text(nodes[0].xpath("string()").get() if nodes and not isinstance(nodes[0].root, str) else nodes[0].root) if nodes else None
    if selectors.get("body"):
        containers = [n for n in select(page.selector, selectors["body"]) if not isinstance(n.root, str)]
        if containers:
            out.body = _body(page, containers)
    if selectors.get("published"):
        for node in select(page.selector, selectors["published"]):
            out.published = parse_datetime(_value(node))
            if out.published:
                break
    if selectors.get("authors"):
        for node in select(page.selector, selectors["authors"]):
            out.authors += split_authors(_value(node) if isinstance(node.root, str) else node.xpath("string()").get())
        out.authors = list(dict.fromkeys(out.authors))
    if selectors.get("section"):
        out.sections = [t for t in (_value(n) if isinstance(n.root, str) else clean_text(n.xpath("string()").get()) for n in select(page.selector, selectors["section"])) if t]
    if selectors.get("image"):
        for node in select(page.selector, selectors["image"]):
            out.image = page.absolute(_value(node))
            if out.image:
                break
    return out


def _body(page: Page, nodes: list[Selector]) -> Extracted:
    """The blocks of every element the body selector finds, in order; a bare text container is one paragraph."""
    body = Extracted(blocks=[])
    for node in nodes:
        part = body_blocks(page, node, junk=False)
        text = clean_text(node.xpath("string()").get())
        if not part.blocks and text:  # a bare text container is one paragraph
            part.blocks = [("p", escape(text, quote=False), text)]
        body.blocks += part.blocks
        body.publisher = body.publisher or part.publisher
        body.credit = body.credit or part.credit
    return body
