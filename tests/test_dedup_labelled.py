"""Precision and recall of deduplication on the labelled pairs, through the real pipeline stages and a real store."""

from __future__ import annotations

import pytest
from dedup_pairs import Pair, Pipeline, Text, article, pairs

from crawler.store import story_id_for


def url_of(index: int, side: str, text: Text) -> str:
    return f"https://{text.publisher}.example/{text.section}/{index:04d}-{side}.html"


@pytest.fixture(scope="module")
def outcome(tmp_path_factory):
    """Every pair's first copy, then every second copy, into one store; where each second copy went."""
    labelled = pairs()
    pipeline = Pipeline(tmp_path_factory.mktemp("pairs"))
    firsts = [pipeline.feed(article(p.first, url_of(i, "a", p.first), i)) for i, p in enumerate(labelled)]
    seconds = [pipeline.feed(article(p.second, url_of(i, "b", p.second), 1000 + i)) for i, p in enumerate(labelled)]
    stored = {i: pipeline.story(firsts[i]) for i, p in enumerate(labelled) if p.kind == "full after teaser"}
    pipeline.close()
    return labelled, firsts, seconds, stored


def score(labelled: list[Pair], firsts: list[str], seconds: list[str]) -> dict:
    tp = fp = fn = 0
    mistakes = []
    for i, (pair, first, second) in enumerate(zip(labelled, firsts, seconds)):
        own = story_id_for(url_of(i, "b", pair.second))
        if pair.duplicate and second == first:
            tp += 1
            continue
        if second != own:
            fp += 1  # merged with a story it is not
            mistakes.append(("merged", pair.kind, i))
        if pair.duplicate:
            fn += 1
            mistakes.append(("missed", pair.kind, i))
    return {
        "precision": tp / (tp + fp) if tp + fp else 1.0,
        "recall": tp / (tp + fn) if tp + fn else 1.0,
        "tp": tp, "fp": fp, "fn": fn, "mistakes": mistakes,
    }


def test_labelled_set_is_large_and_varied():
    labelled = pairs()
    assert len(labelled) >= 200
    assert 0.4 < sum(p.duplicate for p in labelled) / len(labelled) < 0.7
    assert len({p.kind for p in labelled}) >= 14
    assert pairs() == labelled  # deterministic


def test_precision_is_perfect_and_recall_at_least_98_percent(outcome):
    labelled, firsts, seconds, _ = outcome
    assert len(set(firsts)) == len(labelled), "two different stories of the set were merged on first sight"
    figures = score(labelled, firsts, seconds)
    print(
        f"\ndedup on {len(labelled)} labelled pairs: precision {figures['precision']:.3f}, recall {figures['recall']:.3f} "
        f"(tp {figures['tp']}, fp {figures['fp']}, fn {figures['fn']}); mistakes: {figures['mistakes']}"
    )
    assert figures["precision"] == 1.0, figures["mistakes"]
    assert figures["recall"] >= 0.98, figures["mistakes"]


def test_full_text_completes_a_stored_teaser_in_place(outcome):
    labelled, firsts, seconds, stored = outcome
    assert stored
    for i, story in stored.items():
        assert story.id == firsts[i] == seconds[i]
        assert story.url == url_of(i, "a", labelled[i].first)  # the earliest copy stays canonical
        assert " ".join(story.content_text.split()) == " ".join(labelled[i].second.text.split())
