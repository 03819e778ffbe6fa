"""Paragraphs that point elsewhere or ask the reader for something are no article text: a "Related:" link,
a row of headline links, and the follow-us / newsletter / click-here lines at an article's end. Running text
with links in it, and the same words inside the article, stay."""

from __future__ import annotations

import pytest

from crawler.extract_cli import extract_targets

PROSE = [
    ("The city council voted on Tuesday to rebuild the old river bridge, which engineers closed last spring after "
    "inspectors found deep cracks in two of its stone piers and a sagging deck above the main channel."),
    ("Work is due to start in March and to last about eighteen months, the council said, with a temporary crossing "
    "for pedestrians and cyclists to be opened a few hundred metres upstream before the old deck comes down."),
    ("Residents who live near the bridge said they welcomed the decision but worried about noise, dust and heavy "
    "lorries on the narrow streets of the old town during the long months of demolition and construction."),
    ('The plan follows a <a href="/reports/bridge-survey.html">survey published in June</a> and a '
    '<a href="/council/minutes.html">long debate in the council</a>, where members argued for weeks over its cost.'),
    ("The council will also send a newsletter to every household near the works, and residents can sign up for "
    "updates by text message, a spokeswoman said, adding that the first issue would go out in February."),
    ("Shops along the river front said they hoped the council would help them through the months when fewer "
    "people walk past, and several owners asked for lower rents and free parking while the work goes on."),
]
RELATED = '<strong>Related: </strong><a href="/news/ferry-service-returns.html">Ferry service returns to the harbour</a>'
ROW = ('<a href="/news/a.html"><span>LIVE</span>Mayor defends the budget after a stormy night in the chamber</a> [VIDEO] | '
       '<a href="/news/b.html">Flood defences to be raised along the northern bank</a> [INSIGHT]')
TRAILING = [
    "Follow us on Twitter @rivertown and on Facebook.",
    "Sign up for our free daily newsletter to get the news of the day in your inbox.",
    "We’d like to hear what you think about this or any of our articles.",
    "Follow the Rivertown News opinion desk on Facebook and Instagram.",
    "Like and follow us on Facebook.",
    '[button link="https://rivertown.example/submit/" type="big"] Send us YOUR story[/button]',
    "Tell us what YOU think...",
    "Subscribe now to our print edition for the full story.",
    "If you’re already a subscriber, you can log in to read on.",
    "For the latest news download the Rivertown app for iOS and Android.",
    "For breaking news and the stories of the day as they happen, download our Rivertown News app for iOS and Android.",
    "¡Mira lo que tiene nuestro canal de YouTube!",
    "Mehr Geschichten aus der Stadt? Einfach hier klicken und registrieren!",
    "Comments",
]


# News that only mentions what promotions say: kept wherever it stands, the end included.
NEWS = [
    '<a href="/people/mayor.html">Mayor Ana Ruiz</a> met <a href="/people/minister.html">Transport Minister Tom Hale</a> on the bridge.',
    "Police said they would follow every lead, including messages the suspect posted on Facebook before the fire.",
    "Residents can sign up for the council's newsletter about the works at the town hall from Monday.",
    "Users who click here, on the fake council site, are asked for their bank details, the police warned.",
]


def article(*, related: bool, row: bool, trailing: bool, news: bool = False) -> str:
    paragraphs = PROSE[:2] + ([RELATED] if related else []) + PROSE[2:4] + ([ROW] if row else []) + PROSE[4:]
    paragraphs += (NEWS if news else []) + (TRAILING if trailing else [])
    body = "\n".join(f"<p>{p}</p>" for p in paragraphs)
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Council votes to rebuild the river bridge | Rivertown News</title>
<meta property="og:type" content="article"><meta property="og:title" content="Council votes to rebuild the river bridge">
<meta property="article:published_time" content="2024-03-05T09:30:00+00:00"></head>
<body><header><nav><a href="/">Home</a> <a href="/news/">News</a></nav></header>
<main><article><h1>Council votes to rebuild the river bridge</h1>{body}</article></main>
<footer><p>© Rivertown News</p></footer></body></html>"""


def body_of(tmp_path, html: str) -> str:
    path = tmp_path / "page.html"
    path.write_text(html, encoding="utf-8")
    (result,) = extract_targets([str(path)])
    return result["content_text"]


def test_links_and_requests_to_the_reader_are_left_out(tmp_path):
    text = body_of(tmp_path, article(related=True, row=True, trailing=True))
    for left_out in ("Ferry service returns", "Mayor defends the budget", "Flood defences", "Follow us on Twitter",
                     "free daily newsletter", "hear what you think", "opinion desk", "Like and follow", "Send us YOUR story", "[button",
                     "Tell us what", "print edition", "already a subscriber", "Rivertown app", "Rivertown News app", "canal de YouTube",
                     "hier klicken", "Comments"):
        assert left_out not in text
    assert "survey published in June" in text and "long debate in the council" in text  # links inside running text
    assert "send a newsletter to every household" in text  # a newsletter inside the article is news


def test_the_article_text_is_the_same_with_and_without_them(tmp_path):
    plain = body_of(tmp_path, article(related=False, row=False, trailing=False))
    assert plain == body_of(tmp_path, article(related=True, row=True, trailing=True))
    assert all(words in plain for words in ("river bridge", "eighteen months", "free parking"))


@pytest.mark.parametrize("last", [
    "Like many residents who posted on Facebook, she said the closure had cost her shop half its customers.",
    "Follow-up tests on X-ray images of the piers showed no new cracks, the engineers said on Friday.",
    "Find out more on the council's website, the spokeswoman said, where the plans can be read in full.",
    "The video, posted on her YouTube channel on Monday, has been watched a million times since.",
    "Subscribers to the paper's print edition will find the full plans in Saturday's issue.",
])
def test_news_that_mentions_following_newsletters_or_clicking_stays_even_at_the_end(tmp_path, last):
    text = body_of(tmp_path, article(related=True, row=True, trailing=False, news=True).replace("</article>", f"<p>{last}</p></article>"))
    for kept in ("Mayor Ana Ruiz met Transport Minister Tom Hale", "follow every lead", "sign up for the council's newsletter",
                 "Users who click here", last[:40]):
        assert kept in text
    assert "Ferry service returns" not in text and "Mayor defends the budget" not in text


@pytest.mark.parametrize("pointer", [
    "Lea también: Ferry service returns to the harbour",
    "Czytaj też: Ferry service returns to the harbour",
    "Auch lesen: Ferry service returns to the harbour",
    "À lire aussi | Ferry service returns to the harbour",
    "NOTAS RELACIONADAS",
    "Weitere Artikel zum Thema",
    "You might also like",
    "MIRA: Ferry service returns to the harbour",
    "Lea: Ferry service returns to the harbour",
    "Watch: Ferry service returns to the harbour",
])
def test_read_also_lines_in_many_languages_are_left_out_even_without_a_link(tmp_path, pointer):
    html = article(related=False, row=False, trailing=False).replace(f"<p>{PROSE[2]}</p>", f"<p>{pointer}</p><p>{PROSE[2]}</p>")
    text = body_of(tmp_path, html)
    assert "Ferry service returns" not in text and pointer not in text
    assert PROSE[1][:60] in text and PROSE[2][:60] in text


@pytest.mark.parametrize("sentence", [
    ("See also the way the council handled the flood defences last year, residents said, when the works ran "
     "a full six months late and the costs doubled before anyone was told."),
    "Watch the river, the old ferryman said: it tells you before the council does when the bridge will close again.",
    "LEE: We saw the smoke from the harbour first, and then the whole ridge was burning.",  # a transcript's speakers
    "Mira: Did the ferry ever come back after the storm?",
])
def test_a_sentence_that_starts_like_a_pointer_is_text(tmp_path, sentence):
    html = article(related=False, row=False, trailing=False).replace(f"<p>{PROSE[2]}</p>", f"<p>{sentence}</p><p>{PROSE[2]}</p>")
    assert sentence in body_of(tmp_path, html)
