"""Service hours: merged windows per day, midnight crossing, custom dates, DST days."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from handoff_connectors.core.config import ConfigError, parse_config
from handoff_connectors.core.service_hours import Rule, ServiceHours, windows_for

T = dt.time
MADRID = ZoneInfo("Europe/Madrid")


def minutes(hhmm: str) -> int:
    hours, mins = hhmm.split(":")
    return int(hours) * 60 + int(mins)


def window(start: str, end: str) -> tuple[int, int]:
    return minutes(start), minutes(end) if end != "24:00" else 24 * 60


def test_the_briefs_example_merges_into_two_windows():
    day = dt.date(2024, 12, 12)
    rules = [
        Rule(T(9), T(12), date=day),
        Rule(T(10), T(12), date=day),
        Rule(T(13), T(18), date=day),
        Rule(T(15), T(17), date=day),
    ]
    assert windows_for(rules, day) == [window("09:00", "12:00"), window("13:00", "18:00")]


def test_touching_windows_join_and_separate_ones_stay_apart():
    monday = dt.date(2024, 12, 9)
    rules = [Rule(T(9), T(12), days=frozenset({0})), Rule(T(12), T(14), days=frozenset({0})), Rule(T(15), T(16), days=frozenset({0}))]
    assert windows_for(rules, monday) == [window("09:00", "14:00"), window("15:00", "16:00")]


def test_weekly_rules_apply_only_on_their_days():
    rules = [Rule(T(9), T(17), days=frozenset({0, 1, 2, 3, 4}))]
    assert windows_for(rules, dt.date(2024, 12, 13)) == [window("09:00", "17:00")]  # Friday
    assert windows_for(rules, dt.date(2024, 12, 14)) == []  # Saturday


def test_a_custom_date_adds_to_the_weekly_rules_and_removes_nothing():
    thursday = dt.date(2024, 12, 12)
    rules = [Rule(T(9), T(12), days=frozenset({3})), Rule(T(18), T(20), date=thursday)]
    assert windows_for(rules, thursday) == [window("09:00", "12:00"), window("18:00", "20:00")]
    assert windows_for(rules, dt.date(2024, 12, 19)) == [window("09:00", "12:00")]


def test_a_window_across_midnight_belongs_to_both_days():
    friday = dt.date(2024, 12, 13)
    rules = [Rule(T(22), T(2), days=frozenset({4}))]
    assert windows_for(rules, friday) == [window("22:00", "24:00")]
    assert windows_for(rules, friday + dt.timedelta(days=1)) == [window("00:00", "02:00")]
    hours = ServiceHours(rules, "Europe/Madrid")
    assert hours.is_open(dt.datetime(2024, 12, 13, 23, 30, tzinfo=MADRID))
    assert hours.is_open(dt.datetime(2024, 12, 14, 1, 59, tzinfo=MADRID))
    assert not hours.is_open(dt.datetime(2024, 12, 14, 2, 0, tzinfo=MADRID))
    assert not hours.is_open(dt.datetime(2024, 12, 13, 21, 59, tzinfo=MADRID))


def test_a_window_ending_at_midnight_covers_the_evening():
    rules = [Rule(T(18), T(0), days=frozenset({0}))]
    hours = ServiceHours(rules, "UTC")
    assert hours.is_open(dt.datetime(2024, 12, 9, 23, 59, tzinfo=dt.timezone.utc))
    assert not hours.is_open(dt.datetime(2024, 12, 10, 0, 0, tzinfo=dt.timezone.utc))


def test_open_is_judged_in_the_configured_zone():
    hours = ServiceHours([Rule(T(9), T(17), days=frozenset(range(7)))], "Europe/Madrid")
    # 08:30 UTC is 09:30 in Madrid in winter.
    assert hours.is_open(dt.datetime(2024, 12, 12, 8, 30, tzinfo=dt.timezone.utc))
    assert not hours.is_open(dt.datetime(2024, 12, 12, 7, 30, tzinfo=dt.timezone.utc))
    # In summer Madrid is UTC+2: 07:30 UTC is 09:30 there.
    assert hours.is_open(dt.datetime(2024, 7, 10, 7, 30, tzinfo=dt.timezone.utc))


@pytest.mark.parametrize(
    "day, utc_open, utc_closed",
    [
        # Spring forward (2024-03-31, 02:00 -> 03:00): 09:00 Madrid is 07:00 UTC.
        (dt.date(2024, 3, 31), dt.time(7, 0), dt.time(6, 59)),
        # Fall back (2024-10-27, 03:00 -> 02:00): 09:00 Madrid is 08:00 UTC.
        (dt.date(2024, 10, 27), dt.time(8, 0), dt.time(7, 59)),
    ],
)
def test_dst_change_days_keep_wall_clock_hours(day, utc_open, utc_closed):
    hours = ServiceHours([Rule(T(9), T(17), days=frozenset(range(7)))], "Europe/Madrid")
    assert hours.is_open(dt.datetime.combine(day, utc_open, tzinfo=dt.timezone.utc))
    assert not hours.is_open(dt.datetime.combine(day, utc_closed, tzinfo=dt.timezone.utc))


def test_a_night_window_on_the_fall_back_night_lasts_an_hour_longer_in_real_time():
    hours = ServiceHours([Rule(T(0), T(4), days=frozenset({6}))], "Europe/Madrid")  # Sunday 00:00-04:00
    # 2024-10-27 is a Sunday; 02:30 local happens twice (00:30 and 01:30 UTC): both open.
    assert hours.is_open(dt.datetime(2024, 10, 27, 0, 30, tzinfo=dt.timezone.utc))
    assert hours.is_open(dt.datetime(2024, 10, 27, 1, 30, tzinfo=dt.timezone.utc))
    assert hours.is_open(dt.datetime(2024, 10, 27, 2, 59, tzinfo=dt.timezone.utc))  # 03:59 CET
    assert not hours.is_open(dt.datetime(2024, 10, 27, 3, 0, tzinfo=dt.timezone.utc))


def test_next_opening_skips_closed_days_and_continuing_windows():
    rules = [Rule(T(9), T(17), days=frozenset({0})), Rule(T(22), T(2), days=frozenset({3}))]
    hours = ServiceHours(rules, "Europe/Madrid")
    friday_night = dt.datetime(2024, 12, 13, 20, 0, tzinfo=MADRID)
    assert hours.next_opening(friday_night) == dt.datetime(2024, 12, 16, 9, 0, tzinfo=MADRID)
    thursday_noon = dt.datetime(2024, 12, 12, 12, 0, tzinfo=MADRID)
    assert hours.next_opening(thursday_noon) == dt.datetime(2024, 12, 12, 22, 0, tzinfo=MADRID)
    assert ServiceHours([Rule(T(9), T(10), date=dt.date(2020, 1, 1))], "UTC").next_opening(friday_night) is None


def test_config_builds_rules_and_rejects_bad_ones():
    config = parse_config(
        {
            "service_hours": {
                "timezone": "Europe/Madrid",
                "rules": [
                    {"days": ["mon", "tue"], "from": "09:00", "to": "18:00"},
                    {"date": "2024-12-24", "from": "22:00", "to": "02:00", "overnight": True},
                ],
            }
        }
    )
    rules = [rule.to_rule() for rule in config.service_hours.rules]
    assert rules[0] == Rule(T(9), T(18), days=frozenset({0, 1}))
    assert rules[1].crosses_midnight and rules[1].date == dt.date(2024, 12, 24)

    bad = [
        ({"rules": [{"days": ["mon"], "from": "09:00", "to": "18:00"}] * 11}, "service_hours.rules"),
        ({"rules": [{"days": ["mon"], "from": "18:00", "to": "09:00"}]}, "overnight"),
        ({"rules": [{"days": ["mon"], "from": "09:00", "to": "18:00", "overnight": True}]}, "does not cross midnight"),
        ({"timezone": "Mars/Olympus", "rules": []}, "not a known IANA time zone"),
        ({"rules": [{"from": "09:00", "to": "18:00"}]}, "either days"),
        ({"rules": [{"days": ["mon"], "date": "2024-01-01", "from": "09:00", "to": "18:00"}]}, "either days"),
        ({"rules": [{"days": ["funday"], "from": "09:00", "to": "18:00"}]}, "service_hours.rules.0.days"),
    ]
    for section, expected in bad:
        with pytest.raises(ConfigError) as error:
            parse_config({"service_hours": section})
        assert expected in str(error.value)


def test_a_next_opening_inside_the_dst_gap_is_the_first_real_minute():
    # Europe/Madrid skips 02:00-02:59 on 2025-03-30: a window from 02:30 opens at 03:00 CEST.
    madrid = ZoneInfo("Europe/Madrid")
    hours = ServiceHours([Rule(T(2, 30), T(6), date=dt.date(2025, 3, 30))], "Europe/Madrid")
    opening = hours.next_opening(dt.datetime(2025, 3, 29, 20, 0, tzinfo=madrid))
    assert opening.astimezone(dt.timezone.utc) == dt.datetime(2025, 3, 30, 1, 0, tzinfo=dt.timezone.utc)
    assert (opening.hour, opening.minute) == (3, 0)
    assert hours.is_open(opening)
    assert not hours.is_open(opening.astimezone(dt.timezone.utc) - dt.timedelta(minutes=1))
