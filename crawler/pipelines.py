"""Clean → Sanitize → Canonicalize → Deduplicate → Store: each stage a small class."""

from __future__ import annotations

import hashlib
import logging
import re
import unicodedata
from html import escape
from urllib.parse import urljoin, urlsplit

import nh3
from lxml import etree
from lxml import html as lxml_html
from scrapy.exceptions import DropItem, NotConfigured
from sqlalchemy.exc import IntegrityError

from crawler.canonical import canonicalize, match_key
from crawler.dedup import FULLER_BY, SAME_TEXT, NearSignature, compare, exact_fingerprint, looks_truncated, near_signature, probe_keys
from crawler.extract.text import is_boilerplate
from crawler.items import Article
from crawler.store import queries, story_id_for, utcnow
from crawler.urlpolicy import same_site
from crawler.writer import StoreWriter
from feeds.topics import slugify

__all__ = [
    "CanonicalizePipeline",
    "CleanPipeline",
    "DeduplicatePipeline",
    "SanitizePipeline",
    "StorePipeline",
    "sanitize_html",
]

logger = logging.getLogger(__name__)

NEAR_CANDIDATE = 0.3  # an LSH candidate whose estimated Jaccard is below this is not worth verifying
MAX_CANDIDATES = 32  # candidates taken per index (most shared LSH bands; latest title/lead matches): a bounded check


MAX_ARTICLE_CHARS = 200_000  # article text beyond this is cut at a block boundary (REFEED_MAX_ARTICLE_CHARS)
# C0 controls but \t \n \r, DEL and C1 controls, lone surrogates, U+FFFE/U+FFFF: nothing a feed can carry.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def _normal(text: str | None) -> str:
    return unicodedata.normalize("NFC", " ".join(_CONTROL.sub(" ", text or "").split()))


class CleanPipeline:
    """Control characters out, whitespace and Unicode NFC everywhere; boilerplate blocks out; text cut to
    `max_chars` at a block boundary; sections and topics as slugs."""

    def __init__(self, max_chars: int = MAX_ARTICLE_CHARS):
        self.max_chars = max_chars

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler.settings.getint("REFEED_MAX_ARTICLE_CHARS", MAX_ARTICLE_CHARS))

    def process_item(self, item: Article) -> Article:
        item.title = _normal(item.title)
        item.summary = _normal(item.summary)
        item.image_caption = _normal(item.image_caption) or None
        item.publisher = _normal(item.publisher) or None
        item.authors = [a for a in dict.fromkeys(_normal(a) for a in item.authors) if a]
        blocks = []
        for block in _fragments(_CONTROL.sub(" ", item.content_html)):
            text = _normal(block.text_content())
            if text and not is_boilerplate(text):
                blocks.append((etree.tostring(block, encoding="unicode", method="html", with_tail=False), text))
        if not item.title:
            raise DropItem(f"no title at {item.url}")
        if not blocks:
            raise DropItem(f"no article text at {item.url}")
        blocks = _cap(blocks, self.max_chars, item.url)
        item.content_html = "\n".join(markup for markup, _ in blocks)
        item.content_text = "\n\n".join(text for _, text in blocks)
        topics = [slugify(t) for t in item.topics]
        item.topics = [t for t in dict.fromkeys(topics) if t and t != "all"]
        return item


def _cap(blocks: list[tuple[str, str]], limit: int, url: str) -> list[tuple[str, str]]:
    """The leading blocks whose text (joined as content_text) fits in `limit` characters. A giant block that
    would leave less than half of that kept (an endless one-line page) is kept as its text, cut at a word."""
    total = sum(len(text) for _, text in blocks) + 2 * (len(blocks) - 1)
    if total <= limit:
        return blocks
    kept: list[tuple[str, str]] = []
    size = 0
    for markup, text in blocks:
        room = limit - size - (2 if kept else 0)
        if len(text) <= room:
            kept.append((markup, text))
            size += len(text) + (2 if len(kept) > 1 else 0)
            continue
        if size < limit // 2:
            cut = text[:room]
            space = cut.rfind(" ")
            cut = cut[:space] if space > room // 2 else cut
            kept.append((f"<p>{escape(cut, quote=False)}</p>", cut))
            size += len(cut) + (2 if len(kept) > 1 else 0)
        break
    logger.info("cut %s: article text of %d characters to %d (REFEED_MAX_ARTICLE_CHARS)", url, total, size)
    return kept


def _fragments(markup: str) -> list:
    if not markup.strip():
        return []
    # elements only: leading text, comments and processing instructions are no blocks
    fragments = lxml_html.fragments_fromstring(markup, parser=_HUGE)
    return [f for f in fragments if isinstance(f, etree._Element) and isinstance(f.tag, str)]


_HUGE = lxml_html.HTMLParser(huge_tree=True)  # as parsel parses pages: deep nesting (300 tables) is no reason to lose text


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
REMOVED_WITH_CONTENT = {
    "script", "style", "iframe", "object", "embed", "applet", "noscript", "noembed", "noframes", "template", "svg", "math",
    "xmp", "plaintext", "frameset",
}


URL_ATTRIBUTES = {"href", "src", "cite"}
_IMAGE_DATA = re.compile(r"^data:image/(?:png|gif|jpeg|jpg|webp|avif|bmp)[;,]", re.I)
_URL_JUNK = re.compile(r"[\t\n\r]")  # browsers drop these anywhere in a URL…
_URL_EDGE = "".join(map(chr, range(0x21)))  # …and C0 controls and spaces at its ends


def sanitize_html(markup: str, base_url: str | None = None) -> str:
    """Only the allowlist survives; URLs are http(s) (links also mailto), made absolute against ``base_url``;
    ``data:`` only as an ``<img src>`` of a raster image type; every link gets rel="nofollow noopener noreferrer"."""

    def urls(tag: str, attribute: str, value: str) -> str | None:
        if attribute not in URL_ATTRIBUTES:
            return value
        value = _URL_JUNK.sub("", value).strip(_URL_EDGE)
        scheme = urlsplit(value).scheme.lower()
        if scheme == "data":
            return value if tag == "img" and attribute == "src" and _IMAGE_DATA.match(value) else None
        if not scheme and base_url and base_url.startswith(("http://", "https://")):
            value = urljoin(base_url, value)
            scheme = urlsplit(value).scheme.lower()
        if scheme in ("http", "https") or not scheme or (scheme == "mailto" and tag == "a"):
            return value
        return None

    return nh3.clean(
        markup,
        tags=ALLOWED_TAGS,
        clean_content_tags=REMOVED_WITH_CONTENT,
        attributes=ALLOWED_ATTRIBUTES,
        attribute_filter=urls,
        url_schemes={"http", "https", "mailto", "data"},
        link_rel="nofollow noopener noreferrer",
        strip_comments=True,
    )


class SanitizePipeline:
    """content_html through nh3 with an allowlist fit for feeds, links and images absolute; only http(s) images."""

    def process_item(self, item: Article) -> Article:
        item.content_html = sanitize_html(item.content_html, item.url)
        if item.image and not item.image.startswith(("http://", "https://")):
            item.image = None
        return item


class CanonicalizePipeline:
    """item.url becomes the canonical URL (rel=canonical when on the page's own host and port); every spelling
    goes to item.urls. A page naming a URL of another site as its canonical is not let to speak for that site's
    story (it would replace it in place): it stays at the URL it was fetched at."""

    def process_item(self, item: Article) -> Article:
        fetched = canonicalize(item.url)
        try:
            canonical = canonicalize(item.canonical_url) if item.canonical_url else fetched
        except ValueError:  # "http://x:99999/"
            canonical = fetched
        if not canonical.startswith(("http://", "https://")) or not same_site(canonical, fetched):
            if canonical != fetched:
                logger.info("rel=canonical %s of %s ignored: another site", canonical[:300], fetched)
            canonical = fetched
        item.url = canonical
        item.urls = list(dict.fromkeys([canonical, fetched, *(canonicalize(u) for u in item.urls)]))
        return item


def content_hash(item: Article) -> str:
    return content_hash_of(item.title, item.content_html)


def content_hash_of(title: str, content_html: str) -> str:
    """What tells a corrected page from the stored one: its title and HTML, hashed."""
    return hashlib.sha1(f"{title}\n{content_html}".encode()).hexdigest()


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

    The item keeps the crawl's turn at the store until Store has written it (see StoreWriter): no other item is
    checked in between.
    """

    def open_spider(self) -> None:
        self.writer.start()

    async def process_item(self, item: Article) -> Article:
        await self.writer.take_turn()
        try:
            return await self.writer.run(self.in_savepoint, self.deduplicate, item, False)
        except BaseException:  # dropped or failed: it goes no further, the next item's turn
            self.writer.give_turn()
            raise

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
    """

    async def close_spider(self) -> None:
        await self.writer.close()  # the crawl ends once its last batch is committed

    async def process_item(self, item: Article) -> Article:
        try:
            item = await self.writer.run(self.in_savepoint, self.store, item, True)
        finally:
            self.writer.give_turn()
        self.stats.inc_value("refeed/updated" if item.correction else "refeed/new")  # counted once it is in the batch
        return item

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
