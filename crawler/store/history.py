"""What the store remembers besides stories: each source's runs, and each feed as the last build left it."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from crawler.store.contention import reading_connection, write
from crawler.store.schema import feeds, meta, runs, utcnow


class History:
    """The Store's run history and feed states (a part of Store: `store.start_run(...)`, `store.feed_states()`)."""

    engine: Engine

    def start_run(self, source: str) -> int:
        """A run of this source begins: its id, for finish_run."""
        row = {"source": source, "started": utcnow(), "outcome": "running"}
        return write(self.engine, lambda conn: conn.execute(runs.insert().values(**row)).inserted_primary_key[0])

    def finish_run(self, run_id: int, **values) -> None:
        values.setdefault("finished", utcnow())
        write(self.engine, lambda conn: conn.execute(runs.update().where(runs.c.id == run_id).values(**values)))

    def last_runs(self) -> list[dict]:
        with self.engine.connect() as conn:
            latest = select(runs.c.source, func.max(runs.c.id).label("id")).group_by(runs.c.source).subquery()
            rows = conn.execute(select(runs).join(latest, runs.c.id == latest.c.id).order_by(runs.c.source))
            return [dict(row._mapping) for row in rows]

    def recent_runs(self, source: str, limit: int = 10) -> list[dict]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(runs).where(runs.c.source == source).order_by(runs.c.id.desc()).limit(limit))
            return [dict(row._mapping) for row in rows]

    def feed_states(self) -> dict[str, dict]:
        """Every feed as the last build left it: title, entries, updated (ISO), headlines, digest, files."""
        with reading_connection(self.engine) as conn:
            rows = conn.execute(select(feeds)).all()
        return {
            row.slug: {
                "title": row.title,
                "entries": row.entries,
                "updated": row.updated.isoformat() if row.updated else None,
                "headlines": json.loads(row.headlines or "[]"),
                "digest": row.digest,
                "files": json.loads(row.files or "{}"),
            }
            for row in rows
        }

    def save_feed_states(self, changed: dict[str, dict], gone: Iterable[str], options: str) -> None:
        """Remember the feeds a build rendered (or found unchanged) and forget those it removed; `options`: its digest."""
        now = utcnow()
        rows = [
            {
                "slug": slug, "title": known["title"], "entries": known["entries"], "built": now,
                "updated": datetime.fromisoformat(known["updated"]) if known.get("updated") else None,
                "headlines": json.dumps(known["headlines"], ensure_ascii=False), "digest": known["digest"],
                "files": json.dumps(known["files"], sort_keys=True),
            }
            for slug, known in changed.items()
        ]
        gone = sorted(set(gone) | set(changed))

        def replace(conn):
            for start in range(0, len(gone), 500):
                conn.execute(feeds.delete().where(feeds.c.slug.in_(gone[start:start + 500])))
            if rows:
                conn.execute(feeds.insert(), rows)
            conn.execute(meta.delete().where(meta.c.key == "feed_options"))
            conn.execute(meta.insert().values(key="feed_options", value=options))

        write(self.engine, replace)

    def feed_status(self) -> list[dict]:
        with self.engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(select(feeds).order_by(feeds.c.slug))]
