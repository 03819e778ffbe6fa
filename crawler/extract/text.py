"""Text helpers: one-line text, folded names, word counts, titles without the site name, bylines and credit lines."""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable

from crawler.extract.vocabulary import (
    BOILERPLATE_LINE,
    BYLINE_LABEL,
    CREDIT_LINE,
    DISCLOSURE,
    DISCLOSURE_HINTS,
    IMAGE_CREDIT,
    NAME_SEPARATORS,
    PUBLISHER_LINE,
    TITLE_SEPARATORS,
    TOKEN,
)

__all__ = [
    "MIN_ARTICLE_WORDS",
    "clean_text",
    "clean_title",
    "credit_authors",
    "fold",
    "is_boilerplate",
    "publisher_from",
    "split_authors",
    "word_count",
]

MIN_ARTICLE_WORDS = 60  # a page with less article text than this is not an article (galleries, stubs, listings)
CAPTION_WORDS = 30  # a block this short with an image credit is a caption
DISCLOSURE_WORDS = 80  # a block this short that discloses affiliate links or paid placements is no article text


def clean_text(value: object) -> str | None:
    """A string on one line (runs of whitespace made one space), NFC-normalised; None for anything else or blank."""
    if isinstance(value, str) and value.strip():
        return unicodedata.normalize("NFC", " ".join(value.split()))
    return None


def fold(text: str) -> str:
    """A name as it compares: case, punctuation, spacing and a leading `www.` left out."""
    return re.sub(r"[^\w]+", "", unicodedata.normalize("NFKC", text).casefold().removeprefix("www."))


def word_count(text: str | None) -> int:
    """Words, each Chinese or Japanese character one (vocabulary.TOKEN)."""
    return len(TOKEN.findall(text or ""))


def clean_title(title: str | None, site_names: Iterable[str | None] = ()) -> str | None:
    """The headline without the site name the `<title>` or og:title appends (`Story - The Site` → `Story`)."""
    title = clean_text(title)
    if not title:
        return None
    names = {fold(n) for n in site_names if n}
    parts = TITLE_SEPARATORS.split(title)
    if len(parts) > 1:
        if names and fold(parts[-1]) in names:
            return clean_text(title[: title.rfind(parts[-1])].rstrip(" |-–—:·•»«/")) or title
        if names and fold(parts[0]) in names:
            return clean_text(title[len(parts[0]):].lstrip(" |-–—:·•»«/")) or title
    return title


def split_authors(text: str | None) -> list[str]:
    """A byline (`By Jane Doe and John Smith`) → ["Jane Doe", "John Smith"]; URLs and long text are no names."""
    text = " ".join((text or "").split())
    text = BYLINE_LABEL.sub("", text)
    if not text or "://" in text or "@" in text or len(text) > 120:
        return []
    names = [n.strip(" .|-–—") for n in NAME_SEPARATORS.split(text)]
    return [n for n in names if n and len(n.split()) <= 5 and any(c.isalpha() for c in n)]


@functools.lru_cache(maxsize=1024)
def is_boilerplate(text: str) -> bool:
    """A line that is no article text: "Read more", "Advertisement", a `Source:` line, a credit line, a caption, …

    Remembered for the last texts asked: a page's paragraphs are asked in its container, again in trafilatura's
    body and again by the Clean stage."""
    text = " ".join(text.split())
    if BOILERPLATE_LINE.match(text) or PUBLISHER_LINE.match(text) or CREDIT_LINE.match(text):  # each pattern starts with ^
        return True
    return _caption(text) or _disclosure(text)


def _caption(text: str) -> bool:
    """A short block with an image credit (vocabulary.IMAGE_CREDIT), each credit a colon or a ©: cheap tests first."""
    if len(text) > 20 * CAPTION_WORDS or not ("©" in text or ":" in text or "：" in text):
        return False
    return bool(IMAGE_CREDIT.search(text)) and word_count(text) <= CAPTION_WORDS


def _disclosure(text: str) -> bool:
    """A short affiliate or advertiser disclosure (vocabulary.DISCLOSURE): its words looked for before its pattern."""
    if len(text) > 20 * DISCLOSURE_WORDS:
        return False
    folded = text.casefold()
    return any(hint in folded for hint in DISCLOSURE_HINTS) and bool(DISCLOSURE.search(text)) and word_count(text) <= DISCLOSURE_WORDS


@functools.lru_cache(maxsize=1024)
def publisher_from(text: str) -> str | None:
    """The publisher a `Source: X` line (`Quelle: X`, `Fuente: X`, …) names; None for any other line (remembered, as
    is_boilerplate's answers)."""
    match = PUBLISHER_LINE.match(" ".join(text.split()))
    return match.group(1) if match else None


def credit_authors(text: str) -> list[str]:
    """`asc / dpa / AFP` → ["asc", "dpa", "AFP"]; anything else → []."""
    text = " ".join(text.split())
    if not text or not CREDIT_LINE.match(text):
        return []
    return [part.strip() for part in text.split("/") if part.strip()]
