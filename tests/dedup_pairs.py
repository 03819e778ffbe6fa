"""A labelled set of article pairs for deduplication: realistic copies and look-alikes, built deterministically.

Material: stories of the sample site generator (several seeds, cut to varied lengths, from
60-word briefs to 900-word reports) plus the seed article. Each pair is (first, second,
duplicate?), where `second` is a transformation of `first` (a duplicate) or a different story
made to look like it (not a duplicate). `python tests/dedup_pairs.py` prints a summary.
"""

from __future__ import annotations

import html
import random
import re
from collections import Counter
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from scrapy.exceptions import DropItem
from scrapy.utils.test import get_crawler

from crawler.cleaning import CanonicalizePipeline, CleanPipeline, SanitizePipeline
from crawler.demo import texts
from crawler.demo.site import SampleArticle, generate
from crawler.items import Article
from crawler.pipelines import DeduplicatePipeline, StorePipeline
from crawler.store import queries

__all__ = ["Pair", "Pipeline", "Text", "article", "pairs", "material"]

SEED = 4
_SENTENCE = re.compile(r"(?<=[.!?\"])\s+(?=[A-Z\"])")
_NUMBER = re.compile(r"\d+")

BOILERPLATE = (
    "Follow us on Facebook, Twitter and Instagram for more news from around the world.",
    "This article was automatically translated from German. We apologise for any errors in the translation.",
    "Sign up for our free morning newsletter and get the most important news of the day delivered to your inbox.",
    "Did you find an error in this article? Write to our editorial team and we will correct it as soon as possible.",
    "Our reporting is independent and free to read. Support quality journalism with a subscription from just 1 euro a month.",
    "Comments on this article have been closed. Please read our community guidelines before posting elsewhere on the site.",
    "Copyright 2022. All rights reserved. This material may not be published, broadcast, rewritten or redistributed.",
)
RELATED = (
    "Kazakhstan: Germany imposes export ban on armaments",
    "Storm leaves thousands without power on the coast",
    "Central bank keeps interest rates unchanged",
    "Club parts ways with its coach after five defeats",
)
WIRE_FOOTER = (
    "The dpa news agency reports on this topic around the clock. Further information, pictures and videos are "
    "available to subscribers of the dpa news service and its partners in more than 100 countries worldwide."
)
EDITS = (
    ("said", "stated"), ("on", "on Friday on"), ("the", "this"), ("was", "had been"), ("that", "how"),
    ("a", "one"), ("in", "inside"), ("of", "from"), ("and", "as well as"), ("is", "remains"),
)


@dataclass(frozen=True)
class Text:
    """One copy of an article as a page would give it: title, blocks (kind, text), publisher, section."""

    title: str
    blocks: tuple[tuple[str, str], ...]
    publisher: str
    section: str

    @property
    def text(self) -> str:
        return "\n\n".join(text for _, text in self.blocks)

    @property
    def words(self) -> int:
        return len(self.text.split())


@dataclass(frozen=True)
class Pair:
    kind: str
    duplicate: bool
    first: Text
    second: Text


def _text(article: SampleArticle, paragraphs: int | None = None) -> Text:
    blocks = [("p", article.lede), *article.blocks]
    if paragraphs is not None:
        blocks = blocks[:paragraphs]
        while blocks[-1][0] == "h2":
            blocks.pop()
    return Text(article.title, tuple(blocks), article.publisher, article.section)


def material(seed: int = SEED) -> list[Text]:
    """Distinct stories of varied length: about a third briefs (60-180 words), the rest up to full reports."""
    rng = random.Random(seed)
    out: list[Text] = []
    seen_titles: set[str] = set()
    for site_seed in (101, 202, 303):
        for article in generate(seed=site_seed).stories():
            if article.title.casefold() in seen_titles:
                continue
            seen_titles.add(article.title.casefold())
            roll = rng.random()
            if roll < 0.33:
                paragraphs = rng.randint(3, 6)
            elif roll < 0.66:
                paragraphs = rng.randint(8, 16)
            else:
                paragraphs = None
            out.append(_text(article, paragraphs))
    rng.shuffle(out)
    return out


# -- transformations that keep the story


def rewrap(rng: random.Random, t: Text) -> Text:
    """Paragraphs joined and split differently, quotes and dashes typeset differently: the same words."""
    blocks: list[tuple[str, str]] = []
    for kind, text in t.blocks:
        if kind == "p" and blocks and blocks[-1][0] == "p" and rng.random() < 0.4:
            blocks[-1] = ("p", blocks[-1][1] + "  " + text)
        elif kind == "p" and rng.random() < 0.3:
            blocks.extend(("p", s) for s in _SENTENCE.split(text))
        else:
            blocks.append((kind, text.replace("\"", "“", 1).replace(" - ", " – ")))
    return replace(t, blocks=tuple(blocks))


def reheadline(rng: random.Random, t: Text) -> Text:
    words = t.title.split()
    choice = rng.randrange(4)
    if choice == 0:
        title = " ".join(w[:1].upper() + w[1:] for w in words)
    elif choice == 1:
        title = t.title.upper()
    elif choice == 2:
        title = f"{rng.choice(('Breaking', 'Update', 'Live', 'Report'))}: {t.title}"
    else:
        first = _SENTENCE.split(t.blocks[0][1])[0].rstrip(".")
        title = " ".join(first.split()[:9])  # a new headline from the lede
    return replace(t, title=title)


def add_boilerplate(rng: random.Random, t: Text) -> Text:
    extra = rng.sample(BOILERPLATE, rng.randint(1, 2))
    blocks = list(t.blocks)
    if rng.random() < 0.5:
        blocks = [("p", extra[0]), *blocks, *(("p", e) for e in extra[1:])]
    else:
        blocks = [*blocks, *(("p", e) for e in extra)]
    blocks.append(("p", f"Read also: {rng.choice(RELATED)}"))
    return replace(t, blocks=tuple(blocks))


def edit_sentences(rng: random.Random, t: Text, count: int | None = None) -> Text:
    """One or two sentences corrected: a word changed, a number updated, a clause added or cut."""
    blocks = list(t.blocks)
    paragraphs = [i for i, (kind, text) in enumerate(blocks) if kind == "p" and len(text.split()) >= 8]
    for index in rng.sample(paragraphs, min(len(paragraphs), count or rng.randint(1, 2))):
        sentences = _SENTENCE.split(blocks[index][1])
        k = rng.randrange(len(sentences))
        words = sentences[k].split()
        how = rng.randrange(3)
        if how == 0 and _NUMBER.search(sentences[k]):
            sentences[k] = _NUMBER.sub(lambda m: str(int(m.group(0)) + rng.randint(1, 9)), sentences[k], count=1)
        elif how == 1 and len(words) > 8:
            sentences[k] = " ".join(words[:-3]) + "."
        else:
            swaps = [(i, new) for i, w in enumerate(words) for old, new in EDITS if w == old]
            if swaps:
                i, new = rng.choice(swaps)
                words[i] = new
            else:
                words.insert(len(words) // 2, "reportedly")
            sentences[k] = " ".join(words)
        blocks[index] = ("p", " ".join(sentences))
    return replace(t, blocks=tuple(blocks))


def teaser(rng: random.Random, t: Text) -> Text:
    """The start of the text, cut after 40-90 words (mid-sentence), as aggregators and feeds show it."""
    limit = min(rng.randint(40, 90), max(30, t.words - 10))
    blocks, used = [], 0
    for kind, text in t.blocks:
        words = text.split()
        if used + len(words) >= limit:
            blocks.append((kind, " ".join(words[:limit - used]) + rng.choice((" …", "...", " [...]", ""))))
            break
        blocks.append((kind, text))
        used += len(words)
    if rng.random() < 0.5:
        blocks.append(("p", "Read more"))
    return replace(t, blocks=tuple(blocks))


def republish(rng: random.Random, t: Text) -> Text:
    """Another publisher's copy: its own section, publisher and credit."""
    return replace(t, publisher=rng.choice(texts.PUBLISHERS), section=rng.choice([s for s in ("news", "world", "politics") if s != t.section]))


# -- look-alikes that are different stories


def same_lede(a: Text, b: Text) -> Text:
    return replace(b, blocks=((a.blocks[0]), *b.blocks[1:]), section=a.section)


def same_headline(a: Text, b: Text) -> Text:
    return replace(b, title=a.title)


def same_opening(a: Text, b: Text) -> Text:
    """Same headline, lede and first paragraph (a follow-up, or a wire lead), then a different body."""
    return replace(b, title=a.title, blocks=(*a.blocks[:2], *b.blocks[2:]))


def wire(rng: random.Random, t: Text, dateline: str) -> Text:
    lede = f"{dateline} (dpa) - {t.blocks[0][1]}"
    return replace(t, blocks=(("p", lede), *t.blocks[1:], ("p", WIRE_FOOTER)), publisher="dpa")


def sister(rng: random.Random, t: Text) -> Text:
    """The same template filled with other names, places and numbers: another story told alike."""
    names = sorted({m.group(0) for m in re.finditer(r"\b[A-Z][a-z]{3,}\b", t.text + " " + t.title)} - _COMMON)
    mapping = {name: rng.choice(texts.LAST_NAMES + tuple(c for c, _ in texts.CITIES)) for name in names}

    def swap(text: str) -> str:
        text = re.sub(r"\b[A-Z][a-z]{3,}\b", lambda m: mapping.get(m.group(0), m.group(0)), text)
        return _NUMBER.sub(lambda m: str(rng.randint(2, 999)), text)

    return replace(t, title=swap(t.title), blocks=tuple((kind, swap(text)) for kind, text in t.blocks))


_COMMON = {
    "This", "That", "There", "They", "Their", "When", "What", "With", "After", "Before", "Since", "According", "Many",
    "Some", "Several", "Most", "Further", "Meanwhile", "Over", "Within", "Details", "Whether", "Critics", "Supporters",
    "Observers", "Local", "Regional", "National", "Independent", "External", "International", "Asked", "Speaking",
    "Questioned", "More", "Nearly", "Roughly", "Representatives", "Members", "Spokespeople", "Nobody", "Back",
}


def pairs(seed: int = SEED) -> list[Pair]:
    """At least 240 labelled pairs; every pair uses its own stories, so all can share one store."""
    rng = random.Random(seed)
    stories = material(seed)
    pool = iter(stories)
    by_section: dict[str, list[Text]] = {}
    for story in stories:
        by_section.setdefault(story.section, []).append(story)
    out: list[Pair] = []

    def dup(kind: str, n: int, *steps) -> None:
        for _ in range(n):
            first = next(pool)
            second = first
            for step in steps:
                second = step(rng, second)
            out.append(Pair(kind, True, first, second))

    def other(kind: str, n: int, make) -> None:
        for _ in range(n):
            first = next(pool)
            second = next(s for s in pool if s.section == first.section)
            out.append(Pair(kind, False, first, make(first, second)))

    dup("rewrapped", 14, rewrap, republish)
    dup("re-headlined", 14, reheadline, republish)
    dup("boilerplate added", 16, add_boilerplate, republish)
    dup("one sentence edited", 16, lambda r, t: edit_sentences(r, t, 1))
    dup("two sentences edited", 16, lambda r, t: edit_sentences(r, t, 2), republish)
    dup("edited and re-headlined", 14, edit_sentences, reheadline, republish)
    dup("edited, boilerplate, rewrapped", 14, edit_sentences, add_boilerplate, rewrap, republish)
    dup("teaser after full", 16, teaser, republish)
    for _ in range(16):
        full = next(pool)
        out.append(Pair("full after teaser", True, republish(rng, teaser(rng, full)), full))
    dup("teaser, re-cased headline", 10, teaser, lambda r, t: replace(t, title=t.title.upper()))

    other("same lede", 16, same_lede)
    other("same headline", 14, same_headline)
    other("same headline, lede and first paragraph", 16, same_opening)
    for _ in range(14):
        first = next(pool)
        out.append(Pair("same template, other names and numbers", False, first, sister(rng, first)))
    for _ in range(14):
        first, second = next(pool), next(pool)
        city = rng.choice(texts.CITIES)[0]
        out.append(Pair("one wire service, two stories", False, wire(rng, first, city), wire(rng, second, city)))
    for _ in range(12):
        first = next(pool)
        second = next(s for s in pool if s.section == first.section)
        out.append(Pair("teaser of another story, same headline", False, first, teaser(rng, same_headline(first, second))))
    return out


# -- the real path: pipeline stages on a store in a folder

START = datetime(2022, 1, 8, 6, 0, tzinfo=UTC)


class Pipeline:
    """Clean → Sanitize → Canonicalize → Deduplicate → Store on a store in a temporary folder."""

    def __init__(self, directory):
        crawler = get_crawler(settings_dict={"REFEED_STORE_URL": f"sqlite:///{directory}/refeed.sqlite3"})
        self.dedup = DeduplicatePipeline.from_crawler(crawler)
        self.store = StorePipeline.from_crawler(crawler)
        self.stages = [CleanPipeline(), SanitizePipeline(), CanonicalizePipeline(), self.dedup, self.store]

    def feed(self, item: Article) -> str:
        """The id of the story the article ended up in (new, merged or updated)."""
        with self.dedup.batch.article():  # as a crawl's writer runs them: a savepoint, then committed when due
            try:
                for stage in self.stages[:3]:
                    item = stage.process_item(item)
                self.store.store(self.dedup.deduplicate(item))
            except DropItem:  # a duplicate: its URLs and topics merged (kept), the copy not stored
                pass
        return queries.story_for_url(self.dedup.batch.conn, item.url)

    def story(self, story_id: str):
        return queries.get_story(self.dedup.batch.conn, story_id)

    def close(self) -> None:
        self.dedup.batch.close()


def article(text: Text, url: str, minutes: int) -> Article:
    body = "\n".join(f"<{kind}>{html.escape(block)}</{kind}>" for kind, block in text.blocks)
    return Article(
        url=url, title=text.title, published=START + timedelta(minutes=minutes), site="pairs", publisher=text.publisher,
        topics=[text.section], summary=text.blocks[0][1], content_html=body,
    )


if __name__ == "__main__":  # pragma: no cover - a summary for people
    labelled = pairs()
    print(f"{len(labelled)} pairs: {sum(p.duplicate for p in labelled)} duplicates")
    for (kind, duplicate), n in Counter((p.kind, p.duplicate) for p in labelled).items():
        print(f"  {n:3d} {'dup ' if duplicate else 'diff'} {kind}")
