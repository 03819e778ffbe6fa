"""The one-shot commands: demo, once, build, serve, export, import, extract, worker."""

from __future__ import annotations

import io
import json
import logging
import os
import sys
import time
from pathlib import Path

from crawler.config import ConfigError, CrawlConfig, check_paths, check_writable, load_config, parse_config
from refeed_cli.steps import (
    EXIT_FAILED,
    EXIT_OK,
    build,
    catch_signals,
    crawl_and_build,
    json_default,
    open_store,
    print_feed_urls,
    serve_in_thread,
    topic_rules,
)

__all__ = ["cmd_build", "cmd_demo", "cmd_export", "cmd_extract", "cmd_import", "cmd_once", "cmd_serve", "cmd_worker"]

logger = logging.getLogger("refeed")  # the command line's own messages, shown at INFO (scheduler.setup_logging)


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
        raise ConfigError(f"{config._label}: no [[source]] to crawl")
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
    from crawler.coordinator import Coordinator, require_shared_store
    from crawler.run import work

    config = load_config(args.config)
    if not config.crawl.redis_url:
        raise ConfigError(f"{config._label}: crawl.redis_url is empty: a worker crawls from Redis (distributed mode)")
    if not config.sources:
        raise ConfigError(f"{config._label}: no [[source]] to crawl")
    require_shared_store(config)
    open_store(config).close()
    Coordinator.for_config(config).close()
    logger.info("worker: %d sources (%s); SIGTERM or Ctrl-C stops", len(config.sources), ", ".join(s.name for s in config.sources))
    work(config)
    logger.info("worker stopped")
    return EXIT_OK
