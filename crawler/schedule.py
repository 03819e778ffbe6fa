"""A source's schedule: "every 15m" or a 5-field crontab, checked, and as APScheduler's trigger keywords."""

from __future__ import annotations

import re

__all__ = ["cron_fields", "parse_schedule"]

_EVERY = re.compile(r"^every\s+(\d+)\s*([smhd])$")
_LONGEST_INTERVAL = 366 * 86400  # "every 400d" is a mistake; a yearly run is a cron line
_CRON_FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day of month", 1, 31), ("month", 1, 12), ("day of week", 0, 7))


def parse_schedule(text: str) -> tuple[str, int | tuple[str, ...]]:
    """("interval", seconds) for "every 15m", ("cron", fields) for a 5-field crontab; ValueError says why not."""
    text = text.strip()
    every = _EVERY.match(text)
    if every:
        number = every.group(1).lstrip("0") or "0"
        seconds = (int(number) if len(number) <= 12 else _LONGEST_INTERVAL + 1) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[every.group(2)]
        if seconds <= 0:
            raise ValueError("interval must be positive")
        if seconds > _LONGEST_INTERVAL:
            raise ValueError("interval must be at most 366 days")
        return "interval", seconds
    fields = text.split()
    if len(fields) != 5:
        raise ValueError('expected 5 cron fields ("*/30 * * * *") or "every N[smhd]"')
    for value, (label, low, high) in zip(fields, _CRON_FIELDS):
        for part in value.split(","):
            _check_cron_part(part, label, low, high)
    return "cron", tuple(fields)


_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")  # crontab's day numbers 0-6, and 7 is Sunday again


def cron_fields(fields: tuple[str, ...]) -> dict[str, str]:
    """A checked crontab (parse_schedule's fields) as APScheduler 3 CronTrigger keywords. APScheduler 3 counts
    weekdays from Monday = 0 and refuses 7, crontab from Sunday = 0 (or 7): the day of week goes over as names."""
    minute, hour, day, month, weekday = fields
    return {"minute": minute, "hour": hour, "day": day, "month": month, "day_of_week": _weekday_names(weekday)}


def _weekday_names(field: str) -> str:
    if field == "*":
        return "*"
    days: set[int] = set()
    for part in field.split(","):
        base, _, step = part.partition("/")
        first, _, last = ("0", "", "6") if base == "*" else base.partition("-")
        last = last or ("6" if step else first)  # "1/2": from Monday on, every second day
        days.update(number % 7 for number in range(int(first), int(last) + 1, int(step or 1)))
    return ",".join(name for name in _WEEKDAYS[1:] + _WEEKDAYS[:1] if _WEEKDAYS.index(name) in days)


def _check_cron_part(part: str, label: str, low: int, high: int) -> None:
    base, _, step = part.partition("/")
    if step and (not step.isdigit() or int(step) == 0):
        raise ValueError(f"{label} step {step!r} must be a positive number")
    if step and int(step) > high:
        raise ValueError(f"{label} must be {low}-{high}")
    if base == "*":
        return
    bounds = base.split("-")
    if len(bounds) > 2 or not all(b.isdigit() for b in bounds):
        raise ValueError(f"{label} {part!r} is not a number, range or */step")
    for bound in bounds:
        if not low <= int(bound) <= high:
            raise ValueError(f"{label} must be {low}-{high}")
    if len(bounds) == 2 and int(bounds[0]) > int(bounds[1]):
        raise ValueError(f"{label} range {base!r} is reversed: write the smaller number first")
