"""crawler/recording.py: a run is locked, started, judged by its stats and finished the same way in every mode."""

from __future__ import annotations

import pytest

from crawler.locks import SourceLock
from crawler.recording import Recorder, judge
from crawler.runstate import mark_interrupted
from crawler.store import Store

FINE = {"finish_reason": "finished", "downloader/response_status_count/200": 12, "response_received_count": 12, "refeed/new": 10}


@pytest.fixture
def store(tmp_path):
    url = f"sqlite:///{tmp_path / 'refeed.sqlite3'}"
    store = Store(url)
    yield store
    store.close()


def test_a_run_is_recorded_with_its_outcome_and_figures_and_its_lock_let_go(store):
    with Recorder(store.url, store) as recorder:
        [run] = recorder.start(["lt"])
        assert SourceLock(store.url, "lt").held() is True
        assert store.recent_runs("lt")[0]["outcome"] == "running"
        result = recorder.finish(run, FINE)
    assert (result.source, result.outcome, result.pages, result.new, result.healthy) == ("lt", "ok", 12, 10, True)
    assert recorder.results == [result]
    row = store.recent_runs("lt")[0]
    assert (row["outcome"], row["pages"], row["new"], row["seen"]) == ("ok", 12, 10, 10)
    assert SourceLock(store.url, "lt").held() is False


def test_a_source_another_process_crawls_is_a_locked_result_and_no_run(store):
    with Recorder(store.url, store) as first, Recorder(store.url, store) as second:
        [run] = first.start(["lt"])
        assert second.start(["lt", "other"])[0].source == "other"
        [locked] = [r for r in second.results if r.source == "lt"]
        assert (locked.outcome, locked.healthy) == ("locked", True)
        assert [r["id"] for r in store.recent_runs("lt")] == [run.id]


def test_a_run_left_unfinished_shows_as_interrupted_once_its_lock_is_gone(store):
    with Recorder(store.url, store) as recorder:
        recorder.start(["lt"])
        assert mark_interrupted(store.url, store.last_runs())[0]["outcome"] == "running"
    assert mark_interrupted(store.url, store.last_runs())[0]["outcome"] == "interrupted"


def test_a_run_ended_without_stats_keeps_the_outcome_it_is_given(store):
    with Recorder(store.url, store) as recorder:
        [run] = recorder.start(["lt"])
        recorder.abandon(run, "timeout", "ended by the hard deadline")
    row = store.recent_runs("lt")[0]
    assert (row["outcome"], row["message"]) == ("timeout", "ended by the hard deadline")


@pytest.mark.parametrize(
    ("stats", "outcome"),
    [
        (FINE, "ok"),
        ({**FINE, "finish_reason": "closespider_timeout"}, "timeout"),
        ({**FINE, "finish_reason": "shutdown"}, "failed"),
        ({**FINE, "downloader/response_status_count/403": 20}, "blocked"),
        ({"finish_reason": "finished", "downloader/response_status_count/500": 3}, "failed"),
        ({**FINE, "refeed/new": 0}, "failed"),
    ],
    ids=["ok", "timeout", "shutdown", "bot-wall", "nothing-fetched", "no-article"],
)
def test_judge_reads_a_runs_health_from_its_stats(stats, outcome):
    figures = {"new": stats.get("refeed/new", 0), "updated": 0, "duplicates": 0, "known": 0, "unchanged": 0}
    assert judge(stats, figures)[0] == outcome


def test_far_fewer_articles_than_usual_is_degraded():
    usual = [{"outcome": "ok", "seen": seen} for seen in (100, 90, 110)]
    figures = {"new": 30, "updated": 0, "duplicates": 0, "known": 0, "unchanged": 0}
    assert judge(FINE, figures, usual) == ("degraded", "30 articles seen, usually 100: has the site changed?")
    assert judge(FINE, {**figures, "new": 60}, usual)[0] == "ok"
