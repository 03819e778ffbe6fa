"""Steps the commands share: open the store, build the feeds, crawl then build, print summaries, serve, exit codes."""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

from crawler.config import Config, ConfigError

__all__ = [
    "EXIT_FAILED",
    "EXIT_OK",
    "EXIT_PIPE",
    "EXIT_USAGE",
    "build",
    "catch_signals",
    "crawl_and_build",
    "json_default",
    "open_store",
    "print_feed_urls",
    "serve_in_thread",
    "topic_rules",
]

logger = logging.getLogger("refeed")  # the command line's own messages, shown at INFO (scheduler.setup_logging)

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
EXIT_PIPE = 128 + signal.SIGPIPE  # 141: what the shell shows for `yes | head`, a writer whose reader went away


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
