"""Feed entries → bytes: Atom and RSS (feedgen), JSON Feed, and the OPML file and index page that list the feeds."""

from __future__ import annotations

import logging
import mimetypes
import re
import uuid
from datetime import datetime
from html import escape
from typing import Any
from urllib.parse import urljoin, urlsplit

from feedgen.ext.base import BaseEntryExtension, BaseExtension
from feedgen.feed import FeedEntry, FeedGenerator
from lxml import etree
from lxml import html as lxml_html

from feeds.index import FeedListing, render_index
from feeds.jsonfeed import render_json_feed
from feeds.opml import render_opml
from feeds.plan import FORMATS, BuildOptions, xml_safe
from feeds.topics import ALL, EPOCH, Feed, TopicRule, _when, publisher_slug, publishers_of, topics_of

__all__ = [
    "GENERATOR",
    "PreparedEntries",
    "entry_id",
    "headlines",
    "image_type",
    "newest",
    "no_referrer",
    "place",
    "prepare_entry",
    "render",
    "render_atom",
    "render_feed_files",
    "render_listings",
    "render_rss",
]

logger = logging.getLogger(__name__)

GENERATOR = "refeed"
ATOM_NS = "http://www.w3.org/2005/Atom"
DEFAULT_IMAGE_TYPE = "image/jpeg"
_IMG_TAG = re.compile(r"<img\b", re.IGNORECASE)
_MARKUP = re.compile(r"<[^<>]*>")  # what a reader could take for a tag
_HUGE = lxml_html.HTMLParser(huge_tree=True)  # content nested deeper than 256 elements is still whole content


# -- one entry


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


def prepare_entry(article: dict, rules: tuple[TopicRule, ...]) -> dict:
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


class PreparedEntries:
    """Prepared entries of the articles a build renders, by the digest of what they hold (the newest few)."""

    def __init__(self, rules: tuple[TopicRule, ...], size: int = 2048):
        self.rules, self.size = rules, size
        self.entries: dict[bytes, dict] = {}

    def get(self, digest: bytes, article: dict) -> dict:
        entry = self.entries.pop(digest, None)
        if entry is None:
            entry = prepare_entry(article, self.rules)
            if len(self.entries) >= self.size:
                del self.entries[next(iter(self.entries))]
        self.entries[digest] = entry
        return entry


def newest(entries: list[dict]) -> datetime | None:
    return max((entry["updated"] for entry in entries), default=None)


def _common_language(entries: list[dict]) -> str | None:
    languages = {entry["language"] for entry in entries}
    return languages.pop() if len(languages) == 1 else None


# -- Atom and RSS


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
    fg = _feed_head(feed, fmt, base_url=base_url, home_url=home_url, subtitle=subtitle, site_title=site_title, hub=hub, icon=icon)
    for entry in feed.entries:  # newest first, appended in that order
        _add_entry(fg.add_entry(order="append"), entry, fmt, base_url)
    return fg.atom_str(pretty=True) if fmt == "atom" else fg.rss_str(pretty=True)


def _feed_head(feed: Feed, fmt: str, *, base_url: str, home_url: str, subtitle: str, site_title: str, hub: str | None,
               icon: str | None) -> FeedGenerator:
    """A feed generator with the feed's own elements (id, title, links, icon, updated, language), no entries yet."""
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
    updated = newest(feed.entries) or EPOCH
    fg.updated(updated)
    fg.pubDate(updated)
    language = _common_language(feed.entries)
    if language:
        fg.language(language)
    return fg


def _add_entry(fe: FeedEntry, entry: dict, fmt: str, base_url: str) -> None:
    """One prepared entry as an Atom ``<entry>`` or RSS ``<item>``."""
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


def render_atom(feed: Feed, **options: Any) -> bytes:
    """Atom 1.0 bytes for ``feed``: ``render(feed, "atom", **options)``."""
    return render(feed, "atom", **options)


def render_rss(feed: Feed, **options: Any) -> bytes:
    """RSS 2.0 bytes for ``feed``: ``render(feed, "rss", **options)``."""
    return render(feed, "rss", **options)


# -- a build's files


def render_feed_files(options: BuildOptions, feed: Feed) -> list[tuple[str, bytes]]:
    """One feed (prepared entries, newest first) in every format of the build: (file name, bytes) each."""
    site_title = options.site_title
    subtitle = xml_safe(f"Every article collected by {site_title}" if feed.slug == ALL else f"{feed.title}: articles collected by {site_title}")
    common: dict[str, Any] = dict(
        base_url=options.base_url, home_url=options.home_url, subtitle=subtitle, site_title=site_title, hub=options.hub, icon=options.icon
    )
    files = []
    for fmt in options.formats:
        name = f"{feed.slug}.{FORMATS[fmt][0]}"
        if fmt in ("atom", "rss"):
            data = render(feed, fmt, **common)
        else:
            data = render_json_feed(
                feed, feed_url=urljoin(options.base_url, name), home_page_url=options.home_url, description=subtitle,
                language=_common_language(feed.entries), hub=options.hub, icon=options.icon,
            )
        files.append((name, data))
    return files


def headlines(feed: Feed) -> list[tuple[str, str]]:
    """What the index page shows of a feed: its newest three entries' (title, url)."""
    return [(entry["title"], entry["url"]) for entry in feed.entries[:3]]


def place(listing: FeedListing) -> tuple:
    """Where a feed goes on the index page and in the OPML file: "all", then topics by title, then publishers."""
    group = 0 if listing.slug == ALL else 2 if listing.publisher else 1
    return group, listing.name.casefold(), listing.slug


def render_listings(options: BuildOptions, listings: list[FeedListing], modified: datetime | None) -> list[tuple[str, bytes]]:
    """feeds.opml and index.html of the feeds (in the order of ``place``): (file name, bytes) each."""
    outlines = []
    for listing in listings:
        if listing.links:
            preferred = min(listing.links, key=lambda link: list(FORMATS).index(link[0]))
            outlines.append((listing.title, preferred[1]))
    opml = render_opml(outlines, title=f"{options.site_title} feeds", html_url=options.home_url, modified=modified)
    index = render_index(listings, title=options.site_title, opml_url=urljoin(options.base_url, "feeds.opml"), icon=options.icon)
    return [("feeds.opml", opml), ("index.html", index)]
