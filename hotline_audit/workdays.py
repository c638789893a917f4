"""Chinese working days: weekends, statutory holidays and make-up workdays (调休), from the
``chinese-calendar`` package, plus the days an auditor adds from the State Council's notice
(``ExtraDays``); past what both know, weekends only, with a warning."""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone

import chinese_calendar

CHINA_TZ = timezone(timedelta(hours=8))


class CalendarFallbackWarning(UserWarning):
    """A date beyond the holiday calendar: only weekends are treated as days off."""


@dataclass(frozen=True)
class ExtraDays:
    """Days off and make-up workdays chinese-calendar does not know yet: each year's schedule
    is announced in the November before, and a release follows some weeks later."""

    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()

    @classmethod
    def of(cls, holidays: Iterable[date] = (), workdays: Iterable[date] = ()) -> ExtraDays:
        return cls(frozenset(holidays), frozenset(workdays))

    def covers(self, year: int) -> bool:
        """Whether the auditor gave this year's schedule (then no warning for it)."""
        return any(d.year == year for d in self.holidays | self.workdays)


NO_EXTRA = ExtraDays()


def is_workday(day: date, extra: ExtraDays = NO_EXTRA) -> bool:
    if day in extra.workdays:
        return True
    if day in extra.holidays:
        return False
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        if not extra.covers(day.year):
            warnings.warn(
                f"chinese-calendar has no holiday data for {day.year}: counting weekends only. "
                f"Add {day.year}'s days off and make-up workdays (放假/调休) from the State Council's "
                "notice as effectiveness.holidays and effectiveness.makeup_workdays in the config, "
                "or upgrade chinese-calendar when a release covers that year",
                CalendarFallbackWarning, stacklevel=2,
            )
        return day.weekday() < 5


def add_workdays(start: date, n: int, extra: ExtraDays = NO_EXTRA) -> date:
    """The date ``n`` working days after ``start`` (``start`` itself not counted)."""
    day = start
    remaining = n
    while remaining > 0:
        day += timedelta(days=1)
        if is_workday(day, extra):
            remaining -= 1
    return day


def workdays_between(start: date, end: date, extra: ExtraDays = NO_EXTRA) -> int:
    """Working days after ``start`` up to and including ``end``."""
    count, day = 0, start
    while day < end:
        day += timedelta(days=1)
        count += is_workday(day, extra)
    return count


def china_date(when: datetime) -> date:
    """The calendar date in China (UTC+8) of a moment; naive moments are taken as UTC."""
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(CHINA_TZ).date()


def china_today() -> date:
    """Today's date in China, whatever the machine's time zone: what "today" means for the
    pages being judged."""
    return china_date(datetime.now(UTC))
