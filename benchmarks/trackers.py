"""Trackers as Rasa 3.6 sends them to the action server, for a conversation asking for or in a handoff.

The shapes follow what Rasa serialises (and what tests/actions/ plays): a
session start, one exchange with the bot, the request for a person, and,
once connected, the handoff loop active with its slots set.
"""

from __future__ import annotations

import itertools
import json
import uuid
from typing import Any, Optional

import yaml

from handoff_connectors.rasa_runtime.project import BUNDLE

LOOP = "handoff_loop"
_clock = itertools.count(1_700_000_000)


def handoff_domain() -> dict[str, Any]:
    """The shipped handoff domain, as Rasa would send it along with the tracker."""
    return yaml.safe_load((BUNDLE / "domain.yml").read_text(encoding="utf-8"))


def _action(name: str) -> dict[str, Any]:
    return {"event": "action", "timestamp": next(_clock), "name": name, "policy": "RulePolicy", "confidence": 1.0}


def _parse_data(text: str, intent: str, metadata: dict[str, Any]) -> dict[str, Any]:
    return {
        "text": text,
        "intent": {"name": intent, "confidence": 0.93},
        "intent_ranking": [{"name": intent, "confidence": 0.93}],
        "entities": [],
        "message_id": uuid.uuid4().hex,
        "metadata": metadata,
    }


def _user(text: str, intent: str, metadata: Optional[dict[str, Any]] = None) -> dict[str, Any]:
    parse_data = _parse_data(text, intent, metadata or {})
    return {
        "event": "user", "timestamp": next(_clock), "text": text, "parse_data": parse_data,
        "input_channel": "callback", "message_id": parse_data["message_id"], "metadata": metadata or {},
    }


def _bot(text: str) -> dict[str, Any]:
    return {"event": "bot", "timestamp": next(_clock), "text": text, "data": {}, "metadata": {}}


def _slot(name: str, value: Any) -> dict[str, Any]:
    return {"event": "slot", "timestamp": next(_clock), "name": name, "value": value}


def _history(email: str) -> list[dict[str, Any]]:
    """Session start, one exchange with the bot, then the request for a person (email in its metadata)."""
    return [
        _action("action_session_start"),
        {"event": "session_started", "timestamp": next(_clock)},
        _action("action_listen"),
        _user("hello", "greet"),
        _action("utter_greet"),
        _bot("Hello! Ask me about opening hours or your order, or ask for a human."),
        _action("action_listen"),
        _user("I want to talk to a human", "handoff_request", {"email": email}),
    ]


def _tracker(sender_id: str, slots: dict[str, Any], events: list[dict[str, Any]], loop: bool) -> dict[str, Any]:
    """The tracker's summary fields derived from its events, as Rasa fills them."""
    latest = next(e for e in reversed(events) if e["event"] == "user")
    latest_action = next(e["name"] for e in reversed(events) if e["event"] == "action")
    return {
        "sender_id": sender_id,
        "slots": slots,
        "latest_message": latest["parse_data"],
        "latest_event_time": events[-1]["timestamp"],
        "followup_action": None,
        "paused": False,
        "events": events,
        "latest_input_channel": "callback",
        "active_loop": {"name": LOOP, "validate": True, "rejected": False} if loop else {},
        "latest_action": {"action_name": latest_action},
        "latest_action_name": latest_action,
    }


def asking(sender_id: str, domain: dict[str, Any], email: str) -> dict[str, Any]:
    """The user just asked for a person; the channel's metadata carries the email."""
    slots = {name: None for name in domain["slots"]}
    return _tracker(sender_id, slots, _history(email), loop=False)


def connected(sender_id: str, domain: dict[str, Any], email: str, text: str) -> dict[str, Any]:
    """A live handoff; the user just wrote `text`."""
    slots = {name: None for name in domain["slots"]}
    slots.update(handoff_state="connected", handoff_email=email, handoff_language="en")
    events = _history(email) + [
        _action(LOOP),
        {"event": "active_loop", "timestamp": next(_clock), "name": LOOP},
        _slot("handoff_state", "connected"),
        _slot("handoff_email", email),
        _slot("handoff_language", "en"),
        _action("action_listen"),
        _user(text, "nlu_fallback"),
    ]
    return _tracker(sender_id, slots, events, loop=True)


def webhook_body(action: str, tracker: dict[str, Any], domain: dict[str, Any]) -> bytes:
    """POST /webhook's body as Rasa sends it, serialised once, before any timing starts."""
    return json.dumps(
        {"next_action": action, "sender_id": tracker["sender_id"], "tracker": tracker,
         "domain": domain, "version": "3.6.21"}
    ).encode()
