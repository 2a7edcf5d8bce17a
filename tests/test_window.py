"""Tests of windows as values and of the schedule that cuts a time range into them."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from itertools import pairwise

import pytest

from drifting_etl.core.errors import ConfigError
from drifting_etl.core.window import (
    COMPACT_UTC_PATTERN,
    Window,
    as_utc,
    compact_utc,
    cron_expression,
    parse_instant,
    schedule_windows,
)

PLUS_2 = timezone(timedelta(hours=2))
MINUS_5_30 = timezone(-timedelta(hours=5, minutes=30))


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, micro: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, micro, tzinfo=UTC)


# ---------------------------------------------------------------------------------------------- Window


def test_window_given_naive_datetimes_should_take_them_as_utc() -> None:
    window = Window(datetime(2026, 1, 1, 6), datetime(2026, 1, 1, 7))

    assert window.start == utc(2026, 1, 1, 6) and window.start.tzinfo == UTC
    assert window.end == utc(2026, 1, 1, 7) and window.end.tzinfo == UTC
    assert window == Window(utc(2026, 1, 1, 6), utc(2026, 1, 1, 7))


def test_window_given_aware_datetimes_in_other_zones_should_convert_them_to_utc() -> None:
    window = Window(datetime(2026, 1, 1, 1, tzinfo=PLUS_2), datetime(2026, 1, 1, 0, tzinfo=MINUS_5_30))

    assert window.start == utc(2025, 12, 31, 23) and window.start.utcoffset() == timedelta(0)
    assert window.end == utc(2026, 1, 1, 5, 30) and window.end.utcoffset() == timedelta(0)
    assert str(window) == "[2025-12-31T23:00:00+00:00, 2026-01-01T05:30:00+00:00)"


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (utc(2026, 1, 2), utc(2026, 1, 1)),
        (utc(2026, 1, 1), utc(2026, 1, 1)),
        (datetime(2026, 1, 1, 1, tzinfo=PLUS_2), utc(2025, 12, 31, 23)),  # the same instant, written differently
    ],
    ids=["end-before-start", "empty", "same-instant-other-zone"],
)
def test_window_given_end_not_after_start_should_raise_config_error(start: datetime, end: datetime) -> None:
    with pytest.raises(ConfigError, match="must be after its start"):
        Window(start, end)


def test_window_given_windows_should_order_by_start_then_end_and_be_hashable() -> None:
    a = Window(utc(2026, 1, 1), utc(2026, 1, 2))
    b = Window(utc(2026, 1, 1), utc(2026, 1, 3))
    c = Window(utc(2026, 1, 2), utc(2026, 1, 3))

    assert sorted([c, b, a]) == [a, b, c]
    assert len({a, Window(datetime(2026, 1, 1), datetime(2026, 1, 2))}) == 1


def test_window_hours_given_window_not_aligned_to_hours_should_cover_every_touched_hour() -> None:
    window = Window(utc(2026, 1, 1, 22, 30), utc(2026, 1, 2, 1, 15))

    assert list(window.hours()) == [utc(2026, 1, 1, 22), utc(2026, 1, 1, 23), utc(2026, 1, 2, 0), utc(2026, 1, 2, 1)]
    assert window.days() == [date(2026, 1, 1), date(2026, 1, 2)]


def test_window_hours_given_end_on_an_hour_should_exclude_that_hour() -> None:
    window = Window(utc(2026, 1, 1, 10, 0, 0), utc(2026, 1, 1, 12, 0, 0))

    assert list(window.hours()) == [utc(2026, 1, 1, 10), utc(2026, 1, 1, 11)]
    assert window.days() == [date(2026, 1, 1)]


def test_window_hours_given_sub_second_window_inside_one_hour_should_give_that_hour() -> None:
    window = Window(datetime(2026, 3, 1, 4, 59, 59, 999_000), datetime(2026, 3, 1, 4, 59, 59, 999_999))

    assert list(window.hours()) == [utc(2026, 3, 1, 4)]


def test_window_days_given_window_in_another_zone_should_list_utc_dates() -> None:
    # 2026-01-01 00:30 at +02:00 is still 2025-12-31 in UTC.
    window = Window(datetime(2026, 1, 1, 0, 30, tzinfo=PLUS_2), datetime(2026, 1, 3, 1, 0, tzinfo=PLUS_2))

    assert window.days() == [date(2025, 12, 31), date(2026, 1, 1), date(2026, 1, 2)]
    assert len(list(window.hours())) == 49  # 22:00 on Dec 31 to 22:00 on Jan 2, inclusive


def test_window_days_given_multi_day_window_should_list_each_date_once_in_order() -> None:
    window = Window(utc(2026, 2, 27, 12), utc(2026, 3, 2, 0, 0, 1))

    assert window.days() == [date(2026, 2, 27), date(2026, 2, 28), date(2026, 3, 1), date(2026, 3, 2)]


@pytest.mark.parametrize(
    ("window", "slug"),
    [
        (Window(utc(2026, 1, 1), utc(2026, 1, 2)), "20260101T000000Z--20260102T000000Z"),
        (Window(utc(2026, 1, 1, 6, 30, 15), utc(2026, 1, 1, 12, 0, 5)), "20260101T063015Z--20260101T120005Z"),
        (
            Window(datetime(2026, 1, 1, 1, tzinfo=PLUS_2), datetime(2026, 1, 1, 3, tzinfo=PLUS_2)),
            "20251231T230000Z--20260101T010000Z",
        ),
    ],
)
def test_window_slug_given_window_should_name_utc_bounds_safely(window: Window, slug: str) -> None:
    assert window.slug == slug
    assert all(ch.isalnum() or ch == "-" for ch in window.slug)


def test_as_utc_given_naive_or_aware_datetime_should_return_the_same_instant_in_utc() -> None:
    assert as_utc(datetime(2026, 1, 1, 12)) == utc(2026, 1, 1, 12)
    assert as_utc(datetime(2026, 1, 1, 12, tzinfo=MINUS_5_30)) == utc(2026, 1, 1, 17, 30)
    assert as_utc(datetime(2026, 1, 1, 12, tzinfo=MINUS_5_30)).tzinfo == UTC


# ---------------------------------------------------------------------------------------------- parse_instant


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-01-01", utc(2026, 1, 1)),
        ("  2026-01-01  ", utc(2026, 1, 1)),
        ("2026-01-01T06:00", utc(2026, 1, 1, 6)),
        ("2026-01-01 06:00:30", utc(2026, 1, 1, 6, 0, 30)),
        ("2026-01-01T06:00Z", utc(2026, 1, 1, 6)),
        ("2026-01-01T06:00:00.250Z", datetime(2026, 1, 1, 6, 0, 0, 250_000, tzinfo=UTC)),
        ("2026-01-01T06:00+02:00", utc(2026, 1, 1, 4)),
        ("2026-01-01T00:30-05:30", utc(2026, 1, 1, 6)),
    ],
)
def test_parse_instant_given_iso_text_should_give_the_utc_instant(text: str, expected: datetime) -> None:
    parsed = parse_instant(text)

    assert parsed == expected
    assert parsed.tzinfo == UTC


@pytest.mark.parametrize(
    "text", ["garbage", "", "2026-13-01", "2026-01-32", "01/02/2026", "2026-01-01T25:00", "tomorrow"]
)
def test_parse_instant_given_garbage_should_raise_config_error_naming_the_field(text: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_instant(text, field="--start")

    assert str(caught.value).startswith(f"--start {text!r} is not an ISO-8601 date or datetime")
    assert caught.value.hint is not None and "2026-01-01" in caught.value.hint
    assert isinstance(caught.value.__cause__, ValueError)


# ---------------------------------------------------------------------------------------------- schedules


def independent_windows(is_tick: Callable[[datetime], bool], start: datetime, end: datetime) -> list[Window]:
    """Whole intervals between consecutive ticks inside [start, end), by testing every minute (no cron library)."""
    minute = start.replace(second=0, microsecond=0)
    if minute < start:
        minute += timedelta(minutes=1)
    ticks = []
    while minute <= end:
        if is_tick(minute):
            ticks.append(minute)
        minute += timedelta(minutes=1)
    return [Window(a, b) for a, b in pairwise(ticks)]


def at_midnight(moment: datetime) -> bool:
    return moment.hour == 0 and moment.minute == 0


SCHEDULES: dict[str, Callable[[datetime], bool]] = {
    "@daily": at_midnight,
    "@midnight": at_midnight,
    "@hourly": lambda moment: moment.minute == 0,
    "0 */6 * * *": lambda moment: moment.minute == 0 and moment.hour % 6 == 0,
    "@weekly": lambda moment: at_midnight(moment) and moment.weekday() == 6,  # Sunday
    "30 9 * * 1-5": lambda moment: moment.hour == 9 and moment.minute == 30 and moment.weekday() < 5,
}

RANGES = [
    (utc(2026, 1, 1), utc(2026, 1, 3)),  # aligned to days
    (utc(2026, 1, 1, 6, 17), utc(2026, 1, 4, 12)),
    (
        datetime(2025, 12, 29, 23, 59, 59, 999_999),
        datetime(2026, 1, 20, 0, 0, 0, 1),
    ),  # naive, a microsecond around ticks
    (utc(2026, 1, 1, 0, 0, 0, 1), utc(2026, 1, 2, 23, 59)),  # just after a tick, just before one
    (datetime(2026, 2, 27, 1, 30, tzinfo=PLUS_2), datetime(2026, 3, 3, 5, tzinfo=MINUS_5_30)),  # other zones
    (utc(2026, 1, 5, 1), utc(2026, 1, 5, 2)),  # shorter than most intervals
]


@pytest.mark.parametrize("schedule", list(SCHEDULES))
@pytest.mark.parametrize(("start", "end"), RANGES)
def test_schedule_windows_given_range_not_aligned_to_schedule_should_give_whole_intervals_inside_it(
    schedule: str, start: datetime, end: datetime
) -> None:
    windows = schedule_windows(schedule, start, end)

    assert windows == independent_windows(SCHEDULES[schedule], as_utc(start), as_utc(end))
    for window in windows:
        assert as_utc(start) <= window.start and window.end <= as_utc(end)
        assert window.start.tzinfo == UTC and window.end.tzinfo == UTC
    for before, after in pairwise(windows):
        assert before.end == after.start


def test_schedule_windows_given_daily_schedule_over_part_days_should_skip_partial_days() -> None:
    windows = schedule_windows("@daily", utc(2026, 1, 1, 6), utc(2026, 1, 4, 12))

    assert windows == [Window(utc(2026, 1, 2), utc(2026, 1, 3)), Window(utc(2026, 1, 3), utc(2026, 1, 4))]


def test_schedule_windows_given_range_starting_on_a_tick_should_include_the_first_interval() -> None:
    windows = schedule_windows("0 */6 * * *", utc(2026, 1, 1, 6), utc(2026, 1, 2))

    assert windows == [
        Window(utc(2026, 1, 1, 6), utc(2026, 1, 1, 12)),
        Window(utc(2026, 1, 1, 12), utc(2026, 1, 1, 18)),
        Window(utc(2026, 1, 1, 18), utc(2026, 1, 2)),
    ]


def test_schedule_windows_given_weekly_schedule_should_run_sunday_to_sunday() -> None:
    windows = schedule_windows("@weekly", utc(2026, 1, 1), utc(2026, 1, 20))  # 2026-01-01 is a Thursday

    assert windows == [Window(utc(2026, 1, 4), utc(2026, 1, 11)), Window(utc(2026, 1, 11), utc(2026, 1, 18))]


@pytest.mark.parametrize(
    ("start", "end"),
    [(utc(2026, 1, 1, 1), utc(2026, 1, 1, 23)), (utc(2026, 1, 3), utc(2026, 1, 1)), (utc(2026, 1, 1), utc(2026, 1, 1))],
    ids=["shorter-than-interval", "reversed", "empty"],
)
def test_schedule_windows_given_range_without_a_whole_interval_should_give_none(start: datetime, end: datetime) -> None:
    assert schedule_windows("@daily", start, end) == []


@pytest.mark.parametrize(
    ("schedule", "expression"),
    [("@daily", "0 0 * * *"), (" @hourly ", "0 * * * *"), ("@weekly", "0 0 * * 0"), ("0 */6 * * *", "0 */6 * * *"),
     ("@monthly", "0 0 1 * *"), ("@yearly", "0 0 1 1 *")],
)  # fmt: skip
def test_cron_expression_given_preset_or_cron_should_give_five_field_expression(schedule: str, expression: str) -> None:
    assert cron_expression(schedule) == expression


@pytest.mark.parametrize(
    "schedule", ["every day", "", "0 0 * *", "0 0 * * * *", "61 * * * *", "* 24 * * *", "@fortnightly"]
)
def test_cron_expression_given_invalid_schedule_should_raise_config_error_with_hint(schedule: str) -> None:
    with pytest.raises(ConfigError, match="is not a cron expression or preset") as caught:
        cron_expression(schedule)

    assert caught.value.hint is not None and "@daily" in caught.value.hint


def test_schedule_windows_given_invalid_schedule_should_raise_config_error() -> None:
    with pytest.raises(ConfigError):
        schedule_windows("every day", utc(2026, 1, 1), utc(2026, 1, 5))


def test_compact_utc_given_an_aware_instant_in_another_zone_should_write_it_in_utc() -> None:
    moment = datetime(2026, 1, 1, 2, 30, 5, tzinfo=timezone(timedelta(hours=2)))
    assert compact_utc(moment) == "20260101T003005Z"
    assert re.fullmatch(COMPACT_UTC_PATTERN, compact_utc(moment))


@pytest.mark.parametrize(
    ("schedule", "expected"),
    [
        ("@hourly", timedelta(hours=1)),
        ("*/15 * * * *", timedelta(minutes=15)),
        ("0 */6 * * *", timedelta(hours=6)),
        ("@daily", timedelta(days=1)),
        ("0 9 * * 1-5", timedelta(days=3)),  # Friday 09:00 -> Monday 09:00
        ("@weekly", timedelta(days=7)),
        ("@monthly", timedelta(days=31)),
        ("0 0 1 */3 *", timedelta(days=92)),  # quarters: Jul->Oct and Oct->Jan are 92 days
    ],
)
def test_schedule_interval_should_give_the_longest_gap_between_ticks(schedule: str, expected: timedelta) -> None:
    from drifting_etl.core.window import schedule_interval

    assert schedule_interval(schedule) == expected
    # the same gaps as the schedule's own windows over a year, cut by schedule_windows
    year = schedule_windows(schedule, datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 2, tzinfo=UTC))
    assert max(window.end - window.start for window in year) == expected


def test_schedule_interval_given_bad_schedule_should_raise_config_error() -> None:
    from drifting_etl.core.window import schedule_interval

    with pytest.raises(ConfigError, match="not a cron expression"):
        schedule_interval("every tuesday")
