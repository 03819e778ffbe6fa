"""Store articles → feed files: plan which feeds changed, render those, write only the files that differ."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from feeds.plan import BuildOptions, load_state, plan_feed, plan_store, store_feeds
from feeds.render import PreparedEntries, headlines, render_feed_files
from feeds.topics import Feed, TopicRule, group_feeds
from feeds.write import BuildReport, FeedFiles, write_if_changed

__all__ = ["build_feeds", "build_from_store", "write_feeds"]

logger = logging.getLogger(__name__)


def build_feeds(
    articles: Iterable[dict],
    out_dir: str | os.PathLike,
    base_url: str,
    *,
    formats: Iterable[str] = ("atom", "rss", "json"),
    max_entries: int = 100,
    rules: Iterable[TopicRule] = (),
    site_title: str = "refeed",
    site_url: str | None = None,
    site_icon: str | None = None,
    websub_hub: str | None = None,
    publishers: bool = True,
    state_file: str | os.PathLike | None = None,
) -> BuildReport:
    """Write every feed of these articles, feeds.opml and index.html into ``out_dir``; rewrite only changed files.

    With ``websub_hub``, every feed advertises the hub (rel=hub) and the hub is pinged for each feed file
    that changed; ``site_icon`` (a URL) becomes every feed's icon. With ``state_file`` (kept outside ``out_dir``),
    a feed whose entries and options are those of the last build, and whose files are untouched since, is not
    rendered again. (A store's feeds: ``build_from_store``, which reads only the feeds that changed.)
    """
    options = BuildOptions.make(out_dir, base_url, formats=formats, max_entries=max_entries, rules=rules, site_title=site_title,
                                site_url=site_url, site_icon=site_icon, websub_hub=websub_hub, publishers=publishers)
    state = load_state(Path(state_file)) if state_file else {}
    grouped = group_feeds(articles, options.rules, site_title=site_title, publishers=publishers)
    report, built = write_feeds(options, (Feed(f.slug, f.title, f.entries[: options.max_entries]) for f in grouped), {}, state)
    if state_file:
        try:
            write_if_changed(Path(state_file), json.dumps(built, sort_keys=True, indent=0, default=str).encode())
        except OSError as exc:
            logger.warning("feed build state not saved (%s): the next build renders every feed", exc)
    return report


def build_from_store(store: Any, out_dir: str | os.PathLike, base_url: str, *, full: bool = False, **settings: Any) -> BuildReport:
    """The feeds of a store, reading only what they show: the stories stored or updated since the last build take
    their feeds in the store's feed index, then each feed they changed is one indexed query for its newest
    entries and is rendered again; every other feed is left as it is. Options that changed since the last build
    (or ``full``) render every feed. The files are those ``build_feeds`` would write from every stored story.
    ``settings``: the keyword options of ``build_feeds`` but ``state_file``."""
    from feeds import catalog

    options = BuildOptions.make(out_dir, base_url, **settings)
    catalog.take_in(store, options.rules)
    plan = plan_store(store, options, full)
    kept = plan.kept
    report, built = write_feeds(options, store_feeds(store, options, plan.slugs), kept, plan.state)
    store.save_feed_states({slug: known for slug, known in built.items() if slug not in kept}, gone=set(plan.state) - set(built), options=plan.digest)
    catalog.clean(store, plan.marks)
    return report


def write_feeds(options: BuildOptions, fresh: Iterable[Feed], kept: dict[str, dict], state: dict[str, dict]) -> tuple[BuildReport, dict]:
    """Render the ``fresh`` feeds (entries newest first, at most max_entries) whose entries or files differ from
    ``state``; list them and the ``kept`` ones (as the last build left them) in feeds.opml and index.html;
    remove the files of feeds that are gone. Returns the report and every feed's new state."""
    files = FeedFiles(options)
    digest_of_options = options.digest
    prepared = PreparedEntries(options.rules)
    for feed in fresh:
        plan = plan_feed(options, feed, state, digest_of_options)
        if plan is None:
            continue
        if plan.unchanged and plan.known:
            files.keep(feed.slug, {**plan.known, "title": plan.title})
            continue
        entries = [prepared.get(d, article) for d, article in zip(plan.article_digests, feed.entries)]
        ready = Feed(feed.slug, plan.title, entries)
        files.write_feed(ready, render_feed_files(options, ready), headlines(ready), plan.digest)
    for slug, known in kept.items():
        files.keep(slug, known)
    return files.finish(), files.built
