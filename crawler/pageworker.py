"""Article pages are extracted and put through the item pipeline in one child process, the page worker, so
that the crawler's own process (Scrapy's reactor) does little but fetch.

Scrapy runs on one core: fetching, parsing listings and scheduling use it fully at a few hundred pages a
second. Extraction (lxml, dates, language), Clean, Sanitize, MinHash, deduplication and the SQL of a page cost
more than its download, so they run here, on the other core, in the order pages arrive. One worker serves every
source of a crawl and is the store's only writer while it runs (listing validators go through it too):
deduplication sees every story stored before, as it would in one process.

The reactor talks to it over a pipe: length-prefixed pickles, a job in, a result (log records, stats to add,
a bot-wall title) out. The worker commits its batch every `REFEED_BATCH_ITEMS` articles or
`REFEED_BATCH_SECONDS`, when idle, and when the crawler closes it, and says which jobs a commit covers: the
crawler keeps every job until then, and does again in its own process what a worker that died had not
committed. It ignores SIGINT/SIGTERM (the crawler stops it when done) and exits at once, its open batch rolled
back, when the crawler's end of the pipe closes or the crawler is gone: a crawler killed outright leaves no
worker behind, and a store as after a kill of a single process.

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
        records: list = []
        with _captured(records, level):
            wall, item = self.extract_article(spider_class, source, state, url, body, content_type)
            if wall:  # a challenge page's validators are not worth keeping
                return {"wall": wall, "stats": self.counts.take(), "records": records}
            if item is None:
                self.remember(*(remember or ()))
                self.counts.inc_value("refeed/skipped")
            else:
                self._stored(item, self.stages, remember)
        return {"wall": "", "stats": self.counts.take(), "records": records}

    def prepare(self, spider_class, source, state: dict, url: str, body: bytes, content_type: str | None, remember, level: int):
        """(result as from `article`, the prepared item or None): extraction and the stages that need no store."""
        wall, item = self.extract_article(spider_class, source, state, url, body, content_type)  # in the crawler's process
        if wall:
            return {"wall": wall, "stats": self.counts.take(), "records": []}, None
        if item is None:
            self.counts.inc_value("refeed/skipped")
        else:
            item = self._pipeline(item, self.stages[:self.prepared_by], last=False)
        return {"wall": "", "stats": self.counts.take(), "records": []}, item

    def prepared(self, item, remember, level: int) -> dict:
        """The rest of the pipeline for an item `prepare` gave (in the crawler's process)."""
        records: list = []
        with _captured(records, level):
            self._stored(item, self.stages[self.prepared_by:], remember)
        return {"wall": "", "stats": self.counts.take(), "records": records}

    def _stored(self, item, stages, remember) -> None:
        """The page's validators and its article through `stages`, undone together when a stage fails: a page
        that was not stored must not be remembered as unchanged, and the batch's other articles stay whole."""
        try:
            with self.batch.article():
                self._remembered(*(remember or ()))
                self._pipeline(item, stages)
        except BaseException:
            self.counts.take()  # what it counted before failing is not the crawl's
            raise

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
        if key is not None and (etag or modified or links):
            with self.batch.article():  # a failed write undoes itself alone, as an article's does
                self._remembered(key, etag, modified, links)

    def _remembered(self, key: str | None = None, etag: str | None = None, modified: str | None = None, links: list | None = None) -> None:
        from crawler.store import Store

        if key is not None and (etag or modified or links):
            Store.remember_validators(self.batch.conn, key, etag, modified, links or [])
            self.batch.wrote()


@contextlib.contextmanager
def _captured(records: list, level: int):
    """In the page worker, the log records of a page's work (at the crawler's level) go back with its result."""
    if not _worker:
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
    """Keeps the worker's log records (made picklable) for the crawler to log."""

    def __init__(self, records: list):
        super().__init__(logging.DEBUG)
        self.records = records

    def emit(self, record: logging.LogRecord) -> None:
        text = logging.Formatter().formatException(record.exc_info) if record.exc_info else None
        record.msg, record.args, record.exc_info, record.exc_text = record.getMessage(), None, None, text
        self.records.append(record)


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

    @classmethod
    def shared(cls, crawler) -> PageWorker:
        if cls._shared is None:
            cls._shared = cls(crawler.settings)
        return cls._shared

    def acquire(self) -> None:
        """A spider opened: start the child now (its imports overlap the first listings' downloads). Counted
        here, not when the crawler is made, so that one that fails to open cannot keep the worker from closing."""
        self.users += 1
        if self.child and self._protocol is None and self._pages is None:
            self._spawn()

    async def article(self, spider_class, source, state: dict, url: str, body: bytes, content_type: str | None, remember=None, stats=None) -> dict:
        """{"wall": bot-wall title or "", "records": the worker's log records} of one article page; its stats go
        to `stats` (the crawler's), as soon as it is stored, and out again if the worker dies before committing it."""
        level = logging.getLogger("crawler").getEffectiveLevel()
        args = (spider_class, source, state, url, body, content_type, remember, level)
        if self.child and self._protocol is None:
            self._spawn()
        if not self.child:
            return _counted(self._inline().article(*args), stats)
        from scrapy.utils.defer import maybe_deferred_to_future

        job = ("article", args)
        if self._queue.tokens == 0 and self._protocol.alive:
            # The worker has its hands full and this page would wait: this process, which then has time to
            # spare, extracts and cleans it itself, and the worker only deduplicates and stores it.
            prepared, item = self._preparer().prepare(*args)
            self.helped += 1
            _counted(prepared, stats)
            if item is None:
                if not prepared["wall"]:
                    self.remember(*(remember or (None,) * 4))
                return prepared
            job = ("prepared", (item, remember, level))
        await maybe_deferred_to_future(self._queue.acquire())
        try:
            return _counted(await maybe_deferred_to_future(self._protocol.call(*job, stats=stats)), stats)
        except _WorkerDied as exc:
            self._fall_back(exc)
            return _counted(getattr(self._inline(), job[0])(*job[1]), stats)
        finally:
            self._queue.release()

    def remember(self, key: str | None, etag: str | None, modified: str | None, links: list | None) -> None:
        if key is None:
            return
        if self.child and self._protocol is None:
            self._spawn()
        if self.child and self._protocol.alive:
            self._protocol.call("remember", (key, etag, modified, links)).addErrback(self._remember_failed, key, etag, modified, links)
            return
        self._inline().remember(key, etag, modified, links)

    def _remember_failed(self, failure, *args) -> None:
        if failure.check(_WorkerDied):
            self._inline().remember(*args)  # the worker died before it: done here, after what it had answered
        else:
            logger.warning("page worker: could not remember the validators of %s: %s", args[0], failure.getErrorMessage()[-500:])

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
        if self._protocol is not None and self._protocol.alive:
            self._protocol.send("close", ())
            self._protocol.closing = True
            return self._protocol.ended.addCallback(lambda _: self._close_inline())
        self._close_inline()
        return defer.succeed(None)

    def _close_inline(self) -> None:
        if self._pages is not None:
            self._pages.batch.close()
            self._pages = None

    def _spawn(self) -> None:
        from twisted.internet import reactor  # not at import: importing the reactor installs Twisted's default one

        protocol = _Protocol(self._worker_ended)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [_ROOT, os.environ.get("PYTHONPATH")]))}  # installed or not
        try:
            reactor.spawnProcess(protocol, sys.executable, [sys.executable, "-m", "crawler.pageworker"], env=env, childFDs={0: "w", 1: "r", 2: 2})
        except Exception as exc:  # out of processes, memory or file descriptors: this process does the work
            self._fall_back(exc)
            return
        self._protocol = protocol
        protocol.send("init", ({name: value for name, value in self.settings.items() if name.startswith("REFEED_")},))

    def _worker_ended(self, code, how: str, uncommitted: list) -> None:
        """The worker exited: what it had stored but not committed is lost with it, so done again here."""
        if self._protocol is not None and self._protocol.closing and code == 0:
            return
        self._fall_back(RuntimeError(f"it exited: {how}"))
        if uncommitted:
            logger.warning("page worker: %d pages it had not committed are stored again in the crawler's process", len(uncommitted))
        for op, args, stats, counted in uncommitted:
            if stats is not None:
                for key, count in counted.items():
                    stats.inc_value(key, -count)
            try:
                result = getattr(self._inline(), op)(*args)
            except Exception:  # as a bad page in the worker: logged, and the others still done
                url = args[3] if op == "article" else getattr(args[0], "url", args[0])
                logger.exception("page worker: %s of %s failed when done again", op, url)
                continue
            if isinstance(result, dict):
                _counted(result, stats)

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


def _counted(result: dict, stats) -> dict:
    """`result` with its stats added to the crawl's (and kept in it, for a worker that dies before committing)."""
    if stats is not None:
        for key, count in result["stats"].items():
            stats.inc_value(key, count)
    return result


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
    """Frames to and from the worker. Every job stays here, with the stats its answer added to the crawl, until
    the worker says a commit covers it: a worker that dies takes its open batch with it, and `on_end` gets
    those jobs to do again."""

    def __init__(self, on_end):
        from twisted.internet import defer

        self.on_end = on_end
        self.buffer = bytearray()
        self.pending: dict[int, object] = {}  # job → Deferred of its answer
        self.uncommitted: dict[int, list] = {}  # job → [op, args, stats, what its answer counted]
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

    def call(self, op: str, args: tuple, stats=None):
        from twisted.internet import defer

        if not self.alive:
            return defer.fail(_WorkerDied("it has exited"))
        self.next_id += 1
        done = defer.Deferred()
        self.pending[self.next_id] = done
        self.uncommitted[self.next_id] = [op, args, stats, {}]
        self.send(op, args, self.next_id)
        return done

    def childDataReceived(self, fd: int, data: bytes) -> None:
        self.buffer += data
        while len(self.buffer) >= _HEADER.size:
            (size,) = _HEADER.unpack_from(self.buffer)
            if len(self.buffer) < _HEADER.size + size:
                return
            job, ok, value, committed = pickle.loads(bytes(self.buffer[_HEADER.size:_HEADER.size + size]))
            del self.buffer[:_HEADER.size + size]
            if ok and job in self.uncommitted and isinstance(value, dict):
                self.uncommitted[job][3] = value.get("stats", {})
            if committed is not None:
                for done in [j for j in self.uncommitted if j <= committed]:
                    del self.uncommitted[done]
            done = self.pending.pop(job, None)
            if done is None:
                continue
            if ok:
                done.callback(value)
            else:
                self.uncommitted.pop(job, None)  # its error is the crawler's to report; not done again
                done.errback(value)

    def processEnded(self, reason) -> None:
        self.alive = False
        code = getattr(reason.value, "exitCode", None)
        unanswered = dict(self.pending)
        again = [entry for job, entry in sorted(self.uncommitted.items()) if job not in unanswered]
        self.pending, self.uncommitted = {}, {}
        how = f"exit code {code}" if code is not None else str(reason.value)
        self.on_end(code, how, again)  # answered but not committed: done again, in order, before the unanswered ones
        for done in unanswered.values():
            done.errback(_WorkerDied(how))
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
    parent = os.getppid()
    pipe = _Pipe(0, os.dup(1))
    os.dup2(2, 1)  # a stray print must not corrupt the pipe
    frame = pipe.read()
    if frame is None:
        return
    _op, _job, (values,) = frame
    settings = Settings(values)
    batch = _batch(settings)
    pages = Pages(settings, batch)
    last = None  # the last job done: a commit now covers it and every job before it
    try:
        while True:
            if batch.pending and not pipe.ready(batch.max_seconds - (time.monotonic() - batch.opened)):
                try:
                    batch.commit()  # idle: what is stored becomes visible
                except Exception as exc:
                    _exit_lost(exc)
                _answer(pipe, (None, True, None, last))
            frame = pipe.read()
            if frame is None:  # the crawler died: what is not committed is not counted done; the next run fetches it
                os._exit(0)
            if frame[0] == "close":
                break
            if os.getppid() != parent:  # the crawler died with pages still in the pipe: none of them is done
                os._exit(0)
            op, job, args = frame
            try:
                ok, value = True, getattr(pages, op)(*args)
            except Exception as exc:  # one bad page: its error goes back to the crawler, the worker goes on
                if batch.lost:
                    _exit_lost(exc)
                pages.counts.take()  # what it counted before failing is not the crawl's
                ok, value = False, RuntimeError(f"in the page worker: {traceback.format_exc()}")
            last = job
            _answer(pipe, (job, ok, value, None if batch.pending else last))
    finally:
        batch.close()


def _exit_lost(exc: Exception) -> None:
    """The store rolled back every page not yet committed: exit unanswered, so that the crawler stores them (this
    page included) again in its own process, as when a worker dies."""
    logger.error("page worker: the store lost its open batch (%s); exiting, the crawler stores those pages again",
                 "".join(traceback.format_exception_only(exc)).strip()[-500:])
    os._exit(3)


def _answer(pipe: _Pipe, frame: tuple) -> None:
    try:
        pipe.write(frame)
    except OSError:  # the crawler is gone: exit at once, the open batch rolled back (see above)
        os._exit(0)


if __name__ == "__main__":
    main()
