"""Clean → Sanitize → Canonicalize → Deduplicate → Store: each stage a small class."""

from __future__ import annotations

import hashlib
import logging
import time
import unicodedata

import nh3
from lxml import etree, html as lxml_html
from scrapy.exceptions import DropItem
from twisted.internet import task

from crawler.canonical import canonicalize
from crawler.dedup import exact_fingerprint, near_signature, title_similarity, NearSignature
from crawler.extract import is_boilerplate
from crawler.items import Article
from crawler.store import Store, story_id_for, utcnow
from feeds.topics import slugify

__all__ = [
    "Batch",
    "CanonicalizePipeline",
    "CleanPipeline",
    "DeduplicatePipeline",
    "SanitizePipeline",
    "StorePipeline",
    "sanitize_html",
]

logger = logging.getLogger(__name__)

NEAR_DUPLICATE = 0.8  # estimated Jaccard of 5-word shingles above which two texts are one story
NEAR_WITH_TITLE = 0.5  # …or above this when the titles agree too
TITLE_AGREES = 0.5


def _normal(text: str | None) -> str:
    return unicodedata.normalize("NFC", " ".join((text or "").split()))


class CleanPipeline:
    """Whitespace and Unicode NFC everywhere; boilerplate blocks out; sections and topics as slugs."""

    def process_item(self, item: Article) -> Article:
        item.title = _normal(item.title)
        item.summary = _normal(item.summary)
        item.image_caption = _normal(item.image_caption) or None
        item.publisher = _normal(item.publisher) or None
        item.authors = [a for a in dict.fromkeys(_normal(a) for a in item.authors) if a]
        blocks = []
        for block in _fragments(item.content_html):
            text = _normal(block.text_content())
            if text and not is_boilerplate(text):
                blocks.append((etree.tostring(block, encoding="unicode", method="html", with_tail=False), text))
        if not item.title:
            raise DropItem(f"no title at {item.url}")
        if not blocks:
            raise DropItem(f"no article text at {item.url}")
        item.content_html = "\n".join(markup for markup, _ in blocks)
        item.content_text = "\n\n".join(text for _, text in blocks)
        topics = [slugify(t) for t in item.topics]
        item.topics = [t for t in dict.fromkeys(topics) if t and t != "all"]
        return item


def _fragments(markup: str) -> list:
    if not markup.strip():
        return []
    return [f for f in lxml_html.fragments_fromstring(markup) if isinstance(f, etree._Element)]


ALLOWED_TAGS = {
    "p", "br", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "blockquote", "q", "cite", "pre", "code",
    "a", "img", "figure", "figcaption", "table", "thead", "tbody", "tfoot", "tr", "th", "td", "caption",
    "em", "strong", "b", "i", "u", "s", "sub", "sup", "small", "mark", "abbr", "time", "hr", "dl", "dt", "dd",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "abbr": {"title"},
    "time": {"datetime"},
    "th": {"colspan", "rowspan", "scope"},
    "td": {"colspan", "rowspan"},
    "blockquote": {"cite"},
    "q": {"cite"},
}


def sanitize_html(markup: str) -> str:
    return nh3.clean(
        markup,
        tags=ALLOWED_TAGS,
        clean_content_tags={"script", "style", "iframe", "object", "embed", "noscript", "template", "svg", "math"},
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="nofollow noopener noreferrer",
        strip_comments=True,
    )


class SanitizePipeline:
    """content_html through nh3 with an allowlist fit for feeds; only http(s) images."""

    def process_item(self, item: Article) -> Article:
        item.content_html = sanitize_html(item.content_html)
        if item.image and not item.image.startswith(("http://", "https://")):
            item.image = None
        return item


class CanonicalizePipeline:
    """item.url becomes the canonical URL (rel=canonical when on the same site); every spelling goes to item.urls."""

    def process_item(self, item: Article) -> Article:
        fetched = canonicalize(item.url)
        canonical = canonicalize(item.canonical_url) if item.canonical_url else fetched
        if not canonical.startswith(("http://", "https://")):
            canonical = fetched
        item.url = canonical
        item.urls = list(dict.fromkeys([canonical, fetched, *(canonicalize(u) for u in item.urls)]))
        return item


class Batch:
    """One open transaction shared by Deduplicate and Store, committed every `max_items` or `max_seconds`."""

    def __init__(self, store: Store, max_items: int = 50, max_seconds: float = 1.0):
        self.store = store
        self.max_items = max_items
        self.max_seconds = max_seconds
        self.conn = store.connect()
        self.pending = 0
        self.opened = time.monotonic()
        self.conn.begin()
        self._timer = task.LoopingCall(self.commit_if_due)

    @classmethod
    def for_crawler(cls, crawler) -> Batch:
        batch = getattr(crawler, "_refeed_batch", None)
        if batch is None:
            settings = crawler.settings
            store = Store(settings.get("REFEED_STORE_URL"))
            batch = cls(store, settings.getint("REFEED_BATCH_ITEMS", 50), settings.getfloat("REFEED_BATCH_SECONDS", 1.0))
            crawler._refeed_batch = batch
        return batch

    def start(self) -> None:
        if not self._timer.running:
            self._timer.start(self.max_seconds, now=False)

    def wrote(self) -> None:
        self.pending += 1
        self.commit_if_due()

    def commit_if_due(self) -> None:
        if self.pending and (self.pending >= self.max_items or time.monotonic() - self.opened >= self.max_seconds):
            self.commit()

    def commit(self) -> None:
        self.conn.commit()
        if self.pending:
            logger.debug("committed %d stored articles", self.pending)
        self.pending = 0
        self.opened = time.monotonic()
        self.conn.begin()

    def close(self) -> None:
        if self._timer.running:
            self._timer.stop()
        if self.conn.closed:
            return
        self.conn.commit()
        self.conn.close()
        self.store.close()


def content_hash(item: Article) -> str:
    return hashlib.sha1(f"{item.title}\n{item.content_html}".encode("utf-8")).hexdigest()


class _BatchStage:
    """A stage that reads and writes through the crawl's shared Batch."""

    def __init__(self, batch: Batch, stats):
        self.batch = batch
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler):
        return cls(Batch.for_crawler(crawler), crawler.stats)


class DeduplicatePipeline(_BatchStage):
    """Layers, cheapest first: a known URL, the same text, a near-identical text; duplicates merge into the story."""

    def open_spider(self) -> None:
        self.batch.start()

    def process_item(self, item: Article) -> Article:
        conn = self.batch.conn
        item.fingerprint = exact_fingerprint(item.title, item.content_text)
        item.signature = near_signature(item.content_text)
        for url in item.urls:
            story_id = Store.story_for_url(conn, url)
            if story_id:
                story = Store.get_story(conn, story_id)
                if story.url == item.url and story.content_hash != content_hash(item):
                    item.story_id = story_id
                    item.correction = True
                    return item
                self._merge(story, item, f"duplicate of {story_id} (same URL {url})")
        story_id = Store.story_for_fingerprint(conn, item.fingerprint)
        if story_id:
            self._merge(Store.get_story(conn, story_id), item, f"duplicate of {story_id} (same text)")
        if item.signature is not None:
            best = self._nearest(item)
            if best:
                story, score = best
                self._merge(story, item, f"duplicate of {story.id} (near, jaccard={score:.2f})")
        return item

    def _nearest(self, item: Article):
        conn = self.batch.conn
        for story_id, title, blob in Store.near_candidates(conn, item.signature.bands):
            if not blob:
                continue
            score = item.signature.similarity(NearSignature.from_bytes(blob))
            if score >= NEAR_DUPLICATE or (score >= NEAR_WITH_TITLE and title_similarity(title, item.title) >= TITLE_AGREES):
                return Store.get_story(conn, story_id), score
        return None

    def _merge(self, story, item: Article, reason: str):
        """Add what the copy knows (its URLs, publisher, topics) to the story, then drop the copy."""
        conn = self.batch.conn
        now = utcnow()
        added = [url for url in item.urls if Store.add_url(conn, story.id, url, now)]
        publishers = list(story.publishers)
        if item.publisher and item.publisher not in publishers:
            publishers.append(item.publisher)
        topics = list(dict.fromkeys([*story.topics, *item.topics]))
        if publishers != list(story.publishers) or topics != list(story.topics):
            Store.update_story(conn, story.id, {"publishers": publishers, "topics": topics})
        if added or publishers != list(story.publishers) or topics != list(story.topics):
            self.batch.wrote()
        self.stats.inc_value("refeed/duplicates")
        raise DropItem(reason)


class StorePipeline(_BatchStage):
    """Insert a new story, or update a corrected one in place (same id, newer `updated`)."""

    def close_spider(self) -> None:
        self.batch.close()

    def process_item(self, item: Article) -> Article:
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
        if getattr(item, "correction", False):
            story = Store.get_story(conn, item.story_id)
            updated = item.updated if item.updated and item.updated > story.updated else max(now, story.updated)
            Store.update_story(conn, story.id, {**values, "updated": updated, "topics": list(dict.fromkeys([*story.topics, *item.topics]))})
            Store.replace_bands(conn, story.id, bands)
            for url in item.urls:
                Store.add_url(conn, story.id, url, now)
            self.stats.inc_value("refeed/updated")
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
            Store.insert_story(conn, row, bands)
            for url in item.urls[1:]:
                Store.add_url(conn, story_id, url, now)
            item.story_id = story_id
            self.stats.inc_value("refeed/new")
        self.batch.wrote()
        return item
