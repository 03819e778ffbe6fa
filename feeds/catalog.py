"""The feed index in the store: each story's feeds kept as stories change, a feed's newest entries in one query."""

from __future__ import annotations

import hashlib
import logging
import random
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.engine import Connection

from crawler.store import EXPORT_KEYS, Store, changed_stories, dirty_feeds, meta, queries, source_feeds, stories, story_topics
from feeds.topics import ALL, PUBLISHER_TITLE, TopicRule, publisher_slug, publishers_of, topic_title, topics_of

__all__ = ["Story", "latest", "take_in", "dirty", "clean", "known_slugs", "feed_title", "rules_digest"]

logger = logging.getLogger(__name__)

CHUNK = 500  # stories taken in per transaction: memory stays flat, a concurrent writer waits little
FEEDS_PER_SOURCE = 100  # feeds of its own (sections, publishers) one source may make
_FEED_KEYS = tuple(key for key in EXPORT_KEYS if key != "urls")  # what a feed shows of a story


@dataclass(frozen=True)
class Story:
    """A stored story as the feeds show it (the export keys but `urls`); datetimes aware UTC."""

    id: str
    url: str
    title: str
    published: datetime
    updated: datetime
    site: str
    publisher: str | None
    authors: list[str]
    topics: list[str]
    language: str | None
    summary: str
    content_html: str
    content_text: str
    image: str | None
    image_caption: str | None

    @classmethod
    def from_row(cls, row) -> Story:
        return cls(**{key: getattr(row, key) for key in _FEED_KEYS})

    def as_dict(self) -> dict:
        return {key: getattr(self, key) for key in _FEED_KEYS}


def rules_digest(rules: Iterable[TopicRule]) -> str:
    """What decides the keyword topics: a change of it means every story's feeds are decided again."""
    return hashlib.sha1(repr(tuple(rules)).encode()).hexdigest()


def rule_feeds(story: dict, rules: tuple[TopicRule, ...]) -> set[str]:
    """The [[topic]] feeds whose keywords the story names."""
    return set(topics_of({**story, "topics": []}, rules))


def own_feeds(story: dict) -> set[str]:
    """The feeds a story's source decides: its sections (and the source's topics) and its original publisher's."""
    slugs = set(topics_of(story))
    slugs.update(slug for slug in map(publisher_slug, publishers_of(story)) if slug)
    return slugs


def feed_title(slug: str, newest: dict, rules: tuple[TopicRule, ...], site_title: str) -> str:
    """A feed's title: the topic's, or "Publisher: <name>" as its newest entry spells the publisher."""
    if slug == ALL:
        return f"{site_title}: all articles"
    if slug not in topics_of(newest, rules):
        for name in publishers_of(newest):
            if publisher_slug(name) == slug:
                return PUBLISHER_TITLE + name
    return topic_title(slug, rules)


_LATEST = (
    select(stories)
    .join(story_topics, story_topics.c.story_id == stories.c.id)
    .where(story_topics.c.slug == bindparam("slug"))
    .order_by(story_topics.c.published.desc(), story_topics.c.story_id)
    .limit(bindparam("n"))
)


def latest(conn: Connection, slug: str, n: int) -> list[Story]:
    """The newest `n` stories of a feed, newest first (ties by id): one range of an index, whatever the store holds."""
    if n <= 0:
        return []
    return [Story.from_row(row) for row in conn.execute(_LATEST, {"slug": slug, "n": n})]


def dirty(conn: Connection) -> dict[str, int]:
    """Feeds whose entries may have changed since the last build, with the mark that tells a later change."""
    return dict(conn.execute(select(dirty_feeds.c.slug, dirty_feeds.c.mark)).all())


def clean(store: Store, marks: dict[str, int]) -> None:
    """These feeds are built: forget them unless a story changed them again meanwhile (a new mark)."""
    items = list(marks.items())

    def forget(conn):
        for start in range(0, len(items), CHUNK):
            conn.execute(
                delete(dirty_feeds).where(dirty_feeds.c.slug == bindparam("s"), dirty_feeds.c.mark == bindparam("m")),
                [{"s": slug, "m": mark} for slug, mark in items[start:start + CHUNK]],
            )

    if items:
        store._write(forget)


def known_slugs(conn: Connection) -> list[str]:
    """Every feed with an entry (reads the whole index: for a first or a full build only)."""
    return list(conn.execute(select(story_topics.c.slug).distinct().order_by(story_topics.c.slug)).scalars())


def _mark(conn: Connection, slugs: Iterable[str]) -> None:
    rows = [{"slug": slug, "mark": random.getrandbits(63)} for slug in sorted(slugs)]
    if rows:
        conn.execute(queries.upserts(conn).dirty, rows)


_ROWS = select(
    stories.c.id, stories.c.site, stories.c.title, stories.c.content_text, stories.c.topics, stories.c.publisher, stories.c.published,
    stories.c.pruned,
)
_INSERT = story_topics.insert()
_KNOWN_FEED = source_feeds.insert()
_FORGET_CHANGE = delete(changed_stories).where(changed_stories.c.story_id == bindparam("s"), changed_stories.c.mark == bindparam("m"))
_DELETE = delete(story_topics).where(story_topics.c.story_id == bindparam("s"), story_topics.c.slug == bindparam("t"))
_REDATE = (
    update(story_topics).where(story_topics.c.story_id == bindparam("s")).values(published=bindparam("p")).execution_options(synchronize_session=False)
)


def _index(conn: Connection, rows: list, rules: tuple[TopicRule, ...], all_dirty: bool, told: set[str]) -> None:
    """Bring the feed index of these stories up to date; mark the feeds that gained, lost or (all_dirty) hold one."""
    if not rows:
        return
    ids = [row.id for row in rows]
    held: dict[str, dict[str, datetime]] = {story_id: {} for story_id in ids}
    if ids:
        query = select(story_topics).where(story_topics.c.story_id.in_(bindparam("ids", expanding=True)))
        for link in conn.execute(query, {"ids": ids}):
            held[link.story_id][link.slug] = link.published
    inserts, deletes, redates, marked = [], [], [], set()
    limit = _SourceLimit(conn, {row.site for row in rows}, told)
    for row in rows:
        story = {"title": row.title, "content_text": row.content_text, "topics": row.topics, "publisher": row.publisher}
        have = held[row.id]
        if row.pruned is not None:
            wanted = set()
        else:
            chosen = {ALL, *rule_feeds(story, rules)}
            wanted = chosen | own_feeds(story)
            wanted -= limit.refused(row.site, wanted - chosen - have.keys())
        inserts += [{"story_id": row.id, "slug": slug, "published": row.published} for slug in wanted - have.keys()]
        deletes += [{"s": row.id, "t": slug} for slug in have.keys() - wanted]
        moved = any(when != row.published for slug, when in have.items() if slug in wanted)  # within its feeds
        if moved:
            redates.append({"s": row.id, "p": row.published})
        marked |= (wanted | have.keys()) if all_dirty or moved else (wanted ^ have.keys())
    limit.save()
    if deletes:
        conn.execute(_DELETE, deletes)
    if redates:
        conn.execute(_REDATE, redates)
    if inserts:
        conn.execute(_INSERT, inserts)
    _mark(conn, marked)


class _SourceLimit:
    """At most FEEDS_PER_SOURCE feeds of its own (sections, publishers) a source can make: a site that gives every
    page a section of its own (or a hostile one) does not fill the index page. Told once a source and run."""

    def __init__(self, conn: Connection, sites: set[str], told: set[str]):
        self.conn, self.told = conn, told
        self.made: dict[str, set[str]] = {site: set() for site in sites}
        query = select(source_feeds).where(source_feeds.c.site.in_(bindparam("sites", expanding=True)))
        for row in conn.execute(query, {"sites": sorted(sites)}):
            self.made[row.site].add(row.slug)
        self.new: list[dict] = []

    def refused(self, site: str, slugs: set[str]) -> set[str]:
        """Those of `slugs` (new to the story) the source may not make; the others are now its feeds."""
        made, refused = self.made[site], set()
        for slug in sorted(slugs - made):
            if len(made) >= FEEDS_PER_SOURCE:
                refused.add(slug)
                continue
            made.add(slug)
            self.new.append({"site": site, "slug": slug})
        if refused and site not in self.told:
            self.told.add(site)
            logger.warning("source %s has made %d feeds of its own (sections, publishers): no more (%s … left out)",
                           site, FEEDS_PER_SOURCE, ", ".join(sorted(refused)[:3]))
        return refused

    def save(self) -> None:
        if self.new:
            self.conn.execute(_KNOWN_FEED, self.new)


def take_in(store: Store, rules: Iterable[TopicRule], progress: Callable[[str], None] | None = None) -> int:
    """Decide the feeds of every story stored or updated since the last call, and of every story when the topic
    rules changed since (a store upgraded from an earlier version has none recorded). Marks the feeds that changed.
    Works in chunks of CHUNK stories, each its own transaction: memory stays flat, a kill loses no decision made.
    Returns how many stories it looked at."""
    rules = tuple(rules)
    digest = rules_digest(rules)
    done, told = 0, set[str]()  # told: the sources that hit FEEDS_PER_SOURCE, warned about once
    with store.reader() as conn:
        recorded = conn.execute(select(meta.c.value).where(meta.c.key == "topic_rules")).scalar()
    if recorded != digest:
        done += _redecide_all(store, rules, progress or _stderr, told)

        def remember(conn):
            conn.execute(delete(meta).where(meta.c.key == "topic_rules"))
            conn.execute(meta.insert().values(key="topic_rules", value=digest))

        store._write(remember)
    while True:
        with store.reader() as conn:
            batch = conn.execute(select(changed_stories.c.story_id, changed_stories.c.mark).limit(CHUNK)).all()
        if not batch:
            return done

        def take(conn, batch=batch):
            rows = conn.execute(_ROWS.where(stories.c.id.in_(bindparam("ids", expanding=True))), {"ids": [b.story_id for b in batch]}).all()
            _index(conn, rows, rules, all_dirty=True, told=told)
            conn.execute(_FORGET_CHANGE, [{"s": b.story_id, "m": b.mark} for b in batch])

        store._write(take)
        done += len(batch)


def index_new(rules: Iterable[TopicRule]) -> Callable[[Connection, list[str]], None]:
    """For `import`: decide the feeds of stories it has just stored, in its own transaction, while their rows are
    at hand (call take_in first, so that the rules are recorded and nothing older waits)."""
    rules, told = tuple(rules), set[str]()

    def index(conn: Connection, ids: list[str]) -> None:
        rows = conn.execute(_ROWS.where(stories.c.id.in_(bindparam("ids", expanding=True))), {"ids": ids}).all()
        _index(conn, list(rows), rules, all_dirty=True, told=told)

    return index


def _redecide_all(store: Store, rules: tuple[TopicRule, ...], progress: Callable[[str], None], told: set[str]) -> int:
    """Every story's feeds decided again (new topic rules, or a store from before the feed index), in id order."""
    with store.reader() as conn:
        total = queries.count(conn)
    if total > CHUNK:
        progress(f"deciding the feeds of {total} stored stories (the topic rules changed)")
    after, done, started, shown = "", 0, time.monotonic(), time.monotonic()
    def chunk(conn, after: str) -> list:
        """The next stories in id order, indexed; those also waiting as changed taken in too (their feeds all
        marked, their change forgotten unless it was made again meanwhile), so that take_in does not do them twice."""
        rows = conn.execute(_ROWS.where(stories.c.id > after).order_by(stories.c.id).limit(CHUNK)).all()
        if not rows:
            return rows
        query = select(changed_stories.c.story_id, changed_stories.c.mark).where(changed_stories.c.story_id.in_(bindparam("ids", expanding=True)))
        marks = conn.execute(query, {"ids": [row.id for row in rows]}).all()
        changed = {mark.story_id for mark in marks}
        _index(conn, [row for row in rows if row.id not in changed], rules, all_dirty=False, told=told)
        _index(conn, [row for row in rows if row.id in changed], rules, all_dirty=True, told=told)
        if marks:
            conn.execute(_FORGET_CHANGE, [{"s": mark.story_id, "m": mark.mark} for mark in marks])
        return rows

    while True:
        rows = store._write(lambda conn, after=after: chunk(conn, after))
        if not rows:
            break
        after, done = rows[-1].id, done + len(rows)
        if time.monotonic() - shown >= 5:
            shown = time.monotonic()
            rate = done / (shown - started)
            progress(f"feeds decided for {done} of {total} stories ({rate:.0f}/s, about {(total - done) / rate:.0f} s left)")
    if total > CHUNK:
        progress(f"feeds decided for {done} stories in {time.monotonic() - started:.1f} s")
    return done


def _stderr(message: str) -> None:
    print(f"refeed: {message}", file=sys.stderr, flush=True)
