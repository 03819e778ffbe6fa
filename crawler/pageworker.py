"""Article pages are extracted and put through the item pipeline in one child process, the page worker, so
that the crawler's own process (Scrapy's reactor) does little but fetch.

Scrapy runs on one core: fetching, parsing listings and scheduling use it fully at a few hundred pages a
second. Extraction (lxml, dates, language), Clean, Sanitize, MinHash, deduplication and the SQL of a page cost
more than its download, so they run here, on the other core, in the order pages arrive. One worker serves every
source of a crawl and is the store's only writer while it runs (listing validators go through it too):
deduplication sees every story stored before, as it would in one process.

The reactor talks to it over a pipe: length-prefixed pickles, a job in, a result (log records, stats to add,
a bot-wall title) out. The worker commits its batch every `REFEED_BATCH_ITEMS` articles or
`REFEED_BATCH_SECONDS`, when idle, and when the crawler closes it. It ignores SIGINT/SIGTERM (the crawler stops
it when done) and exits at once, its open batch rolled back, when the crawler's end of the pipe closes without
a word: a crawler killed outright leaves no worker behind, and a store as after a kill of a single process.

`REFEED_PAGE_WORKER = False` (or a one-core machine) does the same work in the crawler's process (`Pages`),
as does a crawl whose worker died, after a warning.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import select
import signal
import struct
import sys
import time
import traceback
from pathlib import Path

from scrapy.exceptions import DropItem
from scrapy.settings import Settings
from scrapy.utils.misc import load_object

__all__ = ["Counts", "PageWorker", "Pages", "in_worker", "main"]

logger = logging.getLogger(__name__)

_HEADER = struct.Struct("!I")
_ROOT = str(Path(__file__).resolve().parent.parent)


class Counts:
    """The stats a page's work adds (Scrapy's StatsCollector interface, as far as the pipeline uses it)."""

    def __init__(self):
        self.values: dict[str, int] = {}

    def inc_value(self, key: str, count: int = 1, start: int = 0) -> None:
        self.values[key] = self.values.get(key, start) + count

    def get_value(self, key: str, default=None):
        return self.values.get(key, default)

    def take(self) -> dict[str, int]:
        values, self.values = self.values, {}
        return values


class _Host:
    """What a pipeline stage's `from_crawler` reads: settings, stats and the crawl's store batch."""

    def __init__(self, settings: Settings, stats: Counts, batch):
        self.settings = settings
        self.stats = stats
        self._refeed_batch = batch


class Pages:
    """The work of one article page: extraction, then the item pipeline (`REFEED_PIPELINE`, Clean → … → Store),
    on one store batch. Runs in the page worker, or in the crawler's process.

    The stages before the first that needs the store (`needs_store`) are the page's preparation; without a
    batch (the crawler's process helping a busy worker) only those are built and run (`prepare`)."""

    def __init__(self, settings: Settings, batch=None):
        from crawler.spiders.base import extract_article  # the spiders import this module

        self.extract_article = extract_article
        self.batch = batch
        self.counts = Counts()
        host = _Host(settings, self.counts, batch)
        self.stages, self.prepared_by = [], 0
        for path in settings.getlist("REFEED_PIPELINE"):
            cls = load_object(path)
            if getattr(cls, "needs_store", False):
                if batch is None:
                    break
            elif len(self.stages) == self.prepared_by:
                self.prepared_by += 1
            self.stages.append(cls.from_crawler(host) if hasattr(cls, "from_crawler") else cls())

    def article(self, spider_class, source, state: dict, url: str, body: bytes, content_type: str | None, remember, level: int) -> dict:
        """{"wall": bot-wall title or "", "stats": what to add to the crawl's, "records": log records of a worker}."""
        wall, item, records = self.extract_article(spider_class, source, state, url, body, content_type, level)
        if not wall:  # a challenge page's validators are not worth keeping
            with _captured(records):
                self.remember(*(remember or ()))
                if item is None:
                    self.counts.inc_value("refeed/skipped")
                else:
                    self._pipeline(item, self.stages)
        self.batch.commit_if_due()
        return {"wall": wall, "stats": self.counts.take(), "records": records}

    def prepare(self, spider_class, source, state: dict, url: str, body: bytes, content_type: str | None, remember, level: int):
        """(result as from `article`, the prepared item or None): extraction and the stages that need no store."""
        wall, item, records = self.extract_article(spider_class, source, state, url, body, content_type, level)
        if wall:
            return {"wall": wall, "stats": self.counts.take(), "records": records}, None
        if item is None:
            self.counts.inc_value("refeed/skipped")
        else:
            item = self._pipeline(item, self.stages[:self.prepared_by], last=False)
        return {"wall": "", "stats": self.counts.take(), "records": records}, item

    def prepared(self, item, remember, level: int) -> dict:
        """The rest of the pipeline for an item `prepare` gave (in the crawler's process)."""
        records: list = []
        if _worker:
            logging.getLogger().setLevel(level)
        with _captured(records):
            self.remember(*(remember or ()))
            self._pipeline(item, self.stages[self.prepared_by:])
        self.batch.commit_if_due()
        return {"wall": "", "stats": self.counts.take(), "records": records}

    def _pipeline(self, item, stages, last: bool = True):
        """The item through these stages: it, or None when one dropped it."""
        try:
            for stage in stages:
                item = stage.process_item(item)
        except DropItem as exc:
            self.counts.inc_value("item_dropped_count")
            self.counts.inc_value(f"item_dropped_reasons_count/{type(exc).__name__}")
            logger.debug("dropped %s: %s", getattr(item, "url", "?"), exc)
            return None
        if last:
            self.counts.inc_value("item_scraped_count")
        return item

    def remember(self, key: str | None = None, etag: str | None = None, modified: str | None = None, links: list | None = None) -> None:
        """A page's validators (and a listing's links), for the next run's conditional request."""
        from crawler.store import Store

        if key is not None and (etag or modified or links):
            Store.remember_validators(self.batch.conn, key, etag, modified, links or [])
            self.batch.wrote()


@contextlib.contextmanager
def _captured(records: list):
    """In the page worker, the log records of a page's pipeline go back to the crawler with its result."""
    if not _worker:
        yield
        return
    from crawler.spiders.base import _Capture

    capture = _Capture(records)
    root = logging.getLogger()
    root.addHandler(capture)
    try:
        yield
    finally:
        root.removeHandler(capture)


# -- the crawler's side


class PageWorker:
    """The crawler's handle on the page worker: `await worker.article(...)`; shared by every spider of a crawl
    (`acquire` when a spider opens, `release` when it closes; the last release stops the worker)."""

    _shared: PageWorker | None = None

    def __init__(self, settings: Settings):
        from twisted.internet.defer import DeferredSemaphore

        self.settings = settings
        # Pages queued for the worker, at most: when it is the slower, the pages wait in Scrapy, which then stops
        # downloading (its scraper's active-size limit), instead of piling up in the pipe's buffer.
        self._queue = DeferredSemaphore(max(1, settings.getint("REFEED_PAGE_WORKER_QUEUE", 16)))
        self.helped = 0  # pages this process extracted itself while the worker was busy
        self.child = settings.getbool("REFEED_PAGE_WORKER")
        self.users = 0
        self._pages: Pages | None = None
        self._prepare: Pages | None = None  # the stages before the store, for pages this process prepares
        self._protocol: _Protocol | None = None
        self._ended = None

    @classmethod
    def acquire(cls, crawler) -> PageWorker:
        if cls._shared is None:
            cls._shared = cls(crawler.settings)
        cls._shared.users += 1
        return cls._shared

    def start(self) -> None:
        """Start the child now (its imports overlap the first listings' downloads)."""
        if self.child and self._protocol is None and self._pages is None:
            self._spawn()

    async def article(self, spider_class, source, state: dict, url: str, body: bytes, content_type: str | None, remember=None) -> dict:
        level = logging.getLogger("crawler").getEffectiveLevel()
        args = (spider_class, source, state, url, body, content_type, remember, level)
        if not self.child:
            return self._inline().article(*args)
        if self._protocol is None:
            self._spawn()
        from scrapy.utils.defer import maybe_deferred_to_future

        prepared, job = None, ("article", args)
        if self._queue.tokens == 0 and self._protocol.alive:
            # The worker has its hands full and this page would wait: this process, which then has time to
            # spare, extracts and cleans it itself, and the worker only deduplicates and stores it.
            prepared, item = self._preparer().prepare(*args)
            self.helped += 1
            if item is None:
                if not prepared["wall"]:
                    self.remember(*(remember or (None,) * 4))
                return prepared
            job = ("prepared", (item, remember, level))
        await maybe_deferred_to_future(self._queue.acquire())
        try:
            result = await maybe_deferred_to_future(self._protocol.call(*job))
        except _WorkerDied as exc:
            self._fall_back(exc)
            result = self._inline().article(*args) if prepared is None else self._inline().prepared(*job[1])
        finally:
            self._queue.release()
        if prepared is not None:
            for key, count in prepared["stats"].items():
                result["stats"][key] = result["stats"].get(key, 0) + count
        return result

    def remember(self, key: str | None, etag: str | None, modified: str | None, links: list | None) -> None:
        if key is None:
            return
        if self.child:
            if self._protocol is None:
                self._spawn()
            if self._protocol.alive:
                self._protocol.send("remember", (key, etag, modified, links))
                return
        self._inline().remember(key, etag, modified, links)

    def release(self):
        """A Deferred that fires when the worker (if this was its last user) has committed and exited."""
        from twisted.internet import defer

        self.users -= 1
        if self.users > 0:
            return defer.succeed(None)
        if PageWorker._shared is self:
            PageWorker._shared = None
        if self.helped:
            logger.info("%d article pages extracted in the crawler's process while the page worker was busy", self.helped)
        if self._pages is not None:
            self._pages.batch.close()
        if self._protocol is not None and self._protocol.alive:
            self._protocol.send("close", ())
            self._protocol.closing = True
            return self._protocol.ended
        return defer.succeed(None)

    def _spawn(self) -> None:
        from twisted.internet import reactor  # not at import: importing the reactor installs Twisted's default one

        self._protocol = _Protocol()
        code = f"import sys; sys.path.insert(0, {_ROOT!r}); from crawler.pageworker import main; main()"
        reactor.spawnProcess(self._protocol, sys.executable, [sys.executable, "-c", code], env=os.environ.copy(), childFDs={0: "w", 1: "r", 2: 2})
        wanted = ("REFEED_PIPELINE", "REFEED_STORE_URL", "REFEED_BATCH_ITEMS", "REFEED_BATCH_SECONDS", "REFEED_MAX_ARTICLE_CHARS")
        self._protocol.send("init", ({name: self.settings[name] for name in wanted},))

    def _preparer(self) -> Pages:
        if self._prepare is None:
            self._prepare = Pages(self.settings)
        return self._prepare

    def _inline(self) -> Pages:
        if self._pages is None:
            self._pages = Pages(self.settings, _batch(self.settings))
            self._pages.batch.start()  # commits after REFEED_BATCH_SECONDS when idle
        return self._pages

    def _fall_back(self, exc: Exception) -> None:
        if self.child:
            logger.warning("page worker failed (%s): extracting and storing in the crawler's own process from now on", exc)
            self.child = False


def _batch(settings: Settings):
    """The store connection the pipeline writes through (the spiders' own only read)."""
    from crawler.store import Batch, Store

    return Batch(Store(settings["REFEED_STORE_URL"]), settings.getint("REFEED_BATCH_ITEMS"), settings.getfloat("REFEED_BATCH_SECONDS"))


class _WorkerDied(Exception):
    pass


def _protocol_base():
    from twisted.internet import protocol

    return protocol.ProcessProtocol


class _Protocol(_protocol_base()):
    def __init__(self):
        from twisted.internet import defer

        self.buffer = bytearray()
        self.pending: dict[int, object] = {}
        self.next_id = 0
        self.alive = True
        self.closing = False
        self.ended = defer.Deferred()
        self.backlog: list[bytes] = []

    def connectionMade(self) -> None:
        for frame in self.backlog:
            self.transport.writeToChild(0, frame)
        self.backlog = []

    def send(self, op: str, args: tuple, job: int | None = None) -> None:
        data = pickle.dumps((op, job, args), protocol=pickle.HIGHEST_PROTOCOL)
        frame = _HEADER.pack(len(data)) + data
        if self.transport is None:
            self.backlog.append(frame)
        else:
            self.transport.writeToChild(0, frame)

    def call(self, op: str, args: tuple):
        from twisted.internet import defer

        if not self.alive:
            return defer.fail(_WorkerDied("it has exited"))
        self.next_id += 1
        done = defer.Deferred()
        self.pending[self.next_id] = done
        self.send(op, args, self.next_id)
        return done

    def childDataReceived(self, fd: int, data: bytes) -> None:
        self.buffer += data
        while len(self.buffer) >= _HEADER.size:
            (size,) = _HEADER.unpack_from(self.buffer)
            if len(self.buffer) < _HEADER.size + size:
                return
            job, ok, value = pickle.loads(bytes(self.buffer[_HEADER.size:_HEADER.size + size]))
            del self.buffer[:_HEADER.size + size]
            done = self.pending.pop(job, None)
            if done is None:
                continue
            if ok:
                done.callback(value)
            else:
                done.errback(value)

    def processEnded(self, reason) -> None:
        self.alive = False
        code = getattr(reason.value, "exitCode", None)
        failed = [d for d in self.pending.values()]
        self.pending = {}
        for done in failed:
            done.errback(_WorkerDied(f"exit code {code}" if code is not None else str(reason.value)))
        if code not in (0, None) or not self.closing:
            logger.warning("page worker exited (%s)", f"exit code {code}" if code is not None else reason.value)
        self.ended.callback(None)


# -- the worker's side

_worker = False


def in_worker() -> bool:
    """Whether this process is the page worker (whose log lines the crawler logs for it)."""
    return _worker


class _Pipe:
    def __init__(self, fd_in: int, fd_out: int):
        self.fd_in = fd_in
        self.fd_out = fd_out
        self.buffer = bytearray()

    def ready(self, timeout: float) -> bool:
        """Whether a frame can be read within `timeout` seconds."""
        if self._complete():
            return True
        return bool(select.select([self.fd_in], [], [], max(0.0, timeout))[0])

    def _complete(self) -> bool:
        if len(self.buffer) < _HEADER.size:
            return False
        return len(self.buffer) >= _HEADER.size + _HEADER.unpack_from(self.buffer)[0]

    def read(self):
        """The next frame, or None at the end of the pipe."""
        while not self._complete():
            chunk = os.read(self.fd_in, 1 << 20)
            if not chunk:
                return None
            self.buffer += chunk
        (size,) = _HEADER.unpack_from(self.buffer)
        frame = pickle.loads(bytes(self.buffer[_HEADER.size:_HEADER.size + size]))
        del self.buffer[:_HEADER.size + size]
        return frame

    def write(self, value) -> None:
        data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        view = memoryview(_HEADER.pack(len(data)) + data)
        while view:
            view = view[os.write(self.fd_out, view):]


def main() -> None:
    """The page worker's loop: `init`, then `article` and `remember` jobs until `close` or the end of the pipe."""
    global _worker
    _worker = True
    for sig in (signal.SIGINT, signal.SIGTERM):  # the crawler stops it (a Ctrl-C reaches the whole process group)
        signal.signal(sig, signal.SIG_IGN)
    pipe = _Pipe(0, os.dup(1))
    os.dup2(2, 1)  # a stray print must not corrupt the pipe
    frame = pipe.read()
    if frame is None:
        return
    _op, _job, (values,) = frame
    settings = Settings(values)
    batch = _batch(settings)
    pages = Pages(settings, batch)
    try:
        while True:
            if batch.pending and not pipe.ready(batch.max_seconds - (time.monotonic() - batch.opened)):
                batch.commit()  # idle: what is stored becomes visible
            frame = pipe.read()
            if frame is None:  # the crawler died: what is not committed is not counted done; the next run fetches it
                os._exit(0)
            if frame[0] == "close":
                break
            op, job, args = frame
            try:
                result = (job, True, getattr(pages, op)(*args))
            except Exception:  # one bad page: its error goes back to the crawler, the worker goes on
                result = (job, False, RuntimeError(f"in the page worker: {traceback.format_exc()}"))
            if job is not None:
                try:
                    pipe.write(result)
                except OSError:  # the crawler is gone (see above)
                    os._exit(0)
    finally:
        batch.close()

