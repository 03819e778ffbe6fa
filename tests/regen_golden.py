"""Regenerate the golden files of the parser tests (tests/test_golden.py) when a parser changes on purpose.

    .venv/bin/python -m tests.regen_golden            # each stored page's expected JSON, from today's parsers
    .venv/bin/python -m tests.regen_golden --pages    # the pages too, rendered anew from the sample site (crawler/demo/)

tests/data/golden/<model>/<page>.html is a stored page, <page>.json its URL and what the model's parser makes of it
(sorted keys). Read the diff before committing: every changed line is a field the parser now reads otherwise.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from datetime import UTC, datetime
from pathlib import Path

from crawler.config import SourceConfig
from crawler.extract.page import Page
from crawler.items import Article
from crawler.parsers import PARSERS, Parser

__all__ = ["GOLDEN", "MODELS", "expected", "parse", "parsed_fields"]

GOLDEN = Path(__file__).resolve().parent / "data" / "golden"
MODELS = ("limitedtimes", "generic")  # the site models whose parsers read the sample site's pages
BASE = "http://lt.test"  # where the stored pages are said to come from
# Fields the item path sets after the parser (Canonicalize, Deduplicate, Store): not the parser's to give.
LATER = ("urls", "story_id", "correction", "fingerprint", "signature", "validators")


def parser(model: str) -> Parser:
    return PARSERS[model](SourceConfig(name="golden", spider=model, start_urls=(BASE + "/",)))


def parse(model: str, html_path: Path, url: str) -> dict | None:
    """What the model's parser makes of a stored page, as JSON-ready fields (None when it finds no article)."""
    body = html_path.read_bytes()
    page = Page.from_bytes(body, url, "text/html; charset=utf-8")
    article = parser(model).article(page, page.html)
    return None if article is None else parsed_fields(article)


def parsed_fields(article: Article) -> dict:
    fields = dataclasses.asdict(article)
    for name in LATER:
        del fields[name]
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in fields.items()}


def expected(html_path: Path) -> dict:
    """A stored page's golden file: {"url": …, "parsed": fields or null}."""
    return json.loads(html_path.with_suffix(".json").read_text(encoding="utf-8"))


def sample_pages(model: str) -> dict[str, tuple[str, bytes]]:
    """name → (URL, page) of the sample-site pages a model's golden files hold: one of each kind the site has
    for the site's own model, other stories for the generic cascade."""
    from crawler.demo.site import SEED_SHORTID, generate

    site = generate()
    stories = site.stories()
    cross_listed = [s for s in stories if s.also_in]
    tech = next(s for s in stories if s.section == "tech" and not s.also_in)
    if model == "limitedtimes":
        fixed = site.corrected(tech.shortid, {tech.title.split()[0]: "Corrected"}, datetime(2022, 1, 20, 9, 30, tzinfo=UTC))
        pages = {
            "seed": (site, site.by_shortid(SEED_SHORTID).path),
            "republished": (site, next(s for s in site.articles if s.republishes).path),
            "cross-listed-alias": (site, cross_listed[0].alias_paths()[0]),  # reached under another section's path
            "corrected": (fixed, tech.path),
        }
    else:
        kazakh = next(s for s in stories if s.section == "world" and "Kazakhstan" in s.text)
        pages = {
            "world-kazakhstan": (site, kazakh.path),
            "sports": (site, next(s for s in stories if s.section == "sports" and not s.also_in).path),
            "cross-listed": (site, cross_listed[1].path),
            "business": (site, next(s for s in stories if s.section == "business" and not s.also_in).path),
        }
    rendered = {}
    for name, (where, path) in pages.items():
        status, _headers, body = where.render(path, BASE)
        assert status == 200, (name, path, status)
        rendered[name] = (BASE + path, body)
    return rendered


def main() -> None:
    cli = argparse.ArgumentParser(description="Regenerate tests/data/golden/ from today's parsers.")
    cli.add_argument("--pages", action="store_true", help="render the stored pages anew from the sample site first")
    args = cli.parse_args()
    for model in MODELS:
        folder = GOLDEN / model
        folder.mkdir(parents=True, exist_ok=True)
        if args.pages:
            for stale in [*folder.glob("*.html"), *folder.glob("*.json")]:
                stale.unlink()
            for name, (url, body) in sample_pages(model).items():
                (folder / f"{name}.html").write_bytes(body)
                (folder / f"{name}.json").write_text(json.dumps({"url": url}), encoding="utf-8")
        for html_path in sorted(folder.glob("*.html")):
            url = expected(html_path)["url"]
            golden = {"url": url, "parsed": parse(model, html_path, url)}
            html_path.with_suffix(".json").write_text(json.dumps(golden, ensure_ascii=False, indent=2, sort_keys=True) + "\n", encoding="utf-8")
            print(html_path.with_suffix(".json").relative_to(GOLDEN.parent.parent.parent))


if __name__ == "__main__":
    main()
