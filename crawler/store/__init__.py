"""The store, the only database code, one concern a module: `schema` (tables, upgrade), `queries` (functions on a
connection), `staging` (import's writes), `history` (runs, feed states), `batching` (the write batch), `contention`
(other writers) and `engine` (the Store)."""

from __future__ import annotations

from crawler.store.batching import Batch
from crawler.store.contention import while_locked
from crawler.store.engine import Store
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
