"""Rasa's HTTP API as far as the sidecars use it, acknowledging every event.

Why fake: a real Rasa (its own virtual environment, a trained model, seconds
per start) would make a test about the delivery engine's replicas slow, and
what Rasa does with an event is covered by tests/e2e. What matters here is
what Rasa would have been asked, by which conversation, in which order.

Like Rasa running the handoff loop, it answers `trigger_intent` with a
tracker whose `handoff_event_id` slot holds the event's id: the sidecar's
proof that the event was handled. Like the loop, it treats an event id it
acknowledged before as a redelivery: acknowledged again, shown once.
"""

from __future__ import annotations

import re
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Callable, Optional
from urllib.parse import parse_qs, unquote

from tests.support.http_recorder import Recorded, RecordingServer

AGENT_MESSAGE = "EXTERNAL_handoff_agent_message"
TIMEOUT = "EXTERNAL_handoff_timeout"
_TRIGGER = re.compile(r"^/conversations/([^/]+)/trigger_intent$")


@dataclass(frozen=True)
class Trigger:
    """One trigger_intent call Rasa answered 200 (and acknowledged)."""

    sender_id: str
    intent: str
    entities: dict[str, Any]
    at: float

    @property
    def event_id(self) -> Optional[str]:
        return self.entities.get("handoff_event_id")

    @property
    def text(self) -> Optional[str]:
        return self.entities.get("handoff_text")


class FakeRasa:
    def __init__(self, token: str) -> None:
        self.token = token
        self._triggers: list[Trigger] = []
        self._changed = threading.Condition()
        self._server = RecordingServer(self._handle)

    def __enter__(self) -> "FakeRasa":
        self._server.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._server.__exit__(*exc)

    @property
    def url(self) -> str:
        return self._server.url

    def _handle(self, request: Recorded) -> tuple[int, Any]:
        if request.method == "GET" and request.path == "/":
            return 200, {"version": "3.6.21"}  # what the sidecars' /ready asks
        match = _TRIGGER.match(request.path)
        if request.method != "POST" or match is None:
            return 404, {"status": "failure", "reason": "NotFound", "code": 404}
        if parse_qs(request.query).get("token") != [self.token]:
            return 401, {"status": "failure", "reason": "NotAuthenticated", "code": 401}
        try:
            body = request.json()
        except ValueError:
            # A sidecar killed while sending leaves a truncated body behind.
            return 400, {"status": "failure", "reason": "BadRequest", "code": 400}
        trigger = Trigger(unquote(match.group(1)), body.get("name"), body.get("entities") or {}, time.monotonic())
        with self._changed:
            self._triggers.append(trigger)
            self._changed.notify_all()
        return 200, {"tracker": _acknowledging_tracker(trigger), "messages": []}

    # -- what the tests read ---------------------------------------------------------

    def triggers(self, sender_id: str, intent: str) -> list[Trigger]:
        """Every acknowledged call for this conversation and intent, in arrival order."""
        with self._changed:
            return [each for each in self._triggers if each.sender_id == sender_id and each.intent == intent]

    def by_sender(self, intent: str) -> dict[str, list[Trigger]]:
        """Every acknowledged call of this intent, by conversation, in arrival order."""
        found: dict[str, list[Trigger]] = defaultdict(list)
        with self._changed:
            for each in self._triggers:
                if each.intent == intent:
                    found[each.sender_id].append(each)
        return found

    def wait_until(self, condition: Callable[[], bool], within: float) -> bool:
        """Wait for `condition` (re-checked on each call Rasa gets); False at the deadline."""
        deadline = time.monotonic() + within
        with self._changed:
            while not condition():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._changed.wait(min(remaining, 0.2))
        return True


def _acknowledging_tracker(trigger: Trigger) -> dict[str, Any]:
    now = time.time()
    return {
        "sender_id": trigger.sender_id,
        "events": [
            {"event": "user", "timestamp": now, "text": f"/{trigger.intent}", "metadata": {"is_external": True}},
            {"event": "action", "timestamp": now, "name": "handoff_loop"},
            {"event": "slot", "timestamp": now, "name": "handoff_event_id", "value": trigger.event_id},
        ],
    }
