"""Deduplicate → Store: the item pipeline (ITEM_PIPELINES), each stage a small class whose store work runs on the
writer's thread. The stages before them, which need no store, are in crawler/cleaning.py and run in the page pool."""

from __future__ import annotations

import logging

from scrapy.exceptions import DropItem, NotConfigured
from sqlalchemy.exc import IntegrityError

from crawler.canonical import match_key
from crawler.cleaning import content_hash
from crawler.dedup import FULLER_BY, SAME_TEXT, NearSignature, compare, exact_fingerprint, looks_truncated, near_signature, probe_keys
from crawler.items import Article
from crawler.store import queries, story_id_for, utcnow
from crawler.writer import StoreWriter

__all__ = ["DeduplicatePipeline", "StorePipeline"]

logger = logging.getLogger(__name__)

NEAR_CANDIDATE = 0.3  # an LSH candidate whose estimated Jaccard is below this is not worth verifying
MAX_CANDIDATES = 32  # candidates taken per index (most shared LSH bands; latest title/lead matches): a bounded check


class _BatchStage:
    """A stage that reads and writes through the crawl's store batch, on the writer's thread (crawler/writer.py):
    `process_item` awaits it there; the synchronous part (`deduplicate`, `store`) is what runs on it."""

    def __init__(self, writer: StoreWriter, stats):
        self.writer = writer
        self.batch = writer.batch
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler):
        if not crawler.settings.get("REFEED_STORE_URL"):
            raise NotConfigured("no REFEED_STORE_URL")
        return cls(StoreWriter.for_crawler(crawler), crawler.stats)

    def in_savepoint(self, stage, item: Article, last: bool) -> Article:
        """(On the writer's thread.) `stage(item)` in a savepoint of its own, with the page's validators when the
        item ends here (`last`, or dropped): undone together when the stage fails, so that a page not stored is
        not remembered as unchanged. A DropItem is no failure: what the stage wrote for it (a duplicate's URLs,
        merged into the story) is kept."""
        dropped = None
        with self.batch.article(ends=False):
            try:
                item = stage(item)
            except DropItem as exc:
                dropped = exc
            if last or dropped is not None:
                self.writer.write_validators(*(item.validators or (None, None, None)))
        if last or dropped is not None:  # the item ends here: its transaction is committed when due
            self.batch.done()
        if dropped is not None:
            raise dropped
        return item


class DeduplicatePipeline(_BatchStage):
    """Layers, cheapest first: a known URL (any spelling), the same text, then the same story told with small
    differences (near-identical text, a teaser of it, boilerplate or edits around it, verified on the exact words);
    duplicates merge into the earliest story. A changed page at a story's own URL is a correction, and a full text
    of a stored teaser completes it: both go on to Store as in-place updates.

    Store's write follows the check in the same job on the writer's thread (see StoreWriter): no other item is
    checked in between.
    """

    def open_spider(self) -> None:
        self.writer.start()

    async def process_item(self, item: Article) -> Article:
        return await self.writer.check(self.check, item)

    def check(self, item: Article) -> Article:
        """(On the writer's thread.) `deduplicate` in the item's first savepoint."""
        return self.in_savepoint(self.deduplicate, item, False)

    def deduplicate(self, item: Article) -> Article:
        conn = self.batch.conn
        if item.signature is None:  # the page pool computes them beside extraction
            item.fingerprint = exact_fingerprint(item.title, item.content_text)
            item.signature = near_signature(item.content_text)
        self.batch.serialize()  # on a shared store: no other worker stores a story between this check and its write
        for url in item.urls:
            story_id = queries.story_for_url(conn, url)
            if story_id:
                story = queries.get_story(conn, story_id)
                # (a pruned story is past keep_days: its page showing up again is no correction, it stays pruned)
                if match_key(story.url) == match_key(item.url) and story.content_hash != content_hash(item) and story.pruned is None:
                    return self._update(story, item)
                self._merge(story, item, f"duplicate of {story_id} (same URL {url})")
        story_id = queries.story_for_fingerprint(conn, item.fingerprint) if item.fingerprint else None
        if story_id:
            self._merge(queries.get_story(conn, story_id), item, f"duplicate of {story_id} (same text)")
        found = self._nearest(item)
        if found:
            story, match = found
            if match.longer >= match.shorter + FULLER_BY and len(item.content_text) > len(story.content_text) and looks_truncated(story.content_text):
                self._add_urls(story, item)
                return self._update(story, item)
            self._merge(story, item, f"duplicate of {story.id} (near, {match})")
        return item

    def _nearest(self, item: Article):
        """The earliest stored story that `compare` finds to be this one, among LSH and title/lead-key candidates."""
        conn = self.batch.conn
        signature = item.signature
        bands = signature.bands if signature is not None else []
        near, leads = queries.candidates(conn, bands, probe_keys(item.title, item.content_text), MAX_CANDIDATES)
        candidates: dict[str, float] = {}
        for story_id, _title, blob in near:  # (none without a signature: no bands)
            if blob and signature is not None and (similarity := signature.similarity(NearSignature.from_bytes(blob))) >= NEAR_CANDIDATE:
                candidates[story_id] = similarity
        for story_id in leads:
            candidates.setdefault(story_id, 0.0)
        for story in sorted(queries.get_stories(conn, candidates), key=lambda s: (s.first_seen, s.id)):
            if story.pruned is not None:  # its text is gone (keep_days): its signature alone tells the same text
                if candidates[story.id] >= SAME_TEXT:
                    self._merge(story, item, f"duplicate of {story.id} (near a pruned story, estimated jaccard={candidates[story.id]:.2f})")
                continue
            match = compare(story.title, story.content_text, item.title, item.content_text)
            if match:
                return story, match
        return None

    def _update(self, story, item: Article) -> Article:
        item.story_id = story.id
        item.correction = True
        return item

    def _add_urls(self, story, item: Article) -> list[str]:
        now = utcnow()
        return [url for url in item.urls if queries.add_url(self.batch.conn, story.id, url, now)]

    def _merge(self, story, item: Article, reason: str):
        """Add what the copy knows (its URLs, publisher, topics) to the story, then drop the copy."""
        conn = self.batch.conn
        added = self._add_urls(story, item)
        publishers = list(story.publishers)
        if item.publisher and item.publisher not in publishers:
            publishers.append(item.publisher)
        topics = list(dict.fromkeys([*story.topics, *item.topics]))
        if publishers != list(story.publishers) or topics != list(story.topics):
            queries.update_story(conn, story.id, {"publishers": publishers, "topics": topics})
        if added or publishers != list(story.publishers) or topics != list(story.topics):
            self.batch.wrote()
        self.stats.inc_value("refeed/duplicates")
        raise DropItem(reason)


class StorePipeline(_BatchStage):
    """Insert a new story, or update a corrected one in place (same id, newer `updated`).

    On a shared store the writes of one item have their own savepoint: when a concurrent worker stored the
    same story (or one of its URLs) first, they are undone and the item is deduplicated again, into that story.

    Its write runs on the writer's thread right after Deduplicate's check, in the same job; `process_item` takes
    its outcome. So nothing may come between the two in ITEM_PIPELINES.
    """

    def __init__(self, writer: StoreWriter, stats):
        super().__init__(writer, stats)
        writer.follow_checks_with(self.write)

    async def close_spider(self) -> None:
        await self.writer.close()  # the crawl ends once its last batch is committed

    async def process_item(self, item: Article) -> Article:
        item = await self.writer.written(self.write, item)
        self.stats.inc_value("refeed/updated" if item.correction else "refeed/new")  # counted once it is in the batch
        return item

    def write(self, item: Article) -> Article:
        """(On the writer's thread.) `store` in the item's last savepoint, with its page's validators."""
        return self.in_savepoint(self.store, item, True)

    def store(self, item: Article) -> Article:
        try:
            with self.batch.savepoint():
                self._write(item)
        except IntegrityError as exc:
            logger.info("%s: stored meanwhile by another worker (%s); deduplicating it again", item.url, type(exc.orig).__name__)
            self.stats.inc_value("refeed/conflicts")
            item.story_id, item.correction = None, False
            item = DeduplicatePipeline(self.writer, self.stats).deduplicate(item)  # DropItem when it is a duplicate now
            try:
                with self.batch.savepoint():
                    self._write(item)
            except IntegrityError as again:
                raise DropItem(f"not stored: {item.url} collides with concurrent writes ({type(again.orig).__name__})") from None
        self.batch.wrote()
        return item

    def _write(self, item: Article) -> None:
        conn = self.batch.conn
        now = utcnow()
        values = {
            "title": item.title,
            "publisher": item.publisher,
            "authors": item.authors,
            "language": item.language,
            "summary": item.summary,
            "content_html": item.content_html,
            "content_text": item.content_text,
            "image": item.image,
            "image_caption": item.image_caption,
            "fingerprint": item.fingerprint,
            "content_hash": content_hash(item),
            "signature": item.signature.to_bytes() if item.signature is not None else None,
        }
        bands = item.signature.bands if item.signature is not None else []
        if item.correction and item.story_id is not None:  # Deduplicate names the story a correction changes
            story = queries.get_story(conn, item.story_id)
            updated = item.updated if item.updated and item.updated > story.updated else max(now, story.updated)
            if match_key(story.url) != match_key(item.url):  # a full text completing a teaser: the story's publisher stays
                values["publisher"] = story.publisher or item.publisher
            publishers = list(dict.fromkeys([*story.publishers, *([item.publisher] if item.publisher else [])]))
            topics = list(dict.fromkeys([*story.topics, *item.topics]))
            queries.update_story(conn, story.id, {**values, "updated": updated, "publishers": publishers, "topics": topics})
            queries.replace_bands(conn, story.id, bands)
            queries.replace_lead_keys(conn, story.id, item.title, item.content_text)
            for url in item.urls:
                queries.add_url(conn, story.id, url, now)
            logger.info("updated %s in place: %s", story.id, item.url)
        else:
            published = item.published or now
            updated = max(item.updated or published, published)
            story_id = story_id_for(item.url)
            row = {
                **values,
                "id": story_id,
                "url": item.url,
                "site": item.site,
                "published": published,
                "updated": updated,
                "first_seen": now,
                "publishers": [item.publisher] if item.publisher else [],
                "topics": item.topics,
            }
            queries.insert_story(conn, row, bands)
            for url in item.urls[1:]:
                queries.add_url(conn, story_id, url, now)
            item.story_id = story_id
