"""The block walk of the page's own container: text a bare `<div>` (or the container itself) holds outside any
paragraph is a paragraph too, in its place among the others, while a box with a class of its own (an author box, a
consent placeholder) lends none; a heading with nothing under it ends no body."""

from __future__ import annotations

from crawler.extract.blocks import Extracted, body_blocks
from crawler.extract.markup import markup_body
from crawler.extract.merge import combine
from crawler.extract.page import Page

INTRO = ("This week we talk about the new series from its first episode to its fifth, which we watched together on "
         "a rainy Sunday, and about what it owes to the old one.")
PARAGRAPH = ("The council voted on Tuesday to rebuild the old stone bridge over the river, after engineers found deep "
             "cracks in two of its piers during an inspection last spring.")
BIO = "I'm Amy and I'm so glad you've stopped by! My goal is to walk you through every step of the way."


def walked(container: str, loose: bool = True) -> list[tuple[str, str]]:
    html = f'<html lang="en"><head><title>Episode 12</title></head><body><div class="entry">{container}</div></body></html>'
    page = Page.from_text(html, "https://example.org/episode-12.html")
    return [(tag, text) for tag, _, text in body_blocks(page, page.selector.css("div.entry")[0], loose=loose).blocks]


def test_text_the_container_holds_outside_its_paragraphs_is_a_paragraph_in_its_place():
    blocks = walked(f"{INTRO.replace('series', '<b>series</b>')}<h3>Shownotes</h3><p>{PARAGRAPH}</p>And that was all.")
    assert blocks == [("p", INTRO), ("h3", "Shownotes"), ("p", PARAGRAPH), ("p", "And that was all.")]


def test_bare_divs_are_paragraphs_a_classed_box_is_not():
    blocks = walked(f'<div>{INTRO}</div><div>{PARAGRAPH}<br>On two lines.</div><div class="abh_description">{BIO}</div>')
    assert blocks == [("p", INTRO), ("p", f"{PARAGRAPH} On two lines.")]


def test_without_loose_only_blocks_count():
    assert walked(f"<div>{INTRO}</div><p>{PARAGRAPH}</p>", loose=False) == [("p", PARAGRAPH)]


def test_a_heading_with_nothing_under_it_ends_no_body():
    links = '<p><a href="/a">Another story</a> | <a href="/b">A third story</a></p>'
    assert walked(f"<p>{PARAGRAPH}</p><h2>More stories</h2>{links}", loose=False) == [("p", PARAGRAPH)]


def test_an_introduction_in_the_container_s_own_text_joins_what_trafilatura_kept():
    paragraphs = [PARAGRAPH.replace("Tuesday", day) for day in ("Monday", "Tuesday", "Friday")]
    html = f"""<html lang="en"><head><title>Episode 12</title></head><body><nav><a href="/">Home</a></nav>
<article><h1>Episode 12</h1><div class="entry-content">{INTRO}<h3>Show notes</h3>{"".join(f"<p>{p}</p>" for p in paragraphs)}</div>
</article></body></html>"""
    generic = Extracted(blocks=[("p", p, p) for p in paragraphs])  # trafilatura's precision mode cuts the loose text
    merged = combine(markup_body(Page.from_text(html, "https://example.org/episode-12.html")), generic)
    assert [text for _, _, text in merged.blocks] == [INTRO, *paragraphs]


def test_two_breaks_in_a_row_end_a_paragraph_one_does_not():
    blocks = walked(f"{INTRO}<br><br>{PARAGRAPH}<br>On a line of its own.<br>\n<br>The end.")
    assert blocks == [("p", INTRO), ("p", f"{PARAGRAPH} On a line of its own."), ("p", "The end.")]


def test_a_page_without_paragraphs_lends_the_text_of_its_divs_and_breaks():
    paragraphs = [PARAGRAPH.replace("Tuesday", day) for day in ("Monday", "Tuesday", "Friday")]
    html = f"""<html lang="en"><head><title>Bridge</title></head><body><div class="menu"><a href="/">Home</a></div>
<div class="content_wrap"><div id="news_content" class="text">{paragraphs[0]}<br><br>{INTRO}<br><br>
<h2>Months of works</h2>{paragraphs[1]}<br><br>{paragraphs[2]}</div><div class="date">Monday</div></div></body></html>"""
    own = markup_body(Page.from_text(html, "https://example.org/bridge.html"))
    assert [text for _, _, text in own.blocks] == [paragraphs[0], INTRO, "Months of works", paragraphs[1], paragraphs[2]]  # a dateline is none
    generic = Extracted(blocks=[("p", p, p) for p in paragraphs])
    assert [text for _, _, text in combine(own, generic).blocks] == [paragraphs[0], INTRO, "Months of works", *paragraphs[1:]]
