"""index.html: the human-readable list of feeds with subscribe links."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from html import escape

from feeds.topics import PUBLISHER_PREFIX, PUBLISHER_TITLE

__all__ = ["FeedListing", "render_index"]

logger = logging.getLogger(__name__)

FORMAT_LABELS = {"atom": "Atom", "rss": "RSS", "json": "JSON Feed"}

_CSS = """
:root { color-scheme: light dark; --fg: #1d1f21; --bg: #fafafa; --card: #fff;
  --muted: #666; --line: #e3e3e3; --accent: #c0392b; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6e6e6; --bg: #16181a;
  --card: #1f2226; --muted: #9a9a9a; --line: #33373c; --accent: #ff7b6b; } }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color: var(--fg); background: var(--bg); }
header, main, footer { max-width: 60rem; margin: 0 auto; padding: 1rem; }
header h1 { margin: .5rem 0 0; font-size: 1.8rem; }
header p, footer { color: var(--muted); }
main > h2 { margin: 1.5rem 0 .8rem; font-size: 1.4rem; }
.grid { display: grid; gap: 1rem; grid-template-columns: repeat(auto-fill, minmax(min(17rem, 100%), 1fr)); }
section { background: var(--card); border: 1px solid var(--line); border-radius: .6rem;
  padding: 1rem; display: flex; flex-direction: column; }
section h3 { margin: 0; font-size: 1.2rem; }
.meta { color: var(--muted); font-size: .9rem; margin: .2rem 0 .6rem; }
ul { margin: 0 0 .8rem; padding-left: 1.1rem; flex: 1; }
li { margin: .25rem 0; }
a { color: inherit; }
.subscribe { display: flex; flex-wrap: wrap; gap: .4rem; }
.subscribe a { text-decoration: none; font-size: .85rem; padding: .2rem .6rem;
  border: 1px solid var(--accent); color: var(--accent); border-radius: 1rem; }
.subscribe a:hover { background: var(--accent); color: var(--card); }
.subscribe button { font: inherit; font-size: .85rem; padding: .2rem .6rem; cursor: pointer;
  border: 1px solid var(--muted); color: var(--muted); background: none; border-radius: 1rem; }
"""
# Copy-URL buttons are hidden without JavaScript; with it, a click copies the feed URL.
_SCRIPT = """
for (const button of document.querySelectorAll("button[data-url]")) {
  button.hidden = false;
  button.addEventListener("click", async () => {
    try { await navigator.clipboard.writeText(button.dataset.url); button.textContent = "Copied"; }
    catch (error) { window.prompt("Feed URL:", button.dataset.url); }
  });
}
"""


@dataclass
class FeedListing:
    """What the index shows for one feed."""

    slug: str
    title: str
    entries: int
    updated: datetime | None
    headlines: list[tuple[str, str]] = field(default_factory=list)  # (title, url)
    links: list[tuple[str, str, str]] = field(default_factory=list)  # (format, url, mime type)

    @property
    def publisher(self) -> bool:
        """An original publisher's feed (its slug and title say so), shown apart from the topics."""
        return self.slug.startswith(PUBLISHER_PREFIX) and self.title.startswith(PUBLISHER_TITLE)

    @property
    def name(self) -> str:
        """What the index page calls the feed: a publisher by its name ("Corriere" for "Publisher: corriere")."""
        if not self.publisher:
            return self.title
        name = self.title[len(PUBLISHER_TITLE):].strip()
        return name.title() if name == name.lower() else name


def _date(value: datetime | None) -> str:
    if value is None:
        return "never"
    return f'<time datetime="{escape(value.isoformat())}">{value:%Y-%m-%d %H:%M} UTC</time>'


def _section(listing: FeedListing) -> str:
    count = f"{listing.entries} entr{'y' if listing.entries == 1 else 'ies'}"
    headlines = "".join(
        f'<li><a href="{escape(url)}" rel="noopener">{escape(title)}</a></li>'
        if url
        else f"<li>{escape(title)}</li>"
        for title, url in listing.headlines
    )
    links = "".join(
        f'<a href="{escape(url)}" type="{escape(mime)}">{escape(FORMAT_LABELS.get(fmt, fmt))}</a>'
        for fmt, url, mime in listing.links
    )
    if listing.links:
        links += f'<button type="button" data-url="{escape(listing.links[0][1])}" hidden>Copy URL</button>'

    return (
        f'<section id="{escape(listing.slug)}">\n'
        f"<h3>{escape(listing.name)}</h3>\n"
        f'<p class="meta">{count} · updated {_date(listing.updated)}</p>\n'
        f"<ul>{headlines}</ul>\n"
        f'<p class="subscribe">{links}</p>\n'
        "</section>\n"
    )


def _groups(listings: list[FeedListing]) -> str:
    """The topics (with "all"), then the original publishers, each a heading over its grid of cards."""
    html = []
    for heading, members in (("Topics", [x for x in listings if not x.publisher]), ("Publishers", [x for x in listings if x.publisher])):
        if members:
            html.append(f'<h2>{heading}</h2>\n<div class="grid">\n{"".join(_section(listing) for listing in members)}</div>\n')
    return "".join(html)


def render_index(listings: list[FeedListing], *, title: str, opml_url: str, icon: str | None = None) -> bytes:
    """Render the index page; the same listings always give the same bytes."""
    autodiscovery = "".join(
        f'<link rel="alternate" type="{escape(mime)}" title="{escape(listing.title)}"'
        f' href="{escape(url)}">\n'
        for listing in listings
        for fmt, url, mime in listing.links
    )
    page = (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="referrer" content="no-referrer">\n'
        # An icon link (an empty one without a site icon) spares browsers a /favicon.ico request.
        f'<link rel="icon" href="{escape(icon) if icon else "data:,"}">\n'
        f"<title>{escape(title)}</title>\n"
        f"{autodiscovery}"
        f"<style>{_CSS}</style>\n"
        "</head>\n<body>\n"
        f"<header><h1>{escape(title)}</h1>\n"
        f"<p>{len(listings)} feeds · <a href=\"{escape(opml_url)}\">all feeds as OPML</a></p>"
        "</header>\n"
        "<main>\n" + _groups(listings) + "</main>\n"
        "<footer>Made by refeed.</footer>\n"
        f"<script>{_SCRIPT}</script>\n"
        "</body>\n</html>\n"
    )
    return page.encode("utf-8")
