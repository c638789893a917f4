"""Chinese working days: weekends, statutory holidays and make-up workdays (调休), from the
``chinese-calendar`` package; past the years it knows, weekends only, with a warning."""

from __future__ import annotations

import warnings
from datetime import UTC, date, datetime, timedelta, timezone

import chinese_calendar

CHINA_TZ = timezone(timedelta(hours=8))


class CalendarFallbackWarning(UserWarning):
    """A date beyond the holiday calendar: only weekends are treated as days off."""


def is_workday(day: date) -> bool:
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        warnings.warn(
            f"chinese-calendar has no holiday data for {day.year}: counting weekends only "
            "(upgrade chinese-calendar when a newer release covers that year)",
            CalendarFallbackWarning, stacklevel=2,
        )
        return day.weekday() < 5


def add_workdays(start: date, n: int) -> date:
    """The date ``n`` working days after ``start`` (``start`` itself not counted)."""
    day = start
    remaining = n
    while remaining > 0:
        day += timedelta(days=1)
        if is_workday(day):
            remaining -= 1
    return day


def workdays_between(start: date, end: date) -> int:
    """Working days after ``start`` up to and including ``end``."""
    count, day = 0, start
    while day < end:
        day += timedelta(days=1)
        count += is_workday(day)
    return count


def china_date(when: datetime) -> date:
    """The calendar date in China (UTC+8) of a moment; naive moments are taken as UTC."""
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(CHINA_TZ).date()


def china_today() -> date:
    """Today's date in China, whatever the machine's time zone: what "today" means for the
    pages being judged."""
    return china_date(datetime.now(UTC))
