"""Canonical URLs: one spelling per page, without tracking parameters or fragments, and a looser match key."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from w3lib.url import canonicalize_url

__all__ = ["canonicalize", "is_tracking_parameter", "match_key", "same_site", "site"]

_TRACKING = re.compile(
    r"^(utm_\w+|fbclid|gclid|dclid|gbraid|wbraid|msclkid|mc_cid|mc_eid|yclid|igshid|_ga|_gl|ref|ref_src|"
    r"cmpid|ito|xtor|at_medium|at_campaign|wt_mc|ncid|ocid|sr_share|share|s_cid|spm|__twitter_impression)$",
    re.I,
)
_DEFAULT_PORTS = {"http": 80, "https": 443}


def is_tracking_parameter(name: str) -> bool:
    return bool(_TRACKING.match(name))


_SAFE = r"[A-Za-z0-9._~-]+"
# A URL that is already canonical but for its query's order and tracking parameters: what most links are.
_PLAIN = re.compile(
    rf"(https?)://([a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*)(?::([1-9][0-9]{{0,4}}))?"
    rf"(/[A-Za-z0-9._~/-]*)(?:\?({_SAFE}={_SAFE}(?:&{_SAFE}={_SAFE})*))?\Z"
)


def canonicalize(url: str) -> str:
    """Sorted query without tracking parameters, no fragment, lowercase host, default port dropped."""
    plain = _plain(url)
    return plain if plain is not None else _canonicalize(url)


def _plain(url: str) -> str | None:
    """canonicalize(url) in a few microseconds for a plain URL (lowercase host, unreserved path and query
    characters, no dot segments, no fragment), None for any other: a page of 250,000 links is read in a second."""
    match = _PLAIN.match(url)
    if match is None:
        return None
    scheme, host, port, path, query = match.groups()
    if "/." in path or "xn--" in host or (port and (int(port) > 65535 or int(port) == _DEFAULT_PORTS[scheme])):
        return None
    head = f"{scheme}://{host}:{port}{path}" if port else f"{scheme}://{host}{path}"
    if not query:
        return head
    pairs = sorted(tuple(pair.split("=")) for pair in query.split("&"))
    kept = "&".join(f"{k}={v}" for k, v in pairs if not is_tracking_parameter(k))
    return f"{head}?{kept}" if kept else head


def _canonicalize(url: str) -> str:
    parts = urlsplit(url.strip())
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not is_tracking_parameter(k)]
    netloc = parts.netloc
    try:
        if parts.port is not None and parts.port == _DEFAULT_PORTS.get(parts.scheme.lower()):
            netloc = netloc.rsplit(":", 1)[0]
    except ValueError:  # a port that is not a number: leave the URL as it is
        pass
    cleaned = urlunsplit((parts.scheme, netloc, parts.path or "/", urlencode(query), ""))
    return canonicalize_url(cleaned, keep_fragments=False)


def match_key(url: str) -> str:
    """What two spellings of one page share: the canonical URL without scheme, `www.` or trailing slash.

    `https://www.example.com/news/a/` and `http://example.com/news/a` have one key,
    `example.com/news/a`. The key finds a known page; links keep the real canonical URL.
    """
    canonical = canonicalize(url)
    parts = urlsplit(canonical)
    if parts.scheme not in _DEFAULT_PORTS:
        return canonical
    host = parts.netloc.lower().removeprefix("www.")
    path = parts.path.rstrip("/") or "/"
    return host + path + (f"?{parts.query}" if parts.query else "")


_DEFAULT_PORTS = {"http": 80, "https": 443}


def site(url: str) -> tuple[str, int | None] | None:
    """(host, port) of a URL, scheme left out: http://x/ and https://x/ are one site, http://x:8080/ another.

    The port is None when it is the scheme's default. None for a URL without a host or with a bad port.
    """
    try:
        parts = urlsplit(url.strip())
        host, port = parts.hostname, parts.port
    except ValueError:  # "http://[::1", "http://x:99999/"
        return None
    if not host:
        return None
    if port == _DEFAULT_PORTS.get(parts.scheme.lower()):
        port = None
    return host.rstrip(".").lower(), port


def same_site(url: str, other: str) -> bool:
    here = site(url)
    return here is not None and here == site(other)
