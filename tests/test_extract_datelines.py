"""A block that is only a dateline is metadata and left out of the body; a block that is only a number, a price or
a score is article text (a recipe's cost, a match's result), even though dateparser would read a date into it."""

from __future__ import annotations

import pytest

from crawler.extract.blocks import body_blocks
from crawler.extract.page import Page

TEXT = ("Der Verein hat am Wochenende sein Sommerfest gefeiert, mit Musik, einem Kuchenbuffet und einem Turnier "
        "auf dem neuen Platz hinter der Halle, den die Gemeinde im Frühjahr fertiggestellt hat.")


def kept(block: str, lang: str = "de") -> list[str]:
    html = f'<html lang="{lang}"><head><title>Sommerfest</title></head><body><article><p>{TEXT}</p>{block}<p>{TEXT}</p></article></body></html>'
    page = Page.from_text(html, "https://example.org/verein/sommerfest.html")
    return [text for _, _, text in body_blocks(page, page.selector.css("article")[0]).blocks]


@pytest.mark.parametrize("line", ["9,90 €", "+1", "-3", "2015", "5 : 1", "11.499 €"])
def test_a_number_a_price_or_a_score_alone_is_text(line):
    assert line in kept(f"<p>{line}</p>")


@pytest.mark.parametrize("line", ["3. März 2021", "Sonntag, 06. Februar 2022", "31.10.2023", "Di, 10:19 Uhr"])
def test_a_dateline_alone_is_left_out(line):
    assert kept(f"<p>{line}</p>") == [TEXT, TEXT]


@pytest.mark.parametrize("line, lang", [("April 3, 2019", "en"), ("2022年1月8日", "ja"), ("8 de enero de 2022", "es")])
def test_datelines_in_other_languages_are_left_out(line, lang):
    assert kept(f"<p>{line}</p>", lang) == [TEXT, TEXT]
