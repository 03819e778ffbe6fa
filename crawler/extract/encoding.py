"""Encodings: fetched bytes to text (BOM, HTTP charset, `<meta charset>`, detection) and text lxml accepts."""

from __future__ import annotations

import logging
import re

from w3lib.encoding import html_to_unicode

__all__ = ["decode_html", "encodable"]

logger = logging.getLogger(__name__)


def decode_html(body: bytes, content_type: str | None = None) -> str:
    """Bytes → text: BOM, then the HTTP charset, then `<meta charset>`, then detection; never raises."""
    _, text = html_to_unicode(content_type, body, auto_detect_fun=_detect_encoding)
    return text


def encodable(text: str | None) -> str | None:
    """Text without lone surrogates (U+FFFD in their place): a str can hold them, UTF-8 and lxml cannot."""
    try:
        (text or "").encode("utf-8")
    except UnicodeEncodeError:
        return re.sub("[\ud800-\udfff]", "\ufffd", text or "")
    return text


def _detect_encoding(body: bytes) -> str | None:
    try:
        body.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        from charset_normalizer import from_bytes

        results = from_bytes(body[:200_000])
        best = results.best()
        if best is not None:
            # windows-1252 is the web's legacy default (WHATWG): it wins a tie with its look-alikes (cp1250, cp1257, …)
            tie = [m for m in results if m.encoding == "cp1252" and m.chaos <= best.chaos + 0.01]
            return "cp1252" if tie else best.encoding
    except Exception:  # detection is a best effort; cp1252 below never fails
        logger.debug("charset detection failed", exc_info=True)
    return "cp1252"
