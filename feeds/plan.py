"""What a build will write: its options, the state the last build left, and which feeds changed since."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crawler.store import queries
from feeds.topics import ALL, MAX_SLUG, PUBLISHER_PREFIX, Feed, TopicRule

__all__ = [
    "FORMATS",
    "SLUG_RE",
    "BuildOptions",
    "FeedPlan",
    "StorePlan",
    "file_mark",
    "files_same",
    "load_state",
    "plan_feed",
    "plan_store",
    "store_feeds",
    "xml_safe",
]

logger = logging.getLogger(__name__)

FORMATS = {  # format → (file suffix, media type)
    "atom": ("atom", "application/atom+xml"),
    "rss": ("rss", "application/rss+xml"),
    "json": ("json", "application/feed+json"),
}
SLUG_RE = re.compile(rf"^[a-z0-9][a-z0-9-]{{0,{MAX_SLUG - 1}}}$")
# C0 controls but \t \n \r, DEL and C1 controls, lone surrogates, U+FFFE/U+FFFF.
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def xml_safe(value: object) -> str:
    """``value`` as a string without characters XML 1.0 cannot hold."""
    if value is None:
        return ""
    return _XML_ILLEGAL.sub("", str(value))


_code_digest: bytes | None = None


def _options_digest(*options: object) -> bytes:
    """The options of a build and the code that renders it: a change of either re-renders every feed."""
    global _code_digest
    if _code_digest is None:
        import feedgen

        code = hashlib.sha1(getattr(feedgen, "__version__", "").encode())
        for path in sorted(Path(__file__).parent.glob("*.py")):
            code.update(path.read_bytes())
        _code_digest = code.digest()
    return _code_digest + repr(options).encode()


@dataclass(frozen=True)
class BuildOptions:
    """What every feed of a build is rendered with; `digest` changes when any of it (or this code) does."""

    out: Path
    base_url: str
    home_url: str
    formats: tuple[str, ...]
    max_entries: int
    rules: tuple[TopicRule, ...]
    site_title: str
    hub: str | None
    icon: str | None
    publishers: bool = True

    @classmethod
    def make(cls, out_dir: str | os.PathLike, base_url: str, *, formats: Iterable[str] = ("atom", "rss", "json"), max_entries: int = 100,
             rules: Iterable[TopicRule] = (), site_title: str = "refeed", site_url: str | None = None, site_icon: str | None = None,
             websub_hub: str | None = None, publishers: bool = True) -> BuildOptions:
        formats = tuple(dict.fromkeys(formats))
        unknown = [f for f in formats if f not in FORMATS]
        if unknown:
            logger.warning("unknown feed formats ignored: %s", ", ".join(unknown))
        if not base_url.endswith("/"):
            base_url += "/"
        return cls(
            out=Path(out_dir), base_url=base_url, home_url=site_url or base_url, formats=tuple(f for f in formats if f in FORMATS),
            max_entries=max(0, int(max_entries)), rules=tuple(rules), site_title=site_title,
            hub=xml_safe(websub_hub).strip() or None, icon=xml_safe(site_icon).strip() or None, publishers=publishers,
        )

    @property
    def digest(self) -> bytes:
        out = str(self.out.resolve())
        return _options_digest(
            out, self.base_url, self.home_url, self.formats, self.rules, self.site_title, self.hub, self.icon, self.max_entries, self.publishers
        )

    def names(self, slug: str) -> list[str]:
        return [f"{slug}.{FORMATS[fmt][0]}" for fmt in self.formats]


# -- the state of the last build


def load_state(path: Path) -> dict:
    """Per feed of the last build: the digest of its inputs, its files' size and mtime, what the index shows."""
    try:
        state = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return {}
    return state if isinstance(state, dict) else {}


def file_mark(path: Path) -> list[int] | None:
    """A file's size and mtime, to tell later whether anyone touched it; None when it is not there."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return [stat.st_size, stat.st_mtime_ns]


def _same_file(path: Path, mark: Any) -> bool:
    return mark is not None and file_mark(path) == list(mark)


def files_same(options: BuildOptions, slug: str, known: dict) -> bool:
    """Whether a feed's files are still those the last build wrote (``known``: its state then)."""
    files = known.get("files") or {}
    return all(_same_file(options.out / name, files.get(name)) for name in options.names(slug))


# -- one feed: render it again, or keep it as the last build left it


@dataclass
class FeedPlan:
    """A feed of this build: its title, the digest of what it shows, and whether its files can stay as they are."""

    slug: str
    title: str
    digest: str
    article_digests: list[bytes]  # one an entry, in order: prepared entries are reused by these
    known: dict | None  # the feed's state from the last build
    unchanged: bool


def plan_feed(options: BuildOptions, feed: Feed, state: dict[str, dict], digest_of_options: bytes) -> FeedPlan | None:
    """The plan of one feed (entries newest first); None, with a warning, for a slug that is no safe file name."""
    if not SLUG_RE.match(feed.slug):
        logger.warning("feed %r skipped: not a safe slug", feed.slug)
        return None
    title = " ".join(xml_safe(feed.title).split())
    digest = hashlib.sha1(digest_of_options + repr((feed.slug, title)).encode())
    article_digests = [_article_digest(article) for article in feed.entries]
    for article_digest in article_digests:
        digest.update(article_digest)
    known = state.get(feed.slug)
    unchanged = bool(known and known.get("digest") == digest.hexdigest() and files_same(options, feed.slug, known))
    return FeedPlan(feed.slug, title, digest.hexdigest(), article_digests, known, unchanged)


def _article_digest(article: dict) -> bytes:
    """Of every field of a stored article. Texts go in as they are, each after its key, kind and length (repr of
    whole articles, escaping every character of their text and HTML, was a tenth of a build after a crawl)."""
    digest = hashlib.sha1()
    for key, value in sorted(article.items()):
        data = value.encode("utf-8", "surrogatepass") if isinstance(value, str) else repr(value).encode()
        digest.update(b"%s\0%c%d\0" % (key.encode(), 115 if isinstance(value, str) else 114, len(data)))
        digest.update(data)
    return digest.digest()


# -- a store's build: only the feeds its new and updated stories changed


@dataclass
class StorePlan:
    """Which feeds of a store are read and rendered again; the others are kept as the last build left them."""

    slugs: set[str]
    marks: Any  # the feed index's marks of what changed, cleared once the build is saved
    state: dict[str, dict]  # every feed's state from the last build
    digest: str  # of the options, saved with the state

    @property
    def kept(self) -> dict[str, dict]:
        return {slug: known for slug, known in self.state.items() if slug not in self.slugs}


def plan_store(store: Any, options: BuildOptions, full: bool) -> StorePlan:
    """The feeds the stories stored or updated since the last build changed (the store's feed index has taken them in
    already), and those whose files someone touched; every feed when the options changed, or with ``full``."""
    from feeds import catalog

    digest = hashlib.sha1(options.digest).hexdigest()
    state = store.feed_states()
    with store.reader() as conn:
        marks = catalog.dirty(conn)
        if full or not state or queries.meta(conn, "feed_options") != digest:
            slugs = {ALL, *catalog.known_slugs(conn), *state}
        else:
            slugs = {*marks, *(slug for slug, known in state.items() if not files_same(options, slug, known))}
    return StorePlan(slugs, marks, state, digest)


def store_feeds(store: Any, options: BuildOptions, slugs: Iterable[str]) -> Iterator[Feed]:
    """Each planned feed with its newest entries, one indexed query a feed, read as the build goes."""
    from feeds import catalog

    for slug in sorted(slugs):
        if not options.publishers and slug.startswith(PUBLISHER_PREFIX):
            continue
        with store.reader() as conn:
            entries = [story.as_dict() for story in catalog.latest(conn, slug, options.max_entries)]
        if entries or slug == ALL:
            title = catalog.feed_title(slug, entries[0], options.rules, options.site_title) if entries else f"{options.site_title}: all articles"
            yield Feed(slug, title, entries)
