"""Which articles belong to which feed: slugs, keyword rules and grouping."""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache

__all__ = [
    "ALL",
    "PUBLISHER_PREFIX",
    "PUBLISHER_TITLE",
    "Feed",
    "TopicRule",
    "group_feeds",
    "keyword_topics",
    "publisher_slug",
    "publishers_of",
    "slugify",
    "topic_title",
    "topics_of",
]

logger = logging.getLogger(__name__)

ALL = "all"
PUBLISHER_PREFIX = "publisher-"
PUBLISHER_TITLE = "Publisher: "  # a publisher feed's title, before the name
MAX_SLUG = 100  # file names stay far below the 255-byte limit of every file system
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NOT_SLUG = re.compile(r"[^a-z0-9]+")
# Latin letters NFKD does not decompose into ASCII.
_FOLD = str.maketrans(
    {"ß": "ss", "æ": "ae", "Æ": "AE", "ø": "o", "Ø": "O", "œ": "oe", "Œ": "OE", "đ": "d",
     "Đ": "D", "ł": "l", "Ł": "L", "þ": "th", "Þ": "TH", "ð": "d", "Ð": "D", "ı": "i"}
)


@dataclass(frozen=True)
class TopicRule:
    """A configured topic: articles whose title or text names a keyword."""

    name: str
    title: str
    keywords: tuple[str, ...]
    exclude: tuple[str, ...] = ()


@dataclass
class Feed:
    """One output feed: its slug, title and entries, newest first."""

    slug: str
    title: str
    entries: list[dict] = field(default_factory=list)


def slugify(text: str) -> str:
    """Fold ``text`` to ``[a-z0-9-]+`` (safe as a file name), or "" when nothing is left."""
    if not text:
        return ""
    folded = unicodedata.normalize("NFKD", str(text).translate(_FOLD)).encode("ascii", "ignore").decode("ascii")
    return _NOT_SLUG.sub("-", folded.lower()).strip("-")[:MAX_SLUG].rstrip("-")


@lru_cache(maxsize=1024)
def _phrases_pattern(phrases: tuple[str, ...]) -> re.Pattern[str] | None:
    """One pattern for all of a rule's phrases: the text is searched once, not once a phrase."""
    bodies = [r"\s+".join(re.escape(w) for w in phrase.split()) for phrase in phrases]
    bodies = [body for body in bodies if body]
    if not bodies:
        return None
    # (?<!\w)/(?!\w) behave like \b around word characters and still work for
    # keywords that start or end with punctuation ("C++", ".NET").
    return re.compile(rf"(?<!\w)(?:{'|'.join(bodies)})(?!\w)", re.IGNORECASE)


def _mentions(text: str, phrases: Iterable[str]) -> bool:
    pattern = _phrases_pattern(tuple(str(phrase) for phrase in phrases))
    return pattern is not None and pattern.search(text) is not None


def keyword_topics(article: dict, rules: Iterable[TopicRule]) -> list[str]:
    """Names of the rules whose keywords occur as whole words in the title or text."""
    text = "\n".join(str(article.get(key) or "") for key in ("title", "content_text"))
    names = []
    for rule in rules:
        if _mentions(text, rule.keywords) and not _mentions(text, rule.exclude):
            names.append(rule.name)
    return names


def topics_of(article: dict, rules: Iterable[TopicRule] = ()) -> list[str]:
    """The article's own topics plus its keyword topics, slugified and deduplicated."""
    found: list[str] = []
    given = article.get("topics") or []
    if isinstance(given, str):
        given = [given]
    for name in [*given, *keyword_topics(article, rules)]:
        slug = slugify(str(name))
        if slug and slug != ALL and slug not in found:
            found.append(slug)
    return found


def publishers_of(article: dict) -> list[str]:
    """The article's original publishers: ``publishers`` when given, else ``[publisher]``; blanks dropped."""
    given = article.get("publishers")
    if not given:
        given = [article.get("publisher")]
    elif isinstance(given, str):
        given = [given]
    names = [" ".join(str(name).split()) for name in given if name]
    return [name for name in dict.fromkeys(names) if name]


def publisher_slug(name: str) -> str:
    """The slug of an original publisher's feed ("publisher-der-spiegel"), or "" when the name has none."""
    slug = slugify(name)
    return (PUBLISHER_PREFIX + slug)[:MAX_SLUG].rstrip("-") if slug else ""


def topic_title(slug: str, rules: Iterable[TopicRule] = ()) -> str:
    """A rule's title for ``slug``, else the slug as capitalised words."""
    for rule in rules:
        if slugify(rule.name) == slug and rule.title:
            return rule.title
    words = slug.replace("-", " ").strip()
    return words[:1].upper() + words[1:]


def _when(value) -> datetime:
    """A timezone-aware UTC datetime from a datetime or ISO string; EPOCH if unusable."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return EPOCH
    if not isinstance(value, datetime):
        return EPOCH
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _sort_key(article: dict) -> tuple[float, str]:
    return (-_when(article.get("published")).timestamp(), str(article.get("id") or ""))


def group_feeds(
    articles: Iterable[dict], rules: Iterable[TopicRule] = (), site_title: str = "refeed", publishers: bool = True
) -> list[Feed]:
    """Group articles into "all", one feed per topic and one per original publisher, entries newest first."""
    rules = tuple(rules)
    by_id: dict[str, dict] = {}
    for article in articles:
        key = str(article.get("id") or article.get("url") or "")
        if not key:
            logger.warning("article without id or url skipped: %r", article.get("title"))
            continue
        known = by_id.get(key)
        if known is None or _when(article.get("updated")) > _when(known.get("updated")):
            by_id[key] = article
    ordered = sorted(by_id.values(), key=_sort_key)
    feeds = [Feed(ALL, f"{site_title}: all articles", list(ordered))]
    members: dict[str, dict[int, dict]] = {}  # slug → articles by identity, in order (newest first)
    titles: dict[str, str] = {}
    for article in ordered:
        for slug in topics_of(article, rules):
            members.setdefault(slug, {})[id(article)] = article
            titles.setdefault(slug, topic_title(slug, rules))
        for name in publishers_of(article) if publishers else ():
            slug = publisher_slug(name)
            if slug:
                members.setdefault(slug, {})[id(article)] = article
                titles.setdefault(slug, PUBLISHER_TITLE + name)
    for slug in sorted(members):
        feeds.append(Feed(slug, titles[slug], list(members[slug].values())))
    return feeds
