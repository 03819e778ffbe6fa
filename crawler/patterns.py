"""A source's own regexes (`follow`, `articles`), matched by RE2 in linear time: no pattern can stall a crawl."""

from __future__ import annotations

import re2

__all__ = ["compile_pattern"]

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # RE2 would print its own line to stderr; the ValueError says it once


def compile_pattern(pattern: str):
    """A compiled pattern with `search`; ValueError (one line) for what RE2 cannot match, lookarounds and
    backreferences: Python's backtracking engine takes exponential time on `(a+)+$` against 47 a's and a `!`."""
    try:
        return re2.compile(pattern, _OPTIONS)
    except re2.error as exc:
        reason = exc.args[0].decode("utf-8", "replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        raise ValueError(" ".join(reason.split())) from None
