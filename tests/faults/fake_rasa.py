"""Rasa's HTTP API as far as the sidecar uses it, fast enough for a thousand conversations.

Why a fake here: a thousand concurrent conversations through a real Rasa
would take minutes on two cores, and what the case checks (which
conversation each agent reply reaches) is decided by the sidecar before
Rasa sees it. Like Rasa 3.6 with rasa-handoff's action, it answers
trigger_intent with the conversation's tracker, whose `handoff_event_id`
slot acknowledges the event.
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from handoff_connectors.core.rasa_protocol import INTENT_AGENT_MESSAGE
from tests.support.background_http import BackgroundHTTP

AGENT_MESSAGE = INTENT_AGENT_MESSAGE
_TRIGGER = re.compile(r"^/conversations/([^/]+)/trigger_intent$")


@dataclass(frozen=True)
class Pushed:
    """One trigger_intent the fake answered 200 for, and when (time.monotonic())."""

    at: float
    sender_id: str
    intent: str
    entities: dict[str, Any]


class FakeRasa(BackgroundHTTP):
    def __init__(self, token: str) -> None:
        self.token = token
        self._pushed: list[Pushed] = []
        self._texts: dict[str, list[str]] = {}  # agent messages by conversation, cheap to look up
        self._lock = threading.Lock()
        super().__init__(self._handler_class())

    def pushed(self) -> list[Pushed]:
        with self._lock:
            return list(self._pushed)

    def agent_texts(self, sender_id: str) -> list[str]:
        """The agent messages Rasa was asked to show in `sender_id`'s conversation, in order."""
        with self._lock:
            return list(self._texts.get(sender_id, ()))

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        rasa = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as Rasa's Sanic does

            def do_GET(self) -> None:  # the sidecar's readiness probe
                self._answer(200, {"version": "3.6.21"})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                self._answer(*rasa._trigger(self.path, body))

            def _answer(self, status: int, payload: dict) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        return Handler

    def _trigger(self, path: str, body: dict) -> tuple[int, dict]:
        parts = urlsplit(path)
        match = _TRIGGER.match(parts.path)
        if not match:
            return 404, {"status": "failure", "reason": "NotFound", "code": 404}
        if parse_qs(parts.query).get("token") != [self.token]:
            return 401, {"status": "failure", "reason": "NotAuthenticated", "code": 401}
        if not body.get("name"):
            return 400, {"status": "failure", "reason": "BadRequest", "code": 400}
        sender_id, entities = unquote(match.group(1)), body.get("entities") or {}
        with self._lock:
            self._pushed.append(Pushed(time.monotonic(), sender_id, body["name"], entities))
            if body["name"] == AGENT_MESSAGE:
                self._texts.setdefault(sender_id, []).append(str(entities.get("handoff_text")))
        acknowledged = {"event": "slot", "name": "handoff_event_id", "value": entities.get("handoff_event_id")}
        return 200, {"tracker": {"sender_id": sender_id, "events": [acknowledged]}, "messages": []}
