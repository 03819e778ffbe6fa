"""The block walk: an article container's paragraphs, headings, lists and tables, kept or set aside one by one."""

from __future__ import annotations

import copy
import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from html import escape
from typing import Any
from urllib.parse import urljoin

from lxml import etree
from parsel import Selector

from crawler.extract.dates import parse_datetime
from crawler.extract.page import Page
from crawler.extract.text import credit_authors, fold, is_boilerplate, publisher_from, word_count
from crawler.extract.tree import select, string_of, xp
from crawler.extract.vocabulary import (
    BLOCK_TAGS,
    BLOCKS_XPATH,
    HEADINGS,
    INLINE_TAGS,
    JUNK_CLASS,
    LEAD_IN,
    PROMOTION,
    SKIP_ANCESTORS,
    TAG_MARKS,
)

__all__ = ["PROMOTION_WORDS", "Extracted", "body_blocks", "is_junk", "render_blocks"]

PROMOTION_WORDS = 60  # a closing line that asks for something is this short at most


@dataclass
class Extracted:
    """The body of an article: kept blocks as (tag, inner_html, text)."""

    blocks: list[tuple[str, str, str]]
    publisher: str | None = None
    credit: list[str] = field(default_factory=list)
    link_lists: set[str] = field(default_factory=set)  # paragraphs set aside as links, not text (`fold` of each)
    furniture: set[str] = field(default_factory=set)  # blocks set aside in a share/newsletter/related box or a figure (`fold`)

    @property
    def text(self) -> str:
        return "\n".join(text for _, _, text in self.blocks)


def body_blocks(
    page: Page, body: Selector, remove: Iterable[str] = (), junk: bool = True, loose: bool = False, classed: bool = False
) -> Extracted:
    """Walk a body element's blocks; keep article text, set aside the credit and Source: lines.

    `loose`: the text the body or a bare `<div>` holds outside any block (`<div>A paragraph<br>and more</div>`) is a
    paragraph too; `classed`: that of a `<div>` with a class or id too (a body with no paragraphs at all)."""
    result = Extracted(blocks=[])
    for css in remove:
        for node in select(body, css):
            if not isinstance(node.root, str):
                node.drop()
    page.body_text()  # read before the walk writes breaks and absolute links into the tree: languages are detected in it
    enclosing: dict[Any, bool] = {}  # element → whether it or an ancestor below the body is a block, a box or junk
    nodes = xp(body.root, BLOCKS_XPATH)
    if loose:
        nodes = _with_loose_text(body.root, nodes, junk, classed, enclosing)
    for node in nodes:
        if _nested(node, body.root, junk, enclosing):
            if junk and _in_furniture(node, body.root):
                result.furniture.add(fold(_block_text(node)))
            continue
        tag = node.tag
        text = _block_text(node)
        if not text:
            continue
        publisher = publisher_from(text)
        if publisher:
            result.publisher = publisher
            continue
        credit = credit_authors(text)
        if credit:
            result.credit = credit
            continue
        if is_boilerplate(text) or _only_a_date(text, page):
            continue
        if _links_not_text(node, tag, text):
            result.link_lists.add(fold(text))
            continue
        result.blocks.append((tag, _inner_html(node, page), text))
    while result.blocks and (_promotion(result.blocks[-1][2]) or result.blocks[-1][0] in HEADINGS):
        result.blocks.pop()  # "Follow us on …", "Sign up for our newsletter …", a heading over nothing ("Related")
    return result


def _with_loose_text(root: Any, blocks: list[Any], junk: bool, classed: bool = False, enclosing: dict[Any, bool] | None = None) -> list[Any]:
    """The blocks and, in document order among them, a paragraph for each run of text the body itself or a bare
    `<div>` (no class, no id: a div used as a paragraph, not a box) holds outside its blocks: its own text and its
    inline children's, up to its next child that is a block or a div."""
    divs = [div for div in xp(root, ".//div" if classed else ".//div[not(@class or @id)]") if not _nested(div, root, junk, enclosing)]
    runs = [run for div in ([root] if root.tag not in BLOCK_TAGS else []) + divs for run in _loose_runs(div)]
    if not runs:
        return blocks
    order = {element: index for index, element in enumerate(root.iter())}
    placed = [(float(order[block]), block) for block in blocks]
    for after, paragraph in runs:  # right after the element before it and all that element holds
        placed.append((order[after] + (0 if after is root else sum(1 for _ in after.iter()) - 1) + 0.5, paragraph))
    return [node for _, node in sorted(placed, key=lambda pair: pair[0])]


def _loose_runs(div: Any) -> list[tuple[Any, Any]]:
    """(the element a run of text follows, a detached `<p>` holding the run) for each run of the div's own text."""
    runs = []
    after, parts = div, [div.text or ""]
    for child in [*div, None]:
        if child is after:  # the second `<br>` of a paragraph break, already taken
            continue
        if child is not None and _inline(child) and not _paragraph_break(child):
            parts.append(child)
            continue
        if any(part.strip() if isinstance(part, str) else (part.tail or "").strip() or string_of(part).strip() for part in parts):
            paragraph = etree.Element("p")
            paragraph.text = _NOT_XML.sub("", parts[0])  # the HTML parser lets control characters through; lxml refuses them
            paragraph.extend(copy.deepcopy(part) for part in parts[1:])  # each with its tail
            runs.append((after, paragraph))
        if child is not None:
            after = child.getnext() if _paragraph_break(child) else child
            parts = [after.tail or ""]
    return runs


def _paragraph_break(element: Any) -> bool:
    """The first of two `<br>`s in a row (nothing but spaces between): where a paragraph written in breaks ends."""
    following = element.getnext()
    return element.tag == "br" and not (element.tail or "").strip() and following is not None and following.tag == "br"


def _inline(element: Any) -> bool:
    """A comment, or an inline element with no block or div inside it."""
    return not isinstance(element.tag, str) or element.tag in INLINE_TAGS and next(element.iter(*BLOCK_TAGS, "div"), None) is None


def _links_not_text(node, tag: str, text: str) -> bool:
    """A lead-in and a link ("Related: <a>…</a>"), or two or more links with nothing between them but separators
    and tags ("<a>A</a> [VIDEO] | <a>B</a>"); a sentence with links in it ("<a>A</a> met <a>B</a>.") is text."""
    if tag != "p" or len(text) > 400 or next(node.iter("a"), None) is None:
        return False
    links = [" ".join(string_of(a).split()) for a in xp(node, ".//a[@href]")]
    if LEAD_IN.match(text):
        linked = sum(c.isalnum() for link in links for c in link)
        return linked >= 0.5 * sum(c.isalnum() for c in LEAD_IN.sub("", text, count=1))
    if len(links) < 2:
        return False
    return not any(c.isalnum() for c in TAG_MARKS.sub(" ", _outside_links(node)))


def _outside_links(element) -> str:
    """The text of an element outside the links within it (a link around it, as on a card, does not count)."""
    parts = [element.text or ""]
    for child in element:
        if isinstance(child.tag, str) and not (child.tag == "a" and child.get("href") is not None):
            parts.append(_outside_links(child))
        parts.append(child.tail or "")
    return " ".join(parts)


def _promotion(text: str) -> bool:
    """A short closing line that asks the reader for something: "Follow us on …", "Sign up for our newsletter …"."""
    return word_count(text) <= PROMOTION_WORDS and bool(PROMOTION.search(text))


# What a dateline has besides digits: a word (a month, a weekday, "Uhr", "ago"), day.month.year, a time of day, or
# 年/月/日. A number alone ("+1", "2015"), a price ("9,90 €") or a score is text, however dateparser reads it.
_DATE_SHAPE = re.compile(r"\d.*[^\W\d_]{2}|[^\W\d_]{2}.*\d|\d{1,4}[./-]\d{1,2}[./-]\d{1,4}|\d{1,2}:\d{2}|\d\s*[年月日]")


def _only_a_date(text: str, page: Page) -> bool:
    """A dateline block (`8. Januar 2022`, `2022年1月8日`, `Jan. 8, 2022 10:15`): metadata, not article text.

    Read in the page's date languages only (its own and English) when it has one: a dateline is written in the
    page's language, and asking dateparser in every language it knows cost a crawl more than fetching. They are
    asked for only here, for a block shaped like a date: a page that declares no language has its text's detected.
    """
    if len(text) > 40 or len(text.split()) > 6 or not _DATE_SHAPE.search(text):
        return False
    return _reads_as_date(text, tuple(page.date_languages() or ()))


@functools.lru_cache(maxsize=4096)
def _reads_as_date(text: str, languages: tuple[str, ...]) -> bool:
    """Whether dateparser reads a text as a date, remembered: the same line is looked at in the page's container and
    in trafilatura's body, and whether it is a date does not change with the clock ("3 hours ago" is one at any hour)."""
    return parse_datetime(text, list(languages) or None, anywhere=not languages) is not None


def _block_text(element: Any) -> str:
    """A block's text on one line; a list's items joined, scripts and styles left out."""
    if element.tag in ("ul", "ol"):
        items = (string_of(li) for li in xp(element, "./li"))
        return " ".join(" ".join(text.split()) for text in items if text.strip()) or " ".join(" ".join(xp(element, ".//text()")).split())
    return " ".join(" ".join(xp(element, _TEXT)).split())


# Its text but scripts' and styles': the HTML parser gives those raw text and no elements, so a text's parent says it
# (an `ancestor::` test walks every text's ancestors up to the root).
_TEXT = ".//text()[not(parent::script or parent::style)]"


def _nested(element, body_root, junk: bool = True, enclosing: dict[Any, bool] | None = None) -> bool:
    """True when a block sits inside another kept block, a figure, aside, nav or a share/related/ad box below the body.

    `enclosing` remembers the answer for each ancestor walked (the blocks of a body share most of theirs)."""
    if junk and is_junk(element):
        return True
    known = {} if enclosing is None else enclosing
    walked, found, parent = [], False, element.getparent()
    while parent is not None and parent is not body_root:
        if parent in known:
            found = known[parent]
            break
        walked.append(parent)
        if parent.tag in BLOCK_TAGS or parent.tag in SKIP_ANCESTORS or junk and is_junk(parent):
            found = True
            break
        parent = parent.getparent()
    for ancestor in walked:
        known[ancestor] = found
    return found


_HIDDEN_STYLE = re.compile(r"display\s*:\s*none")


def _in_furniture(element, body_root) -> bool:
    """Inside (or itself) an aside, nav or caption, or a box its class marks as a share bar, newsletter box, related
    list, ad, … below the body (an id is often the slug of a heading, a figure or a header may hold the article's own
    tables and headings: neither counts)."""
    while element is not None and element is not body_root:
        if element.tag in ("aside", "nav", "figcaption") or JUNK_CLASS.search(element.get("class", "")):
            return True
        element = element.getparent()
    return False


def is_junk(element: Any) -> bool:
    """Hidden, or marked by its class or id as a share bar, related list, ad, newsletter box, … (vocabulary.JUNK_WORDS)."""
    if not isinstance(element.tag, str) or element.tag in ("body", "html"):  # a class of the whole page marks no box
        return False
    marks = f"{element.get('class', '')} {element.get('id', '')}"
    if element.get("hidden") is not None or element.get("aria-hidden") == "true":
        return True
    if _HIDDEN_STYLE.search(element.get("style", "")):
        return True
    return bool(marks.strip()) and bool(JUNK_CLASS.search(marks))


_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")  # lxml refuses these in an attribute


def _inner_html(root, page: Page) -> str:
    """The block's inner markup with links made absolute (the sanitizer removes the rest)."""
    for br in root.iter("br"):
        br.tail = "\n" + _NOT_XML.sub("", br.tail or "")  # the HTML parser lets control characters through; lxml refuses them here
    for element in root.iter("a", "img"):
        attr = "href" if element.tag == "a" else "src"
        value = element.get(attr)
        if value:
            element.set(attr, _NOT_XML.sub("", urljoin(page.url, value.strip())))
    if root.tag in ("ul", "ol"):
        items = [li for li in root if li.tag == "li"]
        if items:  # one item a line, so that the text of neighbouring items never runs together
            return "\n" + "\n".join(etree.tostring(li, encoding="unicode", method="html", with_tail=False) for li in items) + "\n"
    parts = [escape(root.text)] if root.text else []
    for child in root:
        parts.append(etree.tostring(child, encoding="unicode", method="html", with_tail=True))
    return "".join(parts)


def render_blocks(blocks: list[tuple[str, str, str]]) -> tuple[str, str]:
    """(content_html, content_text) of kept blocks."""
    html = "\n".join(f"<{tag}>{inner}</{tag}>" for tag, inner, _ in blocks)
    text = "\n\n".join(text for _, _, text in blocks)
    return html, text
