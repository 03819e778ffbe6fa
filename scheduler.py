"""refeed's command line and APScheduler daemon: starts crawls and feed builds, never parses pages."""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from crawler.config import Config, ConfigError, CrawlConfig, check_paths, check_writable, load_config, parse_config, parse_schedule

ROOT = Path(__file__).resolve().parent
os.environ.setdefault("SCRAPY_SETTINGS_MODULE", "crawler.settings")

logger = logging.getLogger("refeed")

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
EXIT_PIPE = 128 + signal.SIGPIPE  # 141: what the shell shows for `yes | head`, a writer whose reader went away


# -- shared steps


def open_store(config: Config):
    """The store, or a one-line ConfigError naming store.url when its database server cannot be reached."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import InterfaceError, OperationalError

    from crawler.store import Store

    url = make_url(config.store_url)
    try:
        return Store(config.store_url)
    except (OperationalError, InterfaceError) as exc:
        if url.get_backend_name() == "sqlite":  # a locked or broken file is not a mistake in the configuration
            raise
        reason = " ".join(str(exc.orig or exc).split("\n")[0].split())
        shown = url.render_as_string(hide_password=True)
        raise ConfigError(f'{config._label}: store.url "{shown}": cannot connect to the database: {reason}') from None


def topic_rules(config: Config):
    from feeds.topics import TopicRule

    return [TopicRule(name=t.name, title=t.title, keywords=t.keywords, exclude=t.exclude) for t in config.topics]


def build(config: Config, store, full: bool = False) -> int:
    """Bring the feeds up to date with the store: only the feeds whose entries changed are read and rewritten."""
    from crawler.locks import FileLock
    from crawler.retention import prune
    from feeds.build import build_from_store
    from feeds.write import remove_temp_files

    started = time.monotonic()
    prune(store, config.keep_days)  # before the build: pruned stories leave the feeds
    Path(config.output.dir).mkdir(parents=True, exist_ok=True)
    with FileLock(Path(config.output.dir)):  # builds take turns, so the last one sees every commit
        remove_temp_files(config.output.dir)  # of a build that was killed
        report = build_from_store(
            store,
            config.output.dir,
            config.output.base_url,
            full=full,
            formats=config.output.formats,
            max_entries=config.output.max_entries,
            rules=topic_rules(config),
            site_title="refeed",
            websub_hub=config.output.websub_hub or None,
        )
    logger.info(
        "feeds: %d feeds in %s, %d files written, %d unchanged, %d removed (%.1f s)",
        len(report.feeds), config.output.dir, len(report.written), len(report.unchanged), len(report.removed),
        time.monotonic() - started,
    )
    return len(report.feeds)


def crawl_and_build(config: Config, sources, **overrides) -> int:
    from crawler.run import crawl

    store = open_store(config)
    try:
        results = crawl(config, sources, store, **overrides)
        print_summary(results)
        build(config, store)
    finally:
        store.close()
    unhealthy = [f"{r.source} ({r.outcome})" for r in results if not r.healthy]
    if unhealthy:
        logger.error("needs attention: %s", ", ".join(unhealthy))
        return EXIT_FAILED
    return EXIT_OK


def print_summary(results) -> None:
    print("", file=sys.stderr)
    print(f"{'source':<20} {'outcome':<9} {'pages':>6} {'new':>6} {'updated':>8} {'dup':>6} {'known':>6} {'skipped':>8} {'errors':>7} {'time':>7}", file=sys.stderr)
    for r in results:
        print(
            f"{r.source:<20} {r.outcome:<9} {r.pages:>6} {r.new:>6} {r.updated:>8} {r.duplicates:>6} {r.known + r.unchanged:>6} "
            f"{r.skipped:>8} {r.errors:>7} {r.seconds:>6.1f}s",
            file=sys.stderr,
        )
        if r.message:
            print(f"  {r.source}: {r.message}", file=sys.stderr)
    print("", file=sys.stderr)


def print_feed_urls(config: Config) -> None:
    print(f"index:  {config.output.base_url}index.html")
    print(f"OPML:   {config.output.base_url}feeds.opml")
    for path in sorted(Path(config.output.dir).glob("*.atom")):
        print(f"feed:   {config.output.base_url}{path.name}")


def serve_in_thread(directory: Path, port: int, host: str = "127.0.0.1"):
    from feeds.server import FeedServer

    server = FeedServer(directory, host=host, port=port)  # twisted.web, in a child process
    try:
        server.start()
    except OSError as exc:
        raise ConfigError(f"serve: {exc}") from None
    logger.info("serving %s at %s", directory, server.url)
    return server


def catch_signals() -> threading.Event:
    """SIGINT and SIGTERM set the returned event from now on (set them up before telling anyone to press Ctrl-C:
    a signal that came first would raise KeyboardInterrupt instead, with the feed server child left running)."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    return stop


def json_default(value):
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot serialise {type(value).__name__}")


# -- commands


def cmd_demo(args) -> int:
    from crawler.demo.server import SampleSiteServer

    data = Path("data")
    check_writable("demo", "data", data.resolve())
    check_writable("demo", "output.dir", Path("public").resolve())
    for suffix in ("", "-wal", "-shm"):
        Path(f"data/demo.sqlite3{suffix}").unlink(missing_ok=True)
    data.mkdir(exist_ok=True)
    public = Path("public").resolve()
    public.mkdir(exist_ok=True)
    server = None if args.once else serve_in_thread(public, args.port)  # a port that is taken is said before the crawl
    port = server.port if server else args.port  # --port 0: the one it got
    with SampleSiteServer() as site:
        logger.info("sample aggregator site at %s", site.url)
        config = parse_config(
            {
                "store": {"url": f"sqlite:///{(data / 'demo.sqlite3').resolve()}"},
                "output": {"dir": str(public), "base_url": f"http://127.0.0.1:{port}/", "max_entries": 500},
                "source": [{"name": "limitedtimes", "spider": "limitedtimes", "start_urls": [site.url], "max_pages": 2000}],
                "topic": [{"name": "kazakhstan", "title": "Kazakhstan", "keywords": ["Kazakhstan", "Almaty"]}],
            }
        )
        code = crawl_and_build(config, list(config.sources))  # (the server child ends with this process if this fails)
    print_feed_urls(config)
    if code != EXIT_OK or server is None:
        if server:
            server.stop()
        return code
    stop = catch_signals()
    print("Press Ctrl-C to stop.", file=sys.stderr)
    stop.wait()
    server.stop()
    return EXIT_OK


def cmd_once(args) -> int:
    config = load_config(args.config)
    check_paths(config)
    sources = [config.source(args.source)] if args.source else list(config.sources)
    if not sources:
        raise ConfigError(f"{config.path.name}: no [[source]] to crawl")
    return crawl_and_build(config, sources)


def cmd_build(args) -> int:
    config = load_config(args.config)
    check_paths(config)
    store = open_store(config)
    try:
        build(config, store)
    finally:
        store.close()
    return EXIT_OK


def cmd_serve(args) -> int:
    config = load_config(args.config)
    directory = Path(config.output.dir)
    if not directory.is_dir():  # else every request would be a 404 and nothing would say why
        problem = "is a file, not a folder" if directory.exists() else "no such folder (`build` or `once` makes it)"
        raise ConfigError(f"{config._label}: output.dir: {directory}: {problem}")
    server = serve_in_thread(directory, args.port, args.host or config.output.host)
    stop = catch_signals()
    print(server.url, flush=True)
    stop.wait()
    server.stop()
    return EXIT_OK


def cmd_export(args) -> int:
    from feeds.topics import topics_of

    config = load_config(args.config)
    store = open_store(config)
    rules = topic_rules(config)
    try:
        for article in store.articles():
            article["topics"] = topics_of(article, rules)
            print(json.dumps(article, ensure_ascii=False, default=json_default))
    finally:
        store.close()
    return EXIT_OK


def cmd_import(args) -> int:
    """export's JSON lines back into the store: backup and restore, or from one store to another."""
    from crawler.importer import import_lines, numbered
    from feeds.catalog import index_new, take_in

    config = load_config(args.config)
    check_paths(config)
    store = open_store(config)

    def progress(message: str) -> None:
        print(f"import: {message}", file=sys.stderr, flush=True)

    def bad(number: int, why: str) -> None:
        print(f"import: line {number}: {why}; skipped", file=sys.stderr, flush=True)

    def inputs():
        for name in args.files or ["-"]:
            if name == "-":  # bytes that are not UTF-8 make a bad line, not a traceback
                yield io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="surrogateescape")
                continue
            try:
                with open(name, encoding="utf-8", errors="surrogateescape") as handle:
                    yield handle
            except OSError as exc:
                raise ConfigError(f"import: {name}: {exc.strerror}") from None

    started = time.monotonic()
    try:
        # Each story's feeds are decided as it is stored, so that the next build is incremental: first what waits,
        # and the rules recorded (on a new store: at once), then every batch in its transaction, then any replaced.
        rules = topic_rules(config)
        take_in(store, rules, progress)
        report = import_lines(store, numbered(inputs()), bad, progress, index=index_new(rules))
        take_in(store, rules, progress)
    finally:
        store.close()
    seconds = time.monotonic() - started
    progress(
        f"{report.new + report.replaced} stories stored ({report.new} new, {report.replaced} replaced), "
        f"{report.bad} bad lines, {seconds:.1f} s"
    )
    return EXIT_FAILED if report.bad else EXIT_OK


# Libraries the extraction cascade calls, whose own log lines ("ERROR trafilatura.core: empty HTML tree", "WARNING
# trafilatura.core: discarding data") speak of their internals: `extract` says itself, in one line, what a target
# yielded. Shown with -v.
EXTRACTION_LIBRARY_LOGGERS = ("trafilatura", "htmldate", "courlan", "justext", "readability")


def cmd_extract(args) -> int:
    from crawler.extract_cli import extract_targets

    if not args.verbose:
        for name in EXTRACTION_LIBRARY_LOGGERS:
            logging.getLogger(name).setLevel(logging.CRITICAL + 1)
    config = None
    if args.config or Path("refeed.toml").is_file() or os.environ.get("REFEED_CONFIG"):
        config = load_config(args.config)
    source = config.source(args.source) if config and args.source else None
    failures = 0
    timeout = (config.crawl if config else CrawlConfig()).download_timeout  # for each URL's whole download
    for result in extract_targets(args.targets, source, timeout):
        if isinstance(result, Exception):
            failures += 1
            logger.error("%s", result)
            continue
        print(json.dumps(result, ensure_ascii=False, default=json_default), flush=True)
    return EXIT_FAILED if failures else EXIT_OK


def cmd_worker(args) -> int:
    """A distributed worker: crawls every source's rounds from the shared queues, waiting for more when idle."""
    from crawler.distributed import Coordinator, require_shared_store
    from crawler.run import work

    config = load_config(args.config)
    if not config.crawl.redis_url:
        raise ConfigError(f"{config.path.name}: crawl.redis_url is empty: a worker crawls from Redis (distributed mode)")
    if not config.sources:
        raise ConfigError(f"{config.path.name}: no [[source]] to crawl")
    require_shared_store(config)
    open_store(config).close()
    Coordinator.for_config(config).close()
    logger.info("worker: %d sources (%s); SIGTERM or Ctrl-C stops", len(config.sources), ", ".join(s.name for s in config.sources))
    work(config)
    logger.info("worker stopped")
    return EXIT_OK


def distributed_status(config) -> dict | None:
    """Workers (live heartbeats) and each source's queue, in distributed mode."""
    if not config.crawl.redis_url:
        return None
    from crawler.distributed import Coordinator

    coordinator = Coordinator.for_config(config)
    try:
        return {"workers": coordinator.workers(), "queues": {s.name: coordinator.queue(s.name) for s in config.sources}}
    finally:
        coordinator.close()


def cmd_status(args) -> int:
    config = load_config(args.config)
    store = open_store(config)
    try:
        runs = store.last_runs()
        feeds = store.feed_status()
    finally:
        store.close()
    from crawler.runstate import mark_interrupted

    mark_interrupted(config.store_url, runs)  # "running" with nobody holding the source's lock: the process is gone
    distributed = distributed_status(config)
    if args.json:
        print(json.dumps({"sources": runs, "feeds": feeds, **(distributed or {})}, default=json_default, indent=2))
        return EXIT_OK
    print(f"{'source':<20} {'last run (UTC)':<20} {'outcome':<11} {'pages':>6} {'new':>6} {'dup':>6} {'errors':>7}")
    for run in runs:
        started = run["started"].strftime("%Y-%m-%d %H:%M:%S")
        print(f"{run['source']:<20} {started:<20} {run['outcome']:<11} {run['pages']:>6} {run['new']:>6} {run['duplicates']:>6} {run['errors']:>7}")
    for source in config.sources:
        if source.name not in {r["source"] for r in runs}:
            print(f"{source.name:<20} {'never':<20}")
    print()
    print(f"{'feed':<30} {'entries':>8}  {'updated (UTC)':<20}")
    for feed in feeds:
        updated = feed["updated"].strftime("%Y-%m-%d %H:%M:%S") if feed["updated"] else "-"
        print(f"{feed['slug']:<30} {feed['entries']:>8}  {updated:<20}")
    if distributed is not None:
        print()
        print(f"{'worker':<40} {'since (UTC)':<20} {'pages':>7}  busy with")
        for worker in distributed["workers"]:
            since = datetime.fromtimestamp(worker["started"], UTC).strftime("%Y-%m-%d %H:%M:%S")
            pages = sum(s.get("pages", 0) for s in worker["sources"].values())
            busy = ", ".join(name for name, s in sorted(worker["sources"].items()) if s.get("busy")) or "-"
            print(f"{worker['id']:<40} {since:<20} {pages:>7}  {busy}")
        if not distributed["workers"]:
            print("no worker running (start one with `scheduler.py worker`)")
        print()
        print(f"{'queue':<20} {'round':>6} {'start':>6} {'queued':>7}  busy workers")
        for name, queue in distributed["queues"].items():
            print(f"{name:<20} {queue['round']:>6} {queue['start']:>6} {queue['queued']:>7}  {len(queue['busy'])}")
    return EXIT_OK


def cmd_run(args) -> int:
    """The daemon: each source on its schedule, each crawl in a child process.

    A child per crawl because Twisted's reactor cannot restart, and so that a crawl
    that hangs, leaks or crashes is killed and reaped without touching the daemon.
    """
    from apscheduler.executors.pool import ThreadPoolExecutor
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.triggers.cron import CronTrigger
    from apscheduler.triggers.interval import IntervalTrigger

    from crawler.config import cron_fields

    config = load_config(args.config)
    check_paths(config)
    if not config.sources:
        raise ConfigError(f"{config.path.name}: no [[source]] to crawl")
    open_store(config).close()  # an unreachable store is one line now, not an error in every crawl later
    if config.crawl.redis_url:  # distributed: rounds are seeded into Redis and crawled by `worker` processes
        from crawler.distributed import Coordinator, require_shared_store

        require_shared_store(config)
        Coordinator.for_config(config).close()
    daemon = Daemon(config)
    # At most parallel_sources crawls at once (each a process and its page pool, ~230 MB); the others wait their turn.
    scheduler = BackgroundScheduler(timezone="UTC", executors={"default": ThreadPoolExecutor(config.crawl.parallel_sources)})
    for source in config.sources:
        kind, value = parse_schedule(source.schedule)
        trigger = IntervalTrigger(seconds=value) if kind == "interval" else CronTrigger(**cron_fields(value), timezone="UTC")
        scheduler.add_job(
            daemon.crawl,
            trigger,
            args=(source.name,),
            id=f"crawl:{source.name}",
            name=f"crawl {source.name}",
            replace_existing=True,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,  # a run that waited for a free slot (parallel_sources) is late, not missed
            next_run_time=datetime.now().astimezone(),
        )
    server = serve_in_thread(config.output.dir, args.serve, config.output.host) if args.serve is not None else None
    scheduler.start()
    logger.info("daemon started: %d sources (%s); SIGTERM or Ctrl-C stops", len(config.sources), ", ".join(s.name for s in config.sources))
    daemon.wait_for_stop()
    logger.info("stopping: no new crawls; asking running crawls to finish (a second signal kills them)")
    scheduler.shutdown(wait=False)
    daemon.stop_children()
    if server:
        server.stop()
    logger.info("stopped")
    return EXIT_OK


class Daemon:
    """The crawls the daemon runs as child processes, and how it stops them."""

    def __init__(self, config: Config):
        self.config = config
        self.children: dict[str, subprocess.Popen] = {}
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.signals = 0

    def crawl(self, name: str) -> None:
        if self.stopping.is_set():
            return
        if self.config.crawl.redis_url:
            self.round(name)
            return
        command = [sys.executable, str(ROOT / "scheduler.py"), "once", "--source", name]
        if self.config.path:
            command += ["-c", str(self.config.path.resolve())]
        logger.info("crawl %s: starting", name)
        with self.lock:
            child = subprocess.Popen(command, start_new_session=True)  # our signals are not its signals
            self.children[name] = child
        budget = self.config.crawl.run_timeout + 60  # the child stops itself at run_timeout; this is the backstop
        try:
            code = child.wait(timeout=budget)
            logger.info("crawl %s: finished with exit %d", name, code)
        except subprocess.TimeoutExpired:
            logger.error("crawl %s: still running after %d s; stopping it", name, budget)
            self._terminate(child)
        finally:
            with self.lock:
                self.children.pop(name, None)

    def round(self, name: str) -> None:
        """Distributed mode: seed a round of the source into Redis, wait until the workers have drained it, build."""
        from crawler.distributed import crawl_rounds

        store = open_store(self.config)
        try:
            results = crawl_rounds(self.config, [self.config.source(name)], store, stop=self.stopping)
            for r in results:
                logger.info("round %s: %s, %d pages, %d new, %d duplicates (%.1f s)", r.source, r.outcome, r.pages, r.new, r.duplicates, r.seconds)
            if not self.stopping.is_set():
                build(self.config, store)
        except Exception:
            logger.exception("round %s failed", name)
        finally:
            store.close()

    def wait_for_stop(self) -> None:
        def handler(signum, _frame):
            self.signals += 1
            if self.signals == 1:
                self.stopping.set()
            else:
                logger.warning("second signal: killing running crawls now")
                with self.lock:
                    for child in self.children.values():
                        child.kill()
                os._exit(EXIT_FAILED)

        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, handler)
        self.stopping.wait()

    def stop_children(self) -> None:
        with self.lock:
            running = list(self.children.values())
        for child in running:
            child.send_signal(signal.SIGTERM)  # Scrapy finishes cleanly: in-flight pages, last commit, feed build
        for child in running:
            child.wait()

    @staticmethod
    def _terminate(child: subprocess.Popen) -> None:
        child.send_signal(signal.SIGTERM)
        try:
            child.wait(timeout=30)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


# -- argument parsing


def port_number(text: str) -> int:
    """argparse type of a TCP port: 0 (any free port) to 65535."""
    if not text.strip().isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (0-65535)")
    return int(text)


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(prog="scheduler.py", description="refeed: clean, deduplicated per-topic feeds from news aggregator sites.")
    main.add_argument("-v", "--verbose", action="store_true", help="log Scrapy's own messages too")
    commands = main.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name, func, help_text):
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(func=func)
        return sub

    def with_config(sub):
        sub.add_argument("-c", "--config", metavar="FILE", help="configuration file (default: ./refeed.toml, then $REFEED_CONFIG)")
        return sub

    demo = command("demo", cmd_demo, "start the bundled sample site, crawl it, build feeds into public/ and serve them")
    demo.add_argument("--port", type=port_number, default=8080, help="port to serve the feeds on (default 8080; 0: any free port)")
    demo.add_argument("--once", action="store_true", help="exit after building the feeds")
    once = with_config(command("once", cmd_once, "crawl every (or one) source once, then build the feeds (for cron)"))
    once.add_argument("--source", metavar="NAME", help="crawl only this source")
    run = with_config(command("run", cmd_run, "the daemon: every source on its own schedule, feeds rebuilt after each crawl"))
    run.add_argument("--serve", type=port_number, metavar="PORT", help="also serve the feeds on this port (on output.host)")
    with_config(command("build", cmd_build, "rebuild the feeds from the store without crawling"))
    serve = with_config(command("serve", cmd_serve, "serve the output folder over HTTP (ETag, Last-Modified, 304, gzip)"))
    serve.add_argument("--port", type=port_number, default=8080, help="port (default 8080; 0: any free port)")
    serve.add_argument("--host", metavar="H", help="address to listen on (default: output.host, else 127.0.0.1; 0.0.0.0: every interface)")
    with_config(command("export", cmd_export, "every stored article, one JSON object a line"))
    imports = with_config(command("import", cmd_import, "the reverse of export: JSON lines (files, or stdin) into the store"))
    imports.add_argument("files", nargs="*", metavar="FILE", help="export files to read (default, or -: standard input)")
    extract = with_config(command("extract", cmd_extract, "extract articles from URLs or local HTML files without storing them"))
    extract.add_argument("targets", nargs="+", metavar="TARGET", help="URL or HTML file")
    extract.add_argument("--source", metavar="NAME", help="extract as this source's spider does")
    with_config(command("worker", cmd_worker, "distributed mode: crawl every source's rounds from the shared Redis queues; waits for more"))
    status = with_config(command("status", cmd_status, "last run of each source and each feed (and workers and queues when distributed)"))
    status.add_argument("--json", action="store_true", help="print JSON instead of a table")
    return main


class BriefFormatter(logging.Formatter):
    """One line a message: tracebacks only with --verbose."""

    def format(self, record):
        if record.exc_info or record.exc_text:
            record = logging.makeLogRecord({**record.__dict__, "exc_info": None, "exc_text": None})
        return super().format(record)


def setup_logging(verbose: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    formatter = logging.Formatter if verbose else BriefFormatter
    handler.setFormatter(formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO if verbose else logging.WARNING)
    for name in ("refeed", "crawler", "feeds"):
        logging.getLogger(name).setLevel(logging.INFO)


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    setup_logging(args.verbose)
    try:
        code = args.func(args)
        if sys.stdout is not None:  # None with stdout closed (>&-)
            sys.stdout.flush()  # a reader that went away shows here, not as a message at exit
        return code
    except ConfigError as exc:
        print(f"refeed: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `export | head -1`: the reader has what it wanted; stop quietly, as Unix tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # the flush at exit then writes nowhere
        return EXIT_PIPE


if __name__ == "__main__":
    sys.exit(main())
