"""Non-UTF-8 pages: HTTP charset, then <meta charset>, then detection; no mojibake, odd bytes never crash."""

from __future__ import annotations

import pytest
from local_pages import PageServer, page
from scrapy.http import HtmlResponse

from crawler.extract.page import Page
from crawler.extract_cli import extract_targets

CAFE_TITLE = "Café owners welcome the “riverside path” — at last"


def served(name: str, encoding: str) -> bytes:
    return page(name).decode("utf-8").encode(encoding)


@pytest.fixture
def pages():
    with PageServer(
        {
            "/cp1252-header.html": ("text/html; charset=windows-1252", served("cp1252_article.html", "cp1252")),
            "/cp1252-undeclared.html": ("text/html", served("cp1252_article.html", "cp1252")),
            "/sjis-meta.html": ("text/html", served("ja_article.html", "shift_jis")),
            "/latin2-meta.html": ("text/html", served("pl_article.html", "iso-8859-2")),
            "/broken-bytes.html": (
                "text/html; charset=utf-8",
                page("cp1252_article.html").replace(b"The owners", b"The \xff\xfe\xc3 owners").replace(b"A coffee", b"A \x00\x81 coffee"),
            ),
        }
    ) as server:
        yield server


def extract_url(url: str) -> dict:
    (result,) = list(extract_targets([url]))
    assert not isinstance(result, Exception), result
    return result


def test_windows_1252_by_http_charset(pages):
    article = extract_url(pages.url + "cp1252-header.html")
    assert article["title"] == CAFE_TITLE
    assert "“It’s the best news we’ve had in years,” said Zoë Brontë" in article["content_text"]
    assert "costs €2.50 and the cake of the day is £3 — prices" in article["content_text"]


def test_windows_1252_undeclared_is_detected(pages):
    article = extract_url(pages.url + "cp1252-undeclared.html")
    assert article["title"] == CAFE_TITLE
    assert "naïve but cheerful brother" in article["content_text"]


def test_shift_jis_by_meta_charset(pages):
    article = extract_url(pages.url + "sjis-meta.html")
    assert article["title"] == "市議会、川沿いの新しい自転車道を承認"
    assert article["content_text"].startswith("市議会は木曜日の夜")
    assert article["published"].date().isoformat() == "2022-01-08"
    assert article["language"] == "ja"


def test_iso_8859_2_by_http_equiv_meta(pages):
    article = extract_url(pages.url + "latin2-meta.html")
    assert article["title"] == "Rada miasta zatwierdziła nową ścieżkę rowerową"
    assert "Żółć, źdźbło, gęś." in article["content_text"]
    assert article["publisher"] == "PAP"
    assert article["language"] == "pl"


def test_odd_bytes_never_crash_and_the_rest_reads_right(pages):
    article = extract_url(pages.url + "broken-bytes.html")
    assert article["title"] == CAFE_TITLE
    assert "said Zoë Brontë" in article["content_text"]
    assert "\x00" not in article["content_text"]


def test_spider_pages_decode_like_the_extract_command():
    body = served("pl_article.html", "iso-8859-2")
    response = HtmlResponse(url="http://example.test/a.html", body=body, headers={"Content-Type": "text/html"})
    assert Page.from_response(response).title() == "Rada miasta zatwierdziła nową ścieżkę rowerową"
    cp1252 = HtmlResponse(url="http://example.test/b.html", body=served("cp1252_article.html", "cp1252"), headers={"Content-Type": "text/html"})
    assert Page.from_response(cp1252).title() == CAFE_TITLE
