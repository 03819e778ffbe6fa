"""Store articles → feed files: only the changed ones, each written atomically."""

from __future__ import annotations

import hashlib
import json
import logging
import mimetypes
import os
import re
import tempfile
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

from feedgen.ext.base import BaseEntryExtension, BaseExtension
from feedgen.feed import FeedGenerator
from lxml import etree
from lxml import html as lxml_html

from feeds.index import FeedListing, render_index
from feeds.jsonfeed import JSONFEED_VERSION, render_json_feed
from feeds.opml import render_opml
from feeds.topics import (
    ALL,
    EPOCH,
    MAX_SLUG,
    PUBLISHER_PREFIX,
    Feed,
    TopicRule,
    _when,
    group_feeds,
    publisher_slug,
    publishers_of,
    topics_of,
)
from feeds.websub import ping_hub

__all__ = [
    "FORMATS",
    "BuildOptions",
    "BuildReport",
    "FeedResult",
    "build_feeds",
    "build_from_store",
    "entry_id",
    "image_type",
    "no_referrer",
    "remove_temp_files",
    "render",
    "render_atom",
    "render_rss",
    "write_feeds",
    "write_if_changed",
    "xml_safe",
]

logger = logging.getLogger(__name__)

GENERATOR = "refeed"
FORMATS = {  # format → (file suffix, media type)
    "atom": ("atom", "application/atom+xml"),
    "rss": ("rss", "application/rss+xml"),
    "json": ("json", "application/feed+json"),
}
SLUG_RE = re.compile(rf"^[a-z0-9][a-z0-9-]{{0,{MAX_SLUG - 1}}}$")
ATOM_NS = "http://www.w3.org/2005/Atom"
DEFAULT_IMAGE_TYPE = "image/jpeg"
_IMG_TAG = re.compile(r"<img\b", re.IGNORECASE)
_MARKUP = re.compile(r"<[^<>]*>")  # what a reader could take for a tag
_HUGE = lxml_html.HTMLParser(huge_tree=True)  # content nested deeper than 256 elements is still whole content
_FEED_FILE_RE = re.compile(r"^([a-z0-9][a-z0-9-]*)\.(atom|rss|json)$")
# C0 controls but \t \n \r, DEL and C1 controls, lone surrogates, U+FFFE/U+FFFF.
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
# Markers that a file of a feed-like name was written by refeed (so it may be removed).
_OWN_MARKERS = {
    "atom": f"<generator>{GENERATOR}</generator>".encode(),
    "rss": f"<generator>{GENERATOR}</generator>".encode(),
    "json": f'"version": "{JSONFEED_VERSION}"'.encode(),
}


@dataclass
class FeedResult:
    """One feed of a build: its entry count, newest update and files rewritten."""

    slug: str
    title: str
    entries: int
    updated: datetime | None
    written: list[str] = field(default_factory=list)


@dataclass
class BuildReport:
    """What a build did: every feed, and file names written, left unchanged and removed."""

    feeds: list[FeedResult] = field(default_factory=list)
    written: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    pinged: list[str] = field(default_factory=list)  # feed URLs the WebSub hub accepted a ping for


def xml_safe(value) -> str:
    """``value`` as a string without characters XML 1.0 cannot hold."""
    if value is None:
        return ""
    return _XML_ILLEGAL.sub("", str(value))


def entry_id(article_id: str) -> str:
    """The permanent entry id of a story: a name-based UUID URN."""
    return "urn:uuid:" + str(uuid.uuid5(uuid.NAMESPACE_URL, "refeed:" + str(article_id)))


def image_type(url: str) -> str:
    """The media type of an image URL, guessed from its extension; image/jpeg when unknown."""
    guessed = mimetypes.guess_type(urlsplit(url).path)[0]
    return guessed if guessed and guessed.startswith("image/") else DEFAULT_IMAGE_TYPE


def no_referrer(content_html: str) -> str:
    """``content_html`` with ``referrerpolicy="no-referrer"`` on every ``<img>``, so hotlink-protected images show."""
    if not _IMG_TAG.search(content_html):
        return content_html
    try:
        root = lxml_html.fragment_fromstring(content_html, create_parent="div", parser=_HUGE)
    except (etree.ParserError, ValueError):
        logger.debug("content left as it is: not parseable as HTML")
        return content_html
    changed = False
    for img in root.iter("img"):
        if img.get("referrerpolicy") != "no-referrer":
            img.set("referrerpolicy", "no-referrer")
            changed = True
    if not changed:
        return content_html
    return escape(root.text or "", quote=False) + "".join(
        lxml_html.tostring(child, encoding="unicode") for child in root
    )


def _figure(image: str, caption: str) -> str:
    src = escape(image, quote=True)
    alt = escape(caption, quote=True)
    figcaption = f"<figcaption>{escape(caption, quote=False)}</figcaption>" if caption else ""
    return f'<figure><img src="{src}" referrerpolicy="no-referrer" alt="{alt}">{figcaption}</figure>'


def _prepare(article: dict, rules: tuple[TopicRule, ...]) -> dict:
    """A cleaned, fully-typed view of an article that every writer can use as is."""
    url = xml_safe(article.get("url")).strip()
    summary = xml_safe(article.get("summary")).strip()
    content_text = xml_safe(article.get("content_text")).strip()
    title = " ".join(xml_safe(article.get("title")).split())
    if not title:
        title = " ".join((summary or content_text)[:80].split()) or url or "(untitled)"
    image = xml_safe(article.get("image")).strip()
    caption = " ".join(xml_safe(article.get("image_caption")).split())
    content_html = xml_safe(article.get("content_html")).strip()
    if image and image not in content_html and escape(image, quote=True) not in content_html:
        content_html = _figure(image, caption) + content_html
    content_html = xml_safe(no_referrer(content_html))
    published = _when(article.get("published"))
    updated = _when(article.get("updated")) if article.get("updated") else published
    authors = article.get("authors") or []
    if isinstance(authors, str):
        authors = [authors]
    return {
        "uid": entry_id(article.get("id") or url),
        "url": url,
        "title": title,
        "summary": summary,
        "content_html": content_html,
        "content_text": content_text,
        "image": image,
        "image_caption": caption,
        "published": published,
        "updated": max(updated, published),
        "authors": [name for name in (" ".join(xml_safe(a).split()) for a in authors) if name],
        "categories": [xml_safe(t) for t in topics_of(article, rules)],
        "publishers": [
            (name, publisher_slug(name))
            for name in (" ".join(xml_safe(p).split()) for p in publishers_of(article))
            if publisher_slug(name)
        ],
        "language": xml_safe(article.get("language")).strip() or None,
    }


def _newest(entries: list[dict]) -> datetime | None:
    return max((entry["updated"] for entry in entries), default=None)


def _common_language(entries: list[dict]) -> str | None:
    languages = {entry["language"] for entry in entries}
    return languages.pop() if len(languages) == 1 else None


class _FeedExtras(BaseExtension):
    """RSS: the WebSub hub as ``<atom:link rel="hub">`` beside the self link (feedgen writes only rel=self)."""

    def __init__(self) -> None:
        self.hub: str | None = None

    def extend_rss(self, feed):
        channel = feed.find("channel")
        if self.hub and channel is not None:
            link = etree.Element(f"{{{ATOM_NS}}}link", href=self.hub, rel="hub")
            selflink = channel.find(f"{{{ATOM_NS}}}link")
            if selflink is not None:
                selflink.addnext(link)
            else:
                channel.append(link)
        return feed


class _EntryExtras(BaseEntryExtension):
    """Atom: the image as ``<link rel="enclosure">`` (feedgen 1.0 drops rel and type from entry links)."""

    def __init__(self) -> None:
        self.enclosure: tuple[str, str] | None = None  # (url, media type)

    def extend_atom(self, entry):
        if self.enclosure:
            url, kind = self.enclosure
            link = etree.Element("link", href=url, rel="enclosure", type=kind)
            alternate = entry.find("link")
            if alternate is not None:
                alternate.addnext(link)
            else:
                entry.append(link)
        return entry


def _as_html(text: str) -> str:
    """Plain text as HTML: an RSS <description> is HTML to every reader, an Atom <summary> without a type is text."""
    return escape(text, quote=False)


def render(
    feed: Feed,
    fmt: str,
    *,
    base_url: str,
    home_url: str,
    subtitle: str,
    site_title: str,
    hub: str | None = None,
    icon: str | None = None,
) -> bytes:
    """Atom 1.0 (``fmt="atom"``) or RSS 2.0 (``fmt="rss"``) bytes for ``feed`` (prepared entries, newest first)."""
    if fmt not in ("atom", "rss"):
        raise ValueError(f"feed format {fmt!r}: render writes atom or rss (JSON Feed: feeds.jsonfeed.render_json_feed)")
    fg = FeedGenerator()
    fg.load_extension("dc", atom=False, rss=True)
    fg.load_extension("media", atom=True, rss=True)
    fg.register_extension("refeed", _FeedExtras, _EntryExtras, atom=True, rss=True)
    fg.refeed.hub = hub
    fg.id(urljoin(base_url, f"{feed.slug}.atom"))  # the feed's id in both formats
    fg.title(xml_safe(feed.title))
    fg.subtitle(xml_safe(subtitle))
    fg.author({"name": xml_safe(site_title) or GENERATOR})
    fg.link(href=urljoin(base_url, f"{feed.slug}.{fmt}"), rel="self")
    if hub:
        fg.link(href=hub, rel="hub")  # Atom; RSS gets it from _FeedExtras
    fg.link(href=home_url, rel="alternate")  # last link: feedgen uses it as the RSS <link>
    if icon:
        fg.icon(icon)
        fg.image(url=icon, title=xml_safe(feed.title), link=home_url)
    fg.generator(GENERATOR)
    newest = _newest(feed.entries) or EPOCH
    fg.updated(newest)
    fg.pubDate(newest)
    language = _common_language(feed.entries)
    if language:
        fg.language(language)
    for entry in feed.entries:  # newest first, appended in that order
        fe = fg.add_entry(order="append")
        fe.id(entry["uid"])
        # RSS titles are plain text, but readers differ (many render them as HTML): no markup-like text in them.
        fe.title((_MARKUP.sub("", entry["title"]).strip() or entry["title"].replace("<", "‹").replace(">", "›")) if fmt == "rss" else entry["title"])
        if entry["url"]:
            fe.link(href=entry["url"], rel="alternate")
        fe.published(entry["published"])
        fe.updated(entry["updated"])
        if entry["authors"]:
            fe.author([{"name": name} for name in entry["authors"]])
            fe.dc.dc_creator(list(entry["authors"]))
        if entry["categories"]:
            fe.category([{"term": term} for term in entry["categories"]])
        if entry["summary"]:
            fe.summary(_as_html(entry["summary"]) if fmt == "rss" else entry["summary"])
        if entry["content_html"]:
            fe.content(entry["content_html"], type="html")
        elif not entry["summary"]:
            text = entry["content_text"] or entry["title"]
            fe.summary(_as_html(text) if fmt == "rss" else text)
        if entry["image"]:
            kind = image_type(entry["image"])
            if fmt == "rss":
                fe.enclosure(url=entry["image"], length="0", type=kind)  # RSS requires a length; unknown → 0
            else:
                fe.refeed.enclosure = (entry["image"], kind)
            fe.media.content({"url": entry["image"], "type": kind, "medium": "image"}, group=None)
        if entry["publishers"]:
            name, slug = entry["publishers"][0]  # one source per entry (Atom allows only one)
            fe.source(url=urljoin(base_url, f"{slug}.{fmt}"), title=name)
    return fg.atom_str(pretty=True) if fmt == "atom" else fg.rss_str(pretty=True)


def render_atom(feed: Feed, **options) -> bytes:
    """Atom 1.0 bytes for ``feed``: ``render(feed, "atom", **options)``."""
    return render(feed, "atom", **options)


def render_rss(feed: Feed, **options) -> bytes:
    """RSS 2.0 bytes for ``feed``: ``render(feed, "rss", **options)``."""
    return render(feed, "rss", **options)


def write_if_changed(path: Path, data: bytes) -> bool:
    """Atomically replace ``path`` with ``data`` unless it already holds exactly that; True if written."""
    try:
        if path.read_bytes() == data:
            return False
    except FileNotFoundError:
        pass
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_dir(path.parent)
    return True


_TEMP_FILE_RE = re.compile(r"^\.(.+)\.[^.]+\.tmp$")


def remove_temp_files(out_dir: str | os.PathLike) -> list[str]:
    """Remove the temporary files a killed build left behind (`.<name>.<random>.tmp`); call with the build lock held."""
    removed: list[str] = []
    folder = Path(out_dir)
    if not folder.is_dir():
        return removed
    for path in folder.iterdir():
        if _TEMP_FILE_RE.match(path.name) and path.is_file() and not path.is_symlink():
            path.unlink(missing_ok=True)
            removed.append(path.name)
    if removed:
        logger.info("removed %d temporary files of an interrupted build", len(removed))
    return removed


def _load_state(path: Path) -> dict:
    """Per feed of the last build: the digest of its inputs, its files' size and mtime, what the index shows."""
    try:
        state = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return {}
    return state if isinstance(state, dict) else {}


def _file_mark(path: Path) -> list[int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return [stat.st_size, stat.st_mtime_ns]


def _same_file(path: Path, mark) -> bool:
    return mark is not None and _file_mark(path) == list(mark)


_code_digest: bytes | None = None


def _options_digest(*options) -> bytes:
    """The options of a build and the code that renders it: a change of either re-renders every feed."""
    global _code_digest
    if _code_digest is None:
        import feedgen

        code = hashlib.sha1(getattr(feedgen, "__version__", "").encode())
        for path in sorted(Path(__file__).parent.glob("*.py")):
            code.update(path.read_bytes())
        _code_digest = code.digest()
    return _code_digest + repr(options).encode()


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _is_ours(path: Path, fmt: str) -> bool:
    try:
        with path.open("rb") as handle:
            head = handle.read(65536)
    except OSError:
        return False
    return _OWN_MARKERS[fmt] in head


def _remove_stale(out: Path, keep: set[str], formats: tuple[str, ...]) -> list[str]:
    """Remove feed files refeed wrote for slugs that are gone (or formats now disabled)."""
    removed = []
    for path in sorted(out.iterdir()):
        match = _FEED_FILE_RE.match(path.name)
        if not match or path.name in keep or not path.is_file() or path.is_symlink():
            continue
        if not _is_ours(path, match.group(2)):
            logger.debug("not removing %s: not written by refeed", path)
            continue
        path.unlink()
        removed.append(path.name)
        logger.info("removed stale feed file %s", path.name)
    return removed


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
    def make(cls, out_dir, base_url: str, *, formats=("atom", "rss", "json"), max_entries: int = 100, rules=(), site_title="refeed",
             site_url=None, site_icon=None, websub_hub=None, publishers: bool = True) -> BuildOptions:
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


def build_feeds(
    articles: Iterable[dict],
    out_dir: str | os.PathLike,
    base_url: str,
    *,
    formats: Iterable[str] = ("atom", "rss", "json"),
    max_entries: int = 100,
    rules: Iterable[TopicRule] = (),
    site_title: str = "refeed",
    site_url: str | None = None,
    site_icon: str | None = None,
    websub_hub: str | None = None,
    publishers: bool = True,
    state_file: str | os.PathLike | None = None,
) -> BuildReport:
    """Write every feed of these articles, feeds.opml and index.html into ``out_dir``; rewrite only changed files.

    With ``websub_hub``, every feed advertises the hub (rel=hub) and the hub is pinged for each feed file
    that changed; ``site_icon`` (a URL) becomes every feed's icon. With ``state_file`` (kept outside ``out_dir``),
    a feed whose entries and options are those of the last build, and whose files are untouched since, is not
    rendered again. (A store's feeds: ``build_from_store``, which reads only the feeds that changed.)
    """
    options = BuildOptions.make(out_dir, base_url, formats=formats, max_entries=max_entries, rules=rules, site_title=site_title,
                                site_url=site_url, site_icon=site_icon, websub_hub=websub_hub, publishers=publishers)
    state = _load_state(Path(state_file)) if state_file else {}
    grouped = group_feeds(articles, options.rules, site_title=site_title, publishers=publishers)
    report, built = write_feeds(options, (Feed(f.slug, f.title, f.entries[: options.max_entries]) for f in grouped), {}, state)
    if state_file:
        try:
            write_if_changed(Path(state_file), json.dumps(built, sort_keys=True, indent=0, default=str).encode())
        except OSError as exc:
            logger.warning("feed build state not saved (%s): the next build renders every feed", exc)
    return report


def build_from_store(store, out_dir: str | os.PathLike, base_url: str, *, full: bool = False, **settings) -> BuildReport:
    """The feeds of a store, reading only what they show: the stories stored or updated since the last build take
    their feeds in the store's feed index, then each feed they changed is one indexed query for its newest
    entries and is rendered again; every other feed is left as it is. Options that changed since the last build
    (or ``full``) render every feed. The files are those ``build_feeds`` would write from every stored story.
    ``settings``: the keyword options of ``build_feeds`` but ``state_file``."""
    from feeds import catalog

    options = BuildOptions.make(out_dir, base_url, **settings)
    catalog.take_in(store, options.rules)
    digest = hashlib.sha1(options.digest).hexdigest()
    state = store.feed_states()
    with store.reader() as conn:
        marks = catalog.dirty(conn)
        if full or not state or store.meta(conn, "feed_options") != digest:
            slugs = {ALL, *catalog.known_slugs(conn), *state}
        else:
            slugs = {*marks, *(slug for slug, known in state.items() if not _files_same(options, slug, known))}

    def feeds() -> Iterator[Feed]:
        for slug in sorted(slugs):
            if not options.publishers and slug.startswith(PUBLISHER_PREFIX):
                continue
            with store.reader() as conn:
                entries = [story.as_dict() for story in catalog.latest(conn, slug, options.max_entries)]
            if entries or slug == ALL:
                title = catalog.feed_title(slug, entries[0], options.rules, options.site_title) if entries else f"{options.site_title}: all articles"
                yield Feed(slug, title, entries)

    kept = {slug: known for slug, known in state.items() if slug not in slugs}
    report, built = write_feeds(options, feeds(), kept, state)
    store.save_feed_states({slug: known for slug, known in built.items() if slug not in kept}, gone=set(state) - set(built), options=digest)
    catalog.clean(store, marks)
    return report


def _files_same(options: BuildOptions, slug: str, known: dict) -> bool:
    files = known.get("files") or {}
    return all(_same_file(options.out / name, files.get(name)) for name in options.names(slug))


class _Prepared:
    """Prepared entries of the articles a build renders, by the digest of what they hold (the newest few)."""

    def __init__(self, rules: tuple[TopicRule, ...], size: int = 2048):
        self.rules, self.size = rules, size
        self.entries: dict[bytes, dict] = {}

    def get(self, digest: bytes, article: dict) -> dict:
        entry = self.entries.pop(digest, None)
        if entry is None:
            entry = _prepare(article, self.rules)
            if len(self.entries) >= self.size:
                del self.entries[next(iter(self.entries))]
        self.entries[digest] = entry
        return entry


def write_feeds(options: BuildOptions, fresh: Iterable[Feed], kept: dict[str, dict], state: dict[str, dict]) -> tuple[BuildReport, dict]:
    """Render the ``fresh`` feeds (entries newest first, at most max_entries) whose entries or files differ from
    ``state``; list them and the ``kept`` ones (as the last build left them) in feeds.opml and index.html;
    remove the files of feeds that are gone. Returns the report and every feed's new state."""
    out = options.out
    out.mkdir(parents=True, exist_ok=True)
    digest_of_options = options.digest
    prepared = _Prepared(options.rules)
    report = BuildReport()
    built: dict[str, dict] = {}
    listings: dict[str, FeedListing] = {}

    def put(name: str, data: bytes) -> bool:
        if write_if_changed(out / name, data):
            report.written.append(name)
            logger.debug("wrote %s", name)
            return True
        report.unchanged.append(name)
        return False

    def links(slug: str) -> list:
        return [(fmt, urljoin(options.base_url, name), FORMATS[fmt][1]) for fmt, name in zip(options.formats, options.names(slug))]

    def keep(slug: str, known: dict) -> None:
        built[slug] = known
        report.unchanged.extend(options.names(slug))
        updated = datetime.fromisoformat(known["updated"]) if known.get("updated") else None
        report.feeds.append(FeedResult(slug, known["title"], known["entries"], updated))
        listings[slug] = FeedListing(slug, known["title"], known["entries"], updated, [tuple(h) for h in known["headlines"]], links(slug))

    for feed in fresh:
        if not SLUG_RE.match(feed.slug):
            logger.warning("feed %r skipped: not a safe slug", feed.slug)
            continue
        title = " ".join(xml_safe(feed.title).split())
        digest = hashlib.sha1(digest_of_options + repr((feed.slug, title)).encode())
        article_digests = [hashlib.sha1(repr(sorted(article.items())).encode()).digest() for article in feed.entries]
        for article_digest in article_digests:
            digest.update(article_digest)
        known = state.get(feed.slug)
        if known and known.get("digest") == digest.hexdigest() and _files_same(options, feed.slug, known):
            keep(feed.slug, {**known, "title": title})
            continue
        entries = [prepared.get(d, article) for d, article in zip(article_digests, feed.entries)]
        result, headlines = _render_feed(options, Feed(feed.slug, title, entries), put)
        report.feeds.append(result)
        listings[feed.slug] = FeedListing(feed.slug, title, result.entries, result.updated, headlines, links(feed.slug))
        built[feed.slug] = {
            "digest": digest.hexdigest(),
            "title": title,
            "entries": result.entries,
            "updated": result.updated.isoformat() if result.updated else None,
            "headlines": headlines,
            "files": {name: _file_mark(out / name) for name in options.names(feed.slug)},
        }
    for slug, known in kept.items():
        keep(slug, known)

    order = sorted(listings, key=lambda slug: _place(listings[slug]))  # "all", the topics, then the publishers
    report.feeds.sort(key=lambda result: _place(listings[result.slug]) if result.slug in listings else (3, result.slug))
    newest = max((r.updated for r in report.feeds if r.updated), default=None)
    outlines = []
    for slug in order:
        if listings[slug].links:
            preferred = min(listings[slug].links, key=lambda link: list(FORMATS).index(link[0]))
            outlines.append((listings[slug].title, preferred[1]))
    put("feeds.opml", render_opml(outlines, title=f"{options.site_title} feeds", html_url=options.home_url, modified=newest))
    index = render_index([listings[slug] for slug in order], title=options.site_title, opml_url=urljoin(options.base_url, "feeds.opml"), icon=options.icon)
    put("index.html", index)
    report.removed = _remove_stale(out, {name for slug in built for name in options.names(slug)}, options.formats)
    if options.hub:
        changed = [urljoin(options.base_url, name) for result in report.feeds for name in result.written]
        report.pinged = ping_hub(options.hub, changed)
    return report, built


def _place(listing: FeedListing) -> tuple:
    """Where a feed goes on the index page and in the OPML file: "all", then topics by title, then publishers."""
    group = 0 if listing.slug == ALL else 2 if listing.publisher else 1
    return group, listing.name.casefold(), listing.slug


def _render_feed(options: BuildOptions, feed: Feed, put) -> tuple[FeedResult, list]:
    """Write one feed's files (prepared entries) in every format; its result and index-page headlines."""
    site_title = options.site_title
    subtitle = xml_safe(f"Every article collected by {site_title}" if feed.slug == ALL else f"{feed.title}: articles collected by {site_title}")
    common: dict[str, Any] = dict(
        base_url=options.base_url, home_url=options.home_url, subtitle=subtitle, site_title=site_title, hub=options.hub, icon=options.icon
    )
    result = FeedResult(feed.slug, feed.title, len(feed.entries), _newest(feed.entries))
    for fmt in options.formats:
        name = f"{feed.slug}.{FORMATS[fmt][0]}"
        if fmt in ("atom", "rss"):
            data = render(feed, fmt, **common)
        else:
            data = render_json_feed(
                feed, feed_url=urljoin(options.base_url, name), home_page_url=options.home_url, description=subtitle,
                language=_common_language(feed.entries), hub=options.hub, icon=options.icon,
            )
        if put(name, data):
            result.written.append(name)
    return result, [(entry["title"], entry["url"]) for entry in feed.entries[:3]]
