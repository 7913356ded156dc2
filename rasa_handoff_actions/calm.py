"""Handoff from a Rasa Pro CALM assistant: `action_handoff_from_calm`, and the way back.

A CALM assistant decides with flows, not rules, and an LLM reads every user
message. A live handoff needs the opposite: every message goes to the agent,
whatever it says. Rasa Pro's coexistence gives exactly that switch: while the
slot `route_session_to_calm` is false, the router silences the command
generators (a NoopCommand) and only the rule-based policies predict, so the
handoff loop and its rules run as in Rasa Open Source.

- `action_handoff_from_calm`, called by a flow (or by `pattern_human_handoff`,
  which CALM starts when the user asks for a person), routes the session to
  the rule-based side, remembers to come back, and runs `handoff_loop` next.
- When the handoff ends, or does not start (out of hours, no agents), the
  loop's last events route the session back to CALM (`back_to_calm`).

A flow may set `handoff_routing` and `handoff_note` (the message to the
agent) before calling the action; see docs/calm.md.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from .names import CALM_ACTION, LOOP

# Rasa Pro's coexistence slot (rasa.shared.constants.ROUTE_TO_CALM_SLOT): True routes
# the session to CALM, False to the rule-based policies, None lets the router decide.
ROUTE_TO_CALM_SLOT = "route_session_to_calm"
# Ours: this handoff came from CALM, so its end routes the session back there.
RETURN_TO_CALM_SLOT = "handoff_return_to_calm"


class HandoffFromCalm(Action):
    def name(self) -> str:
        return CALM_ACTION

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        return [SlotSet(ROUTE_TO_CALM_SLOT, False), SlotSet(RETURN_TO_CALM_SLOT, True), FollowupAction(LOOP)]


def back_to_calm(tracker: Tracker, events: list[EventType]) -> list[EventType]:
    """`events` of the handoff loop, routing the session back to CALM when the handoff ends or never started."""
    if not tracker.slots.get(RETURN_TO_CALM_SLOT):
        return events  # a Rasa Open Source bot, or a handoff the rule-based side started
    loop_events = [e.get("name") for e in events if e.get("event") == "active_loop"]
    ends = None in loop_events
    never_started = tracker.active_loop_name != LOOP and LOOP not in loop_events
    if ends or never_started:
        return [*events, SlotSet(ROUTE_TO_CALM_SLOT, True), SlotSet(RETURN_TO_CALM_SLOT, None)]
    return events
