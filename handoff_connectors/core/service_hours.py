"""Service hours: when agents are there to take a handoff.

Up to 10 rules, each weekly (days of the week and a time range) or custom (an
absolute date and a time range), in one IANA time zone. For a given day, the
windows of the rules that apply are merged: overlapping ones join into the
widest window, the others stay apart. A range whose end is before its start
crosses midnight: 22:00-02:00 on Friday is open Friday night into Saturday.
Custom dates add windows to their day; they remove none.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Iterable, Optional
from zoneinfo import ZoneInfo

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MIDNIGHT = dt.time(0, 0)
# A window's end at the end of the day; times compare as minutes of the day.
DAY_MINUTES = 24 * 60


@dataclass(frozen=True)
class Rule:
    start: dt.time
    end: dt.time
    days: frozenset[int] = frozenset()  # 0 = Monday; empty for a custom rule
    date: Optional[dt.date] = None

    @property
    def crosses_midnight(self) -> bool:
        return self.end <= self.start and self.end != MIDNIGHT

    def applies_to(self, day: dt.date) -> bool:
        return self.date == day if self.date is not None else day.weekday() in self.days


def _minutes(time: dt.time) -> int:
    return time.hour * 60 + time.minute


def windows_for(rules: Iterable[Rule], day: dt.date) -> list[tuple[int, int]]:
    """The effective open windows of `day`, as merged (start, end) minutes."""
    spans: list[tuple[int, int]] = []
    yesterday = day - dt.timedelta(days=1)
    for rule in rules:
        start, end = _minutes(rule.start), _minutes(rule.end) or DAY_MINUTES
        if rule.applies_to(day):
            spans.append((start, DAY_MINUTES if rule.crosses_midnight else end))
        if rule.crosses_midnight and rule.applies_to(yesterday):
            spans.append((0, end))
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


class ServiceHours:
    def __init__(self, rules: list[Rule], timezone: str) -> None:
        self.rules = rules
        self.zone = ZoneInfo(timezone)

    def is_open(self, moment: dt.datetime) -> bool:
        local = moment.astimezone(self.zone)
        minute = local.hour * 60 + local.minute
        return any(start <= minute < end for start, end in windows_for(self.rules, local.date()))

    def next_opening(self, moment: dt.datetime, horizon_days: int = 14) -> Optional[dt.datetime]:
        """When the service next opens after `moment` (None if not within the horizon)."""
        local = moment.astimezone(self.zone)
        for offset in range(horizon_days + 1):
            day = local.date() + dt.timedelta(days=offset)
            for start, _ in windows_for(self.rules, day):
                opening = _first_real_minute(dt.datetime.combine(day, dt.time(start // 60, start % 60), tzinfo=self.zone))
                # A window continuing from the day before is not an opening.
                if start == 0 and _open_at_end_of(self.rules, day - dt.timedelta(days=1)):
                    continue
                if opening > local:
                    return opening
        return None


def _open_at_end_of(rules: Iterable[Rule], day: dt.date) -> bool:
    return any(end == DAY_MINUTES for _, end in windows_for(rules, day))


def _exists(wall: dt.datetime) -> bool:
    """Whether clocks in its zone ever show `wall` (not inside a DST gap)."""
    return wall.astimezone(dt.timezone.utc).astimezone(wall.tzinfo).replace(tzinfo=None) == wall.replace(tzinfo=None)


def _first_real_minute(wall: dt.datetime) -> dt.datetime:
    """`wall`, or the first minute after it that clocks show (a window opening inside a DST gap)."""
    for _ in range(24 * 60):
        if _exists(wall):
            return wall
        wall += dt.timedelta(minutes=1)
    return wall
