"""One way to record a run of a source, whoever crawls it (this process, or workers on Redis): locked, started, judged, finished."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from crawler.locks import SourceLock
from crawler.progress import counts

if TYPE_CHECKING:
    from crawler.store import Store

__all__ = ["BOT_WALL_STATUSES", "HEALTHY", "OUTCOMES", "Recorder", "Run", "SourceRun", "judge", "seen"]

logger = logging.getLogger(__name__)

OUTCOMES = {
    "ok": "articles found as usual",
    "locked": "another refeed process was crawling this source; skipped",
    "degraded": "far fewer articles than its recent runs: has the site changed?",
    "blocked": "the site answered with a bot wall (403/429 or a challenge page)",
    "timeout": "stopped after its time budget",
    "failed": "nothing usable fetched, or no article found",
    "interrupted": "its process ended without finishing the run (shown by status; never recorded)",
}
HEALTHY = {"ok", "locked"}
BOT_WALL_STATUSES = ("403", "429")
KEPT = ("pages", "new", "duplicates", "skipped", "errors")  # the figures the run history keeps, beside `seen`


@dataclass
class SourceRun:
    """How one source's run went: its outcome (see OUTCOMES) and figures."""

    source: str
    outcome: str
    seconds: float
    pages: int = 0
    new: int = 0
    updated: int = 0
    duplicates: int = 0
    known: int = 0
    unchanged: int = 0
    skipped: int = 0
    errors: int = 0
    message: str = ""

    @property
    def healthy(self) -> bool:
        return self.outcome in HEALTHY


@dataclass(frozen=True)
class Run:
    """A run under way: its source, its row in the run history, and when it started (monotonic clock)."""

    source: str
    id: int
    started: float


class Recorder:
    """The runs of one crawl or round, recorded the same way in every mode.

    `start` takes each source's lock and then writes its run row ("running"); `finish` judges a run by its
    stats and finishes the row; leaving the `with` block lets go of the locks, however it is left. The lock is
    held from before the row is written until after it is finished, which is what lets `status` tell a
    running run from one whose process died (crawler.runstate)."""

    def __init__(self, store_url: str, store: Store):
        self.store_url = store_url
        self.store = store
        self.results: list[SourceRun] = []
        self._locks: list[SourceLock] = []

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc_info: object) -> None:
        while self._locks:
            self._locks.pop().release()

    def start(self, sources: Iterable[str]) -> list[Run]:
        """A run for each source whose lock is free; a source another process is crawling is a "locked" result."""
        runs = []
        for source in sources:
            lock = SourceLock(self.store_url, source)
            if not lock.acquire():
                logger.warning("%s: %s (held by %s)", source, OUTCOMES["locked"], lock.holder())
                self.results.append(SourceRun(source=source, outcome="locked", seconds=0.0, message=f"held by {lock.holder()}"))
                continue
            self._locks.append(lock)
            runs.append(Run(source, self.store.start_run(source), time.monotonic()))
        return runs

    def finish(self, run: Run, stats: Mapping[str, Any]) -> SourceRun:
        """The run judged by its crawl's stats (Scrapy's, or a round's summed over workers) and recorded."""
        figures = counts(dict(stats))
        outcome, message = judge(stats, figures, self.store.recent_runs(run.source, limit=6)[1:])
        if outcome not in HEALTHY:
            logger.error("%s: %s: %s", run.source, outcome, message)
        self.store.finish_run(run.id, outcome=outcome, message=message, seen=seen(figures), **{k: figures[k] for k in KEPT})
        result = SourceRun(source=run.source, outcome=outcome, seconds=time.monotonic() - run.started, message=message, **figures)
        self.results.append(result)
        return result

    def abandon(self, run: Run, outcome: str, message: str) -> None:
        """The run ended without stats to judge it by (its process is about to be ended): only its outcome is recorded."""
        self.store.finish_run(run.id, outcome=outcome, message=message)


def seen(figures: Mapping[str, int]) -> int:
    """Articles the run found on the site, whether new or already stored."""
    return sum(figures[k] for k in ("new", "updated", "duplicates", "known", "unchanged"))


def judge(stats: Mapping[str, Any], figures: Mapping[str, int], previous: Sequence[Mapping[str, Any]] = ()) -> tuple[str, str]:
    """Health of one run from its stats; Scrapy's exit code says nothing of it."""
    reason = stats.get("finish_reason", "unknown")
    statuses = {k.rsplit("/", 1)[1]: v for k, v in stats.items() if k.startswith("downloader/response_status_count/")}
    good = sum(v for k, v in statuses.items() if k.startswith("2") or k == "304") - stats.get("robotstxt/response_count", 0)
    walls = sum(statuses.get(code, 0) for code in BOT_WALL_STATUSES) + stats.get("refeed/bot_wall", 0)
    found = seen(figures)
    if reason == "closespider_timeout":
        return "timeout", f"stopped after its time budget with {found} articles seen"
    if reason != "finished":
        return "failed", f"crawl ended: {reason}"
    if walls and walls >= good:
        return "blocked", f"{walls} pages answered with a bot wall (403/429/challenge)"
    if not good:
        return "failed", "no page could be fetched"
    if found == 0:
        return "failed", "no article found: has the site changed?"
    usual = sorted(r["seen"] for r in previous if r.get("outcome") == "ok" and r.get("seen"))[:5]
    if len(usual) >= 2:
        median = usual[len(usual) // 2]
        if found < median / 2:
            return "degraded", f"{found} articles seen, usually {median}: has the site changed?"
    if walls:
        return "ok", f"{walls} pages answered 403/429"
    return "ok", ""
