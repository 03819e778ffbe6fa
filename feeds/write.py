"""Rendered feeds → files: each written atomically and only when it changed, stale ones removed, the hub pinged."""

from __future__ import annotations

import logging
import os
import re
import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from urllib.parse import urljoin

from feeds.index import FeedListing
from feeds.jsonfeed import JSONFEED_VERSION
from feeds.plan import FORMATS, BuildOptions, file_mark
from feeds.render import GENERATOR, newest, place, render_listings
from feeds.topics import Feed
from feeds.websub import ping_hub

__all__ = ["BuildReport", "FeedFiles", "FeedResult", "remove_temp_files", "write_if_changed"]

logger = logging.getLogger(__name__)

_FEED_FILE_RE = re.compile(r"^([a-z0-9][a-z0-9-]*)\.(atom|rss|json)$")
_TEMP_FILE_RE = re.compile(r"^\.(.+)\.[^.]+\.tmp$")
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


# -- one file


def write_if_changed(path: Path, data: bytes, sync_folder: bool = True) -> bool:
    """Atomically replace ``path`` with ``data`` unless it already holds exactly that; True if written.
    ``sync_folder=False``: the caller makes the rename durable (one fsync of the folder for many files)."""
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
    if sync_folder:
        _fsync_dir(path.parent)
    return True


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


# -- a build's files


class FeedFiles:
    """The files of one build in ``options.out``: what it wrote or kept, for the report, the index and the next build."""

    def __init__(self, options: BuildOptions):
        self.options = options
        self.report = BuildReport()
        self.built: dict[str, dict] = {}  # every feed's state for the next build
        self.listings: dict[str, FeedListing] = {}
        options.out.mkdir(parents=True, exist_ok=True)

    def put(self, name: str, data: bytes) -> bool:
        """Write one file unless it already holds ``data``; True if written."""
        if write_if_changed(self.options.out / name, data, sync_folder=False):  # the folder once, in finish()
            self.report.written.append(name)
            logger.debug("wrote %s", name)
            return True
        self.report.unchanged.append(name)
        return False

    def _links(self, slug: str) -> list:
        return [(fmt, urljoin(self.options.base_url, name), FORMATS[fmt][1]) for fmt, name in zip(self.options.formats, self.options.names(slug))]

    def keep(self, slug: str, known: dict) -> None:
        """A feed whose files stay as the last build left them (``known``: its state then)."""
        self.built[slug] = known
        self.report.unchanged.extend(self.options.names(slug))
        updated = datetime.fromisoformat(known["updated"]) if known.get("updated") else None
        self.report.feeds.append(FeedResult(slug, known["title"], known["entries"], updated))
        self.listings[slug] = FeedListing(slug, known["title"], known["entries"], updated, [tuple(h) for h in known["headlines"]], self._links(slug))

    def write_feed(self, feed: Feed, files: list[tuple[str, bytes]], headlines: list, digest: str) -> None:
        """A feed rendered again (prepared entries, its ``files`` in every format); ``digest``: of what it shows."""
        result = FeedResult(feed.slug, feed.title, len(feed.entries), newest(feed.entries))
        for name, data in files:
            if self.put(name, data):
                result.written.append(name)
        self.report.feeds.append(result)
        self.listings[feed.slug] = FeedListing(feed.slug, feed.title, result.entries, result.updated, headlines, self._links(feed.slug))
        self.built[feed.slug] = {
            "digest": digest,
            "title": feed.title,
            "entries": result.entries,
            "updated": result.updated.isoformat() if result.updated else None,
            "headlines": headlines,
            "files": {name: file_mark(self.options.out / name) for name in self.options.names(feed.slug)},
        }

    def finish(self) -> BuildReport:
        """feeds.opml and index.html of every feed, the files of feeds that are gone removed, the hub pinged."""
        options, report, listings = self.options, self.report, self.listings
        order = sorted(listings, key=lambda slug: place(listings[slug]))  # "all", the topics, then the publishers
        report.feeds.sort(key=lambda result: place(listings[result.slug]) if result.slug in listings else (3, result.slug))
        modified = max((r.updated for r in report.feeds if r.updated), default=None)
        for name, data in render_listings(options, [listings[slug] for slug in order], modified):
            self.put(name, data)
        report.removed = _remove_stale(options.out, {name for slug in self.built for name in options.names(slug)}, options.formats)
        if report.written or report.removed:  # every rename and removal of this build made durable at once
            _fsync_dir(options.out)
        if options.hub:
            changed = [urljoin(options.base_url, name) for result in report.feeds for name in result.written]
            report.pinged = ping_hub(options.hub, changed)
        return report
