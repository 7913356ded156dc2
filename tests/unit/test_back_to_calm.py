"""When a handoff from a CALM flow gives the session back to CALM (rasa_handoff_actions/calm.py)."""

from __future__ import annotations

from typing import Any, Optional

from rasa_sdk import Tracker
from rasa_sdk.events import ActiveLoop, SlotSet

from rasa_handoff_actions.calm import back_to_calm

BACK = [SlotSet("route_session_to_calm", True), SlotSet("handoff_return_to_calm", None)]


def tracker(from_calm: Optional[bool], loop: Optional[str] = None, slots: Optional[dict[str, Any]] = None) -> Tracker:
    all_slots = {"handoff_state": None, **({"handoff_return_to_calm": from_calm} if from_calm is not None else {}), **(slots or {})}
    return Tracker("u1", all_slots, {}, [], False, None, {"name": loop} if loop else {}, None)


def test_a_refused_request_from_calm_goes_back_at_once():
    refused = [{"event": "followup", "name": "action_listen"}]
    assert back_to_calm(tracker(True), refused) == [*refused, *BACK]


def test_an_ended_handoff_from_calm_goes_back():
    ended = [ActiveLoop(None), SlotSet("handoff_state", None)]
    assert back_to_calm(tracker(True, loop="handoff_loop"), ended) == [*ended, *BACK]


def test_a_live_or_starting_handoff_stays_on_the_rule_based_side():
    relayed: list = []
    assert back_to_calm(tracker(True, loop="handoff_loop"), relayed) == []
    starting = [ActiveLoop("handoff_loop"), SlotSet("handoff_state", "connected")]
    assert back_to_calm(tracker(True), starting) == starting


def test_an_open_source_bot_or_a_rule_based_handoff_is_left_alone():
    ended = [ActiveLoop(None)]
    assert back_to_calm(tracker(None, loop="handoff_loop"), ended) == ended
    assert back_to_calm(tracker(False, loop="handoff_loop"), ended) == ended
