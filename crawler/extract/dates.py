"""Dates: ISO 8601, else a human date read by dateparser in the page's languages first; aware UTC datetimes only."""

from __future__ import annotations

import functools
import re
from datetime import UTC, datetime

__all__ = ["ISO_DATE", "parse_datetime"]


def parse_datetime(value, languages: list[str] | None = None, anywhere: bool = True) -> datetime | None:
    """An aware UTC datetime from ISO 8601 or a human date in many languages; None if it is not a date.

    `languages` (ISO 639-1 codes, the page's own) are tried first: dateparser is much faster told where to look;
    then, unless `anywhere` is false, every language it knows (about 400 locales: 1.5 s to load them once per
    process, then 15–60 ms for each text that is no date).
    """
    if not value or not isinstance(value, str):
        return None
    text = " ".join(value.split())[:80]
    known = tuple(code for code in languages or () if code in _dateparser_languages())
    if languages and not known:  # a language dateparser does not know (`no`, `iw`, …): every one it knows
        anywhere = True
    if _ABSOLUTE.search(text):  # a full date means the same whenever it is read: worth remembering
        return _parse_datetime_cached(text, known, anywhere)
    return _parse_datetime(text, known, anywhere)  # "3 hours ago", "8 January": read against the clock


ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_ABSOLUTE = re.compile(r"\b\d{4}\b|\d{4}年")


@functools.cache
def _dateparser_languages() -> frozenset[str]:
    from dateparser.data.languages_info import language_order  # the codes dateparser.parse(languages=…) accepts

    return frozenset(language_order)


def _parse_datetime(text: str, languages: tuple[str, ...], anywhere: bool) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        human = _human_date(text, languages, anywhere)
        if human is None:
            return None
        parsed = human
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _human_date(text: str, languages: tuple[str, ...], anywhere: bool) -> datetime | None:
    """A date as people write it (`8. Januar 2022`, `3 hours ago`), read by dateparser; None for words and odd input."""
    if not re.search(r"\d", text):  # "Latest", "now": words are no dates
        return None
    parsed = None
    try:
        if languages:
            parsed = _date_parser(languages).get_date_data(text)["date_obj"]
        if parsed is None and (anywhere or not languages):
            parsed = _date_parser(()).get_date_data(text)["date_obj"]
    except Exception:  # dateparser trips on odd input now and then (or knows no such language): no date
        return None
    return parsed


@functools.lru_cache(maxsize=64)
def _date_parser(languages: tuple[str, ...]):
    """dateparser's parser for these languages (all it knows for none), made once: `dateparser.parse` makes one,
    and its settings, for every text, which cost 40% of reading a date. It keeps no state between texts (it would
    only with try_previous_locales or a language detection function, neither given)."""
    from dateparser.date import DateDataParser  # 40 ms to import and seldom needed: ISO 8601 dates are the rule

    settings = {"RETURN_AS_TIMEZONE_AWARE": True, "TIMEZONE": "UTC", "TO_TIMEZONE": "UTC", "PREFER_DATES_FROM": "past"}
    return DateDataParser(languages=list(languages) or None, settings=settings)


_parse_datetime_cached = functools.lru_cache(maxsize=1024)(_parse_datetime)  # datelines repeat from page to page
