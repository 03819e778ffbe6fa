"""The bundled sample aggregator site: generated content, page anatomy, traps and server faults."""

from __future__ import annotations

import http.client
import itertools
import json
import re
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import lxml.html
import pytest

from crawler.demo import SampleSiteServer, generate
from crawler.demo.site import DISCLAIMER, SECTIONS, SEED_SHORTID, isoformat

WORD = re.compile(r"\w+")


def shingles(text: str, size: int = 5) -> set[str]:
    words = WORD.findall(text.casefold())
    return {" ".join(words[i:i + size]) for i in range(len(words) - size + 1)}


def jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b)


def fetch(server: SampleSiteServer, path: str, method: str = "GET", headers: dict | None = None):
    conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
    try:
        conn.request(method, path, headers=headers or {})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


@pytest.fixture(scope="module")
def site():
    return generate()


@pytest.fixture(scope="module")
def server(site):
    with SampleSiteServer(site) as running:
        yield running


@pytest.fixture
def faulty(server):
    yield server
    server.clear_faults()


def listing_hrefs(body: bytes) -> list[str]:
    return lxml.html.fromstring(body).xpath('//ul[@class="stories"]/li[@class="story"]/a[@class="story-link"]/@href')


# --- generated content ------------------------------------------------------------------------


def test_generation_is_deterministic_per_seed(site):
    again, other = generate(2022), generate(7)
    base = "http://example.test"
    for path in ["/", "/news/", "/politics/?page=2", "/archive/2022-01-05.html"] + [a.path for a in site.articles]:
        assert site.render(path, base) == again.render(path, base)
    assert site.render("/", base)[2] != other.render("/", base)[2]
    assert {a.title for a in site.stories()} != {a.title for a in other.stories()}


def test_generation_is_fast():
    started = time.perf_counter()
    generate(99)
    assert time.perf_counter() - started < 1.0


def test_site_has_enough_distinct_stories_in_every_section(site):
    stories = site.stories()
    assert len(stories) == 240
    assert len(site.articles) == 241
    assert len({a.title.casefold() for a in stories}) == len(stories)
    assert len({a.shortid for a in site.articles}) == len(site.articles)
    counts = Counter(a.section for a in stories)
    assert set(counts) == set(SECTIONS)
    assert min(counts.values()) >= 20
    assert site.articles == sorted(site.articles, key=lambda a: a.published, reverse=True)


def test_story_fields_follow_the_site_conventions(site):
    start = datetime(2022, 1, 1, tzinfo=UTC)
    for article in site.articles:
        assert start <= article.published < start + timedelta(days=14)
        assert article.updated == article.published
        assert re.fullmatch(r"[0-9a-f]{8}", article.shortid)
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", article.slug) and len(article.slug) <= 60
        assert re.fullmatch(rf"/{article.section}/{article.day}-{article.slug}\.{article.shortid}\.html", article.path)
        assert re.fullmatch(r"[A-Z .'-]+ / [A-Z ]+", article.photo_credit)
        assert re.fullmatch(r"[A-Za-z]+( / [A-Za-z]+)*", article.credit)
        assert article.publisher and article.lede and article.caption
        assert article.text == "\n\n".join([article.lede] + [text for _, text in article.blocks])
    for article in site.stories():
        if article.shortid == SEED_SHORTID:
            continue
        paragraphs = [t for kind, t in article.blocks if kind == "p"]
        assert 12 <= len(paragraphs) <= 35
        assert 1 <= len(article.subheadings) <= 3
        assert all(not h.endswith(".") for h in article.subheadings)
        assert article.blocks[0][0] == "p" and article.blocks[-1][0] == "p"
    assert len({a.publisher for a in site.articles}) >= 8
    assert len({a.credit for a in site.articles}) >= 8


def test_seed_article_is_story_zero(site):
    seed = next(a for a in site.stories() if a.title == "Kazakhstan: Germany imposes export ban on armaments")
    assert isoformat(seed.published) == "2022-01-08T08:02:35.426Z"
    assert seed.section == "news" and seed.credit == "asc / dpa / AFP" and seed.publisher == "spiegel"
    assert seed.photo_credit == "MARIYA GORDEYEVA / REUTERS"
    assert seed.subheadings == ["Media reports of explosions in Almaty", "Ex-head of domestic intelligence arrested"]
    assert seed.text.startswith("In the face of violent protests")
    assert seed.text.endswith("at least 18 police officers and soldiers have also died so far.")


def test_a_few_other_stories_mention_kazakhstan(site):
    others = [a for a in site.stories() if a.title != "Kazakhstan: Germany imposes export ban on armaments"]
    mentioning = [a for a in others if re.search(r"\b(Kazakhstan|Almaty)\b", f"{a.title}\n{a.text}")]
    assert 5 <= len(mentioning) <= len(others) // 10


def test_distinct_stories_never_look_alike(site):
    sets = [shingles(a.text) for a in site.stories()]
    holders = defaultdict(list)
    for index, items in enumerate(sets):
        for shingle in items:
            holders[shingle].append(index)
    shared = Counter()
    for indexes in holders.values():
        if len(indexes) > 1:
            shared.update(itertools.combinations(indexes, 2))
    worst = max((common / (len(sets[a]) + len(sets[b]) - common) for (a, b), common in shared.items()), default=0.0)
    assert worst < 0.2


def test_republished_copy_points_at_the_seed_story(site):
    copies = [a for a in site.articles if a.republishes is not None]
    assert len(copies) == 1
    copy = copies[0]
    original = site.by_shortid(copy.republishes)
    assert original.shortid == SEED_SHORTID and original in site.stories()
    assert original.title == "Kazakhstan: Germany imposes export ban on armaments"
    assert copy not in site.stories()
    assert (copy.section, copy.publisher, copy.credit) == ("politics", "zeit", "dpa / AFP")
    assert copy.published - original.published == timedelta(hours=3)
    assert copy.title != original.title and copy.title.casefold() == original.title.casefold()
    assert copy.shortid != original.shortid and copy.path != original.path
    assert copy.text != original.text
    assert jaccard(shingles(copy.text), shingles(original.text)) > 0.6


# --- pages over HTTP --------------------------------------------------------------------------


def test_every_article_page_has_the_full_anatomy(server, site):
    for article in site.articles:
        status, headers, body = fetch(server, article.path)
        assert status == 200, article.path
        assert headers["Content-Type"] == "text/html; charset=utf-8"
        doc = lxml.html.fromstring(body)
        text = doc.text_content()
        expected = [
            article.title, isoformat(article.published), article.lede, "Enlarge image", article.caption,
            f"Photo: {article.photo_credit}", *article.subheadings, article.credit, f"Source: {article.publisher}",
            f"All news articles on {article.day}", "You may like", "Trends 24h", "Latest", DISCLAIMER,
        ]
        for needle in expected:
            assert needle in text, (article.path, needle)
        assert doc.xpath("string(//h1[@class='article-title'])") == article.title
        body_blocks = doc.xpath('//div[@class="article-body"]/*[not(@class="credit-line")]')
        assert [(el.tag, el.text_content()) for el in body_blocks] == list(article.blocks)
        assert doc.xpath("string(//link[@rel='canonical']/@href)") == server.base + article.path
        ld = json.loads(doc.xpath("string(//script[@type='application/ld+json'])"))
        assert ld["headline"] == article.title and ld["datePublished"] == isoformat(article.published)
        assert len(doc.xpath('//aside[@class="you-may-like"]//a')) == 5


def test_article_body_has_some_inline_markup(server, site):
    inline = 0
    for article in site.stories()[:40]:
        body = fetch(server, article.path)[2]
        inline += len(lxml.html.fromstring(body).xpath('//div[@class="article-body"]/p/*[self::em or self::a]'))
    assert inline >= 10


def test_alias_urls_serve_the_page_with_the_primary_canonical(server, site):
    cross = [a for a in site.stories() if a.also_in]
    assert 10 <= len(cross) <= 20
    for article in cross:
        for alias in article.alias_paths():
            assert alias != article.path and site.by_path(alias) is article
            status, _, body = fetch(server, alias)
            assert status == 200
            doc = lxml.html.fromstring(body)
            assert doc.xpath("string(//link[@rel='canonical']/@href)") == server.base + article.path
            assert doc.xpath("string(//meta[@property='og:url']/@content)") == server.base + article.path
            section = doc.xpath("string(//meta[@property='article:section']/@content)")
            assert section.lower() == article.section


def test_listings_carry_tracking_parameters_and_fragments(server, site):
    hrefs = listing_hrefs(fetch(server, "/")[2])
    for section in SECTIONS:
        for page in range(1, site.section_pages(section) + 1):
            hrefs += listing_hrefs(fetch(server, f"/{section}/?page={page}")[2])
    assert any("utm_source=home" in h and "utm_campaign=" in h for h in hrefs)
    assert any("fbclid=" in h for h in hrefs)
    assert any(h.endswith("#comments") for h in hrefs)
    tracked = next(h for h in hrefs if "utm_source=" in h)
    status, _, body = fetch(server, tracked.split("#")[0])
    assert status == 200
    canonical = lxml.html.fromstring(body).xpath("string(//link[@rel='canonical']/@href)")
    assert canonical == server.base + site.by_path(tracked).path


def test_home_lists_the_latest_thirty_articles(server, site):
    status, _, body = fetch(server, "/")
    assert status == 200
    text = lxml.html.fromstring(body).text_content()
    assert "The Limited Times" in text and "Now you can see non-English news..." in text
    assert [urlsplit(h).path for h in listing_hrefs(body)] == [a.path for a in site.articles[:30]]
    nav = lxml.html.fromstring(body).xpath('//nav[@class="sections"]/a/@href')
    assert nav == [f"/{s}/" for s in SECTIONS]


def test_pagination_reaches_every_article_of_a_section_exactly_once(server, site):
    for section in SECTIONS:
        expected = {a.path for a in site.articles if a.section == section}
        expected |= {a._path(section) for a in site.articles if section in a.also_in}
        seen, path, pages = [], f"/{section}/", 0
        while path:
            status, _, body = fetch(server, path)
            assert status == 200, path
            pages += 1
            doc = lxml.html.fromstring(body)
            items = listing_hrefs(body)
            assert len(items) <= 20
            seen += [urlsplit(h).path for h in items]
            nxt = doc.xpath("//head/link[@rel='next']/@href")
            assert nxt == doc.xpath("//a[@class='next'][@rel='next']/@href")
            path = nxt[0] if nxt else None
        assert len(seen) == len(set(seen)) and set(seen) == expected
        assert fetch(server, f"/{section}/?page={pages + 1}")[0] == 404
        assert fetch(server, f"/{section}/?page=0")[0] == 404
    assert fetch(server, "/news/?page=2")[2].count(b'rel="prev"') == 2


def test_archive_pages_list_every_article_of_their_day(server, site):
    days = site.days()
    assert days[0] == "2022-01-01" and days[-1] == "2022-01-14"
    for day in days:
        status, _, body = fetch(server, f"/archive/{day}.html")
        assert status == 200
        assert f"All news articles on {day}".encode() in body
        listed = [urlsplit(h).path for h in listing_hrefs(body)]
        assert sorted(listed) == sorted(a.path for a in site.articles if a.day == day)
    assert fetch(server, "/archive/2021-12-31.html")[0] == 404


def test_robots_image_and_unknown_paths(server, site):
    status, headers, body = fetch(server, "/robots.txt")
    assert status == 200 and body == b"User-agent: *\nDisallow: /private/\n"
    assert headers["Content-Type"].startswith("text/plain")
    status, headers, body = fetch(server, f"/img/{site.articles[3].shortid}.jpg")
    assert status == 200 and headers["Content-Type"] == "image/jpeg"
    assert body.startswith(b"\xff\xd8") and body.endswith(b"\xff\xd9")
    assert fetch(server, "/img/00000000.jpg")[0] == 404
    assert fetch(server, "/no/such/page.html")[0] == 404
    assert fetch(server, "/news/2022-01-08-made-up.deadbeef.html")[0] == 404
    assert fetch(server, "/privacy.html")[0] == 200


# --- validators -------------------------------------------------------------------------------


def test_conditional_get_with_etag_gives_empty_304(server, site):
    path = site.articles[5].path
    status, headers, body = fetch(server, path)
    assert status == 200 and headers["ETag"].startswith('"') and int(headers["Content-Length"]) == len(body)
    status, headers304, body = fetch(server, path, headers={"If-None-Match": headers["ETag"]})
    assert status == 304 and body == b"" and headers304["ETag"] == headers["ETag"]
    status, _, body = fetch(server, path, headers={"If-Modified-Since": headers["Last-Modified"]})
    assert status == 304 and body == b""
    assert fetch(server, path, headers={"If-None-Match": '"other"'})[0] == 200


def test_last_modified_is_the_article_or_newest_listed_update(server, site):
    article = site.articles[10]
    assert fetch(server, article.path)[1]["Last-Modified"] == article.updated.strftime("%a, %d %b %Y %H:%M:%S GMT")
    newest = site.articles[0].updated.strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert fetch(server, "/")[1]["Last-Modified"] == newest


def test_head_returns_headers_without_body(server, site):
    status, headers, body = fetch(server, site.articles[0].path, method="HEAD")
    assert status == 200 and body == b"" and int(headers["Content-Length"]) > 1000


# --- faults -----------------------------------------------------------------------------------


def test_status_fault_for_n_times_then_success(faulty, site):
    path = site.articles[1].path
    faulty.fault(path, "status", times=2, status=500)
    assert [fetch(faulty, path + "?utm_source=x")[0] for _ in range(3)] == [500, 500, 200]
    assert [s for m, p, s in faulty.requests if p.startswith(path)][-3:] == [500, 500, 200]


def test_permanent_status_fault_until_cleared(faulty, site):
    faulty.fault("/news/", "status", status=503)
    assert fetch(faulty, "/news/")[0] == 503
    assert fetch(faulty, "/news/?page=2")[0] == 503
    faulty.clear_faults()
    assert fetch(faulty, "/news/")[0] == 200


def test_redirect_fault_gives_301_with_location(faulty, site):
    faulty.fault("/old.html", "redirect", location=site.articles[2].path)
    status, headers, _ = fetch(faulty, "/old.html")
    assert status == 301 and headers["Location"] == site.articles[2].path


def test_slow_fault_delays_the_answer(faulty, site):
    faulty.fault("/tech/", "slow", delay=0.3)
    started = time.perf_counter()
    status = fetch(faulty, "/tech/")[0]
    assert status == 200 and time.perf_counter() - started >= 0.3


def test_reset_fault_makes_the_client_fail(faulty, site):
    path = site.articles[3].path
    faulty.fault(path, "reset", times=1)
    with pytest.raises((OSError, http.client.HTTPException)):
        fetch(faulty, path)
    assert fetch(faulty, path)[0] == 200


def test_unknown_fault_kind_is_refused(faulty):
    with pytest.raises(ValueError, match="fault kind"):
        faulty.fault("/", "explode")
