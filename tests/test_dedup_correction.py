"""A correction on the sample site: a second `once` updates the story in place (same id, newer updated, new text)."""

from __future__ import annotations

import json
from datetime import timedelta

import feedparser
from conftest import run_cli, write_config

from feeds.render import entry_id

CORRECTION = "Correction: an earlier version of this article gave a wrong date for the meeting."


def export(workdir) -> dict[str, dict]:
    result = run_cli("export", cwd=workdir)
    assert result.code == 0, result.stderr[-3000:]
    return {article["url"]: article for article in map(json.loads, result.stdout.splitlines())}


def test_corrected_page_updates_its_story_in_place(tmp_path, small_site):
    from crawler.demo.server import SampleSiteServer

    republished = {a.republishes for a in small_site.articles if a.republishes}
    story = next(a for a in small_site.stories()[10:] if not a.also_in and a.shortid not in republished)
    paragraph = next(text for kind, text in story.blocks if kind == "p")
    new_updated = story.updated + timedelta(days=2)
    with SampleSiteServer(small_site) as server:
        write_config(tmp_path, server.url)
        first = run_cli("once", cwd=tmp_path)
        assert first.code == 0, first.stderr[-3000:]
        url = server.base + story.path
        before_all = export(tmp_path)
        before = before_all[url]

        server.site = small_site.corrected(story.shortid, {paragraph: f"{paragraph} {CORRECTION}"}, new_updated)
        second = run_cli("once", cwd=tmp_path)
        assert second.code == 0, second.stderr[-3000:]
    after_all = export(tmp_path)
    after = after_all[url]

    assert set(after_all) == set(before_all)  # no second entry
    assert after["id"] == before["id"]
    assert before["updated"] == story.updated.isoformat()
    assert after["updated"] == new_updated.isoformat()  # the page's own modification time
    assert CORRECTION not in before["content_text"] and CORRECTION in after["content_text"]
    assert after["published"] == before["published"]

    entries = [e for e in feedparser.parse((tmp_path / "public" / "all.atom").read_bytes()).entries if e.id == entry_id(after["id"])]
    assert len(entries) == 1
    assert CORRECTION in entries[0].content[0].value
    assert entries[0].updated_parsed > entries[0].published_parsed
