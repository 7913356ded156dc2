"""Fallback counting and message-to-agent templates."""

from __future__ import annotations

from rasa_sdk import Tracker

from rasa_handoff_actions.escalation import fill, misunderstood_turns
from rasa_handoff_actions.names import FALLBACK_ACTION


def user(text: str, intent: str = "nlu_fallback", external: bool = False) -> dict:
    metadata = {"is_external": True} if external else {}
    return {"event": "user", "text": text, "parse_data": {"intent": {"name": intent}}, "metadata": metadata}


def action(name: str) -> dict:
    return {"event": "action", "name": name}


LISTEN = action("action_listen")


def turn(text: str, answered_by: str, intent: str = "nlu_fallback") -> list[dict]:
    return [user(text, intent), action(answered_by), {"event": "bot", "text": "..."}, LISTEN]


def test_the_current_turn_counts_as_one():
    assert misunderstood_turns([LISTEN, user("???")]) == 1


def test_consecutive_fallbacks_are_counted():
    events = [LISTEN, *turn("a", FALLBACK_ACTION), *turn("b", FALLBACK_ACTION), user("c")]
    assert misunderstood_turns(events) == 3


def test_an_understood_turn_resets_the_count():
    events = [LISTEN, *turn("a", FALLBACK_ACTION), *turn("hello", "utter_greet", "greet"), user("c")]
    assert misunderstood_turns(events) == 1


def test_pushed_events_between_do_not_break_or_add_to_the_count():
    events = [LISTEN, *turn("a", FALLBACK_ACTION), user("EXTERNAL: x", "EXTERNAL_handoff_agent_message", external=True), action("handoff_loop"), LISTEN, user("c")]
    assert misunderstood_turns(events) == 2


def tracker_with(slots: dict) -> Tracker:
    return Tracker("u1", slots, {}, [], False, None, {}, "action_listen")


def test_templates_take_slot_values_and_blank_the_unknown():
    tracker = tracker_with({"account": "ACME-7", "plan": None})
    assert fill("Pay bill for {account} on plan {plan}, ref {nope}", tracker) == "Pay bill for ACME-7 on plan , ref "
    assert fill("Language {handoff_language}", tracker, handoff_language="es") == "Language es"
    assert fill(None, tracker) is None
    assert fill("broken {", tracker) == "broken {"
