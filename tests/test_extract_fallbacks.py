"""Never nothing: a page with an obvious body yields it, whatever its markup (XHTML with an XML declaration, text in
`<div>`s and `<br>`s instead of paragraphs, stray control characters), and the debug log says which fallback gave it
when neither the page's own container nor trafilatura's precision mode did."""

from __future__ import annotations

import logging

from crawler.extract.blocks import Extracted
from crawler.extract.markup import densest_text
from crawler.extract.page import Page
from crawler.extract_cli import extract_targets

LINES = [
    "The village fete will return to the green on the first Saturday of June, the organising committee said.",
    "There will be a tug of war between the two pubs, a dog show, and cakes baked by the primary school.",
    "Stallholders are asked to register with the parish clerk by the end of April and to bring their own tables.",
    "Parking will be in the field behind the church, and volunteers will direct cars from ten in the morning.",
    "Last year more than two thousand people came, and the committee raised enough to repair the church roof.",
    "This year the money will go to the village hall, whose kitchen and heating are both in need of replacing.",
]


def extracted(tmp_path, html: str) -> dict | Exception:
    path = tmp_path / "page.html"
    path.write_text(html, encoding="utf-8")
    (result,) = extract_targets([str(path)])
    return result


def test_an_xhtml_page_with_an_xml_declaration_is_read_as_html(tmp_path):
    body = "".join(f"<p>{line}</p>" for line in LINES)
    result = extracted(tmp_path, f"""<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">
<html xmlns="http://www.w3.org/1999/xhtml" lang="en"><head><title>Village fete returns in June</title></head>
<body><div id="content"><h1>Village fete returns in June</h1>{body}</div></body></html>""")
    assert not isinstance(result, Exception), result
    assert result["title"] == "Village fete returns in June"
    assert all(line in result["content_text"] for line in LINES)


def divs_and_breaks() -> str:
    text = "<br>\n".join(LINES)
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Village fete returns in June</title></head>
<body><div class="top"><a href="/">Home</a> | <a href="/news">News</a></div>
<div class="box"><b>Village fete returns in June</b><br><br>{text}</div>
<div class="bottom">Parish council of Little Hadham</div></body></html>"""


def test_text_in_divs_and_line_breaks_is_a_body(tmp_path):
    result = extracted(tmp_path, divs_and_breaks())
    assert not isinstance(result, Exception), result
    assert all(line in result["content_text"] for line in LINES)


def fallback_messages(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if "the cascade found" in r.getMessage()]


def nothing_of_its_own(monkeypatch) -> None:
    """As on a page whose own markup gives no container: the walk of the densest text holder yields nothing."""
    monkeypatch.setattr("crawler.extract.cascade.markup_body", lambda page: Extracted(blocks=[]))


def test_when_trafilatura_keeps_nothing_in_precision_mode_its_recall_mode_is_the_body(tmp_path, caplog, monkeypatch):
    import trafilatura

    real = trafilatura.bare_extraction
    monkeypatch.setattr(trafilatura, "bare_extraction", lambda *a, **kw: real(*a, **kw) if kw.get("favor_recall") else None)  # nor balanced
    nothing_of_its_own(monkeypatch)
    with caplog.at_level(logging.DEBUG, logger="crawler.extract"):
        result = extracted(tmp_path, divs_and_breaks())
    assert all(line in result["content_text"] for line in LINES)
    assert len(fallback_messages(caplog)) == 1 and "recall mode" in fallback_messages(caplog)[0]


def test_when_trafilatura_keeps_nothing_at_all_the_densest_text_block_is_the_body(tmp_path, caplog, monkeypatch):
    import trafilatura

    monkeypatch.setattr(trafilatura, "bare_extraction", lambda *a, **kw: None)  # as when it fails on a page
    nothing_of_its_own(monkeypatch)
    with caplog.at_level(logging.DEBUG, logger="crawler.extract"):
        result = extracted(tmp_path, divs_and_breaks())
    assert result["content_text"].split("\n\n") == ["Village fete returns in June", *LINES]
    assert len(fallback_messages(caplog)) == 1 and "densest text block" in fallback_messages(caplog)[0]


def test_when_trafilatura_keeps_nothing_a_page_without_paragraphs_is_its_own_body(tmp_path, caplog, monkeypatch):
    """The densest holder of its text is the page's container: its runs of text, split at two breaks in a row."""
    import trafilatura

    monkeypatch.setattr(trafilatura, "bare_extraction", lambda *a, **kw: None)
    with caplog.at_level(logging.DEBUG, logger="crawler.extract"):
        result = extracted(tmp_path, divs_and_breaks())
    assert result["content_text"].split("\n\n") == ["Village fete returns in June", " ".join(LINES)]
    assert fallback_messages(caplog) == []


def test_the_densest_text_block_is_the_one_holding_most_text_one_paragraph_a_line():
    text = "<br>".join(f"<span>{line[:40]}</span>{line[40:]}" for line in LINES)
    page = Page.from_text(f"""<html><body><nav>{"<a href='/'>Section</a> " * 30}</nav>
<div><div>Short note at the top.</div><div id="story">{text}</div></div><footer>{"Imprint, terms, privacy. " * 20}</footer>
</body></html>""", "https://example.org/fete")
    assert [block[2] for block in densest_text(page).blocks] == LINES


def test_control_characters_after_a_line_break_do_not_stop_the_page(tmp_path):
    body = "".join(f"<p>{line}<br>\x0b\x01{line}</p>" for line in LINES)
    result = extracted(tmp_path, f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Village fete returns in June</title>
<meta property="og:type" content="article"></head><body><article><h1>Village fete returns in June</h1>{body}</article></body></html>""")
    assert not isinstance(result, Exception), result
    assert LINES[0] in result["content_text"]


def test_when_trafilatura_keeps_little_in_precision_mode_its_balanced_mode_is_asked(tmp_path, caplog, monkeypatch):
    """A narrow container (a section of a page that runs on in sibling sections), a list or a table cut: under
    cascade.SHORT words in precision mode, its balanced mode is asked, and taken when it keeps more."""
    import trafilatura
    from lxml import etree
    from trafilatura.settings import Document

    real, modes = trafilatura.bare_extraction, []

    def bare_extraction(*args, **kwargs):
        modes.append("precision" if kwargs.get("favor_precision") else "recall" if kwargs.get("favor_recall") else "balanced")
        if not kwargs.get("favor_precision"):
            return real(*args, **kwargs)
        document = Document()  # one paragraph only
        document.body = etree.Element("body")
        etree.SubElement(document.body, "p").text = LINES[0]
        return document

    monkeypatch.setattr(trafilatura, "bare_extraction", bare_extraction)
    body = "".join(f"<p>{line}</p>" for line in LINES)
    with caplog.at_level(logging.DEBUG, logger="crawler.extract"):
        result = extracted(tmp_path, f"""<!doctype html><html lang="en"><head><title>Village fete returns in June</title></head>
<body><main><h1>Village fete returns in June</h1>{body}</main></body></html>""")
    assert modes == ["precision", "balanced"]
    assert all(line in result["content_text"] for line in LINES)
    assert any("in its balanced mode: taking those" in r.getMessage() for r in caplog.records)


def test_when_trafilatura_keeps_a_long_body_in_precision_mode_nothing_else_is_asked(tmp_path, monkeypatch):
    import trafilatura

    real, calls = trafilatura.bare_extraction, []
    monkeypatch.setattr(trafilatura, "bare_extraction", lambda *a, **kw: calls.append(kw.get("favor_precision")) or real(*a, **kw))
    body = "".join(f"<p>{line}</p>" for line in LINES * 3)  # over 200 words
    result = extracted(tmp_path, f"""<!doctype html><html lang="en"><head><title>Village fete returns in June</title></head>
<body><article><h1>Village fete returns in June</h1>{body}</article></body></html>""")
    assert LINES[-1] in result["content_text"]
    assert calls == [True]
