"""Other writers of the same store: SQLite's busy wait, tried again past its timeout, and PostgreSQL's advisory locks."""

from __future__ import annotations

import hashlib
import logging
import sqlite3
import struct
import time

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError

logger = logging.getLogger(__name__)

BUSY_TIMEOUT = 30.0  # seconds SQLite itself waits for the write lock…
WRITE_PATIENCE = 600.0  # …and refeed, trying again, before a write fails


def locked(exc: BaseException) -> bool:
    """SQLite's own 'locked' or 'busy' (the driver's error, not SQLAlchemy's text, which quotes the parameters)."""
    exc = getattr(exc, "orig", exc)
    return isinstance(exc, sqlite3.OperationalError) and str(exc) in ("database is locked", "database is busy")


def while_locked(attempt, patience: float | None = None, pause: float = 0.05, warn: bool = True):
    """attempt(), tried again while SQLite answers 'locked' (another writer), for up to `patience` seconds
    (WRITE_PATIENCE unless given); any other error, or one past the deadline, is raised."""
    deadline = time.monotonic() + (WRITE_PATIENCE if patience is None else patience)
    while True:
        try:
            return attempt()
        except (sqlite3.OperationalError, OperationalError) as exc:
            if not locked(exc) or time.monotonic() > deadline:
                raise
            if warn:
                logger.warning("the store is busy with another writer; trying again")
            time.sleep(pause)


def sqlite_pragmas(dbapi_conn, _record) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT * 1000)}")
    # A new file gives pages freed by retention back to the file system (`PRAGMA incremental_vacuum`); on a file
    # made without it this does nothing, and freed pages are reused by later stories instead.
    cursor.execute("PRAGMA auto_vacuum=INCREMENTAL")
    # A new file: processes switching it to WAL at once get "locked" at once, without SQLite's busy wait.
    while_locked(lambda: cursor.execute("PRAGMA journal_mode=WAL"), patience=BUSY_TIMEOUT, pause=0.01, warn=False)
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def reading_connection(engine: Engine) -> Connection:
    """A connection for lookups only, each statement its own transaction: it holds no snapshot and no lock
    between them (a crawler's; its store writer writes), and sees each commit at once."""
    return engine.connect().execution_options(isolation_level="AUTOCOMMIT")


def write(engine: Engine, work):
    """`work(conn)` in a transaction of its own. SQLite lets one writer in at a time and does not queue the
    others: a crawl of another source whose batches follow each other closely can keep a short write like
    this one out past busy_timeout. It is tried again then, for up to WRITE_PATIENCE, not given up."""
    def attempt():
        with engine.begin() as conn:
            return work(conn)

    return while_locked(attempt)


def lock_key(name: str) -> int:
    """A PostgreSQL advisory lock's key (a signed 64-bit number) for a name."""
    return struct.unpack(">q", hashlib.blake2b(name.encode(), digest_size=8).digest())[0]


SCHEMA_LOCK = lock_key("refeed:schema")
STORY_LOCK = lock_key("refeed:stories")  # one writer of stories at a time on a shared store (see Batch.serialize)
