"""Rasa's part towards the action server, played by the test.

Why play it: the cases about the desk and the action server need many
messages at exact moments, and what Rasa does for a user message during a
handoff is one call: POST /webhook running `handoff_loop` with the tracker.
This sends that call with a tracker as Rasa 3.6 would hold it (the loop
active, the handoff connected) and nothing the action does not read.
"""

from __future__ import annotations

import itertools
import uuid
from pathlib import Path
from typing import Any, Optional

import httpx
import yaml

from .clients import PerThread

DOMAIN = yaml.safe_load((Path(__file__).resolve().parents[2] / "domain.yml").read_text(encoding="utf-8"))
LOOP = "handoff_loop"

_clock = itertools.count(1_700_000_000)


class ActionCaller:
    """Calls one action server the way Rasa does; one HTTP client per calling thread."""

    def __init__(self, url: str, timeout: float = 30.0) -> None:
        self.url = url
        self._clients = PerThread(timeout)

    def __enter__(self) -> "ActionCaller":
        return self

    def __exit__(self, *exc: object) -> None:
        self._clients.close()

    def open_handoff(self, sender_id: str, email: str = "ana@example.com") -> None:
        """The user asks for a person with a known email: the action queues the handoff."""
        message = _message("I want to talk to a human", "handoff_request", {"email": email})
        result = self._run(sender_id, message, active=False)
        slots = {e["name"]: e["value"] for e in result["events"] if e.get("event") == "slot"}
        assert slots.get("handoff_state") == "connected", f"{sender_id} was not connected: {result}"

    def relay(self, sender_id: str, text: str) -> None:
        """A user message during the handoff; raises httpx.HTTPError when the call fails."""
        self._run(sender_id, _message(text, "inform", {}), active=True)

    def health(self) -> bool:
        try:
            return self._clients.get().get(self.url + "/health", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def _run(self, sender_id: str, message: dict[str, Any], active: bool) -> dict[str, Any]:
        response = self._clients.get().post(
            self.url + "/webhook",
            json={"next_action": LOOP, "sender_id": sender_id, "tracker": _tracker(sender_id, message, active),
                  "domain": DOMAIN, "version": "3.6.21"},
        )
        response.raise_for_status()
        return response.json()


def _message(text: str, intent: str, metadata: dict[str, Any]) -> dict[str, Any]:
    return {
        "text": text,
        "intent": {"name": intent, "confidence": 0.9},
        "intent_ranking": [{"name": intent, "confidence": 0.9}],
        "entities": [],
        "message_id": uuid.uuid4().hex,
        "metadata": metadata,
    }


def _tracker(sender_id: str, message: dict[str, Any], active: bool) -> dict[str, Any]:
    """A tracker with one user turn; `active`: the handoff loop runs, connected, in English."""
    slots: dict[str, Optional[str]] = {name: None for name in DOMAIN["slots"]}
    if active:
        slots.update(handoff_state="connected", handoff_language="en", handoff_email="ana@example.com")
    user = {"event": "user", "timestamp": next(_clock), "text": message["text"], "parse_data": message,
            "input_channel": "callback", "message_id": message["message_id"], "metadata": message["metadata"]}
    return {
        "sender_id": sender_id,
        "slots": slots,
        "latest_message": message,
        "latest_event_time": user["timestamp"],
        "followup_action": None,
        "paused": False,
        "events": [{"event": "action", "timestamp": user["timestamp"] - 1, "name": "action_listen"}, user],
        "latest_input_channel": "callback",
        "active_loop": {"name": LOOP, "validate": True, "rejected": False} if active else {},
        "latest_action": {"action_name": "action_listen"},
        "latest_action_name": "action_listen",
    }
