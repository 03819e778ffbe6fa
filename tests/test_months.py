"""A store that ages: feeds read from the feed index, incremental builds, import, retention, and upgrades."""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import ROOT, run_cli, write_config
from sqlalchemy import func, select

from crawler import importer, retention
from crawler.dedup import lead_keys, near_signature
from crawler.demo.archive import archive_lines
from crawler.importer import import_lines
from crawler.retention import prune
from crawler.store import (
    SCHEMA_VERSION,
    Store,
    changed_stories,
    import_lock,
    lead_keys_table,
    near_bands,
    queries,
    staging,
    stories,
    story_id_for,
    story_topics,
)
from feeds import catalog
from feeds.build import build_feeds, build_from_store
from feeds.topics import TopicRule, slugify, topics_of

BASE = "http://feeds.example.test/"
RULES = (TopicRule("kazakhstan", "Kazakhstan", ("Kazakhstan", "Almaty")),)
DATA = Path(__file__).parent / "data"


def stored(store: Store, count: int, seed: int = 1, start: datetime | None = None) -> None:
    """`count` made-up stories of 50 sources and 30 topics, through the store's own import."""
    lines = archive_lines(count, seed=seed, start=start or datetime(2025, 1, 1, tzinfo=UTC), days=30)
    report = import_lines(store, enumerate(lines, 1), on_bad=pytest.fail, progress=lambda _: None, workers=1)
    assert report.new == count


def files(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


def marks(folder: Path) -> dict[str, int]:
    return {path.name: path.stat().st_mtime_ns for path in folder.iterdir()}


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    """The store on SQLite, and on the real PostgreSQL (the same queries and indexes; skipped when unreachable)."""
    if request.param == "sqlite":
        store = Store(f"sqlite:///{tmp_path / 'store.sqlite3'}")
        yield store
        store.close()
        return
    from test_store_postgres import fresh_database

    with fresh_database() as url:
        store = Store(url)
        yield store
        store.close()


def test_feeds_from_the_index_are_the_feeds_of_every_story(store, tmp_path):
    stored(store, 400)
    build_from_store(store, tmp_path / "index", BASE, rules=RULES, max_entries=20)
    build_feeds(store.articles(), tmp_path / "every", BASE, rules=RULES, max_entries=20)
    assert files(tmp_path / "index") == files(tmp_path / "every")
    assert len(files(tmp_path / "index")) > 3 * 60  # all, 30 topics, 40 publishers, kazakhstan: 3 formats each


def test_build_after_new_stories_rewrites_only_their_feeds_as_a_full_build_would(store, tmp_path, monkeypatch):
    stored(store, 300)
    out = tmp_path / "public"
    build_from_store(store, out, BASE, rules=RULES, max_entries=20)
    before = marks(out)
    stored(store, 3, seed=2, start=datetime(2026, 1, 1, tzinfo=UTC))  # newer than every other: the head of their feeds
    read = []
    monkeypatch.setattr(catalog, "latest", lambda conn, slug, n, real=catalog.latest: read.append(slug) or real(conn, slug, n))
    report = build_from_store(store, out, BASE, rules=RULES, max_entries=20)
    new = [s for s in store.articles() if s["published"] >= datetime(2026, 1, 1, tzinfo=UTC)]
    touched = {"all", *(t for s in new for t in topics_of(s, RULES)), *(f"publisher-{slugify(s['publisher'])}" for s in new)}
    assert sorted(read) == sorted(touched)  # one query each for the feeds the new stories are in; nothing else read
    assert {name.rsplit(".", 1)[0] for name in report.written} == touched | {"feeds", "index"}
    after = marks(out)
    assert {name for name in after if after[name] != before.get(name)} == set(report.written)
    build_from_store(store, tmp_path / "full", BASE, rules=RULES, max_entries=20, full=True)
    assert files(out) == files(tmp_path / "full")


def test_unchanged_store_rebuild_touches_no_file_and_reads_no_feed(store, tmp_path, monkeypatch):
    stored(store, 100)
    out = tmp_path / "public"
    build_from_store(store, out, BASE, rules=RULES)
    before = marks(out)
    monkeypatch.setattr(catalog, "latest", lambda *args: pytest.fail("a feed was read"))
    report = build_from_store(store, out, BASE, rules=RULES)
    assert report.written == [] and marks(out) == before


def test_correction_moves_a_story_between_topics_and_both_feeds_change(store, tmp_path):
    stored(store, 50)
    out = tmp_path / "public"
    build_from_store(store, out, BASE, rules=RULES)
    story = next(s for s in store.articles() if s["topics"] == ["topic-7"])
    with store.engine.begin() as conn:  # what the pipeline does with a page that changed: update in place
        queries.update_story(conn, story["id"], {"topics": ["topic-8"], "title": "Moved"})
    build_from_store(store, out, BASE, rules=RULES)
    assert b"Moved" not in (out / "topic-7.atom").read_bytes() if (out / "topic-7.atom").exists() else True
    assert b"Moved" in (out / "topic-8.atom").read_bytes()
    build_feeds(store.articles(), tmp_path / "every", BASE, rules=RULES)
    assert files(out) == files(tmp_path / "every")


def test_changed_topic_rules_decide_every_story_again_once(store, tmp_path):
    stored(store, 200)
    out = tmp_path / "public"
    build_from_store(store, out, BASE, rules=RULES)
    rules = (*RULES, TopicRule("markets", "Markets", ("market",)))
    messages = []
    assert catalog.take_in(store, rules, messages.append) == 200
    assert catalog.take_in(store, rules, messages.append) == 0  # once: the rules' digest is remembered
    build_from_store(store, out, BASE, rules=rules)
    assert (out / "markets.atom").exists()
    build_feeds(store.articles(), tmp_path / "every", BASE, rules=rules)
    assert files(out) == files(tmp_path / "every")
    build_from_store(store, out, BASE, rules=RULES)  # and back: the feed goes
    assert not (out / "markets.atom").exists()


def test_store_of_the_previous_schema_upgrades_itself_on_first_use(tmp_path):
    path = tmp_path / "old.sqlite3"
    path.write_bytes(gzip.decompress((DATA / "store-v1.sqlite3.gz").read_bytes()))  # written by schema 1 (a crawl of the sample site)
    with sqlite3.connect(path) as raw:
        assert raw.execute("SELECT value FROM refeed_meta WHERE key = 'schema_version'").fetchone() == ("1",)
    store = Store(f"sqlite:///{path}")
    try:
        with store.reader() as conn:
            assert queries.meta(conn, "schema_version") == str(SCHEMA_VERSION)
        build_from_store(store, tmp_path / "public", BASE, rules=RULES)
        with store.reader() as conn:
            assert conn.execute(select(func.count()).select_from(story_topics).where(story_topics.c.slug == "all")).scalar() == 34
        build_feeds(store.articles(), tmp_path / "every", BASE, rules=RULES)
        assert files(tmp_path / "public") == files(tmp_path / "every")
        assert (tmp_path / "public" / "kazakhstan.atom").exists()
    finally:
        store.close()


def test_retention_gives_pages_back_for_a_while_each_build_and_the_next_goes_on(tmp_path, monkeypatch):
    """A build gives free pages back for at most GIVE_BACK_SECONDS (the first retention of a year-old store frees
    gigabytes); the next build, with nothing new to prune, goes on where it stopped."""
    store = Store(f"sqlite:///{tmp_path / 'store.sqlite3'}")
    try:
        stored(store, 300, start=datetime(2020, 1, 1, tzinfo=UTC))
        monkeypatch.setattr(retention, "VACUUM_PAGES", 20)
        monkeypatch.setattr(retention, "GIVE_BACK_SECONDS", 0.0)  # one step of VACUUM_PAGES a build
        before = (tmp_path / "store.sqlite3").stat().st_size
        assert prune(store, keep_days=30) == 300
        with store.engine.connect() as conn:
            left = conn.exec_driver_sql("PRAGMA freelist_count").scalar()
        assert left > 20
        assert prune(store, keep_days=30) == 0  # nothing new: it goes on giving back
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA freelist_count").scalar() == left - 20
        monkeypatch.setattr(retention, "GIVE_BACK_SECONDS", 30.0)
        prune(store, keep_days=30)
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA freelist_count").scalar() == 0
        assert (tmp_path / "store.sqlite3").stat().st_size < before
    finally:
        store.close()


def test_retention_takes_old_text_keeps_what_dedup_needs_and_old_stories_leave_the_feeds(store, tmp_path):
    stored(store, 60, start=datetime(2020, 1, 1, tzinfo=UTC))  # first seen in 2020 (import keeps their age)
    stored(store, 20, seed=3, start=datetime.now(UTC) - timedelta(days=2))
    out = tmp_path / "public"
    build_from_store(store, out, BASE)
    assert prune(store, keep_days=30) == 60
    assert prune(store, keep_days=30) == 0
    if store.engine.dialect.name == "sqlite":  # the freed pages went back to the file system
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA freelist_count").scalar() == 0
    with store.reader() as conn:
        old = conn.execute(select(stories).where(stories.c.pruned.is_not(None))).all()
    assert len(old) == 60
    assert all(s.content_text == "" and s.content_html == "" and s.signature and s.fingerprint for s in old)
    build_from_store(store, out, BASE)
    entries = json.loads((out / "all.json").read_text())["items"]
    assert len(entries) == 20 and all("2020" not in e["date_published"][:4] for e in entries)
    build_feeds([s for s in store.articles() if s["content_text"]], tmp_path / "every", BASE)
    assert files(out) == files(tmp_path / "every")


def test_pruned_story_that_shows_up_again_is_a_duplicate_not_new(tmp_path):
    from dedup_pairs import Pipeline, article, material

    text = [t for t in material() if t.words > 250][0]
    pipeline = Pipeline(tmp_path)
    first = pipeline.feed(article(text, "https://a.example/1.html", 0))
    pipeline.close()
    store = Store(f"sqlite:///{tmp_path / 'refeed.sqlite3'}")
    try:
        assert prune(store, keep_days=1, now=datetime.now(UTC) + timedelta(days=3)) == 1
    finally:
        store.close()
    again = Pipeline(tmp_path)
    try:
        edited = article(text, "https://b.example/edited.html", 2)  # the same story with a line added: near, not exact
        edited.content_html += "<p>This article was updated with a statement from the ministry.</p>"
        assert again.feed(article(text, "https://a.example/1.html", 1)) == first  # its own URL: no correction
        assert again.feed(article(text, "https://c.example/copy.html", 2)) == first  # the same text elsewhere
        assert again.feed(edited) == first  # its near-duplicate signature stayed
        assert again.story(first).content_text == "" and again.story(first).pruned is not None  # and it stays pruned
    finally:
        again.close()


def test_export_import_moves_a_store_and_bad_lines_are_told_by_number(tmp_path, small_server):
    one = tmp_path / "one"
    one.mkdir()
    write_config(one, small_server.url)
    assert run_cli("once", cwd=one).code == 0
    exported = run_cli("export", cwd=one).stdout
    two = tmp_path / "two"
    two.mkdir()
    config = write_config(two, small_server.url)
    lines = exported.splitlines()
    lines[3:3] = ["{not json", json.dumps({"url": "file:///etc/passwd", "title": "x"}), "", json.dumps({"url": "https://x.example/", "title": 3})]
    data = ("\n".join(lines) + "\n").encode() + b'{"url": "https://x.example/\xff\xfe", "title": "\xc3"}\n'  # not UTF-8: line 8
    feed = subprocess.run(
        [sys.executable, str(ROOT / "scheduler.py"), "import", "-c", str(config)], cwd=two, input=data, capture_output=True, timeout=300,
    )
    feed.stderr = feed.stderr.decode()
    assert feed.returncode == 1
    told = [line for line in feed.stderr.splitlines() if ": skipped" in line or "; skipped" in line]
    assert [line.split(":")[1].strip() for line in told] == ["line 4", "line 5", "line 7", f"line {len(lines) + 1}"]
    assert "Traceback" not in feed.stderr
    assert f"{len(exported.splitlines())} stories stored" in feed.stderr
    assert run_cli("export", cwd=two).stdout == exported  # the same stories, ids, URLs, dates and text
    again = run_cli("once", cwd=two)  # a crawl after the import: every story is known or a duplicate, none new
    assert again.code == 0
    assert run_cli("export", cwd=two).stdout == exported
    assert files(two / "public").keys() == files(one / "public").keys()
    for name in ("all.atom", "all.json", "kazakhstan.rss"):
        assert (two / "public" / name).read_bytes() == (one / "public" / name).read_bytes()


def test_import_with_ids_replaces_those_stories(store, tmp_path):
    stored(store, 10)
    first = next(store.articles())
    line = json.dumps({**first, "title": "Replaced title", "published": first["published"].isoformat(), "updated": first["updated"].isoformat()})
    report = import_lines(store, [(1, line)], on_bad=pytest.fail, progress=lambda _: None, workers=1)
    assert (report.new, report.replaced) == (0, 1)
    assert store.count_stories() == 10
    assert next(s for s in store.articles() if s["id"] == first["id"])["title"] == "Replaced title"


def test_import_in_worker_processes_stores_what_one_process_stores(tmp_path):
    lines = list(enumerate(archive_lines(1200, seed=9), 1))
    exports = []
    for workers in (1, 2):
        store = Store(f"sqlite:///{tmp_path / f'w{workers}.sqlite3'}")
        try:
            import_lines(store, lines, on_bad=pytest.fail, progress=lambda _: None, workers=workers)
            exports.append([json.dumps(a, default=str) for a in store.articles()])
        finally:
            store.close()
    assert exports[0] == exports[1] and len(exports[0]) == 1200


def test_copy_of_a_store_keeps_its_feeds_state(tmp_path):
    """The build state lives in the store: a copied store builds into its own folder without a state file."""
    store = Store(f"sqlite:///{tmp_path / 'store.sqlite3'}")
    stored(store, 30)
    build_from_store(store, tmp_path / "a", BASE)
    with store.reader() as conn:
        assert queries.meta(conn, "feed_options")
    store.close()
    shutil.copy(tmp_path / "store.sqlite3", tmp_path / "copy.sqlite3")
    copy = Store(f"sqlite:///{tmp_path / 'copy.sqlite3'}")
    try:
        report = build_from_store(copy, tmp_path / "b", BASE)
        assert files(tmp_path / "a") == files(tmp_path / "b") and report.written
    finally:
        copy.close()


def test_more_entries_a_feed_after_max_entries_grows(store, tmp_path):
    stored(store, 60)
    out = tmp_path / "public"
    build_from_store(store, out, BASE, max_entries=5)
    assert len(json.loads((out / "all.json").read_text())["items"]) == 5
    build_from_store(store, out, BASE, max_entries=50)  # an option changed: every feed is rendered again
    assert len(json.loads((out / "all.json").read_text())["items"]) == 50
    build_feeds(store.articles(), tmp_path / "every", BASE, max_entries=50)
    assert files(out) == files(tmp_path / "every")


def test_export_from_sqlite_piped_into_import_on_postgresql_moves_every_story(tmp_path):
    from test_store_postgres import fresh_database

    source = Store(f"sqlite:///{tmp_path / 'store.sqlite3'}")
    stored(source, 120)
    source.close()
    (tmp_path / "a.toml").write_text(f'[store]\nurl = "sqlite:///{tmp_path / "store.sqlite3"}"\n[output]\ndir = "{tmp_path / "a"}"\n')
    with fresh_database() as url:
        (tmp_path / "b.toml").write_text(f'[store]\nurl = "{url}"\n[output]\ndir = "{tmp_path / "b"}"\n')
        command = [sys.executable, str(ROOT / "scheduler.py")]
        exporter = subprocess.Popen([*command, "export", "-c", str(tmp_path / "a.toml")], stdout=subprocess.PIPE)
        importer = subprocess.run([*command, "import", "-c", str(tmp_path / "b.toml")], stdin=exporter.stdout, capture_output=True, text=True, timeout=300)
        exporter.stdout.close()
        assert exporter.wait() == 0 and importer.returncode == 0, importer.stderr
        assert "120 stories stored (120 new, 0 replaced), 0 bad lines" in importer.stderr
        assert run_cli("export", "-c", str(tmp_path / "b.toml"), cwd=tmp_path).stdout == run_cli("export", "-c", str(tmp_path / "a.toml"), cwd=tmp_path).stdout
        assert run_cli("build", "-c", str(tmp_path / "a.toml"), cwd=tmp_path).code == 0
        assert run_cli("build", "-c", str(tmp_path / "b.toml"), cwd=tmp_path).code == 0
        assert files(tmp_path / "a") == files(tmp_path / "b")


def test_a_source_makes_at_most_feeds_per_source_feeds_of_its_own(store, tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(catalog, "FEEDS_PER_SOURCE", 5)
    lines = [
        json.dumps({"url": f"https://hostile.example/{n}.html", "title": f"Story {n}", "site": "hostile", "topics": [f"section-{n}"],
                    "published": f"2025-01-{n + 1:02d}T00:00:00+00:00", "content_text": "Kazakhstan " + "word " * 40})
        for n in range(8)
    ]
    import_lines(store, enumerate(lines, 1), on_bad=pytest.fail, progress=lambda _: None, workers=1)
    build_from_store(store, tmp_path / "public", BASE, rules=RULES)
    made = sorted(p.stem for p in (tmp_path / "public").glob("*.atom"))
    assert made[:2] == ["all", "kazakhstan"]  # rules and "all" are not the source's
    assert len(made) == 2 + 5 and all(slug.startswith("section-") for slug in made[2:])
    assert "source hostile has made 5 feeds of its own" in caplog.text
    assert len(json.loads((tmp_path / "public" / "all.json").read_text())["items"]) == 8  # its stories are all there


def test_stories_of_a_first_import_are_decided_once(store, tmp_path, monkeypatch):
    """A new store's first take_in decides every story's feeds (the rules are new to it) and forgets their changes:
    the stories are not done a second time as changed ones."""
    stored(store, 1200)
    seen = []
    real = catalog._index
    monkeypatch.setattr(catalog, "_index", lambda conn, rows, *a, **k: seen.extend(r.id for r in rows) or real(conn, rows, *a, **k))
    assert catalog.take_in(store, RULES) == 1200
    assert len(seen) == len(set(seen)) == 1200
    build_from_store(store, tmp_path / "public", BASE, rules=RULES)
    build_feeds(store.articles(), tmp_path / "every", BASE, rules=RULES)
    assert files(tmp_path / "public") == files(tmp_path / "every")


def test_the_same_id_twice_in_one_import_is_one_story_the_later_line_wins(store):
    line = {"id": "abc123", "url": "https://x.example/1.html", "title": "First", "content_text": "word " * 40}
    later = {**line, "title": "Second", "urls": ["https://x.example/1.html", "https://x.example/copy.html"]}
    report = import_lines(store, [(1, json.dumps(line)), (2, json.dumps(later))], on_bad=pytest.fail, progress=lambda _: None, workers=1)
    assert (report.new, report.replaced) == (1, 1)
    (story,) = list(store.articles())
    assert story["title"] == "Second" and story["urls"] == later["urls"]
    assert dedup_keys(store) == keys_of([story])  # the earlier line's keys, staged in the same batch, are gone


def dedup_keys(store: Store) -> tuple[set, set]:
    with store.connect() as conn:
        return (set(conn.execute(select(near_bands.c.band, near_bands.c.hash, near_bands.c.story_id)).all()),
                set(conn.execute(select(lead_keys_table.c.hash, lead_keys_table.c.story_id)).all()))


def keys_of(stories_: list[dict]) -> tuple[set, set]:
    """The dedup keys a crawl gives these stories, from the dedup functions themselves."""
    bands, leads = set(), set()
    for story in stories_:
        signature = near_signature(story["content_text"])
        bands.update((i, h, story["id"]) for i, h in enumerate(signature.bands if signature else []))
        leads.update((k, story["id"]) for k in lead_keys(story["title"], story["content_text"]))
    return bands, leads


def test_import_moves_each_storys_dedup_keys_into_place_when_it_ends(store):
    """Import stages the near-duplicate bands and teaser keys and moves them in, sorted, at the end: the keys are
    then exactly those of the stories as stored (a replaced story's the later line's), none left staged."""
    lines = list(archive_lines(700, seed=5, start=datetime(2025, 1, 1, tzinfo=UTC), days=30))
    again = json.loads(lines[650])  # in the second batch, the id of a story of the first, with new text
    first = json.loads(lines[10])
    lines[650] = json.dumps({**again, "id": story_id_for(first["url"]), "url": first["url"], "content_text": again["content_text"] + " Corrected."})
    report = import_lines(store, enumerate(lines, 1), on_bad=pytest.fail, progress=lambda _: None, workers=1)
    assert (report.new, report.replaced) == (699, 1)
    with store.connect() as conn:
        assert not staging.staged(conn)
    assert dedup_keys(store) == keys_of(list(store.articles()))


def test_keys_of_a_killed_import_are_moved_in_by_the_next_process_to_open_the_store(tmp_path):
    """kill -9 of `import` mid-way: the batches it committed are stored, their dedup keys still staged; the next
    process to open the store moves them into place, so a crawl deduplicates against every stored story."""
    config = write_config(tmp_path, "http://127.0.0.1:9/")
    lines = list(archive_lines(2900, seed=6, start=datetime(2025, 1, 1, tzinfo=UTC), days=30))
    child = subprocess.Popen([sys.executable, str(ROOT / "scheduler.py"), "import", "-c", str(config)], cwd=tmp_path,
                             stdin=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True)
    child.stdin.write("\n".join(lines) + "\n")  # five batches and part of a sixth, and the input stays open: the import waits for more
    child.stdin.flush()
    database = tmp_path / "data" / "refeed.sqlite3"
    deadline = time.monotonic() + 120
    while not _count_of(database, "stories") or not _count_of(database, "import_near_bands"):
        assert time.monotonic() < deadline and child.poll() is None, "the import stored nothing"
        time.sleep(0.05)
    os.killpg(child.pid, signal.SIGKILL)
    child.wait()
    child.stdin.close()
    assert _count_of(database, "import_near_bands") > 0  # what the killed import had staged
    store = Store(f"sqlite:///{database}")
    try:
        with store.connect() as conn:
            assert not staging.staged(conn)
        kept = list(store.articles())
        assert 500 <= len(kept) <= 2500
        assert dedup_keys(store) == keys_of(kept)
    finally:
        store.close()


def _count_of(database: Path, table: str) -> int:
    if not database.exists():
        return 0
    with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=10)) as conn:
        try:
            return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        except sqlite3.OperationalError:  # not made yet
            return 0


def test_import_decides_each_storys_feeds_as_it_stores_it(store, tmp_path):
    """`import` (as the command runs it) indexes every batch in its own transaction: nothing waits as changed when
    it ends, and the feeds built from that index are those of every story."""
    catalog.take_in(store, RULES)
    lines = list(archive_lines(1200, seed=7, start=datetime(2025, 1, 1, tzinfo=UTC), days=30))
    report = import_lines(store, enumerate(lines, 1), on_bad=pytest.fail, progress=lambda _: None, workers=1,
                          index=catalog.index_new(RULES))
    assert report.new == 1200
    with store.connect() as conn:
        assert conn.execute(select(func.count()).select_from(changed_stories)).scalar_one() == 0
    assert catalog.take_in(store, RULES) == 0
    build_from_store(store, tmp_path / "public", BASE, rules=RULES)
    build_feeds(store.articles(), tmp_path / "every", BASE, rules=RULES)
    assert files(tmp_path / "public") == files(tmp_path / "every")


def test_a_store_opened_while_an_import_runs_leaves_its_staged_keys_to_it(tmp_path):
    """Moving staged keys is the running import's own work (a `status` beside it does not do it); once no import
    runs, the next process to open the store does it."""
    url = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    store = Store(url)
    lock = import_lock(url)
    assert lock.acquire()
    try:
        lines = enumerate(archive_lines(30, seed=8, start=datetime(2025, 1, 1, tzinfo=UTC), days=3), 1)
        rows = [result for _, result in importer._prepared(list(lines), datetime(2025, 2, 1, tzinfo=UTC))]
        for row, *_ in rows:
            row["id"] = story_id_for(row["url"])
        with store.engine.begin() as conn:
            staging.insert_stories(conn, rows, staged=True)
        beside = Store(url)  # another process's view while the import holds its lock
        with beside.connect() as conn:
            assert staging.staged(conn)
        beside.close()
    finally:
        lock.release()
    store.close()
    after = Store(url)
    try:
        with after.connect() as conn:
            assert not staging.staged(conn)
        assert dedup_keys(after) == keys_of(list(after.articles()))
    finally:
        after.close()
