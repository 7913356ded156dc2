"""`action_session_start` that keeps a live handoff across session expiry.

Rasa drops the active loop when a session expires; without this, the user's
next message after a long pause would go to the bot instead of the agent.
A bot with its own session start can subclass `HandoffSessionStart` and call
`super().run(...)`.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, ActiveLoop, EventType, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from .names import LOOP, SLOT_STATE, STATE_CONNECTED
from .runtime import runtime


class HandoffSessionStart(Action):
    def name(self) -> str:
        return "action_session_start"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        events: list[EventType] = [SessionStarted()]
        if domain.get("session_config", {}).get("carry_over_slots_to_new_session", True):
            events += [SlotSet(name, value) for name, value in tracker.slots.items() if value is not None]
        rt = await runtime()
        if await rt.service.active(tracker.sender_id):
            events += [ActiveLoop(LOOP), SlotSet(SLOT_STATE, STATE_CONNECTED)]
        events.append(ActionExecuted("action_listen"))
        return events
