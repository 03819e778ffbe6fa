"""A page is parsed once: trafilatura reads the page's own tree; dates are read in the page's language, detected
when the page declares none."""

from __future__ import annotations

from datetime import UTC, datetime

from crawler.extract.cascade import extract_body
from crawler.extract.page import Page

GERMAN = [
    "Der Gemeinderat hat am Dienstag beschlossen, die alte Brücke über den Fluss abzureißen und neu zu bauen.",
    "Die Arbeiten sollen im März beginnen und ungefähr achtzehn Monate dauern, teilte die Stadtverwaltung mit.",
    "Anwohner begrüßten die Entscheidung, sorgen sich aber um Lärm, Staub und schwere Lastwagen in den engen Gassen.",
    "Während der Bauzeit wird flussaufwärts eine provisorische Brücke für Fußgänger und Radfahrer eingerichtet.",
]


def german_page(lang: str = "") -> Page:
    body = "".join(f"<p>{p}</p>" for p in GERMAN)
    attribute = f' lang="{lang}"' if lang else ""
    return Page.from_text(f"""<!doctype html><html{attribute}><head><meta charset="utf-8"><title>Neue Brücke</title></head>
<body><article><h1>Neue Brücke für die Altstadt</h1><p class="datum">8. Januar 2022</p>{body}</article></body></html>""",
                          "https://example.de/brücke.html")


def test_trafilatura_reads_the_tree_the_page_was_parsed_into(monkeypatch):
    import trafilatura

    import crawler.extract.external

    real, real_copy, seen, copied = trafilatura.bare_extraction, crawler.extract.external.copy, [], []
    monkeypatch.setattr(trafilatura, "bare_extraction", lambda document, *a, **kw: seen.append(document) or real(document, *a, **kw))
    monkeypatch.setattr(crawler.extract.external, "copy", lambda tree: copied.append(tree) or real_copy(tree))  # precision mode
    page = german_page("de")
    extracted = extract_body(page)
    assert seen and all(document is page.selector.root for document in seen)
    assert copied[0] is page.selector.root
    assert [text for _, _, text in extracted.blocks] == GERMAN
    assert "Neue Brücke" in page.selector.root.findtext(".//h1")  # trafilatura worked on a copy


def test_a_date_is_read_in_the_language_the_page_is_written_in_declared_or_not():
    for lang in ("de", ""):
        page = german_page(lang)
        assert page.date_languages() == ["de", "en"]
        assert page.published() == datetime(2022, 1, 8, tzinfo=UTC)


def test_trafilatura_is_asked_for_no_work_whose_result_is_thrown_away(monkeypatch):
    """`extract` hashes a content fingerprint of every result for deduplication; the cascade never reads it."""
    import trafilatura.core

    hashed = []
    monkeypatch.setattr(trafilatura.core, "content_fingerprint", lambda *a, **kw: hashed.append(a) or "0")
    extracted = extract_body(german_page("de"))
    assert [text for _, _, text in extracted.blocks] == GERMAN
    assert hashed == []


def test_markup_a_page_escapes_is_read_as_the_parsed_tree_holds_it():
    """An XPath over the whole tree is skipped when the page's source never names what it looks for; a templating
    engine writes `/` and `+` of an attribute as entities, so the skip asks for letters only."""
    page = Page.from_text("""<html><head><script type="application&#x2F;ld&#x2B;json">{"@type": "NewsArticle",
"headline": "Neue Brücke", "datePublished": "2022-01-08T10:00:00Z", "author": {"name": "Anna Berg"}}</script>
<link rel="canonical" href="https://example.de/b"></head><body><h1>Neue Brücke</h1>
<nav class="breadcrumb"><a href="/">Home</a><a href="/stadt">Stadt</a></nav><p>Text.</p></body></html>""", "https://example.de/b?x=1")
    assert (page.title(), page.published(), page.authors()) == ("Neue Brücke", datetime(2022, 1, 8, 10, tzinfo=UTC), ["Anna Berg"])
    assert (page.canonical(), page.breadcrumb()) == ("https://example.de/b", ["Stadt"])
    bare = Page(url=page.url, selector=page.selector)  # no source: nothing is skipped
    assert not page.mentions("articleBody") and bare.mentions("articleBody")


def test_a_compiled_xpath_selects_what_lxml_selects_from_the_expression_as_written():
    """`//x` runs as `/descendant::x`, which is faster; positions, attributes and string literals keep their meaning."""
    from lxml import html

    from crawler.extract.tree import xp

    root = html.fromstring("""<html><body><div><p>a <a href="/1">one</a></p><p>b</p></div><section><p>c</p>
<nav itemtype="https://schema.org/BreadcrumbList"><a href="/2">two</a></nav></section></body></html>""")
    for expression in ("//body//p", "//p[1]", "(//p)[2]", "//div//p[last()]", "//a//@href | //p/text()", "string(//section)",
                       "//*[@itemtype='https://schema.org/BreadcrumbList']//a", ".//text()[not(ancestor::nav)]"):
        expected = root.xpath(expression, smart_strings=False)
        assert xp(root, expression) == expected, expression


def test_a_class_word_is_counted_as_the_xpath_over_the_whole_tree_counts_it():
    """A standfirst's class word shared by other elements marks a teaser; the page counts every class word in one pass."""
    from crawler.extract.tree import xp

    page = Page.from_text("""<html><body><p class="lead">a</p><div class="x lead\tlead">b</div><p class="leader">c</p>
<span class=" teaser-lead lead\n">d</span><p class="x\u00a0lead">e</p><p class="">f</p></body></html>""", "https://example.org/")
    for word in ("lead", "leader", "x", "teaser-lead", "lea", "x\u00a0lead"):
        expected = xp(page.selector.root, f"count(//*[contains(concat(' ', normalize-space(@class), ' '), ' {word} ')])")
        assert page.classed(word) == expected, word


def test_the_standfirst_xpaths_on_the_descendant_axis_select_what_their_short_forms_select():
    from lxml import etree, html

    from crawler.extract.standfirst import _MARKED, _SHOWING

    pages = ("""<html><body><div class="top">Lead in</div><h1 id="t">Title</h1><p class="lead">Lead in, said the lead.</p>
<div><h1>Second</h1><span class="x">Lead in</span></div><p id="y">Lead in</p></body></html>""",
             """<html><body><div class="a"><p class="lead">Lead in</p><p>Lead in again</p></div></body></html>""")
    for page in pages:
        root = html.fromstring(page)
        marked = "(//h1)[1]/following::*[@class or @id] | //body[not(.//h1)]//*[@class or @id]"
        assert root.xpath(_MARKED) == root.xpath(marked)
        shown, expected = _SHOWING(root, probe="Lead in"), etree.XPath("//body//text()[contains(., $probe)]")(root, probe="Lead in")
        assert [(str(t), t.getparent()) for t in shown] == [(str(t), t.getparent()) for t in expected] and shown
