"""Rasa's side of the action calls: one conversation's tracker, posted as Rasa posts it.

Why keep a tracker here: the handoff loop decides from the tracker (its
active loop, its slots, the latest message) whether a message opens a
handoff or is relayed, so each call must carry what Rasa would have
recorded after the previous one. Rasa calls one conversation's actions one
after the other (it holds a lock per conversation); the test does the same,
while different conversations run at once.
"""

from __future__ import annotations

import time
import uuid
from typing import Any, Optional

import httpx

LOOP = "handoff_loop"


class RasaConversation:
    def __init__(self, sender_id: str, domain: dict[str, Any]) -> None:
        self.sender_id = sender_id
        self.domain = domain
        self.slots: dict[str, Any] = {name: None for name in domain["slots"]}
        self.active_loop: dict[str, Any] = {}
        self.latest_message: dict[str, Any] = {}
        self.latest_action: Optional[str] = "action_listen"
        self.events: list[dict[str, Any]] = [
            {"event": "action", "timestamp": time.time(), "name": "action_session_start"},
            {"event": "session_started", "timestamp": time.time()},
            {"event": "action", "timestamp": time.time(), "name": "action_listen"},
        ]

    def says(self, text: str, intent: str, metadata: Optional[dict[str, Any]] = None) -> None:
        """A user message, as Rasa logs it after NLU."""
        parse_data = {
            "text": text,
            "intent": {"name": intent, "confidence": 0.95},
            "intent_ranking": [{"name": intent, "confidence": 0.95}],
            "entities": [],
            "message_id": uuid.uuid4().hex,
            "metadata": metadata or {},
        }
        self.latest_message = parse_data
        self.events.append(
            {"event": "user", "timestamp": time.time(), "text": text, "parse_data": parse_data,
             "input_channel": "callback", "message_id": parse_data["message_id"], "metadata": metadata or {}}
        )

    def run_loop(self, actions: httpx.Client) -> dict[str, Any]:
        """POST the handoff loop to the action endpoint and record its events, as Rasa does."""
        response = actions.post(
            "/webhook",
            json={"next_action": LOOP, "sender_id": self.sender_id, "tracker": self._tracker(),
                  "domain": self.domain, "version": "3.6.21"},
        )
        if response.status_code != 200:
            raise AssertionError(f"{LOOP} for {self.sender_id} answered {response.status_code}: {response.text}")
        result = response.json()
        self._record(result)
        return result

    def _tracker(self) -> dict[str, Any]:
        return {
            "sender_id": self.sender_id,
            "slots": dict(self.slots),
            "latest_message": self.latest_message,
            "latest_event_time": self.events[-1]["timestamp"],
            "followup_action": None,
            "paused": False,
            "events": list(self.events),
            "latest_input_channel": "callback",
            "active_loop": dict(self.active_loop),
            "latest_action": {"action_name": self.latest_action},
            "latest_action_name": self.latest_action,
        }

    def _record(self, result: dict[str, Any]) -> None:
        self.latest_action = LOOP
        self.events.append({"event": "action", "timestamp": time.time(), "name": LOOP})
        for message in result["responses"]:
            self.events.append({"event": "bot", "timestamp": time.time(), "text": message.get("text"), "data": {}})
        for event in result["events"]:
            self.events.append({**event, "timestamp": event.get("timestamp") or time.time()})
            if event["event"] == "slot":
                self.slots[event["name"]] = event["value"]
            elif event["event"] == "active_loop":
                self.active_loop = {"name": event["name"]} if event["name"] else {}
