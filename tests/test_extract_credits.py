"""Credit lines are recognised by their shape (known agencies, alone or slash-separated with editors' initials),
never by being one short word; the shared vocabulary holds no words of one site."""

from __future__ import annotations

import pytest

from crawler.extract.text import credit_authors, is_boilerplate
from crawler.extract_cli import extract_targets

PROSE = [
    ("The harbour authority said on Monday that the northern pier would close for repairs in April, after divers "
     "found that the wooden piles under its far end had rotted much faster than engineers had expected."),
    ("Ferries will use the southern pier while the work goes on, the authority said, and the timetable will change "
     "slightly on weekdays to leave room for the barges that bring in the new concrete piles."),
    ("Fishermen who moor their boats along the northern pier will be given berths in the marina free of charge "
     "until the summer, a spokesman said, though some of them said the marina was too shallow for larger boats."),
]


def page(last: str) -> str:
    body = "\n".join(f"<p>{p}</p>" for p in [*PROSE, last])
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Northern pier to close for repairs</title>
<meta property="og:type" content="article"><meta property="og:title" content="Northern pier to close for repairs">
<meta property="article:published_time" content="2024-02-12T08:00:00+00:00"></head>
<body><main><article><h1>Northern pier to close for repairs</h1>{body}</article></main></body></html>"""


def extracted(tmp_path, html: str) -> dict:
    path = tmp_path / "page.html"
    path.write_text(html, encoding="utf-8")
    (result,) = extract_targets([str(path)])
    return result


@pytest.mark.parametrize("line, authors", [
    ("asc / dpa / AFP", ["asc", "dpa", "AFP"]),
    ("dpa", ["dpa"]),
    ("Reuters", ["Reuters"]),
    ("kbl / Reuters", ["kbl", "Reuters"]),
    ("AP / dpa", ["AP", "dpa"]),
    ("mk/AFP/Reuters", ["mk", "AFP", "Reuters"]),
])
def test_agency_credit_lines_are_credits(line, authors):
    assert credit_authors(line) == authors
    assert is_boilerplate(line)


@pytest.mark.parametrize("line", ["Note", "Fin", "Ende", "More", "yes / no", "Q / A", "He / she", "AFP said so"])
def test_a_short_word_or_a_slash_without_an_agency_is_no_credit(line):
    assert credit_authors(line) == []


@pytest.mark.parametrize("last", ["Note", "Ende", "Fin"])
def test_a_one_word_closing_paragraph_is_no_author(tmp_path, last):
    result = extracted(tmp_path, page(last))
    assert result["authors"] == []
    assert "too shallow for larger boats." in result["content_text"]


def test_an_agency_credit_line_becomes_the_authors_and_leaves_the_text(tmp_path):
    result = extracted(tmp_path, page("jok / dpa / AFP"))
    assert result["authors"] == ["jok", "dpa", "AFP"]
    assert "jok / dpa" not in result["content_text"]
    assert result["content_text"].endswith("too shallow for larger boats.")


@pytest.mark.parametrize("line", ["Latest", "You may like", "Trends 24h", "Enlarge image", "All news articles on 2024-02-12"])
def test_words_of_one_site_are_not_shared_boilerplate(line):
    assert not is_boilerplate(line)
