"""A short block that carries an image credit is a caption, not article text: it opens with an image label
("Foto: …", "(Credit: …)", "Abbildung 4: …"), ends with a credit in brackets, or ends on a "© Name"; a paragraph
that mentions a photo or a copyright in a sentence of its own is text."""

from __future__ import annotations

import pytest

from crawler.extract.text import CAPTION_WORDS, is_boilerplate


@pytest.mark.parametrize("line", [
    "Foto: Anna Muster",
    "Titelbild: Agentur/Fotograf",
    "(Credit: Jane Doe / Agency)",
    "Crédits photos : Agence",
    "Abbildung 4: klassische Schichtung im Schnitt.",
    "The mayor at the opening of the bridge, on Monday (Photo: Jane Doe/Agency).",
    "Die Skifahrerin im Ziel. © AGENTUR / FOTOGRAF",
])
def test_a_short_block_with_an_image_credit_is_a_caption(line):
    assert is_boilerplate(line)


@pytest.mark.parametrize("line", [
    "The photo: a family of four on the beach, taken in 1952, which the museum bought last year at an auction.",
    "She said the © sign on the poster was added later. Nobody knows who drew it.",
    "Image is everything, the designer said of the campaign, which ran for two years.",
])
def test_a_sentence_that_mentions_a_photo_or_a_copyright_is_text(line):
    assert not is_boilerplate(line)


def test_a_long_paragraph_that_opens_with_a_label_is_text():
    line = "Foto: " + " ".join(["The exhibition shows the work of a photographer who walked the coast for a year."] * 3)
    assert len(line.split()) > CAPTION_WORDS and not is_boilerplate(line)
