"""A steady stream of numbered messages sent from a thread while the test breaks things.

Why a thread with a fixed schedule: the faults must land *during* traffic,
and the messages must keep coming while a process is down, exactly as users
and agents go on typing; the test's own thread is busy stopping and
starting processes meanwhile.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Optional

from .waiting import sleep_until

# Sends one message; returns when the receiver took it, raises when it did not.
Send = Callable[[str], None]
# Blocks until the receiver is back (bounded); the stream then sends the failed message again.
Recover = Callable[[], None]


@dataclass
class Stream:
    """Sends `prefix0000`, `prefix0001`, ... every `interval` seconds until stopped.

    Without `recover`, a failed send ends the stream and is kept in `error`
    (the test fails on it). With `recover`, the failed message is noted in
    `failed`, and sent again once `recover()` returns: the caller's redo.
    """

    send: Send
    interval: float
    prefix: str
    recover: Optional[Recover] = None
    sent: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    error: Optional[BaseException] = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: Optional[threading.Thread] = None

    def start(self) -> "Stream":
        self._thread = threading.Thread(target=self._run, name=f"stream {self.prefix}", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 60.0) -> None:
        """Stop after the message in flight; a recovery in progress ends by its own deadline."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            assert not self._thread.is_alive(), f"stream {self.prefix} did not stop within {timeout:.0f} s"

    def _run(self) -> None:
        due = time.monotonic()
        while not self._stop.is_set():
            token = f"{self.prefix}{len(self.sent):04d}"
            if not self._deliver(token):
                return
            self.sent.append(token)
            # After a long send (a recovery), go on at the pace, without a burst to catch up.
            due = max(due + self.interval, time.monotonic())
            sleep_until(due)

    def _deliver(self, token: str) -> bool:
        """Send `token` until it is taken; False when the stream must end."""
        while True:
            try:
                self.send(token)
                return True
            except Exception as error:  # noqa: BLE001  (any failure is the fault under test)
                if self.recover is None:
                    self.error = error
                    return False
                self.failed.append(token)
                try:
                    self.recover()
                except BaseException as gave_up:  # noqa: BLE001
                    self.error = gave_up
                    return False
