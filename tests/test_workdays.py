"""Working-day arithmetic across the 2026 National Day holiday and its make-up workdays.

The dates are those of 国务院办公厅关于2026年部分节假日安排的通知 (2025-11-04): 中秋节 9月25日至
27日放假; 国庆节 10月1日(周四)至7日(周三)放假调休，共7天，9月20日(周日)、10月10日(周六)上班.
chinese-calendar 1.11 holds exactly these dates (checked below), so 8 October 2026 is a
working day, unlike 2025 when the holiday ran 1-8 October.
"""

import warnings
from datetime import date, timedelta

import chinese_calendar
import pytest

from checks.effectiveness import reply_due
from hotline_audit.config import load_settings
from hotline_audit.workdays import (
    CalendarFallbackWarning,
    ExtraDays,
    add_workdays,
    is_workday,
    workdays_between,
)

NATIONAL_DAY_2026 = [date(2026, 10, d) for d in range(1, 8)]
MAKEUP_2026 = [date(2026, 9, 20), date(2026, 10, 10)]  # Sunday, Saturday


def test_calendar_package_matches_the_state_council_schedule():
    for day in NATIONAL_DAY_2026:
        on_holiday, name = chinese_calendar.get_holiday_detail(day)
        assert on_holiday and name == "National Day", day
    for day in MAKEUP_2026:
        assert day.weekday() >= 5 and chinese_calendar.is_workday(day), day
    assert [d for d in (date(2026, 9, 25), date(2026, 9, 26), date(2026, 9, 27)) if is_workday(d)] == []


def test_national_day_holiday_is_off_and_the_8th_is_a_workday():
    assert not any(is_workday(d) for d in NATIONAL_DAY_2026)
    assert is_workday(date(2026, 10, 8))  # Thursday after the holiday
    assert not is_workday(date(2026, 10, 11))  # an ordinary Sunday


def test_makeup_weekend_days_are_workdays():
    assert all(is_workday(d) for d in MAKEUP_2026)
    # Friday 18 Sep: the next working day is Sunday the 20th, not Monday the 21st.
    assert add_workdays(date(2026, 9, 18), 1) == date(2026, 9, 20)


def test_add_workdays_skips_the_holiday():
    assert add_workdays(date(2026, 9, 30), 1) == date(2026, 10, 8)
    # 8, 9, then Saturday the 10th (make-up day) — not Monday the 12th.
    assert add_workdays(date(2026, 9, 30), 3) == date(2026, 10, 10)
    assert add_workdays(date(2026, 9, 24), 1) == date(2026, 9, 28)  # over 中秋 25-27 Sep


def test_a_ten_day_complaint_window_across_the_holiday():
    # Submitted Monday 28 Sep: 29, 30 Sep, 8, 9, 10 (Sat), 12, 13, 14, 15, 16 Oct.
    assert add_workdays(date(2026, 9, 28), 10) == date(2026, 10, 16)
    # The same ten working days in an ordinary fortnight take two calendar weeks.
    assert add_workdays(date(2026, 11, 2), 10) == date(2026, 11, 16)


def test_workdays_between_counts_the_makeup_saturday():
    assert workdays_between(date(2026, 9, 30), date(2026, 10, 12)) == 4  # 8, 9, 10, 12
    assert workdays_between(date(2026, 10, 1), date(2026, 10, 7)) == 0
    assert workdays_between(date(2026, 9, 28), add_workdays(date(2026, 9, 28), 10)) == 10


def test_past_the_calendar_weekends_only_with_a_warning():
    last = max(chinese_calendar.constants.holidays).year
    later = last + 1
    friday = next(date(later, 3, d) for d in range(1, 8) if date(later, 3, d).weekday() == 4)
    with pytest.warns(CalendarFallbackWarning, match=str(later)):
        assert add_workdays(friday, 1) == friday + timedelta(days=3)  # Monday
    with pytest.warns(CalendarFallbackWarning):
        assert not is_workday(friday + timedelta(days=1))
    # A statutory holiday past the calendar is not known: New Year's Day on a weekday counts
    # as a working day. This is the documented limitation the warning is there for.
    new_year = date(later, 1, 1)
    with pytest.warns(CalendarFallbackWarning):
        assert is_workday(new_year) == (new_year.weekday() < 5)


def test_inside_the_calendar_no_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert add_workdays(date(2026, 9, 28), 10) == date(2026, 10, 16)


def test_days_the_auditor_adds_fill_a_year_the_calendar_lacks():
    later = max(chinese_calendar.constants.holidays).year + 1
    new_year = date(later, 1, 1)
    saturday = next(date(later, 2, d) for d in range(1, 8) if date(later, 2, d).weekday() == 5)
    extra = ExtraDays.of(holidays=[new_year], workdays=[saturday])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the auditor gave that year: no warning
        assert not is_workday(new_year, extra)
        assert is_workday(saturday, extra)
        assert not is_workday(saturday + timedelta(days=1), extra)  # Sunday: weekends still off
        assert add_workdays(saturday - timedelta(days=1), 1, extra) == saturday
        first_week = [date(later, 1, d) for d in range(2, 8)]
        assert workdays_between(new_year - timedelta(days=1), date(later, 1, 7), extra) == \
            sum(d.weekday() < 5 for d in first_week)
    with pytest.warns(CalendarFallbackWarning, match="effectiveness.holidays"):
        is_workday(date(later + 1, 3, 1), extra)  # a year nobody gave


def test_added_days_take_precedence_and_reach_the_reply_window():
    extra = ExtraDays.of(holidays=[date(2026, 10, 8)])  # say the notice were corrected
    assert not is_workday(date(2026, 10, 8), extra)
    assert add_workdays(date(2026, 9, 30), 1, extra) == date(2026, 10, 9)
    def due(**added: list[str]) -> date:
        return reply_due(date(2026, 9, 30), "咨询", load_settings(None, effectiveness=added).effectiveness)

    assert load_settings(None, effectiveness={"holidays": ["2026-10-08"]}).effectiveness.holidays == [date(2026, 10, 8)]
    # 咨询: 5 working days from 30 September
    assert due() == date(2026, 10, 13)  # 8, 9, 10 (make-up Saturday), 12, 13
    assert due(holidays=["2026-10-08"]) == date(2026, 10, 14)  # 9, 10, 12, 13, 14
    assert due(holidays=["2026-10-08"], makeup_workdays=["2026-10-11"]) == date(2026, 10, 13)  # 9, 10, 11, 12, 13
