"""A store's worth of made-up stories as export lines: a year of fifty sources, for benchmarks and tests."""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import lru_cache

__all__ = ["archive_lines"]

START = datetime(2025, 1, 1, tzinfo=UTC)
PUBLISHERS = 40
_WORD = re.compile(r"[A-Za-z][a-z]+")


@lru_cache(maxsize=1)
def _vocabulary() -> tuple[str, ...]:
    """The words of the sample site's stories: texts that read like its news, not like lorem ipsum."""
    from crawler.demo.site import generate

    words: set[str] = set()
    for article in generate().articles[:60]:
        words.update(w.lower() for w in _WORD.findall(article.text))
    return tuple(sorted(words))


def _publisher(n: int) -> str:
    """One of PUBLISHERS original publishers: the sample site's, then numbered editions of them."""
    from crawler.demo.texts import PUBLISHERS as NAMES

    name = NAMES[n % len(NAMES)]
    return name if n < len(NAMES) else f"{name} {n // len(NAMES) + 1}"


def _sentence(rng: random.Random, words: tuple[str, ...], low: int, high: int) -> str:
    chosen = rng.choices(words, k=rng.randint(low, high))
    return chosen[0].capitalize() + " " + " ".join(chosen[1:]) + "."


def archive_lines(
    count: int, *, seed: int = 2022, sources: int = 50, topics: int = 30, publishers: int = PUBLISHERS, days: int = 365, start: datetime = START
) -> Iterator[str]:
    """`count` export lines (no ids: import gives them), published over `days` from `start` in that order, each of
    `sources` sources, one of `topics` sections and of `publishers` original publishers, 5–8 paragraphs of 60–100 words; one in a hundred names
    Kazakhstan (the sample configuration's keyword topic)."""
    rng = random.Random(seed)
    words = _vocabulary()
    step = timedelta(days=days) / max(count, 1)
    for n in range(count):
        source, topic, publisher = rng.randrange(sources), rng.randrange(topics), rng.randrange(publishers)
        published = start + step * n
        paragraphs = [" ".join(_sentence(rng, words, 8, 20) for _ in range(rng.randint(4, 7))) for _ in range(rng.randint(5, 8))]
        if rng.random() < 0.01:
            paragraphs[0] = "In Kazakhstan, " + paragraphs[0][0].lower() + paragraphs[0][1:]
        title = _sentence(rng, words, 6, 11)[:-1]
        yield json.dumps(
            {
                "url": f"https://source-{source}.example/topic-{topic}/{published:%Y-%m-%d}/story-{n}.html",
                "title": title,
                "published": published.isoformat(),
                "updated": published.isoformat(),
                "site": f"source-{source}",
                "publisher": _publisher(publisher),
                "authors": [_sentence(rng, words, 2, 2)[:-1].title()],
                "topics": [f"topic-{topic}"],
                "language": "en",
                "summary": paragraphs[0].split(". ")[0] + ".",
                "content_html": "".join(f"<p>{p}</p>" for p in paragraphs),
                "content_text": "\n\n".join(paragraphs),
                "image": f"https://source-{source}.example/images/{n}.jpg",
                "image_caption": title,
            },
            ensure_ascii=False,
        )
