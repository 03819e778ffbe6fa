"""The trafilatura merge: its blocks, plus the running text of the page's own container that it missed."""

from __future__ import annotations

import re
from collections import Counter
from itertools import chain

from crawler.extract.blocks import Extracted
from crawler.extract.text import MIN_ARTICLE_WORDS, fold, word_count
from crawler.extract.vocabulary import HEADINGS, TOKEN

__all__ = ["COVERED", "TAIL_COVERED", "combine"]

COVERED = 0.5  # share of trafilatura's text the container must hold to lend it paragraphs
TAIL_COVERED = 0.8  # …and to cut trafilatura's trailing blocks that lie outside it
FURNITURE_SHARE = 0.2  # at most this share of trafilatura's text may be left out as the container's furniture
_LINK_TEXT = re.compile(r"<a\b[^>]*>(.*?)</a>", re.S | re.I)
_TAGS = re.compile(r"<[^>]+>")


def combine(own: Extracted, generic: Extracted) -> Extracted:
    """Evidence from both: trafilatura's blocks, plus the prose of the page's own container that it missed.

    The container's extra paragraphs count only when the container holds most of what trafilatura
    found (then both point at the same article) and only when they read as running text.
    """
    publisher, credit = own.publisher or generic.publisher, own.credit or generic.credit
    if own.link_lists or own.furniture:  # trafilatura drops links, keeps boxes: what the container shows to be either goes
        generic = Extracted(blocks=_set_aside(generic.blocks, own), publisher=generic.publisher, credit=generic.credit)
    if not generic.blocks:
        own.publisher, own.credit = publisher, credit
        return own if word_count(own.text) >= MIN_ARTICLE_WORDS else Extracted(blocks=[], publisher=publisher, credit=credit)
    grams = [_grams(TOKEN.findall(text)) for _, _, text in generic.blocks]
    everything = Counter(chain.from_iterable(grams))
    own_tokens = [TOKEN.findall(text) for _, _, text in own.blocks]  # own.text's tokens are its blocks' in a row
    own_all = Counter(_grams(list(chain.from_iterable(own_tokens))))
    covered = _common(own_all, everything) / max(1, sum(everything.values()))
    if not own.blocks or covered < COVERED:
        return Extracted(blocks=generic.blocks, publisher=publisher, credit=credit)
    found = [Counter(g) for g in grams]
    where: dict[str, list[tuple[int, int]]] = {}  # shingle → (generic block, count): overlaps without a Counter per pair
    for index, shingles in enumerate(found):
        for gram, count in shingles.items():
            where.setdefault(gram, []).append((index, count))
    after: dict[int, list] = {}
    last, heading = -1, None  # heading: the container's subheading trafilatura cut right before the block under way
    for block, tokens in zip(own.blocks, own_tokens):
        shingles = Counter(_grams(tokens))
        size = max(1, shingles.total())
        overlap = [0] * len(found)  # of the block with each generic block: sum((shingles & found[i]).values())
        for gram, count in shingles.items():
            for index, theirs in where.get(gram, ()):
                overlap[index] += count if count < theirs else theirs
        best = max(overlap)
        if best / size >= 0.5:
            if heading is not None and last >= 0:  # a subheading between two blocks both keep: the article's own
                after.setdefault(last, []).append(heading)
            last = max(last, overlap.index(best))  # the first best, as max() picks
        elif _common(shingles, everything) / size < 0.5 and _prose(block):
            after.setdefault(last, []).append(block)
        heading = block if block[0] in HEADINGS and best / size < 0.5 else None
    end = len(generic.blocks)
    if covered >= TAIL_COVERED:  # trafilatura's trailing blocks outside the container: bios, boilerplate, teasers
        while end > 0 and _common(found[end - 1], own_all) / max(1, sum(found[end - 1].values())) < 0.5:
            end -= 1
    blocks = list(after.get(-1, []))
    for index, block in enumerate(generic.blocks[:end]):
        blocks.append(block)
        blocks += after.get(index, [])
    return Extracted(blocks=blocks, publisher=publisher, credit=credit)


def _set_aside(blocks: list[tuple[str, str, str]], own: Extracted) -> list[tuple[str, str, str]]:
    """trafilatura's blocks but those the container shows as a row of links, or only in a box of furniture (a share
    bar, a newsletter box): all of those, as long as the furniture is a small part of what trafilatura found."""
    furniture = own.furniture - {fold(text) for _, _, text in own.blocks}
    kept = [b for b in blocks if fold(b[2]) not in own.link_lists]
    boxed = sum(len(b[2]) for b in kept if fold(b[2]) in furniture)
    if boxed > FURNITURE_SHARE * sum(len(b[2]) for b in kept):  # a body the page wraps in a "paywall" or "widget" box
        return kept
    return [b for b in kept if fold(b[2]) not in furniture]


def _prose(block: tuple[str, str, str]) -> bool:
    """A paragraph of running text: long enough, few links, sentence punctuation, not shouting, no stray markup."""
    tag, inner, text = block
    if tag not in ("p", "blockquote") or word_count(text) < 25 or "<span" in text or "&lt;" in text:
        return False
    linked = sum(len(_TAGS.sub("", m)) for m in _LINK_TEXT.findall(inner))
    letters = [c for c in text if c.isalpha()]
    shouting = letters and sum(c.isupper() for c in letters) / len(letters) > 0.6
    return linked / max(1, len(text)) < 0.25 and not shouting and bool(re.search(r"[.!?…:\"”»。！？]\W*$", text))


def _common(a: Counter, b: Counter) -> int:
    """sum((a & b).values()) of two counts of shingles, without building `a & b`: the smaller looked up in the larger."""
    if len(a) > len(b):
        a, b = b, a
    total, theirs_of = 0, b.get
    for gram, count in a.items():
        theirs = theirs_of(gram)
        if theirs:
            total += count if count < theirs else theirs
    return total


def _grams(tokens: list[str], n: int = 4) -> list[str]:
    """A text's word n-grams (the whole text when it is shorter), each joined by a space, from its tokens."""
    if len(tokens) < n:
        return [" ".join(tokens)]
    return list(map(" ".join, zip(*(tokens[i:] for i in range(n)))))
