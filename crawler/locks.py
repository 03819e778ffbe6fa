"""Mutual exclusion across processes: one crawl of a source per store, one feed build per output folder.

Locks are held by the operating system or the database, never by a file's mere existence,
so a killed process releases them at once: there is no stale lock to recover by hand.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import struct
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.engine import make_url

__all__ = ["FileLock", "SourceLock"]

logger = logging.getLogger(__name__)


class FileLock:
    """An exclusive flock(2) on a file (holding the owner's pid) or on a folder; released on close or when the process dies."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._fd: int | None = None

    def acquire(self, blocking: bool = False) -> bool:
        folder = self.path.is_dir()
        if not folder:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDONLY) if folder else os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            os.close(fd)
            return False
        if not folder:
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return True

    def holder(self) -> str:
        try:
            return self.path.read_text().strip() or "?"
        except OSError:
            return "?"

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing drops the flock
            self._fd = None

    def __enter__(self) -> FileLock:
        self.acquire(blocking=True)
        return self

    def __exit__(self, *exc_info) -> None:
        self.release()


class SourceLock:
    """One crawl of a source at a time per store: a lock file beside a SQLite store, an advisory lock on PostgreSQL."""

    def __init__(self, store_url: str, source: str):
        self.store_url = store_url
        self.source = source
        url = make_url(store_url)
        self._file: FileLock | None = None
        self._conn: Connection | None = None
        self._engine: Engine | None = None
        if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
            self._file = FileLock(Path(f"{url.database}.{source}.lock"))
        elif url.get_backend_name() == "postgresql":
            self._engine = create_engine(store_url, pool_size=1)
        self._key = struct.unpack(">q", hashlib.blake2b(f"refeed:{source}".encode(), digest_size=8).digest())[0]

    def acquire(self) -> bool:
        if self._file is not None:
            return self._file.acquire()
        if self._engine is not None:
            conn = self._engine.connect()
            got = conn.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": self._key}).scalar()
            conn.commit()
            if got:
                self._conn = conn
            else:
                conn.close()
            return bool(got)
        logger.warning("%s: no cross-process lock for this kind of store; do not run two crawls at once", self.source)
        return True

    def holder(self) -> str:
        return f"pid {self._file.holder()}" if self._file is not None else "another process"

    def held(self) -> bool | None:
        """Whether some live process holds the lock now (a crawl of the source is running), without taking it;
        None for a store without cross-process locks. A shared flock on the lock file, a look at pg_locks:
        neither writes nor keeps a crawl that starts meanwhile out for longer than the look."""
        if self._file is not None:
            try:
                fd = os.open(self._file.path, os.O_RDONLY)
            except FileNotFoundError:
                return False
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            finally:
                os.close(fd)  # drops the shared lock too
            return False
        if self._engine is not None:
            high, low = (self._key >> 32) & 0xFFFFFFFF, self._key & 0xFFFFFFFF  # how PostgreSQL shows a bigint key
            with self._engine.connect() as conn:
                query = (
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND classid = :high AND objid = :low"
                    " AND objsubid = 1 AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
                )
                return bool(conn.execute(text(query), {"high": high, "low": low}).scalar())
        return None

    def release(self) -> None:
        if self._file is not None:
            self._file.release()
        if self._conn is not None:
            self._conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": self._key})
            self._conn.close()
            self._conn = None
        if self._engine is not None:
            self._engine.dispose()
