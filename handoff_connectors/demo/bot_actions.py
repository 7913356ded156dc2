"""The demo bot's own actions, next to rasa-handoff's: what a bot with custom actions does.

Run the action server on this module; importing `rasa_handoff_actions` is the
one line that registers the handoff actions too.
"""

from __future__ import annotations

import re
from typing import Any, Optional

from rasa_sdk import FormValidationAction, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

import rasa_handoff_actions  # noqa: F401  (registers the handoff actions)
from rasa_handoff_actions import escalate_on_invalid_answers


class ValidateAddressForm(FormValidationAction):
    def name(self) -> str:
        return "validate_address_form"

    def validate_order_number(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> dict[str, Optional[str]]:
        digits = re.sub(r"\D", "", str(value or ""))
        if 4 <= len(digits) <= 8:
            return {"order_number": digits}
        dispatcher.utter_message(response="utter_invalid_order_number")
        return {"order_number": None}

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        events = await super().run(dispatcher, tracker, domain)
        # Invalid answers in a row count towards fallback escalation.
        return await escalate_on_invalid_answers(events, tracker)
