"""A crawl process's hard deadline: whatever a site or a page does, it ends at run_timeout plus a margin."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Callable

__all__ = ["HardDeadline", "margin"]

logger = logging.getLogger(__name__)

EXIT_FAILED = 1
RECORD_PATIENCE = 5.0  # seconds the expiry waits for the run history to take the outcome; then it exits anyway
ALARM_AFTER = 10  # the kernel's SIGALRM ends the process this long after the deadline if even the thread cannot run


def margin(run_timeout: float) -> float:
    """Time a crawl stopped at run_timeout has to close (in-flight pages, the last commit): a tenth, 5 s to 30 s.

    At most 30 s, so that the daemon's backstop (run_timeout + 60 s) never has to act first."""
    return min(30.0, max(5.0, run_timeout / 10))


class HardDeadline:
    """At `seconds`, logs, calls `on_expiry` (given RECORD_PATIENCE to finish) and ends the process with exit 1.

    Scrapy's CLOSESPIDER_TIMEOUT stops a crawl politely, but its close waits for every request in flight and
    for the item pipeline: a site that trickles a byte a second under a long download timeout, a download handler
    without a timeout, a page that keeps the reactor busy would keep `once` running, and its source locked, for
    good. The timer runs on its own thread; SIGALRM's default action (the kernel ends the process) backs it up
    for the case that no Python thread can run. Locks held by the process are released by the OS as it ends.
    """

    def __init__(self, seconds: float, on_expiry: Callable[[], None] | None = None):
        self.seconds = seconds
        self.on_expiry = on_expiry
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True
        self._alarm = False

    def __enter__(self) -> HardDeadline:
        self._timer.start()
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGALRM, signal.SIG_DFL)
            signal.alarm(int(self.seconds) + ALARM_AFTER)
            self._alarm = True
        return self

    def __exit__(self, *exc_info) -> None:
        self._timer.cancel()
        if self._alarm:
            signal.alarm(0)

    def _expire(self) -> None:
        logger.error("still running %.0f s after it started: past run_timeout and its margin; ending the process", self.seconds)
        if self.on_expiry is not None:
            recorder = threading.Thread(target=self._record, daemon=True)
            recorder.start()
            recorder.join(RECORD_PATIENCE)
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        os._exit(EXIT_FAILED)

    def _record(self) -> None:
        if self.on_expiry is None:
            return
        try:
            self.on_expiry()
        except Exception:
            logger.exception("could not record the timeout")
