"""Bounded waiting: every loop in the fault suite ends by a deadline, never by hope."""

from __future__ import annotations

import time
from typing import Callable, TypeVar

T = TypeVar("T")


def wait_until(check: Callable[[], T], timeout: float, what: str, every: float = 0.05) -> T:
    """`check()` once it is truthy; AssertionError naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"after {timeout:.0f} s still waiting for {what}")
        time.sleep(every)


def sleep_until(moment: float) -> None:
    """Sleep until the monotonic clock reads `moment` (at once if it has passed)."""
    remaining = moment - time.monotonic()
    if remaining > 0:
        time.sleep(remaining)
