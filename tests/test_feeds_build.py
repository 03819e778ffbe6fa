"""Tests of feeds.build (with feeds.plan, feeds.render, feeds.write): Atom, RSS, JSON Feed, OPML and index files, rewritten only on change."""

import json
import uuid
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import feedparser
import pytest
from lxml import etree

from feeds.build import build_feeds
from feeds.render import entry_id, image_type
from feeds.topics import TopicRule

BASE = "http://localhost:8080/"
T0 = datetime(2022, 1, 8, 9, 0, tzinfo=UTC)
RULES = (TopicRule("kazakhstan", "Kazakhstan", ("Kazakhstan", "Almaty")),)


def make_article(n, *, topics=("news",), hours=None, title=None, **extra):
    """A realistic stored article; article n is published n hours after T0."""
    published = T0 + timedelta(hours=n if hours is None else hours)
    article = {
        "id": f"{n:016x}",
        "url": f"https://www.newsrnd.com/news/2022-01-08-story-{n}.abc{n}.html",
        "urls": [f"https://www.newsrnd.com/news/2022-01-08-story-{n}.abc{n}.html"],
        "title": title or f"Story number {n} about the world",
        "published": published,
        "updated": published + timedelta(minutes=5),
        "site": "limitedtimes",
        "publisher": "spiegel",
        "authors": ["Anna Schmidt", "Ben Ali"],
        "topics": list(topics),
        "language": "en",
        "summary": f"The lede of story {n}.",
        "content_html": f"<p>The lede of story {n}.</p><h2>More</h2><p>Body of story {n}.</p>",
        "content_text": f"The lede of story {n}.\n\nMore\n\nBody of story {n}.",
        "image": f"https://img.newsrnd.com/{n}.jpg",
        "image_caption": f"Photo {n} & friends",
    }
    article.update(extra)
    return article


def hostile_article():
    return make_article(
        50,
        topics=["news", "../../etc", "All"],
        title='Evil <script>alert("x")</script>\x00\x07 title\ufffe',
        summary="Lede with \x1b[31m escapes\x0c and \ud800 surrogate",
        content_html="<p>Clean paragraph\x08</p>",
        content_text="Nothing about Almaty\x01 here",
        authors=["Mallory\x02", ""],
        image=None,
        image_caption=None,
        publisher=None,
        language=None,
    )


def corpus():
    return [
        make_article(1, topics=["news", "world"]),
        make_article(2, topics=["life"]),
        make_article(3, topics=["news"], title="Floods hit Almaty's centre"),
        make_article(4, topics=["tech", "news"], image=None, content_html=""),
        make_article(5, topics=["sports"], authors=[], summary="", language="de"),
        hostile_article(),
    ]


def parse(path):
    parsed = feedparser.parse(path.read_bytes())
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    return parsed


def uid(article):
    return "urn:uuid:" + str(uuid.uuid5(uuid.NAMESPACE_URL, "refeed:" + article["id"]))


def newest_first(articles):
    return sorted(articles, key=lambda a: (-a["published"].timestamp(), a["id"]))


def snapshot(directory):
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(directory.iterdir())}


@pytest.fixture
def built(tmp_path):
    out = tmp_path / "public"
    report = build_feeds(corpus(), out, BASE, rules=RULES, site_title="refeed")
    return out, report


def test_every_file_is_written(built):
    out, report = built
    slugs = ["all", "etc", "kazakhstan", "life", "news", "publisher-spiegel", "sports", "tech", "world"]
    expected = {f"{s}.{ext}" for s in slugs for ext in ("atom", "rss", "json")}
    expected |= {"feeds.opml", "index.html"}
    assert {p.name for p in out.iterdir()} == expected
    assert set(report.written) == expected and not report.unchanged and not report.removed
    # "all", the topics by title, then the publishers by name (as on the index page)
    assert [f.slug for f in report.feeds] == [s for s in slugs if not s.startswith("publisher-")] + ["publisher-spiegel"]
    assert [(f.slug, f.entries) for f in report.feeds][:3] == [("all", 6), ("etc", 1), ("kazakhstan", 2)]


def test_entry_id_is_a_stable_name_based_urn():
    assert entry_id("00000000000000ab") == entry_id("00000000000000ab")
    assert entry_id("00000000000000ab").startswith("urn:uuid:")
    assert entry_id("00000000000000ab") == uid({"id": "00000000000000ab"})


@pytest.mark.parametrize("ext", ["atom", "rss"])
def test_all_feed_parses_and_holds_every_article_once_newest_first(built, ext):
    out, _ = built
    parsed = parse(out / f"all.{ext}")
    expected = newest_first(corpus())
    assert [e.id for e in parsed.entries] == [uid(a) for a in expected]
    assert len({e.id for e in parsed.entries}) == len(expected)
    assert [e.link for e in parsed.entries] == [a["url"] for a in expected]
    first, article = parsed.entries[3], expected[3]
    assert article["id"] == make_article(3)["id"]
    assert first.title == article["title"]
    assert datetime(*first.published_parsed[:6], tzinfo=UTC) == article["published"]
    assert [t.term for t in first.tags] == ["news", "kazakhstan"]
    newest_update = max(a["updated"] for a in corpus())
    if ext == "atom":
        assert datetime(*first.updated_parsed[:6], tzinfo=UTC) == article["updated"]
        assert parsed.feed.id == BASE + "all.atom"
        assert datetime(*parsed.feed.updated_parsed[:6], tzinfo=UTC) == newest_update
        assert [a.name for a in first.authors] == ["Anna Schmidt", "Ben Ali"]
        assert {link.rel: link.href for link in parsed.feed.links} == {
            "self": BASE + "all.atom",
            "alternate": BASE,
        }
    else:
        assert first.guidislink is False
        assert parsedate_to_datetime(parsed.feed.updated) == newest_update
        assert parsed.feed.link == BASE
        assert first.author in ("Anna Schmidt", "Ben Ali")  # feedparser keeps one dc:creator
        raw = (out / "all.rss").read_text("utf-8")
        assert "<dc:creator>Anna Schmidt</dc:creator>" in raw and "<author>" not in raw


def test_feed_metadata_does_not_depend_on_the_clock(built):
    out, _ = built
    text = (out / "news.atom").read_text("utf-8")
    assert "<generator>refeed</generator>" in text
    assert "feedgen" not in text and "python-feedgen" not in text
    assert str(datetime.now(UTC).year) + "-" not in text.split("<entry>")[0]


def test_topic_feed_holds_exactly_its_articles(built):
    out, _ = built
    by_topic = {
        "news": [1, 3, 4, 50],
        "kazakhstan": [3, 50],
        "life": [2],
        "sports": [5],
        "tech": [4],
        "world": [1],
        "etc": [50],
    }
    for slug, numbers in by_topic.items():
        articles = [a for a in corpus() if int(a["id"], 16) in numbers]
        for ext in ("atom", "rss"):
            parsed = parse(out / f"{slug}.{ext}")
            assert [e.id for e in parsed.entries] == [uid(a) for a in newest_first(articles)], slug
        assert parsed.feed.title == ("Kazakhstan" if slug == "kazakhstan" else slug.capitalize())


def test_keyword_topic_is_a_category(built):
    out, _ = built
    entry = next(e for e in parse(out / "all.atom").entries if e.id == uid(make_article(3)))
    assert [t.term for t in entry.tags] == ["news", "kazakhstan"]


def test_content_has_figure_only_when_image_not_already_there(tmp_path):
    inline = make_article(7, content_html='<p><img src="https://img.newsrnd.com/7.jpg"></p>')
    build_feeds([make_article(6), inline], tmp_path, BASE)
    entries = {e.id: e for e in parse(tmp_path / "all.atom").entries}
    html6 = entries[uid(make_article(6))].content[0]
    assert html6.type == "text/html"
    assert html6.value.startswith('<figure><img alt="Photo 6 &amp; friends"')
    raw = json.loads((tmp_path / "all.json").read_text("utf-8"))["items"][1]["content_html"]
    assert raw.startswith(
        '<figure><img src="https://img.newsrnd.com/6.jpg" referrerpolicy="no-referrer"'
        ' alt="Photo 6 &amp; friends"><figcaption>Photo 6 &amp; friends</figcaption></figure>'
    )
    assert '&lt;img src="https://img.newsrnd.com/6.jpg" referrerpolicy="no-referrer"' in (tmp_path / "all.atom").read_text("utf-8")
    assert html6.value.endswith("<p>Body of story 6.</p>")
    assert "<figure>" not in entries[uid(inline)].content[0].value
    assert entries[uid(make_article(6))].summary == "The lede of story 6."


def test_hostile_article_is_escaped_and_stripped(built):
    out, _ = built
    for ext in ("atom", "rss"):
        raw = (out / f"all.{ext}").read_bytes()
        assert b"<script>" not in raw
        assert not any(ch in raw for ch in (b"\x00", b"\x07", b"\x1b", b"\x01", b"\x02"))
        entry = next(e for e in parse(out / f"all.{ext}").entries if e.id == uid(hostile_article()))
        # Atom's title is text by type; an RSS title, which readers may render as HTML, keeps no markup-like text
        assert entry.title == ('Evil <script>alert("x")</script> title' if ext == "atom" else 'Evil alert("x") title')
        assert b"&lt;script" not in raw if ext == "rss" else True
    feed = json.loads((out / "all.json").read_text("utf-8"))
    item = next(i for i in feed["items"] if i["id"] == uid(hostile_article()))
    assert item["title"] == 'Evil <script>alert("x")</script> title'
    assert item["summary"] == "Lede with [31m escapes and  surrogate"
    assert item["authors"] == [{"name": "Mallory"}]
    assert "\x08" not in item["content_html"]
    index = (out / "index.html").read_text("utf-8")
    assert "<script>alert" not in index and index.count("<script>") == 1 and "&lt;script&gt;" in index
    assert (out / "etc.atom").exists()
    assert not (out.parent / "etc.atom").exists()


def test_json_feed_has_version_and_required_fields(built):
    out, _ = built
    feed = json.loads((out / "news.json").read_text("utf-8"))
    assert feed["version"] == "https://jsonfeed.org/version/1.1"
    assert feed["title"] == "News"
    assert feed["home_page_url"] == BASE
    assert feed["feed_url"] == BASE + "news.json"
    expected = newest_first([a for a in corpus() if "news" in a["topics"]])
    assert [i["id"] for i in feed["items"]] == [uid(a) for a in expected]
    for item in feed["items"]:
        assert item["id"] and item["url"] and item["title"]
        assert "content_html" in item or "content_text" in item
        datetime.fromisoformat(item["date_published"])
        datetime.fromisoformat(item["date_modified"])
    first = feed["items"][0]
    assert first["tags"] == ["news", "etc", "kazakhstan"]
    story3 = next(i for i in feed["items"] if i["id"] == uid(make_article(3)))
    assert story3["authors"] == [{"name": "Anna Schmidt"}, {"name": "Ben Ali"}]
    assert story3["image"] == "https://img.newsrnd.com/3.jpg"
    assert story3["date_published"] == "2022-01-08T12:00:00+00:00"
    assert story3["language"] == "en"
    assert None not in story3.values()


def test_opml_lists_one_outline_per_feed(built):
    out, report = built
    root = etree.fromstring((out / "feeds.opml").read_bytes())
    assert root.tag == "opml" and root.get("version") == "2.0"
    outlines = root.findall("body/outline")
    assert [o.get("xmlUrl") for o in outlines] == [BASE + f.slug + ".atom" for f in report.feeds]
    assert all(o.get("type") == "rss" and o.get("text") == o.get("title") for o in outlines)
    modified = parsedate_to_datetime(root.findtext("head/dateModified"))
    assert modified == max(a["updated"] for a in corpus())


def test_opml_uses_rss_when_atom_is_disabled(tmp_path):
    build_feeds(corpus(), tmp_path, BASE, formats=("json", "rss"))
    assert not list(tmp_path.glob("*.atom"))
    root = etree.fromstring((tmp_path / "feeds.opml").read_bytes())
    assert root.find("body/outline").get("xmlUrl") == BASE + "all.rss"


def test_index_lists_feeds_with_links_and_autodiscovery(built):
    out, _ = built
    page = (out / "index.html").read_text("utf-8")
    tree = etree.HTML(page)
    alternates = tree.xpath('//head/link[@rel="alternate"][@type="application/atom+xml"]/@href')
    assert alternates[0] == BASE + "all.atom" and len(alternates) == 9
    assert BASE + "news.rss" in page and BASE + "news.json" in page
    assert "6 entries" in page and "1 entry" in page
    news = tree.xpath('//section[@id="news"]//li/a/text()')
    assert news == ['Evil <script>alert("x")</script> title', "Story number 4 about the world",
                    "Floods hit Almaty's centre"]
    assert "http://" not in page.replace(BASE, "").replace("https://www.newsrnd.com/", "")


def test_max_entries_keeps_the_newest(tmp_path):
    articles = [make_article(n) for n in range(1, 11)]
    report = build_feeds(articles, tmp_path, BASE, max_entries=4)
    parsed = parse(tmp_path / "all.atom")
    assert [e.id for e in parsed.entries] == [uid(make_article(n)) for n in (10, 9, 8, 7)]
    assert report.feeds[0].entries == 4
    assert len(json.loads((tmp_path / "news.json").read_text())["items"]) == 4


def test_second_build_with_same_articles_rewrites_nothing(built):
    out, _ = built
    before = snapshot(out)
    report = build_feeds(list(reversed(corpus())), out, BASE, rules=RULES, site_title="refeed")
    assert report.written == [] and report.removed == []
    assert all(f.written == [] for f in report.feeds)
    assert len(report.unchanged) == len(before)
    assert snapshot(out) == before
    assert not [p for p in out.iterdir() if p.name.startswith(".")]


def test_changed_article_rewrites_only_its_feeds(built):
    out, _ = built
    before = snapshot(out)
    articles = corpus()
    articles[1] = dict(articles[1], title="Corrected headline", updated=T0 + timedelta(days=5))
    report = build_feeds(articles, out, BASE, rules=RULES, site_title="refeed")
    changed = {f"{slug}.{ext}" for slug in ("all", "life", "publisher-spiegel") for ext in ("atom", "rss", "json")}
    assert set(report.written) == changed | {"feeds.opml", "index.html"}
    after = snapshot(out)
    for name in before:
        assert (after[name] == before[name]) == (name not in report.written), name
    entry = next(e for e in parse(out / "life.atom").entries)
    assert entry.id == uid(articles[1]) and entry.title == "Corrected headline"


def test_stale_topic_files_are_removed_but_nothing_else(built):
    out, _ = built
    (out / "notes.txt").write_text("keep me")
    (out / "status.json").write_text('{"mine": true}')
    report = build_feeds([a for a in corpus() if "sports" not in a["topics"]], out, BASE, rules=RULES)
    assert sorted(report.removed) == ["sports.atom", "sports.json", "sports.rss"]
    assert not list(out.glob("sports.*"))
    assert (out / "notes.txt").exists() and (out / "status.json").exists()


def test_unsafe_slugs_cannot_escape_out_dir(tmp_path):
    out = tmp_path / "a" / "b"
    article = make_article(1, topics=["../../x", "..", ".", "/etc/passwd", "", "ünïcode", "y" * 300],
                           publishers=["../../p", "..", "/", "Le Monde/../x"])
    build_feeds([article], out, BASE)
    assert sorted(p.name for p in tmp_path.rglob("*.atom")) == [
        "all.atom", "etc-passwd.atom", "publisher-le-monde-x.atom", "publisher-p.atom", "unicode.atom", "x.atom",
        "y" * 100 + ".atom",
    ]
    assert all(p.parent == out for p in tmp_path.rglob("*.atom"))


def test_empty_store_gives_valid_empty_all_feed(tmp_path):
    report = build_feeds([], tmp_path / "new", BASE)
    assert [(f.slug, f.entries, f.updated) for f in report.feeds] == [("all", 0, None)]
    for ext in ("atom", "rss"):
        assert parse(tmp_path / "new" / f"all.{ext}").entries == []
    assert json.loads((tmp_path / "new" / "all.json").read_text())["items"] == []
    again = build_feeds([], tmp_path / "new", BASE)
    assert again.written == []


def test_site_icon_is_every_feeds_icon(tmp_path):
    icon = "https://www.newsrnd.com/favicon.png"
    build_feeds(corpus(), tmp_path, BASE, site_icon=icon)
    assert parse(tmp_path / "news.atom").feed.icon == icon
    assert parse(tmp_path / "news.rss").feed.image.href == icon
    assert json.loads((tmp_path / "news.json").read_text())["favicon"] == icon
    assert f'<link rel="icon" href="{icon}">' in (tmp_path / "index.html").read_text()


def test_images_already_in_content_get_no_referrer_policy(tmp_path):
    inline = make_article(
        8, image=None,
        content_html='<p>a &amp; b</p><img src="https://x.test/1.png" alt="&lt;img src=x&gt;"><p><img src="https://x.test/2.gif"></p>',
    )
    build_feeds([inline], tmp_path, BASE)
    html = json.loads((tmp_path / "all.json").read_text())["items"][0]["content_html"]
    assert html == (
        '<p>a &amp; b</p><img src="https://x.test/1.png" alt="&lt;img src=x&gt;" referrerpolicy="no-referrer">'
        '<p><img src="https://x.test/2.gif" referrerpolicy="no-referrer"></p>'
    )


@pytest.mark.parametrize(
    "url, kind",
    [("https://i.test/a.png", "image/png"), ("https://i.test/a.webp?w=3", "image/webp"),
     ("https://i.test/a", "image/jpeg"), ("https://i.test/a.html", "image/jpeg")],
)
def test_enclosure_type_is_guessed_from_the_extension(url, kind):
    assert image_type(url) == kind


def test_publisher_feed_per_publisher_of_a_story(tmp_path):
    story = make_article(9, publishers=["Der Spiegel", "Die Zeit"])
    report = build_feeds([story, make_article(10)], tmp_path, BASE)
    feeds = {f.slug: f.entries for f in report.feeds}
    assert feeds["publisher-der-spiegel"] == 1 and feeds["publisher-die-zeit"] == 1 and feeds["publisher-spiegel"] == 1
    assert parse(tmp_path / "publisher-die-zeit.atom").feed.title == "Publisher: Die Zeit"
    entry = parse(tmp_path / "all.atom").entries[1]
    assert entry.source.title == "Der Spiegel" and entry.source.link == BASE + "publisher-der-spiegel.atom"
