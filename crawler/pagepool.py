"""An article page's pure work (extraction, then Clean → Sanitize → Canonicalize) in a process pool beside the reactor.

Scrapy's reactor runs on one core: fetching, reading listings and scheduling use it fully at a few hundred pages
a second, and an article page's extraction and cleaning cost more than its download. The spider's callback awaits
`PagePool.prepare` with the page and the source's parser (crawler/parsers/, plain data that pickles) and yields the
item it gives; Deduplicate and Store (crawler/pipelines.py) then take it on Scrapy's item path. The work here (crawler/parsers/,
crawler/cleaning.py) touches no store and no crawl state and imports no Scrapy, so any process can do it, in any order:
a pool process that dies (a crash, the OOM killer) takes down the pool, which is replaced, and the pages it had
are simply done again. On a one-core machine, or with `REFEED_PAGE_WORKER` off, the same function runs inline.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import re
import select
import signal
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field

from crawler.cleaning import MAX_ARTICLE_CHARS, NotAnArticle, stages
from crawler.dedup import exact_fingerprint, near_signature
from crawler.extract.page import Page
from crawler.items import Article
from crawler.parsers.base import Parser

__all__ = ["PagePool", "Prepared", "extract_article", "prepare", "wall_title"]

logger = logging.getLogger(__name__)

TRIES = 3  # a page whose work took the pool down this many times is skipped (it kills whatever process reads it)


@dataclass
class Prepared:
    """What became of one article page: an item for the item pipeline, or why there is none."""

    item: Article | None = None
    wall: str = ""  # the title of a bot wall (a challenge page answered 200): no article, and worth a warning
    skipped: str = ""  # why a page that is no wall gave no article ("" when extraction said so in its own log line)
    records: list = field(default_factory=list)  # a pool process's log records, for the crawler to log


_stages: dict[int, tuple] = {}


def prepare(parser: Parser, url: str, body: bytes, content_type: str | None, max_chars: int, level: int = logging.INFO) -> Prepared:
    """Extraction by the source's parser, the stages that need no store, and the item's dedup fingerprints."""
    records: list = []
    with _captured(records, level):
        wall, item = extract_article(parser, url, body, content_type)
        if wall or item is None:
            return Prepared(wall=wall, records=records)
        try:
            for stage in _stages.setdefault(max_chars, stages(max_chars)):
                item = stage.process_item(item)
        except NotAnArticle as exc:
            logger.info("skipped %s: %s", url, exc)
            return Prepared(skipped=str(exc), records=records)
        item.fingerprint = exact_fingerprint(item.title, item.content_text)
        item.signature = near_signature(item.content_text)
    return Prepared(item=item, records=records)


BOT_WALL_TITLE = re.compile(r"just a moment|attention required|are you a (human|robot)|captcha|access denied|verify you are human|ddos-guard", re.I)


def wall_title(titles: list[str], size: int) -> str:
    """The page title when it is a challenge page's (and the page small enough to be one), else ""."""
    title = " ".join(titles)[:200]
    return title if BOT_WALL_TITLE.search(title) and size < 200_000 else ""


def extract_article(parser: Parser, url: str, body: bytes, content_type: str | None) -> tuple[str, Article | None]:
    """(bot wall title or "", Article or None) of one article page, by the source's parser."""
    page = Page.from_bytes(body, url, content_type)
    wall = wall_title(page.selector.xpath("//title//text()").getall(), len(body))
    return wall, None if wall else parser.article(page, page.html)


class PagePool:
    """The crawl's page processes (`REFEED_PAGE_PROCESSES`), shared by every spider of a process: `acquire` when
    a spider opens, `release` when it closes; the last release ends them. Without processes, work runs inline."""

    _shared: PagePool | None = None

    def __init__(self, processes: int, max_chars: int):
        self.processes = processes
        self.max_chars = max_chars
        self.users = 0
        self._pool: ProcessPoolExecutor | None = None

    @classmethod
    def shared(cls, settings) -> PagePool:
        if cls._shared is None:
            processes = settings.getint("REFEED_PAGE_PROCESSES", 1) if settings.getbool("REFEED_PAGE_WORKER") else 0
            cls._shared = cls(processes, settings.getint("REFEED_MAX_ARTICLE_CHARS", MAX_ARTICLE_CHARS))
        return cls._shared

    def acquire(self) -> None:
        """A spider opened: the processes start now, so that their imports overlap the first listings' downloads."""
        self.users += 1
        if self.processes:
            self._executor()

    def release(self) -> None:
        self.users -= 1
        if self.users > 0:
            return
        if PagePool._shared is self:
            PagePool._shared = None
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)  # idle by now: its processes exit at once
            self._pool = None

    async def prepare(self, parser: Parser, url: str, body: bytes, content_type: str | None) -> Prepared:
        level = logging.getLogger("crawler").getEffectiveLevel()
        args = (parser, url, body, content_type, self.max_chars, level)
        if not self.processes:
            return prepare(*args)
        for _ in range(TRIES):
            pool = self._executor()
            try:
                return await asyncio.wrap_future(pool.submit(prepare, *args))
            except BrokenProcessPool as exc:
                self._replace(pool, exc)
        logger.error("skipped %s: a page process died on it %d times", url, TRIES)
        return Prepared(skipped="a page process died on it")

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            # Spawned, not forked (the reactor's process has threads), and its own children: the crawler waits
            # for them, so that its CPU time (bench/crawl.py) includes theirs.
            context = multiprocessing.get_context("spawn")
            self._pool = ProcessPoolExecutor(self.processes, mp_context=context, initializer=_in_pool, initargs=(os.getpid(),))
        return self._pool

    def _replace(self, pool: ProcessPoolExecutor, exc: Exception) -> None:
        """A process of the pool died: every page it had is done again, by a new pool."""
        if self._pool is pool:
            logger.warning("a page process died (%s): a new pool takes over, and the pages under way are done again", exc)
            pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None


_pool_process = False


def _in_pool(crawler: int) -> None:
    """A pool process: its log records go back with each page; Ctrl-C (sent to the whole process group) is the
    crawler's to handle, which finishes the pages under way and then ends the pool; and it exits as soon as the
    crawler is gone (killed outright, the pool cannot tell it: its queues stay open in every process)."""
    global _pool_process
    _pool_process = True
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_exit_with, args=(crawler,), name="refeed-watch", daemon=True).start()


def _exit_with(crawler: int) -> None:
    try:
        select.select([os.pidfd_open(crawler)], [], [])  # readable when that process has ended
    except OSError:  # gone already
        pass
    os._exit(0)


@contextlib.contextmanager
def _captured(records: list, level: int):
    """In a pool process, the log records of a page's work (at the crawler's level) go back with its result."""
    if not _pool_process:
        yield
        return
    capture = _Capture(records)
    root = logging.getLogger()
    root.setLevel(level)
    root.addHandler(capture)
    try:
        yield
    finally:
        root.removeHandler(capture)


class _Capture(logging.Handler):
    """Keeps a pool process's log records (made picklable) for the crawler to log."""

    def __init__(self, records: list):
        super().__init__(logging.DEBUG)
        self.records = records

    def emit(self, record: logging.LogRecord) -> None:
        text = logging.Formatter().formatException(record.exc_info) if record.exc_info else None
        record.msg, record.args, record.exc_info, record.exc_text = record.getMessage(), None, None, text
        self.records.append(record)
