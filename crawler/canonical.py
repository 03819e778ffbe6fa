"""Canonical URLs: one spelling per page, without tracking parameters or fragments."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from w3lib.url import canonicalize_url

__all__ = ["canonicalize", "is_tracking_parameter"]

_TRACKING = re.compile(
    r"^(utm_\w+|fbclid|gclid|dclid|gbraid|wbraid|msclkid|mc_cid|mc_eid|yclid|igshid|_ga|_gl|ref|ref_src|"
    r"cmpid|ito|xtor|at_medium|at_campaign|wt_mc|ncid|ocid|sr_share|share|s_cid|spm|__twitter_impression)$",
    re.I,
)


def is_tracking_parameter(name: str) -> bool:
    return bool(_TRACKING.match(name))


def canonicalize(url: str) -> str:
    """Sorted query without tracking parameters, no fragment, lowercase host, default port dropped."""
    parts = urlsplit(url.strip())
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not is_tracking_parameter(k)]
    cleaned = urlunsplit((parts.scheme, parts.netloc, parts.path or "/", urlencode(query), ""))
    return canonicalize_url(cleaned, keep_fragments=False)
