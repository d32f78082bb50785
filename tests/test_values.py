from datetime import date

import pytest
from hypothesis import example, given, strategies as st

from ledger import citizen_id as cid
from ledger.months import Month


def test_month_parse_and_print():
    assert str(Month.parse("2024-07")) == "2024-07"
    assert Month.parse("2024-12") + 1 == Month.parse("2025-01")
    assert Month.parse("2024-02").last_day == date(2024, 2, 29)
    with pytest.raises(ValueError):
        Month.parse("2024-13")
    with pytest.raises(ValueError):
        Month.parse("2024-7")


@given(st.dates(min_value=date(1900, 1, 1), max_value=date(2199, 12, 31)))
@example(date(2024, 2, 29))
@example(date(2100, 2, 28))  # 2100 is not a leap year
@example(date(1999, 12, 31))
def test_month_contains_its_days(day):
    """Catches: a last day computed as 29 February in a century year that is
    not a leap year, or a December that runs into the next year."""
    month = Month.containing(day)
    assert month.first_day <= day <= month.last_day
    assert Month.parse(str(month)) == month


@given(st.integers(1, 96), st.integers(1900, 2099), st.sampled_from("MF"), st.integers(0, 999_999))
@example(1, 2000, "F", 0)  # century digit 3: a woman born in the 2000s
@example(96, 1999, "M", 999_999)
def test_citizen_id_round_trip(province, year, sex, serial):
    """Catches: the century-and-sex digit mixed up across 1999/2000 (0/1 for
    the 1900s, 2/3 for the 2000s)."""
    made = cid.make(province, year, sex, serial)
    assert cid.birth_year_and_sex(made) == (year, sex)
    cid.check_consistent(made, date(year, 6, 1), sex)


def test_citizen_id_rejections():
    with pytest.raises(cid.CitizenIdError, match="12 digits"):
        cid.check_format("05104400123")
    with pytest.raises(cid.CitizenIdError, match="province"):
        cid.check_format("099044001234")
    with pytest.raises(cid.CitizenIdError, match="birth year"):
        cid.check_consistent("051044001234", date(1945, 1, 1), "M")
    with pytest.raises(cid.CitizenIdError, match="sex"):
        cid.check_consistent("051044001234", date(1944, 1, 1), "F")


def test_a_month_end_off_by_a_day_is_caught(monkeypatch):
    """Broken variant: the last day of every month is the 28th."""
    monkeypatch.setattr(Month, "last_day", property(lambda self: self.first_day.replace(day=28)))
    with pytest.raises(AssertionError):
        test_month_contains_its_days.hypothesis.inner_test(date(2024, 2, 29))
