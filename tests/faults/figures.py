"""What a fault case measured, counted the same way in every case.

Why one module: the cases differ in what breaks, not in what "lost",
"reordered" or "duplicated" mean, and the printed FAULT lines are only
comparable if every case counts with the same rules.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Callable, Iterable, Mapping, Optional, Sequence


@dataclass(frozen=True)
class Tally:
    """Sent tokens against received ones, for one ordered stream."""

    messages: int
    lost: int
    reordered: int
    duplicated: int
    # Received but never sent on this stream (another conversation's: cross-talk).
    foreign: int = 0

    def __add__(self, other: "Tally") -> "Tally":
        return Tally(
            self.messages + other.messages,
            self.lost + other.lost,
            self.reordered + other.reordered,
            self.duplicated + other.duplicated,
            self.foreign + other.foreign,
        )


EMPTY = Tally(0, 0, 0, 0, 0)


def tally(sent: Sequence[str], received: Sequence[str]) -> Tally:
    """Count what went wrong between `sent` (in order) and `received` (in arrival order).

    reordered: how many first arrivals would have to move to restore the
    sending order (the stream's length minus its longest in-order run), so
    one message overtaken by nine others counts 1, not 9.
    """
    position = {token: index for index, token in enumerate(sent)}
    seen: set[str] = set()
    order: list[int] = []
    duplicated = foreign = 0
    for token in received:
        if token not in position:
            foreign += 1
        elif token in seen:
            duplicated += 1
        else:
            seen.add(token)
            order.append(position[token])
    return Tally(
        messages=len(sent),
        lost=len(sent) - len(seen),
        reordered=len(order) - _longest_increasing_run(order),
        duplicated=duplicated,
        foreign=foreign,
    )


def tally_streams(sent: Mapping[str, Sequence[str]], received: Mapping[str, Sequence[str]]) -> Tally:
    """The sum over independent streams (conversations): order only counts within each."""
    total = EMPTY
    for stream in set(sent) | set(received):
        total += tally(sent.get(stream, ()), received.get(stream, ()))
    return total


def repeated(received: Iterable[str]) -> list[str]:
    """The tokens received more than once, in order of their second arrival (for failure messages)."""
    seen: set[str] = set()
    again: list[str] = []
    for token in received:
        if token in seen and token not in again:
            again.append(token)
        seen.add(token)
    return again


def _longest_increasing_run(values: Iterable[int]) -> int:
    """Length of the longest strictly increasing subsequence (patience sorting)."""
    tails: list[int] = []
    for value in values:
        at = bisect.bisect_left(tails, value)
        if at == len(tails):
            tails.append(value)
        else:
            tails[at] = value
    return len(tails)


@dataclass
class Figures:
    """One case's printed line: the tally, how fast it recovered, and any extra counts."""

    case: str
    tally: Tally
    # From the fault ending (or the restart) to the first held message delivered.
    recovery: Optional[float]
    # From the same moment to the last message delivered.
    all_delivered: Optional[float]
    extra: dict[str, object] = field(default_factory=dict)

    def line(self) -> str:
        parts = [
            f"FAULT {self.case}:",
            f"messages={self.tally.messages}",
            f"lost={self.tally.lost}",
            f"reordered={self.tally.reordered}",
            f"duplicated={self.tally.duplicated}",
            f"recovery={_seconds(self.recovery)}",
            f"all_delivered={_seconds(self.all_delivered)}",
        ]
        parts += [f"{name}={_value(value)}" for name, value in self.extra.items()]
        return " ".join(parts)


# The `report` fixture: prints a case's FAULT line.
Report = Callable[[Figures], None]


def _seconds(value: Optional[float]) -> str:
    return "n/a" if value is None else f"{value:.2f}s"


def _value(value: object) -> str:
    return f"{value:.2f}s" if isinstance(value, float) else str(value)
