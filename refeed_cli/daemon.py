"""`run`: the APScheduler daemon, each source on its schedule, each crawl in a child process."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
from datetime import datetime
from pathlib import Path

from crawler.config import Config, ConfigError, check_paths, load_config
from crawler.schedule import cron_fields, parse_schedule
from refeed_cli.steps import EXIT_FAILED, EXIT_OK, build, open_store, serve_in_thread

__all__ = ["Daemon", "cmd_run"]

logger = logging.getLogger("refeed")  # the command line's own messages, shown at INFO (scheduler.setup_logging)

ROOT = Path(__file__).resolve().parent.parent  # where scheduler.py is, which each crawl runs as a child


def cmd_run(args) -> int:
    """The daemon: each source on its schedule, each crawl in a child process.

    A child per crawl because Twisted's reactor cannot restart, and so that a crawl
    that hangs, leaks or crashes is killed and reaped without touching the daemon.
    """
    from apscheduler.executors.pool import ThreadPoolExecutor
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.triggers.cron import CronTrigger
    from apscheduler.triggers.interval import IntervalTrigger

    config = load_config(args.config)
    check_paths(config)
    if not config.sources:
        raise ConfigError(f"{config._label}: no [[source]] to crawl")
    open_store(config).close()  # an unreachable store is one line now, not an error in every crawl later
    if config.crawl.redis_url:  # distributed: rounds are seeded into Redis and crawled by `worker` processes
        from crawler.coordinator import Coordinator, require_shared_store

        require_shared_store(config)
        Coordinator.for_config(config).close()
    daemon = Daemon(config)
    # At most parallel_sources crawls at once (each a process and its page pool, ~230 MB); the others wait their turn.
    scheduler = BackgroundScheduler(timezone="UTC", executors={"default": ThreadPoolExecutor(config.crawl.parallel_sources)})
    for source in config.sources:
        _, value = parse_schedule(source.schedule)  # ("interval", seconds) or ("cron", fields)
        trigger = IntervalTrigger(seconds=value) if isinstance(value, int) else CronTrigger(**cron_fields(value), timezone="UTC")
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
        from crawler.coordinator import crawl_rounds

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
