"""Tests of feeds.topics: slugs, keyword rules and grouping."""

from datetime import UTC, datetime, timedelta

import pytest

from feeds.topics import TopicRule, group_feeds, keyword_topics, slugify, topics_of

T0 = datetime(2022, 1, 8, 12, 0, tzinfo=UTC)
KZ = TopicRule("kazakhstan", "Kazakhstan", ("Kazakhstan", "Almaty"))


def art(i, title="A story", text="", topics=(), hours=0):
    return {
        "id": f"{i:016x}",
        "url": f"https://example.org/news/{i}.html",
        "title": title,
        "content_text": text,
        "topics": list(topics),
        "published": T0 + timedelta(hours=hours),
        "updated": T0 + timedelta(hours=hours),
    }


@pytest.mark.parametrize(
    "text, slug",
    [
        ("News", "news"),
        ("  World News!  ", "world-news"),
        ("Économie & Société", "economie-societe"),
        ("Straße", "strasse"),
        ("Łódź", "lodz"),
        ("../etc/passwd", "etc-passwd"),
        ("..", ""),
        (".", ""),
        ("", ""),
        ("/", ""),
        ("a/b\\c", "a-b-c"),
        ("日本", ""),
        ("ﬁnance", "finance"),
        ("--x--", "x"),
    ],
)
def test_slugify_is_safe_file_name(text, slug):
    assert slugify(text) == slug
    assert "/" not in slug and slug not in (".", "..")


def test_keyword_matches_whole_words_case_insensitively():
    assert keyword_topics(art(1, "Floods in almaty"), [KZ]) == ["kazakhstan"]
    assert keyword_topics(art(1, "Almaty's mayor resigns"), [KZ]) == ["kazakhstan"]
    assert keyword_topics(art(1, "x", text="News from KAZAKHSTAN."), [KZ]) == ["kazakhstan"]
    assert keyword_topics(art(1, "Almatyx is a brand"), [KZ]) == []
    assert keyword_topics(art(1, "Kazakhstani exports"), [KZ]) == []


def test_keyword_phrase_and_punctuated_keywords():
    rules = [TopicRule("nz", "New Zealand", ("New Zealand",)), TopicRule("cpp", "C++", ("C++",))]
    assert keyword_topics(art(1, "new   zealand votes"), rules) == ["nz"]
    assert keyword_topics(art(1, "Why C++ still matters"), rules) == ["cpp"]
    assert keyword_topics(art(1, "New Zealandia"), rules) == []


def test_exclude_word_cancels_a_rule():
    rule = TopicRule("apple", "Apple", ("Apple",), exclude=("pie",))
    assert keyword_topics(art(1, "Apple earnings"), [rule]) == ["apple"]
    assert keyword_topics(art(1, "Apple pie recipe"), [rule]) == []


def test_topics_of_slugifies_dedupes_and_drops_all():
    article = art(1, "Almaty news", topics=["News", "news", "All", "", "Life Style", "../x"])
    assert topics_of(article, [KZ]) == ["news", "life-style", "x", "kazakhstan"]
    assert topics_of({"id": "1", "title": "t"}, []) == []


def test_group_feeds_all_first_then_topics_sorted_newest_first():
    articles = [
        art(1, topics=["world"], hours=1),
        art(2, "Almaty", topics=["news"], hours=3),
        art(3, topics=["news", "world"], hours=2),
        art(4, topics=["news"], hours=2),
    ]
    feeds = group_feeds(articles, [KZ], site_title="Site")
    assert [f.slug for f in feeds] == ["all", "kazakhstan", "news", "world"]
    assert [f.title for f in feeds] == ["Site: all articles", "Kazakhstan", "News", "World"]
    ids = lambda feed: [int(a["id"], 16) for a in feed.entries]  # noqa: E731
    assert ids(feeds[0]) == [2, 3, 4, 1]  # ties broken by id
    assert ids(feeds[2]) == [2, 3, 4]
    assert ids(feeds[3]) == [3, 1]


def test_group_feeds_keeps_one_entry_per_id_the_latest_update():
    old = art(1, "Old title")
    new = dict(art(1, "New title"), updated=T0 + timedelta(hours=5))
    (all_feed,) = group_feeds([old, new, old])
    assert [a["title"] for a in all_feed.entries] == ["New title"]


def test_group_feeds_with_no_articles_has_empty_all_feed():
    feeds = group_feeds([])
    assert [(f.slug, f.entries) for f in feeds] == [("all", [])]
