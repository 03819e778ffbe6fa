"""The extraction cascade field by field, on hand-written pages in several languages and on the sample site."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from local_pages import PAGES, page

from crawler.extract import dates
from crawler.extract.article import looks_like_article
from crawler.extract.dates import parse_datetime
from crawler.extract.page import Page
from crawler.extract.text import clean_title, split_authors
from crawler.extract_cli import extract_targets


def extract_one(path, **kwargs) -> dict:
    (result,) = list(extract_targets([str(path)], **kwargs))
    assert not isinstance(result, Exception), result
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in result.items()}  # as the command prints it


@pytest.mark.parametrize(
    "text",
    ["8. Januar 2022", "8 de enero de 2022", "2022年1月8日", "8 janvier 2022", "8 gennaio 2022", "8 stycznia 2022", "January 8, 2022"],
)
def test_multilingual_dates_parse(text):
    assert parse_datetime(text) == datetime(2022, 1, 8, tzinfo=UTC)


def test_iso_dates_become_utc():
    assert parse_datetime("2022-01-08T09:30:00+01:00") == datetime(2022, 1, 8, 8, 30, tzinfo=UTC)


@pytest.mark.parametrize("text", ["Latest", "now", "", "Read more", None])
def test_words_are_no_dates(text):
    assert parse_datetime(text) is None


def test_dates_read_as_dateparser_reads_them_whatever_came_before():
    """The page's languages' parser is made once and kept: what it read before never changes what it reads next."""
    import dateparser

    settings = {"RETURN_AS_TIMEZONE_AWARE": True, "TIMEZONE": "UTC", "TO_TIMEZONE": "UTC", "PREFER_DATES_FROM": "past"}
    texts = ["Dienstag, 1. Februar 2022", "06.10.2023", "11 maja 2021, 11:49", "le 11 septembre 2018 à 12:57", "Épisode 13", "2022年1月8日"]
    for languages in (["de", "en"], ["fr", "en"], ["pl", "en"], None):
        expected = [dateparser.parse(text, languages=languages, settings=settings) for text in texts]
        for order in (texts, texts[::-1]):
            dates._parse_datetime_cached.cache_clear()  # each text read again, after the others
            read = {text: parse_datetime(text, languages, anywhere=False) for text in order}
            assert [read[text] for text in texts] == expected


def test_title_loses_the_site_name():
    assert clean_title("Stadtrat beschließt Radweg | Der Beispielbote", ["Der Beispielbote"]) == "Stadtrat beschließt Radweg"
    assert clean_title("Der Beispielbote - Stadtrat beschließt Radweg", ["Der Beispielbote"]) == "Stadtrat beschließt Radweg"
    assert clean_title("Brexit - what happens next", ["Der Beispielbote"]) == "Brexit - what happens next"


def test_bylines_split_into_names():
    assert split_authors("Von Anna Schmidt und Peter Meier") == ["Anna Schmidt", "Peter Meier"]
    assert split_authors("By Jane Doe, John Smith and Ann Lee") == ["Jane Doe", "John Smith", "Ann Lee"]
    assert split_authors("https://www.facebook.com/someone") == []


def test_german_page_every_field():
    article = extract_one(PAGES / "de_article.html")
    assert article["title"] == "Stadtrat beschließt neuen Radweg am Fluss"
    assert article["published"] == "2022-01-08T00:00:00+00:00"
    assert article["authors"] == ["Anna Schmidt", "Peter Meier"]
    assert article["publisher"] == "tagesschau"
    assert article["language"] == "de"  # the page does not say: detected from the text
    assert "lokales" in article["topics"]
    assert article["image"] == "https://beispielbote.example/bilder/radweg.jpg"
    assert article["image_caption"] == "Der neue Radweg soll am Ufer entlang führen."
    text = article["content_text"]
    assert text.startswith("Der Stadtrat hat am Donnerstagabend")
    assert "Kritik von den Anwohnern" in text and text.rstrip().endswith("erhoben werden.")
    for junk in ("Teilen", "Newsletter", "Anzeige", "Mehr zum Thema", "Brücke", "Quelle", "Foto", "©"):
        assert junk not in text, junk
        assert junk not in article["content_html"], junk
    assert "<h2>Kritik von den Anwohnern</h2>" in article["content_html"]


def test_spanish_page_every_field():
    article = extract_one(PAGES / "es_article.html")
    assert article["title"] == "El ayuntamiento aprueba un nuevo carril bici"
    assert article["published"] == "2022-01-08T00:00:00+00:00"
    assert article["authors"] == ["Lucía Gómez"]
    assert article["publisher"] == "El País"
    assert article["language"] == "es"
    assert article["topics"] == ["sociedad"]
    assert "Fuente" not in article["content_text"]
    assert article["content_text"].endswith("en contra del proyecto.")


def test_sample_site_page_extracts_as_the_site_spider_does(sample_site, tmp_path):
    story = sample_site.stories()[3]
    _, _, body = sample_site.render(story.path, "http://127.0.0.1:9")
    (tmp_path / "story.html").write_bytes(body)
    article = extract_one(tmp_path / "story.html")  # the generic cascade, no site knowledge
    assert article["title"] == story.title
    assert article["published"] == story.published.isoformat()
    assert article["content_text"] == story.text
    assert article["image_caption"] == story.caption
    assert article["publisher"] == story.publisher
    assert article["authors"] == [p.strip() for p in story.credit.split("/")]
    assert article["language"] == "en"


@pytest.mark.parametrize(
    "name, url",
    [
        ("tag.html", "http://example.test/tag/cycling/"),
        ("author.html", "http://example.test/people/anna-schmidt"),
        ("search.html", "http://example.test/find?q=path"),
        ("login.html", "http://example.test/account/login"),
        ("gallery.html", "http://example.test/2022/01/08/pictures-of-the-day.html"),
        ("tag.html", "http://example.test/2022/01/08/cycling.html"),  # many cards: a listing whatever its URL
    ],
)
def test_non_article_pages_are_not_articles(name, url):
    assert not looks_like_article(Page.from_text(page(name).decode("utf-8"), url))


@pytest.mark.parametrize("name", ["de_article.html", "es_article.html", "cp1252_article.html", "pl_article.html"])
def test_article_pages_are_articles(name):
    assert looks_like_article(Page.from_text(page(name).decode("utf-8"), f"http://example.test/2022/01/08/{name}"))


VISIBLE_DATES = {
    "a dated class": '<div class="entry-meta">{long}<span class="post-date">3. März 2021</span></div>',
    "a time element": "<p>{long}</p><time>3. März 2021</time>",
    "the line under the headline": "<p>Von Anna Beispiel</p><p>3. März 2021</p><p>{long}</p>",
}


@pytest.mark.parametrize("where", VISIBLE_DATES)
def test_a_date_written_out_near_the_headline_is_the_published_date(where):
    """Without metadata, the date on the page: in a short element whose class says date, in `<time>`, or a line under
    the headline; the class "meta" of a long container (dates in its text) is no date's place."""
    long = "Der Stadtrat hat am 1. Februar 2020 beschlossen, die Brücke zu erneuern, und die Arbeiten beginnen im Herbst."
    body = VISIBLE_DATES[where].format(long=long)
    html = f'<html lang="de"><head><title>Brücke</title></head><body><h1>Brücke wird erneuert</h1>{body}</body></html>'
    assert Page.from_text(html, "https://example.org/a").published() == datetime(2021, 3, 3, tzinfo=UTC)


def test_page_wrapped_in_a_form_extracts_its_article(tmp_path):
    """ASP.NET pages wrap the whole page in one `<form>`: the form and its fields are elements like any other to
    every step (the page is parsed without lxml.html's form-field classes)."""
    paragraphs = [f"Paragraph {i} of the council's report says the new bridge opens in spring, after two years of work on it." for i in range(8)]
    html = (
        "<html><head><title>Bridge opens in spring</title></head><body><form id='aspnetForm' action='/x' method='post'>"
        "<input type='hidden' name='__VIEWSTATE' value='abc'><article><h1>Bridge opens in spring</h1>"
        + "".join(f"<p>{text}</p>" for text in paragraphs)
        + "</article><label for='q'>Search</label><input id='q' name='q'><select name='s'><option>All</option></select>"
        "<textarea name='t'>Write to us</textarea></form></body></html>"
    )
    path = tmp_path / "form.html"
    path.write_text(html, encoding="utf-8")
    result = extract_one(path)
    assert result["title"] == "Bridge opens in spring"
    assert result["content_text"].split("\n\n") == paragraphs
