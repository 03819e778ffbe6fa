"""Around the body's container: the standfirst (the lede between headline and body) is part of the article even when
the page keeps it outside the container, a teaser of another story, a kicker or a list of teasers never is; a box the
container marks as furniture (a promotion, a newsletter sign-up) is left out even when trafilatura keeps it, but a
class of the whole page or a layout modifier ("main--no-sidebar", "section--has-ads") marks no box; a subheading of
the container that trafilatura cuts between two paragraphs both keep is kept."""

from __future__ import annotations

from lxml import etree

from crawler.extract.blocks import Extracted, is_junk
from crawler.extract.merge import combine
from crawler.extract_cli import extract_targets

BODY = [
    ("The council voted on Tuesday to rebuild the old stone bridge over the river, after engineers found deep cracks "
     "in two of its piers during an inspection last spring."),
    ("Work is due to start in March and to last about eighteen months; a temporary footbridge will open a few "
     "hundred metres upstream while the bridge is closed to traffic and to pedestrians alike."),
    ("Residents welcomed the decision but worried about noise, dust and heavy lorries in the narrow streets near "
     "the river, and shopkeepers asked the council for help during the months of works."),
]
LEDE = "The old bridge will be rebuilt from March, and a footbridge will carry people across the river meanwhile."
OTHER = "A new bus line will link the station with the hospital from the first of June, the transport company said."


def extracted(tmp_path, header: str, description: str = "", after: str = "", body: str = "") -> dict:
    meta = f'<meta name="description" content="{description}">' if description else ""
    body = body or "".join(f"<p>{p}</p>" for p in BODY)
    html = f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Old bridge to be rebuilt</title>{meta}
<meta property="og:type" content="article"></head>
<body><nav><a href="/">Home</a> <a href="/city/">City</a></nav>
<main><header><h1>Old bridge to be rebuilt</h1>{header}</header><div class="article-body">{body}</div>{after}</main>
<footer><p>© 2024 The Riverside Post</p></footer></body></html>"""
    path = tmp_path / "page.html"
    path.write_text(html, encoding="utf-8")
    (result,) = extract_targets([str(path)])
    assert not isinstance(result, Exception), result
    return result


def test_a_lede_marked_as_intro_outside_the_body_container_heads_the_text(tmp_path):
    result = extracted(tmp_path, f'<div class="article__intro">{LEDE}</div>')
    assert result["content_text"].split("\n\n") == [LEDE, *BODY]


def test_the_description_shown_in_a_heading_under_the_headline_heads_the_text(tmp_path):
    result = extracted(tmp_path, f"<h2>{LEDE}</h2>", description=LEDE)
    assert result["content_text"].split("\n\n") == [LEDE, *BODY]


def test_a_standfirst_the_body_already_holds_is_not_repeated(tmp_path):
    result = extracted(tmp_path, f'<p class="lead">{BODY[0]}</p>', description=BODY[0])
    assert result["content_text"].split("\n\n") == BODY


def test_a_kicker_or_a_list_of_teasers_is_no_standfirst(tmp_path):
    teasers = "".join(f'<li><a href="/city/{i}">Story {i}</a><p class="row-excerpt">{OTHER}</p></li>' for i in range(3))
    result = extracted(tmp_path, '<div class="kicker-intro">City</div>', after=f"<ul>{teasers}</ul>")
    assert result["content_text"].split("\n\n") == BODY


def test_a_lede_made_of_links_is_no_standfirst(tmp_path):
    links = " ".join(f'<a href="/city/{i}">{OTHER}</a>' for i in range(2))
    result = extracted(tmp_path, f'<div class="teaser">{links}</div>')
    assert result["content_text"].split("\n\n") == BODY


BOX = ('<section class="promo-box"><h3>The Riverside Briefing</h3>'
       "<p>Every morning, the stories of the day from the city and the valley, straight to your inbox.</p></section>")


def test_a_box_the_body_container_marks_as_furniture_is_left_out_though_trafilatura_keeps_it(tmp_path):
    body = f"<p>{BODY[0]}</p><p>{BODY[1]}</p>{BOX}<p>{BODY[2]}</p>"
    result = extracted(tmp_path, "", body=body)
    assert "Riverside Briefing" not in result["content_text"] and "straight to your inbox" not in result["content_text"]
    assert BODY[2] in result["content_text"]


def test_the_rest_of_a_body_the_page_wraps_in_a_box_of_a_furniture_class_is_kept(tmp_path):
    more = [p.replace("the", "that") for p in BODY]
    wrapped = "".join(f"<p>{p}</p>" for p in more)  # as in <div class="paywall"> after the first paragraphs
    result = extracted(tmp_path, "", body="".join(f"<p>{p}</p>" for p in BODY) + f"<div class='paywall'>{wrapped}</div>")
    assert result["content_text"].split("\n\n") == [*BODY, *more]


def test_a_subheading_trafilatura_cuts_between_two_paragraphs_it_keeps_is_kept():
    own = Extracted(blocks=[("p", BODY[0], BODY[0]), ("h2", "Months of works", "Months of works"), ("p", BODY[1], BODY[1]),
                            ("h3", "More from the city", "More from the city"), ("p", "Bus line", "Bus line"), ("p", BODY[2], BODY[2])])
    generic = Extracted(blocks=[("p", text, text) for text in BODY])
    assert [block[2] for block in combine(own, generic).blocks] == [BODY[0], "Months of works", BODY[1], BODY[2]]


def test_a_class_of_the_whole_page_or_a_layout_modifier_marks_no_box(tmp_path):
    html = f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Old bridge to be rebuilt</title>
<meta property="og:type" content="article"></head><body class="single-post ads">
<div class="site__main site__main--no-sidebar"><section class="o-section o-section--has-ads"><article>
<h1>Old bridge to be rebuilt</h1><p class="article-excerpt">{LEDE}</p>
<div class="article-body">{"".join(f"<p>{p}</p>" for p in BODY)}</div></article></section></div></body></html>"""
    path = tmp_path / "page.html"
    path.write_text(html, encoding="utf-8")
    (result,) = extract_targets([str(path)])
    assert result["content_text"].split("\n\n") == [LEDE, *BODY]


def test_a_box_of_a_furniture_class_is_still_one():
    boxes = ('<div class="sidebar"></div>', '<div class="c-share-bar"></div>', '<div id="toc_container"></div>',
             '<div class="ez-toc-v2_0 counter-hierarchy"></div>', '<div class="main--has-ads"></div>', '<body class="ads"></body>')
    assert [is_junk(etree.fromstring(box)) for box in boxes] == [True, True, True, True, False, False]
