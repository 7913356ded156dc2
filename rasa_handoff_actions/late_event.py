"""`action_handoff_late_event`: a desk event that arrives after the loop ended.

The user closed the chat while the agent was still typing, say. The agent's
words are still shown (nothing the desk sent is dropped); a late close or
timer is only acknowledged, the user was already told the chat ended. It
also answers `handoff_end` outside a handoff: "No, thanks" to an offer of a
person.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from handoff_connectors.core.rasa_protocol import ENTITY_EVENT_ID, EVENT_ID_SLOT, INTENT_AGENT_MESSAGE

from .conversation import handoff_language, latest_intent
from .handoff_loop import LISTEN, already_handled, entity, utter_agent_message
from .names import INTENT_END, LATE_EVENT_ACTION
from .runtime import runtime


class HandoffLateEvent(Action):
    def name(self) -> str:
        return LATE_EVENT_ACTION

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        event_id = entity(tracker, ENTITY_EVENT_ID)
        if not event_id:
            if latest_intent(tracker) == INTENT_END:
                # "No, thanks" to an offer of a person, or an old "End chat" button.
                rt = await runtime()
                language = handoff_language(tracker, rt.config)
                dispatcher.utter_message(text=rt.messages.text("offer_declined", language))
            return [LISTEN]
        if not already_handled(tracker, event_id) and latest_intent(tracker) == INTENT_AGENT_MESSAGE:
            utter_agent_message(dispatcher, tracker, event_id)
        return [SlotSet(EVENT_ID_SLOT, event_id), LISTEN]
