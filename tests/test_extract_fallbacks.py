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

    import crawler.extract.external

    real = trafilatura.bare_extraction
    monkeypatch.setattr(crawler.extract.external, "precision_body", lambda *a, **kw: None)
    monkeypatch.setattr(trafilatura, "bare_extraction", lambda *a, **kw: real(*a, **kw) if kw.get("favor_recall") else None)  # nor balanced
    nothing_of_its_own(monkeypatch)
    with caplog.at_level(logging.DEBUG, logger="crawler.extract"):
        result = extracted(tmp_path, divs_and_breaks())
    assert all(line in result["content_text"] for line in LINES)
    assert len(fallback_messages(caplog)) == 1 and "recall mode" in fallback_messages(caplog)[0]


def test_when_trafilatura_keeps_nothing_at_all_the_densest_text_block_is_the_body(tmp_path, caplog, monkeypatch):
    import trafilatura

    import crawler.extract.external

    monkeypatch.setattr(crawler.extract.external, "precision_body", lambda *a, **kw: None)  # as when it fails on a page
    monkeypatch.setattr(trafilatura, "bare_extraction", lambda *a, **kw: None)
    nothing_of_its_own(monkeypatch)
    with caplog.at_level(logging.DEBUG, logger="crawler.extract"):
        result = extracted(tmp_path, divs_and_breaks())
    assert result["content_text"].split("\n\n") == ["Village fete returns in June", *LINES]
    assert len(fallback_messages(caplog)) == 1 and "densest text block" in fallback_messages(caplog)[0]


def test_when_trafilatura_keeps_nothing_a_page_without_paragraphs_is_its_own_body(tmp_path, caplog, monkeypatch):
    """The densest holder of its text is the page's container: its runs of text, split at two breaks in a row."""
    import trafilatura

    import crawler.extract.external

    monkeypatch.setattr(crawler.extract.external, "precision_body", lambda *a, **kw: None)
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

    import crawler.extract.external

    real, modes = trafilatura.bare_extraction, []

    def bare_extraction(*args, **kwargs):
        modes.append("recall" if kwargs.get("favor_recall") else "balanced")
        return real(*args, **kwargs)

    def precision_body(*args, **kwargs):
        modes.append("precision")
        document = Document()  # one paragraph only
        document.body = etree.Element("body")
        etree.SubElement(document.body, "p").text = LINES[0]
        return document

    monkeypatch.setattr(trafilatura, "bare_extraction", bare_extraction)
    monkeypatch.setattr(crawler.extract.external, "precision_body", precision_body)
    body = "".join(f"<p>{line}</p>" for line in LINES)
    with caplog.at_level(logging.DEBUG, logger="crawler.extract"):
        result = extracted(tmp_path, f"""<!doctype html><html lang="en"><head><title>Village fete returns in June</title></head>
<body><main><h1>Village fete returns in June</h1>{body}</main></body></html>""")
    assert modes == ["precision", "balanced"]
    assert all(line in result["content_text"] for line in LINES)
    assert any("in its balanced mode: taking those" in r.getMessage() for r in caplog.records)


def test_when_trafilatura_keeps_a_long_body_in_precision_mode_nothing_else_is_asked(tmp_path, monkeypatch):
    """Neither its balanced mode nor its comparison with readability and justext, which could not change the body."""
    import trafilatura
    import trafilatura.core

    import crawler.extract.external

    real, real_precision, real_compare, calls = trafilatura.bare_extraction, crawler.extract.external.precision_body, trafilatura.core.compare_extraction, []
    monkeypatch.setattr(trafilatura, "bare_extraction", lambda *a, **kw: calls.append("balanced or recall") or real(*a, **kw))
    monkeypatch.setattr(crawler.extract.external, "precision_body", lambda *a, **kw: calls.append("precision") or real_precision(*a, **kw))
    monkeypatch.setattr(trafilatura.core, "compare_extraction", lambda *a, **kw: calls.append("comparison") or real_compare(*a, **kw))
    body = "".join(f"<p>{line}</p>" for line in LINES * 3)  # over 200 words
    result = extracted(tmp_path, f"""<!doctype html><html lang="en"><head><title>Village fete returns in June</title></head>
<body><article><h1>Village fete returns in June</h1>{body}</article></body></html>""")
    assert LINES[-1] in result["content_text"]
    assert calls == ["precision"]


def test_trafilatura_in_precision_mode_step_by_step_is_its_bare_extraction():
    """precision_body takes trafilatura's own steps: with the comparison, it gives what bare_extraction gives; without
    it, on a long body of paragraphs, the same again (the comparison kept trafilatura's own result)."""
    from lxml import etree
    from trafilatura import bare_extraction
    from trafilatura.htmlprocessing import build_html_output

    from crawler.extract.external import precision_body

    teasers = "".join(f'<li><a href="/{n}">Other story {n}</a></li>' for n in range(8))
    for lines in (LINES[:2], LINES * 2):
        body = "".join(f"<p>{line}</p>" for line in lines)
        page = Page.from_text(f"""<html lang="en"><head><title>Fete</title></head><body><nav><ul>{teasers}</ul></nav>
<div class="story"><h1>Village fete returns in June</h1>{body}<figure><img src="/a.jpg"><figcaption>The green</figcaption></figure></div>
<aside class="related"><ul>{teasers}</ul></aside><div id="comments"><p>First!</p></div><div class="infinite-scroll">
<h2>Next story</h2><p>{LINES[-1]}</p></div><footer>Parish council</footer></body></html>""", "https://example.org/fete")
        before = etree.tostring(page.selector.root)
        expected = build_html_output(bare_extraction(page.selector.root, url=page.url, output_format="html", include_comments=False,
                                                     include_tables=True, favor_precision=True, include_images=False))
        assert build_html_output(precision_body(page, compare=True)) == expected
        assert build_html_output(precision_body(page)) == expected
        assert LINES[1] in expected and "First!" not in expected
        assert etree.tostring(page.selector.root) == before  # trafilatura changed copies only


def test_trafilatura_s_raw_tree_prune_is_skipped_only_on_pages_that_never_name_what_it_looks_for():
    """precision_body skips the prune when the page's source holds none of RAW_PRUNE_MARKS: each class or id test of
    its XPaths names one of them (an upgrade of trafilatura that looks for more fails here)."""
    import re

    from trafilatura.xpaths import RAW_TREE_PRUNE_XPATH

    from crawler.extract.external import RAW_PRUNE_MARKS

    for expression in RAW_TREE_PRUNE_XPATH:
        tests = re.findall(r"(?:re:test|contains)\((@[^,]+), '([^']*)'\)", expression.path)
        alternatives = [a for _, pattern in tests for a in re.sub(r"\(\?:[^)]*\)", "", pattern).split("|")]
        assert tests and all(any(mark in a for mark in RAW_PRUNE_MARKS) for a in alternatives), expression.path
        assert all(attribute.strip() in ("@id", "@class", "@id|@class") for attribute, _ in tests), expression.path


def test_trafilatura_s_comment_prunes_look_for_the_ids_and_classes_precision_body_checks_first():
    """precision_body skips them on a page none of whose ids and classes match COMMENT_ID or trafilatura's class
    pattern: their XPaths test nothing else (an upgrade of trafilatura that looks for more fails here)."""
    import re

    from trafilatura.xpaths import _COMMENTS_CLASS, _COMMENTS_ID, REMOVE_COMMENTS_AND_LISTS_XPATH, REMOVE_COMMENTS_XPATH

    from crawler.extract.external import COMMENT_ID

    for expression in (*REMOVE_COMMENTS_AND_LISTS_XPATH, *REMOVE_COMMENTS_XPATH):
        tests = re.findall(r"re:test\((@\w+), '([^']*)'\)", expression.path)
        assert ("@id", COMMENT_ID.format(_COMMENTS_ID)) in tests and ("@class", _COMMENTS_CLASS) in tests
        assert set(tests) <= {("@id", COMMENT_ID.format(_COMMENTS_ID)), ("@id", f"^(?:{_COMMENTS_ID})"), ("@class", _COMMENTS_CLASS)}
        assert re.sub(r"re:test\([^)]*\)", "", expression.path).count("@") == 0, expression.path  # no other attribute
