"""A short block that discloses affiliate links or paid placements is no article text; an article that reports on
commissions or affiliate marketing in its own sentences is."""

from __future__ import annotations

import pytest

from crawler.extract.text import DISCLOSURE_WORDS, is_boilerplate


@pytest.mark.parametrize("line", [
    "This post contains references to products from one or more of our advertisers. We may receive compensation "
    "when you click on links to those products.",
    "We recommend the best products through an independent review process. We may earn a commission if you buy.",
    "Anzeige, enthält Affiliate Links",
    "Die folgenden Angebote sind mit Affiliate-Links versehen. Bei einem Kauf erhalten wir eine kleine Provision.",
    "As an Amazon Associate I earn from qualifying purchases.",
])
def test_a_short_disclosure_is_boilerplate(line):
    assert is_boilerplate(line)


def test_reporting_on_commissions_is_text():
    line = ("The regulator said the bank would receive a commission of two per cent on every loan it arranged, and "
            "that it had told its customers so in a letter in March.")
    assert not is_boilerplate(line)


def test_a_long_paragraph_about_affiliate_links_is_text():
    sentence = "Bloggers who use affiliate links must say so, the court ruled, and the ruling applies to every platform."
    line = " ".join([sentence] * 6)
    assert len(line.split()) > DISCLOSURE_WORDS and not is_boilerplate(line)
