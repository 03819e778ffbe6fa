"""Whether a run the history calls "running" still is: its process holds the source's lock until it ends."""

from __future__ import annotations

from crawler.locks import SourceLock

__all__ = ["INTERRUPTED", "mark_interrupted"]

INTERRUPTED = "its process ended without finishing the run (killed, or the machine stopped); the next run fetches what it missed"


def mark_interrupted(store_url: str, runs: list[dict]) -> list[dict]:
    """Runs recorded as "running" whose source lock nobody holds become "interrupted", in place.

    A crawl takes its source's lock before its run row is written and lets go after the row is finished; the OS
    (or PostgreSQL) drops the lock when the process dies, however it dies. So "running" with the lock free is
    a run whose process is gone."""
    for run in runs:
        if run.get("outcome") != "running":
            continue
        lock = SourceLock(store_url, run["source"])
        try:
            if lock.held() is False:
                run["outcome"] = "interrupted"
                run["message"] = INTERRUPTED
        finally:
            lock.release()
    return runs
