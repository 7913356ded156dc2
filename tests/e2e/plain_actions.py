"""A bot's own actions without rasa-handoff's: an action server someone forgot to give the handoff actions."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher


class ActionCheckOrder(Action):
    def name(self) -> str:
        return "action_check_order"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list:
        dispatcher.utter_message(text="Your order is on its way.")
        return []
