"""The generic spider: any site by configuration; `follow`/`articles` regexes, content signals, selectors."""

from __future__ import annotations

import json
import re

from conftest import run_cli, source_config
from local_pages import PageServer, page

ARTICLE_PATH = re.compile(r"\d{4}-\d{2}-\d{2}-.+\.html")


def generic_source(url: str, name: str = "unknown", **options) -> str:
    lines = "\n".join(f"{k} = {json.dumps(v)}" for k, v in options.items())
    return f'[[source]]\nname = "{name}"\nspider = "generic"\nstart_urls = ["{url}"]\nmax_pages = 2000\n{lines}\n'


def exported(workdir) -> list[dict]:
    result = run_cli("export", cwd=workdir)
    assert result.code == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_generic_source_over_the_sample_site_finds_the_same_articles(tmp_path, sample_site, site_server):
    source_config(tmp_path, generic_source(site_server.url), obey_robots=False)  # no site knowledge: no regexes, no selectors
    first = run_cli("once", cwd=tmp_path)
    assert first.code == 0, first.stderr[-3000:]
    articles = {a["url"]: a for a in exported(tmp_path)}
    assert len(articles) == len(sample_site.stories())  # sections, archives, home and privacy page yield nothing
    republished = {a.republishes for a in sample_site.articles if a.republishes}
    for story in sample_site.stories():
        if story.shortid in republished:
            continue  # which copy represents the story depends on which was seen first
        article = articles[site_server.base + story.path]
        assert article["title"] == story.title
        assert article["content_text"] == story.text
        assert article["published"] == story.published.isoformat()
        assert article["publisher"] == story.publisher
        assert story.section in article["topics"]

    site_server.requests.clear()
    second = run_cli("once", cwd=tmp_path)
    assert second.code == 0, second.stderr[-3000:]
    downloaded = [path for _, path, status in site_server.requests if ARTICLE_PATH.search(path) and status != 304]
    assert downloaded == []  # known articles are skipped, or asked conditionally and answered 304


def test_articles_and_follow_regexes_limit_the_crawl(tmp_path, sample_site, site_server):
    source_config(tmp_path, generic_source(site_server.url, follow=["^/tech/"], articles=[r"^/tech/\d{4}-\d{2}-\d{2}-"]), obey_robots=False)
    result = run_cli("once", cwd=tmp_path)
    assert result.code == 0, result.stderr[-3000:]
    paths = [path for _, path, _ in site_server.requests]
    assert paths[0] == "/" and "/tech/" in paths and "/tech/?page=2" in paths
    assert all(p.startswith("/tech/") for p in paths[1:] if p != "/robots.txt"), paths
    tech = {site_server.base + path for a, path in sample_site.section_listing("tech")}
    articles = exported(tmp_path)
    assert tech <= {u for a in articles for u in a["urls"]}
    assert all(any("/tech/" in u for u in a["urls"]) for a in articles)  # cross-listed ones keep their own canonical URL


def test_non_article_pages_yield_nothing(tmp_path):
    links = ["/tag/cycling/", "/people/anna-schmidt", "/find?q=path", "/account/login", "/2022/01/08/pictures.html", "/2022/01/08/radweg.html"]
    home = "<html><body><h1>Home</h1><ul>" + "".join(f'<li><a href="{u}">{u}</a></li>' for u in links) + "</ul></body></html>"
    with PageServer(
        {
            "/": ("text/html; charset=utf-8", home.encode()),
            "/tag/cycling/": ("text/html; charset=utf-8", page("tag.html")),
            "/people/anna-schmidt": ("text/html; charset=utf-8", page("author.html")),
            "/find": ("text/html; charset=utf-8", page("search.html")),
            "/account/login": ("text/html; charset=utf-8", page("login.html")),
            "/2022/01/08/pictures.html": ("text/html; charset=utf-8", page("gallery.html")),
            "/2022/01/08/radweg.html": ("text/html; charset=utf-8", page("de_article.html")),
        }
    ) as server:
        source_config(tmp_path, generic_source(server.url, name="local"), obey_robots=False)
        result = run_cli("once", cwd=tmp_path)
        assert result.code == 0, result.stderr[-3000:]
        assert "/find?q=path" in server.requests and "/2022/01/08/pictures.html" in server.requests
    (article,) = exported(tmp_path)
    assert article["url"] == server.url + "2022/01/08/radweg.html"
    assert article["title"] == "Stadtrat beschließt neuen Radweg am Fluss"


def test_extract_of_a_non_article_says_so_in_one_line_without_the_libraries_noise(tmp_path, sample_site):
    from crawler.demo.server import SampleSiteServer

    empty = b"<!DOCTYPE html><html><head><title>Coming soon</title></head><body><div></div></body></html>"
    with SampleSiteServer(sample_site) as server:
        server.fault("/soon.html", "body", status=200, body=empty, headers={"Content-Type": "text/html; charset=utf-8"})
        target = server.url + "soon.html"
        quiet = run_cli("extract", target, cwd=tmp_path)
        verbose = run_cli("-v", "extract", target, cwd=tmp_path)
    assert quiet.code == 1 and quiet.stdout == ""
    errors = [line for line in quiet.stderr.splitlines() if " ERROR " in line or " WARNING " in line]
    assert errors == [errors[0]] and errors[0].endswith(f"refeed: {target}: no article found"), quiet.stderr
    assert "trafilatura" not in quiet.stderr and "Traceback" not in quiet.stderr
    assert "trafilatura" in verbose.stderr  # -v still shows what the library said


def test_selectors_override_fields_with_any_spider(tmp_path, sample_site):
    story = sample_site.stories()[0]
    _, _, body = sample_site.render(story.path, "http://127.0.0.1:9")
    (tmp_path / "story.html").write_bytes(body)
    (tmp_path / "de.html").write_bytes(page("de_article.html"))
    sources = (
        '[[source]]\nname = "lt"\nspider = "limitedtimes"\nstart_urls = ["http://127.0.0.1:9/"]\n'
        '[source.selectors]\ntitle = "figcaption .caption"\nauthors = "//p[@class=\'article-source\']"\nsection = "header a.logo"\n'
        '\n[[source]]\nname = "de"\nspider = "generic"\nstart_urls = ["http://127.0.0.1:9/"]\n'
        '[source.selectors]\nbody = "//div[@class=\'inhalt\']/h2 | //div[@class=\'inhalt\']/p[1]"\npublished = "span.date"\n'
        'authors = "p.byline"\nimage = "figure img"\nremove = [".credit", "h2"]\n'
    )
    source_config(tmp_path, sources, obey_robots=False)
    lt = run_cli("extract", "--source", "lt", "story.html", cwd=tmp_path)
    assert lt.code == 0, lt.stderr
    (article,) = [json.loads(line) for line in lt.stdout.splitlines()]
    assert article["title"] == story.caption  # the selector wins over JSON-LD and <h1>
    assert article["authors"] == [f"Source: {story.publisher}"]
    assert article["topics"] == ["the-limited-times"]
    assert article["content_text"] == story.text  # fields without a selector stay automatic

    de = run_cli("extract", "--source", "de", "de.html", cwd=tmp_path)
    assert de.code == 0, de.stderr
    (article,) = [json.loads(line) for line in de.stdout.splitlines()]
    assert article["content_text"] == (
        "Der Stadtrat hat am Donnerstagabend mit großer Mehrheit beschlossen, einen neuen Radweg entlang des Flusses zu bauen. "
        "Die Strecke soll die Altstadt mit dem neuen Wohngebiet im Norden verbinden und rund vier Kilometer lang werden."
    )  # `remove` took the <h2> out before `body` selected
    assert article["published"] == "2022-01-08T00:00:00+00:00"
    assert article["authors"] == ["Anna Schmidt", "Peter Meier"]
    assert article["image"] == "https://beispielbote.example/bilder/radweg-gross.jpg"  # not og:image
    assert article["image_caption"] == "Der neue Radweg soll am Ufer entlang führen."


def last_run(workdir) -> dict:
    status = run_cli("status", "--json", cwd=workdir)
    assert status.code == 0, status.stderr
    (run,) = json.loads(status.stdout)["sources"]
    return run


def test_second_run_over_an_unchanged_site_sees_every_article_again(tmp_path, small_site, small_server):
    source_config(tmp_path, generic_source(small_server.url), obey_robots=False)  # no `articles` regexes: the first run asks articles as listings
    first = run_cli("once", cwd=tmp_path)
    assert first.code == 0, first.stderr[-3000:]
    assert len(exported(tmp_path)) == len(small_site.stories())
    found = last_run(tmp_path)["seen"]

    small_server.requests.clear()
    second = run_cli("once", cwd=tmp_path)
    assert second.code == 0, second.stderr[-3000:]
    run = last_run(tmp_path)
    assert run["outcome"] == "ok", run["message"]
    assert (run["new"], run["seen"]) == (0, found)  # every article counted again, as known or unchanged, once
    assert {status for _, _, status in small_server.requests} == {304}


def test_articles_regex_that_would_backtrack_forever_matches_in_linear_time(tmp_path):
    # Python's re takes about 2**47 steps for (a+)+$ against 47 a's and a "!": the reactor would never get back
    links = ["/" + "a" * 47 + "!", "/aaaa", "/2022/01/08/radweg.html"]
    home = "<html><body>" + "".join(f'<p><a href="{u}">{u}</a></p>' for u in links) + "</body></html>"
    with PageServer({"/": ("text/html; charset=utf-8", home.encode()), "/aaaa": ("text/html; charset=utf-8", page("de_article.html"))}) as server:
        source_config(tmp_path, generic_source(server.url, name="local", articles=["(a+)+$"]), obey_robots=False)
        result = run_cli("once", cwd=tmp_path, timeout=120)
        assert result.code == 0, result.stderr[-3000:]
        assert "/aaaa" in server.requests and "/2022/01/08/radweg.html" in server.requests  # an article, and a listing
    assert [a["url"] for a in exported(tmp_path)] == [server.url + "aaaa"]


def test_a_listing_remembers_every_link_it_carries_even_those_asked_from_another_page(tmp_path, sample_site, site_server):
    """A page that only replays its remembered links on a 304 must remember the listings another page queued first:
    that page's fetch may be lost (a killed distributed worker), and then only this page leads to them."""
    from crawler.store import Store, queries

    source_config(tmp_path, generic_source(site_server.url), obey_robots=False)
    assert run_cli("once", cwd=tmp_path).code == 0
    store = Store(f"sqlite:///{tmp_path / 'data' / 'refeed.sqlite3'}")
    try:
        with store.reader() as conn:
            sections = {f"{site_server.base}/{name}/" for name in sample_site.sections}
            for section in sections:
                remembered = queries.validators_for(conn, section)
                assert remembered is not None, section
                listed = {url for kind, url in remembered.links if kind == "l"}
                assert sections - {section} <= listed, section  # the nav's other sections, queued from the home page first
    finally:
        store.close()
