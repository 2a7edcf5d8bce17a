"""Windows: the half-open UTC interval [start, end) that one monitoring run covers, and the schedule that cuts them.

A window is a value passed everywhere; nothing in the pipeline reads the clock to decide what to process.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from drifting_etl.core.errors import ConfigError

SCHEDULE_PRESETS = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}


COMPACT_UTC_FORMAT = "%Y%m%dT%H%M%SZ"
"""How an instant is written in names (window slugs, report files, model versions): ISO 8601 basic format in UTC,
safe in paths and URLs, and sorting as it reads. `COMPACT_UTC_PATTERN` is the regular expression of its output."""
COMPACT_UTC_PATTERN = r"\d{8}T\d{6}Z"


def compact_utc(moment: datetime) -> str:
    """`moment` in UTC as `COMPACT_UTC_FORMAT`, e.g. 20260101T000000Z (a naive datetime is taken as UTC)."""
    return as_utc(moment).strftime(COMPACT_UTC_FORMAT)


def as_utc(moment: datetime) -> datetime:
    """Naive datetimes are taken as UTC; aware ones are converted. Always a plain `datetime`: Airflow hands over
    pendulum's subclass, whose arithmetic (a difference is an `Interval`) can drop the time zone."""
    aware = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return datetime(
        aware.year, aware.month, aware.day, aware.hour, aware.minute, aware.second, aware.microsecond, tzinfo=UTC
    )


def parse_instant(text: str, *, field: str = "time") -> datetime:
    """Parse an ISO-8601 date or datetime given on the command line (UTC unless it says otherwise)."""
    try:
        return as_utc(datetime.fromisoformat(text.strip().replace("Z", "+00:00")))
    except ValueError as exc:
        raise ConfigError(
            f"{field} {text!r} is not an ISO-8601 date or datetime", hint="e.g. 2026-01-01 or 2026-01-01T06:00"
        ) from exc


@dataclass(frozen=True, order=True)
class Window:
    """A half-open interval [start, end) in UTC."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", as_utc(self.start))
        object.__setattr__(self, "end", as_utc(self.end))
        if self.end <= self.start:
            raise ConfigError(f"window end {self.end.isoformat()} must be after its start {self.start.isoformat()}")

    def __str__(self) -> str:
        return f"[{self.start.isoformat()}, {self.end.isoformat()})"

    @property
    def slug(self) -> str:
        """A filesystem-safe name for the window, e.g. 20260101T000000Z--20260102T000000Z."""
        return f"{compact_utc(self.start)}--{compact_utc(self.end)}"

    def hours(self) -> Iterator[datetime]:
        """Every UTC hour whose partition can hold rows of this window."""
        hour = self.start.replace(minute=0, second=0, microsecond=0)
        while hour < self.end:
            yield hour
            hour += timedelta(hours=1)

    def days(self) -> list[date]:
        return sorted({hour.date() for hour in self.hours()})


def cron_expression(schedule: str) -> str:
    """The cron expression for a schedule (a preset such as @daily, or a 5-field cron string)."""
    # Imported here: the capture SDK reaches this module through the store (window slugs) and installs without croniter.
    from croniter import croniter

    expression = SCHEDULE_PRESETS.get(schedule.strip(), schedule.strip())
    if not croniter.is_valid(expression) or len(expression.split()) != 5:
        raise ConfigError(
            f"schedule {schedule!r} is not a cron expression or preset",
            hint=f"use 5-field cron (e.g. '0 */6 * * *') or one of {', '.join(SCHEDULE_PRESETS)}",
        )
    return expression


def schedule_windows(schedule: str, start: datetime, end: datetime) -> list[Window]:
    """The schedule's data intervals that lie wholly inside [start, end), in order.

    Like Airflow's CronDataIntervalTimetable: each interval runs from one cron tick to the next, in UTC.
    """
    from croniter import croniter

    expression = cron_expression(schedule)
    start, end = as_utc(start), as_utc(end)
    ticks = croniter(expression, start - timedelta(microseconds=1))
    windows: list[Window] = []
    current = as_utc(ticks.get_next(datetime))
    while True:
        following = as_utc(ticks.get_next(datetime))
        if following > end:
            return windows
        windows.append(Window(current, following))
        current = following


SCHEDULE_INTERVAL_TICKS = 1000
"""How many consecutive ticks `schedule_interval` looks at: enough to see a weekend or a month's end in any schedule
that ticks at most every few minutes."""
_INTERVAL_ANCHOR = datetime(2026, 1, 1, tzinfo=UTC)


@functools.lru_cache(maxsize=256)
def schedule_interval(schedule: str) -> timedelta:
    """The schedule's interval length: the longest gap between consecutive ticks (of the first
    `SCHEDULE_INTERVAL_TICKS` after 2026-01-01 UTC), so a schedule that skips weekends or short months is measured by its
    longest window (e.g. '0 9 * * 1-5' -> 3 days, '@monthly' -> 31 days, '@hourly' -> 1 hour). Cached: a backfill asks
    once per window."""
    from croniter import croniter

    ticks = croniter(cron_expression(schedule), _INTERVAL_ANCHOR)
    previous = as_utc(ticks.get_next(datetime))
    longest = timedelta(0)
    for _ in range(SCHEDULE_INTERVAL_TICKS):
        following = as_utc(ticks.get_next(datetime))
        longest = max(longest, following - previous)
        previous = following
        if following - _INTERVAL_ANCHOR > timedelta(days=4 * 366):  # every calendar pattern repeats within 4 years
            break
    return longest
