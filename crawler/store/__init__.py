"""The store: the only database code. Tables in `schema`, queries on a connection in `queries`, import's writes in `staging`,
the engine and the write batch in `engine`, other writers in `contention`."""

from __future__ import annotations

from crawler.store.contention import while_locked
from crawler.store.engine import Batch, Store
from crawler.store.schema import (
    EXPORT_KEYS,
    SCHEMA_VERSION,
    changed_stories,
    dirty_feeds,
    lead_keys_table,
    meta,
    near_bands,
    runs,
    source_feeds,
    stories,
    story_id_for,
    story_topics,
    utcnow,
)
from crawler.store.staging import import_lock, importing

__all__ = [
    "EXPORT_KEYS",
    "SCHEMA_VERSION",
    "Batch",
    "Store",
    "changed_stories",
    "dirty_feeds",
    "import_lock",
    "importing",
    "lead_keys_table",
    "meta",
    "near_bands",
    "runs",
    "source_feeds",
    "stories",
    "story_id_for",
    "story_topics",
    "utcnow",
    "while_locked",
]
