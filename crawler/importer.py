"""`import`: export's JSON lines back into a store, streamed, with everything deduplication needs."""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import re
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.engine import Connection

from crawler.cleaning import content_hash_of, sanitize_html
from crawler.dedup import exact_fingerprint, lead_keys, near_signature
from crawler.store import Store, import_lock, queries, staging, stories, story_id_for, utcnow, while_locked

__all__ = ["BadLine", "ImportReport", "import_lines", "parse_line"]

logger = logging.getLogger(__name__)

BATCH = 500  # lines a transaction: a kill loses at most these, memory stays flat
_TEXT_KEYS = ("title", "summary", "content_html", "content_text")
_NOT_UTF8 = re.compile("[\udc80-\udcff]")
_OPTIONAL_TEXT = ("publisher", "language", "image", "image_caption", "site")
Index = Callable[[Connection, list[str]], None]  # decides the feeds of stories just stored, in their transaction


class BadLine(ValueError):
    """A line that is not an exported story; str() says what is wrong with it."""


@dataclass
class ImportReport:
    lines: int = 0
    new: int = 0
    replaced: int = 0
    bad: int = 0


def _when(line: dict, key: str) -> datetime | None:
    value = line.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadLine(f"{key} is not an ISO 8601 string")
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise BadLine(f"{key} {value[:40]!r} is not an ISO 8601 date") from None
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(UTC)


def _strings(line: dict, key: str) -> list[str]:
    value = line.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise BadLine(f"{key} is not a list of strings")
    return [v for v in dict.fromkeys(v.strip() for v in value) if v]


def parse_line(text: str, now: datetime) -> dict:
    """One export line as a store row (without the deduplication keys); BadLine when it is not one."""
    if _NOT_UTF8.search(text):  # read with surrogateescape: the bytes that were no UTF-8
        raise BadLine("not UTF-8 text")
    try:
        line = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadLine(f"not JSON ({exc.msg})") from None
    if not isinstance(line, dict):
        raise BadLine("not a JSON object")
    url = line.get("url")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise BadLine("url is missing or not an http(s) URL")
    for key in (*_TEXT_KEYS, *_OPTIONAL_TEXT, "id"):
        if line.get(key) is not None and not isinstance(line[key], str):
            raise BadLine(f"{key} is not a string")
    if not (line.get("title") or "").strip():
        raise BadLine("title is missing")
    story_id = line.get("id")
    if story_id is not None and not (0 < len(story_id) <= 16):
        raise BadLine("id is not an id of 1 to 16 characters")
    published = _when(line, "published") or now
    updated = max(_when(line, "updated") or published, published)
    urls = _strings(line, "urls")
    return {
        "id": story_id,
        "url": url,
        # every URL in the order given (export's: as first seen), the story's own among them
        "urls": [u for u in ([] if url in urls else [url]) + urls if u.startswith(("http://", "https://"))],
        "site": (line.get("site") or "import")[:64],
        "title": " ".join(line["title"].split()),
        "published": published,
        "updated": updated,
        "first_seen": min(published, now),  # a story a year old is a year old to retention, not new
        "publisher": line.get("publisher") or None,
        "publishers": [line["publisher"]] if line.get("publisher") else [],
        "authors": _strings(line, "authors"),
        "topics": _strings(line, "topics"),
        "language": (line.get("language") or None) and line["language"][:16],
        "summary": line.get("summary") or "",
        "content_html": sanitize_html(line.get("content_html") or "", url),  # an import file is input like any page
        "content_text": line.get("content_text") or "",
        "image": line.get("image") or None,
        "image_caption": line.get("image_caption") or None,
    }


def _prepared(lines: list[tuple[int, str]], now: datetime) -> list[tuple[int, object]]:
    """Parse and key a batch of lines (in a worker process): (number, (row, bands, teaser keys, other URLs) or BadLine)."""
    done: list[tuple[int, object]] = []
    for number, text in lines:
        try:
            row = parse_line(text, now)
        except BadLine as exc:
            done.append((number, exc))
            continue
        signature = near_signature(row["content_text"])
        row["fingerprint"] = exact_fingerprint(row["title"], row["content_text"])
        row["content_hash"] = content_hash_of(row["title"], row["content_html"])
        row["signature"] = signature.to_bytes() if signature is not None else None
        urls = row.pop("urls")
        done.append((number, (row, signature.bands if signature is not None else [], lead_keys(row["title"], row["content_text"]), urls)))
    return done


def _store(store: Store, stories_: list[tuple], report: ImportReport, index: Index | None = None) -> None:
    """One transaction for a batch of keyed lines: a line with a stored id replaces that story, others are new.
    New stories' dedup keys go to the staging tables; they are moved into place before a story is replaced (its
    keys may be among them) and when the import ends. `index(conn, ids)`: the new stories' feeds decided in the
    same transaction (otherwise they are marked changed, for the next take_in)."""
    def insert(conn, new: list[tuple]) -> None:
        staging.insert_stories(conn, new, staged=True, changed=index is None)
        if index is not None and new:
            index(conn, [row["id"] for row, *_ in new])

    def write(conn):
        given = [row["id"] for row, *_ in stories_ if row["id"]]
        stored = set(conn.execute(select(stories.c.id).where(stories.c.id.in_(given))).scalars()) if given else set()
        taken = set(stored)
        wanted = [story_id_for(row["url"]) for row, *_ in stories_ if not row["id"]]
        if wanted:
            taken.update(conn.execute(select(stories.c.id).where(stories.c.id.in_(wanted))).scalars())
        new, inserted, replaced = [], 0, 0
        for row, bands, keys, urls in stories_:
            if row["id"] and row["id"] in taken and row["id"] not in stored:  # the same id twice in this batch:
                insert(conn, new)  # the earlier line stored first, the later one replaces it
                inserted, new = inserted + len(new), []
                stored.add(row["id"])
            if row["id"] in stored:
                if staging.staged(conn):  # its own keys may be among them, this batch's included
                    staging.merge_staged(conn)
                _replace(conn, row, bands, urls)
                replaced += 1
                continue
            if not row["id"]:
                row["id"] = _free_id(row["url"], taken)
            taken.add(row["id"])
            new.append((row, bands, keys, urls))
        insert(conn, new)
        return inserted + len(new), replaced

    new, replaced = while_locked(lambda: _in_transaction(store, write))
    report.new += new
    report.replaced += replaced


def _replace(conn, row: dict, bands: list[int], urls: list[str]) -> None:
    """A line with a stored id: the story takes its values, keys and URLs (its id and first_seen stay)."""
    queries.update_story(conn, row["id"], {k: v for k, v in row.items() if k not in ("id", "first_seen")})
    queries.replace_bands(conn, row["id"], bands)
    queries.replace_lead_keys(conn, row["id"], row["title"], row["content_text"])
    for i, url in enumerate(urls):
        queries.add_url(conn, row["id"], url, row["first_seen"] + timedelta(microseconds=i))


def _in_transaction(store: Store, work):
    with store.engine.begin() as conn:
        return work(conn)


def _free_id(url: str, taken: set[str]) -> str:
    """The id a crawl would give the URL, or, when a story has it, one derived from it that none has."""
    candidate, n = story_id_for(url), 0
    while candidate in taken:
        n += 1
        candidate = story_id_for(f"{url}#import-{n}")
    return candidate


def numbered(sources: Iterable[Iterable[str]]) -> Iterator[tuple[int, str]]:
    """Every line of the inputs, numbered from 1 across all of them; blank lines left out."""
    number = 0
    for source in sources:
        for text in source:
            number += 1
            if text.strip():
                yield number, text


def import_lines(
    store: Store,
    lines: Iterable[tuple[int, str]],
    on_bad: Callable[[int, str], None],
    progress: Callable[[str], None],
    workers: int | None = None,
    index: Index | None = None,
) -> ImportReport:
    """Store every good line in batches of BATCH, each its own transaction, in the order given; on_bad(number, why)
    for the others. Parsing, sanitizing and signing run in `workers` processes (default: one a core) with at most
    two batches each in flight, so that memory stays flat however long the input."""
    report, now = ImportReport(), utcnow()
    lock = import_lock(store.url)  # other processes opening the store leave this import's staged keys to it
    lock.acquire()
    started = told = time.monotonic()
    workers = workers if workers is not None else (os.cpu_count() or 1)
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) if workers > 1 else None
    pending: deque = deque()

    def store_done(done: list[tuple[int, object]]) -> None:
        nonlocal told
        good: list[tuple] = []
        for number, result in done:
            report.lines += 1
            if isinstance(result, BadLine):
                report.bad += 1
                on_bad(number, str(result))
            else:
                good.append(result)  # type: ignore[arg-type]  # (row, bands, keys, urls) when not a BadLine
        if good:
            _store(store, good, report, index)
        if time.monotonic() - told >= 5:
            told = time.monotonic()
            stored = report.new + report.replaced
            progress(f"{stored} stories stored ({stored / (told - started):.0f}/s)")

    try:
        for batch in _batches(lines):
            if pool is None:
                store_done(_prepared(batch, now))
                continue
            pending.append(pool.submit(_prepared, batch, now))
            if len(pending) >= 2 * workers:
                store_done(pending.popleft().result())
        while pending:
            store_done(pending.popleft().result())
    finally:
        for future in pending:
            future.cancel()
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        try:  # what was stored is deduplicated against, even when a bad input stopped the rest
            if report.new:
                progress(f"moving the deduplication keys of {report.new} stories into place")
            while_locked(lambda: _in_transaction(store, lambda conn: staging.staged(conn) and staging.merge_staged(conn)))
        finally:
            lock.release()
    return report


def _batches(lines: Iterable[tuple[int, str]]) -> Iterator[list[tuple[int, str]]]:
    batch = []
    for line in lines:
        batch.append(line)
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch
