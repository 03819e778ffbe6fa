"""OPML 2.0 subscription list of every feed."""

from __future__ import annotations

import logging
from datetime import datetime
from email.utils import format_datetime

from lxml import etree

__all__ = ["render_opml"]

logger = logging.getLogger(__name__)


def render_opml(
    outlines: list[tuple[str, str]],
    *,
    title: str,
    html_url: str,
    modified: datetime | None,
) -> bytes:
    """Render (feed title, feed URL) pairs as an OPML 2.0 document; dates from ``modified``."""
    root = etree.Element("opml", version="2.0")
    head = etree.SubElement(root, "head")
    etree.SubElement(head, "title").text = title
    if modified is not None:
        stamp = format_datetime(modified, usegmt=True)
        etree.SubElement(head, "dateCreated").text = stamp
        etree.SubElement(head, "dateModified").text = stamp
    etree.SubElement(head, "docs").text = "http://opml.org/spec2.opml"
    body = etree.SubElement(root, "body")
    for text, xml_url in outlines:
        etree.SubElement(
            body, "outline", type="rss", text=text, title=text, xmlUrl=xml_url, htmlUrl=html_url
        )
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
