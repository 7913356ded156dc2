"""A fake Rasa that answers everything the sidecar may call, and remembers whom it saw.

The fuzz tests need to know whether a forged call reached Rasa, so every
`trigger_intent` is recorded with its sender and entities; the REST channel
(Intercom messenger mode) and the callback channel (the demo chat) answer
as Rasa would, so nothing behind them fails for a reason of the fake's own.

It speaks HTTP/1.1 with keep-alive: the sidecar asks it on every /ready and
every delivery, thousands of times a run, and a fresh connection (and
thread, in the test's own process) for each would slow the whole run down.
Bodies are read and dropped, never kept: fuzzed ones weigh megabytes.
"""

from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import unquote

from tests.support.background_http import BackgroundHTTP

TRIGGER = re.compile(r"^/conversations/([^/?]+)/trigger_intent(\?.*)?$")
REST_CHANNEL = "/webhooks/rest/webhook"
CALLBACK_CHANNEL = "/webhooks/callback/webhook"
Reply = tuple[int, Any]


class FakeRasa(BackgroundHTTP):
    """Rasa 3.6's HTTP API as far as the sidecar and the demo chat use it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._triggers: list[tuple[str, dict[str, Any]]] = []
        self._channel_senders: list[str] = []
        super().__init__(_handler_for(self))

    # -- what the tests look at --------------------------------------------------------

    def triggered_senders(self) -> list[str]:
        """The sender of every trigger_intent so far, in order."""
        with self._lock:
            return [sender for sender, _ in self._triggers]

    def channel_senders(self) -> list[str]:
        """The sender of every message posted to the REST or callback channel so far."""
        with self._lock:
            return list(self._channel_senders)

    def entities_for(self, sender_id: str) -> list[dict[str, Any]]:
        """The entities (handoff_text, handoff_event_id...) of each trigger_intent for `sender_id`."""
        with self._lock:
            return [entities for sender, entities in self._triggers if sender == sender_id]

    def wait_for(self, sender_id: str, entity: str, value: Any, timeout: float = 10.0) -> dict[str, Any]:
        """The entities of the first trigger_intent for `sender_id` whose `entity` is `value`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [e for e in self.entities_for(sender_id) if e.get(entity) == value]
            if found:
                return found[0]
            time.sleep(0.05)
        raise AssertionError(f"Rasa never got {entity}={value!r} for {sender_id}: {self.entities_for(sender_id)}")

    # -- Rasa ------------------------------------------------------------------------------

    def answer(self, method: str, target: str, body: bytes) -> Reply:
        match = TRIGGER.match(target)
        if match and method == "POST":
            return self._trigger(unquote(match.group(1)), body)
        if target.split("?")[0] in (REST_CHANNEL, CALLBACK_CHANNEL) and method == "POST":
            return self._channel(body)
        # `GET /` answers 404 like a Rasa whose root has nothing: still "up" for /ready.
        return 404, {"status": "failure", "reason": "NotFound", "code": 404}

    def _channel(self, body: bytes) -> Reply:
        """A user message for the bot: noted by sender; the bot has nothing to say."""
        try:
            sender = json.loads(body).get("sender")
        except (ValueError, AttributeError):
            sender = None
        with self._lock:
            self._channel_senders.append(str(sender))
        return 200, []

    def _trigger(self, sender_id: str, body: bytes) -> Reply:
        """Acknowledge the way the handoff action does: the event id lands in a slot."""
        try:
            entities = json.loads(body).get("entities") or {}
        except (ValueError, AttributeError):
            entities = {}
        with self._lock:
            self._triggers.append((sender_id, entities))
        slot = {"event": "slot", "name": "handoff_event_id", "value": entities.get("handoff_event_id")}
        return 200, {"tracker": {"sender_id": sender_id, "events": [slot]}, "messages": []}


def _handler_for(rasa: FakeRasa) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in two writes: without this, each answer waits ~40 ms for an ACK.
        disable_nagle_algorithm = True

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            status, payload = rasa.answer(self.command, self.path, body)
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = _serve

        def log_message(self, *args: Any) -> None:
            pass

    return Handler
